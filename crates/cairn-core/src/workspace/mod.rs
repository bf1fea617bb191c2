//! The workspace against `cairn.lock`: whether each tracked path (or a part of a tracked
//! directory) still holds what the lock pins.
//!
//! One implementation for every command that asks: `data status` compares the paths it
//! selected with [`compare`], and a command that reads tracked data (training) asks about
//! one path with [`check_path`]. Both read the workspace through [`cairn_store::scan`]: file
//! digests come from the stat cache when the files' stat data proves them and are hashed
//! otherwise (and then remembered), and symbolic links are refused as `data add` refuses
//! them, except cairn's own links into the store.
//!
//! A file differs when its content or its executable bit differs from the lock (the bit of a
//! file linked to the store is the object's, and is not compared).

use cairn_store::scan::{self, Digester, ScanError, WsFile, WsNode, exec_differs, key};
use cairn_store::{
    Digest, Manifest, ManifestError, RelPath, StatCache, StatCacheError, Store, StoreError, now_ns,
};
use serde::Serialize;

use crate::{DataEntry, EntryKind, Lock, Project};

/// A tracked path of a lock to compare with the workspace, optionally narrowed to the files
/// at or below a path inside a tracked directory.
#[derive(Debug, Clone)]
pub struct Tracked<'l> {
    /// The path the lock tracks.
    pub path: &'l RelPath,
    pub entry: &'l DataEntry,
    /// Only files at or below this path (relative to the tracked directory) are concerned.
    pub only: Option<String>,
}

impl<'l> Tracked<'l> {
    /// The whole of a tracked path.
    pub fn whole(path: &'l RelPath, entry: &'l DataEntry) -> Self {
        Self {
            path,
            entry,
            only: None,
        }
    }

    /// Whether a file (relative to the tracked directory) is concerned.
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

/// How a tracked path compares with the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// The workspace holds what the lock pins.
    Unchanged,
    /// Something differs: see [`PathStatus::modified`], `added` and `removed`.
    Modified,
    /// Nothing is at the tracked path.
    Missing,
    /// The directory's manifest is not in the local store, so it cannot be compared.
    NotInStore,
}

/// What differs at one tracked path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathStatus {
    /// The tracked path.
    pub path: RelPath,
    #[serde(rename = "type")]
    pub kind: EntryKind,
    pub state: State,
    /// Project-relative paths of files whose content or executable bit differs (for a
    /// tracked path that is a file in the lock and a directory in the workspace, or the
    /// reverse, the tracked path itself).
    pub modified: Vec<String>,
    /// Files in the workspace that the lock does not list (inside tracked directories).
    pub added: Vec<String>,
    /// Files the lock lists that are missing from the workspace (inside tracked directories;
    /// a tracked path that is missing as a whole is [`State::Missing`] instead).
    pub removed: Vec<String>,
}

impl PathStatus {
    fn unchanged(tracked: &Tracked<'_>) -> Self {
        Self {
            path: tracked.path.clone(),
            kind: tracked.entry.kind,
            state: State::Unchanged,
            modified: Vec::new(),
            added: Vec::new(),
            removed: Vec::new(),
        }
    }
}

/// Where a path stands against the lock ([`check_path`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathCheck {
    /// No tracked path is or contains it, or it lies inside a tracked directory whose pinned
    /// manifest lists no file at or below it.
    Untracked,
    /// The path is, or lies inside, the tracked path `status.path`.
    Tracked {
        status: PathStatus,
        /// What the lock pins for exactly this path: the file's digest, the directory's
        /// manifest digest, or, for a part of a tracked directory, the digest of the manifest
        /// of the pinned files at or below it (their paths relative to the tracked directory,
        /// as [`Manifest::digest_of`] computes it). `None` when the directory's manifest is
        /// not in the local store ([`State::NotInStore`]).
        pinned: Option<Digest>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error(transparent)]
    Scan(#[from] ScanError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    StatCache(#[from] StatCacheError),
    #[error("the manifest of {path} (object {digest}) is invalid: {source}")]
    Manifest {
        path: RelPath,
        digest: Digest,
        source: ManifestError,
    },
}

/// Compares tracked paths with the workspace, in the order given. Only files whose stat data
/// changed since they were last hashed are hashed; what had to be hashed is remembered in the
/// stat cache, so that the next comparison is fast (a cache that cannot be written only costs
/// speed).
pub fn compare(
    project: &Project,
    tracked: &[Tracked<'_>],
) -> Result<Vec<PathStatus>, WorkspaceError> {
    let store = project.store()?;
    let started = now_ns();
    let mut cache = project.stat_cache()?;
    let mut out = Vec::with_capacity(tracked.len());
    let mut refreshed = Vec::new();
    for t in tracked {
        let (status, hashed) = path_status(project, &store, &cache, t, started)?;
        out.push(status);
        refreshed.extend(hashed);
    }
    let _ = cache.record(&refreshed, started);
    Ok(out)
}

/// Where `path` (a tracked path, or a file or directory inside a tracked directory) stands
/// against `lock`, compared as [`compare`] compares.
pub fn check_path(
    project: &Project,
    lock: &Lock,
    path: &RelPath,
) -> Result<PathCheck, WorkspaceError> {
    let Some((tracked_path, entry)) = lock
        .data
        .iter()
        .find(|(p, _)| path == *p || path.starts_with(p))
    else {
        return Ok(PathCheck::Untracked);
    };
    let only = tracked_path
        .strip_prefix_of(path.as_str())
        .filter(|inner| !inner.is_empty())
        .map(str::to_owned);
    let tracked = Tracked {
        path: tracked_path,
        entry,
        only,
    };
    let pinned = match (&tracked.only, entry.kind) {
        (None, _) => Some(entry.digest),
        // A path below a tracked file: nothing is pinned there.
        (Some(_), EntryKind::File) => return Ok(PathCheck::Untracked),
        (Some(only), EntryKind::Dir) => {
            match load_manifest(&project.store()?, tracked_path, &entry.digest) {
                Ok(manifest) => {
                    let below: Vec<_> = manifest
                        .entries()
                        .iter()
                        .filter(|e| tracked.includes(e.path.as_str()))
                        .collect();
                    match below.as_slice() {
                        [] => return Ok(PathCheck::Untracked),
                        [file] if file.path.as_str() == only => Some(file.digest),
                        _ => Some(Manifest::digest_of(
                            below
                                .iter()
                                .map(|e| (e.path.as_str(), &e.digest, e.size, e.executable)),
                        )),
                    }
                }
                Err(WorkspaceError::Store(StoreError::Missing { .. })) => None,
                Err(e) => return Err(e),
            }
        }
    };
    let status = compare(project, std::slice::from_ref(&tracked))?
        .pop()
        .unwrap_or_else(|| PathStatus::unchanged(&tracked));
    Ok(PathCheck::Tracked { status, pinned })
}

/// The manifest object of tracked directory `path`, from the local store (verified).
pub fn load_manifest(
    store: &Store,
    path: &RelPath,
    digest: &Digest,
) -> Result<Manifest, WorkspaceError> {
    let bytes = store.read(digest)?;
    Manifest::from_bytes(&bytes).map_err(|source| WorkspaceError::Manifest {
        path: path.clone(),
        digest: *digest,
        source,
    })
}

type Hashed = Vec<(String, cairn_store::FileStat, Digest)>;

/// One tracked path's status, and the files that had to be hashed (for the stat cache).
fn path_status(
    project: &Project,
    store: &Store,
    cache: &StatCache,
    t: &Tracked<'_>,
    started: i64,
) -> Result<(PathStatus, Hashed), WorkspaceError> {
    let abs = t.path.to_path(project.root());
    let mut status = PathStatus::unchanged(t);
    scan::check_ancestors(project.root(), t.path)?;
    let node = scan::node(store, &abs)?;
    match t.entry.kind {
        EntryKind::File => {
            let file = match node {
                WsNode::Missing => {
                    status.state = State::Missing;
                    return Ok((status, Vec::new()));
                }
                WsNode::Dir => {
                    status.state = State::Modified;
                    status.modified.push(t.path.to_string());
                    return Ok((status, Vec::new()));
                }
                WsNode::File(f) => f,
            };
            let digester = Digester::load(t.path, false, cache)?;
            let digest = digester.digest(&file)?;
            if digest != t.entry.digest || exec_differs(&file, t.entry.executable) {
                status.state = State::Modified;
                status.modified.push(t.path.to_string());
            }
            Ok((status, digester.into_hashed()))
        }
        EntryKind::Dir => {
            match node {
                WsNode::Missing => {
                    status.state = State::Missing;
                    return Ok((status, Vec::new()));
                }
                WsNode::File(_) => {
                    status.state = State::Modified;
                    status.modified.push(t.path.to_string());
                    return Ok((status, Vec::new()));
                }
                WsNode::Dir => {}
            }
            let files: Vec<WsFile> = scan::scan_dir(store, &abs)?
                .into_iter()
                .filter(|f| t.includes(&f.rel))
                .collect();
            // Fastest path: the files' stat data is exactly what it was when this directory
            // last matched the locked manifest (no cache rows to load, nothing to hash).
            let stat_digest = t.only.is_none().then(|| scan::stat_digest(&files));
            if let Some(stat_digest) = stat_digest
                && cache.snapshot(t.path.as_str())? == Some((t.entry.digest, stat_digest))
                && store.contains(&t.entry.digest)
            {
                return Ok((status, Vec::new()));
            }
            let digester = Digester::load(t.path, true, cache)?;
            let digests = scan::digest_all(&digester, &files)?;
            // Fast path: the manifest the workspace would give hashes to the locked digest, so
            // nothing differs and the locked manifest need not even be read.
            if let Some(stat_digest) = stat_digest
                && workspace_manifest_digest(&digests) == t.entry.digest
            {
                if !files
                    .iter()
                    .any(|f| StatCache::is_racy(f.stat.mtime_ns, started))
                {
                    // Best effort, like the cache rows: it only saves time.
                    let _ = cache.record_snapshot(
                        t.path.as_str(),
                        &t.entry.digest,
                        &stat_digest,
                        started,
                    );
                }
                return Ok((status, digester.into_hashed()));
            }
            let manifest = match load_manifest(store, t.path, &t.entry.digest) {
                Ok(m) => m,
                Err(WorkspaceError::Store(StoreError::Missing { .. })) => {
                    status.state = State::NotInStore;
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
                            status.modified.push(key(t.path, &file.rel));
                        }
                    }
                    None => status.added.push(key(t.path, &file.rel)),
                }
            }
            let expected_count = manifest
                .entries()
                .iter()
                .filter(|e| t.includes(e.path.as_str()))
                .count();
            if seen != expected_count {
                let present: std::collections::HashSet<&str> =
                    files.iter().map(|f| f.rel.as_str()).collect();
                for e in manifest.entries() {
                    if t.includes(e.path.as_str()) && !present.contains(e.path.as_str()) {
                        status.removed.push(key(t.path, e.path.as_str()));
                    }
                }
            }
            if !(status.modified.is_empty() && status.added.is_empty() && status.removed.is_empty())
            {
                status.state = State::Modified;
            }
            Ok((status, digester.into_hashed()))
        }
    }
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

#[cfg(test)]
mod tests;
