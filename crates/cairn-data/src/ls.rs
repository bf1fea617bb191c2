use std::path::PathBuf;

use cairn_core::{EntryKind, Project};
use cairn_store::{Digest, RelPath};
use serde::Serialize;

use crate::DataError;
use crate::select::select;

pub struct LsOptions {
    pub paths: Vec<PathBuf>,
    pub cwd: PathBuf,
}

#[derive(Debug, Clone, Serialize)]
pub struct LsEntry {
    pub path: RelPath,
    #[serde(rename = "type")]
    pub kind: EntryKind,
    pub digest: Digest,
    pub size: u64,
    pub files: u64,
    pub executable: bool,
    /// Whether the object (for a directory: its manifest) is in the local store.
    pub in_store: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct LsOutcome {
    pub entries: Vec<LsEntry>,
    pub total_size: u64,
    pub total_files: u64,
}

/// `cairn data ls`: what the lock tracks.
pub fn ls(project: &Project, options: &LsOptions) -> Result<LsOutcome, DataError> {
    let LsOptions { paths, cwd } = options;
    let lock = project.read_lock()?;
    let store = project.store()?;
    let entries: Vec<LsEntry> = select(project, cwd, &lock, paths)?
        .into_iter()
        .map(|sel| LsEntry {
            path: sel.path.clone(),
            kind: sel.entry.kind,
            digest: sel.entry.digest,
            size: sel.entry.size,
            files: if sel.entry.kind == EntryKind::Dir {
                sel.entry.files
            } else {
                1
            },
            executable: sel.entry.executable,
            in_store: store.contains(&sel.entry.digest),
        })
        .collect();
    let total_size = entries.iter().map(|e| e.size).sum();
    let total_files = entries.iter().map(|e| e.files).sum();
    Ok(LsOutcome {
        entries,
        total_size,
        total_files,
    })
}
