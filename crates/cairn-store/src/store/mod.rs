//! The local object store: opening it and its paths, reading and verifying objects, listing
//! and removing them. Storing content is in [`put`], making workspace files from objects in
//! [`materialize`], and sharing objects and workspace copies with a download in [`share`].

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use serde::{Deserialize, Serialize};

use crate::atomic::{self, TempFile};
use crate::hash::hash_file;
use crate::{Digest, StoreError};

mod copy;
mod materialize;
mod put;
mod share;

pub(crate) use copy::copy_while_hashing;
pub use materialize::link_target_digest;
use share::Copies;

/// The version of the store layout (`.cairn/version`).
pub const STORE_VERSION: u32 = 1;

/// Objects are read-only once written.
const OBJECT_MODE: u32 = 0o444;

/// An empty file in `.cairn/` that exists once the store has shared an object with a directory
/// remote (see [`Store::link_file_expecting`]): from then on, checkouts never link a large
/// object that has another name into the workspace.
const SHARED_MARKER: &str = "shared-objects";

/// How a workspace file is made from an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkMode {
    /// A copy-on-write clone (btrfs, XFS, APFS…): instant, no extra space, independent file.
    Reflink,
    /// A hard link to the object: instant, no extra space, read-only in the workspace.
    Hardlink,
    /// A symbolic link to the object: instant, no extra space, read-only in the workspace.
    Symlink,
    /// A full copy.
    Copy,
}

impl LinkMode {
    pub const ALL: [LinkMode; 4] = [Self::Reflink, Self::Hardlink, Self::Symlink, Self::Copy];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reflink => "reflink",
            Self::Hardlink => "hardlink",
            Self::Symlink => "symlink",
            Self::Copy => "copy",
        }
    }
}

/// The result of storing some content.
#[derive(Debug, Clone, Copy)]
pub struct Put {
    pub digest: Digest,
    pub size: u64,
    /// False when an object with this digest was already stored (nothing was written).
    pub stored: bool,
}

/// An object file found in the store.
#[derive(Debug, Clone)]
pub struct StoredObject {
    pub digest: Digest,
    pub size: u64,
}

/// The content-addressed object store under `.cairn/`.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
    objects: PathBuf,
    tmp: PathBuf,
    /// Link modes that failed once (no reflink support, another filesystem): not tried again
    /// by this process.
    failed_modes: Arc<[AtomicBool; 4]>,
    /// Large objects this process stored after hashing them (an add, a download): a checkout
    /// in the same process does not hash them again.
    fresh: Arc<std::sync::Mutex<std::collections::HashSet<Digest>>>,
    /// Small objects are written to a temporary file in their own shard directory, so that the
    /// rename stays inside one directory (a rename between directories takes a lock that is
    /// global to the file system, and parallel writers queue on it). While this process may
    /// leave such files behind, a marker in `tmp/` says so: [`Store::clean_tmp`] sweeps the
    /// shards when it finds one left by a process that was killed.
    shard_marker: Arc<std::sync::OnceLock<Option<TempFile>>>,
    /// Workspace copies of large objects, written during their download (see
    /// [`Store::want_copies`]).
    copies: Arc<std::sync::Mutex<Copies>>,
    /// Whether read-only object files of a directory remote on the same file system may be
    /// hard-linked into the store (see [`Store::share_objects`]).
    share: Arc<AtomicBool>,
}

impl Store {
    /// Opens (creating if needed) the store in `cairn_dir` (the project's `.cairn`).
    pub fn open(cairn_dir: &Path) -> Result<Self, StoreError> {
        let objects = cairn_dir.join("objects");
        let tmp = cairn_dir.join("tmp");
        for dir in [&objects, &tmp] {
            fs::create_dir_all(dir).map_err(StoreError::write(dir))?;
        }
        let version_file = cairn_dir.join("version");
        match fs::read_to_string(&version_file) {
            Ok(text) => {
                let found =
                    text.trim()
                        .parse::<u32>()
                        .map_err(|_| StoreError::InvalidVersionFile {
                            path: version_file.clone(),
                        })?;
                if found > STORE_VERSION {
                    return Err(StoreError::UnsupportedVersion {
                        path: version_file,
                        found,
                        supported: STORE_VERSION,
                    });
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                atomic::write_atomic(
                    &version_file,
                    &tmp,
                    format!("{STORE_VERSION}\n").as_bytes(),
                    0o644,
                )
                .map_err(StoreError::write(&version_file))?;
            }
            Err(e) => {
                return Err(StoreError::Read {
                    path: version_file,
                    source: e,
                });
            }
        }
        Ok(Self {
            dir: cairn_dir.to_path_buf(),
            objects,
            tmp,
            failed_modes: Arc::default(),
            fresh: Arc::default(),
            shard_marker: Arc::default(),
            copies: Arc::default(),
            share: Arc::default(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn tmp_dir(&self) -> &Path {
        &self.tmp
    }

    pub fn objects_dir(&self) -> &Path {
        &self.objects
    }

    /// `.cairn/objects/ab/cdef…`
    pub fn object_path(&self, digest: &Digest) -> PathBuf {
        let hex = digest.to_hex();
        self.objects.join(&hex[..2]).join(&hex[2..])
    }

    pub fn contains(&self, digest: &Digest) -> bool {
        fs::symlink_metadata(self.object_path(digest)).is_ok()
    }

    /// Whether the object is stored with the expected size. An object cut short (a power
    /// loss before its data reached the disk) is not counted, so storing the content again
    /// repairs it.
    pub fn has(&self, digest: &Digest, size: u64) -> bool {
        fs::symlink_metadata(self.object_path(digest)).is_ok_and(|m| m.len() == size)
    }

    /// The size and inode of a stored object.
    pub fn object_meta(&self, digest: &Digest) -> Result<(u64, u64), StoreError> {
        use std::os::unix::fs::MetadataExt;
        let path = self.object_path(digest);
        let meta = fs::symlink_metadata(&path).map_err(|e| self.missing_or(digest, &path, e))?;
        Ok((meta.len(), meta.ino()))
    }

    /// Reads an object and checks that its content matches its digest.
    pub fn read(&self, digest: &Digest) -> Result<Vec<u8>, StoreError> {
        let path = self.object_path(digest);
        let bytes = fs::read(&path).map_err(|e| self.missing_or(digest, &path, e))?;
        let actual = Digest::of(&bytes);
        if actual != *digest {
            return Err(StoreError::Corrupt {
                digest: *digest,
                actual,
                path,
            });
        }
        Ok(bytes)
    }

    /// Re-hashes an object; [`StoreError::Corrupt`] if its content does not match its name.
    pub fn verify(&self, digest: &Digest) -> Result<u64, StoreError> {
        let path = self.object_path(digest);
        let meta = fs::metadata(&path).map_err(|e| self.missing_or(digest, &path, e))?;
        let (actual, size) = hash_file(&path, meta.len()).map_err(StoreError::read(&path))?;
        if actual != *digest {
            return Err(StoreError::Corrupt {
                digest: *digest,
                actual,
                path,
            });
        }
        Ok(size)
    }

    fn missing_or(&self, digest: &Digest, path: &Path, e: io::Error) -> StoreError {
        if e.kind() == io::ErrorKind::NotFound {
            StoreError::Missing { digest: *digest }
        } else {
            StoreError::Read {
                path: path.to_path_buf(),
                source: e,
            }
        }
    }

    /// Makes every object written so far durable, with one `syncfs` for the whole batch.
    pub fn sync(&self) -> Result<(), StoreError> {
        atomic::sync_filesystem(&self.objects).map_err(StoreError::write(&self.objects))
    }

    /// Every object in the store, and the paths of files in `objects/` that are not objects.
    pub fn list(&self) -> Result<(Vec<StoredObject>, Vec<PathBuf>), StoreError> {
        let mut objects = Vec::new();
        let mut strays = Vec::new();
        let top = fs::read_dir(&self.objects).map_err(StoreError::read(&self.objects))?;
        for shard in top {
            let shard = shard.map_err(StoreError::read(&self.objects))?;
            let shard_name = shard.file_name();
            let shard_name = shard_name.to_str().unwrap_or("");
            let shard_path = shard.path();
            if shard_name.len() != 2 || !shard_path.is_dir() {
                strays.push(shard_path);
                continue;
            }
            for entry in fs::read_dir(&shard_path).map_err(StoreError::read(&shard_path))? {
                let entry = entry.map_err(StoreError::read(&shard_path))?;
                let name = entry.file_name();
                // A write in progress, or left by a killed process (the next command that
                // writes removes it): not an object, not a stray.
                if name.to_str().is_some_and(|n| n.ends_with(".tmp")) {
                    continue;
                }
                let parsed = name
                    .to_str()
                    .and_then(|rest| format!("{shard_name}{rest}").parse::<Digest>().ok());
                let meta = entry.metadata().map_err(StoreError::read(entry.path()))?;
                match parsed {
                    Some(digest) if meta.is_file() => objects.push(StoredObject {
                        digest,
                        size: meta.len(),
                    }),
                    _ => strays.push(entry.path()),
                }
            }
        }
        objects.sort_by_key(|o| o.digest);
        Ok((objects, strays))
    }

    /// Deletes an object (for gc); a missing object is not an error.
    pub fn remove(&self, digest: &Digest) -> Result<(), StoreError> {
        let path = self.object_path(digest);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(StoreError::Write { path, source: e })
            }
            _ => Ok(()),
        }
    }

    /// Removes temporary files left by killed processes. Call only while holding the
    /// [`crate::WriteGuard`].
    pub fn clean_tmp(&self) -> Result<usize, StoreError> {
        let mut removed = 0;
        let own_marker = self
            .shard_marker
            .get()
            .and_then(|m| m.as_ref())
            .map(|m| m.path());
        // This process's own copies for a checkout stay (see `Store::want_copies`).
        let own_copies: std::collections::HashSet<PathBuf> = self
            .lock_copies()
            .ready
            .values()
            .map(|copy| copy.path().to_path_buf())
            .collect();
        for entry in fs::read_dir(&self.tmp).map_err(StoreError::read(&self.tmp))? {
            let entry = entry.map_err(StoreError::read(&self.tmp))?;
            let path = entry.path();
            if Some(path.as_path()) != own_marker
                && !own_copies.contains(&path)
                && fs::remove_file(&path).is_ok()
            {
                removed += 1;
            }
        }
        // Something was left behind (a killed process, maybe with its marker): its
        // temporary files in the shard directories go too.
        if removed > 0 {
            for shard in fs::read_dir(&self.objects).map_err(StoreError::read(&self.objects))? {
                let shard = shard.map_err(StoreError::read(&self.objects))?.path();
                let Ok(entries) = fs::read_dir(&shard) else {
                    continue;
                };
                for entry in entries.flatten() {
                    let path = entry.path();
                    if path.extension().is_some_and(|e| e == "tmp")
                        && fs::remove_file(&path).is_ok()
                    {
                        removed += 1;
                    }
                }
            }
        }
        Ok(removed)
    }
}

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn is_cross_device(e: &io::Error) -> bool {
    e.raw_os_error() == Some(rustix::io::Errno::XDEV.raw_os_error())
}

fn same_file_state(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.len() == b.len()
        && a.ino() == b.ino()
        && a.mtime() == b.mtime()
        && a.mtime_nsec() == b.mtime_nsec()
}

#[cfg(test)]
mod tests;
