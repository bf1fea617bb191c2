//! Whether a model's data is what cairn.lock pins: the digest the lock holds for a path, and
//! the workspace copy compared with it.

use std::collections::BTreeMap;
use std::path::Path;

use cairn_core::{EntryKind, Project};
use cairn_store::{Digest, Manifest, RelPath};

use crate::TrainError;

/// The digest cairn.lock pins for `path` and whether the workspace copy matches it.
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
    // The path itself, or a tracked directory that holds it.
    let (tracked, entry) = lock
        .data
        .iter()
        .find(|(p, _)| rel == **p || rel.starts_with(p))
        .ok_or_else(untracked)?;
    let full = project.root().join(path);
    let io = |source| TrainError::Io {
        path: path.to_owned(),
        source,
    };
    match entry.kind {
        EntryKind::File => {
            let (digest, _) = cairn_store::hash::hash_file(&full, entry.size).map_err(io)?;
            if digest != entry.digest {
                return Err(modified(format!(
                    "{} in the workspace, {} in the lock",
                    digest.short(),
                    entry.digest.short()
                )));
            }
            Ok(digest)
        }
        EntryKind::Dir => {
            let store = project.store()?;
            let manifest = Manifest::from_bytes(&store.read(&entry.digest)?).map_err(|e| {
                TrainError::Spec(format!(
                    "the manifest of {tracked} in the store is unreadable ({e})"
                ))
            })?;
            // Only the part of the directory that the model reads.
            let below = tracked.strip_prefix_of(rel.as_str()).unwrap_or("");
            let prefix = if below.is_empty() {
                String::new()
            } else {
                format!("{below}/")
            };
            let expected: BTreeMap<&str, &Digest> = manifest
                .entries()
                .iter()
                .filter(|e| {
                    below.is_empty()
                        || e.path.as_str() == below
                        || e.path.as_str().starts_with(&prefix)
                })
                .map(|e| (e.path.as_str(), &e.digest))
                .collect();
            if full.is_file() {
                let (digest, _) = cairn_store::hash::hash_file(&full, 0).map_err(io)?;
                if expected.get(below) != Some(&&digest) {
                    return Err(modified("its content changed".into()));
                }
                return Ok(digest);
            }
            let mut found = BTreeMap::new();
            let base = project.root().join(tracked.as_str());
            walk(&full, &mut |file| {
                let relative = file
                    .strip_prefix(&base)
                    .map(|p| p.to_string_lossy().replace('\\', "/"))
                    .unwrap_or_default();
                let (digest, _) = cairn_store::hash::hash_file(file, 0)?;
                found.insert(relative, digest);
                Ok(())
            })
            .map_err(io)?;
            for (p, d) in &expected {
                match found.get(*p) {
                    None => return Err(modified(format!("{tracked}/{p} is missing"))),
                    Some(f) if f != *d => {
                        return Err(modified(format!("{tracked}/{p} changed")));
                    }
                    Some(_) => {}
                }
            }
            if let Some(extra) = found.keys().find(|p| !expected.contains_key(p.as_str())) {
                return Err(modified(format!("{tracked}/{extra} is not in the lock")));
            }
            Ok(if below.is_empty() {
                entry.digest
            } else {
                Manifest::digest_of(
                    manifest
                        .entries()
                        .iter()
                        .filter(|e| expected.contains_key(e.path.as_str()))
                        .map(|e| (e.path.as_str(), &e.digest, e.size, e.executable)),
                )
            })
        }
    }
}

fn walk(dir: &Path, f: &mut dyn FnMut(&Path) -> std::io::Result<()>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            walk(&path, f)?;
        } else {
            f(&path)?;
        }
    }
    Ok(())
}
