//! Sharing with a download: workspace copies written while an object is downloaded (so that
//! the checkout that follows moves them into place), and read-only object files of a
//! directory remote stored as a second name of the same file.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::Ordering;

use super::{LinkMode, Put, SHARED_MARKER, Store, copy_while_hashing, same_file_state};
use crate::atomic::{self, TempFile};
use crate::hash::{LARGE_FILE, hash_file};
use crate::{Digest, FileStat, StoreError};

/// Copies of large objects that a download writes at the same time as the object itself, so
/// that a pull's checkout (in copy mode) renames one into the workspace instead of copying
/// the object again: the two writes then run in parallel instead of one after the other.
#[derive(Debug, Default)]
pub(super) struct Copies {
    /// Objects that a checkout in this process will copy out.
    pub(super) wanted: std::collections::HashSet<Digest>,
    /// Verified copies, waiting for the checkout.
    pub(super) ready: std::collections::HashMap<Digest, TempFile>,
}

impl Store {
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

    pub(super) fn reflink_works(&self) -> bool {
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

    pub(super) fn lock_copies(&self) -> std::sync::MutexGuard<'_, Copies> {
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
    pub(super) fn place_prepared(
        &self,
        digest: &Digest,
        dest: &Path,
        mode: u32,
    ) -> Option<FileStat> {
        let mut copy = self.lock_copies().ready.remove(digest)?;
        let file = copy.file();
        file.set_permissions(fs::Permissions::from_mode(mode))
            .ok()?;
        // The inode and mtime survive the rename: no need to stat the destination.
        let stat = FileStat::from_metadata(&file.metadata().ok()?);
        copy.persist(dest).ok()?;
        Some(stat)
    }
}
