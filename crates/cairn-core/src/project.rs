use std::io;
use std::path::{Component, Path, PathBuf};

use cairn_store::atomic::write_atomic;
use cairn_store::{RelPath, RelPathError, RemoteEnv, StatCache, StatCacheError, Store, StoreError};

use crate::gitignore::{GitignoreError, add_lines, ignore_pattern};
use crate::{Config, ConfigError, Git, GitError, Lock, LockError};

pub const CONFIG_FILE: &str = "cairn.toml";
pub const LOCK_FILE: &str = "cairn.lock";
pub const STATE_DIR: &str = ".cairn";

/// A cairn project: a directory with a `cairn.toml`, usually inside a git work tree.
pub struct Project {
    root: PathBuf,
    config: Config,
    /// Opened once per process: the store remembers what it verified and which link modes
    /// failed, for every command that runs after it (pull = fetch + checkout).
    store: std::sync::OnceLock<Store>,
    /// The environment variables that configure remotes, as the binary read them (see
    /// [`Project::with_remote_env`]); empty unless given.
    remote_env: RemoteEnv,
}

#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("no cairn project found in {start} or any parent directory (no {CONFIG_FILE})")]
    NotFound { start: PathBuf },
    #[error("cannot access {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Config(#[from] ConfigError),
}

#[derive(Debug, thiserror::Error)]
pub enum PathError {
    #[error("{path} is outside the project ({root})")]
    Outside { path: PathBuf, root: PathBuf },
    #[error("{path} is the project root itself")]
    Root { path: PathBuf },
    #[error("{path} is inside `.cairn` or `.git`, which cairn manages itself")]
    Reserved { path: PathBuf },
    #[error(transparent)]
    Invalid(#[from] RelPathError),
}

#[derive(Debug, Default, Clone)]
pub struct InitOptions {
    /// Allow a project outside a git repository.
    pub no_git: bool,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct InitOutcome {
    pub root: PathBuf,
    pub git: bool,
    pub created: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{root} is already a cairn project ({CONFIG_FILE} exists)")]
    AlreadyInitialized { root: PathBuf },
    #[error("{root} is not inside a git repository")]
    NotInGit { root: PathBuf },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Git(#[from] GitError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    StatCache(#[from] StatCacheError),
    #[error(transparent)]
    Gitignore(#[from] GitignoreError),
}

impl Project {
    /// Finds the project that contains `start`: the nearest directory at or above it with a
    /// `cairn.toml`.
    pub fn discover(start: &Path) -> Result<Self, ProjectError> {
        let start = start.canonicalize().map_err(|source| ProjectError::Io {
            path: start.to_path_buf(),
            source,
        })?;
        let root = start
            .ancestors()
            .find(|dir| dir.join(CONFIG_FILE).is_file())
            .ok_or_else(|| ProjectError::NotFound {
                start: start.clone(),
            })?
            .to_path_buf();
        let config = Config::load(&root.join(CONFIG_FILE))?;
        Ok(Self {
            root,
            config,
            store: std::sync::OnceLock::new(),
            remote_env: RemoteEnv::default(),
        })
    }

    /// The project, with the environment variables that configure its remotes (credentials,
    /// endpoints: `AWS_*`, `GOOGLE_*`, `AZURE_*`…). The library never reads the process
    /// environment itself: the binary reads it once and passes it here; without it, remotes
    /// are opened with the project's configuration alone.
    pub fn with_remote_env(mut self, env: RemoteEnv) -> Self {
        self.remote_env = env;
        self
    }

    /// The environment variables given by [`Project::with_remote_env`].
    pub fn remote_env(&self) -> &RemoteEnv {
        &self.remote_env
    }

    /// Creates a project in `dir`: `cairn.toml`, an empty `cairn.lock`, `.cairn/`, and a
    /// `.gitignore` entry for `.cairn/`.
    pub fn init(dir: &Path, options: &InitOptions) -> Result<InitOutcome, InitError> {
        let root = dir.canonicalize().map_err(|source| InitError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
        let config_path = root.join(CONFIG_FILE);
        if config_path.exists() {
            return Err(InitError::AlreadyInitialized { root });
        }
        let git = Git::discover(&root)?;
        if git.is_none() && !options.no_git {
            return Err(InitError::NotInGit { root });
        }
        let mut created = Vec::new();
        let state = root.join(STATE_DIR);
        let store = Store::open(&state)?;
        StatCache::open(&state.join("cairn.db"))?;
        created.push(format!("{STATE_DIR}/"));
        let lock_path = root.join(LOCK_FILE);
        if !lock_path.exists() {
            write_atomic(
                &lock_path,
                store.tmp_dir(),
                Lock::default().to_toml().as_bytes(),
                0o644,
            )
            .map_err(|source| InitError::Write {
                path: lock_path.clone(),
                source,
            })?;
            created.push(LOCK_FILE.to_string());
        }
        if git.is_some() {
            let added = add_lines(&root, store.tmp_dir(), &[format!("/{STATE_DIR}/")])?;
            if !added.is_empty() {
                created.push(".gitignore entry /.cairn/".to_string());
            }
        }
        // Written last: its presence is what makes the directory a project.
        write_atomic(
            &config_path,
            store.tmp_dir(),
            Config::template().as_bytes(),
            0o644,
        )
        .map_err(|source| InitError::Write {
            path: config_path.clone(),
            source,
        })?;
        created.insert(0, CONFIG_FILE.to_string());
        Ok(InitOutcome {
            root,
            git: git.is_some(),
            created,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn state_dir(&self) -> PathBuf {
        self.root.join(STATE_DIR)
    }

    pub fn lock_path(&self) -> PathBuf {
        self.root.join(LOCK_FILE)
    }

    /// The object store, created on first use (a fresh clone has no `.cairn/`).
    pub fn store(&self) -> Result<Store, StoreError> {
        if let Some(store) = self.store.get() {
            return Ok(store.clone());
        }
        let store = Store::open(&self.state_dir())?;
        Ok(self.store.get_or_init(|| store).clone())
    }

    pub fn stat_cache(&self) -> Result<StatCache, StatCacheError> {
        std::fs::create_dir_all(self.state_dir()).ok();
        StatCache::open(&self.state_dir().join("cairn.db"))
    }

    /// The git repository around the project, if any.
    pub fn git(&self) -> Result<Option<Git>, GitError> {
        Git::discover(&self.root)
    }

    /// The workspace lock. A project without a `cairn.lock` has an empty one.
    pub fn read_lock(&self) -> Result<Lock, LockError> {
        match std::fs::read_to_string(self.lock_path()) {
            Ok(text) => Lock::parse(&text, LOCK_FILE),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Lock::default()),
            Err(e) => Err(LockError::Invalid(format!("cannot read {LOCK_FILE}: {e}"))),
        }
    }

    /// Replaces `cairn.lock` atomically. Objects it refers to must be durable already.
    pub fn write_lock(&self, lock: &Lock, store: &Store) -> io::Result<()> {
        write_atomic(
            &self.lock_path(),
            store.tmp_dir(),
            lock.to_toml().as_bytes(),
            0o644,
        )
    }

    /// Adds `/path` lines to the project's `.gitignore` for paths not listed yet.
    pub fn ignore_in_git(
        &self,
        paths: &[&RelPath],
        store: &Store,
    ) -> Result<Vec<String>, GitignoreError> {
        let lines: Vec<String> = paths.iter().map(|p| ignore_pattern(p)).collect();
        add_lines(&self.root, store.tmp_dir(), &lines)
    }

    /// Turns a path given by the user (relative to `cwd`, or absolute) into a project path.
    /// The path need not exist.
    pub fn resolve(&self, cwd: &Path, user_path: &Path) -> Result<RelPath, PathError> {
        let absolute = normalize(&cwd.join(user_path));
        let relative = match absolute.strip_prefix(&self.root) {
            Ok(rel) => rel.to_path_buf(),
            // The path may name the project through a symlink: resolve its parent.
            Err(_) => {
                let outside = || PathError::Outside {
                    path: user_path.to_path_buf(),
                    root: self.root.clone(),
                };
                let parent = absolute
                    .parent()
                    .ok_or_else(outside)?
                    .canonicalize()
                    .map_err(|_| outside())?;
                let name = absolute.file_name().ok_or_else(outside)?;
                parent
                    .join(name)
                    .strip_prefix(&self.root)
                    .map_err(|_| outside())?
                    .to_path_buf()
            }
        };
        if relative.as_os_str().is_empty() {
            return Err(PathError::Root {
                path: user_path.to_path_buf(),
            });
        }
        if let Some(Component::Normal(first)) = relative.components().next()
            && (first == STATE_DIR || first == ".git")
        {
            return Err(PathError::Reserved {
                path: user_path.to_path_buf(),
            });
        }
        RelPath::from_path(&relative).map_err(|e| {
            if e.reason.contains(".git") {
                PathError::Reserved {
                    path: user_path.to_path_buf(),
                }
            } else {
                PathError::Invalid(e)
            }
        })
    }
}

/// Removes `.` and resolves `..` lexically.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_discover_and_resolve() {
        let dir = tempfile::tempdir().unwrap();
        let err = Project::init(dir.path(), &InitOptions::default()).unwrap_err();
        assert!(matches!(err, InitError::NotInGit { .. }));
        let outcome = Project::init(dir.path(), &InitOptions { no_git: true }).unwrap();
        assert!(!outcome.git);
        assert!(matches!(
            Project::init(dir.path(), &InitOptions { no_git: true }),
            Err(InitError::AlreadyInitialized { .. })
        ));
        let sub = dir.path().join("a/b");
        std::fs::create_dir_all(&sub).unwrap();
        let project = Project::discover(&sub).unwrap();
        assert_eq!(project.root(), dir.path().canonicalize().unwrap());
        let sub = sub.canonicalize().unwrap();
        assert_eq!(
            project.resolve(&sub, Path::new("x.csv")).unwrap().as_str(),
            "a/b/x.csv"
        );
        assert_eq!(
            project
                .resolve(&sub, Path::new("../../y"))
                .unwrap()
                .as_str(),
            "y"
        );
        assert!(matches!(
            project.resolve(&sub, Path::new("../../../z")),
            Err(PathError::Outside { .. })
        ));
        assert!(matches!(
            project.resolve(&sub, Path::new("../..")),
            Err(PathError::Root { .. })
        ));
        assert!(matches!(
            project.resolve(&sub, Path::new("../../.cairn/objects")),
            Err(PathError::Reserved { .. })
        ));
        assert_eq!(project.read_lock().unwrap(), Lock::default());
    }
}
