use std::io;
use std::path::PathBuf;

use crate::Digest;

/// What can go wrong in the object store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("object {digest} is not in the local store")]
    Missing { digest: Digest },
    #[error("object {digest} is corrupt: its content hashes to {actual} ({path})")]
    Corrupt {
        digest: Digest,
        actual: Digest,
        path: PathBuf,
    },
    #[error("{path} changed while it was being stored")]
    ChangedWhileReading { path: PathBuf },
    #[error("{path} does not hold a store format version (a number); it was damaged")]
    InvalidVersionFile { path: PathBuf },
    #[error(
        "the store at {path} has format version {found}, but this cairn understands up to version {supported}"
    )]
    UnsupportedVersion {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
}

impl StoreError {
    pub(crate) fn read(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| Self::Read { path, source }
    }

    pub(crate) fn write(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| Self::Write { path, source }
    }
}
