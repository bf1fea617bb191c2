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
//! directories); [`BucketsMustExist`] answers NoSuchBucket instead, as S3 does.
#![allow(clippy::disallowed_methods)] // tests build fixtures with std::fs

use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tokio::sync::oneshot;

const ACCESS_KEY: &str = "cairn-test-access-key";
const SECRET_KEY: &str = "cairn-test-secret-key";
const REGION: &str = "us-east-1";

/// An S3 server over a temporary directory; stops (and removes the directory) when dropped.
pub struct S3Server {
    port: u16,
    root: PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    // Dropped last, after the server thread has stopped.
    _dir: tempfile::TempDir,
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
        builder.set_access(BucketsMustExist { root: root.clone() });
        let service = builder.build();

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
            root,
            shutdown: Some(shutdown),
            thread: Some(thread),
            _dir: dir,
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
        std::fs::create_dir(self.root.join(name))
            .unwrap_or_else(|e| panic!("create bucket {name}: {e}"));
    }

    /// The directory holding the buckets (and s3s-fs's own dot-files).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file that holds an object: `ROOT/BUCKET/KEY`, exactly the object's bytes.
    pub fn object_path(&self, bucket: &str, key: &str) -> PathBuf {
        self.root.join(bucket).join(key)
    }

    /// The keys in a bucket, sorted (objects are the files below the bucket's directory;
    /// s3s-fs keeps its own files outside the buckets).
    pub fn list(&self, bucket: &str) -> Vec<String> {
        let base = self.root.join(bucket);
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
    root: PathBuf,
}

#[async_trait::async_trait]
impl S3Access for BucketsMustExist {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> s3s::S3Result<()> {
        if cx.credentials().is_none() {
            return Err(s3s::s3_error!(AccessDenied, "Signature is required"));
        }
        if cx.s3_op().name() != "CreateBucket"
            && let Some(bucket) = cx.s3_path().get_bucket_name()
            && !self.root.join(bucket).is_dir()
        {
            return Err(s3s::s3_error!(NoSuchBucket));
        }
        Ok(())
    }
}
