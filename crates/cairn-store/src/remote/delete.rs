//! Removing objects (`data gc --remote`) and what killed uploads left behind.

use std::path::Path;
use std::time::Duration;

use object_store::ObjectStoreExt;

use super::{Remote, RemoteError};
use crate::Digest;

impl Remote {
    /// For a directory remote: deletes what killed uploads left behind and that has not been
    /// touched for `age` (so that a push running now is not disturbed): `object_store`'s
    /// staging files `objects/ab/<name>#<n>` and cairn's `tmp/*`. Returns how many files
    /// went; other kinds of remote have nothing of the sort (an object store discards an
    /// unfinished upload itself).
    pub fn clean_stale_uploads(&self, age: Duration) -> Result<usize, RemoteError> {
        let Some(dir) = self.dir.as_ref().filter(|_| self.local_dir.is_none()) else {
            return Ok(0);
        };
        let stale = |path: &Path| {
            std::fs::symlink_metadata(path)
                .ok()
                .filter(|m| m.is_file())
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|elapsed| elapsed >= age)
        };
        let mut candidates = Vec::new();
        if let Ok(entries) = std::fs::read_dir(dir.join("tmp")) {
            candidates.extend(entries.flatten().map(|e| e.path()));
        }
        if let Ok(shards) = std::fs::read_dir(dir.join("objects")) {
            for shard in shards.flatten() {
                let Ok(entries) = std::fs::read_dir(shard.path()) else {
                    continue;
                };
                candidates.extend(
                    entries
                        .flatten()
                        .filter(|e| e.file_name().to_string_lossy().contains('#'))
                        .map(|e| e.path()),
                );
            }
        }
        let mut removed = 0;
        for path in candidates {
            if stale(&path) {
                std::fs::remove_file(&path).map_err(|e| RemoteError::Failed {
                    url: self.url.clone(),
                    message: format!("cannot remove {}: {e}", path.display()),
                })?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Deletes objects, `jobs` at a time.
    pub fn delete(&mut self, digests: &[Digest], jobs: usize) -> Result<u64, RemoteError> {
        self.ensure_writable()?;
        let this = &*self;
        let results: Vec<Result<(), object_store::Error>> =
            this.run_all(digests, jobs, |d| async move {
                match this.store.delete(&this.object_key(d)).await {
                    Err(object_store::Error::NotFound { .. }) => Ok(()),
                    other => other,
                }
            });
        let mut deleted = 0;
        for r in results {
            r.map_err(|e| this.classify(e))?;
            deleted += 1;
        }
        Ok(deleted)
    }
}
