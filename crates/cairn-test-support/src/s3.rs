//! A real S3-compatible server for the end-to-end tests: `s3s-fs` (an S3 implementation over a
//! directory) behind `s3s`'s SigV4 authentication, served by hyper on 127.0.0.1, on its own
//! tokio runtime thread. Starting one takes about a millisecond, so every test can have its own.
//!
//! How s3s-fs 0.14 lays out its root directory:
//! - a bucket is a directory `ROOT/BUCKET`, and an object is the plain file `ROOT/BUCKET/KEY`
//!   (`/` in a key makes subdirectories), holding exactly the object's bytes;
//! - its own files live directly under `ROOT`, never inside a bucket: the ETag and checksums
//!   (`.bucket-B64.object-B64.internal.json`), metadata (`….metadata.json`), multipart parts
//!   (`.upload_id-UUID.part-N`, concatenated into the object and deleted on completion) and
//!   temporary files (`.tmp.N.internal.part`, renamed into place, so writes are atomic).
//!
//! Editing an object file in place changes what GET returns, but not the ETag (the ETag saved
//! at upload time is served as long as the internal file exists).
//!
//! s3s-fs alone creates a missing bucket on the first PutObject (it makes the object's parent
//! directories); `BucketsMustExist` answers NoSuchBucket instead, as S3 does.
#![allow(clippy::disallowed_methods)] // tests build fixtures with std::fs

use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tokio::sync::oneshot;

pub use crate::s3_mem::MemS3;

const ACCESS_KEY: &str = "cairn-test-access-key";
const SECRET_KEY: &str = "cairn-test-secret-key";
const REGION: &str = "us-east-1";

/// An S3 server on 127.0.0.1; stops (and removes its data) when dropped.
pub struct S3Server {
    port: u16,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    // Dropped last, after the server thread has stopped.
    backend: Backend,
}

enum Backend {
    /// s3s-fs over a temporary directory.
    Fs {
        root: PathBuf,
        _dir: tempfile::TempDir,
    },
    /// Objects in memory (see [`MemS3`]).
    Mem(MemS3),
}

impl S3Server {
    /// Starts s3s-fs over a fresh temporary directory on 127.0.0.1 (random free port), with
    /// SimpleAuth for one access key / secret key pair, on its own tokio runtime thread.
    pub fn start() -> S3Server {
        let dir = tempfile::Builder::new()
            .prefix("cairn-s3-")
            .tempdir()
            .expect("temp dir for the S3 server");
        // s3s-fs canonicalizes its root; use the same path so `object_path` matches its files.
        let root = dir.path().canonicalize().expect("canonical temp dir");
        let fs = s3s_fs::FileSystem::new(&root).expect("s3s-fs over the temp dir");

        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let bucket_root = root.clone();
        builder.set_access(BucketsMustExist {
            exists: Box::new(move |bucket| bucket_root.join(bucket).is_dir()),
        });
        Self::serve(builder.build(), Backend::Fs { root, _dir: dir })
    }

    /// Starts the in-memory backend ([`MemS3`]) behind the same protocol layer and
    /// authentication: what the benchmark uses, so that the server's share of the two cores
    /// stays small.
    pub fn start_in_memory() -> S3Server {
        let mem = MemS3::default();
        let mut builder = S3ServiceBuilder::new(mem.clone());
        builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let buckets = mem.clone();
        builder.set_access(BucketsMustExist {
            exists: Box::new(move |bucket| buckets.has_bucket(bucket)),
        });
        Self::serve(builder.build(), Backend::Mem(mem))
    }

    fn serve(service: s3s::service::S3Service, backend: Backend) -> S3Server {
        // Bound here, before the thread starts: the port is known and accepting when we return.
        let listener =
            std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind 127.0.0.1 for S3");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let port = listener.local_addr().expect("local address").port();

        let (shutdown, mut stop) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("s3-server-{port}"))
            .spawn(move || {
                // Two workers: concurrent part uploads are hashed (SigV4 payload SHA-256, MD5
                // ETags) in parallel, which matters in unoptimized builds.
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("tokio runtime for the S3 server");
                rt.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                    let http = ConnBuilder::new(TokioExecutor::new());
                    loop {
                        let socket = tokio::select! {
                            accepted = listener.accept() => match accepted {
                                Ok((socket, _)) => socket,
                                Err(_) => continue,
                            },
                            _ = &mut stop => break,
                        };
                        let _ = socket.set_nodelay(true);
                        let conn = http
                            .serve_connection(TokioIo::new(socket), service.clone())
                            .into_owned();
                        tokio::spawn(async move {
                            let _ = conn.await;
                        });
                    }
                });
                // Dropping the runtime cancels the connection tasks still running.
                rt.shutdown_timeout(std::time::Duration::from_secs(5));
            })
            .expect("spawn the S3 server thread");

        S3Server {
            port,
            shutdown: Some(shutdown),
            thread: Some(thread),
            backend,
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn access_key(&self) -> &str {
        ACCESS_KEY
    }

    pub fn secret_key(&self) -> &str {
        SECRET_KEY
    }

    /// Any region is accepted (the signature's scope carries it); clients must use this one.
    pub fn region(&self) -> &str {
        REGION
    }

    /// Makes a bucket. For s3s-fs a bucket is a directory directly under the root (exactly
    /// what its CreateBucket does).
    pub fn create_bucket(&self, name: &str) {
        assert!(
            !name.is_empty() && !name.starts_with('.') && !name.contains('/'),
            "invalid bucket name {name:?}"
        );
        match &self.backend {
            Backend::Fs { root, .. } => std::fs::create_dir(root.join(name))
                .unwrap_or_else(|e| panic!("create bucket {name}: {e}")),
            Backend::Mem(mem) => mem.create_bucket(name),
        }
    }

    /// Removes a bucket and its objects.
    pub fn delete_bucket(&self, name: &str) {
        match &self.backend {
            Backend::Fs { root, .. } => std::fs::remove_dir_all(root.join(name))
                .unwrap_or_else(|e| panic!("delete bucket {name}: {e}")),
            Backend::Mem(mem) => mem.delete_bucket(name),
        }
    }

    /// Whether objects live in memory ([`S3Server::start_in_memory`]).
    pub fn in_memory(&self) -> bool {
        matches!(self.backend, Backend::Mem(_))
    }

    /// The directory holding the buckets (and s3s-fs's own dot-files); s3s-fs only.
    pub fn root(&self) -> &Path {
        match &self.backend {
            Backend::Fs { root, .. } => root,
            Backend::Mem(_) => panic!("the in-memory S3 server has no directory"),
        }
    }

    /// The file that holds an object: `ROOT/BUCKET/KEY`, exactly the object's bytes; s3s-fs
    /// only.
    pub fn object_path(&self, bucket: &str, key: &str) -> PathBuf {
        self.root().join(bucket).join(key)
    }

    /// The keys in a bucket, sorted (for s3s-fs, objects are the files below the bucket's
    /// directory; it keeps its own files outside the buckets).
    pub fn list(&self, bucket: &str) -> Vec<String> {
        let root = match &self.backend {
            Backend::Fs { root, .. } => root,
            Backend::Mem(mem) => return mem.keys(bucket),
        };
        let base = root.join(bucket);
        let mut keys = Vec::new();
        let mut dirs = vec![base.clone()];
        while let Some(dir) = dirs.pop() {
            let entries = std::fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("list bucket {bucket} ({}): {e}", dir.display()));
            for entry in entries {
                let entry = entry.expect("directory entry");
                let path = entry.path();
                if entry.file_type().expect("file type").is_dir() {
                    dirs.push(path);
                } else {
                    let rel = path.strip_prefix(&base).expect("below the bucket");
                    let key: Vec<&str> = rel
                        .components()
                        .map(|c| c.as_os_str().to_str().expect("UTF-8 key"))
                        .collect();
                    keys.push(key.join("/"));
                }
            }
        }
        keys.sort();
        keys
    }

    /// Environment variables for a cairn subprocess talking to this server.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ACCESS_KEY_ID", self.access_key().to_owned()),
            ("AWS_SECRET_ACCESS_KEY", self.secret_key().to_owned()),
            ("AWS_REGION", self.region().to_owned()),
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ALLOW_HTTP", "true".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Refuses unsigned requests (s3s's default access check) and, like S3, any request but
/// CreateBucket naming a bucket that does not exist: s3s-fs would create it on PutObject.
struct BucketsMustExist {
    exists: Box<dyn Fn(&str) -> bool + Send + Sync>,
}

#[async_trait::async_trait]
impl S3Access for BucketsMustExist {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> s3s::S3Result<()> {
        if cx.credentials().is_none() {
            return Err(s3s::s3_error!(AccessDenied, "Signature is required"));
        }
        if cx.s3_op().name() != "CreateBucket"
            && let Some(bucket) = cx.s3_path().get_bucket_name()
            && !(self.exists)(bucket)
        {
            return Err(s3s::s3_error!(NoSuchBucket));
        }
        Ok(())
    }
}
