use std::collections::HashSet;

use cairn_core::{EntryKind, Project};
use cairn_store::{Digest, Manifest, Progress, StoreError};
use serde::Serialize;

use crate::DataError;
use crate::guard::write_guard;
pub use crate::history::SkippedLock;
use crate::history::history_locks;
use crate::registered::{ModelObjects, pins};
use crate::remote::{RemoteInfo, open_remote};
use crate::runs::run_refs;

pub struct GcOptions {
    /// Also keep everything any `cairn.lock` in the git history refers to.
    pub all_commits: bool,
    pub dry_run: bool,
    /// Collect garbage on this remote instead of the local store (`Some(None)`: the default
    /// remote).
    pub remote: Option<Option<String>>,
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
    /// With `--remote`: the remote that was collected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote: Option<RemoteInfo>,
    /// The registered model versions of the locks read, and the objects they pin (all kept:
    /// those present are counted in `kept` too). Left out when there is none.
    #[serde(skip_serializing_if = "ModelObjects::is_empty")]
    pub models: ModelObjects,
}

/// A partial upload in a directory remote that has not changed for this long belongs to a
/// push that was killed, not to one that is running.
const STALE_UPLOAD: std::time::Duration = std::time::Duration::from_secs(3600);

/// `cairn data gc`: deletes objects that no lock refers to.
pub fn gc(
    project: &Project,
    options: &GcOptions,
    progress: &dyn Progress,
) -> Result<GcOutcome, DataError> {
    let GcOptions {
        all_commits,
        dry_run,
        remote,
    } = options;
    let store = project.store()?;
    let _guard = write_guard(&store, progress)?;
    let mut remote = match remote {
        Some(name) => Some(open_remote(project, name.as_deref())?),
        None => None,
    };
    let mut temp_files_removed = if *dry_run || remote.is_some() {
        0
    } else {
        store.clean_tmp()?
    };

    let mut locks = vec![project.read_lock()?];
    let mut skipped_locks = Vec::new();
    if *all_commits {
        let (history, skipped) = history_locks(project)?;
        locks.extend(history);
        skipped_locks = skipped;
    }

    let mut keep: HashSet<Digest> = HashSet::new();
    let mut manifests_seen: HashSet<Digest> = HashSet::new();
    let mut unresolved = Vec::new();
    for lock in &locks {
        // Offline feature tables are single objects.
        keep.extend(lock.feature.values().map(|f| f.digest));
        // Registered model versions: their artifacts, run records and validation records,
        // whether or not their runs are still here.
        keep.extend(pins(lock).iter().map(|pin| pin.digest));
        for (path, entry) in &lock.data {
            keep.insert(entry.digest);
            if entry.kind != EntryKind::Dir || !manifests_seen.insert(entry.digest) {
                continue;
            }
            // For a remote, a manifest this machine lacks is read from the remote itself.
            let read = match (store.read(&entry.digest), &remote) {
                (Err(StoreError::Missing { .. }), Some((r, _, _))) => {
                    r.read(&entry.digest)?.ok_or(StoreError::Missing {
                        digest: entry.digest,
                    })
                }
                (other, _) => other,
            };
            match read {
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

    // Training runs: their records and model artifacts (`cairn runs rm` drops a run; its
    // objects go with the next gc).
    // The refs in .cairn/runs/ are what keeps a run; the index is read too, in case a ref
    // was lost.
    let state = project.state_dir();
    for r in cairn_core::runs::read_refs(&state)? {
        keep.extend(
            std::iter::once(r.record)
                .chain(r.artifact)
                .filter_map(|d| d.parse::<Digest>().ok()),
        );
    }
    // On a remote, also the runs other machines pushed (their refs in `runs/`).
    if let Some((r, _, _)) = &remote {
        for run in run_refs(r)? {
            keep.extend(
                std::iter::once(run.record)
                    .chain(run.artifact)
                    .filter_map(|d| d.parse::<Digest>().ok()),
            );
        }
    }
    // The drift checks `status` and `models show` report (their refs in .cairn/drift/).
    keep.extend(cairn_core::drift::read_refs(&state)?);
    let db_path = state.join("cairn.db");
    if db_path.exists() {
        let db = cairn_core::runs::RunsDb::open(&db_path)?;
        keep.extend(
            db.referenced_digests()?
                .iter()
                .filter_map(|d| d.parse::<Digest>().ok()),
        );
    }

    let objects: Vec<(Digest, u64)> = match &remote {
        None => store
            .list()?
            .0
            .into_iter()
            .map(|o| (o.digest, o.size))
            .collect(),
        Some((r, _, _)) => {
            r.check_version()?;
            let mut listed: Vec<_> = r.list()?.into_iter().collect();
            listed.sort();
            listed
        }
    };
    let mut removed = Vec::new();
    let mut kept = 0;
    let mut kept_bytes = 0;
    for (digest, size) in objects {
        if keep.contains(&digest) {
            kept += 1;
            kept_bytes += size;
        } else {
            removed.push(RemovedObject { digest, size });
        }
    }
    if !dry_run {
        match &mut remote {
            None => {
                for r in &removed {
                    store.remove(&r.digest)?;
                }
            }
            Some((r, _, jobs)) => {
                // On a shared remote, a manifest nobody can read may protect files that
                // another machine still needs: delete nothing rather than guess.
                if !unresolved.is_empty() {
                    return Err(DataError::UnresolvedManifests {
                        digests: unresolved,
                    });
                }
                let digests: Vec<Digest> = removed.iter().map(|r| r.digest).collect();
                let jobs = *jobs;
                r.delete(&digests, jobs)?;
                temp_files_removed = r.clean_stale_uploads(STALE_UPLOAD)?;
            }
        }
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
        remote: remote.map(|(_, info, _)| info),
        models: ModelObjects::of(&locks),
    })
}
