//! The public API of the data crate on real projects in temporary directories: no binary,
//! no network (remotes are directories).
#![allow(clippy::disallowed_methods)] // fixtures are written directly

mod local;
mod models;
mod remote;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use cairn_core::{InitOptions, Project, RemoteConfig};
use cairn_store::{Digest, NoProgress, RelPath};

use crate::*;

/// A cairn project in a temporary directory, with or without git.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    /// A project without git.
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Project::init(dir.path(), &InitOptions { no_git: true }).unwrap();
        Self { dir }
    }

    /// A project at the root of a git repository, with `cairn.toml`, `cairn.lock` and
    /// `.gitignore` committed.
    fn with_git() -> Self {
        let dir = tempfile::tempdir().unwrap();
        git(dir.path(), &["init", "-q", "-b", "main"]);
        Project::init(dir.path(), &InitOptions::default()).unwrap();
        let f = Self { dir };
        f.commit("init");
        f
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The project, opened as a command opens it (a new handle each time, as a new process).
    fn project(&self) -> Project {
        Project::discover(self.root()).unwrap()
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    fn write(&self, rel: &str, content: impl AsRef<[u8]>) {
        let path = self.path(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        // Replace, never write through: the file may be a read-only link into the store.
        let _ = fs::remove_file(&path);
        fs::write(&path, content).unwrap();
        // A new mtime, so that the stat cache cannot vouch for an earlier digest.
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
        fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(later)
            .unwrap();
    }

    fn read(&self, rel: &str) -> Vec<u8> {
        fs::read(self.path(rel)).unwrap()
    }

    fn commit(&self, message: &str) {
        git(self.root(), &["add", "-A"]);
        git(
            self.root(),
            &["commit", "-q", "--allow-empty", "-m", message],
        );
    }

    fn add(&self, paths: &[&str]) -> AddOutcome {
        add(
            &self.project(),
            &AddOptions {
                paths: paths.iter().map(PathBuf::from).collect(),
                cwd: self.root().to_path_buf(),
            },
            &NoProgress,
        )
        .unwrap()
    }

    fn add_err(&self, paths: &[&str]) -> DataError {
        add(
            &self.project(),
            &AddOptions {
                paths: paths.iter().map(PathBuf::from).collect(),
                cwd: self.root().to_path_buf(),
            },
            &NoProgress,
        )
        .unwrap_err()
    }

    fn status(&self, paths: &[&str]) -> StatusOutcome {
        status(&self.project(), &self.status_options(paths, None)).unwrap()
    }

    fn status_options(&self, paths: &[&str], remote: Option<Option<String>>) -> StatusOptions {
        StatusOptions {
            paths: paths.iter().map(PathBuf::from).collect(),
            cwd: self.root().to_path_buf(),
            remote,
        }
    }

    fn checkout(&self, paths: &[&str], force: bool) -> Result<CheckoutOutcome, DataError> {
        checkout(
            &self.project(),
            &CheckoutOptions {
                paths: paths.iter().map(PathBuf::from).collect(),
                cwd: self.root().to_path_buf(),
                rev: None,
                force,
            },
            &NoProgress,
        )
    }

    /// The digest the lock pins for `path`.
    fn pinned(&self, path: &str) -> Digest {
        self.project().read_lock().unwrap().data[&RelPath::new(path).unwrap()].digest
    }

    /// Makes a directory remote named `origin` the default remote.
    fn add_remote(&self, url: &Path) {
        let remote = RemoteConfig {
            url: url.display().to_string(),
            endpoint: None,
            region: None,
            allow_http: None,
            virtual_hosted_style: None,
            jobs: None,
        };
        self.project().add_remote("origin", &remote, true).unwrap();
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@t.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@t.invalid")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Overwrites a stored object (read-only) with other bytes, as damage on disk would.
fn damage(object: &Path, bytes: &[u8]) {
    fs::set_permissions(object, fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(object, bytes).unwrap();
}
