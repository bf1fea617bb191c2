//! What stops a drift check before it gives a verdict: bad input (tables that cannot be
//! compared, a configuration that does not fit the data, a model version whose training data
//! cannot be had) or a store or file that cannot be read or written. A column that drifted is
//! not an error: it is in the record.

use std::path::PathBuf;

use cairn_core::drift::{ColumnType, Method};

use crate::record::DRIFT_FORMAT;

/// Which of the two tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Reference,
    Current,
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Side::Reference => "reference",
            Side::Current => "current",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    /// A table cannot be read (missing, not CSV or Parquet, malformed).
    #[error(transparent)]
    Table(#[from] cairn_core::table::TableError),
    /// polars failed on a table that opened (a value that does not fit its column's type).
    #[error("the {side} data ({source_name}) cannot be read: {message}")]
    Read {
        side: Side,
        source_name: String,
        message: String,
    },
    #[error("the {side} data ({source_name}) has no rows")]
    NoRows { side: Side, source_name: String },
    /// Nothing is left to compare (every column ignored or of a type drift does not compare).
    #[error("the reference data ({source_name}) has no column to compare{detail}")]
    NoColumns { source_name: String, detail: String },
    /// A column the comparison needs is not in the reference data.
    #[error(
        "the reference data ({source_name}) has no column `{column}` ({why}; its columns: {columns})"
    )]
    NotInReference {
        source_name: String,
        column: String,
        why: String,
        columns: String,
    },
    /// The two tables hold a column as different kinds of values.
    #[error(
        "column `{column}` holds {reference} values in the reference data and {current} values in the current data, which cannot be compared"
    )]
    TypeMismatch {
        column: String,
        reference: String,
        current: String,
    },
    /// A column declared (or required) numeric does not hold numbers.
    #[error(
        "column `{column}` is compared as numbers{why}, but the {side} data holds {dtype} values"
    )]
    NotNumeric {
        column: String,
        side: Side,
        dtype: String,
        why: String,
    },
    /// The method chosen for a column cannot compare its kind of values.
    #[error(
        "`{key}`: {method} compares numbers, and column `{column}` is compared as {}",
        kind_name(.kind)
    )]
    MethodType {
        key: String,
        column: String,
        method: Method,
        kind: ColumnType,
    },
    /// The model version pins no table it was trained on.
    #[error(
        "{model}@{version}: its run ({run}) recorded no training table, so there is no reference data to compare with"
    )]
    NoTrainingData {
        model: String,
        version: u32,
        run: String,
    },
    /// The model was trained on an entity table joined to feature views.
    #[error(
        "{model}@{version} was trained on {path} joined to the feature views ({views}): its training rows are not one stored table, and rebuilding the join is not supported by drift checks yet"
    )]
    JoinedTraining {
        model: String,
        version: u32,
        path: String,
        views: String,
    },
    /// Neither the store nor the workspace has the content the run read.
    #[error(
        "{model}@{version}: its training data {path} at {digest} is neither in the store nor in the workspace (which changed since)"
    )]
    TrainingUnavailable {
        model: String,
        version: u32,
        path: String,
        digest: String,
    },
    /// The model's prediction log cannot be read.
    #[error("the prediction log of {model}: {message}")]
    Log { model: String, message: String },
    /// The model cannot score the reference rows (for prediction drift).
    #[error("the model cannot score the reference data ({source_name}): {message}")]
    Predict {
        source_name: String,
        message: String,
    },
    #[error(transparent)]
    Store(#[from] cairn_store::StoreError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("drift record {digest}: {message}")]
    Record { digest: String, message: String },
    #[error(
        "drift record {digest} has format {found}, but this cairn reads format {DRIFT_FORMAT}: it was written by a newer cairn"
    )]
    NewerRecord { digest: String, found: u64 },
    /// A file under `.cairn/drift/` that should hold a digest does not.
    #[error("{}: not a drift record's digest ({message})", .path.display())]
    BadRef { path: PathBuf, message: String },
}

fn kind_name(kind: &ColumnType) -> &'static str {
    match kind {
        ColumnType::Numeric => "numbers",
        ColumnType::Categorical => "categories",
    }
}
