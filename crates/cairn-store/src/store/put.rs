//! Storing content: bytes, files (large ones copied while they are hashed), and what a
//! writer writes into a temporary file of the store.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

use super::{OBJECT_MODE, Put, Store, copy_while_hashing, parent_of, same_file_state};
use crate::atomic::TempFile;
use crate::hash::LARGE_FILE;
use crate::{Digest, StoreError};

impl Store {
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
}
