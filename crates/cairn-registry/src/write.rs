//! How the registry changes: under the project's write lock, on the lock file read inside it,
//! written back atomically; and who and when, for the history.

use cairn_core::registry::{Action, HistoryEntry};
use cairn_core::time::format_micros;
use cairn_core::{Lock, Project};
use cairn_store::{Progress, Store};

use crate::RegistryError;

/// Who and when, for a history entry.
pub(crate) struct Stamp {
    /// RFC 3339, UTC, to the second.
    pub at: String,
    /// `Name <email>`, `Name`, `<email>`, or `unknown`.
    pub actor: String,
}

impl Stamp {
    /// A history entry with nothing but who, when, what and which version.
    pub fn entry(&self, action: Action, version: u32) -> HistoryEntry {
        HistoryEntry {
            at: self.at.clone(),
            actor: self.actor.clone(),
            action,
            version,
            from: None,
            to: None,
            alias: None,
            reason: None,
            forced: false,
            archived: None,
        }
    }
}

/// Applies `change` to `cairn.lock` under the project's write lock: the lock is read inside
/// it (so a change made meanwhile by another process is kept), and written back atomically
/// only when `change` succeeds.
pub(crate) fn change<T>(
    project: &Project,
    progress: &dyn Progress,
    change: impl FnOnce(&mut Lock, &Store, &Stamp) -> Result<T, RegistryError>,
) -> Result<T, RegistryError> {
    let store = project.store()?;
    let state = project.state_dir();
    let _guard = cairn_store::WriteGuard::acquire(&state, progress).map_err(|source| {
        RegistryError::Write {
            path: state.join("lock"),
            source,
        }
    })?;
    let mut lock = project.read_lock()?;
    let stamp = Stamp {
        at: now(),
        actor: actor(project)?,
    };
    let out = change(&mut lock, &store, &stamp)?;
    project
        .write_lock(&lock, &store)
        .map_err(|source| RegistryError::Write {
            path: project.lock_path(),
            source,
        })?;
    Ok(out)
}

/// Now, to the second.
fn now() -> String {
    let us = cairn_core::time::now_micros();
    format_micros(us - us.rem_euclid(1_000_000))
}

/// Who is acting: git's `user.name` and `user.email` (`Git::identity`); `unknown` outside
/// git or when neither is set.
pub(crate) fn actor(project: &Project) -> Result<String, RegistryError> {
    let git = project
        .git()
        .map_err(|e| RegistryError::Git(e.to_string()))?;
    Ok(git
        .and_then(|git| git.identity())
        .unwrap_or_else(|| "unknown".to_owned()))
}
