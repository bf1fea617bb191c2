use std::collections::HashSet;

use cairn_core::{EntryKind, LOCK_FILE, Lock, Project};
use cairn_store::{Digest, Manifest, Progress, StoreError};
use serde::Serialize;

use crate::DataError;

pub struct GcOptions {
    /// Also keep everything any `cairn.lock` in the git history refers to.
    pub all_commits: bool,
    pub dry_run: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct RemovedObject {
    pub digest: Digest,
    pub size: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct GcOutcome {
    pub dry_run: bool,
    /// How many lock files were read (the workspace lock plus, with `--all-commits`, each
    /// distinct committed version).
    pub locks: usize,
    /// Objects kept because a lock refers to them.
    pub kept: usize,
    pub kept_bytes: u64,
    /// Objects removed (or, with `dry_run`, that would be).
    pub removed: Vec<RemovedObject>,
    pub removed_bytes: u64,
    /// Directory manifests a lock refers to that are not in the local store, so the files
    /// they list could not be identified (they are not local either, or are kept if another
    /// lock refers to them).
    pub unresolved_manifests: Vec<Digest>,
    pub temp_files_removed: usize,
    /// Committed lock files that could not be read (with `--all-commits`).
    pub skipped_locks: Vec<SkippedLock>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SkippedLock {
    pub commit: String,
    pub reason: String,
}

/// `cairn data gc`: deletes objects that no lock refers to.
pub fn gc(
    project: &Project,
    options: &GcOptions,
    progress: &dyn Progress,
) -> Result<GcOutcome, DataError> {
    let GcOptions {
        all_commits,
        dry_run,
    } = options;
    let store = project.store()?;
    let _guard = crate::write_guard(&store, progress)?;
    let temp_files_removed = if *dry_run { 0 } else { store.clean_tmp()? };

    let mut locks = vec![project.read_lock()?];
    let mut skipped_locks = Vec::new();
    if *all_commits {
        let git = project.git()?.ok_or(DataError::NoGit)?;
        for (commit, text) in git.file_in_history(LOCK_FILE)? {
            let text = String::from_utf8_lossy(&text);
            // A lock in history that cannot be read (conflict markers committed by mistake, a
            // newer format) pins nothing that could be checked out: report it and go on.
            match Lock::parse(&text, &format!("{LOCK_FILE}@{commit}")) {
                Ok(lock) => locks.push(lock),
                Err(e) => skipped_locks.push(SkippedLock {
                    commit,
                    reason: e.to_string(),
                }),
            }
        }
    }

    let mut keep: HashSet<Digest> = HashSet::new();
    let mut manifests_seen: HashSet<Digest> = HashSet::new();
    let mut unresolved = Vec::new();
    for lock in &locks {
        for (path, entry) in &lock.data {
            keep.insert(entry.digest);
            if entry.kind != EntryKind::Dir || !manifests_seen.insert(entry.digest) {
                continue;
            }
            match store.read(&entry.digest) {
                Ok(bytes) => {
                    let manifest =
                        Manifest::from_bytes(&bytes).map_err(|source| DataError::Manifest {
                            path: path.clone(),
                            digest: entry.digest,
                            source,
                        })?;
                    keep.extend(manifest.entries().iter().map(|e| e.digest));
                }
                Err(StoreError::Missing { .. }) => unresolved.push(entry.digest),
                // A corrupt manifest cannot say what it protects: stop rather than guess.
                Err(e) => return Err(e.into()),
            }
        }
    }

    let (objects, _strays) = store.list()?;
    let mut removed = Vec::new();
    let mut kept = 0;
    let mut kept_bytes = 0;
    for object in objects {
        if keep.contains(&object.digest) {
            kept += 1;
            kept_bytes += object.size;
            continue;
        }
        if !dry_run {
            store.remove(&object.digest)?;
        }
        removed.push(RemovedObject {
            digest: object.digest,
            size: object.size,
        });
    }
    let removed_bytes = removed.iter().map(|r| r.size).sum();
    Ok(GcOutcome {
        dry_run: *dry_run,
        locks: locks.len(),
        kept,
        kept_bytes,
        removed,
        removed_bytes,
        unresolved_manifests: unresolved,
        temp_files_removed,
        skipped_locks,
    })
}
