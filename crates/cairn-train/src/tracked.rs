//! Whether a model's data is what cairn.lock pins: the digest the lock holds for a path, and
//! the workspace copy compared with it — by the same check as `data status`
//! ([`cairn_core::workspace`]: the stat cache, no symbolic links followed).

use cairn_core::workspace::{self, PathCheck, State, WorkspaceError};
use cairn_core::{EntryKind, Project};
use cairn_store::scan::ScanError;
use cairn_store::{Digest, RelPath, StoreError};

use crate::TrainError;

/// The digest cairn.lock pins for `path` (the spec's `key`), if the workspace copy matches it.
pub(crate) fn check_tracked(
    project: &Project,
    model: &str,
    key: &'static str,
    path: &str,
) -> Result<Digest, TrainError> {
    let rel =
        RelPath::new(path).map_err(|e| TrainError::Spec(format!("`model.{model}.{key}`: {e}")))?;
    let lock = project.read_lock()?;
    let untracked = || TrainError::Untracked {
        model: model.to_owned(),
        key,
        path: path.to_owned(),
    };
    let modified = |detail: String| TrainError::Modified {
        model: model.to_owned(),
        key,
        path: path.to_owned(),
        detail,
    };
    let check = match workspace::check_path(project, &lock, &rel) {
        Ok(check) => check,
        // What `data add` refuses to track is not what the lock pins.
        Err(WorkspaceError::Scan(
            e @ (ScanError::Symlink { .. } | ScanError::SpecialFile { .. }),
        )) => return Err(modified(e.to_string())),
        Err(e) => return Err(e.into()),
    };
    let PathCheck::Tracked { status, pinned } = check else {
        return Err(untracked());
    };
    match (status.state, pinned) {
        (State::Unchanged, Some(digest)) => Ok(digest),
        (State::Missing, _) => Err(modified(format!("{} is missing", status.path))),
        (State::NotInStore, _) | (State::Unchanged, None) => {
            Err(TrainError::Store(StoreError::Missing {
                digest: lock.data[&status.path].digest,
            }))
        }
        // A tracked file: which content is where, as `data status -v` would say.
        (State::Modified, _) if status.kind == EntryKind::File && status.path == rel => {
            let pinned = lock.data[&status.path].digest;
            let detail = match cairn_store::hash::hash_file(&project.root().join(path), 0) {
                Ok((digest, _)) if digest != pinned => format!(
                    "{} in the workspace, {} in the lock",
                    digest.short(),
                    pinned.short()
                ),
                Ok(_) => "its executable bit changed".to_owned(),
                Err(e) => format!("it cannot be read: {e}"),
            };
            Err(modified(detail))
        }
        (State::Modified, _) => Err(modified(
            status
                .modified
                .first()
                .map(|p| format!("{p} changed"))
                .or_else(|| status.removed.first().map(|p| format!("{p} is missing")))
                .or_else(|| {
                    status
                        .added
                        .first()
                        .map(|p| format!("{p} is not in the lock"))
                })
                .unwrap_or_else(|| "its content changed".to_owned()),
        )),
    }
}
