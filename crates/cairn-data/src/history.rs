//! Locks from git: the one committed at a revision, and every one in the history.

use cairn_core::{Git, LOCK_FILE, Lock, Project};
use serde::Serialize;

use crate::DataError;

/// A committed `cairn.lock` that could not be read, and why.
#[derive(Debug, Clone, Serialize)]
pub struct SkippedLock {
    pub commit: String,
    pub reason: String,
}

/// The lock committed at git revision `rev`; `None` if the revision has no `cairn.lock`.
pub(crate) fn committed_lock(git: &Git, rev: &str) -> Result<Option<Lock>, DataError> {
    let Some(text) = git.file_at(rev, LOCK_FILE)? else {
        return Ok(None);
    };
    let text = String::from_utf8_lossy(&text);
    Ok(Some(Lock::parse(&text, &format!("{LOCK_FILE}@{rev}"))?))
}

/// The lock as committed at git revision `rev`, which must have one.
pub(crate) fn lock_at(project: &Project, rev: &str) -> Result<Lock, DataError> {
    let git = project.git()?.ok_or(DataError::NoGit)?;
    committed_lock(&git, rev)?.ok_or_else(|| DataError::NoLockInRevision {
        rev: rev.to_string(),
    })
}

/// The workspace lock, or with `rev` the lock of that revision.
pub(crate) fn lock_of(project: &Project, rev: Option<&str>) -> Result<Lock, DataError> {
    match rev {
        None => Ok(project.read_lock()?),
        Some(rev) => lock_at(project, rev),
    }
}

/// Every distinct `cairn.lock` committed in the git history. A lock that cannot be read
/// (conflict markers committed by mistake, a newer format) pins nothing that could be checked
/// out: it is returned as skipped, with the reason.
pub(crate) fn history_locks(project: &Project) -> Result<(Vec<Lock>, Vec<SkippedLock>), DataError> {
    let git = project.git()?.ok_or(DataError::NoGit)?;
    let mut locks = Vec::new();
    let mut skipped = Vec::new();
    for (commit, text) in git.file_in_history(LOCK_FILE)? {
        match Lock::parse(
            &String::from_utf8_lossy(&text),
            &format!("{LOCK_FILE}@{commit}"),
        ) {
            Ok(lock) => locks.push(lock),
            Err(e) => skipped.push(SkippedLock {
                commit,
                reason: e.to_string(),
            }),
        }
    }
    Ok((locks, skipped))
}
