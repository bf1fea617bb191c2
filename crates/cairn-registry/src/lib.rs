//! The model registry: finished runs registered as numbered versions of a model, moved through
//! stages (none → staging → production → archived), named by aliases, with an audit trail of
//! every change. It all lives in `cairn.lock` (`[model.NAME]`, docs/formats/lock.md), so it is
//! committed, reviewed and merged with git; the artifacts stay in the store.
//!
//! Every change takes the project's write lock, reads `cairn.lock` again inside it, and
//! replaces it atomically: two changes at once are serialised and none is lost. Reads of an
//! artifact are verified: bytes that do not hash to the pinned digest, or a run record that
//! names another artifact than the version pins, are refused.
//!
//! Libraries never print: a wait for the write lock is reported through
//! [`cairn_store::Progress::waiting_for_lock`].

mod alias;
mod artifact;
mod error;
mod read;
mod reference;
mod register;
mod stage;
mod validation;
mod write;

#[cfg(test)]
mod tests;

pub use alias::{Aliased, Unaliased, alias, unalias};
pub use artifact::load_artifact;
pub use cairn_core::registry::{
    Action, HistoryEntry, ModelEntry, ModelVersion, Stage, Verdict, Was,
};
/// What [`load_artifact`] returns, and why it can fail to decode.
pub use cairn_model::artifact::{Artifact, ArtifactError};
pub use error::{Existing, NoRollback, RegistryError, Unvalidated};
pub use read::{History, ListedModel, ModelList, ModelShow, ShownVersion, history, list, show};
pub use reference::{At, ModelRef, Resolved, resolve, resolve_in};
pub use register::{Best, BestBy, RegisterOptions, Registered, register};
pub use stage::{PromoteOptions, Promoted, RolledBack, promote, rollback};
pub use validation::{VALIDATION_FORMAT, record_validation};
