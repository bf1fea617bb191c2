//! Orchestration over the other crates: `reproduce` (a registered model version rebuilt from
//! what it pins, its artifact's digest compared), `status` (the whole project against its lock
//! on one screen), `lineage` (a version's graph from raw data to its stages), `retrain` (the
//! loop a `[retrain.NAME]` policy declares: check, decide, train, register, validate,
//! promote), `monitor` (retrain when needed, on a schedule, with alerts) and the validation of
//! a registered version that `validate` and `retrain` share.
//!
//! Like every library of cairn, this one never prints: each operation takes options and
//! returns a serialisable outcome or a typed error; the CLI renders them.

mod checkout;
mod error;
mod inputs;
mod lineage;
mod monitor;
mod reproduce;
mod retrain;
mod status;
mod validate;

#[cfg(test)]
mod retrain_tests;
#[cfg(test)]
mod tests;

pub use error::{LineageError, ReproduceError, RetrainError, StatusError, VersionValidateError};
pub use lineage::{DataNode, FeatureNode, Lineage, RunNode, SourceNode, lineage};
pub use monitor::{
    Alert, AlertKind, CheckLog, MonitorEvents, MonitorOptions, MonitorSummary, Notified, Schedule,
    alerts_of, monitor, notify,
};
pub use reproduce::{
    Difference, InputKind, InputSource, MissingInput, RebuiltInput, ReproduceOptions,
    ReproduceOutcome, reproduce,
};
pub use retrain::{
    DriftFinding, PerformanceFinding, QuietRetrain, RetrainEnd, RetrainOptions, RetrainProgress,
    RetrainReport, Step, StepName, StepStatus, policy, retrain,
};
pub use status::{
    DriftResult, ModelSummary, ProjectStatus, RemoteCheck, StagedVersion, StatusOptions, ViewState,
    ViewStatus, status,
};
pub use validate::{ValidationRows, VersionValidation, validate_version};
