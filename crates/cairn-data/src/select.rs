use std::path::{Path, PathBuf};

use cairn_core::{DataEntry, Lock, Project};
use cairn_store::RelPath;

use crate::DataError;

/// A tracked entry chosen by the user's path arguments, with an optional narrowing to the
/// files below a path inside a tracked directory.
pub(crate) struct Selected<'l> {
    pub path: &'l RelPath,
    pub entry: &'l DataEntry,
    /// Only files at or below this path (relative to the entry) are concerned.
    pub only: Option<String>,
}

/// Every entry of `lock` when `paths` is empty; otherwise the entries at, below or around
/// each path. A path that matches nothing is an error.
pub(crate) fn select<'l>(
    project: &Project,
    cwd: &Path,
    lock: &'l Lock,
    paths: &[PathBuf],
) -> Result<Vec<Selected<'l>>, DataError> {
    if paths.is_empty() {
        return Ok(lock
            .data
            .iter()
            .map(|(path, entry)| Selected {
                path,
                entry,
                only: None,
            })
            .collect());
    }
    let mut out: Vec<Selected<'l>> = Vec::new();
    for user_path in paths {
        let wanted = project.resolve(cwd, user_path)?;
        let mut matched = false;
        for (path, entry) in &lock.data {
            if path.starts_with(&wanted) {
                matched = true;
                if !out.iter().any(|s| s.path == path && s.only.is_none()) {
                    out.retain(|s| s.path != path);
                    out.push(Selected {
                        path,
                        entry,
                        only: None,
                    });
                }
            } else if let Some(inner) = path.strip_prefix_of(wanted.as_str()) {
                matched = true;
                if !out.iter().any(|s| s.path == path && s.only.is_none()) {
                    out.push(Selected {
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

impl Selected<'_> {
    /// Whether a file (relative to the entry) is concerned.
    pub fn includes(&self, rel: &str) -> bool {
        match &self.only {
            None => true,
            Some(only) => {
                rel == only
                    || rel
                        .strip_prefix(only.as_str())
                        .is_some_and(|r| r.starts_with('/'))
            }
        }
    }
}
