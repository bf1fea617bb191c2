//! cairn projects: finding the project root, the declared configuration (`cairn.toml`), the
//! machine-written lock file (`cairn.lock`), `.gitignore` upkeep, git information (gix) and
//! reading tracked tables (polars).

mod config;
pub mod dataset;
pub mod drift;
pub mod features;
mod git;
mod gitignore;
mod lock;
pub mod models;
pub mod names;
mod project;
pub mod registry;
mod remotes;
pub mod retrain;
pub mod rng;
pub mod runs;
pub mod table;
pub mod time;
mod toml_error;
pub mod validation;
pub mod workspace;

pub use config::{
    CONFIG_VERSION, CacheConfig, Config, ConfigError, CoreConfig, OfflineConfig, OfflineEngine,
    OnlineConfig, OnlineLocation, RemoteConfig, parse_size,
};
pub use git::{Git, GitError};
pub use gitignore::{GitignoreError, ignore_pattern};
pub use lock::{DataEntry, EntryKind, FeatureEntry, LOCK_VERSION, Lock, LockError};
pub use project::{
    CONFIG_FILE, InitError, InitOptions, InitOutcome, LOCK_FILE, PathError, Project, ProjectError,
    STATE_DIR,
};
pub use remotes::{
    CredentialSource, LOCAL_CONFIG_FILE, LocalOnline, RemoteError, RemoteListing, ResolvedRemote,
};
pub use toml_error::TomlLocation;
