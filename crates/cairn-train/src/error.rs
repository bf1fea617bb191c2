//! What can stop a run, or a query of the runs.

use cairn_core::runs::RunsError;
use cairn_model::prep::InputError;

use crate::record::RUN_FORMAT;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("no model `{name}` is declared in cairn.toml{}", list(.declared))]
    NoSuchModel { name: String, declared: Vec<String> },
    /// A spec that cannot work; names the key.
    #[error("{0}")]
    Spec(String),
    /// An override (`key=value`) that cannot be applied to the spec.
    #[error("override {key}={value}: `model.{model}.{key}` {problem}")]
    Override {
        model: String,
        key: String,
        /// As given.
        value: String,
        problem: OverrideProblem,
    },
    /// The spec after its overrides fails a check that `cairn.toml` gets.
    #[error("after the overrides: {0}")]
    OverriddenSpec(String),
    #[error("`model.{model}.{key}`: {path} is not tracked, so the run could not be reproduced")]
    Untracked {
        model: String,
        key: &'static str,
        path: String,
    },
    #[error(
        "`model.{model}.{key}`: the workspace copy of {path} differs from what cairn.lock pins ({detail}), so the run could not be reproduced"
    )]
    Modified {
        model: String,
        key: &'static str,
        path: String,
        detail: String,
    },
    /// The point-in-time join of a spec's entity table to its features failed (before the run
    /// started: no run is recorded).
    #[error(transparent)]
    Feature(#[from] cairn_feature::FeatureError),
    #[error(transparent)]
    Table(#[from] cairn_core::table::TableError),
    #[error(transparent)]
    Validation(#[from] cairn_core::validation::ValidationError),
    #[error(
        "model.{model}: its data {} failed validation ({} of {} checks)",
        .report.path,
        .report.checks.iter().filter(|c| !c.passed).count(),
        .report.checks.len()
    )]
    ValidationFailed {
        model: String,
        report: Box<cairn_core::validation::DatasetReport>,
    },
    #[error("model.{model}: {source}")]
    Input { model: String, source: InputError },
    #[error("`model.{model}.params.{name}`: {message}")]
    Param {
        model: String,
        name: String,
        message: String,
    },
    #[error("model.{model}: {message}")]
    Data { model: String, message: String },
    #[error(transparent)]
    Store(#[from] cairn_store::StoreError),
    #[error(transparent)]
    Workspace(#[from] cairn_core::workspace::WorkspaceError),
    #[error(transparent)]
    Lock(#[from] cairn_core::LockError),
    #[error(transparent)]
    Runs(#[from] RunsError),
    #[error(transparent)]
    Git(#[from] cairn_core::GitError),
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("run record {id}: {message}")]
    Record { id: String, message: String },
    #[error(
        "run record {id} has format {found}, but this cairn reads format {RUN_FORMAT}: it was written by a newer cairn"
    )]
    NewerRecord { id: String, found: u32 },
}

/// Why an override cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OverrideProblem {
    /// The value does not have the key's type: what the key takes.
    #[error("{0}")]
    Expected(&'static str),
    /// A key that decides what the model is (its data, target, inputs, algorithm...).
    #[error("cannot be overridden: it changes what the model is; edit cairn.toml")]
    Fixed,
    /// Not a key of a spec that overrides change.
    #[error(
        "is not something an override changes (seed, split.test_size, split.stratify, or a param)"
    )]
    Unknown,
}

fn list(declared: &[String]) -> String {
    if declared.is_empty() {
        " (none is: add a `[model.NAME]` table)".to_owned()
    } else {
        format!(" (declared: {})", declared.join(", "))
    }
}
