//! Reading objects, verified, without storing them.

use object_store::ObjectStoreExt;

use super::{Remote, RemoteError};
use crate::Digest;

/// One object of [`Remote::read_all`]: its bytes, `None` when the remote does not have it, or
/// why it could not be read.
pub type ObjectRead = (Digest, Result<Option<Vec<u8>>, RemoteError>);

impl Remote {
    /// Reads one object, verified, without storing it.
    pub fn read(&self, digest: &Digest) -> Result<Option<Vec<u8>>, RemoteError> {
        self.require_exists()?;
        self.run(self.read_one(digest))
    }

    /// Reads objects, verified, without storing them, `jobs` at a time: each one's bytes, or
    /// `None` when the remote does not have it; in any order.
    pub fn read_all(
        &self,
        digests: &[Digest],
        jobs: usize,
    ) -> Result<Vec<ObjectRead>, RemoteError> {
        self.require_exists()?;
        Ok(self.run_all(digests, jobs, |digest| async move {
            (*digest, self.read_one(digest).await)
        }))
    }

    async fn read_one(&self, digest: &Digest) -> Result<Option<Vec<u8>>, RemoteError> {
        let key = self.object_key(digest);
        let bytes = match self.store.get(&key).await {
            Ok(r) => r.bytes().await.map(Some),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        };
        let Some(bytes) = bytes.map_err(|e| self.classify(e))? else {
            return Ok(None);
        };
        let actual = Digest::of(&bytes);
        if actual != *digest {
            return Err(RemoteError::Corrupt {
                url: self.url.clone(),
                digest: *digest,
                actual,
            });
        }
        Ok(Some(bytes.to_vec()))
    }
}
