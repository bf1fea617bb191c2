use std::collections::HashSet;
use std::path::{Path, PathBuf};

use cairn_store::RelPath;
use gix::bstr::{BStr, ByteSlice};

/// Git information for a project, through gix.
pub struct Git {
    repo: gix::Repository,
    /// The project root relative to the work tree, `/`-terminated, or empty.
    prefix: String,
}

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("cannot open the git repository that contains {path}: {message}")]
    Open { path: PathBuf, message: String },
    #[error("the git repository has no work tree (it is bare)")]
    Bare,
    #[error("`{rev}` is not a git revision: {message}")]
    BadRevision { rev: String, message: String },
    #[error("git: {0}")]
    Other(String),
}

fn other(e: impl std::fmt::Display) -> GitError {
    GitError::Other(e.to_string())
}

impl Git {
    /// The repository that contains `root`, or `None` if `root` is not inside one.
    pub fn discover(root: &Path) -> Result<Option<Self>, GitError> {
        if !root.ancestors().any(|dir| dir.join(".git").exists()) {
            return Ok(None);
        }
        let open_err = |e: &dyn std::fmt::Display| GitError::Open {
            path: root.to_path_buf(),
            message: e.to_string(),
        };
        let repo = gix::discover(root).map_err(|e| open_err(&e))?;
        let workdir = repo.workdir().ok_or(GitError::Bare)?;
        let workdir = workdir.canonicalize().map_err(|e| open_err(&e))?;
        let root = root.canonicalize().map_err(|e| open_err(&e))?;
        let rel = root.strip_prefix(&workdir).map_err(|e| open_err(&e))?;
        let mut prefix = String::new();
        for part in rel.components() {
            prefix.push_str(&part.as_os_str().to_string_lossy());
            prefix.push('/');
        }
        Ok(Some(Self { repo, prefix }))
    }

    /// Who is acting, as git would record it: `user.name <user.email>` from the repository's
    /// config, then the user's and the system's (as git reads them); `None` when neither is
    /// set.
    pub fn identity(&self) -> Option<String> {
        let config = self.repo.config_snapshot();
        let get = |key: &str| {
            config
                .string(key)
                .map(|v| v.to_string().trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        match (get("user.name"), get("user.email")) {
            (Some(name), Some(email)) => Some(format!("{name} <{email}>")),
            (Some(name), None) => Some(name),
            (None, Some(email)) => Some(format!("<{email}>")),
            (None, None) => None,
        }
    }

    /// The commit HEAD points at, or `None` in a repository without commits.
    pub fn head_commit(&self) -> Result<Option<String>, GitError> {
        let head = self.repo.head().map_err(other)?;
        Ok(head.id().map(|id| id.to_string()))
    }

    /// Whether tracked files differ from HEAD (untracked files do not count).
    pub fn is_dirty(&self) -> Result<bool, GitError> {
        self.repo.is_dirty().map_err(other)
    }

    /// The content of `file` (relative to the project root) at git revision `rev`, or `None`
    /// if the file does not exist in that revision.
    pub fn file_at(&self, rev: &str, file: &str) -> Result<Option<Vec<u8>>, GitError> {
        let bad = |e: &dyn std::fmt::Display| GitError::BadRevision {
            rev: rev.to_string(),
            message: e.to_string(),
        };
        let id = self.repo.rev_parse_single(rev).map_err(|e| bad(&e))?;
        let commit = id
            .object()
            .map_err(|e| bad(&e))?
            .peel_to_commit()
            .map_err(|e| bad(&e))?;
        self.file_in_commit(&commit, file)
    }

    fn file_in_commit(
        &self,
        commit: &gix::Commit<'_>,
        file: &str,
    ) -> Result<Option<Vec<u8>>, GitError> {
        let tree = commit.tree().map_err(other)?;
        let path = format!("{}{file}", self.prefix);
        match tree.lookup_entry_by_path(Path::new(&path)).map_err(other)? {
            Some(entry) if entry.mode().is_blob() => {
                Ok(Some(entry.object().map_err(other)?.data.clone()))
            }
            _ => Ok(None),
        }
    }

    /// Every distinct version of `file` in the history reachable from any branch, tag or HEAD,
    /// with a commit that has it.
    pub fn file_in_history(&self, file: &str) -> Result<Vec<(String, Vec<u8>)>, GitError> {
        let mut tips = Vec::new();
        if let Some(id) = self.repo.head().map_err(other)?.id() {
            tips.push(id.detach());
        }
        for reference in self
            .repo
            .references()
            .map_err(other)?
            .all()
            .map_err(other)?
        {
            let Ok(mut reference) = reference else {
                continue;
            };
            if let Ok(id) = reference.peel_to_id() {
                tips.push(id.detach());
            }
        }
        let mut seen_blobs = HashSet::new();
        let mut out = Vec::new();
        if tips.is_empty() {
            return Ok(out);
        }
        let path = format!("{}{file}", self.prefix);
        for info in self.repo.rev_walk(tips).all().map_err(other)? {
            let info = info.map_err(other)?;
            let Ok(object) = self.repo.find_object(info.id) else {
                continue;
            };
            let Ok(commit) = object.try_into_commit() else {
                continue;
            };
            let tree = commit.tree().map_err(other)?;
            let Some(entry) = tree.lookup_entry_by_path(Path::new(&path)).map_err(other)? else {
                continue;
            };
            if !entry.mode().is_blob() || !seen_blobs.insert(entry.object_id()) {
                continue;
            }
            out.push((
                info.id.to_string(),
                entry.object().map_err(other)?.data.clone(),
            ));
        }
        Ok(out)
    }

    /// A path in git's index that is `path` or lies below it, if any.
    pub fn tracked_at_or_below(&self, path: &RelPath) -> Result<Option<String>, GitError> {
        let index = self.repo.index_or_empty().map_err(other)?;
        let full = format!("{}{}", self.prefix, path);
        let relative = |p: &BStr| {
            p.to_str_lossy()
                .trim_start_matches(&self.prefix)
                .to_string()
        };
        if let Some(entry) = index.entry_by_path(full.as_bytes().as_bstr()) {
            return Ok(Some(relative(entry.path(&index))));
        }
        let dir = format!("{full}/");
        Ok(index
            .prefixed_entries(dir.as_bytes().as_bstr())
            .and_then(|entries| entries.first())
            .map(|entry| relative(entry.path(&index))))
    }
}
