use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use cairn_core::{DataEntry, EntryKind, Project};
use cairn_store::scan::{self, Digester, WsFile, WsNode};
use cairn_store::{Manifest, ManifestEntry, Progress, RelPath, StatCache, Store, now_ns};
use rayon::prelude::*;
use serde::Serialize;

use crate::DataError;
use crate::guard::write_guard;

pub struct AddOptions {
    /// Paths as the user gave them, relative to `cwd` or absolute.
    pub paths: Vec<PathBuf>,
    pub cwd: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// Newly tracked.
    Added,
    /// Tracked before, with different content.
    Updated,
    /// Tracked before with the same content: nothing was changed.
    Unchanged,
}

#[derive(Debug, Clone, Serialize)]
pub struct AddedEntry {
    pub path: RelPath,
    #[serde(rename = "type")]
    pub kind: EntryKind,
    pub digest: cairn_store::Digest,
    pub size: u64,
    pub files: u64,
    pub change: Change,
    /// Objects written to the store (not already there).
    pub new_objects: u64,
    pub new_bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct AddOutcome {
    pub entries: Vec<AddedEntry>,
    pub lock_written: bool,
    pub gitignore_added: Vec<String>,
}

struct Target {
    path: RelPath,
    dir: bool,
    files: Vec<WsFile>,
}

/// `cairn data add`: stores files and directories and pins them in `cairn.lock`.
pub fn add(
    project: &Project,
    options: &AddOptions,
    progress: &dyn Progress,
) -> Result<AddOutcome, DataError> {
    let AddOptions { paths, cwd } = options;
    let store = project.store()?;
    let git = project.git()?;

    // Check every argument before touching anything.
    let mut targets: Vec<Target> = Vec::new();
    for user_path in paths {
        let path = project.resolve(cwd, user_path)?;
        scan::check_ancestors(project.root(), &path)?;
        let abs = path.to_path(project.root());
        let node = scan::node(&store, &abs)?;
        let (dir, files) = match node {
            WsNode::Missing => {
                return Err(DataError::NotFound {
                    path: user_path.clone(),
                });
            }
            WsNode::File(f) => (false, vec![f]),
            WsNode::Dir => (true, Vec::new()),
        };
        if let Some(git) = &git
            && let Some(tracked) = git.tracked_at_or_below(&path)?
        {
            return Err(DataError::TrackedByGit { path, tracked });
        }
        if let Some(other) = targets
            .iter()
            .find(|t| t.path.starts_with(&path) || path.starts_with(&t.path))
        {
            if other.path == path {
                continue;
            }
            return Err(DataError::Overlap {
                path,
                tracked: other.path.clone(),
            });
        }
        targets.push(Target { path, dir, files });
    }

    let _guard = write_guard(&store, progress)?;
    store.clean_tmp()?;
    // Read the lock under the guard: another process may just have changed it.
    let mut lock = project.read_lock()?;
    for target in &targets {
        for tracked in lock.data.keys() {
            if tracked != &target.path
                && (tracked.starts_with(&target.path) || target.path.starts_with(tracked))
            {
                return Err(DataError::Overlap {
                    path: target.path.clone(),
                    tracked: tracked.clone(),
                });
            }
        }
    }

    let started = now_ns();
    let mut cache = project.stat_cache()?;
    for target in &mut targets {
        if target.dir {
            target.files = scan::scan_dir(&store, &target.path.to_path(project.root()))?;
        }
    }
    let total_files: u64 = targets.iter().map(|t| t.files.len() as u64).sum();
    let total_bytes: u64 = targets
        .iter()
        .flat_map(|t| &t.files)
        .map(|f| f.stat.size)
        .sum();
    progress.start("adding", total_files, total_bytes);

    let mut entries = Vec::new();
    let mut any_stored = false;
    let mut stat_rows = Vec::new();
    let mut snapshots = Vec::new();
    for target in &targets {
        let digester = Digester::load(&target.path, target.dir, &cache)?;
        // Files linked into the store (hardlink or symlink mode) carry the object's mode, not
        // their own: their executable bit comes from the version they were checked out from.
        let previous = std::sync::OnceLock::new();
        let previous_executable = |rel: &str, digest: &cairn_store::Digest| -> bool {
            let Some(old) = lock.data.get(&target.path) else {
                return false;
            };
            if !target.dir {
                return old.digest == *digest && old.executable;
            }
            let manifest: &Option<Manifest> = previous.get_or_init(|| {
                store
                    .read(&old.digest)
                    .ok()
                    .and_then(|bytes| Manifest::from_bytes(&bytes).ok())
            });
            manifest
                .as_ref()
                .and_then(|m| m.get(rel))
                .is_some_and(|e| e.digest == *digest && e.executable)
        };
        let new_objects = AtomicU64::new(0);
        let new_bytes = AtomicU64::new(0);
        let stored: Vec<ManifestEntry> = target
            .files
            .par_iter()
            .map(|file| {
                let digest = match digester.cached(file) {
                    Some(d) if file.store_link.is_some() || store.has(&d, file.stat.size) => d,
                    _ => {
                        let put = store.put_file(&file.abs(), file.stat.size)?;
                        if put.stored {
                            new_objects.fetch_add(1, Ordering::Relaxed);
                            new_bytes.fetch_add(put.size, Ordering::Relaxed);
                        }
                        digester.remember(file, put.digest);
                        put.digest
                    }
                };
                let (size, executable) = if file.store_link.is_some() || file.shared {
                    let (size, inode) = store.object_meta(&digest)?;
                    let linked = file.store_link.is_some() || inode == file.stat.inode;
                    if linked {
                        (size, previous_executable(&file.rel, &digest))
                    } else {
                        (file.stat.size, file.executable)
                    }
                } else {
                    (file.stat.size, file.executable)
                };
                progress.advance(1, size);
                let path = if target.dir {
                    RelPath::new(file.rel.as_str())?
                } else {
                    target.path.clone()
                };
                Ok(ManifestEntry {
                    path,
                    digest,
                    size,
                    executable,
                })
            })
            .collect::<Result<_, DataError>>()?;
        stat_rows.extend(digester.into_hashed());
        let mut new_objects = new_objects.into_inner();
        let mut new_bytes = new_bytes.into_inner();
        let entry = if target.dir {
            let manifest = Manifest::new(stored);
            let bytes = manifest.to_bytes();
            let put = store.put_bytes(&bytes)?;
            if !target
                .files
                .iter()
                .any(|f| StatCache::is_racy(f.stat.mtime_ns, started))
            {
                snapshots.push((
                    target.path.to_string(),
                    put.digest,
                    scan::stat_digest(&target.files),
                ));
            }
            if put.stored {
                new_objects += 1;
                new_bytes += put.size;
            }
            DataEntry {
                kind: EntryKind::Dir,
                digest: put.digest,
                size: manifest.total_size(),
                files: manifest.entries().len() as u64,
                executable: false,
            }
        } else {
            let file = &stored[0];
            DataEntry {
                kind: EntryKind::File,
                digest: file.digest,
                size: file.size,
                files: 0,
                executable: file.executable,
            }
        };
        any_stored |= new_objects > 0;
        let change = match lock.data.get(&target.path) {
            None => Change::Added,
            Some(old) if *old == entry => Change::Unchanged,
            Some(_) => Change::Updated,
        };
        entries.push(AddedEntry {
            path: target.path.clone(),
            kind: entry.kind,
            digest: entry.digest,
            size: entry.size,
            files: if target.dir { entry.files } else { 1 },
            change,
            new_objects,
            new_bytes,
        });
        lock.data.insert(target.path.clone(), entry);
    }
    progress.finish();

    cache.record(&stat_rows, started)?;
    for (path, manifest, stat_digest) in &snapshots {
        cache.record_snapshot(path, manifest, stat_digest, started)?;
    }
    let lock_written =
        entries.iter().any(|e| e.change != Change::Unchanged) || !project.lock_path().exists();
    // The objects must be durable before a lock that refers to them replaces the old one.
    // Synced even when this run stored nothing: an earlier run may have been cut short.
    if any_stored || lock_written {
        store.sync()?;
    }
    if lock_written {
        write_lock(project, &store, &lock)?;
    }
    let gitignore_added = if git.is_some() {
        let paths: Vec<&RelPath> = targets.iter().map(|t| &t.path).collect();
        project.ignore_in_git(&paths, &store)?
    } else {
        Vec::new()
    };
    Ok(AddOutcome {
        entries,
        lock_written,
        gitignore_added,
    })
}

fn write_lock(project: &Project, store: &Store, lock: &cairn_core::Lock) -> Result<(), DataError> {
    project
        .write_lock(lock, store)
        .map_err(|source| DataError::Write {
            path: project.lock_path(),
            source,
        })
}
