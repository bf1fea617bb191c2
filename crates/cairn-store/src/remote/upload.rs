//! Uploads: each object verified while it is read, large ones in parts (or, to a directory,
//! copied in the kernel), and made visible only once complete.

use std::path::Path;

use futures::StreamExt;
use object_store::{ObjectStoreExt, PutPayload};

use super::{
    Done, ObjectError, REMOTE_VERSION, Remote, RemoteError, Transfer, collect, in_runtime,
    local_error,
};
use crate::atomic::TempFile;
use crate::hash::LARGE_FILE;
use crate::{Digest, Progress, Store};

/// Objects at least this large are uploaded in parts.
const MULTIPART_THRESHOLD: u64 = 32 << 20;
const PART_SIZE: usize = 16 << 20;
/// Parts of one object in flight at once.
const PART_CONCURRENCY: usize = 4;

impl Remote {
    /// Uploads objects from the local store (each verified while it is read), `jobs` at a
    /// time.
    pub fn upload(
        &mut self,
        store: &Store,
        objects: &[(Digest, u64)],
        jobs: usize,
        progress: &dyn Progress,
    ) -> Result<Transfer, RemoteError> {
        self.ensure_writable()?;
        let version_key = self.key(&["version"]);
        self.runtime
            .block_on(self.store.put(
                &version_key,
                PutPayload::from(format!("{REMOTE_VERSION}\n").into_bytes()),
            ))
            .map_err(|e| self.classify(e))?;
        let this = &*self;
        let total: u64 = objects.iter().map(|o| o.1).sum();
        progress.start("pushing", objects.len() as u64, total);
        let results = this.run_all(objects, jobs, |&(digest, size)| async move {
            let r = this.upload_one(store, &digest, size).await;
            if r.is_ok() {
                progress.advance(1, size);
            }
            (digest, size, r.map(|()| Done::Copied))
        });
        progress.finish();
        collect(results)
    }

    async fn upload_one(
        &self,
        store: &Store,
        digest: &Digest,
        size: u64,
    ) -> Result<(), ObjectError> {
        let key = self.object_key(digest);
        let path = store.object_path(digest);
        let remote_err = |e: object_store::Error| ObjectError::Remote(self.classify(e));
        if let Some(dir) = &self.dir
            && size >= LARGE_FILE
        {
            return self.copy_to_dir(dir, store, digest);
        }
        if size < MULTIPART_THRESHOLD {
            let bytes = read_file(&path).await.map_err(|e| local_error(digest, e))?;
            let actual = Digest::of(&bytes);
            if actual != *digest {
                return Err(ObjectError::Corrupt(format!(
                    "the local copy is damaged: it hashes to {actual}"
                )));
            }
            self.store
                .put(&key, PutPayload::from(bytes))
                .await
                .map_err(remote_err)?;
            return Ok(());
        }
        // The parts are slices of a memory map of the object: sent from the page cache, with
        // no copy into buffers of our own. The object is hashed with all cores while the parts
        // go out, and the upload is completed only if it matches its name.
        let data = map_object(&path).map_err(|e| local_error(digest, e))?;
        let verify = {
            let data = data.clone();
            std::thread::spawn(move || {
                let mut hasher = blake3::Hasher::new();
                hasher.update_rayon(&data);
                Digest::from(hasher.finalize())
            })
        };
        let mut upload = self.store.put_multipart(&key).await.map_err(remote_err)?;
        let sent = self.send_parts(upload.as_mut(), &data).await;
        let verified = match verify.join() {
            Ok(actual) if actual == *digest => Ok(()),
            Ok(actual) => Err(ObjectError::Corrupt(format!(
                "the local copy is damaged: it hashes to {actual}"
            ))),
            Err(_) => Err(local_error(
                digest,
                std::io::Error::other("the hashing thread panicked"),
            )),
        };
        match sent.and(verified) {
            Ok(()) => {
                upload.complete().await.map_err(remote_err)?;
                Ok(())
            }
            Err(e) => {
                // Nothing becomes visible: the parts sent so far are discarded.
                let _ = upload.abort().await;
                Err(e)
            }
        }
    }

    /// Uploads a large object to a local-directory remote: copied in the kernel into
    /// `<dir>/tmp/` while it is hashed with all cores, then renamed into place.
    fn copy_to_dir(&self, dir: &Path, store: &Store, digest: &Digest) -> Result<(), ObjectError> {
        let src_path = store.object_path(digest);
        let src = std::fs::File::open(&src_path).map_err(|e| local_error(digest, e))?;
        let len = src.metadata().map_err(|e| local_error(digest, e))?.len();
        let failed = |what: &Path, e: std::io::Error| {
            ObjectError::Remote(RemoteError::Failed {
                url: self.url.clone(),
                message: format!("cannot write {}: {e}", what.display()),
            })
        };
        let tmp_dir = dir.join("tmp");
        std::fs::create_dir_all(&tmp_dir).map_err(|e| failed(&tmp_dir, e))?;
        // Read-only, as in the store: a pull on the same file system may share the file.
        let mut tmp = TempFile::new_in(&tmp_dir, 0o444).map_err(|e| failed(&tmp_dir, e))?;
        let (hashed, copied, _) = crate::store::copy_while_hashing(
            &src,
            &src_path,
            len,
            &mut tmp,
            None,
            false,
            |_, _| false,
        );
        let (actual, size) = hashed.map_err(|e| local_error(digest, e))?;
        if actual != *digest {
            return Err(ObjectError::Corrupt(format!(
                "the local copy is damaged: it hashes to {actual}"
            )));
        }
        let copied = copied.map_err(|e| failed(tmp.path(), e))?;
        if copied != size {
            return Err(ObjectError::Corrupt(format!(
                "the local copy changed while it was copied ({copied} of {size} bytes)"
            )));
        }
        let hex = digest.to_hex();
        let dest = dir.join("objects").join(&hex[..2]).join(&hex[2..]);
        tmp.persist_creating_parent(&dest)
            .map_err(|e| failed(&dest, e))
    }

    /// Sends a large object in parts (up to [`PART_CONCURRENCY`] in flight).
    async fn send_parts(
        &self,
        upload: &mut dyn object_store::MultipartUpload,
        data: &bytes::Bytes,
    ) -> Result<(), ObjectError> {
        use futures::stream::FuturesUnordered;
        let remote_err = |e: object_store::Error| ObjectError::Remote(self.classify(e));
        let mut in_flight = FuturesUnordered::new();
        for start in (0..data.len()).step_by(PART_SIZE) {
            let part = data.slice(start..data.len().min(start + PART_SIZE));
            in_flight.push(upload.put_part(PutPayload::from(part)));
            while in_flight.len() >= PART_CONCURRENCY {
                if let Some(r) = in_flight.next().await {
                    r.map_err(remote_err)?;
                }
            }
        }
        while let Some(r) = in_flight.next().await {
            r.map_err(remote_err)?;
        }
        Ok(())
    }
}

async fn read_file(path: &Path) -> std::io::Result<Vec<u8>> {
    if in_runtime() {
        tokio::fs::read(path).await
    } else {
        std::fs::read(path)
    }
}

/// A memory map of a stored object, as shareable bytes.
fn map_object(path: &Path) -> std::io::Result<bytes::Bytes> {
    let file = std::fs::File::open(path)?;
    // SAFETY: objects are read-only files that cairn writes once under a temporary name and
    // renames into place; nothing writes to one in place. A file damaged behind cairn's back
    // is caught by the hash taken over the same map before the upload is completed.
    #[allow(unsafe_code)]
    let map = unsafe { memmap2::Mmap::map(&file) }?;
    Ok(bytes::Bytes::from_owner(map))
}
