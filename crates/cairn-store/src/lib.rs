//! cairn's content-addressed object store.
//!
//! Objects are files named by the BLAKE3 digest of their content, under
//! `.cairn/objects/ab/cdef…`. They are written through a temporary file in `.cairn/tmp` and
//! renamed into place, so a killed process never leaves a torn object under a valid name, and
//! they are read-only once written. A directory is stored as a [`Manifest`] object. The
//! [`StatCache`] (SQLite, `.cairn/cairn.db`) remembers the digest of workspace files by their
//! stat data so unchanged files are never hashed twice.
//!
//! The on-disk format is documented in `docs/formats/store.md`.

pub mod atomic;
mod digest;
mod error;
mod guard;
pub mod hash;
mod manifest;
mod progress;
mod relpath;
pub mod remote;
pub mod scan;
mod statcache;
mod store;

pub use digest::{Digest, ParseDigestError};
pub use error::StoreError;
pub use guard::WriteGuard;
pub use manifest::{MANIFEST_VERSION, Manifest, ManifestEntry, ManifestError};
pub use progress::{NoProgress, Progress};
pub use relpath::{RelPath, RelPathError};
pub use remote::{
    PROFILE_KEY, REMOTE_VERSION, Remote, RemoteEnv, RemoteError, RemoteOptions, Transfer,
    TransferFailure,
};
pub use statcache::{
    CacheRows, CachedStat, FileStat, StatCache, StatCacheError, now_ns, open_metadata_db,
};
pub use store::{LinkMode, Put, STORE_VERSION, Store, StoredObject, link_target_digest};
