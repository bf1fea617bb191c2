//! Reading the workspace: what is at a tracked path, every file below a tracked directory,
//! and their digests, from the [`StatCache`] when their stat data proves them and by hashing
//! otherwise. Symbolic links are refused, except the links into the store that a checkout in
//! `symlink` mode makes. `data add`, `data checkout` and the workspace-vs-lock check
//! (`cairn_core::workspace`) all read the workspace through here.

use std::fs::{self, Metadata};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rayon::prelude::*;

use crate::{
    CacheRows, Digest, FileStat, RelPath, RelPathError, StatCache, StatCacheError, Store, hash,
};

/// What can go wrong while reading the workspace.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is a symbolic link; cairn tracks regular files and directories only")]
    Symlink { path: PathBuf },
    #[error("{path} is not a regular file or directory")]
    SpecialFile { path: PathBuf },
    #[error("{path}: file names must be valid UTF-8")]
    NonUtf8 { path: PathBuf },
    #[error(transparent)]
    BadPath(#[from] RelPathError),
    #[error(transparent)]
    StatCache(#[from] StatCacheError),
}

/// A file in the workspace.
#[derive(Debug, Clone)]
pub struct WsFile {
    /// Relative to the tracked directory (empty for a tracked file).
    pub rel: String,
    /// The directory that holds the file, shared by its siblings (one allocation per
    /// directory, not per file); for a tracked file (`rel` empty), the file's own path.
    pub parent: Arc<Path>,
    pub stat: FileStat,
    pub executable: bool,
    /// More than one hard link (e.g. materialised by hard link from the store).
    pub shared: bool,
    /// A symbolic link that cairn made into the store, with the object it names.
    pub store_link: Option<Digest>,
}

/// What is at a tracked path in the workspace.
#[derive(Debug)]
pub enum WsNode {
    Missing,
    File(WsFile),
    Dir,
}

impl WsFile {
    /// The file's path on disk.
    pub fn abs(&self) -> PathBuf {
        match self.rel.rsplit('/').next() {
            Some(name) if !name.is_empty() => self.parent.join(name),
            _ => self.parent.to_path_buf(),
        }
    }
}

fn file_from_metadata(rel: String, parent: Arc<Path>, meta: &Metadata) -> WsFile {
    WsFile {
        rel,
        parent,
        stat: FileStat::from_metadata(meta),
        executable: meta.permissions().mode() & 0o111 != 0,
        shared: meta.nlink() > 1,
        store_link: None,
    }
}

/// Refuses a tracked path whose parent directories include a symbolic link: writing through
/// it could leave the project.
pub fn check_ancestors(root: &Path, path: &RelPath) -> Result<(), ScanError> {
    let mut dir = root.to_path_buf();
    let parts: Vec<&str> = path.as_str().split('/').collect();
    for part in &parts[..parts.len() - 1] {
        dir.push(part);
        match fs::symlink_metadata(&dir) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(ScanError::Symlink { path: dir });
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    Ok(())
}

/// Looks at a tracked path without following a final symbolic link.
pub fn node(store: &Store, abs: &Path) -> Result<WsNode, ScanError> {
    let meta = match fs::symlink_metadata(abs) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(WsNode::Missing),
        Err(e) => {
            return Err(ScanError::Read {
                path: abs.to_path_buf(),
                source: e,
            });
        }
    };
    let ft = meta.file_type();
    let own: Arc<Path> = Arc::from(abs);
    if ft.is_dir() {
        Ok(WsNode::Dir)
    } else if ft.is_file() {
        Ok(WsNode::File(file_from_metadata(
            String::new(),
            own.clone(),
            &meta,
        )))
    } else if ft.is_symlink() {
        let digest = store_link_target(store, abs).ok_or_else(|| ScanError::Symlink {
            path: abs.to_path_buf(),
        })?;
        let mut file = file_from_metadata(String::new(), own.clone(), &meta);
        file.store_link = Some(digest);
        Ok(WsNode::File(file))
    } else {
        Err(ScanError::SpecialFile {
            path: abs.to_path_buf(),
        })
    }
}

/// The object a symbolic link points to, if it points into this store.
fn store_link_target(store: &Store, link: &Path) -> Option<Digest> {
    crate::link_target_digest(store.objects_dir(), link)
}

/// Every file below `dir`, sorted by relative path, read in parallel. Symbolic links are
/// refused (except cairn's own links into the store); empty directories are not listed.
pub fn scan_dir(store: &Store, dir: &Path) -> Result<Vec<WsFile>, ScanError> {
    let files = Mutex::new(Vec::new());
    let error = Mutex::new(None);
    rayon::scope(|scope| walk(scope, store, Arc::from(dir), String::new(), &files, &error));
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
    dir: Arc<Path>,
    prefix: String,
    files: &'s Mutex<Vec<WsFile>>,
    error: &'s Mutex<Option<ScanError>>,
) {
    let fail = |e: ScanError| {
        let mut slot = error.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert(e);
    };
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) => {
            return fail(ScanError::Read {
                path: dir.to_path_buf(),
                source: e,
            });
        }
    };
    let mut local = Vec::new();
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                return fail(ScanError::Read {
                    path: dir.to_path_buf(),
                    source: e,
                });
            }
        };
        let file_name = entry.file_name();
        let Some(name) = file_name.to_str() else {
            return fail(ScanError::NonUtf8 { path: entry.path() });
        };
        let rel = if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}/{name}")
        };
        if let Err(e) = RelPath::check(&rel) {
            return fail(ScanError::BadPath(e));
        }
        let meta = match entry.metadata() {
            Ok(meta) => meta,
            Err(e) => {
                return fail(ScanError::Read {
                    path: entry.path(),
                    source: e,
                });
            }
        };
        let ft = meta.file_type();
        if ft.is_dir() {
            let sub: Arc<Path> = Arc::from(entry.path());
            scope.spawn(move |scope| walk(scope, store, sub, rel, files, error));
        } else if ft.is_file() {
            local.push(file_from_metadata(rel, dir.clone(), &meta));
        } else if ft.is_symlink() {
            match store_link_target(store, &entry.path()) {
                Some(digest) => {
                    let mut file = file_from_metadata(rel, dir.clone(), &meta);
                    file.store_link = Some(digest);
                    local.push(file);
                }
                None => return fail(ScanError::Symlink { path: entry.path() }),
            }
        } else {
            return fail(ScanError::SpecialFile { path: entry.path() });
        }
    }
    files
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .extend(local);
}

/// Finds the digests of the workspace files of one tracked path, from the stat cache when
/// their stat data is unchanged, by hashing otherwise; remembers what it hashed for the cache.
pub struct Digester {
    base: RelPath,
    /// Cache rows keyed by the path relative to `base` (empty for a tracked file).
    cache: CacheRows,
    hashed: Mutex<Vec<(String, FileStat, Digest)>>,
}

impl Digester {
    /// A digester for the files of tracked path `base`, with its cache rows.
    pub fn new(base: &RelPath, cache: CacheRows) -> Self {
        Self {
            base: base.clone(),
            cache,
            hashed: Mutex::new(Vec::new()),
        }
    }

    /// The cache rows of a tracked path: a file's own row, or the rows below a directory.
    pub fn load(base: &RelPath, dir: bool, cache: &StatCache) -> Result<Self, ScanError> {
        let rows = if dir {
            cache.load_under(base.as_str())?
        } else {
            CacheRows::single(cache.get(base.as_str())?)
        };
        Ok(Self::new(base, rows))
    }

    /// The digest the cache vouches for, if any.
    pub fn cached(&self, file: &WsFile) -> Option<Digest> {
        if let Some(d) = file.store_link {
            return Some(d);
        }
        self.cache
            .get(&file.rel)
            .and_then(|c| c.digest_if_fresh(&file.stat))
    }

    /// The file's digest: the cache's when it vouches for it, or hashed (and remembered).
    pub fn digest(&self, file: &WsFile) -> Result<Digest, ScanError> {
        if let Some(d) = self.cached(file) {
            return Ok(d);
        }
        let abs = file.abs();
        let (digest, _) = hash::hash_file(&abs, file.stat.size).map_err(|e| ScanError::Read {
            path: abs,
            source: e,
        })?;
        self.remember(file, digest);
        Ok(digest)
    }

    /// Remembers a digest found by hashing, for [`Digester::into_hashed`].
    pub fn remember(&self, file: &WsFile, digest: Digest) {
        let key = key(&self.base, &file.rel);
        self.hashed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((key, file.stat, digest));
    }

    /// What was hashed, as cache rows (project-relative path, stat data, digest) for
    /// [`StatCache::record`].
    pub fn into_hashed(self) -> Vec<(String, FileStat, Digest)> {
        self.hashed.into_inner().unwrap_or_else(|p| p.into_inner())
    }
}

/// The project-relative key of a file below tracked path `base`.
pub fn key(base: &RelPath, rel: &str) -> String {
    if rel.is_empty() {
        base.to_string()
    } else {
        format!("{base}/{rel}")
    }
}

/// Digests many files in parallel.
pub fn digest_all<'a>(
    digester: &Digester,
    files: &'a [WsFile],
) -> Result<Vec<(&'a WsFile, Digest)>, ScanError> {
    // Files and cache rows are both sorted by path: one merge pass instead of a lookup each;
    // only the files the cache cannot vouch for are hashed, in parallel.
    let mut rows = digester.cache.iter().peekable();
    let cached: Vec<Option<Digest>> = files
        .iter()
        .map(|f| {
            if let Some(d) = f.store_link {
                return Some(d);
            }
            while rows.next_if(|(path, _)| *path < f.rel.as_str()).is_some() {}
            match rows.peek() {
                Some((path, row)) if *path == f.rel => row.digest_if_fresh(&f.stat),
                _ => None,
            }
        })
        .collect();
    files
        .par_iter()
        .zip(cached)
        .map(|(f, hit)| match hit {
            Some(d) => Ok((f, d)),
            None => digester.digest(f).map(|d| (f, d)),
        })
        .collect()
}

/// A digest of the stat data of `files` (sorted by path): equal digests mean no file was
/// added, removed, replaced, resized, touched or had its mode changed.
pub fn stat_digest(files: &[WsFile]) -> Digest {
    let mut buf = Vec::with_capacity(files.len() * 64);
    for f in files {
        buf.extend_from_slice(f.rel.as_bytes());
        buf.push(0);
        buf.extend_from_slice(&f.stat.size.to_le_bytes());
        buf.extend_from_slice(&f.stat.mtime_ns.to_le_bytes());
        buf.extend_from_slice(&f.stat.inode.to_le_bytes());
        let flags = u8::from(f.executable)
            | (u8::from(f.shared) << 1)
            | (u8::from(f.store_link.is_some()) << 2);
        buf.push(flags);
        if let Some(d) = &f.store_link {
            buf.extend_from_slice(d.as_bytes());
        }
    }
    Digest::of(&buf)
}

/// Whether the executable bit of an independent workspace copy differs from the lock. Files
/// linked to the store (hard or symbolic links) share the object's read-only mode, so their
/// bit is not compared.
pub fn exec_differs(file: &WsFile, expected: bool) -> bool {
    file.store_link.is_none() && !file.shared && file.executable != expected
}
