//! What can stop `reproduce`, `status` and `lineage`. Messages name the model, the version, the
//! digest and the path; they never name a command (the CLI adds hints).

use std::path::PathBuf;

use crate::reproduce::MissingInput;

#[derive(Debug, thiserror::Error)]
pub enum ReproduceError {
    /// Boxed: the registry's error is large.
    #[error(transparent)]
    Registry(Box<cairn_registry::RegistryError>),
    #[error(transparent)]
    Train(#[from] cairn_train::TrainError),
    #[error(transparent)]
    Store(#[from] cairn_store::StoreError),
    #[error(transparent)]
    Project(#[from] cairn_core::ProjectError),
    #[error(transparent)]
    Lock(#[from] cairn_core::LockError),
    /// The inputs of the version that neither the local store, nor the default remote, nor
    /// git has.
    #[error("{reference}: {} of its inputs cannot be found: {}{}", .missing.len(), describe(.missing), asked(.remote))]
    InputsMissing {
        reference: String,
        missing: Vec<MissingInput>,
        /// The remote that was asked, or `None` when none is configured.
        remote: Option<String>,
    },
    /// The version's run record names another run or artifact than the version pins.
    #[error("{reference}: its run record {record} {problem}")]
    Inconsistent {
        reference: String,
        record: String,
        problem: String,
    },
    #[error("git, at commit {commit}: {message}")]
    Git { commit: String, message: String },
    /// The directory to rebuild in cannot be used.
    #[error("cannot rebuild in {path}: {message}")]
    Workdir { path: PathBuf, message: String },
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn describe(missing: &[MissingInput]) -> String {
    missing
        .iter()
        .map(|m| format!("{} {} ({})", m.kind.as_str(), m.name, m.digest))
        .collect::<Vec<_>>()
        .join(", ")
}

fn asked(remote: &Option<String>) -> String {
    match remote {
        Some(name) => format!("; not in the local store nor on remote `{name}`"),
        None => "; not in the local store, and no remote is configured".to_owned(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error(transparent)]
    Data(#[from] cairn_data::DataError),
    #[error(transparent)]
    Feature(#[from] cairn_feature::FeatureError),
    #[error(transparent)]
    Lock(#[from] cairn_core::LockError),
}

#[derive(Debug, thiserror::Error)]
pub enum LineageError {
    /// Boxed: the registry's error is large.
    #[error(transparent)]
    Registry(Box<cairn_registry::RegistryError>),
    #[error(transparent)]
    Store(#[from] cairn_store::StoreError),
    #[error(transparent)]
    Train(#[from] cairn_train::TrainError),
}

impl From<cairn_registry::RegistryError> for ReproduceError {
    fn from(e: cairn_registry::RegistryError) -> Self {
        ReproduceError::Registry(Box::new(e))
    }
}

impl From<cairn_registry::RegistryError> for LineageError {
    fn from(e: cairn_registry::RegistryError) -> Self {
        LineageError::Registry(Box::new(e))
    }
}

/// What stops `retrain` (and `monitor`) before its first step. A step that fails is in the
/// report instead.
#[derive(Debug, thiserror::Error)]
pub enum RetrainError {
    #[error("no retraining policy for {model}: cairn.toml declares no `[retrain.{model}]`{}", declared_list(.declared))]
    NoPolicy {
        model: String,
        declared: Vec<String>,
    },
    #[error("`retrain.{model}.window`: `{window}` is not a duration")]
    BadWindow { model: String, window: String },
    /// Boxed: the registry's error is large.
    #[error(transparent)]
    Registry(Box<cairn_registry::RegistryError>),
}

fn declared_list(declared: &[String]) -> String {
    if declared.is_empty() {
        String::new()
    } else {
        format!(" (declared: {})", declared.join(", "))
    }
}

/// What stops the validation of a registered version before its gates run. A failed gate is
/// not an error: it is in the record.
#[derive(Debug, thiserror::Error)]
pub enum VersionValidateError {
    /// The version's spec is gone from cairn.toml, so its gates are unknown.
    #[error(
        "{reference} was trained by `[model.{spec}]`, which cairn.toml no longer declares: its gates are unknown"
    )]
    SpecNotDeclared { reference: String, spec: String },
    /// The version's run held out no rows, so there are none to validate on by default.
    #[error("{reference}: run {run} held out no rows, so there are none to validate on by default")]
    NoHeldOutRows { reference: String, run: String },
    /// Boxed: the registry's error is large.
    #[error(transparent)]
    Registry(Box<cairn_registry::RegistryError>),
    #[error(transparent)]
    Validate(#[from] cairn_validate::ValidateError),
    #[error(transparent)]
    Train(#[from] cairn_train::TrainError),
    #[error(transparent)]
    Store(#[from] cairn_store::StoreError),
}

impl From<cairn_registry::RegistryError> for VersionValidateError {
    fn from(e: cairn_registry::RegistryError) -> Self {
        VersionValidateError::Registry(Box::new(e))
    }
}
