//! The errors of scoring (a request's or a table's rows that cannot be scored: the caller's
//! input), of loading a model, and of batch scoring a file.

use std::path::PathBuf;

use serde::Serialize;

/// Why rows cannot be scored. Every variant is the input's fault (HTTP 400); `row` is the
/// 0-based index of the row in the request (or in the input table), `field` the input or
/// field that is wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScoreError {
    /// The body is not JSON (or CSV) at all.
    #[error("the body cannot be parsed: {reason}")]
    Malformed { reason: String },
    /// The body parses, but is not one of the accepted shapes.
    #[error("{reason}")]
    Shape { reason: String },
    #[error("the request holds no rows")]
    Empty,
    #[error("row {row}: `{field}` is not an input of the model (its inputs: {inputs})")]
    UnknownField {
        field: String,
        row: usize,
        inputs: String,
    },
    #[error("row {row}: `{field}` is given twice")]
    Duplicate { field: String, row: usize },
    #[error("row {row}: input `{field}` is missing")]
    MissingField { field: String, row: usize },
    #[error("row {row}: input `{field}`: {reason}")]
    WrongType {
        field: String,
        row: usize,
        reason: String,
    },
    #[error("row {row}: input `{field}` is {value}, not a finite number")]
    NonFinite {
        field: String,
        row: usize,
        value: String,
    },
    /// A null (or, for an entity, a feature the online store does not have) where the model
    /// declares no imputation.
    #[error("row {row}: input `{field}` is null{}, and the model declares no imputation for it", why.as_deref().map(|w| format!(" ({w})")).unwrap_or_default())]
    Null {
        field: String,
        row: usize,
        why: Option<String>,
    },
    /// A positional row (an array, or a CSV or `dataframe_split` row) of the wrong length.
    #[error("row {row} has {found} values, but {expected} are expected")]
    Width {
        row: usize,
        found: usize,
        expected: usize,
    },
    /// Columnar input whose columns have different lengths.
    #[error("column `{field}` has {found} values, but `{first}` has {expected}")]
    Ragged {
        field: String,
        found: usize,
        first: String,
        expected: usize,
    },
    /// An entity-keyed row whose keys are wrong.
    #[error("row {row}: {reason}")]
    Entity {
        field: Option<String>,
        row: usize,
        reason: String,
    },
    /// Entity-keyed rows for a model that does not read its inputs from the online store.
    #[error("{reason}")]
    NotOnline { reason: String },
}

impl ScoreError {
    /// A short, stable name of the kind of error (the `code` of an HTTP error body).
    pub fn code(&self) -> &'static str {
        match self {
            ScoreError::Malformed { .. } => "malformed",
            ScoreError::Shape { .. } => "bad_shape",
            ScoreError::Empty => "no_rows",
            ScoreError::UnknownField { .. } => "unknown_field",
            ScoreError::Duplicate { .. } => "duplicate_field",
            ScoreError::MissingField { .. } => "missing_field",
            ScoreError::WrongType { .. } => "wrong_type",
            ScoreError::NonFinite { .. } => "non_finite",
            ScoreError::Null { .. } => "null",
            ScoreError::Width { .. } => "wrong_width",
            ScoreError::Ragged { .. } => "ragged_columns",
            ScoreError::Entity { .. } => "bad_entity",
            ScoreError::NotOnline { .. } => "not_online",
        }
    }

    /// The field (input, column, join key) the error is about, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            ScoreError::UnknownField { field, .. }
            | ScoreError::Duplicate { field, .. }
            | ScoreError::MissingField { field, .. }
            | ScoreError::WrongType { field, .. }
            | ScoreError::NonFinite { field, .. }
            | ScoreError::Null { field, .. }
            | ScoreError::Ragged { field, .. } => Some(field),
            ScoreError::Entity { field, .. } => field.as_deref(),
            _ => None,
        }
    }

    /// The 0-based row the error is about, if any.
    pub fn row(&self) -> Option<usize> {
        match self {
            ScoreError::UnknownField { row, .. }
            | ScoreError::Duplicate { row, .. }
            | ScoreError::MissingField { row, .. }
            | ScoreError::WrongType { row, .. }
            | ScoreError::NonFinite { row, .. }
            | ScoreError::Null { row, .. }
            | ScoreError::Width { row, .. }
            | ScoreError::Entity { row, .. } => Some(*row),
            _ => None,
        }
    }

    /// The same error about row `row + offset` (rows of a batch counted in a whole table).
    pub(crate) fn offset(mut self, offset: usize) -> Self {
        match &mut self {
            ScoreError::UnknownField { row, .. }
            | ScoreError::Duplicate { row, .. }
            | ScoreError::MissingField { row, .. }
            | ScoreError::WrongType { row, .. }
            | ScoreError::NonFinite { row, .. }
            | ScoreError::Null { row, .. }
            | ScoreError::Width { row, .. }
            | ScoreError::Entity { row, .. } => *row += offset,
            _ => {}
        }
        self
    }

    /// The error as the JSON body of an HTTP 400 (without request or model details).
    pub fn detail(&self) -> ErrorDetail<'_> {
        ErrorDetail {
            code: self.code(),
            field: self.field(),
            row: self.row(),
        }
    }
}

/// The machine-readable part of a [`ScoreError`].
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ErrorDetail<'a> {
    pub code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<usize>,
}

/// Why a model cannot be loaded for serving or scoring.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Boxed: the registry's error is large, and a `Result` carries its error inline.
    #[error(transparent)]
    Registry(Box<cairn_registry::RegistryError>),
    #[error("no model is registered yet")]
    NoModels,
    #[error("no registered model has a production version (models: {models})")]
    NoProduction { models: String },
    #[error(
        "{reference} and {other} name the same model: serve one version per model (and a canary)"
    )]
    SameModel { reference: String, other: String },
    #[error("the canary {reference} is a version of {name}, which is not served")]
    CanaryWithoutModel { reference: String, name: String },
    #[error("the canary {reference} is the version already served ({name}@{version})")]
    CanaryIsPrimary {
        reference: String,
        name: String,
        version: u32,
    },
    #[error("a canary share is a percentage from 0 to 100, not {percent}")]
    CanaryShare { percent: String },
}

impl From<cairn_registry::RegistryError> for LoadError {
    fn from(e: cairn_registry::RegistryError) -> Self {
        LoadError::Registry(Box::new(e))
    }
}

/// Why `cairn predict` failed.
#[derive(Debug, thiserror::Error)]
pub enum PredictError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Table(#[from] cairn_core::table::TableError),
    #[error("{path}: {source}")]
    Score {
        path: PathBuf,
        #[source]
        source: ScoreError,
    },
    #[error(transparent)]
    Online(#[from] cairn_feature::FeatureError),
    #[error("{path}: cannot be read: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("cannot write {path}: {reason}")]
    Write { path: PathBuf, reason: String },
    /// Writing the CSV to the caller's writer (standard output) failed.
    #[error("cannot write the predictions: {0}")]
    Stdout(#[source] std::io::Error),
    #[error("{path}: the output is written as CSV (.csv) or Parquet (.parquet, .pq)")]
    OutputFormat { path: PathBuf },
    #[error("the output {path} is the input file")]
    OutputIsInput { path: PathBuf },
}
