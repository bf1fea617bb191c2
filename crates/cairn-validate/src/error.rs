//! What stops a validation before its gates give a verdict: bad input (the data, the gates
//! against the model) or a store that cannot be read or written. A gate that fails is not an
//! error: it is in the record.

use cairn_core::models::Metric;
use cairn_model::prep::InputError;

use crate::record::VALIDATION_FORMAT;

#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    /// The validation data cannot be read.
    #[error(transparent)]
    Table(#[from] cairn_core::table::TableError),
    #[error("the validation data {source_name} has no rows")]
    NoRows { source_name: String },
    /// The schema check: an input column is missing, or its values cannot be used as the
    /// model's input (wrong type, missing values without imputation).
    #[error("the validation data cannot be scored by {model}@{version}: {source}")]
    Input {
        model: String,
        version: u32,
        source: InputError,
    },
    #[error("the validation data has no target column `{target}` (its columns: {columns})")]
    NoTarget { target: String, columns: String },
    /// The target column cannot be compared with the model's predictions.
    #[error("the target `{target}` {problem}")]
    Target { target: String, problem: String },
    /// A gate asks for a metric of the other task than the model's (the spec changed since
    /// the version was trained).
    #[error(
        "`model.{spec}.gates.{key}`: {metric} measures a {}, and {model}@{version} is a {}",
        task(.metric.is_classification()),
        task(!.metric.is_classification())
    )]
    TaskMismatch {
        spec: String,
        key: String,
        metric: Metric,
        model: String,
        version: u32,
    },
    #[error(
        "`model.{spec}.gates.fairness.group`: the validation data has no column `{column}` (its columns: {columns})"
    )]
    NoGroupColumn {
        spec: String,
        column: String,
        columns: String,
    },
    #[error(
        "`model.{spec}.gates.fairness.group`: `{column}` holds a single group ({group}) in the validation data, and fairness compares groups"
    )]
    SingleGroup {
        spec: String,
        column: String,
        group: String,
    },
    #[error(transparent)]
    Store(#[from] cairn_store::StoreError),
    #[error("validation record {digest}: {message}")]
    Record { digest: String, message: String },
    #[error(
        "validation record {digest} has format {found}, but this cairn reads format {VALIDATION_FORMAT}: it was written by a newer cairn"
    )]
    NewerRecord { digest: String, found: u64 },
}

fn task(classifier: bool) -> &'static str {
    if classifier {
        "classifier"
    } else {
        "regressor"
    }
}
