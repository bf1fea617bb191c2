//! Making a workspace file from an object, with the first link mode that works here, the
//! object verified before anything appears at the destination.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use super::{LinkMode, SHARED_MARKER, Store, copy_while_hashing, is_cross_device, parent_of};
use crate::atomic::{self, TempFile};
use crate::hash::LARGE_FILE;
use crate::{Digest, FileStat, StoreError};

impl Store {
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
}

/// The path of `to` relative to directory `from` (both absolute and normalised), lexically.
pub(super) fn relative_path(from: &Path, to: &Path) -> PathBuf {
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
