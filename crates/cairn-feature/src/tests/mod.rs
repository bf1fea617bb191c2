//! Tests of the feature store's public API: small projects in temporary directories, driven
//! through the same functions the CLI calls (no binary).
#![allow(clippy::disallowed_methods)] // fixtures are written directly

mod errors;
mod historical;
mod materialize;
mod online;
mod plan;
mod redis;
#[cfg(feature = "spark")]
mod spark;
mod store;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use cairn_core::Project;
use polars::prelude::*;

use crate::{
    FeatureError, HistoricalFrame, HistoricalOptions, MaterializeOptions, MaterializeOutcome,
    OnlineOptions, OnlineOutcome,
};

/// Customer 1: two rows on 2026-01-02 that tie on the event time, the later one created on
/// 01-03; customer 2: one row whose amount is missing.
pub(crate) const EVENTS: &str = "\
customer_id,ts,created,amount,n
1,2026-01-01T00:00:00,2026-01-01T00:00:00,10.0,1
1,2026-01-02T00:00:00,2026-01-02T00:00:00,20.0,2
1,2026-01-02T00:00:00,2026-01-03T00:00:00,25.0,5
2,2026-01-01T12:00:00,2026-01-01T12:00:00,,4
";

/// `stats` has a created column and a 2-day ttl; `ratio` neither (SQL over the same source).
pub(crate) const DEFINITIONS: &str = r#"
[entity.customer]
join_keys = { customer_id = "int" }

[feature_view.stats]
source = "data/events.csv"
entities = ["customer"]
timestamp = "ts"
created = "created"
ttl = "2d"
features = { amount = "float", n = "int" }

[feature_view.ratio]
source = "data/events.csv"
entities = ["customer"]
timestamp = "ts"
sql = "SELECT customer_id, ts, amount / n AS per_item FROM source"
features = { per_item = "float" }

[feature_service.fraud]
features = ["stats:amount", "ratio:per_item"]
"#;

/// Entity rows: before, at and long after the events, before customer 2's only row, an
/// unknown customer, a duplicate.
pub(crate) const ENTITIES: &str = "\
customer_id,event_timestamp,label
1,2026-01-01T23:00:00,0
1,2026-01-02T00:00:00,1
1,2026-01-05T00:00:00,0
2,2026-01-01T11:00:00,1
9,2026-01-02T00:00:00,0
1,2026-01-02T00:00:00,1
";

/// A project without git, with `data/events.csv`, `entities.csv` and the given definitions.
pub(crate) struct Fixture {
    dir: tempfile::TempDir,
    /// `cairn.toml` as `init` wrote it.
    base: String,
}

impl Fixture {
    pub fn new(definitions: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        Project::init(dir.path(), &cairn_core::InitOptions { no_git: true }).unwrap();
        let base = std::fs::read_to_string(dir.path().join("cairn.toml")).unwrap();
        let fixture = Fixture { dir, base };
        fixture.write("data/events.csv", EVENTS);
        fixture.write("entities.csv", ENTITIES);
        fixture.define(definitions);
        fixture
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, text: &str) {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// Replaces the definitions after what `init` wrote.
    pub fn define(&self, definitions: &str) {
        std::fs::write(
            self.path("cairn.toml"),
            format!("{}{definitions}", self.base),
        )
        .unwrap();
    }

    /// The project as `cairn.toml` now declares it.
    pub fn project(&self) -> Project {
        Project::discover(self.dir.path()).unwrap()
    }

    pub fn lock(&self) -> cairn_core::Lock {
        self.project().read_lock().unwrap()
    }

    pub fn materialize(&self, views: &[&str]) -> Result<MaterializeOutcome, FeatureError> {
        self.materialize_with(views, |_| {})
    }

    pub fn materialize_with(
        &self,
        views: &[&str],
        edit: impl FnOnce(&mut MaterializeOptions),
    ) -> Result<MaterializeOutcome, FeatureError> {
        let mut options = MaterializeOptions {
            views: views.iter().map(|v| (*v).to_owned()).collect(),
            skip_validation: false,
            now: SystemTime::now(),
            start: None,
            end: None,
            incremental: false,
            memory_budget: None,
        };
        edit(&mut options);
        crate::materialize(&self.project(), &options, &cairn_store::NoProgress)
    }

    /// The options of a historical join of `entities` (a path in the project).
    pub fn historical_options(&self, entities: &str, features: &[&str]) -> HistoricalOptions {
        HistoricalOptions {
            entities: self.path(entities),
            timestamp: "event_timestamp".to_owned(),
            features: features.iter().map(|f| (*f).to_owned()).collect(),
            service: None,
            full_names: false,
            created_before: false,
            output: self.path("out.parquet"),
        }
    }

    pub fn historical(
        &self,
        entities: &str,
        features: &[&str],
    ) -> Result<HistoricalFrame, FeatureError> {
        crate::historical_frame(
            &self.project(),
            &self.historical_options(entities, features),
        )
    }

    pub fn online_options(&self, entities: &[&str], features: &[&str]) -> OnlineOptions {
        OnlineOptions {
            entities: entities.iter().map(|e| (*e).to_owned()).collect(),
            features: features.iter().map(|f| (*f).to_owned()).collect(),
            service: None,
            full_names: false,
            now: SystemTime::now(),
            at: None,
        }
    }

    /// An online read as of `at` (a time as `parse_time` reads it).
    pub fn online_at(
        &self,
        entities: &[&str],
        features: &[&str],
        at: &str,
    ) -> Result<OnlineOutcome, FeatureError> {
        let mut options = self.online_options(entities, features);
        options.at = Some(time(at));
        crate::online(&self.project(), &options)
    }
}

/// A time as `cairn_core::time::parse_time` reads it, in UTC microseconds.
pub(crate) fn time(text: &str) -> i64 {
    cairn_core::time::parse_time(text).unwrap_or_else(|| panic!("not a time: {text}"))
}

/// A numeric column as floats, nulls as `None`.
pub(crate) fn floats(frame: &DataFrame, name: &str) -> Vec<Option<f64>> {
    let column = frame
        .column(name)
        .unwrap_or_else(|e| panic!("{e}: {frame}"));
    let column = column.cast(&DataType::Float64).unwrap();
    let values = column.f64().unwrap();
    (0..values.len()).map(|i| values.get(i)).collect()
}

/// An integer or datetime column as its physical integers, nulls as `None`.
pub(crate) fn ints(frame: &DataFrame, name: &str) -> Vec<Option<i64>> {
    let column = frame
        .column(name)
        .unwrap_or_else(|e| panic!("{e}: {frame}"));
    let physical = column.to_physical_repr().cast(&DataType::Int64).unwrap();
    let values = physical.i64().unwrap();
    (0..values.len()).map(|i| values.get(i)).collect()
}

/// The column names of a frame.
pub(crate) fn names(frame: &DataFrame) -> Vec<String> {
    frame
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect()
}

/// Writes a frame as a Parquet file.
pub(crate) fn write_parquet(path: &Path, frame: &mut DataFrame) {
    let file = std::fs::File::create(path).unwrap();
    ParquetWriter::new(file).finish(frame).unwrap();
}
