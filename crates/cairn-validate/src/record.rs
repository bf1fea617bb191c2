//! The validation record (docs/formats/validation.md): what was validated, on which rows, and
//! every gate's threshold, measured value, verdict and detail; a JSON object in the store,
//! named by its digest.

use std::collections::BTreeMap;

use cairn_core::models::{Bounds, Metric};
use cairn_store::{Digest, Store};
use serde::{Deserialize, Serialize};

use crate::ValidateError;

/// The validation record format version.
pub const VALIDATION_FORMAT: u32 = 1;

/// One validation of one model version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationRecord {
    pub format: u32,
    /// The registered model name.
    pub model: String,
    pub version: u32,
    /// The digest of the model artifact validated.
    pub artifact: Digest,
    /// The run that trained it.
    pub run: String,
    /// The `[model.SPEC]` whose gates were run.
    pub spec: String,
    /// The rows validated on.
    pub data: DataSource,
    pub rows: u64,
    /// When the validation started (RFC 3339, UTC).
    pub started: String,
    pub duration_s: f64,
    /// Every gate passed (a skipped gate counts as passed).
    pub passed: bool,
    /// In order: schema, the metric gates (in the order of `Metric::ALL`), fairness,
    /// no_regression, determinism, latency.
    pub gates: Vec<GateResult>,
}

/// Where the rows came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum DataSource {
    /// The held-out (test) rows of the run, rebuilt from the table it read (`path`, at
    /// `digest`), its split and its seed.
    HeldOut {
        run: String,
        path: String,
        digest: String,
        /// For a spec over an entity table: the feature tables joined, by view.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        features: BTreeMap<String, String>,
    },
    /// A table given by the user: its path as given and its content digest (over its files'
    /// paths and digests, as `cairn_core::table::content_digest`).
    File { path: String, digest: String },
}

impl DataSource {
    /// A short description, for messages.
    pub fn describe(&self) -> String {
        match self {
            DataSource::HeldOut { run, path, .. } => {
                format!("the held-out rows of run {run} ({path})")
            }
            DataSource::File { path, .. } => path.clone(),
        }
    }
}

/// A gate's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateStatus {
    Passed,
    Failed,
    /// Not run, with a `note` saying why (no production version to compare with); counts as
    /// passed.
    Skipped,
}

impl GateStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            GateStatus::Passed => "passed",
            GateStatus::Failed => "failed",
            GateStatus::Skipped => "skipped",
        }
    }

    pub fn passed(self) -> bool {
        self != GateStatus::Failed
    }
}

/// One gate's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateResult {
    /// The gate's key in `[model.NAME.gates]` (a metric's name for a metric gate), or
    /// `schema`.
    pub gate: String,
    pub status: GateStatus,
    /// `status` is not `failed`.
    pub passed: bool,
    /// Why a gate was skipped, or failed without a measure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The kind of gate, its threshold, what was measured and the detail.
    #[serde(flatten)]
    pub figures: Figures,
}

impl GateResult {
    pub(crate) fn new(gate: &str, status: GateStatus, figures: Figures) -> GateResult {
        GateResult {
            gate: gate.to_owned(),
            status,
            passed: status.passed(),
            note: None,
            figures,
        }
    }

    pub(crate) fn with_note(mut self, note: impl Into<String>) -> GateResult {
        self.note = Some(note.into());
        self
    }
}

/// What a gate compares, by kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Figures {
    /// Every input of the model is in the data with a usable type. Always run; data that
    /// fails it is refused before any other gate (bad input), so a record's schema gate
    /// passed.
    Schema { detail: SchemaDetail },
    Metric {
        threshold: Bounds,
        /// `None` where the metric is not defined on the rows (ROC-AUC with a class absent).
        measured: Option<f64>,
    },
    Fairness {
        threshold: FairnessThreshold,
        /// The largest gap between a group's metric and the metric on all rows.
        measured: Option<f64>,
        detail: FairnessDetail,
    },
    NoRegression {
        threshold: NoRegressionThreshold,
        /// This version's metric minus the production version's (on the same rows).
        measured: Option<f64>,
        /// `None` when skipped.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<NoRegressionDetail>,
    },
    Determinism {
        measured: DeterminismMeasured,
        detail: DeterminismDetail,
    },
    Latency {
        threshold: LatencyThreshold,
        measured: LatencyMeasured,
        detail: LatencyDetail,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchemaDetail {
    pub inputs: Vec<InputCheck>,
}

/// One input of the model, as the data has it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputCheck {
    pub name: String,
    /// What the model takes (`int`, `float`, `bool`, `string (one of N categories)`).
    pub expected: String,
    /// The data column's type.
    pub found: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FairnessThreshold {
    pub max_gap: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FairnessDetail {
    /// The column whose values form the groups.
    pub group: String,
    pub metric: Metric,
    /// The metric on all rows.
    pub overall: Option<f64>,
    /// One row per group, by group value (a missing value is the group `null`).
    pub groups: Vec<GroupRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupRow {
    pub group: String,
    pub rows: u64,
    /// The metric on the group's rows (`None`: not defined there).
    pub value: Option<f64>,
    /// `|value - overall|`.
    pub gap: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoRegressionThreshold {
    pub metric: Metric,
    pub tolerance: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoRegressionDetail {
    /// The production version compared with, and its artifact.
    pub production_version: u32,
    pub production_artifact: Digest,
    /// The metric of this version and of the production version.
    pub candidate: Option<f64>,
    pub production: Option<f64>,
    /// Whether larger values of the metric are better (the losses are better smaller).
    pub higher_is_better: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeterminismMeasured {
    /// The two scorings gave the same bytes.
    pub identical: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeterminismDetail {
    /// BLAKE3 of each scoring's bytes (predicted classes and probabilities, or values, as
    /// little-endian numbers in row order).
    pub first: Digest,
    pub second: Digest,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyThreshold {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_ms: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyMeasured {
    pub p50_ms: f64,
    pub p99_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyDetail {
    /// Timed calls (after `warmup` calls that were not timed).
    pub calls: u64,
    pub warmup: u64,
    pub mean_ms: f64,
    pub max_ms: f64,
}

impl ValidationRecord {
    /// The record as stored: pretty JSON.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes =
            serde_json::to_vec_pretty(self).expect("a record of finite numbers serializes");
        bytes.push(b'\n');
        bytes
    }

    /// Reads a record, refusing one of a newer format.
    pub fn from_bytes(digest: &Digest, bytes: &[u8]) -> Result<ValidationRecord, ValidateError> {
        let unreadable = |e: serde_json::Error| ValidateError::Record {
            digest: digest.to_hex(),
            message: format!("is not a validation record ({e})"),
        };
        #[derive(Deserialize)]
        struct Format {
            format: u64,
        }
        let format: Format = serde_json::from_slice(bytes).map_err(unreadable)?;
        if format.format > u64::from(VALIDATION_FORMAT) {
            return Err(ValidateError::NewerRecord {
                digest: digest.to_hex(),
                found: format.format,
            });
        }
        serde_json::from_slice(bytes).map_err(unreadable)
    }

    /// The gates that failed.
    pub fn failed(&self) -> impl Iterator<Item = &GateResult> {
        self.gates.iter().filter(|g| !g.passed)
    }
}

/// Stores `record` (an object named by its digest).
pub fn store_record(store: &Store, record: &ValidationRecord) -> Result<Digest, ValidateError> {
    Ok(store.put_bytes(&record.to_bytes())?.digest)
}

/// Reads the record `digest` from the store (verified), refusing one of a newer format.
pub fn read_record(store: &Store, digest: &Digest) -> Result<ValidationRecord, ValidateError> {
    ValidationRecord::from_bytes(digest, &store.read(digest)?)
}
