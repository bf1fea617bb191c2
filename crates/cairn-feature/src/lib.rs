//! The feature store: feature views declared in `cairn.toml`, computed with polars into
//! offline tables (Parquet objects pinned in `cairn.lock`), the latest row per entity in the
//! online store (`.cairn/online.db`), point-in-time-correct historical joins, and online
//! reads. One code path computes a view for both stores, so training and serving see the same
//! values.

mod historical;
mod latest;
mod materialize;
pub mod online;
pub mod online_redis;
mod plan;
mod sort;
pub mod view;

use std::path::PathBuf;

pub use historical::{
    HistoricalFrame, HistoricalOptions, HistoricalOutcome, historical, historical_frame,
};
pub use materialize::{MaterializeOptions, MaterializeOutcome, ViewOutcome, materialize};
pub use online::{OnlineBackend, OnlineRow, OnlineStore, RawRow, Snapshot, ViewInfo};
pub use online_redis::RedisStore;
pub use plan::{ListOutcome, PlanOutcome, PlannedView, ViewListing, list, plan};
pub use reads::{
    EntityFeatures, OnlineOptions, OnlineOutcome, OnlineReader, SharedOnlineReader, online,
};

mod reads;
#[cfg(feature = "spark")]
mod spark;

#[cfg(test)]
mod tests;

/// The engine that computes views and point-in-time joins, as `[offline]` says: polars in
/// this process, or a session on a Spark Connect server.
pub(crate) enum Engine {
    Polars,
    #[cfg(feature = "spark")]
    Spark(spark::Spark),
}

impl Engine {
    /// The project's engine, connected.
    pub(crate) fn open(project: &cairn_core::Project) -> Result<Self, FeatureError> {
        match project.config().offline.engine() {
            cairn_core::OfflineEngine::Polars => Ok(Engine::Polars),
            #[cfg(feature = "spark")]
            cairn_core::OfflineEngine::Spark(remote) => {
                Ok(Engine::Spark(spark::Spark::connect(&remote)?))
            }
            #[cfg(not(feature = "spark"))]
            cairn_core::OfflineEngine::Spark(_) => Err(FeatureError::SparkNotBuilt),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FeatureError {
    #[error(transparent)]
    Table(#[from] cairn_core::table::TableError),
    #[error("feature_view.{view}: `{column}` {reason}")]
    View {
        view: String,
        column: String,
        reason: String,
    },
    #[error("feature_view.{view}: {message}")]
    Polars { view: String, message: String },
    #[error("no feature view `{name}` is declared in cairn.toml (declared: {declared})")]
    UnknownView { name: String, declared: String },
    #[error("no feature service `{name}` is declared in cairn.toml (declared: {declared})")]
    UnknownService { name: String, declared: String },
    #[error("`{text}` is not a feature reference: write `view:feature`")]
    BadReference { text: String },
    #[error("feature view `{view}` has no feature `{feature}` (it has: {features})")]
    UnknownFeature {
        view: String,
        feature: String,
        features: String,
    },
    #[error("feature view `{view}` has not been materialized")]
    NotMaterialized { view: String },
    #[error("feature view `{view}` changed in cairn.toml since it was last materialized")]
    Stale { view: String },
    #[error("cannot write {path}: its directory does not exist")]
    OutputDirectory { path: PathBuf },
    #[error("cannot write {path}: {source}")]
    Output {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Two requested features would get the same column name: the same feature name from two
    /// views, asked for without the `view__feature` names.
    #[error("feature `{feature}` comes from both `{first}` and `{second}`")]
    NameClash {
        feature: String,
        first: String,
        second: String,
    },
    /// The entity table cannot be used as it is (its time column has the wrong type, polars
    /// cannot join it).
    #[error("{path}: {reason}")]
    Entities { path: PathBuf, reason: String },
    /// The entity table has no column of the time column's name.
    #[error("{path}: no time column `{column}` (it has: {columns})")]
    NoTimeColumn {
        path: PathBuf,
        column: String,
        columns: String,
    },
    /// The entity table lacks a join key of a requested view.
    #[error(
        "{path}: view `{view}` joins on `{key}`, which the entity table lacks (it has: {columns})"
    )]
    NoJoinKey {
        path: PathBuf,
        view: String,
        key: String,
        columns: String,
    },
    /// A requested feature's output name is already a column of the entity table.
    #[error(
        "{path}: the entity table already has a column `{column}`, the name of a requested feature"
    )]
    ColumnTaken { path: PathBuf, column: String },
    /// An entity of an online read (its keys as `key=value,…`) is not right for the request.
    #[error("entity {text}: {reason}")]
    BadEntity { text: String, reason: String },
    #[error("no features requested")]
    NothingRequested,
    #[error(
        "feature_view.{view}: its definition changed, or its table was limited to a window, since it was materialized: new rows cannot be appended to that table"
    )]
    IncrementalAfterChange { view: String },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the online store {path}: {message}")]
    Online { path: PathBuf, message: String },
    /// `.cairn/config.toml` cannot be read (its `[online]` table holds the Redis
    /// credentials).
    #[error(transparent)]
    LocalConfig(cairn_core::ConfigError),
    /// The Redis online store cannot answer (down, slow, refusing the credentials, damaged).
    #[error("the online store {url} cannot answer: {message}")]
    Unavailable { url: String, message: String },
    /// The Spark Connect server of `[offline] remote` does not answer.
    #[error("the Spark Connect server {remote} cannot be reached: {message}")]
    SparkUnreachable { remote: String, message: String },
    /// Spark refused or failed a view's query (its SQL, a source it cannot read), with
    /// Spark's message.
    #[error("feature_view.{view}: Spark: {message}")]
    Spark { view: String, message: String },
    /// `[offline] engine = "spark"` in a cairn built without the `spark` feature.
    #[error(
        "cairn.toml says `[offline] engine = \"spark\"`, but this cairn was built without Spark"
    )]
    SparkNotBuilt,
    #[error(transparent)]
    Store(#[from] cairn_store::StoreError),
    #[error(transparent)]
    Lock(#[from] cairn_core::LockError),
    #[error(transparent)]
    Validation(#[from] cairn_core::validation::ValidationError),
    #[error(
        "feature_view.{view}: its source {} failed validation ({} of {} checks)",
        .report.path,
        .report.checks.iter().filter(|c| !c.passed).count(),
        .report.checks.len()
    )]
    ValidationFailed {
        view: String,
        report: Box<cairn_core::validation::DatasetReport>,
    },
}
