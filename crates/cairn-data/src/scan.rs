//! Reading the workspace: what is at a tracked path, and every file below a tracked directory.

use std::collections::HashMap;
use std::fs::{self, Metadata};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use cairn_store::{CachedStat, Digest, FileStat, RelPath, Store, hash};
use rayon::prelude::*;

use crate::DataError;

/// A file in the workspace.
#[derive(Debug, Clone)]
pub(crate) struct WsFile {
    /// Relative to the tracked directory (empty for a tracked file).
    pub rel: String,
    pub abs: PathBuf,
    pub stat: FileStat,
    pub executable: bool,
    /// More than one hard link (e.g. materialised by hard link from the store).
    pub shared: bool,
    /// A symbolic link that cairn made into the store, with the object it names.
    pub store_link: Option<Digest>,
}

/// What is at a tracked path in the workspace.
pub(crate) enum WsNode {
    Missing,
    File(WsFile),
    Dir,
}

pub(crate) fn file_from_metadata(rel: String, abs: PathBuf, meta: &Metadata) -> WsFile {
    WsFile {
        rel,
        abs,
        stat: FileStat::from_metadata(meta),
        executable: meta.permissions().mode() & 0o111 != 0,
        shared: meta.nlink() > 1,
        store_link: None,
    }
}

/// Refuses a tracked path whose parent directories include a symbolic link: writing through
/// it could leave the project.
pub(crate) fn check_ancestors(root: &Path, path: &RelPath) -> Result<(), DataError> {
    let mut dir = root.to_path_buf();
    let parts: Vec<&str> = path.as_str().split('/').collect();
    for part in &parts[..parts.len() - 1] {
        dir.push(part);
        match fs::symlink_metadata(&dir) {
            Ok(meta) if meta.file_type().is_symlink() => return Err(DataError::Symlink { path: dir }),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    Ok(())
}

/// Looks at a tracked path without following a final symbolic link.
pub(crate) fn node(store: &Store, abs: &Path) -> Result<WsNode, DataError> {
    let meta = match fs::symlink_metadata(abs) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(WsNode::Missing),
        Err(e) => return Err(DataError::Read { path: abs.to_path_buf(), source: e }),
    };
    let ft = meta.file_type();
    if ft.is_dir() {
        Ok(WsNode::Dir)
    } else if ft.is_file() {
        Ok(WsNode::File(file_from_metadata(String::new(), abs.to_path_buf(), &meta)))
    } else if ft.is_symlink() {
        let digest = store_link_target(store, abs).ok_or_else(|| DataError::Symlink { path: abs.to_path_buf() })?;
        let mut file = file_from_metadata(String::new(), abs.to_path_buf(), &meta);
        file.store_link = Some(digest);
        Ok(WsNode::File(file))
    } else {
        Err(DataError::SpecialFile { path: abs.to_path_buf() })
    }
}

/// The object a symbolic link points to, if it points into this store.
fn store_link_target(store: &Store, link: &Path) -> Option<Digest> {
    let target = fs::read_link(link).ok()?;
    let objects = store.objects_dir().canonicalize().ok()?;
    let rest = target.strip_prefix(&objects).ok()?;
    let hex: String = rest.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    hex.parse().ok()
}

/// Every file below `dir`, sorted by relative path, read in parallel. Symbolic links are
/// refused (except cairn's own links into the store); empty directories are not listed.
pub(crate) fn scan_dir(store: &Store, dir: &Path) -> Result<Vec<WsFile>, DataError> {
    let files = Mutex::new(Vec::new());
    let error = Mutex::new(None);
    rayon::scope(|scope| walk(scope, store, dir.to_path_buf(), String::new(), &files, &error));
    if let Some(e) = error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let mut files = files.into_inner().unwrap_or_else(|p| p.into_inner());
    files.sort_unstable_by(|a: &WsFile, b: &WsFile| a.rel.cmp(&b.rel));
    Ok(files)
}

fn walk<'s>(
    scope: &rayon::Scope<'s>,
    store: &'s Store,
    dir: PathBuf,
    prefix: String,
    files: &'s Mutex<Vec<WsFile>>,
    error: &'s Mutex<Option<DataError>>,
) {
    let fail = |e: DataError| {
        let mut slot = error.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert(e);
    };
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) => return fail(DataError::Read { path: dir, source: e }),
    };
    let mut local = Vec::new();
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => return fail(DataError::Read { path: dir, source: e }),
        };
        let abs = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            return fail(DataError::NonUtf8 { path: abs });
        };
        let rel = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
        if let Err(e) = RelPath::new(rel.as_str()) {
            return fail(DataError::BadPath(e));
        }
        let meta = match entry.metadata() {
            Ok(meta) => meta,
            Err(e) => return fail(DataError::Read { path: abs, source: e }),
        };
        let ft = meta.file_type();
        if ft.is_dir() {
            scope.spawn(move |scope| walk(scope, store, abs, rel, files, error));
        } else if ft.is_file() {
            local.push(file_from_metadata(rel, abs, &meta));
        } else if ft.is_symlink() {
            match store_link_target(store, &abs) {
                Some(digest) => {
                    let mut file = file_from_metadata(rel, abs, &meta);
                    file.store_link = Some(digest);
                    local.push(file);
                }
                None => return fail(DataError::Symlink { path: abs }),
            }
        } else {
            return fail(DataError::SpecialFile { path: abs });
        }
    }
    files.lock().unwrap_or_else(|p| p.into_inner()).extend(local);
}

/// Finds the digests of workspace files, from the stat cache when their stat data is
/// unchanged, by hashing otherwise; remembers what it hashed for the cache.
pub(crate) struct Digester {
    cache: HashMap<String, CachedStat>,
    hashed: Mutex<Vec<(String, FileStat, Digest)>>,
}

impl Digester {
    pub fn new(cache: HashMap<String, CachedStat>) -> Self {
        Self { cache, hashed: Mutex::new(Vec::new()) }
    }

    /// The cached digest of `key` (a project-relative path), if still valid.
    pub fn cached(&self, key: &str, file: &WsFile) -> Option<Digest> {
        if let Some(d) = file.store_link {
            return Some(d);
        }
        self.cache.get(key).and_then(|c| c.digest_if_fresh(&file.stat))
    }

    pub fn digest(&self, key: &str, file: &WsFile) -> Result<Digest, DataError> {
        if let Some(d) = self.cached(key, file) {
            return Ok(d);
        }
        let (digest, _) = hash::hash_file(&file.abs, file.stat.size)
            .map_err(|e| DataError::Read { path: file.abs.clone(), source: e })?;
        self.remember(key.to_string(), file.stat, digest);
        Ok(digest)
    }

    pub fn remember(&self, key: String, stat: FileStat, digest: Digest) {
        self.hashed.lock().unwrap_or_else(|p| p.into_inner()).push((key, stat, digest));
    }

    pub fn into_hashed(self) -> Vec<(String, FileStat, Digest)> {
        self.hashed.into_inner().unwrap_or_else(|p| p.into_inner())
    }
}

/// The project-relative key of a file below tracked path `base`.
pub(crate) fn key(base: &RelPath, rel: &str) -> String {
    if rel.is_empty() { base.to_string() } else { format!("{base}/{rel}") }
}

/// Digests many files in parallel.
pub(crate) fn digest_all<'a>(
    digester: &Digester,
    base: &RelPath,
    files: &'a [WsFile],
) -> Result<Vec<(&'a WsFile, Digest)>, DataError> {
    files
        .par_iter()
        .map(|f| digester.digest(&key(base, &f.rel), f).map(|d| (f, d)))
        .collect()
}
