//! Data versioning: track files and directories in the content-addressed store, pin them in
//! `cairn.lock`, and make the workspace match the lock again.
//!
//! Each operation takes an options struct and returns a serializable outcome or a
//! [`DataError`]; none of them prints. Progress is reported through
//! [`cairn_store::Progress`].
//!
//! Modules, leaves first (a module imports only modules above it in this list):
//! - `error`; `guard` (the project's write lock); `select` (which tracked paths the path
//!   arguments name); `history` (locks committed in git); `manifest` (directory manifests,
//!   the objects a set of entries needs); `remote` (opening a remote); `entries` (feature
//!   tables and runs as entries that transfers carry); `registered` (the objects registered
//!   model versions pin, as entries, and their checks); `runs` (runs shared through a remote);
//! - one module per operation: `add`, `checkout`, `diff`, `fsck`, `gc`, `ls`, `status`,
//!   `push`, `fetch`, `validate`, `staged` (the pre-commit check of files committed to git);
//!   and `pull`, the only one that composes two others (fetch,
//!   then checkout).
//!
//! The comparison of the workspace with the lock is `cairn_core::workspace`, which `status`
//! uses; the workspace scan is `cairn_store::scan`.

mod add;
mod checkout;
mod diff;
mod entries;
mod error;
mod fetch;
mod fsck;
mod gc;
mod guard;
mod history;
mod ls;
mod manifest;
mod pull;
mod push;
mod registered;
mod remote;
mod runs;
mod select;
mod staged;
mod status;
mod validate;

pub use add::{AddOptions, AddOutcome, AddedEntry, Change, add};
pub use checkout::{CheckoutEntry, CheckoutOptions, CheckoutOutcome, checkout};
pub use diff::{
    DiffChange, DiffEntry, DiffFile, DiffFileVersion, DiffFiles, DiffOptions, DiffOutcome,
    DiffSide, DiffVersion, diff,
};
pub use error::{Conflict, DataError, MissingObject};
pub use fetch::{FetchOptions, FetchOutcome, fetch};
pub use fsck::{CorruptObject, FsckOptions, FsckOutcome, ModelInconsistency, fsck};
pub use gc::{GcOptions, GcOutcome, RemovedObject, SkippedLock, gc};
pub use ls::{LsEntry, LsOptions, LsOutcome, ls};
pub use pull::{PullOutcome, pull};
pub use push::{PushOptions, PushOutcome, push};
pub use registered::{ModelObject, ModelObjects};
pub use remote::{DEFAULT_JOBS, RemoteInfo};
pub use runs::{RemoteRun, RemoteRuns, SkippedRun, list_remote_runs};
pub use staged::{StagedFinding, StagedOptions, StagedOutcome, StagedProblem, staged};
pub use status::{
    EntryState, EntryStatus, FeatureStatus, ModelStatus, RemotePresence, StatusOptions,
    StatusOutcome, status,
};
pub use validate::{
    CheckReport, DatasetReport, Example, ValidateOptions, ValidateOutcome, validate,
};

#[cfg(test)]
mod tests;
