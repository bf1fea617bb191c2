//! Remotes: the same content-addressed layout on an object store (S3 and S3-compatible
//! servers, GCS, Azure, a local directory, read-only HTTP), through the `object_store` crate.
//!
//! Layout (version 1, `docs/formats/remote.md`): `<prefix>/version` holds `1`, and every
//! object lives at `<prefix>/objects/ab/cdef…` like in the local store. Uploads are atomic
//! (one PUT, or a multipart upload that becomes visible only when completed), and every
//! download is hashed and compared with its name before it enters the local store.
//!
//! Opening a remote (one builder per scheme, with the environment the binary read) is in
//! `open`; `upload`, `download`, `read` (objects read without storing them), `named`
//! (small named files beside the objects, such as run refs) and `delete` (removal and
//! clean-up) hold one concern each.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStore;
use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;

use crate::{Digest, StoreError};

mod aws_profile;
mod delete;
mod download;
mod env;
mod named;
mod open;
mod read;
mod upload;

pub use env::RemoteEnv;
pub use open::{PROFILE_KEY, RemoteOptions};
pub use read::ObjectRead;

/// The version of the remote layout this cairn writes and understands.
pub const REMOTE_VERSION: u32 = 1;

/// The URL schemes [`Remote::open`] understands (a URL without one is a directory).
pub const SCHEMES: &[&str] = &[
    "s3", "s3a", "gs", "az", "azure", "abfs", "abfss", "http", "https", "file",
];

/// Up to this many objects, [`Remote::present`] asks about each one instead of listing the
/// remote.
const HEAD_LIMIT: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("invalid remote URL `{url}`: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("remote {url}: `{key}` (from .cairn/config.toml) is not a valid option: {reason}")]
    BadOption {
        url: String,
        key: String,
        reason: String,
    },
    #[error("object {digest} on remote {url} is corrupt: its content hashes to {actual}")]
    Corrupt {
        url: String,
        digest: Digest,
        actual: Digest,
    },
    #[error("remote {url}: access denied: {message}")]
    Denied { url: String, message: String },
    #[error("remote {url} does not exist: {message}")]
    NotFound { url: String, message: String },
    #[error("remote {url} is read-only")]
    ReadOnly { url: String },
    #[error("remote {url}: {message}")]
    Failed { url: String, message: String },
    #[error(
        "remote {url} has layout version {found}, but this cairn understands version {supported}"
    )]
    Version {
        url: String,
        found: String,
        supported: u32,
    },
    /// An AWS profile that cannot be used (`FILE:LINE: why` where a line is to blame).
    #[error("{message}")]
    AwsProfile { message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An object that could not be transferred, and why; the others were.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TransferFailure {
    pub digest: Digest,
    pub reason: String,
}

/// What a batch of transfers did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Transfer {
    pub objects: u64,
    pub bytes: u64,
    /// Of `objects`, how many a download stored as a second name of the remote's own file (a
    /// hard link: a directory remote on the same file system, see
    /// [`crate::Store::link_file_expecting`]); always 0 for uploads.
    pub shared: u64,
    pub failures: Vec<TransferFailure>,
}

/// How one object was transferred.
enum Done {
    /// Its bytes were copied.
    Copied,
    /// It is the remote's own file under a second name (downloads from a directory remote).
    Shared,
}

/// An opened remote.
pub struct Remote {
    url: String,
    store: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
    writable: bool,
    /// A local directory that does not exist yet (created by the first push).
    local_dir: Option<PathBuf>,
    /// A local directory: its requests are plain file operations, run inline on rayon's
    /// threads (outside tokio, `object_store` does them without a thread hand-off each), and
    /// large objects are copied in the kernel rather than through `object_store`'s buffers.
    dir: Option<PathBuf>,
    runtime: tokio::runtime::Runtime,
    /// The AWS profile whose credentials an S3 remote uses, described.
    profile: Option<String>,
}

/// An error that concerns one object, not the remote as a whole.
enum ObjectError {
    Corrupt(String),
    Missing,
    Remote(RemoteError),
}

impl Remote {
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The AWS profile whose credentials this S3 remote uses, described (`AWS profile `dev`
    /// (keys at /home/ann/.aws/credentials:2)`); `None` when its credentials come from
    /// elsewhere.
    pub fn aws_profile(&self) -> Option<&str> {
        self.profile.as_deref()
    }

    /// Runs one request: inline for a local directory, on the runtime otherwise.
    ///
    /// Inline means `pollster::block_on`, not `futures::executor::block_on`: a directory
    /// remote's futures do their file work synchronously (hashing on rayon), and a rayon worker
    /// that waits inside one may pick up another item of [`Self::run_all`] and block on it too.
    /// `futures`' executor refuses such nesting with a panic (`EnterError`); pollster has no
    /// such guard, and nothing here depends on one.
    fn run<F: std::future::Future>(&self, fut: F) -> F::Output {
        if self.dir.is_some() {
            pollster::block_on(fut)
        } else {
            self.runtime.block_on(fut)
        }
    }

    /// Runs one async job per item, `jobs` at a time, and returns the results in any order.
    fn run_all<'a, T, R, F, Fut>(&'a self, items: &'a [T], jobs: usize, f: F) -> Vec<R>
    where
        T: Sync + 'a,
        R: Send,
        F: Fn(&'a T) -> Fut + Sync + Send,
        Fut: std::future::Future<Output = R> + 'a,
    {
        if self.dir.is_some() {
            use rayon::prelude::*;
            items
                .par_iter()
                .map(|item| pollster::block_on(f(item)))
                .collect()
        } else {
            self.runtime.block_on(
                futures::stream::iter(items.iter())
                    .map(&f)
                    .buffer_unordered(jobs.max(1))
                    .collect(),
            )
        }
    }

    /// [`RemoteError::ReadOnly`] for remotes that cannot be written (http).
    pub fn require_writable(&self) -> Result<(), RemoteError> {
        if self.writable {
            Ok(())
        } else {
            Err(RemoteError::ReadOnly {
                url: self.url.clone(),
            })
        }
    }

    /// Whether the remote can list its objects (plain web servers cannot).
    pub fn can_list(&self) -> bool {
        self.writable
    }

    /// False for a local-directory remote whose directory does not exist yet.
    pub fn exists(&self) -> bool {
        self.local_dir.is_none()
    }

    fn key(&self, parts: &[&str]) -> ObjectPath {
        let mut key = self.prefix.clone();
        for part in parts {
            key = key.join(*part);
        }
        key
    }

    fn object_key(&self, digest: &Digest) -> ObjectPath {
        let hex = digest.to_hex();
        self.key(&["objects", &hex[..2], &hex[2..]])
    }

    /// Turns an `object_store` error about the remote as a whole into a [`RemoteError`].
    fn classify(&self, e: object_store::Error) -> RemoteError {
        let url = self.url.clone();
        let message = e.to_string();
        match e {
            object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. } => RemoteError::Denied { url, message },
            _ if message.contains("InvalidBucketName") => RemoteError::BadUrl {
                url,
                reason: "the server refuses the bucket name (S3 bucket names have 3 to 63 \
                         characters: lowercase letters, digits, dots and hyphens)"
                    .to_string(),
            },
            _ if message.contains("NoSuchBucket") || message.contains("ContainerNotFound") => {
                RemoteError::NotFound { url, message }
            }
            _ if message.contains("InvalidAccessKeyId")
                || message.contains("SignatureDoesNotMatch")
                || message.contains("AccessDenied")
                || message.contains("403 Forbidden") =>
            {
                RemoteError::Denied { url, message }
            }
            _ => RemoteError::Failed { url, message },
        }
    }

    /// For a local-directory remote that does not exist yet: creates it (push).
    fn ensure_writable(&mut self) -> Result<(), RemoteError> {
        if !self.writable {
            return Err(RemoteError::ReadOnly {
                url: self.url.clone(),
            });
        }
        if let Some(dir) = self.local_dir.take() {
            std::fs::create_dir_all(&dir).map_err(|e| RemoteError::Failed {
                url: self.url.clone(),
                message: format!("cannot create {}: {e}", dir.display()),
            })?;
            let fs = object_store::local::LocalFileSystem::new_with_prefix(&dir).map_err(|e| {
                RemoteError::Failed {
                    url: self.url.clone(),
                    message: e.to_string(),
                }
            })?;
            self.store = Arc::new(fs);
        }
        Ok(())
    }

    fn require_exists(&self) -> Result<(), RemoteError> {
        match &self.local_dir {
            Some(dir) => Err(RemoteError::NotFound {
                url: self.url.clone(),
                message: format!("{} is not a directory", dir.display()),
            }),
            None => Ok(()),
        }
    }

    /// Checks the layout version the remote declares (a remote without one is new).
    pub fn check_version(&self) -> Result<(), RemoteError> {
        self.require_exists()?;
        let key = self.key(&["version"]);
        let found = self.run(async {
            match self.store.get(&key).await {
                Ok(result) => result.bytes().await.map(Some),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        });
        match found.map_err(|e| self.classify(e))? {
            None => Ok(()),
            Some(bytes) => {
                let text = String::from_utf8_lossy(&bytes).trim().to_string();
                match text.parse::<u32>() {
                    Ok(v) if v <= REMOTE_VERSION => Ok(()),
                    _ => Err(RemoteError::Version {
                        url: self.url.clone(),
                        found: text,
                        supported: REMOTE_VERSION,
                    }),
                }
            }
        }
    }

    /// Fails if the remote as a whole cannot be reached or does not exist (a bucket that is
    /// not there, wrong credentials), at the cost of one request: the first page of a
    /// listing. Requests about single objects cannot tell a missing bucket from a missing
    /// object.
    pub fn probe(&self) -> Result<(), RemoteError> {
        self.require_exists()?;
        if self.dir.is_some() || !self.can_list() {
            return Ok(());
        }
        let prefix = self.key(&["objects"]);
        match self.run(async { self.store.list(Some(&prefix)).next().await }) {
            Some(Err(e)) => Err(self.classify(e)),
            _ => Ok(()),
        }
    }

    /// Which of `digests` the remote has, with their sizes. For up to `HEAD_LIMIT` objects,
    /// one HEAD request each, `jobs` at a time; for more, one listing of the whole remote
    /// (its pages of 1,000 objects come one after the other, and pulling one file from a
    /// remote of 20,000 objects should not wait for 20 of them). Call [`Remote::probe`] first: a HEAD cannot
    /// tell a missing bucket from a missing object.
    pub fn present(
        &self,
        digests: &[Digest],
        jobs: usize,
    ) -> Result<HashMap<Digest, u64>, RemoteError> {
        if self.local_dir.is_some() {
            return Ok(HashMap::new());
        }
        if digests.len() > HEAD_LIMIT {
            let mut listed = self.list()?;
            let wanted: std::collections::HashSet<&Digest> = digests.iter().collect();
            listed.retain(|digest, _| wanted.contains(digest));
            return Ok(listed);
        }
        let results = self.run_all(digests, jobs, |digest| async move {
            match self.store.head(&self.object_key(digest)).await {
                Ok(meta) => Ok(Some((*digest, meta.size))),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        });
        let mut out = HashMap::new();
        for result in results {
            if let Some((digest, size)) = result.map_err(|e| self.classify(e))? {
                out.insert(digest, size);
            }
        }
        Ok(out)
    }

    /// Every object on the remote, with its size: one listing instead of a request per
    /// object.
    pub fn list(&self) -> Result<HashMap<Digest, u64>, RemoteError> {
        if self.local_dir.is_some() {
            return Ok(HashMap::new());
        }
        let prefix = self.key(&["objects"]);
        let metas: Vec<object_store::ObjectMeta> = self
            .run(self.store.list(Some(&prefix)).try_collect())
            .map_err(|e| self.classify(e))?;
        let mut out = HashMap::with_capacity(metas.len());
        for meta in metas {
            let parts: Vec<_> = meta.location.parts().collect();
            let n = parts.len();
            if n < 2 {
                continue;
            }
            let hex = format!("{}{}", parts[n - 2].as_ref(), parts[n - 1].as_ref());
            if let Ok(digest) = hex.parse::<Digest>() {
                out.insert(digest, meta.size);
            }
        }
        Ok(out)
    }
}

fn collect(
    results: Vec<(Digest, u64, Result<Done, ObjectError>)>,
) -> Result<Transfer, RemoteError> {
    let mut transfer = Transfer::default();
    for (digest, size, result) in results {
        match result {
            Ok(done) => {
                transfer.objects += 1;
                transfer.bytes += size;
                if matches!(done, Done::Shared) {
                    transfer.shared += 1;
                }
            }
            Err(ObjectError::Corrupt(reason)) => {
                transfer.failures.push(TransferFailure { digest, reason })
            }
            Err(ObjectError::Missing) => transfer.failures.push(TransferFailure {
                digest,
                reason: "not on the remote".to_string(),
            }),
            // A failure of the remote itself (credentials, network) stops the whole batch.
            Err(ObjectError::Remote(e)) => return Err(e),
        }
    }
    transfer.failures.sort_by_key(|f| f.digest);
    Ok(transfer)
}

/// An upload that cannot read its local object fails for that object alone.
fn local_error(digest: &Digest, e: std::io::Error) -> ObjectError {
    ObjectError::Corrupt(format!("cannot read the local object {digest}: {e}"))
}

/// A download that cannot write into the local store (a full disk, a read-only `.cairn/`)
/// stops the whole fetch: every other object would fail the same way.
fn store_write(path: &Path, e: std::io::Error) -> ObjectError {
    StoreError::write(path)(e).into()
}

/// A store error about one object: its content does not match its name (reported for that
/// object alone), or anything else, which stops the batch.
impl From<StoreError> for ObjectError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Corrupt { actual, .. } => {
                Self::Corrupt(format!("its content hashes to {actual}"))
            }
            e => Self::Remote(e.into()),
        }
    }
}

/// Inside tokio, file reads go to its blocking pool; outside (local remotes on rayon's
/// threads), they are done in place.
fn in_runtime() -> bool {
    tokio::runtime::Handle::try_current().is_ok()
}

#[cfg(test)]
mod tests;
