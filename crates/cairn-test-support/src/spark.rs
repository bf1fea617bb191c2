//! A real Spark Connect server for tests and benchmarks: the one pyspark bundles
//! (`pip install pyspark`), run with the machine's Java (17) as `spark-submit --class
//! org.apache.spark.sql.connect.service.SparkConnectServer --master local[2]`, on 127.0.0.1 on
//! a free port, with every other listener of the driver on 127.0.0.1 too and no web UI, in a
//! temporary working directory. It takes seconds to start (about 7 on a quiet machine) and
//! about 2 GB of memory.
//!
//! The server runs under a small shell that stops it when the process that started it is
//! gone, so that a server held in a `static` (one per test binary) does not outlive the
//! tests; dropping a [`SparkServer`] stops it at once.
//!
//! Without pyspark in the given virtual environment, or without `java`,
//! [`SparkServer::launch`] says which is missing, and [`SparkServer::start`], for tests, fails
//! the test with that.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The pyspark version the tests and `cargo xtask test-spark` install.
pub const PYSPARK_VERSION: &str = "4.3.0";

/// How long the server may take to listen (a busy 2-core machine has needed a minute).
const START_TIMEOUT: Duration = Duration::from_secs(240);

pub struct SparkServer {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    started_in: Duration,
}

impl SparkServer {
    /// The pyspark package directory (its `SPARK_HOME`) of the virtual environment `venv`.
    pub fn spark_home(venv: &Path) -> Option<PathBuf> {
        let lib = venv.join("lib");
        std::fs::read_dir(&lib)
            .ok()?
            .flatten()
            .map(|python| python.path().join("site-packages").join("pyspark"))
            .find(|home| home.join("bin").join("spark-submit").is_file())
    }

    /// For a test: [`SparkServer::launch`], failing the test when pyspark or Java is missing.
    pub fn start(venv: &Path) -> Self {
        Self::launch(venv).unwrap_or_else(|missing| panic!("{missing}: the Spark tests need it"))
    }

    /// Starts a server from the pyspark installed in `venv`; `Err` says what is missing when
    /// pyspark or Java is.
    pub fn launch(venv: &Path) -> Result<Self, String> {
        let java = Command::new("java")
            .arg("-version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        let home = Self::spark_home(venv);
        let missing = match (&home, java) {
            (None, _) => format!(
                "pyspark is not installed in {} (`cargo xtask test-spark` installs pyspark=={PYSPARK_VERSION} there)",
                venv.display()
            ),
            (_, false) => "java is not installed (apt-get install openjdk-17-jre-headless)".into(),
            (Some(_), true) => String::new(),
        };
        let Some(home) = home.filter(|_| java) else {
            return Err(missing);
        };
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port on 127.0.0.1")
            .port();
        let dir = tempfile::tempdir().expect("a temporary directory");
        let log = dir.path().join("server.log");
        let script = format!(
            r#""$SPARK_HOME/bin/spark-submit" \
  --class org.apache.spark.sql.connect.service.SparkConnectServer \
  --master 'local[2]' \
  --conf spark.connect.grpc.binding.address=127.0.0.1 \
  --conf spark.connect.grpc.binding.port={port} \
  --conf spark.driver.host=127.0.0.1 \
  --conf spark.driver.bindAddress=127.0.0.1 \
  --conf spark.ui.enabled=false \
  --conf spark.sql.session.timeZone=UTC \
  --conf spark.sql.warehouse.dir="$PWD/warehouse" \
  >"$LOG" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server; exit 0' TERM INT
while kill -0 "$WATCH" 2>/dev/null && kill -0 $server 2>/dev/null; do sleep 1; done
kill $server 2>/dev/null
wait $server"#
        );
        let started = Instant::now();
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir(dir.path())
            .env("SPARK_HOME", &home)
            .env("SPARK_LOCAL_IP", "127.0.0.1")
            .env("LOG", &log)
            .env("WATCH", std::process::id().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sh starts");
        let mut server = SparkServer {
            port,
            dir,
            child: Some(child),
            started_in: Duration::ZERO,
        };
        let deadline = started + START_TIMEOUT;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            let exited = server
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
                .is_some();
            if exited || Instant::now() > deadline {
                let mut text = String::new();
                if let Ok(mut file) = std::fs::File::open(&log) {
                    let _ = file.read_to_string(&mut text);
                }
                let tail: Vec<&str> = text.lines().rev().take(30).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                panic!(
                    "the Spark Connect server did not listen on 127.0.0.1:{port} ({}); its log ends:\n{}",
                    if exited { "it exited" } else { "timed out" },
                    tail.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        server.started_in = started.elapsed();
        Ok(server)
    }

    /// `sc://127.0.0.1:PORT`.
    pub fn remote(&self) -> String {
        format!("sc://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// How long the server took to listen.
    pub fn started_in(&self) -> Duration {
        self.started_in
    }

    /// The server's log file.
    pub fn log(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// Stops the server (its shell stops Spark and waits for it).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }
}

impl Drop for SparkServer {
    fn drop(&mut self) {
        self.stop();
    }
}
