use std::path::PathBuf;

use cairn_core::{EntryKind, Project};
use cairn_store::{Digest, Manifest, RelPath, StatCache, Store, StoreError, now_ns};
use serde::Serialize;

use crate::DataError;
use crate::scan::{self, Digester, WsFile, WsNode, key};
use crate::select::{Selected, select};

pub struct StatusOptions {
    pub paths: Vec<PathBuf>,
    pub cwd: PathBuf,
    /// Also say whether a remote has each path's objects: `Some(None)` for the default remote.
    pub remote: Option<Option<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryState {
    Unchanged,
    Modified,
    Missing,
    /// The directory's manifest is not in the local store, so it cannot be compared.
    NotInStore,
}

#[derive(Debug, Clone, Serialize)]
pub struct EntryStatus {
    pub path: RelPath,
    #[serde(rename = "type")]
    pub kind: EntryKind,
    pub state: EntryState,
    /// Project-relative paths of files whose content (or executable bit) differs.
    pub modified: Vec<String>,
    /// Files in the workspace that the lock does not list (inside tracked directories).
    pub added: Vec<String>,
    /// Files the lock lists that are missing from the workspace.
    pub removed: Vec<String>,
    /// With `--remote`: how many of the path's objects the remote has.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote: Option<crate::RemotePresence>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusOutcome {
    pub entries: Vec<EntryStatus>,
    /// True when the workspace matches the lock for every selected path.
    pub clean: bool,
    /// With `--remote`: the remote that was asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote: Option<crate::RemoteInfo>,
    /// With `--remote` and no paths: whether the remote has each pinned feature table.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<FeatureStatus>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FeatureStatus {
    pub view: String,
    pub remote: crate::transfer::RemotePresence,
}

/// `cairn data status`: compares the workspace with `cairn.lock`, hashing only files whose
/// stat data changed since they were last hashed.
pub fn status(project: &Project, options: &StatusOptions) -> Result<StatusOutcome, DataError> {
    let StatusOptions { paths, cwd, remote } = options;
    let lock = project.read_lock()?;
    let selected = select(project, cwd, &lock, paths)?;
    let store = project.store()?;
    let started = now_ns();
    let mut cache = project.stat_cache()?;
    let mut entries = Vec::new();
    let mut refreshed = Vec::new();
    for sel in &selected {
        let (status, hashed) = entry_status(project, &store, &cache, sel, started)?;
        entries.push(status);
        refreshed.extend(hashed);
    }
    // Remember what had to be hashed so the next status is fast; a read-only checkout or a
    // busy database only costs speed, never correctness.
    let _ = cache.record(&refreshed, started);
    let clean = entries.iter().all(|e| e.state == EntryState::Unchanged);
    let mut features = Vec::new();
    let remote = match remote {
        None => None,
        Some(name) => {
            // Without paths, the pinned feature tables are asked about too.
            let tables = if paths.is_empty() {
                crate::transfer::feature_entries(&lock)
            } else {
                Vec::new()
            };
            let mut pairs: Vec<_> = selected.iter().map(|s| (s.path, s.entry)).collect();
            pairs.extend(tables.iter().map(|(p, e)| (p, e)));
            let (info, mut presence) =
                crate::transfer::remote_presence(project, name.as_deref(), &pairs)?;
            let of_tables = presence.split_off(entries.len());
            for (entry, p) in entries.iter_mut().zip(presence) {
                entry.remote = Some(p);
            }
            for ((view, _), p) in lock.feature.iter().zip(of_tables) {
                features.push(FeatureStatus {
                    view: view.clone(),
                    remote: p,
                });
            }
            Some(info)
        }
    };
    Ok(StatusOutcome {
        entries,
        clean,
        remote,
        features,
    })
}

type Hashed = Vec<(String, cairn_store::FileStat, Digest)>;

fn entry_status(
    project: &Project,
    store: &Store,
    cache: &StatCache,
    sel: &Selected<'_>,
    started: i64,
) -> Result<(EntryStatus, Hashed), DataError> {
    let abs = sel.path.to_path(project.root());
    let mut status = EntryStatus {
        path: sel.path.clone(),
        kind: sel.entry.kind,
        state: EntryState::Unchanged,
        modified: Vec::new(),
        added: Vec::new(),
        removed: Vec::new(),
        remote: None,
    };
    scan::check_ancestors(project.root(), sel.path)?;
    let node = scan::node(store, &abs)?;
    match sel.entry.kind {
        EntryKind::File => {
            let file = match node {
                WsNode::Missing => {
                    status.state = EntryState::Missing;
                    return Ok((status, Vec::new()));
                }
                WsNode::Dir => {
                    status.state = EntryState::Modified;
                    status.modified.push(sel.path.to_string());
                    return Ok((status, Vec::new()));
                }
                WsNode::File(f) => f,
            };
            let digester = Digester::load(sel.path, false, cache)?;
            let digest = digester.digest(&file)?;
            if digest != sel.entry.digest || exec_differs(&file, sel.entry.executable) {
                status.state = EntryState::Modified;
                status.modified.push(sel.path.to_string());
            }
            Ok((status, digester.into_hashed()))
        }
        EntryKind::Dir => {
            match node {
                WsNode::Missing => {
                    status.state = EntryState::Missing;
                    return Ok((status, Vec::new()));
                }
                WsNode::File(_) => {
                    status.state = EntryState::Modified;
                    status.modified.push(sel.path.to_string());
                    return Ok((status, Vec::new()));
                }
                WsNode::Dir => {}
            }
            let files: Vec<WsFile> = scan::scan_dir(store, &abs)?
                .into_iter()
                .filter(|f| sel.includes(&f.rel))
                .collect();
            // Fastest path: the files' stat data is exactly what it was when this directory
            // last matched the locked manifest (no cache rows to load, nothing to hash).
            let stat_digest = sel.only.is_none().then(|| scan::stat_digest(&files));
            if let Some(stat_digest) = stat_digest
                && cache.snapshot(sel.path.as_str())? == Some((sel.entry.digest, stat_digest))
                && store.contains(&sel.entry.digest)
            {
                return Ok((status, Vec::new()));
            }
            let digester = Digester::load(sel.path, true, cache)?;
            let digests = scan::digest_all(&digester, &files)?;
            // Fast path: the manifest the workspace would give hashes to the locked digest, so
            // nothing differs and the locked manifest need not even be read.
            if let Some(stat_digest) = stat_digest
                && workspace_manifest_digest(&digests) == sel.entry.digest
            {
                if !files
                    .iter()
                    .any(|f| StatCache::is_racy(f.stat.mtime_ns, started))
                {
                    // Best effort, like the cache rows: it only saves time.
                    let _ = cache.record_snapshot(
                        sel.path.as_str(),
                        &sel.entry.digest,
                        &stat_digest,
                        started,
                    );
                }
                return Ok((status, digester.into_hashed()));
            }
            let manifest = match load_manifest(store, sel.path, &sel.entry.digest) {
                Ok(m) => m,
                Err(DataError::Store(StoreError::Missing { .. })) => {
                    status.state = EntryState::NotInStore;
                    return Ok((status, digester.into_hashed()));
                }
                Err(e) => return Err(e),
            };
            let mut seen = 0usize;
            for (file, digest) in &digests {
                match manifest.get(&file.rel) {
                    Some(expected) => {
                        seen += 1;
                        if expected.digest != *digest || exec_differs(file, expected.executable) {
                            status.modified.push(key(sel.path, &file.rel));
                        }
                    }
                    None => status.added.push(key(sel.path, &file.rel)),
                }
            }
            let expected_count = manifest
                .entries()
                .iter()
                .filter(|e| sel.includes(e.path.as_str()))
                .count();
            if seen != expected_count {
                let present: std::collections::HashSet<&str> =
                    files.iter().map(|f| f.rel.as_str()).collect();
                for e in manifest.entries() {
                    if sel.includes(e.path.as_str()) && !present.contains(e.path.as_str()) {
                        status.removed.push(key(sel.path, e.path.as_str()));
                    }
                }
            }
            if !(status.modified.is_empty() && status.added.is_empty() && status.removed.is_empty())
            {
                status.state = EntryState::Modified;
            }
            Ok((status, digester.into_hashed()))
        }
    }
}

/// Whether the executable bit of an independent workspace copy differs from the lock. Files
/// linked to the store (hard or symbolic links) share the object's read-only mode, so their
/// bit is not compared.
pub(crate) fn exec_differs(file: &WsFile, expected: bool) -> bool {
    file.store_link.is_none() && !file.shared && file.executable != expected
}

pub(crate) fn load_manifest(
    store: &Store,
    path: &RelPath,
    digest: &Digest,
) -> Result<Manifest, DataError> {
    let bytes = store.read(digest)?;
    Manifest::from_bytes(&bytes).map_err(|source| DataError::Manifest {
        path: path.clone(),
        digest: *digest,
        source,
    })
}

/// The digest of the manifest of the workspace files as they are (sorted by the scan).
/// Linked files (whose executable bit is the store's) count as not executable; if the lock
/// says otherwise, the slow path sorts it out.
fn workspace_manifest_digest(digests: &[(&WsFile, Digest)]) -> Digest {
    Manifest::digest_of(digests.iter().map(|(f, d)| {
        let executable = f.store_link.is_none() && !f.shared && f.executable;
        (f.rel.as_str(), d, f.stat.size, executable)
    }))
}
