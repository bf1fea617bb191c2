use std::io;
use std::path::PathBuf;

use cairn_core::workspace::WorkspaceError;
use cairn_core::{GitError, GitignoreError, LockError, PathError};
use cairn_store::scan::ScanError;
use cairn_store::{Digest, ManifestError, RelPath, StatCacheError, StoreError};
use serde::Serialize;

/// An object a command needs that the local store does not have.
#[derive(Debug, Clone, Serialize)]
pub struct MissingObject {
    pub path: RelPath,
    pub digest: Digest,
}

/// A workspace file that checkout would overwrite or delete although its content is not in
/// the store (a local modification that would be lost).
#[derive(Debug, Clone, Serialize)]
pub struct Conflict {
    pub path: String,
    pub reason: &'static str,
}

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error(transparent)]
    Path(#[from] PathError),
    #[error("{path} does not exist")]
    NotFound { path: PathBuf },
    /// Reading the workspace failed: a symbolic link, a special file, a name that is not
    /// UTF-8, a file that cannot be read.
    #[error(transparent)]
    Scan(ScanError),
    #[error("cannot add {path}: {tracked} is tracked by git")]
    TrackedByGit { path: RelPath, tracked: String },
    #[error("cannot add {path}: it overlaps the tracked path {tracked}")]
    Overlap { path: RelPath, tracked: RelPath },
    #[error(transparent)]
    BadPath(#[from] cairn_store::RelPathError),
    #[error("{path} is not tracked")]
    NotTracked { path: RelPath },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("cannot take the project's write lock {path}: {source}")]
    Guard { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    StatCache(#[from] StatCacheError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Runs(#[from] cairn_core::runs::RunsError),
    /// A drift ref in `.cairn/drift/` (what keeps drift records from gc).
    #[error(transparent)]
    DriftRef(#[from] cairn_core::drift::DriftRefError),
    #[error(transparent)]
    Git(#[from] GitError),
    #[error(transparent)]
    Gitignore(#[from] GitignoreError),
    #[error("the manifest of {path} (object {digest}) is invalid: {source}")]
    Manifest {
        path: RelPath,
        digest: Digest,
        source: ManifestError,
    },
    #[error("{} object(s) needed are not in the local store: {}", .objects.len(), list_missing(.objects))]
    MissingObjects { objects: Vec<MissingObject> },
    #[error("{} local change(s) would be lost: {}", .conflicts.len(), list_conflicts(.conflicts))]
    Conflicts { conflicts: Vec<Conflict> },
    #[error("the project is not inside a git repository")]
    NoGit,
    #[error(transparent)]
    Remote(#[from] cairn_store::RemoteError),
    #[error(transparent)]
    RemoteConfig(#[from] cairn_core::RemoteError),
    #[error(
        "{} directory manifest(s) pinned by a lock are neither here nor on the remote, so the files they list are unknown: {}",
        .digests.len(),
        .digests.iter().take(5).map(|d| d.to_string()).collect::<Vec<_>>().join(", ")
    )]
    UnresolvedManifests { digests: Vec<Digest> },
    #[error("{} object(s) could not be fetched: {}", .failures.len(), list_failures(.failures))]
    FetchIncomplete {
        failures: Vec<cairn_store::TransferFailure>,
    },
    #[error("git revision {rev} has no cairn.lock")]
    NoLockInRevision { rev: String },
    #[error(transparent)]
    Validation(#[from] cairn_core::validation::ValidationError),
    #[error("{}", match path {
        Some(p) => format!("no expectations are declared for {p} in cairn.toml"),
        None => "no expectations are declared in cairn.toml".to_owned(),
    })]
    NoExpectations { path: Option<String> },
}

/// The scan's own kinds of error; a path or stat cache error keeps its usual variant.
impl From<ScanError> for DataError {
    fn from(e: ScanError) -> Self {
        match e {
            ScanError::BadPath(e) => Self::BadPath(e),
            ScanError::StatCache(e) => Self::StatCache(e),
            e => Self::Scan(e),
        }
    }
}

/// The workspace check's errors, as the ones the data commands report themselves.
impl From<WorkspaceError> for DataError {
    fn from(e: WorkspaceError) -> Self {
        match e {
            WorkspaceError::Scan(e) => e.into(),
            WorkspaceError::Store(e) => Self::Store(e),
            WorkspaceError::StatCache(e) => Self::StatCache(e),
            WorkspaceError::Manifest {
                path,
                digest,
                source,
            } => Self::Manifest {
                path,
                digest,
                source,
            },
        }
    }
}

fn list_missing(objects: &[MissingObject]) -> String {
    let mut out: Vec<String> = objects
        .iter()
        .take(5)
        .map(|m| format!("{} ({})", m.digest, m.path))
        .collect();
    if objects.len() > 5 {
        out.push(format!("and {} more", objects.len() - 5));
    }
    out.join(", ")
}

fn list_failures(failures: &[cairn_store::TransferFailure]) -> String {
    let mut out: Vec<String> = failures
        .iter()
        .take(5)
        .map(|f| format!("{} ({})", f.digest, f.reason))
        .collect();
    if failures.len() > 5 {
        out.push(format!("and {} more", failures.len() - 5));
    }
    out.join(", ")
}

fn list_conflicts(conflicts: &[Conflict]) -> String {
    let mut out: Vec<String> = conflicts
        .iter()
        .take(5)
        .map(|c| format!("{} ({})", c.path, c.reason))
        .collect();
    if conflicts.len() > 5 {
        out.push(format!("and {} more", conflicts.len() - 5));
    }
    out.join(", ")
}
