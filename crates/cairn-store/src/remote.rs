//! Remotes: the same content-addressed layout on an object store (S3 and S3-compatible
//! servers, GCS, Azure, a local directory, read-only HTTP), through the `object_store` crate.
//!
//! Layout (version 1, `docs/formats/remote.md`): `<prefix>/version` holds `1`, and every
//! object lives at `<prefix>/objects/ab/cdef…` like in the local store. Uploads are atomic
//! (one PUT, or a multipart upload that becomes visible only when completed), and every
//! download is hashed and compared with its name before it enters the local store.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, RetryConfig};

use crate::atomic::TempFile;
use crate::hash::LARGE_FILE;
use crate::{Digest, Progress, Store, StoreError};

/// The version of the remote layout this cairn writes and understands.
pub const REMOTE_VERSION: u32 = 1;

/// The URL schemes [`Remote::open`] understands (a URL without one is a directory).
pub const SCHEMES: &[&str] = &[
    "s3", "s3a", "gs", "az", "azure", "abfs", "abfss", "http", "https", "file",
];

/// Objects at least this large are uploaded in parts.
const MULTIPART_THRESHOLD: u64 = 32 << 20;
const PART_SIZE: usize = 16 << 20;
/// Parts of one object in flight at once.
const PART_CONCURRENCY: usize = 4;
/// Up to this many objects, [`Remote::present`] asks about each one instead of listing the
/// remote.
const HEAD_LIMIT: usize = 100;
/// Objects at least this large are downloaded in ranges of [`RANGE_SIZE`], up to
/// [`RANGE_CONCURRENCY`] at once: one stream keeps one core busy receiving, several spread the
/// work over all of them.
const RANGED: u64 = 2 * RANGE_SIZE;
const RANGE_SIZE: u64 = 16 << 20;
const RANGE_CONCURRENCY: usize = 4;

/// Where a remote is and how to reach it.
#[derive(Debug, Clone, Default)]
pub struct RemoteOptions {
    pub url: String,
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub allow_http: Option<bool>,
    pub virtual_hosted_style: Option<bool>,
    /// Further `object_store` options, such as credentials from `.cairn/config.toml`.
    pub extra: Vec<(String, String)>,
    /// Relative local-directory URLs are resolved against this directory.
    pub root: PathBuf,
}

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
    /// [`Store::link_file_expecting`]); always 0 for uploads.
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
}

/// An error that concerns one object, not the remote as a whole.
enum ObjectError {
    Corrupt(String),
    Missing,
    Remote(RemoteError),
}

impl Remote {
    pub fn open(options: &RemoteOptions) -> Result<Self, RemoteError> {
        let url = options.url.trim().to_string();
        let bad_option = |key: &str, e: object_store::Error| RemoteError::BadOption {
            url: url.clone(),
            key: key.to_string(),
            reason: e.to_string(),
        };
        let bad = |reason: &str| RemoteError::BadUrl {
            url: url.clone(),
            reason: reason.to_string(),
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| RemoteError::Failed {
                url: url.clone(),
                message: e.to_string(),
            })?;
        let retry = RetryConfig {
            max_retries: 3,
            retry_timeout: Duration::from_secs(30),
            ..RetryConfig::default()
        };
        let config_err = |e: object_store::Error| RemoteError::BadUrl {
            url: url.clone(),
            reason: e.to_string(),
        };
        let (scheme, rest) = match url.split_once("://") {
            Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest.to_string()),
            None => ("file".to_string(), url.clone()),
        };
        let bucket_prefix = |rest: &str| -> Result<String, RemoteError> {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(bad("the bucket or container name is missing"));
            }
            Ok(prefix.trim_matches('/').to_string())
        };
        let mut dir = None;
        let (store, prefix, writable, local_dir): (
            Arc<dyn ObjectStore>,
            String,
            bool,
            Option<PathBuf>,
        ) = match scheme.as_str() {
            "s3" | "s3a" => {
                let prefix = bucket_prefix(&rest)?;
                let mut b = object_store::aws::AmazonS3Builder::from_env()
                    .with_url(&url)
                    .with_retry(retry);
                if let Some(v) = &options.endpoint {
                    b = b.with_endpoint(v);
                }
                if let Some(v) = &options.region {
                    b = b.with_region(v);
                }
                if let Some(v) = options.allow_http {
                    b = b.with_allow_http(v);
                }
                if let Some(v) = options.virtual_hosted_style {
                    b = b.with_virtual_hosted_style_request(v);
                }
                b = with_extra(b, &options.extra, |b, k, v| b.with_config(k, v))
                    .map_err(|(k, e)| bad_option(&k, e))?;
                // Over TLS, bodies are not hashed for the signature (UNSIGNED-PAYLOAD, what the
                // AWS tools do): TLS protects them on the wire, cairn verified them before
                // sending and verifies them again on download. Over plain HTTP the signature
                // covers the body. `aws_unsigned_payload` (environment or
                // .cairn/config.toml) decides instead when it is set.
                let chosen = options
                    .extra
                    .iter()
                    .any(|(k, _)| k.ends_with("unsigned_payload"))
                    || std::env::var_os("AWS_UNSIGNED_PAYLOAD").is_some();
                let tls = b
                    .get_config_value(&object_store::aws::AmazonS3ConfigKey::Endpoint)
                    .is_none_or(|e| e.starts_with("https://"));
                if !chosen && tls {
                    b = b.with_unsigned_payload(true);
                }
                (Arc::new(b.build().map_err(config_err)?), prefix, true, None)
            }
            "gs" => {
                let prefix = bucket_prefix(&rest)?;
                let mut b = object_store::gcp::GoogleCloudStorageBuilder::from_env()
                    .with_url(&url)
                    .with_retry(retry);
                b = with_extra(b, &options.extra, |b, k, v| b.with_config(k, v))
                    .map_err(|(k, e)| bad_option(&k, e))?;
                (Arc::new(b.build().map_err(config_err)?), prefix, true, None)
            }
            "az" | "azure" | "abfs" | "abfss" => {
                let prefix = bucket_prefix(&rest)?;
                let mut b = object_store::azure::MicrosoftAzureBuilder::from_env()
                    .with_url(&url)
                    .with_retry(retry);
                if let Some(v) = options.allow_http {
                    b = b.with_allow_http(v);
                }
                b = with_extra(b, &options.extra, |b, k, v| b.with_config(k, v))
                    .map_err(|(k, e)| bad_option(&k, e))?;
                (Arc::new(b.build().map_err(config_err)?), prefix, true, None)
            }
            "http" | "https" => {
                let mut b = object_store::http::HttpBuilder::new()
                    .with_url(&url)
                    .with_retry(retry);
                if scheme == "http" || options.allow_http == Some(true) {
                    b = b.with_client_options(
                        object_store::ClientOptions::new().with_allow_http(true),
                    );
                }
                (
                    Arc::new(b.build().map_err(config_err)?),
                    String::new(),
                    false,
                    None,
                )
            }
            "file" => {
                let path = if rest.starts_with('/') || scheme == "file" && url.contains("://") {
                    PathBuf::from(&rest)
                } else {
                    options.root.join(&rest)
                };
                let path = if path.is_absolute() {
                    path
                } else {
                    options.root.join(path)
                };
                dir = Some(path.clone());
                if path.is_dir() {
                    let fs = object_store::local::LocalFileSystem::new_with_prefix(&path)
                        .map_err(config_err)?;
                    (Arc::new(fs), String::new(), true, None)
                } else {
                    // Opened for real once the directory exists (see `ensure_writable`).
                    (
                        Arc::new(object_store::memory::InMemory::new()),
                        String::new(),
                        true,
                        Some(path),
                    )
                }
            }
            other => {
                return Err(bad(&format!(
                    "unknown scheme `{other}://` (use s3://, gs://, az://, https:// or a directory)"
                )));
            }
        };
        Ok(Self {
            url,
            store,
            prefix: ObjectPath::from(prefix),
            writable,
            local_dir,
            dir,
            runtime,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Runs one request: inline for a local directory, on the runtime otherwise.
    fn run<F: std::future::Future>(&self, fut: F) -> F::Output {
        if self.dir.is_some() {
            futures::executor::block_on(fut)
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
                .map(|item| futures::executor::block_on(f(item)))
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

    /// Which of `digests` the remote has, with their sizes. For up to [`HEAD_LIMIT`] objects,
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

/// Applies `object_store` options given by name (`.cairn/config.toml`) to a builder; on an
/// unknown name, returns it with the parse error.
fn with_extra<B, K>(
    mut builder: B,
    extra: &[(String, String)],
    set: impl Fn(B, K, &str) -> B,
) -> Result<B, (String, object_store::Error)>
where
    K: std::str::FromStr<Err = object_store::Error>,
{
    for (k, v) in extra {
        let key = k.parse().map_err(|e| (k.clone(), e))?;
        builder = set(builder, key, v);
    }
    Ok(builder)
}

/// Named files (run refs) read at once by [`Remote::list_named`].
const NAMED_READS: usize = 16;

/// One object of [`Remote::read_all`]: its bytes, `None` when the remote does not have it, or
/// why it could not be read.
pub type ObjectRead = (Digest, Result<Option<Vec<u8>>, RemoteError>);

/// Inside tokio, file reads go to its blocking pool; outside (local remotes on rayon's
/// threads), they are done in place.
fn in_runtime() -> bool {
    tokio::runtime::Handle::try_current().is_ok()
}

async fn read_file(path: &Path) -> std::io::Result<Vec<u8>> {
    if in_runtime() {
        tokio::fs::read(path).await
    } else {
        std::fs::read(path)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn open(url: &str) -> Result<Remote, RemoteError> {
        Remote::open(&RemoteOptions {
            url: url.to_string(),
            root: std::env::temp_dir(),
            ..RemoteOptions::default()
        })
    }

    #[test]
    fn every_listed_scheme_is_understood_and_no_other() {
        for scheme in SCHEMES {
            let url = match *scheme {
                "file" => format!("file://{}", std::env::temp_dir().display()),
                "http" | "https" => format!("{scheme}://127.0.0.1:9/cairn"),
                _ => format!("{scheme}://bucket/prefix"),
            };
            if let Err(e) = open(&url) {
                assert!(!e.to_string().contains("unknown scheme"), "{url}: {e}");
            }
        }
        let err = open("ftp://host/path").err().expect("ftp is refused");
        assert!(err.to_string().contains("unknown scheme"), "{err}");
    }
}
