//! The feature store: feature views declared in `cairn.toml`, computed with polars into
//! offline tables (Parquet objects pinned in `cairn.lock`), the latest row per entity in the
//! online store (`.cairn/online.db`), point-in-time-correct historical joins, and online
//! reads. One code path computes a view for both stores, so training and serving see the same
//! values.

mod historical;
mod materialize;
pub mod online;
mod plan;
pub mod view;

use std::path::PathBuf;

pub use historical::{HistoricalOptions, HistoricalOutcome, historical};
pub use materialize::{MaterializeOptions, MaterializeOutcome, ViewOutcome, materialize};
pub use online::{OnlineRow, OnlineStore, ViewInfo};
pub use plan::{PlanOutcome, PlannedView, ViewListing, list, plan};
pub use reads::{EntityFeatures, OnlineOptions, OnlineOutcome, online};

mod reads;

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
    #[error("feature `{feature}` comes from both `{first}` and `{second}`")]
    NameClash {
        feature: String,
        first: String,
        second: String,
    },
    #[error("{path}: {reason}")]
    Entities { path: PathBuf, reason: String },
    #[error("--entity {text}: {reason}")]
    BadEntity { text: String, reason: String },
    #[error("no features requested")]
    NothingRequested,
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

/// Microseconds since the epoch (UTC) as RFC 3339 (`2026-11-26T08:30:00Z`, with a fraction
/// only when there is one).
pub fn format_micros(us: i64) -> String {
    let secs = us.div_euclid(1_000_000);
    let frac = us.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let (h, mi, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    if frac == 0 {
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    } else {
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{frac:06}Z")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339() {
        assert_eq!(super::format_micros(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            super::format_micros(1_795_695_676_000_000),
            "2026-11-26T12:21:16Z"
        );
        assert_eq!(super::format_micros(-1), "1969-12-31T23:59:59.999999Z");
        assert_eq!(
            super::format_micros(951_782_400_000_000 + 1_500),
            "2000-02-29T00:00:00.001500Z"
        );
    }
}
