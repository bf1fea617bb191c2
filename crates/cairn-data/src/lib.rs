//! Data versioning: track files and directories in the content-addressed store, pin them in
//! `cairn.lock`, and make the workspace match the lock again.
//!
//! Each operation takes an options struct and returns a serializable outcome or a
//! [`DataError`]; none of them prints. Progress is reported through
//! [`cairn_store::Progress`].

mod add;
mod checkout;
mod diff;
mod error;
mod fsck;
mod gc;
mod ls;
mod scan;
mod select;
mod status;
mod transfer;
mod validate;

pub use add::{AddOptions, AddOutcome, AddedEntry, Change, add};
pub use checkout::{CheckoutEntry, CheckoutOptions, CheckoutOutcome, checkout};
pub use diff::{
    DiffChange, DiffEntry, DiffFile, DiffFileVersion, DiffFiles, DiffOptions, DiffOutcome,
    DiffSide, DiffVersion, diff,
};
pub use error::{Conflict, DataError, MissingObject};
pub use fsck::{CorruptObject, FsckOptions, FsckOutcome, fsck};
pub use gc::{GcOptions, GcOutcome, RemovedObject, SkippedLock, gc};
pub use ls::{LsEntry, LsOptions, LsOutcome, ls};
pub use status::{EntryState, EntryStatus, StatusOptions, StatusOutcome, status};
pub use transfer::{
    DEFAULT_JOBS, FetchOptions, FetchOutcome, PullOutcome, PushOptions, PushOutcome, RemoteInfo,
    RemotePresence, RemoteRun, RemoteRuns, SkippedRun, fetch, list_remote_runs, pull, push,
};
pub use validate::{
    CheckReport, DatasetReport, Example, ValidateOptions, ValidateOutcome, validate,
};

/// Takes the project's write lock, reporting a wait through `progress`.
fn write_guard(
    store: &cairn_store::Store,
    progress: &dyn cairn_store::Progress,
) -> Result<cairn_store::WriteGuard, DataError> {
    cairn_store::WriteGuard::acquire(store.dir(), progress).map_err(|source| DataError::Guard {
        path: store.dir().join("lock"),
        source,
    })
}
