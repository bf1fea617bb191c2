//! The run record (docs/formats/run.md): what a run did, as a JSON object in the store.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The run record format version.
pub const RUN_FORMAT: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Finished,
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Finished => "finished",
            RunStatus::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Code {
    /// The HEAD commit (`None` outside git or before the first commit).
    pub commit: Option<String>,
    /// Uncommitted changes to tracked files.
    pub dirty: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    pub cairn: String,
    pub os: String,
    pub arch: String,
}

impl Environment {
    pub fn current() -> Environment {
        Environment {
            cairn: env!("CARGO_PKG_VERSION").to_owned(),
            os: std::env::consts::OS.to_owned(),
            arch: std::env::consts::ARCH.to_owned(),
        }
    }
}

/// One training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub format: u32,
    pub id: String,
    pub model: String,
    pub status: RunStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// RFC 3339, UTC.
    pub started: String,
    pub ended: String,
    pub started_us: i64,
    pub duration_s: f64,
    pub algorithm: String,
    /// Every param as used (defaults included; empty if the run failed before the fit).
    pub params: BTreeMap<String, Value>,
    /// What the run's overrides changed, by key as given.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub overrides: BTreeMap<String, Value>,
    pub seed: u64,
    pub split: Value,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// Scalar metrics on the test rows (accuracy, roc_auc, rmse...).
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
    /// Classification: the class labels in index order (rows and columns of the confusion
    /// matrix, entries of the per class report).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<Value>>,
    /// The rest of the evaluation: confusion matrix, per class report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<Value>,
    /// Seconds per phase (load, split, fit, evaluate, store).
    #[serde(default)]
    pub phases: BTreeMap<String, f64>,
    pub code: Code,
    /// Tables read: project path → digest.
    #[serde(default)]
    pub data: BTreeMap<String, String>,
    /// Feature tables read: view → digest.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub features: BTreeMap<String, String>,
    /// Trained from data that is not tracked or differs from the lock, as allowed
    /// ([`TrainOptions::allow_untracked`](crate::TrainOptions::allow_untracked)).
    #[serde(default)]
    pub untracked: bool,
    /// `passed`, `skipped` (failed, and skipped as allowed) or `none` (no expectations declared).
    pub validation: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_size: Option<u64>,
    #[serde(default)]
    pub train_rows: u64,
    #[serde(default)]
    pub test_rows: u64,
    pub environment: Environment,
}

/// A feature's importance: the total gain of the splits on it, summed over the encoded
/// columns of its input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Importance {
    pub feature: String,
    pub gain: f64,
}

/// What a boosted fit did, in the record's `report.boosting`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoostingReport {
    /// Iterations grown before the fit stopped.
    pub iterations_run: usize,
    /// Iterations the model keeps: the best on the early-stopping rows, else all.
    pub best_iteration: usize,
    pub early_stopped: bool,
    /// Training rows held out for early stopping (0 without it).
    pub validation_rows: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_loss: Option<f64>,
}

/// The keys of `report` that hold [`Importance`]s and the [`BoostingReport`].
pub const IMPORTANCES_KEY: &str = "feature_importances";
pub const BOOSTING_KEY: &str = "boosting";

impl RunRecord {
    /// Feature importances, most important first, for the models that have them.
    pub fn importances(&self) -> Option<Vec<Importance>> {
        let value = self.report.as_ref()?.get(IMPORTANCES_KEY)?;
        serde_json::from_value(value.clone()).ok()
    }

    /// What a boosted fit did (boosted models only).
    pub fn boosting(&self) -> Option<BoostingReport> {
        let value = self.report.as_ref()?.get(BOOSTING_KEY)?;
        serde_json::from_value(value.clone()).ok()
    }
}

/// What `runs list` shows and filters on: the part of a record that is cheap to read (the
/// rest of the record is skipped while parsing, not built).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub format: u32,
    pub id: String,
    pub model: String,
    pub status: RunStatus,
    pub started: String,
    pub duration_s: f64,
    pub algorithm: String,
    #[serde(default)]
    pub params: BTreeMap<String, Value>,
    pub seed: u64,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
}

impl RunSummary {
    pub fn of(r: &RunRecord) -> RunSummary {
        RunSummary {
            format: r.format,
            id: r.id.clone(),
            model: r.model.clone(),
            status: r.status,
            started: r.started.clone(),
            duration_s: r.duration_s,
            algorithm: r.algorithm.clone(),
            params: r.params.clone(),
            seed: r.seed,
            tags: r.tags.clone(),
            metrics: r.metrics.clone(),
        }
    }
}

/// Named fields of a run, for selections ([`Selection`](crate::Selection)) and comparisons.
pub trait Fields {
    /// A metric by name, `params.NAME`, `tags.NAME`, or one of `model`, `status`,
    /// `algorithm`, `seed`, `duration_s`, `started`, `id`.
    fn field(&self, name: &str) -> Option<Value>;
}

/// A [`FieldView`] of a [`RunRecord`] or a [`RunSummary`] (same field names).
macro_rules! field_view {
    ($run:expr) => {
        FieldView {
            id: &$run.id,
            model: &$run.model,
            status: $run.status,
            started: &$run.started,
            duration_s: $run.duration_s,
            algorithm: &$run.algorithm,
            params: &$run.params,
            seed: $run.seed,
            tags: &$run.tags,
            metrics: &$run.metrics,
        }
    };
}

/// The fields of a run that selections read, borrowed from either type.
struct FieldView<'a> {
    id: &'a str,
    model: &'a str,
    status: RunStatus,
    started: &'a str,
    duration_s: f64,
    algorithm: &'a str,
    params: &'a BTreeMap<String, Value>,
    seed: u64,
    tags: &'a BTreeMap<String, String>,
    metrics: &'a BTreeMap<String, f64>,
}

impl FieldView<'_> {
    fn get(&self, name: &str) -> Option<Value> {
        if let Some(v) = self.metrics.get(name) {
            return Some((*v).into());
        }
        if let Some(p) = name.strip_prefix("params.") {
            return self.params.get(p).cloned();
        }
        if let Some(t) = name.strip_prefix("tags.") {
            return self.tags.get(t).map(|v| Value::String(v.clone()));
        }
        match name {
            "model" => Some(self.model.into()),
            "status" => Some(self.status.as_str().into()),
            "algorithm" => Some(self.algorithm.into()),
            "seed" => Some(self.seed.into()),
            "duration_s" => Some(self.duration_s.into()),
            "started" => Some(self.started.into()),
            "id" => Some(self.id.into()),
            _ => None,
        }
    }
}

impl Fields for RunSummary {
    fn field(&self, name: &str) -> Option<Value> {
        field_view!(self).get(name)
    }
}

impl Fields for RunRecord {
    fn field(&self, name: &str) -> Option<Value> {
        RunRecord::field(self, name)
    }
}

impl RunRecord {
    /// A field for selections and comparisons (see [`Fields::field`]).
    pub fn field(&self, name: &str) -> Option<Value> {
        field_view!(self).get(name)
    }

    /// Whether an override of the run set the param `name` (given as `NAME` or
    /// `params.NAME`).
    pub fn param_overridden(&self, name: &str) -> bool {
        self.overrides.contains_key(name) || self.overrides.contains_key(&format!("params.{name}"))
    }
}
