//! Which tracked paths a command's path arguments select.

use std::path::{Path, PathBuf};

use cairn_core::workspace::Tracked;
use cairn_core::{Lock, Project};

use crate::DataError;

/// Every entry of `lock` when `paths` is empty; otherwise the entries at, below or around
/// each path (a path inside a tracked directory narrows it to the files at or below that
/// path), sorted by path. A path that matches nothing is an error.
pub(crate) fn select<'l>(
    project: &Project,
    cwd: &Path,
    lock: &'l Lock,
    paths: &[PathBuf],
) -> Result<Vec<Tracked<'l>>, DataError> {
    if paths.is_empty() {
        return Ok(lock
            .data
            .iter()
            .map(|(path, entry)| Tracked::whole(path, entry))
            .collect());
    }
    let mut out: Vec<Tracked<'l>> = Vec::new();
    for user_path in paths {
        let wanted = project.resolve(cwd, user_path)?;
        let mut matched = false;
        for (path, entry) in &lock.data {
            if path.starts_with(&wanted) {
                matched = true;
                if !out.iter().any(|s| s.path == path && s.only.is_none()) {
                    out.retain(|s| s.path != path);
                    out.push(Tracked::whole(path, entry));
                }
            } else if let Some(inner) = path.strip_prefix_of(wanted.as_str()) {
                matched = true;
                if !out.iter().any(|s| s.path == path && s.only.is_none()) {
                    out.push(Tracked {
                        path,
                        entry,
                        only: Some(inner.to_string()),
                    });
                }
            }
        }
        if !matched {
            return Err(DataError::NotTracked { path: wanted });
        }
    }
    out.sort_by(|a, b| a.path.cmp(b.path));
    Ok(out)
}
