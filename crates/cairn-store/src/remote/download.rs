//! Downloads: every object hashed before it enters the local store; large ones in ranges
//! (object stores) or shared with a directory remote's own file.

use std::io::Write;
use std::sync::Arc;

use futures::StreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};

use super::{Done, ObjectError, Remote, RemoteError, Transfer, collect, in_runtime, store_write};
use crate::hash::LARGE_FILE;
use crate::{Digest, Progress, Store};

/// Objects at least this large are downloaded in ranges of [`RANGE_SIZE`], up to
/// [`RANGE_CONCURRENCY`] at once: one stream keeps one core busy receiving, several spread the
/// work over all of them.
const RANGED: u64 = 2 * RANGE_SIZE;
const RANGE_SIZE: u64 = 16 << 20;
const RANGE_CONCURRENCY: usize = 4;

impl Remote {
    /// Downloads objects into the local store, `jobs` at a time. Each one is hashed before it
    /// is stored: an object whose content does not match its name is reported and dropped.
    pub fn download(
        &self,
        store: &Store,
        objects: &[(Digest, u64)],
        jobs: usize,
        progress: &dyn Progress,
    ) -> Result<Transfer, RemoteError> {
        self.require_exists()?;
        let total: u64 = objects.iter().map(|o| o.1).sum();
        progress.start("fetching", objects.len() as u64, total);
        let results = self.run_all(objects, jobs, |&(digest, size)| async move {
            let r = self.download_one(store, &digest, size).await;
            if r.is_ok() {
                progress.advance(1, size);
            }
            (digest, size, r)
        });
        progress.finish();
        collect(results)
    }

    async fn download_one(
        &self,
        store: &Store,
        digest: &Digest,
        size: u64,
    ) -> Result<Done, ObjectError> {
        if let Some(dir) = &self.dir {
            // A large object in a local directory is hashed with all cores and enters the
            // store only if it matches its name: shared with the remote (a hard link) when
            // it can be, or else copied in the kernel while it is hashed.
            let hex = digest.to_hex();
            let path = dir.join("objects").join(&hex[..2]).join(&hex[2..]);
            match std::fs::metadata(&path) {
                Ok(meta) if meta.len() >= LARGE_FILE => {
                    let stored = match store.link_file_expecting(&path, digest)? {
                        Some(_) => Done::Shared,
                        None => {
                            store.put_file_expecting(&path, digest)?;
                            Done::Copied
                        }
                    };
                    return Ok(stored);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(ObjectError::Missing);
                }
                _ => {}
            }
        }
        // Object stores serve byte ranges; a plain web server (an http remote) may not, and
        // answers a range request with the whole object, which object_store refuses.
        if size >= RANGED && in_runtime() && self.writable {
            return self
                .download_ranges(store, digest, size)
                .await
                .map(|()| Done::Copied);
        }
        let key = self.object_key(digest);
        let result = match self.store.get(&key).await {
            Ok(r) => r,
            Err(object_store::Error::NotFound { .. }) => return Err(ObjectError::Missing),
            Err(e) => return Err(ObjectError::Remote(self.classify(e))),
        };
        let remote_err = |e: object_store::Error| ObjectError::Remote(self.classify(e));
        if result.meta.size < LARGE_FILE {
            let bytes = result.bytes().await.map_err(remote_err)?;
            let actual = Digest::of(&bytes);
            if actual != *digest {
                return Err(ObjectError::Corrupt(format!(
                    "its content hashes to {actual}"
                )));
            }
            store.put_bytes(&bytes)?;
            return Ok(Done::Copied);
        }
        let mut tmp = store.temp_object()?;
        let tmp_path = tmp.path().to_path_buf();
        tmp.preallocate(result.meta.size);
        // The object streams into the temporary file; the hash, and the workspace copy a
        // checkout wants (see `Store::want_copies`), are made from the same chunks on threads
        // of their own.
        let hasher = Tee::spawn(blake3::Hasher::new(), |hasher, chunk| {
            hasher.update(chunk);
            Ok(())
        });
        let copy = store.copy_target(digest)?.map(|mut copy| {
            copy.preallocate(result.meta.size);
            Tee::spawn(copy, |copy, chunk| copy.file().write_all(chunk))
        });
        let mut stream = result.into_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(remote_err)?;
            hasher.send(chunk.clone()).await;
            if let Some(copy) = &copy {
                copy.send(chunk.clone()).await;
            }
            tmp.file()
                .write_all(&chunk)
                .map_err(|e| store_write(&tmp_path, e))?;
        }
        let actual: Digest = hasher
            .finish()
            .map_err(|e| store_write(&tmp_path, e))?
            .finalize()
            .into();
        if actual != *digest {
            return Err(ObjectError::Corrupt(format!(
                "its content hashes to {actual}"
            )));
        }
        store.commit_object(tmp, digest)?;
        // A copy that could not be written is not offered: the checkout copies instead.
        if let Some(Ok(copy)) = copy.map(Tee::finish) {
            store.offer_copy(digest, copy);
        }
        Ok(Done::Copied)
    }

    /// Downloads a large object in ranges, several at once, each written at its offset into
    /// the temporary file (and into the workspace copy a checkout wants, see
    /// `Store::want_copies`) and hashed as it arrives; the ranges' hashes are joined into the
    /// object's, and the object is stored only if that matches its name.
    async fn download_ranges(
        &self,
        store: &Store,
        digest: &Digest,
        size: u64,
    ) -> Result<(), ObjectError> {
        let key = self.object_key(digest);
        let remote_err = |e: object_store::Error| ObjectError::Remote(self.classify(e));
        let meta = match self.store.head(&key).await {
            Ok(meta) => meta,
            Err(object_store::Error::NotFound { .. }) => return Err(ObjectError::Missing),
            Err(e) => return Err(remote_err(e)),
        };
        if meta.size != size {
            return Err(ObjectError::Corrupt(format!(
                "the remote copy has {} bytes instead of {size}",
                meta.size
            )));
        }
        let mut tmp = store.temp_object()?;
        let mut copy = store.copy_target(digest)?;
        // Writes go to the object's temporary file and to the workspace copy, both in the
        // store's `tmp/`.
        let local = |e: std::io::Error| store_write(store.tmp_dir(), e);
        tmp.preallocate(size);
        let mut files = vec![tmp.file().try_clone().map_err(local)?];
        if let Some(copy) = &mut copy {
            copy.preallocate(size);
            files.push(copy.file().try_clone().map_err(local)?);
        }
        let files: Arc<[std::fs::File]> = files.into();
        let mut ranges = (0..size)
            .step_by(RANGE_SIZE as usize)
            .map(|start| start..size.min(start + RANGE_SIZE))
            .enumerate();
        let mut cvs = vec![[0u8; 32]; size.div_ceil(RANGE_SIZE) as usize];
        // A task each, so that the ranges are received on all of the runtime's threads; the
        // set aborts those still running if one fails.
        let mut running = tokio::task::JoinSet::new();
        loop {
            while running.len() < RANGE_CONCURRENCY
                && let Some((i, range)) = ranges.next()
            {
                let (remote, key, files) = (Arc::clone(&self.store), key.clone(), files.clone());
                running.spawn(async move { (i, fetch_range(remote, key, range, files).await) });
            }
            let Some(joined) = running.join_next().await else {
                break;
            };
            match joined {
                Ok((i, Ok(cv))) => cvs[i] = cv,
                Ok((_, Err(RangeError::Remote(e)))) => return Err(remote_err(e)),
                Ok((_, Err(RangeError::Local(e)))) => return Err(local(e)),
                Ok((_, Err(RangeError::Length))) => {
                    return Err(ObjectError::Corrupt(
                        "the remote sent a range of the wrong length".to_string(),
                    ));
                }
                Err(e) => {
                    return Err(ObjectError::Remote(RemoteError::Failed {
                        url: self.url.clone(),
                        message: format!("a download task failed: {e}"),
                    }));
                }
            }
        }
        let actual = crate::hash::combine_pieces(&cvs, RANGE_SIZE, size);
        if actual != *digest {
            return Err(ObjectError::Corrupt(format!(
                "its content hashes to {actual}"
            )));
        }
        store.commit_object(tmp, digest)?;
        if let Some(copy) = copy {
            store.offer_copy(digest, copy);
        }
        Ok(())
    }
}

/// A consumer of a download's chunks on a thread of its own (the hash, a second copy), so that
/// it runs beside the write of the object instead of after it.
struct Tee<T> {
    chunks: tokio::sync::mpsc::Sender<bytes::Bytes>,
    thread: std::thread::JoinHandle<std::io::Result<T>>,
}

impl<T: Send + 'static> Tee<T> {
    fn spawn(
        mut state: T,
        mut consume: impl FnMut(&mut T, &[u8]) -> std::io::Result<()> + Send + 'static,
    ) -> Self {
        let (chunks, mut receiver) = tokio::sync::mpsc::channel::<bytes::Bytes>(64);
        let thread = std::thread::spawn(move || {
            while let Some(chunk) = receiver.blocking_recv() {
                consume(&mut state, &chunk)?;
            }
            Ok(state)
        });
        Self { chunks, thread }
    }

    /// Hands a chunk over (waiting while the thread is 64 chunks behind). After a failure of
    /// the consumer, chunks are dropped: [`Tee::finish`] reports it.
    async fn send(&self, chunk: bytes::Bytes) {
        let _ = self.chunks.send(chunk).await;
    }

    /// Waits for the thread to consume everything sent, and returns its state.
    fn finish(self) -> std::io::Result<T> {
        drop(self.chunks);
        self.thread
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("a download thread panicked")))
    }
}

enum RangeError {
    Remote(object_store::Error),
    Local(std::io::Error),
    /// The server sent more or fewer bytes than the range holds.
    Length,
}

/// Fetches one range of an object and writes it at its offset into each of `files`; returns
/// the range's chaining value as a piece of the object's BLAKE3 tree (see
/// [`crate::hash::combine_pieces`]), hashed as the bytes arrive.
async fn fetch_range(
    remote: Arc<dyn ObjectStore>,
    key: ObjectPath,
    range: std::ops::Range<u64>,
    files: Arc<[std::fs::File]>,
) -> Result<blake3::hazmat::ChainingValue, RangeError> {
    use blake3::hazmat::HasherExt;
    use std::os::unix::fs::FileExt;
    let mut hasher = crate::hash::piece_hasher(range.start);
    let options = object_store::GetOptions {
        range: Some(object_store::GetRange::Bounded(range.clone())),
        ..Default::default()
    };
    let result = remote
        .get_opts(&key, options)
        .await
        .map_err(RangeError::Remote)?;
    let mut offset = range.start;
    let mut stream = result.into_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(RangeError::Remote)?;
        if offset + chunk.len() as u64 > range.end {
            return Err(RangeError::Length);
        }
        hasher.update(&chunk);
        for file in files.iter() {
            file.write_all_at(&chunk, offset)
                .map_err(RangeError::Local)?;
        }
        offset += chunk.len() as u64;
    }
    if offset != range.end {
        return Err(RangeError::Length);
    }
    Ok(hasher.finalize_non_root())
}
