//! Small named files beside the objects (`DIR/NAME`; run refs are `runs/ID`).

use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;

use super::Remote;
use super::RemoteError;

/// Named files (run refs) read at once by [`Remote::list_named`].
const NAMED_READS: usize = 16;

impl Remote {
    /// Writes a small named file beside the objects (`DIR/NAME`: run refs are `runs/ID`).
    pub fn put_named(&mut self, dir: &str, name: &str, bytes: &[u8]) -> Result<(), RemoteError> {
        self.ensure_writable()?;
        let key = self.key(&[dir, name]);
        let payload = object_store::PutPayload::from(bytes.to_vec());
        self.run(self.store.put(&key, payload))
            .map(drop)
            .map_err(|e| self.classify(e))
    }

    /// Every named file in `DIR` with its content (a remote that does not exist has none).
    pub fn list_named(&self, dir: &str) -> Result<Vec<(String, Vec<u8>)>, RemoteError> {
        if self.local_dir.is_some() {
            return Ok(Vec::new());
        }
        let prefix = self.key(&[dir]);
        let metas: Vec<object_store::ObjectMeta> = self
            .run(self.store.list(Some(&prefix)).try_collect())
            .map_err(|e| self.classify(e))?;
        let named: Vec<(String, ObjectPath)> = metas
            .into_iter()
            .filter_map(|meta| Some((meta.location.filename()?.to_owned(), meta.location)))
            .collect();
        // The files are small and many (a ref per run): read several at once.
        let mut out: Vec<(String, Vec<u8>)> = self
            .run(
                futures::stream::iter(named)
                    .map(|(name, location)| async move {
                        let bytes = self.store.get(&location).await?.bytes().await?;
                        Ok::<_, object_store::Error>((name, bytes.to_vec()))
                    })
                    .buffer_unordered(NAMED_READS)
                    .try_collect(),
            )
            .map_err(|e| self.classify(e))?;
        out.sort();
        Ok(out)
    }
}
