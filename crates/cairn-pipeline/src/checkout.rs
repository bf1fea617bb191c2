//! The project's files at a git commit, written into a directory through gix: the commit's
//! tree below the project's directory, read from the object database. The user's working tree
//! and index are never read or written.

use std::path::{Path, PathBuf};

use gix::bstr::ByteSlice;
use gix::object::tree::EntryKind;

use crate::ReproduceError;

/// The commit a checkout wrote.
pub(crate) struct CheckedOut {
    /// The full commit id.
    pub commit: String,
}

/// Writes the files of the project (at `project_root`, inside a git work tree) as they are in
/// `commit` into `dest` (an empty directory). `Ok(None)` when the repository has no such
/// commit.
pub(crate) fn checkout(
    project_root: &Path,
    commit: &str,
    dest: &Path,
) -> Result<Option<CheckedOut>, ReproduceError> {
    let git = |message: String| ReproduceError::Git {
        commit: commit.to_owned(),
        message,
    };
    let repo = gix::discover(project_root).map_err(|e| git(e.to_string()))?;
    let workdir = repo
        .workdir()
        .ok_or_else(|| git("the repository has no work tree".to_owned()))?
        .canonicalize()
        .map_err(|e| git(e.to_string()))?;
    let root = project_root
        .canonicalize()
        .map_err(|e| git(e.to_string()))?;
    let prefix = root
        .strip_prefix(&workdir)
        .map_err(|e| git(e.to_string()))?
        .to_path_buf();
    let Ok(id) = repo.rev_parse_single(commit) else {
        return Ok(None);
    };
    let Ok(object) = id.object() else {
        return Ok(None);
    };
    let commit_obj = object
        .peel_to_commit()
        .map_err(|e| git(format!("not a commit: {e}")))?;
    let full = commit_obj.id.to_string();
    let mut tree = commit_obj.tree().map_err(|e| git(e.to_string()))?;
    if !prefix.as_os_str().is_empty() {
        let Some(entry) = tree
            .lookup_entry_by_path(&prefix)
            .map_err(|e| git(e.to_string()))?
        else {
            return Err(git(format!(
                "the commit has no directory {}",
                prefix.display()
            )));
        };
        tree = entry
            .object()
            .map_err(|e| git(e.to_string()))?
            .peel_to_tree()
            .map_err(|e| git(e.to_string()))?;
    }
    write_tree(&tree, dest).map_err(|e| git(e.to_string()))?;
    Ok(Some(CheckedOut { commit: full }))
}

#[derive(Debug, thiserror::Error)]
enum WriteError {
    #[error("{0}")]
    Git(String),
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn write_tree(tree: &gix::Tree<'_>, dir: &Path) -> Result<(), WriteError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| WriteError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    for entry in tree.iter() {
        let entry = entry.map_err(|e| WriteError::Git(e.to_string()))?;
        let name = entry.filename().to_str_lossy().into_owned();
        if name.is_empty() || name == "." || name == ".." || name.contains('/') {
            return Err(WriteError::Git(format!(
                "the tree holds an entry named `{name}`"
            )));
        }
        let path = dir.join(&name);
        match entry.mode().kind() {
            EntryKind::Tree => {
                let sub = entry
                    .object()
                    .map_err(|e| WriteError::Git(e.to_string()))?
                    .peel_to_tree()
                    .map_err(|e| WriteError::Git(e.to_string()))?;
                write_tree(&sub, &path)?;
            }
            kind @ (EntryKind::Blob | EntryKind::BlobExecutable) => {
                let object = entry.object().map_err(|e| WriteError::Git(e.to_string()))?;
                let mode = if kind == EntryKind::BlobExecutable {
                    0o755
                } else {
                    0o644
                };
                write_file(&path, &object.data, mode).map_err(io(&path))?;
            }
            EntryKind::Link => {
                let object = entry.object().map_err(|e| WriteError::Git(e.to_string()))?;
                let target = object.data.to_str_lossy().into_owned();
                std::os::unix::fs::symlink(target, &path).map_err(io(&path))?;
            }
            // A submodule's commit: its files are in another repository.
            EntryKind::Commit => {}
        }
    }
    Ok(())
}

/// A new file in the checkout (a directory of the reproduction's own, never the user's).
fn write_file(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    file.write_all(bytes)
}
