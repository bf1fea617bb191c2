//! Helpers for driving the real `cairn` binary in throwaway git repositories, with a pinned
//! environment (HOME, git identity, no colors, no user or system git config).
#![allow(clippy::disallowed_methods)] // tests build fixtures with std::fs::write

/// The in-process S3 server, from `cairn-test-support` (shared with `cargo xtask`).
pub use cairn_test_support::s3;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The `cairn` binary under test: `$CAIRN_BIN`, or the one cargo built next to this test.
pub fn cairn_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("CAIRN_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("the test binary has a path");
    // target/debug/deps/e2e-HASH -> target/debug/cairn
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary in target/*/deps")
        .join("cairn");
    assert!(
        bin.exists(),
        "{} does not exist: run the tests with `cargo test --workspace` (which builds it) or set CAIRN_BIN",
        bin.display()
    );
    bin
}

/// The result of one cairn run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from_output(output: Output) -> Self {
        Self {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Asserts the exit code, showing the output when it differs.
    #[track_caller]
    pub fn code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.code, expected,
            "unexpected exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn ok(&self) -> &Self {
        self.code(0)
    }

    /// The JSON document on stdout.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON document ({e}):\n{}\n{}",
                self.stdout, self.stderr
            )
        })
    }

    #[track_caller]
    pub fn stderr_has(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}:\n{}",
            self.stderr
        );
        self
    }

    #[track_caller]
    pub fn stdout_has(&self, needle: &str) -> &Self {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}:\n{}",
            self.stdout
        );
        self
    }
}

/// A temporary git repository with a cairn project in it.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Default for Project {
    fn default() -> Self {
        Self::new()
    }
}

impl Project {
    /// A git repository with `cairn init` done.
    pub fn new() -> Self {
        let p = Self::bare();
        p.git(&["init", "-q", "-b", "main"]);
        p.cairn(&["init"]).ok();
        p
    }

    /// An empty directory (no git, no cairn).
    pub fn bare() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("cairn-e2e-")
            .tempdir()
            .expect("temp dir");
        Self { dir }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(cairn_bin());
        cmd.args(args).current_dir(self.root());
        pin_env(&mut cmd, self.root());
        cmd.stdin(Stdio::null());
        cmd
    }

    pub fn cairn(&self, args: &[&str]) -> Run {
        Run::from_output(self.command(args).output().expect("cairn runs"))
    }

    /// Runs cairn with extra environment variables (credentials for a remote, say).
    pub fn cairn_env(&self, args: &[&str], env: &[(String, String)]) -> Run {
        let mut cmd = self.command(args);
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        Run::from_output(cmd.output().expect("cairn runs"))
    }

    /// A `git clone` of this project in a new temporary directory: the committed files only,
    /// no `.cairn/` and no data.
    pub fn clone_repo(&self) -> Project {
        let dest = Self::bare();
        let out = Command::new("git")
            .args(["clone", "-q"])
            .arg(self.root())
            .arg(dest.root())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git clone: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        dest
    }

    pub fn cairn_in(&self, dir: &str, args: &[&str]) -> Run {
        let mut cmd = self.command(args);
        cmd.current_dir(self.path(dir));
        Run::from_output(cmd.output().expect("cairn runs"))
    }

    /// Runs cairn with `--json` and returns the document (asserting the exit code).
    #[track_caller]
    pub fn json(&self, args: &[&str], code: i32) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let run = self.cairn(&all);
        run.code(code);
        run.json()
    }

    #[track_caller]
    pub fn git(&self, args: &[&str]) -> String {
        let mut cmd = Command::new("git");
        cmd.args(args).current_dir(self.root());
        pin_env(&mut cmd, self.root());
        let out = cmd.output().expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn commit(&self, message: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
    }

    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) {
        let path = self.path(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        // Replace rather than write through: the file may be a read-only hard link.
        let _ = std::fs::remove_file(&path);
        std::fs::write(&path, content).expect("write fixture");
    }

    pub fn read(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.path(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    pub fn exists(&self, rel: &str) -> bool {
        self.path(rel).symlink_metadata().is_ok()
    }

    pub fn lock_text(&self) -> String {
        String::from_utf8(self.read("cairn.lock")).expect("utf-8 lock")
    }

    /// The object file of a digest.
    pub fn object_path(&self, digest: &str) -> PathBuf {
        self.path(&format!(".cairn/objects/{}/{}", &digest[..2], &digest[2..]))
    }

    /// Writes a seeded tree of `files` small files below `rel`.
    pub fn tree(&self, rel: &str, files: usize, seed: u64) {
        let mut rng = Rng(seed);
        for i in 0..files {
            let size = 1 + (rng.next() % 2048) as usize;
            let content: Vec<u8> = (0..size).map(|_| rng.next() as u8).collect();
            self.write(&format!("{rel}/d{}/f{i}.bin", i % 7), content);
        }
    }
}

/// Environment for reproducible runs: own HOME, fixed git identity and dates, no colors, no
/// config from the machine.
fn pin_env(cmd: &mut Command, home: &Path) {
    // Nothing from the machine leaks in (AWS_* credentials, git settings), except PATH.
    cmd.env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    cmd.env("HOME", home)
        .env("NO_COLOR", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "cairn tests")
        .env("GIT_AUTHOR_EMAIL", "tests@cairn.invalid")
        .env("GIT_COMMITTER_NAME", "cairn tests")
        .env("GIT_COMMITTER_EMAIL", "tests@cairn.invalid")
        .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE");
}

/// A small seeded PRNG (splitmix64) for fixtures.
pub struct Rng(pub u64);

impl Rng {
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            out.extend_from_slice(&self.next().to_le_bytes());
        }
        out.truncate(n);
        out
    }
}
