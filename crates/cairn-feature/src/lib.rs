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

pub use historical::{
    HistoricalFrame, HistoricalOptions, HistoricalOutcome, historical, historical_frame,
};
pub use materialize::{MaterializeOptions, MaterializeOutcome, ViewOutcome, materialize};
pub use online::{OnlineRow, OnlineStore, RawRow, Snapshot, ViewInfo};
pub use plan::{PlanOutcome, PlannedView, ViewListing, list, plan};
pub use reads::{EntityFeatures, OnlineOptions, OnlineOutcome, OnlineReader, online};

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
    #[error("feature view `{view}` changed in cairn.toml since it was last materialized")]
    Stale { view: String },
    #[error("cannot write {path}: its directory does not exist")]
    OutputDirectory { path: PathBuf },
    #[error("cannot write {path}: {source}")]
    Output {
        path: PathBuf,
        source: std::io::Error,
    },
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

pub use cairn_core::time::format_micros;

/// Parses `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SS` (or with a space), with optional fraction and
/// an optional `Z`, as UTC; microseconds since the epoch.
pub fn parse_time(text: &str) -> Option<i64> {
    let text = text.trim();
    let text = text.strip_suffix('Z').unwrap_or(text);
    let (date, time) = match text.split_once(['T', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (text, None),
    };
    let mut parts = date.splitn(3, '-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let d: i64 = parts.next()?.parse().ok()?;
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in_month = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if !(1..=days_in_month).contains(&d) {
        return None;
    }
    // Howard Hinnant's days-from-civil.
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let mut micros = days * 86_400_000_000;
    if let Some(time) = time {
        let (hms, frac) = match time.split_once('.') {
            Some((hms, frac)) => (hms, Some(frac)),
            None => (time, None),
        };
        let mut hms = hms.splitn(3, ':');
        let h: i64 = hms.next()?.parse().ok()?;
        let mi: i64 = hms.next()?.parse().ok()?;
        let s: i64 = hms.next().unwrap_or("0").parse().ok()?;
        if h > 23 || mi > 59 || s > 60 {
            return None;
        }
        micros += (h * 3600 + mi * 60 + s) * 1_000_000;
        if let Some(frac) = frac {
            if frac.is_empty() || frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let padded = format!("{frac:0<6}");
            micros += padded[..6].parse::<i64>().ok()?;
        }
    }
    Some(micros)
}

#[cfg(test)]
mod tests {
    #[test]
    fn parse_what_format_writes() {
        for us in [0, 1_795_695_676_000_000, -1, 951_782_400_001_500] {
            assert_eq!(super::parse_time(&super::format_micros(us)), Some(us));
        }
        assert_eq!(super::parse_time("2026-01-02"), Some(1_767_312_000_000_000));
        assert_eq!(
            super::parse_time("2026-01-02 00:00:01"),
            Some(1_767_312_001_000_000)
        );
        assert_eq!(super::parse_time("2024-02-29"), Some(1_709_164_800_000_000));
        for bad in [
            "",
            "2026-13-01",
            "2026-11-31",
            "2026-02-29",
            "2026-01-02T25:00:00",
            "yesterday",
            "2026-01-02T00:00:00.x",
        ] {
            assert_eq!(super::parse_time(bad), None, "{bad}");
        }
    }

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
