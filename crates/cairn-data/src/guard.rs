//! The project's write lock, taken by every command that changes the store or the workspace.

use cairn_store::{Progress, Store, WriteGuard};

use crate::DataError;

/// Takes the project's write lock, reporting a wait through `progress`.
pub(crate) fn write_guard(store: &Store, progress: &dyn Progress) -> Result<WriteGuard, DataError> {
    WriteGuard::acquire(store.dir(), progress).map_err(|source| DataError::Guard {
        path: store.dir().join("lock"),
        source,
    })
}
