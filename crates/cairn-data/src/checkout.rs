use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use cairn_core::{EntryKind, Project};
use cairn_store::scan::{self, Digester, WsFile, WsNode, exec_differs, key};
use cairn_store::{Digest, FileStat, Progress, RelPath, Store, now_ns};
use rayon::prelude::*;
use serde::Serialize;

use crate::guard::write_guard;
use crate::history::lock_of;
use crate::manifest::load_manifest;
use crate::select::select;
use crate::{Conflict, DataError, MissingObject};

pub struct CheckoutOptions {
    pub paths: Vec<PathBuf>,
    pub cwd: PathBuf,
    /// Check out the lock as of this git revision instead of the workspace lock.
    pub rev: Option<String>,
    /// Overwrite or delete local changes whose content is not in the store.
    pub force: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckoutEntry {
    pub path: RelPath,
    #[serde(rename = "type")]
    pub kind: EntryKind,
    pub written: u64,
    pub removed: u64,
    pub unchanged: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckoutOutcome {
    pub rev: Option<String>,
    pub entries: Vec<CheckoutEntry>,
    pub files_written: u64,
    pub bytes_written: u64,
    pub files_removed: u64,
    pub link_modes: Vec<&'static str>,
}

/// A file to write: project-relative key, destination, object, executable bit.
struct Write {
    key: String,
    dest: PathBuf,
    digest: Digest,
    size: u64,
    executable: bool,
    /// Something in the way that must go first (a directory where the file belongs).
    replace_dir: bool,
}

#[derive(Default)]
struct Plan {
    writes: Vec<Write>,
    removes: Vec<PathBuf>,
    chmods: Vec<(PathBuf, bool)>,
    dirs: BTreeSet<PathBuf>,
    conflicts: Vec<Conflict>,
    missing: Vec<MissingObject>,
    hashed: Vec<(String, FileStat, Digest)>,
}

/// `cairn data checkout`: makes the workspace match the lock (or the lock of a git revision),
/// rewriting only files that differ.
pub fn checkout(
    project: &Project,
    options: &CheckoutOptions,
    progress: &dyn Progress,
) -> Result<CheckoutOutcome, DataError> {
    let CheckoutOptions {
        paths,
        cwd,
        rev,
        force,
    } = options;
    let store = project.store()?;
    // The lock is read under the write lock: a concurrent add may be about to replace it.
    let _guard = write_guard(&store, progress)?;
    let lock = lock_of(project, rev.as_deref())?;
    let selected = select(project, cwd, &lock, paths)?;

    store.clean_tmp()?;
    let started = now_ns();
    let mut cache = project.stat_cache()?;

    // Plan everything first: nothing is changed unless every object is present and no local
    // change would be lost.
    let mut plan = Plan::default();
    let mut entries = Vec::new();
    for sel in &selected {
        let before = (plan.writes.len(), plan.removes.len());
        let abs = sel.path.to_path(project.root());
        scan::check_ancestors(project.root(), sel.path)?;
        let node = scan::node(&store, &abs)?;
        let mut unchanged = 0;
        match sel.entry.kind {
            EntryKind::File => {
                let digester = Digester::load(sel.path, false, &cache)?;
                let want = Want {
                    digest: sel.entry.digest,
                    size: sel.entry.size,
                    executable: sel.entry.executable,
                };
                match node {
                    WsNode::Missing => plan.write(sel.path.to_string(), abs.clone(), want, false),
                    WsNode::Dir => plan.conflict_or(
                        *force,
                        sel.path.to_string(),
                        "a directory is in the way",
                        |p| p.write(sel.path.to_string(), abs.clone(), want, true),
                    ),
                    WsNode::File(file) => {
                        if plan.compare(
                            &store,
                            &digester,
                            *force,
                            sel.path.to_string(),
                            &file,
                            want,
                        )? {
                            unchanged += 1;
                        }
                    }
                }
                plan.hashed.extend(digester.into_hashed());
                if let Some(parent) = abs.parent() {
                    plan.dirs.insert(parent.to_path_buf());
                }
            }
            EntryKind::Dir => {
                let manifest = match load_manifest(&store, sel.path, &sel.entry.digest) {
                    Ok(m) => m,
                    Err(DataError::Store(cairn_store::StoreError::Missing { digest })) => {
                        plan.missing.push(MissingObject {
                            path: sel.path.clone(),
                            digest,
                        });
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                let files: Vec<WsFile> = match node {
                    WsNode::Missing => Vec::new(),
                    WsNode::File(_) => {
                        plan.conflict_or(
                            *force,
                            sel.path.to_string(),
                            "a file is in the way",
                            |p| p.removes.push(abs.clone()),
                        );
                        Vec::new()
                    }
                    WsNode::Dir => scan::scan_dir(&store, &abs)?
                        .into_iter()
                        .filter(|f| sel.includes(&f.rel))
                        .collect(),
                };
                let digester = Digester::load(sel.path, true, &cache)?;
                let by_rel: HashMap<&str, &WsFile> =
                    files.iter().map(|f| (f.rel.as_str(), f)).collect();
                // Files the lock does not list: removed if their content is safe in the store.
                let extra: Vec<&WsFile> = files
                    .iter()
                    .filter(|f| manifest.get(&f.rel).is_none())
                    .collect();
                let extra_digests = extra
                    .par_iter()
                    .map(|f| digester.digest(f))
                    .collect::<Result<Vec<_>, _>>()?;
                for (file, digest) in extra.iter().zip(extra_digests) {
                    if *force || store.contains(&digest) {
                        plan.removes.push(file.abs());
                    } else {
                        plan.conflicts.push(Conflict {
                            path: key(sel.path, &file.rel),
                            reason: "not in the lock and not stored",
                        });
                    }
                }
                plan.dirs.insert(abs.clone());
                let wanted: Vec<_> = manifest
                    .entries()
                    .iter()
                    .filter(|e| sel.includes(e.path.as_str()))
                    .collect();
                let present: Vec<(&cairn_store::ManifestEntry, Option<&WsFile>)> = wanted
                    .iter()
                    .map(|e| (*e, by_rel.get(e.path.as_str()).copied()))
                    .collect();
                // Hash what the cache cannot vouch for, in parallel.
                let digests = present
                    .par_iter()
                    .map(|(_, f)| match f {
                        Some(f) => digester.digest(f).map(Some),
                        None => Ok(None),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                for ((entry, file), current) in present.into_iter().zip(digests) {
                    let dest = entry.path.to_path(&abs);
                    let k = key(sel.path, entry.path.as_str());
                    let want = Want {
                        digest: entry.digest,
                        size: entry.size,
                        executable: entry.executable,
                    };
                    if let Some(parent) = dest.parent() {
                        plan.dirs.insert(parent.to_path_buf());
                    }
                    match (file, current) {
                        (Some(file), Some(current)) if current == want.digest => {
                            if exec_differs(file, want.executable) {
                                plan.chmods.push((file.abs(), want.executable));
                            }
                            unchanged += 1;
                        }
                        (Some(file), Some(current)) => {
                            if *force || store.contains(&current) {
                                plan.write(k, dest, want, false);
                            } else {
                                let _ = file;
                                plan.conflicts.push(Conflict {
                                    path: k,
                                    reason: "modified and not stored",
                                });
                            }
                        }
                        _ => {
                            let blocked = fs::symlink_metadata(&dest)
                                .map(|m| m.is_dir())
                                .unwrap_or(false);
                            plan.write(k, dest, want, blocked);
                        }
                    }
                }
                plan.hashed.extend(digester.into_hashed());
            }
        }
        entries.push(CheckoutEntry {
            path: sel.path.clone(),
            kind: sel.entry.kind,
            written: (plan.writes.len() - before.0) as u64,
            removed: (plan.removes.len() - before.1) as u64,
            unchanged,
        });
    }
    for w in &plan.writes {
        if !store.contains(&w.digest) {
            let path = RelPath::new(w.key.as_str())?;
            plan.missing.push(MissingObject {
                path,
                digest: w.digest,
            });
        }
    }
    let _ = cache.record(&plan.hashed, started);
    if !plan.missing.is_empty() {
        return Err(DataError::MissingObjects {
            objects: plan.missing,
        });
    }
    if !plan.conflicts.is_empty() {
        return Err(DataError::Conflicts {
            conflicts: plan.conflicts,
        });
    }

    // Execute: removals, directories, then the files in parallel.
    for path in &plan.removes {
        let removed = match fs::symlink_metadata(path) {
            Ok(m) if m.is_dir() => fs::remove_dir_all(path),
            Ok(_) => fs::remove_file(path),
            Err(_) => Ok(()),
        };
        removed.map_err(|source| DataError::Write {
            path: path.clone(),
            source,
        })?;
    }
    for w in plan.writes.iter().filter(|w| w.replace_dir) {
        let removed = if *force {
            fs::remove_dir_all(&w.dest)
        } else {
            fs::remove_dir(&w.dest)
        };
        removed.map_err(|source| DataError::Write {
            path: w.dest.clone(),
            source,
        })?;
    }
    for dir in &plan.dirs {
        fs::create_dir_all(dir).map_err(|source| DataError::Write {
            path: dir.clone(),
            source,
        })?;
    }
    for (path, executable) in &plan.chmods {
        let mode = if *executable { 0o755 } else { 0o644 };
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(|source| {
            DataError::Write {
                path: path.clone(),
                source,
            }
        })?;
    }
    let modes = &project.config().cache.link;
    let total_bytes: u64 = plan.writes.iter().map(|w| w.size).sum();
    progress.start("checking out", plan.writes.len() as u64, total_bytes);
    let results = plan
        .writes
        .par_iter()
        .map(|w| {
            let (mode, stat) = store.materialize(&w.digest, &w.dest, modes, w.executable)?;
            progress.advance(1, w.size);
            Ok((mode, (w.key.clone(), stat, w.digest)))
        })
        .collect::<Result<Vec<_>, DataError>>();
    progress.finish();
    let results = results?;
    let mut used = BTreeSet::new();
    let mut rows = Vec::with_capacity(results.len());
    for (mode, row) in results {
        used.insert(mode.as_str());
        // Symbolic links are recognised by their target, not by the cache.
        if mode != cairn_store::LinkMode::Symlink {
            rows.push(row);
        }
    }
    let _ = cache.record(&rows, now_ns());
    Ok(CheckoutOutcome {
        rev: rev.clone(),
        entries,
        files_written: plan.writes.len() as u64,
        bytes_written: total_bytes,
        files_removed: plan.removes.len() as u64,
        link_modes: used.into_iter().collect(),
    })
}

#[derive(Clone, Copy)]
struct Want {
    digest: Digest,
    size: u64,
    executable: bool,
}

impl Plan {
    fn write(&mut self, key: String, dest: PathBuf, want: Want, replace_dir: bool) {
        self.writes.push(Write {
            key,
            dest,
            digest: want.digest,
            size: want.size,
            executable: want.executable,
            replace_dir,
        });
    }

    fn conflict_or(
        &mut self,
        force: bool,
        path: String,
        reason: &'static str,
        then: impl FnOnce(&mut Self),
    ) {
        if force {
            then(self);
        } else {
            self.conflicts.push(Conflict { path, reason });
        }
    }

    /// Plans the update of one existing file; true if it already matches.
    fn compare(
        &mut self,
        store: &Store,
        digester: &Digester,
        force: bool,
        key: String,
        file: &WsFile,
        want: Want,
    ) -> Result<bool, DataError> {
        let current = digester.digest(file)?;
        if current == want.digest {
            if exec_differs(file, want.executable) {
                self.chmods.push((file.abs(), want.executable));
            }
            return Ok(true);
        }
        if force || store.contains(&current) {
            self.write(key, file.abs(), want, false);
        } else {
            self.conflicts.push(Conflict {
                path: key,
                reason: "modified and not stored",
            });
        }
        Ok(false)
    }
}
