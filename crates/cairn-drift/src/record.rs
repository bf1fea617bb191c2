//! The drift record (docs/formats/drift.md): one check, every figure of it, as a JSON object
//! in the store named by its digest; and the refs under `.cairn/drift/` that name the last
//! check (of any kind, and per model), for `status` and `models show`.

use cairn_core::Project;
use cairn_core::drift::{ColumnType, Method};
use cairn_store::{Digest, Store};
use serde::{Deserialize, Serialize};

use crate::DriftError;

/// The drift record format version.
pub const DRIFT_FORMAT: u32 = 1;

/// One drift check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftRecord {
    pub format: u32,
    /// When the check started (RFC 3339, UTC).
    pub started: String,
    pub duration_s: f64,
    /// The model version checked, when the check named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelChecked>,
    /// The `[drift.NAME]` table applied, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
    pub reference: TableChecked,
    pub current: TableChecked,
    /// The dataset drifts when `share >= drift_share`.
    pub drift_share: f64,
    /// Columns compared (`columns.len()`), and how many of them drifted.
    pub compared: u64,
    pub drifted: u64,
    /// `drifted / compared`.
    pub share: f64,
    pub dataset_drift: bool,
    /// One entry per compared column, in the reference's (or the model's) column order.
    pub columns: Vec<ColumnResult>,
    /// Reference columns not compared because drift does not compare their type (dates,
    /// times, lists…), with that type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<SkippedColumn>,
    /// Columns of the current data that the reference does not have (comparing two files).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub new_columns: Vec<String>,
}

/// The model version a check compared against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelChecked {
    pub name: String,
    pub version: u32,
    pub run: String,
    pub artifact: Digest,
}

/// A table of the check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableChecked {
    #[serde(flatten)]
    pub source: DataSource,
    pub rows: u64,
}

/// Where a table came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum DataSource {
    /// The table a model version's run trained on, at the digest it recorded (read from the
    /// store, or from the workspace copy when that still has the content).
    Training {
        run: String,
        path: String,
        digest: String,
    },
    /// A table given by path: as given, and its content digest (over its files' relative
    /// paths and BLAKE3 digests, as `cairn_core::table::content_digest`).
    File { path: String, digest: String },
    /// A model's prediction log (`.cairn/predictions/NAME`): the rows logged by one version,
    /// since a time if one was given; inputs under their names and the `prediction` column.
    Predictions {
        model: String,
        version: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<String>,
    },
}

impl DataSource {
    /// A short description, for messages.
    pub fn describe(&self) -> String {
        match self {
            DataSource::Training { path, run, .. } => {
                format!("the training data of run {run} ({path})")
            }
            DataSource::File { path, .. } => path.clone(),
            DataSource::Predictions {
                model,
                version,
                since,
            } => match since {
                Some(since) => format!("the prediction log of {model}@{version} since {since}"),
                None => format!("the prediction log of {model}@{version}"),
            },
        }
    }
}

/// Whether a column could be compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnStatus {
    /// The method ran: `score`, `threshold` and `drifted` say how it went.
    Tested,
    /// The current data has no such column. Counts as drifted.
    Missing,
    /// One side has no value to compare (every value null, NaN or infinite). Counts as
    /// drifted when the reference had values and the current data has none.
    NoValues,
}

impl ColumnStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ColumnStatus::Tested => "tested",
            ColumnStatus::Missing => "missing",
            ColumnStatus::NoValues => "no_values",
        }
    }
}

/// How the method was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Choice {
    /// By the automatic rules (reference size and number of distinct values).
    Auto,
    /// By `[drift.NAME.columns.COLUMN]`.
    Config,
}

/// One compared column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnResult {
    pub column: String,
    #[serde(rename = "type")]
    pub kind: ColumnType,
    pub status: ColumnStatus,
    /// The method and its score (a p-value or a distance), `None` unless tested.
    pub method: Option<Method>,
    pub chosen: Option<Choice>,
    pub score: Option<f64>,
    pub threshold: Option<f64>,
    pub drifted: bool,
    /// The method's statistic, where it has one besides the score: the KS distance, the
    /// chi-square statistic (`None` when infinite), the Z score, the raw Wasserstein distance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statistic: Option<f64>,
    /// Wasserstein: the reference's standard deviation (population, ddof 0) the distance was
    /// divided by (at least 0.001).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<f64>,
    /// KS: whether the p-value is exact (both samples of at most 10,000 values).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact: Option<bool>,
    /// Binned methods on numbers: `deciles` (reference-decile bins) or `values` (each
    /// distinct value its own bin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bins: Option<String>,
    pub reference: Counts,
    pub current: Counts,
    /// Categories of the current data the reference never had.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unseen: Option<Unseen>,
    /// What the two sides look like (for the report), from aggregates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histogram: Option<Histogram>,
    /// Something the reader should know (a constant reference, a side without values).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A column's values on one side, by kind. `values` are the ones compared; the others are
/// counted apart and never enter a statistic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub rows: u64,
    pub values: u64,
    pub nulls: u64,
    pub nan: u64,
    pub pos_inf: u64,
    pub neg_inf: u64,
    /// Distinct values among `values`.
    pub distinct: u64,
}

/// Categories of the current data that the reference does not have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unseen {
    /// How many such categories, and how many current rows hold one.
    pub categories: u64,
    pub rows: u64,
    /// Up to 10 of them, the most frequent first.
    pub examples: Vec<String>,
}

/// Aggregates of both sides for the report: bins for numbers, bars for categories.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Histogram {
    /// Equal-width bins over both samples' range: `edges` has one more entry than the
    /// counts; each bin holds `[edge_i, edge_i+1)`, the last one its upper edge too.
    Bins {
        edges: Vec<f64>,
        reference: Vec<u64>,
        current: Vec<u64>,
    },
    /// The most frequent values (of both sides together), and every other value summed in
    /// `other_*`.
    Values {
        labels: Vec<String>,
        reference: Vec<u64>,
        current: Vec<u64>,
        other_reference: u64,
        other_current: u64,
    },
}

/// A reference column that was not compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedColumn {
    pub column: String,
    pub dtype: String,
}

impl DriftRecord {
    /// The record as stored: pretty JSON.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes =
            serde_json::to_vec_pretty(self).expect("a record of finite numbers serializes");
        bytes.push(b'\n');
        bytes
    }

    /// Reads a record, refusing one of a newer format.
    pub fn from_bytes(digest: &Digest, bytes: &[u8]) -> Result<DriftRecord, DriftError> {
        let unreadable = |e: serde_json::Error| DriftError::Record {
            digest: digest.to_hex(),
            message: format!("is not a drift record ({e})"),
        };
        #[derive(Deserialize)]
        struct Format {
            format: u64,
        }
        let format: Format = serde_json::from_slice(bytes).map_err(unreadable)?;
        if format.format > u64::from(DRIFT_FORMAT) {
            return Err(DriftError::NewerRecord {
                digest: digest.to_hex(),
                found: format.format,
            });
        }
        serde_json::from_slice(bytes).map_err(unreadable)
    }

    /// The columns that drifted.
    pub fn drifted_columns(&self) -> impl Iterator<Item = &ColumnResult> {
        self.columns.iter().filter(|c| c.drifted)
    }
}

pub use cairn_core::drift::{REFS_DIR, last_ref, model_ref};

/// Stores `record` and points the refs at it (`last`, and the model's when the check named
/// one), under the project's write lock so that a concurrent `data gc` sees the refs and the
/// object together. Returns the record's digest.
pub fn store_check(
    project: &Project,
    record: &DriftRecord,
    progress: &dyn cairn_store::Progress,
) -> Result<Digest, DriftError> {
    let state = project.state_dir();
    let store = project.store()?;
    let _guard =
        cairn_store::WriteGuard::acquire(&state, progress).map_err(|source| DriftError::Write {
            path: state.join("lock"),
            source,
        })?;
    let digest = store.put_bytes(&record.to_bytes())?.digest;
    store.sync()?;
    let mut refs = vec![last_ref(&state)];
    if let Some(model) = &record.model {
        refs.push(model_ref(&state, &model.name));
    }
    let line = format!("{}\n", digest.to_hex());
    for path in refs {
        let write = |source| DriftError::Write {
            path: path.clone(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(write)?;
        }
        cairn_store::atomic::write_atomic(&path, store.tmp_dir(), line.as_bytes(), 0o644)
            .map_err(write)?;
    }
    Ok(digest)
}

/// Reads the record `digest` from the store (verified), refusing one of a newer format.
pub fn read_record(store: &Store, digest: &Digest) -> Result<DriftRecord, DriftError> {
    DriftRecord::from_bytes(digest, &store.read(digest)?)
}

/// The last check recorded on this machine: of model `model`, or of any kind when `None`.
/// `None` when there is none.
pub fn last_check(
    project: &Project,
    model: Option<&str>,
) -> Result<Option<(Digest, DriftRecord)>, DriftError> {
    let state = project.state_dir();
    let path = match model {
        Some(name) => model_ref(&state, name),
        None => last_ref(&state),
    };
    let digest = match cairn_core::drift::read_ref(&path) {
        Ok(Some(digest)) => digest,
        Ok(None) => return Ok(None),
        Err(cairn_core::drift::DriftRefError::Io { path, source }) => {
            return Err(DriftError::Io { path, source });
        }
        Err(cairn_core::drift::DriftRefError::BadRef { path, message }) => {
            return Err(DriftError::BadRef { path, message });
        }
    };
    let record = read_record(&project.store()?, &digest)?;
    Ok(Some((digest, record)))
}
