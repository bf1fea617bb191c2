use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use crate::atomic::{self, TempFile};
use crate::hash::{LARGE_FILE, hash_file};
use crate::{Digest, FileStat, StoreError};

/// The version of the store layout (`.cairn/version`).
pub const STORE_VERSION: u32 = 1;

/// Objects are read-only once written.
const OBJECT_MODE: u32 = 0o444;

/// An empty file in `.cairn/` that exists once the store has shared an object with a directory
/// remote (see [`Store::link_file_expecting`]): from then on, checkouts never link a large
/// object that has another name into the workspace.
const SHARED_MARKER: &str = "shared-objects";

/// Large files are copied in chunks of this size so that a copy can stop early when the hash
/// shows the object is already stored.
const COPY_CHUNK: u64 = 64 << 20;

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

/// Copies of large objects that a download writes at the same time as the object itself, so
/// that a pull's checkout (in copy mode) renames one into the workspace instead of copying
/// the object again: the two writes then run in parallel instead of one after the other.
#[derive(Debug, Default)]
struct Copies {
    /// Objects that a checkout in this process will copy out.
    wanted: std::collections::HashSet<Digest>,
    /// Verified copies, waiting for the checkout.
    ready: std::collections::HashMap<Digest, TempFile>,
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

    /// Stores `bytes`; a no-op if the object exists.
    pub fn put_bytes(&self, bytes: &[u8]) -> Result<Put, StoreError> {
        let digest = Digest::of(bytes);
        let size = bytes.len() as u64;
        if self.has(&digest, size) {
            return Ok(Put {
                digest,
                size,
                stored: false,
            });
        }
        let dest = self.object_path(&digest);
        let shard = parent_of(&dest);
        self.shard_marker
            .get_or_init(|| TempFile::new_in(&self.tmp, 0o644).ok());
        let mut tmp = match TempFile::new_in(shard, OBJECT_MODE) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir_all(shard).map_err(StoreError::write(shard))?;
                TempFile::new_in(shard, OBJECT_MODE)
            }
            other => other,
        }
        .map_err(StoreError::write(shard))?;
        tmp.file()
            .write_all(bytes)
            .map_err(StoreError::write(tmp.path()))?;
        tmp.persist(&dest).map_err(StoreError::write(&dest))?;
        Ok(Put {
            digest,
            size,
            stored: true,
        })
    }

    /// Stores the content of the file at `path` (whose size is about `size_hint`).
    ///
    /// Objects are not fsynced one by one: call [`Store::sync`] once after a batch, before
    /// anything that refers to the objects is written.
    pub fn put_file(&self, path: &Path, size_hint: u64) -> Result<Put, StoreError> {
        if size_hint < LARGE_FILE {
            let bytes = fs::read(path).map_err(StoreError::read(path))?;
            return self.put_bytes(&bytes);
        }
        self.put_large_file(path, None, None)
    }

    /// Stores a large file whose digest is known in advance (a download from a local
    /// directory remote): copied and hashed at once like [`Store::put_file`], and stored only
    /// if the content matches `expected` ([`StoreError::Corrupt`] otherwise, nothing stored).
    pub fn put_file_expecting(&self, path: &Path, expected: &Digest) -> Result<Put, StoreError> {
        let copy = self.copy_target(expected)?;
        self.put_large_file(path, Some(expected), copy)
    }

    /// Hashes and copies a large file at the same time (see [`copy_while_hashing`]). The copy
    /// stops early when the object turns out to be stored already. With `copy`, the file is
    /// also copied there, in parallel, and the copy is offered to the checkout
    /// ([`Store::offer_copy`]) once the content is verified.
    fn put_large_file(
        &self,
        path: &Path,
        expected: Option<&Digest>,
        mut copy: Option<TempFile>,
    ) -> Result<Put, StoreError> {
        let before = fs::metadata(path).map_err(StoreError::read(path))?;
        let src = File::open(path).map_err(StoreError::read(path))?;
        let mut tmp =
            TempFile::new_in(&self.tmp, OBJECT_MODE).map_err(StoreError::write(&self.tmp))?;
        // An add syncs before it writes the lock: start the writeback during the copy. A
        // download is not synced (see `data fetch`).
        let writeback = expected.is_none();
        let (hashed, copied, also) = copy_while_hashing(
            &src,
            path,
            before.len(),
            &mut tmp,
            copy.as_mut(),
            writeback,
            |d, n| self.has(d, n),
        );
        let (digest, size) = hashed.map_err(StoreError::read(path))?;
        let after = fs::metadata(path).map_err(StoreError::read(path))?;
        if !same_file_state(&before, &after) || size != before.len() {
            return Err(StoreError::ChangedWhileReading {
                path: path.to_path_buf(),
            });
        }
        if let Some(expected) = expected
            && *expected != digest
        {
            return Err(StoreError::Corrupt {
                digest: *expected,
                actual: digest,
                path: path.to_path_buf(),
            });
        }
        if self.has(&digest, size) {
            return Ok(Put {
                digest,
                size,
                stored: false,
            });
        }
        let copied = copied.map_err(StoreError::write(tmp.path()))?;
        if copied != size {
            return Err(StoreError::ChangedWhileReading {
                path: path.to_path_buf(),
            });
        }
        let dest = self.object_path(&digest);
        tmp.persist_creating_parent(&dest)
            .map_err(StoreError::write(&dest))?;
        self.fresh
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(digest);
        // A copy that failed or came out short is not offered: the checkout copies instead.
        if let Some(copy) = copy
            && also.is_ok_and(|n| n == size)
        {
            self.offer_copy(&digest, copy);
        }
        Ok(Put {
            digest,
            size,
            stored: true,
        })
    }

    /// Stores what `write` writes into the file it is given (a handle to a new temporary
    /// file of the store): once `write` returns, the file is hashed and moved into place, or
    /// dropped if the store has the object already. `write`'s own error comes back inside
    /// `Ok`, with nothing stored. Not synced, like [`Store::put_file`].
    pub fn put_written<E>(
        &self,
        write: impl FnOnce(File) -> Result<(), E>,
    ) -> Result<Result<Put, E>, StoreError> {
        let mut tmp =
            TempFile::new_in(&self.tmp, OBJECT_MODE).map_err(StoreError::write(&self.tmp))?;
        let handle = tmp
            .file()
            .try_clone()
            .map_err(StoreError::write(tmp.path()))?;
        if let Err(e) = write(handle) {
            return Ok(Err(e));
        }
        let size = tmp
            .file()
            .metadata()
            .map_err(StoreError::read(tmp.path()))?
            .len();
        let (digest, size) =
            crate::hash::hash_file(tmp.path(), size).map_err(StoreError::read(tmp.path()))?;
        let stored = !self.has(&digest, size);
        if stored {
            self.commit_object(tmp, &digest)?;
        }
        Ok(Ok(Put {
            digest,
            size,
            stored,
        }))
    }

    /// Says that a checkout in this process will copy these objects (digest, size) into the
    /// workspace with these link modes. A download of one of the large ones that the store
    /// lacks then also writes the copy, in parallel with the object, and
    /// [`Store::materialize`] in copy mode moves it into place. Nothing is wanted unless the
    /// checkout will really copy (see [`Store::copies_needed`]).
    pub fn want_copies(
        &self,
        objects: impl IntoIterator<Item = (Digest, u64)>,
        modes: &[LinkMode],
    ) {
        let large: Vec<Digest> = objects
            .into_iter()
            .filter(|(digest, size)| *size >= LARGE_FILE && !self.has(digest, *size))
            .map(|(digest, _)| digest)
            .collect();
        // The reflink probe only when there is something to copy.
        if !large.is_empty() && self.copies_needed(modes) {
            self.lock_copies().wanted.extend(large);
        }
    }

    /// Whether a checkout with these link modes would copy large objects: it would not when a
    /// reflink works here (tried once on a small file) or a link mode comes before `copy`.
    pub fn copies_needed(&self, modes: &[LinkMode]) -> bool {
        for &mode in modes {
            match mode {
                LinkMode::Copy => return true,
                LinkMode::Hardlink | LinkMode::Symlink => return false,
                LinkMode::Reflink if self.failed_modes[mode as usize].load(Ordering::Relaxed) => {}
                LinkMode::Reflink => {
                    if self.reflink_works() {
                        return false;
                    }
                    self.failed_modes[mode as usize].store(true, Ordering::Relaxed);
                }
            }
        }
        // An empty list means a copy.
        true
    }

    fn reflink_works(&self) -> bool {
        let Ok(mut probe) = TempFile::new_in(&self.tmp, 0o644) else {
            return false;
        };
        if probe.file().write_all(b"reflink probe").is_err() {
            return false;
        }
        let clone = atomic::temp_path(&self.tmp);
        let works = reflink_copy::reflink(probe.path(), &clone).is_ok();
        let _ = fs::remove_file(&clone);
        works
    }

    fn lock_copies(&self) -> std::sync::MutexGuard<'_, Copies> {
        self.copies.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Allows downloads from a directory remote on the same file system to share the remote's
    /// read-only object files (hard links, see [`Store::link_file_expecting`]), unless the
    /// checkout's link modes would link workspace files to objects: then an edit of a
    /// workspace file could reach the remote's copy through the shared file.
    pub fn share_objects(&self, modes: &[LinkMode]) {
        let workspace_links = modes
            .iter()
            .any(|mode| matches!(mode, LinkMode::Hardlink | LinkMode::Symlink));
        self.share.store(!workspace_links, Ordering::Relaxed);
    }

    /// Stores the large file `path` of a directory remote as object `expected` by giving it a
    /// second name in the store (a hard link), as `git clone` of a local repository does: its
    /// bytes are read, to verify them and to write the workspace copy a checkout wants
    /// ([`Store::want_copies`]), but not written again. `Ok(None)` when it is not shared: not
    /// allowed ([`Store::share_objects`]), a file that is not read-only, or another file
    /// system; the caller copies it instead. A file whose content does not match `expected`
    /// is reported as [`StoreError::Corrupt`] and leaves no trace in the store.
    pub fn link_file_expecting(
        &self,
        path: &Path,
        expected: &Digest,
    ) -> Result<Option<Put>, StoreError> {
        if !self.share.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let Ok(mut linked) = TempFile::link_in(&self.tmp, path) else {
            return Ok(None);
        };
        let before = linked.file().metadata().map_err(StoreError::read(path))?;
        // Only files nobody may write are shared (the mode of the linked file itself, so no
        // one changes it in between).
        if before.permissions().mode() & 0o222 != 0 {
            return Ok(None);
        }
        let size = before.len();
        let mut copy = self.copy_target(expected)?;
        let name = linked.path().to_path_buf();
        // The workspace copy, if one is wanted, is written while the file is hashed.
        let (hashed, copied) = match copy.as_mut() {
            Some(copy) => {
                let (hashed, copied, _) =
                    copy_while_hashing(linked.file(), &name, size, copy, None, false, |_, _| false);
                (hashed, Some(copied))
            }
            None => (hash_file(&name, size), None),
        };
        let (digest, hashed_len) = hashed.map_err(StoreError::read(path))?;
        let after = linked.file().metadata().map_err(StoreError::read(path))?;
        if !same_file_state(&before, &after) || hashed_len != size {
            return Err(StoreError::ChangedWhileReading {
                path: path.to_path_buf(),
            });
        }
        if digest != *expected {
            return Err(StoreError::Corrupt {
                digest: *expected,
                actual: digest,
                path: path.to_path_buf(),
            });
        }
        let stored = !self.has(&digest, size);
        if stored {
            // The marker first: an object shared without it could be linked into the
            // workspace by a later checkout in hardlink mode.
            let marker = self.dir.join(SHARED_MARKER);
            if !marker.exists() {
                atomic::write_atomic(&marker, &self.tmp, b"", 0o644)
                    .map_err(StoreError::write(&marker))?;
            }
            let dest = self.object_path(&digest);
            linked
                .persist_creating_parent(&dest)
                .map_err(StoreError::write(&dest))?;
            self.fresh
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(digest);
        }
        // A copy that failed or came out short is not offered: the checkout copies instead.
        if let (Some(copy), Some(Ok(n))) = (copy, copied)
            && n == size
        {
            self.offer_copy(&digest, copy);
        }
        Ok(Some(Put {
            digest,
            size,
            stored,
        }))
    }

    /// For a download of `digest`: a new temporary file for the workspace copy, if a
    /// checkout wants one ([`Store::want_copies`]); hand it to [`Store::offer_copy`] once the
    /// object is verified and stored, or drop it.
    pub fn copy_target(&self, digest: &Digest) -> Result<Option<TempFile>, StoreError> {
        if !self.lock_copies().wanted.remove(digest) {
            return Ok(None);
        }
        TempFile::new_in(&self.tmp, 0o644)
            .map(Some)
            .map_err(StoreError::write(&self.tmp))
    }

    /// Keeps a verified copy of a stored object for the checkout that wanted it.
    pub fn offer_copy(&self, digest: &Digest, copy: TempFile) {
        self.lock_copies().ready.insert(*digest, copy);
    }

    /// Moves the prepared copy of `digest`, if there is one, to `dest`. `None` when there is
    /// none or it cannot be moved there (another file system): the caller copies instead.
    fn place_prepared(&self, digest: &Digest, dest: &Path, mode: u32) -> Option<FileStat> {
        let mut copy = self.lock_copies().ready.remove(digest)?;
        let file = copy.file();
        file.set_permissions(fs::Permissions::from_mode(mode))
            .ok()?;
        // The inode and mtime survive the rename: no need to stat the destination.
        let stat = FileStat::from_metadata(&file.metadata().ok()?);
        copy.persist(dest).ok()?;
        Some(stat)
    }

    /// A new temporary file for an object whose digest is known in advance (a download);
    /// hand it to [`Store::commit_object`] once its content is verified.
    pub fn temp_object(&self) -> Result<TempFile, StoreError> {
        TempFile::new_in(&self.tmp, OBJECT_MODE).map_err(StoreError::write(&self.tmp))
    }

    /// Moves a verified temporary file into place as object `digest`.
    pub fn commit_object(&self, tmp: TempFile, digest: &Digest) -> Result<(), StoreError> {
        let dest = self.object_path(digest);
        tmp.persist_creating_parent(&dest)
            .map_err(StoreError::write(&dest))?;
        self.fresh
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(*digest);
        Ok(())
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

    /// Makes `dest` a file with the content of object `digest`, trying each link mode in
    /// order, and returns the mode used with the new file's stat data. The object is verified
    /// first, so a corrupt object is never materialised. `dest` is replaced atomically
    /// (temporary file + rename).
    pub fn materialize(
        &self,
        digest: &Digest,
        dest: &Path,
        modes: &[LinkMode],
        executable: bool,
    ) -> Result<(LinkMode, FileStat), StoreError> {
        let obj = self.object_path(digest);
        let mut file = File::open(&obj).map_err(|e| self.missing_or(digest, &obj, e))?;
        let meta = file.metadata().map_err(StoreError::read(&obj))?;
        let len = meta.len();
        // In a store that has shared objects with a directory remote (see
        // `Store::link_file_expecting`; only large ones are), a large object file with
        // another name gets no workspace link: an edit through it would change the remote's
        // file too. (Without the marker, another name is a workspace link of the same data.)
        let shared = len >= LARGE_FILE
            && std::os::unix::fs::MetadataExt::nlink(&meta) > 1
            && self.dir.join(SHARED_MARKER).exists();
        // Small objects are read once: verified in memory, then written from memory.
        let small = if len < LARGE_FILE {
            let mut bytes = Vec::with_capacity(len as usize);
            file.read_to_end(&mut bytes)
                .map_err(StoreError::read(&obj))?;
            let actual = Digest::of(&bytes);
            if actual != *digest {
                return Err(StoreError::Corrupt {
                    digest: *digest,
                    actual,
                    path: obj,
                });
            }
            Some(bytes)
        } else {
            // Large objects are verified while they are copied, or before they are linked.
            None
        };
        drop(file);
        let fresh = small.is_none()
            && self
                .fresh
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains(digest);
        let verified = std::cell::Cell::new(small.is_some() || fresh);
        // A link is verified once it is made (so that a mode this file system does not support
        // costs no hashing) and before it is renamed into place.
        let corrupt = std::cell::RefCell::new(None);
        let check = || -> io::Result<()> {
            if verified.get() {
                return Ok(());
            }
            match self.verify(digest) {
                Ok(_) => {
                    verified.set(true);
                    Ok(())
                }
                Err(e) => {
                    *corrupt.borrow_mut() = Some(e);
                    Err(io::Error::other("the object does not match its digest"))
                }
            }
        };
        let file_mode = if executable { 0o755 } else { 0o644 };
        let last = modes.len().saturating_sub(1);
        for (i, &mode) in modes.iter().enumerate() {
            let failed = &self.failed_modes[mode as usize];
            if i < last && failed.load(Ordering::Relaxed) {
                continue;
            }
            if shared && matches!(mode, LinkMode::Hardlink | LinkMode::Symlink) {
                continue;
            }
            if mode == LinkMode::Copy
                && small.is_none()
                && let Some(stat) = self.place_prepared(digest, dest, file_mode)
            {
                return Ok((LinkMode::Copy, stat));
            }
            if mode == LinkMode::Copy && !verified.get() {
                match self.place_large_copy(digest, &obj, dest, file_mode) {
                    Err(StoreError::Write { .. }) if i < last => {
                        failed.store(true, Ordering::Relaxed);
                        continue;
                    }
                    other => return other.map(|stat| (LinkMode::Copy, stat)),
                }
            }
            let placed = match mode {
                LinkMode::Copy => self.place_copy(&obj, small.as_deref(), dest, file_mode),
                LinkMode::Reflink => self.place_with(dest, |tmp| {
                    reflink_copy::reflink(&obj, tmp)?;
                    check()?;
                    fs::set_permissions(tmp, fs::Permissions::from_mode(file_mode))
                }),
                LinkMode::Hardlink => self.place_with(dest, |tmp| {
                    fs::hard_link(&obj, tmp)?;
                    check()
                }),
                LinkMode::Symlink => {
                    // Relative, so that the project can be moved or copied with its store.
                    let target = relative_path(parent_of(dest), &obj);
                    self.place_with(dest, |tmp| {
                        std::os::unix::fs::symlink(&target, tmp)?;
                        check()
                    })
                }
            };
            if let Some(e) = corrupt.borrow_mut().take() {
                return Err(e);
            }
            match placed {
                Ok(stat) => return Ok((mode, stat)),
                Err(e) if i == last => {
                    return Err(StoreError::Write {
                        path: dest.to_path_buf(),
                        source: e,
                    });
                }
                Err(_) => failed.store(true, Ordering::Relaxed),
            }
        }
        // An empty mode list (the config refuses one) means a copy.
        let stat = if verified.get() {
            self.place_copy(&obj, small.as_deref(), dest, file_mode)
                .map_err(StoreError::write(dest))?
        } else {
            self.place_large_copy(digest, &obj, dest, file_mode)?
        };
        Ok((LinkMode::Copy, stat))
    }

    /// Copies a large object to `dest`, hashing it during the copy: the destination appears
    /// only if the content matches the digest.
    fn place_large_copy(
        &self,
        digest: &Digest,
        obj: &Path,
        dest: &Path,
        mode: u32,
    ) -> Result<FileStat, StoreError> {
        let write = |dir: &Path| -> Result<(TempFile, FileStat), StoreError> {
            let src = File::open(obj).map_err(|e| self.missing_or(digest, obj, e))?;
            let len = src.metadata().map_err(StoreError::read(obj))?.len();
            let mut tmp = TempFile::new_in(dir, mode).map_err(StoreError::write(dir))?;
            let (hashed, copied, _) =
                copy_while_hashing(&src, obj, len, &mut tmp, None, false, |_, _| false);
            let (actual, _) = hashed.map_err(StoreError::read(obj))?;
            if actual != *digest {
                return Err(StoreError::Corrupt {
                    digest: *digest,
                    actual,
                    path: obj.to_path_buf(),
                });
            }
            let copied = copied.map_err(StoreError::write(dest))?;
            if copied != len {
                return Err(StoreError::Write {
                    path: dest.to_path_buf(),
                    source: io::Error::other(format!("copied {copied} of {len} bytes")),
                });
            }
            // The inode and mtime survive the rename: no need to stat the destination.
            let stat =
                FileStat::from_metadata(&tmp.file().metadata().map_err(StoreError::write(dest))?);
            Ok((tmp, stat))
        };
        let (tmp, stat) = write(&self.tmp)?;
        match tmp.persist(dest) {
            Ok(()) => Ok(stat),
            Err(e) if is_cross_device(&e) => {
                let (tmp, stat) = write(parent_of(dest))?;
                tmp.persist(dest).map_err(StoreError::write(dest))?;
                Ok(stat)
            }
            Err(e) => Err(StoreError::Write {
                path: dest.to_path_buf(),
                source: e,
            }),
        }
    }

    fn place_copy(
        &self,
        obj: &Path,
        bytes: Option<&[u8]>,
        dest: &Path,
        mode: u32,
    ) -> io::Result<FileStat> {
        let write = |dir: &Path| -> io::Result<(TempFile, FileStat)> {
            let mut tmp = TempFile::new_in(dir, mode)?;
            match bytes {
                Some(bytes) => tmp.file().write_all(bytes)?,
                None => {
                    let mut src = File::open(obj)?;
                    tmp.preallocate(src.metadata()?.len());
                    io::copy(&mut src, tmp.file())?;
                }
            }
            // The inode and mtime survive the rename: no need to stat the destination.
            let stat = FileStat::from_metadata(&tmp.file().metadata()?);
            Ok((tmp, stat))
        };
        let (tmp, stat) = write(&self.tmp)?;
        match tmp.persist(dest) {
            Err(e) if is_cross_device(&e) => {
                let (tmp, stat) = write(parent_of(dest))?;
                tmp.persist(dest)?;
                Ok(stat)
            }
            other => other.map(|()| stat),
        }
    }

    fn place_with(
        &self,
        dest: &Path,
        make: impl Fn(&Path) -> io::Result<()>,
    ) -> io::Result<FileStat> {
        let attempt = |dir: &Path| -> io::Result<FileStat> {
            let tmp = atomic::temp_path(dir);
            make(&tmp)?;
            let stat = fs::symlink_metadata(&tmp).map(|m| FileStat::from_metadata(&m));
            match stat.and_then(|stat| fs::rename(&tmp, dest).map(|()| stat)) {
                Ok(stat) => Ok(stat),
                Err(e) => {
                    let _ = fs::remove_file(&tmp);
                    Err(e)
                }
            }
        };
        match attempt(&self.tmp) {
            Err(e) if is_cross_device(&e) => attempt(parent_of(dest)),
            other => other,
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

/// The path of `to` relative to directory `from` (both absolute and normalised), lexically.
/// Copies `src` (the file at `path`, `len` bytes) into `dest` in the kernel
/// (`copy_file_range`) while hashing it on a memory map with all cores, so each byte is read
/// from the page cache once per consumer and written once. With `also`, a second copy goes
/// there at the same time, on a thread of its own. Returns the hash and the number of bytes
/// copied to each destination. The copies stop early when `stop(digest, size)` says the
/// result is not needed; with `writeback`, the data copied to `dest` starts going to disk
/// during the copy, so a later sync has little left to do.
pub fn copy_while_hashing(
    src: &File,
    path: &Path,
    len: u64,
    dest: &mut TempFile,
    also: Option<&mut TempFile>,
    writeback: bool,
    stop: impl Fn(&Digest, u64) -> bool,
) -> (io::Result<(Digest, u64)>, io::Result<u64>, io::Result<u64>) {
    dest.preallocate(len);
    let mut also = also;
    if let Some(also) = &mut also {
        also.preallocate(len);
    }
    let cancel = &AtomicBool::new(false);
    let flush_handle = if writeback {
        dest.file().try_clone().ok()
    } else {
        None
    };
    std::thread::scope(|scope| {
        let (chunk_done, chunks) = std::sync::mpsc::channel::<()>();
        if let Some(flush_handle) = flush_handle {
            scope.spawn(move || {
                while chunks.recv().is_ok() {
                    // Collapse a backlog into one flush; a failure here only costs speed (the
                    // batch sync reports real errors).
                    while chunks.try_recv().is_ok() {}
                    let _ = flush_handle.sync_data();
                }
            });
        } else {
            drop(chunks);
        }
        // Copies `from` (its own file offset) to `to` in chunks until it ends or is cancelled.
        let copy = move |from: &File, to: &mut File, done: &dyn Fn()| -> io::Result<u64> {
            let mut total = 0;
            while !cancel.load(Ordering::Relaxed) {
                let n = io::copy(&mut from.take(COPY_CHUNK), to)?;
                if n == 0 {
                    break;
                }
                total += n;
                done();
            }
            Ok(total)
        };
        let copier = scope.spawn(move || {
            copy(src, dest.file(), &|| {
                let _ = chunk_done.send(());
            })
        });
        let second = also.map(|also| {
            scope.spawn(move || {
                let from = File::open(path)?;
                copy(&from, also.file(), &|| ())
            })
        });
        let hashed = hash_file(path, len);
        if let Ok((digest, size)) = &hashed
            && stop(digest, *size)
        {
            cancel.store(true, Ordering::Relaxed);
        }
        let joined = |handle: std::thread::ScopedJoinHandle<'_, io::Result<u64>>| {
            handle
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("copy thread panicked")))
        };
        let copied = joined(copier);
        let also = second.map_or(Ok(0), joined);
        (hashed, copied, also)
    })
}

fn relative_path(from: &Path, to: &Path) -> PathBuf {
    let from: Vec<_> = from.components().collect();
    let to_parts: Vec<_> = to.components().collect();
    let common = from
        .iter()
        .zip(&to_parts)
        .take_while(|(a, b)| a == b)
        .count();
    if common == 0 {
        return to.to_path_buf();
    }
    let mut out = PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for part in &to_parts[common..] {
        out.push(part.as_os_str());
    }
    out
}

/// The object a symbolic link at `link` points to, if it points into `objects`.
pub fn link_target_digest(objects: &Path, link: &Path) -> Option<Digest> {
    let target = fs::read_link(link).ok()?;
    let target = if target.is_absolute() {
        target
    } else {
        parent_of(link).join(target)
    };
    let mut normal = PathBuf::new();
    for c in target.components() {
        match c {
            std::path::Component::ParentDir => {
                normal.pop();
            }
            std::path::Component::CurDir => {}
            other => normal.push(other.as_os_str()),
        }
    }
    let rest = normal.strip_prefix(objects).ok()?;
    let mut parts = rest.components();
    let (Some(shard), Some(name), None) = (parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    format!(
        "{}{}",
        shard.as_os_str().to_str()?,
        name.as_os_str().to_str()?
    )
    .parse()
    .ok()
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
#[allow(clippy::disallowed_methods)] // fixtures are written directly
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join(".cairn")).unwrap();
        (dir, store)
    }

    #[test]
    fn put_is_content_addressed_and_idempotent() {
        let (_dir, store) = store();
        let a = store.put_bytes(b"hello").unwrap();
        assert!(a.stored);
        assert_eq!(a.digest, Digest::of(b"hello"));
        let b = store.put_bytes(b"hello").unwrap();
        assert!(!b.stored);
        let path = store.object_path(&a.digest);
        assert!(fs::metadata(&path).unwrap().permissions().readonly());
        assert_eq!(store.read(&a.digest).unwrap(), b"hello");
        let shard = path.parent().unwrap().to_path_buf();
        assert_eq!(fs::read_dir(&shard).unwrap().count(), 1, "only the object");
        let tmp = store.tmp_dir().to_path_buf();
        drop(store);
        assert_eq!(
            fs::read_dir(&tmp).unwrap().count(),
            0,
            "no temp file left behind"
        );
    }

    #[test]
    fn temp_files_of_a_killed_writer_are_swept_from_the_shards() {
        let (_dir, store) = store();
        let put = store.put_bytes(b"kept").unwrap();
        let shard = store
            .object_path(&put.digest)
            .parent()
            .unwrap()
            .to_path_buf();
        // What a process killed during a write leaves: its marker and a partial object.
        fs::write(store.tmp_dir().join("999999-0.tmp"), b"").unwrap();
        fs::write(shard.join("999999-1.tmp"), b"partial").unwrap();
        let (objects, strays) = store.list().unwrap();
        assert_eq!((objects.len(), strays.len()), (1, 0));
        assert_eq!(store.clean_tmp().unwrap(), 2);
        assert_eq!(fs::read_dir(&shard).unwrap().count(), 1);
        assert_eq!(store.read(&put.digest).unwrap(), b"kept");
    }

    #[test]
    fn large_corrupt_objects_are_never_materialised_in_any_mode() {
        let (dir, store) = store();
        let src = dir.path().join("big");
        let mut bytes: Vec<u8> = (0..(LARGE_FILE as usize + 4096))
            .map(|i| (i * 7) as u8)
            .collect();
        fs::write(&src, &bytes).unwrap();
        let put = store.put_file(&src, bytes.len() as u64).unwrap();
        // Same size, one byte changed: only hashing can tell.
        let path = store.object_path(&put.digest);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        bytes[12345] ^= 1;
        atomic::write_atomic_beside(&path, &bytes, 0o444).unwrap();
        // A new handle, as a later process would open it (this one remembers what it wrote).
        let store = Store::open(store.dir()).unwrap();
        for modes in [
            &[LinkMode::Copy][..],
            &[LinkMode::Reflink, LinkMode::Copy],
            &[LinkMode::Hardlink],
            &[LinkMode::Symlink],
        ] {
            let dest = dir.path().join("out");
            let err = store
                .materialize(&put.digest, &dest, modes, false)
                .unwrap_err();
            assert!(
                matches!(err, StoreError::Corrupt { .. }),
                "{modes:?}: {err}"
            );
            assert!(!dest.exists(), "{modes:?}");
        }
        // The intact object of a new store is copied, and verified on the way.
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        bytes[12345] ^= 1;
        atomic::write_atomic_beside(&path, &bytes, 0o444).unwrap();
        let dest = dir.path().join("ok");
        store
            .materialize(&put.digest, &dest, &[LinkMode::Copy], false)
            .unwrap();
        assert_eq!(fs::read(&dest).unwrap(), bytes);
    }

    #[test]
    fn large_files_hash_and_copy_in_parallel() {
        let (dir, store) = store();
        let src = dir.path().join("big");
        let content: Vec<u8> = (0..(LARGE_FILE as usize + 12345))
            .map(|i| (i * 31 % 251) as u8)
            .collect();
        atomic::write_atomic_beside(&src, &content, 0o644).unwrap();
        let put = store.put_file(&src, content.len() as u64).unwrap();
        assert!(put.stored);
        assert_eq!(put.digest, Digest::of(&content));
        assert_eq!(fs::read(store.object_path(&put.digest)).unwrap(), content);
        let again = store.put_file(&src, content.len() as u64).unwrap();
        assert!(!again.stored);
        assert_eq!(fs::read_dir(store.tmp_dir()).unwrap().count(), 0);
    }

    #[test]
    fn a_download_writes_the_workspace_copy_that_the_checkout_moves_into_place() {
        use std::os::unix::fs::MetadataExt;
        let (dir, store) = store();
        let src = dir.path().join("remote-object");
        let content: Vec<u8> = (0..(LARGE_FILE as usize + 999))
            .map(|i| (i * 17 % 253) as u8)
            .collect();
        atomic::write_atomic_beside(&src, &content, 0o644).unwrap();
        let digest = Digest::of(&content);
        let temporaries = || -> Vec<PathBuf> {
            fs::read_dir(store.tmp_dir())
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect()
        };
        assert!(store.copies_needed(&[LinkMode::Copy]));
        assert!(!store.copies_needed(&[LinkMode::Hardlink, LinkMode::Copy]));

        // Content that does not match: neither the object nor the copy stays.
        store.want_copies(
            [(Digest::of(b"something else"), content.len() as u64)],
            &[LinkMode::Copy],
        );
        let err = store
            .put_file_expecting(&src, &Digest::of(b"something else"))
            .unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
        assert_eq!(temporaries(), Vec::<PathBuf>::new());

        store.want_copies([(digest, content.len() as u64)], &[LinkMode::Copy]);
        assert!(store.put_file_expecting(&src, &digest).unwrap().stored);
        // The copy waits in tmp/, and a clean-up by this process leaves it.
        store.clean_tmp().unwrap();
        let waiting = temporaries();
        assert_eq!(waiting.len(), 1, "{waiting:?}");
        let inode = fs::metadata(&waiting[0]).unwrap().ino();

        let dest = dir.path().join("out.bin");
        let (mode, stat) = store
            .materialize(&digest, &dest, &[LinkMode::Copy], false)
            .unwrap();
        assert_eq!(mode, LinkMode::Copy);
        let meta = fs::metadata(&dest).unwrap();
        assert_eq!(
            meta.ino(),
            inode,
            "the prepared copy is moved, not copied again"
        );
        assert_eq!(stat, FileStat::from_metadata(&meta));
        assert_eq!(meta.permissions().mode() & 0o777, 0o644);
        assert_eq!(fs::read(&dest).unwrap(), content);
        assert_eq!(temporaries(), Vec::<PathBuf>::new());

        // A second file with the same content is copied from the object.
        let second = dir.path().join("again.bin");
        store
            .materialize(&digest, &second, &[LinkMode::Copy], true)
            .unwrap();
        let meta = fs::metadata(&second).unwrap();
        assert_ne!(meta.ino(), inode);
        assert_eq!(meta.permissions().mode() & 0o777, 0o755);
        assert_eq!(fs::read(&second).unwrap(), content);
    }

    /// A read-only file of a directory remote enters the store as a second name of the same
    /// file, once verified; the workspace still gets a file of its own, and no link mode ever
    /// links the workspace to it.
    #[test]
    fn a_read_only_remote_file_is_shared_not_copied() {
        use std::os::unix::fs::MetadataExt;
        let (dir, store) = store();
        let temporaries = || -> Vec<PathBuf> {
            fs::read_dir(store.tmp_dir())
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect()
        };
        let content: Vec<u8> = (0..LARGE_FILE + 4321).map(|i| (i % 251) as u8).collect();
        let digest = Digest::of(&content);
        let remote = dir.path().join("remote-object");
        fs::write(&remote, &content).unwrap();
        fs::set_permissions(&remote, fs::Permissions::from_mode(0o444)).unwrap();

        // Not allowed until the link modes are known, nor when they link workspace files.
        assert!(
            store
                .link_file_expecting(&remote, &digest)
                .unwrap()
                .is_none()
        );
        store.share_objects(&[LinkMode::Hardlink, LinkMode::Copy]);
        assert!(
            store
                .link_file_expecting(&remote, &digest)
                .unwrap()
                .is_none()
        );
        store.share_objects(&[LinkMode::Reflink, LinkMode::Copy]);

        // Content that does not match its name: nothing stays, the remote's file is untouched.
        let err = store
            .link_file_expecting(&remote, &Digest::of(b"something else"))
            .unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
        assert_eq!(temporaries(), Vec::<PathBuf>::new());
        assert_eq!(fs::metadata(&remote).unwrap().nlink(), 1);

        // A file someone may write is not shared.
        let writable = dir.path().join("writable");
        fs::write(&writable, &content).unwrap();
        assert!(
            store
                .link_file_expecting(&writable, &digest)
                .unwrap()
                .is_none()
        );
        assert_eq!(temporaries(), Vec::<PathBuf>::new());
        assert!(!store.contains(&digest));
        let marker = store.dir().join(SHARED_MARKER);
        assert!(!marker.exists(), "nothing was shared yet");

        store.want_copies([(digest, content.len() as u64)], &[LinkMode::Copy]);
        let put = store
            .link_file_expecting(&remote, &digest)
            .unwrap()
            .unwrap();
        assert!(put.stored);
        assert!(marker.exists());
        let remote_inode = fs::metadata(&remote).unwrap().ino();
        let object = fs::metadata(store.object_path(&digest)).unwrap();
        assert_eq!(
            object.ino(),
            remote_inode,
            "the object is the remote's file"
        );
        assert_eq!(object.nlink(), 2);
        // The workspace copy was written during the verification, and is moved into place.
        let waiting = temporaries();
        assert_eq!(waiting.len(), 1, "{waiting:?}");
        let copy_inode = fs::metadata(&waiting[0]).unwrap().ino();
        let dest = dir.path().join("out.bin");
        store
            .materialize(&digest, &dest, &[LinkMode::Copy], false)
            .unwrap();
        assert_eq!(fs::metadata(&dest).unwrap().ino(), copy_inode);
        assert_eq!(fs::read(&dest).unwrap(), content);

        // A shared object is never linked into the workspace: an edit there would reach the
        // remote. Hard link and symbolic link modes copy it instead.
        for (i, mode) in [LinkMode::Hardlink, LinkMode::Symlink]
            .into_iter()
            .enumerate()
        {
            let dest = dir.path().join(format!("linked-{i}.bin"));
            let (used, _) = store.materialize(&digest, &dest, &[mode], false).unwrap();
            assert_eq!(used, LinkMode::Copy, "{mode:?}");
            let meta = fs::symlink_metadata(&dest).unwrap();
            assert!(meta.file_type().is_file());
            assert_ne!(meta.ino(), remote_inode);
            assert!(!meta.permissions().readonly());
            assert_eq!(fs::read(&dest).unwrap(), content);
        }
        assert_eq!(fs::metadata(&remote).unwrap().nlink(), 2);

        // A pull killed between the link and the rename leaves a name in tmp/: the next
        // clean-up removes that name only.
        std::mem::forget(TempFile::link_in(store.tmp_dir(), &remote).unwrap());
        assert_eq!(fs::metadata(&remote).unwrap().nlink(), 3);
        assert_eq!(store.clean_tmp().unwrap(), 1);
        assert_eq!(fs::metadata(&remote).unwrap().nlink(), 2);
        assert_eq!(fs::read(&remote).unwrap(), content);
        store.verify(&digest).unwrap();
    }

    /// In a store that never shared an object with a remote, hard links of one large object
    /// at several workspace paths are fine: every name is the same read-only data.
    #[test]
    fn hardlink_mode_links_a_large_object_at_several_paths() {
        use std::os::unix::fs::MetadataExt;
        let (dir, store) = store();
        let content: Vec<u8> = (0..LARGE_FILE + 99).map(|i| (i % 241) as u8).collect();
        let put = store.put_bytes(&content).unwrap();
        for name in ["one.bin", "two.bin"] {
            let dest = dir.path().join(name);
            let (used, _) = store
                .materialize(&put.digest, &dest, &[LinkMode::Hardlink], false)
                .unwrap();
            assert_eq!(used, LinkMode::Hardlink, "{name}");
        }
        assert_eq!(
            fs::metadata(store.object_path(&put.digest))
                .unwrap()
                .nlink(),
            3
        );
    }

    #[test]
    fn corrupt_objects_are_detected_and_never_materialised() {
        let (dir, store) = store();
        let put = store.put_bytes(b"precious").unwrap();
        let path = store.object_path(&put.digest);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        atomic::write_atomic_beside(&path, b"garbage!", 0o444).unwrap();
        assert!(matches!(
            store.verify(&put.digest),
            Err(StoreError::Corrupt { .. })
        ));
        let dest = dir.path().join("out");
        let err = store
            .materialize(&put.digest, &dest, &[LinkMode::Copy], false)
            .unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }));
        assert!(!dest.exists());
    }

    #[test]
    fn materialize_modes() {
        let (dir, store) = store();
        let put = store.put_bytes(b"content").unwrap();
        for mode in LinkMode::ALL {
            let dest = dir.path().join(format!("out-{}", mode.as_str()));
            let (used, _) = store
                .materialize(&put.digest, &dest, &[mode, LinkMode::Copy], true)
                .unwrap();
            assert_eq!(fs::read(&dest).unwrap(), b"content");
            if used == LinkMode::Copy {
                let perm = fs::metadata(&dest).unwrap().permissions();
                assert!(!perm.readonly());
                assert_eq!(perm.mode() & 0o111, 0o111, "executable bit restored");
            }
            if matches!(used, LinkMode::Hardlink | LinkMode::Symlink) {
                assert!(fs::metadata(&dest).unwrap().permissions().readonly());
            }
            if used == LinkMode::Symlink {
                assert!(fs::read_link(&dest).unwrap().is_relative());
                assert_eq!(
                    link_target_digest(store.objects_dir(), &dest),
                    Some(put.digest)
                );
            }
        }
        let missing = Digest::of(b"nope");
        let err = store
            .materialize(&missing, &dir.path().join("x"), &[LinkMode::Copy], false)
            .unwrap_err();
        assert!(matches!(err, StoreError::Missing { .. }));
    }

    #[test]
    fn list_finds_objects_and_strays() {
        let (_dir, store) = store();
        let a = store.put_bytes(b"a").unwrap();
        atomic::write_atomic_beside(&store.objects_dir().join("junk"), b"x", 0o644).unwrap();
        let (objects, strays) = store.list().unwrap();
        assert_eq!(objects.len(), 1);
        assert_eq!(objects[0].digest, a.digest);
        assert_eq!(strays.len(), 1);
    }

    #[test]
    fn a_short_object_is_repaired_by_storing_it_again() {
        let (_dir, store) = store();
        let put = store.put_bytes(b"complete content").unwrap();
        let path = store.object_path(&put.digest);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        atomic::write_atomic_beside(&path, b"", 0o444).unwrap();
        assert!(!store.has(&put.digest, put.size));
        assert!(store.put_bytes(b"complete content").unwrap().stored);
        assert_eq!(store.read(&put.digest).unwrap(), b"complete content");
    }

    #[test]
    fn relative_paths() {
        assert_eq!(
            relative_path(
                Path::new("/p/data/sub"),
                Path::new("/p/.cairn/objects/ab/cd")
            ),
            Path::new("../../.cairn/objects/ab/cd")
        );
        assert_eq!(
            relative_path(Path::new("/p"), Path::new("/p/.cairn/x")),
            Path::new(".cairn/x")
        );
    }

    #[test]
    fn refuses_newer_store_version() {
        let dir = tempfile::tempdir().unwrap();
        let cairn = dir.path().join(".cairn");
        Store::open(&cairn).unwrap();
        atomic::write_atomic_beside(&cairn.join("version"), b"7\n", 0o644).unwrap();
        assert!(matches!(
            Store::open(&cairn),
            Err(StoreError::UnsupportedVersion { found: 7, .. })
        ));
        atomic::write_atomic_beside(&cairn.join("version"), b"garbage\n", 0o644).unwrap();
        assert!(matches!(
            Store::open(&cairn),
            Err(StoreError::InvalidVersionFile { .. })
        ));
    }
}
