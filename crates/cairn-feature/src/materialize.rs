//! `cairn feature materialize`: computes views into offline tables (Parquet objects pinned in
//! `cairn.lock`) and writes the latest row per entity into the online store. A view whose
//! definition and source data are unchanged, and whose online rows are those of its pinned
//! table, is skipped without reading its source.

use cairn_core::{FeatureEntry, Project};
use cairn_store::{Digest, Progress, WriteGuard};
use polars::prelude::*;
use serde::Serialize;

use crate::online::{NewRow, OnlineStore, ViewInfo};
use crate::view::{self, CREATED, TS};
use crate::{FeatureError, format_micros};

pub struct MaterializeOptions {
    /// Views to materialize; empty: every declared view.
    pub views: Vec<String>,
    /// Materialize even if the source fails its `[dataset]` expectations (recorded in the
    /// lock).
    pub skip_validation: bool,
    /// The time the source's freshness is measured against.
    pub now: std::time::SystemTime,
    /// Only event times at or after this (UTC microseconds).
    pub start: Option<i64>,
    /// Only event times before this (UTC microseconds).
    pub end: Option<i64>,
    /// Append only the rows newer than the pinned table's newest event time, and update the
    /// online rows they make newer.
    pub incremental: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct MaterializeOutcome {
    pub views: Vec<ViewOutcome>,
    /// Views no longer declared in cairn.toml whose lock entries and online rows were removed
    /// (a run without view names only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ViewOutcome {
    pub view: String,
    /// Unchanged definition and source: nothing was computed (the online rows may have been
    /// rebuilt from the pinned table).
    pub skipped: bool,
    /// Rows in the offline table.
    pub rows: u64,
    /// Entities (rows) in the online store.
    pub entities: u64,
    /// The offline table's object.
    pub digest: Digest,
    pub size: u64,
    /// The newest event time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    /// `passed` or `skipped` when the source has declared expectations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation: Option<String>,
}

/// The views named (all declared ones if none), checked to exist.
pub(crate) fn select_views(
    project: &Project,
    names: &[String],
) -> Result<Vec<String>, FeatureError> {
    let declared = &project.config().feature_view;
    if names.is_empty() {
        return Ok(declared.keys().cloned().collect());
    }
    names
        .iter()
        .map(|n| {
            if declared.contains_key(n) {
                Ok(n.clone())
            } else {
                Err(FeatureError::UnknownView {
                    name: n.clone(),
                    declared: declared.keys().cloned().collect::<Vec<_>>().join(", "),
                })
            }
        })
        .collect()
}

pub fn materialize(
    project: &Project,
    options: &MaterializeOptions,
    progress: &dyn Progress,
) -> Result<MaterializeOutcome, FeatureError> {
    let names = select_views(project, &options.views)?;
    let store = project.store()?;
    let state = project.state_dir();
    let _guard = WriteGuard::acquire(&state, progress).map_err(|source| FeatureError::Write {
        path: state.join("lock"),
        source,
    })?;
    store.clean_tmp()?;
    let mut lock = project.read_lock()?;
    let mut online = OnlineStore::open(&state)?;
    let mut outcomes = Vec::new();
    progress.start("materializing", names.len() as u64, 0);
    let window_start = options.start.map(format_micros);
    let window_end = options.end.map(format_micros);
    for name in &names {
        let spec = &project.config().feature_view[name];
        let definition = view::definition_digest(project, name, spec);
        let source = view::source_digest(project, spec)?;
        let previous = lock.feature.get(name).cloned();
        if options.incremental
            && let Some(prev) = &previous
            && (prev.definition != definition
                || prev.window_start.is_some()
                || prev.window_end.is_some())
        {
            return Err(FeatureError::IncrementalAfterChange { view: name.clone() });
        }
        // A plain materialize trusts only a whole table: same window, not extended
        // incrementally (late events would be missing).
        let same_window = |e: &FeatureEntry| {
            options.incremental
                || (e.window_start == window_start && e.window_end == window_end && !e.incremental)
        };
        let polars = |e: PolarsError| FeatureError::Polars {
            view: name.clone(),
            message: e.to_string(),
        };
        // The pinned table is still right: nothing is computed. If the online store does not
        // hold its rows (a fresh clone after `data pull`, a deleted online.db), they are
        // rebuilt from it.
        if let Some(entry) = lock.feature.get(name).cloned()
            && entry.definition == definition
            && entry.source == source
            && same_window(&entry)
            && store.has(&entry.digest, entry.size)
        {
            let entities = match online.view(name)? {
                Some(info) if info.offline == entry.digest.to_hex() => info.rows,
                _ => {
                    let table =
                        ParquetReader::new(std::io::Cursor::new(store.read(&entry.digest)?))
                            .finish()
                            .map_err(polars)?;
                    let keys: Vec<String> = view::join_keys(project, spec)
                        .into_iter()
                        .map(|(k, _)| k)
                        .collect();
                    let latest = table
                        .unique_stable(Some(&keys), UniqueKeepStrategy::Last, None)
                        .map_err(polars)?;
                    let rows = online_rows(&latest, &keys, spec.features.keys()).map_err(polars)?;
                    online.replace_view(
                        &ViewInfo {
                            view: name.clone(),
                            rows: rows.len() as u64,
                            offline: entry.digest.to_hex(),
                            definition: definition.to_hex(),
                            ttl_seconds: spec.ttl().map(|d| d.as_secs()),
                            materialized_at: now_micros(),
                        },
                        &rows,
                    )?;
                    rows.len() as u64
                }
            };
            outcomes.push(ViewOutcome {
                view: name.clone(),
                skipped: true,
                rows: entry.rows,
                entities,
                digest: entry.digest,
                size: entry.size,
                end: entry.end.clone(),
                validation: entry.validation.clone(),
            });
            progress.advance(1, 0);
            continue;
        }
        // The source is read once: checked against its declared expectations, then the view
        // is built from it.
        let source_table = cairn_core::table::read_table(&project.root().join(&spec.source))?;
        let validation = match project.config().dataset.get(&spec.source) {
            None => None,
            Some(expectations) => {
                let report = cairn_core::validation::check_frame(
                    &source_table,
                    &spec.source,
                    expectations,
                    options.now,
                )?;
                if report.passed {
                    Some("passed".to_owned())
                } else if options.skip_validation {
                    Some("skipped".to_owned())
                } else {
                    return Err(FeatureError::ValidationFailed {
                        view: name.clone(),
                        report: Box::new(report),
                    });
                }
            }
        };
        let mut table = view::compute_from(project, name, spec, source_table)?;
        let keys: Vec<String> = view::join_keys(project, spec)
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        if options.start.is_some() || options.end.is_some() {
            let ts = col(TS).to_physical().cast(DataType::Int64);
            let mut keep = lit(true);
            if let Some(start) = options.start {
                keep = keep.and(ts.clone().gt_eq(lit(start)));
            }
            if let Some(end) = options.end {
                keep = keep.and(ts.lt(lit(end)));
            }
            table = table.lazy().filter(keep).collect().map_err(polars)?;
        }
        // Incremental: the rows newer than the pinned table's newest event time are appended
        // to it (the view is computed whole, so SQL aggregates see all the history).
        let mut appended = None;
        if options.incremental
            && let Some(prev) = previous.as_ref().filter(|p| store.has(&p.digest, p.size))
        {
            let after = prev
                .end
                .as_deref()
                .and_then(crate::parse_time)
                .unwrap_or(i64::MIN);
            let new_rows = table
                .clone()
                .lazy()
                .filter(col(TS).to_physical().cast(DataType::Int64).gt(lit(after)))
                .collect()
                .map_err(polars)?;
            let old = ParquetReader::new(std::io::Cursor::new(store.read(&prev.digest)?))
                .finish()
                .map_err(polars)?;
            let mut order = keys.clone();
            order.push(TS.to_owned());
            if table.column(CREATED).is_ok() {
                order.push(CREATED.to_owned());
            }
            table = old
                .vstack(&new_rows)
                .map_err(polars)?
                .lazy()
                .sort(
                    order,
                    SortMultipleOptions::default().with_maintain_order(true),
                )
                .collect()
                .map_err(polars)?;
            appended = Some(new_rows);
        }
        let mut bytes = Vec::new();
        ParquetWriter::new(&mut bytes)
            .finish(&mut table)
            .map_err(polars)?;
        let put = store.put_bytes(&bytes)?;
        // Sorted by keys, event time, created time: the last row of each entity is its latest.
        let latest = appended
            .as_ref()
            .unwrap_or(&table)
            .unique_stable(Some(&keys), UniqueKeepStrategy::Last, None)
            .map_err(polars)?;
        let rows = online_rows(&latest, &keys, spec.features.keys()).map_err(polars)?;
        let end = newest(&table).map_err(polars)?.map(format_micros);
        let info = ViewInfo {
            view: name.clone(),
            rows: rows.len() as u64,
            offline: put.digest.to_hex(),
            definition: definition.to_hex(),
            ttl_seconds: spec.ttl().map(|d| d.as_secs()),
            materialized_at: now_micros(),
        };
        let entities = if appended.is_some() {
            online.upsert_rows(&info, &rows)?;
            online.view(name)?.map_or(0, |i| i.rows)
        } else {
            online.replace_view(&info, &rows)?;
            rows.len() as u64
        };
        lock.feature.insert(
            name.clone(),
            FeatureEntry {
                digest: put.digest,
                size: put.size,
                rows: table.height() as u64,
                definition,
                source,
                end: end.clone(),
                window_start: if appended.is_some() {
                    None
                } else {
                    window_start.clone()
                },
                window_end: if appended.is_some() {
                    None
                } else {
                    window_end.clone()
                },
                incremental: appended.is_some(),
                validation: validation.clone(),
            },
        );
        // Pinned view by view: a later view that fails leaves the earlier ones both in the
        // online store and in the lock. The lock names the new table only once it is on disk.
        store.sync()?;
        project
            .write_lock(&lock, &store)
            .map_err(|source| FeatureError::Write {
                path: project.root().join(cairn_core::LOCK_FILE),
                source,
            })?;
        outcomes.push(ViewOutcome {
            view: name.clone(),
            skipped: false,
            rows: table.height() as u64,
            entities,
            digest: put.digest,
            size: put.size,
            end,
            validation,
        });
        progress.advance(1, 0);
    }
    progress.finish();
    // A run over every view also forgets the views cairn.toml no longer declares: their
    // entries leave the lock (gc can then drop their tables) and their rows the online store.
    let mut removed = Vec::new();
    if options.views.is_empty() {
        let declared = &project.config().feature_view;
        removed = lock
            .feature
            .keys()
            .filter(|v| !declared.contains_key(*v))
            .cloned()
            .collect();
        if !removed.is_empty() {
            for view in &removed {
                lock.feature.remove(view);
            }
            project
                .write_lock(&lock, &store)
                .map_err(|source| FeatureError::Write {
                    path: project.root().join(cairn_core::LOCK_FILE),
                    source,
                })?;
        }
        for view in online.views()? {
            if !declared.contains_key(&view) {
                online.drop_view(&view)?;
                if !removed.contains(&view) {
                    removed.push(view);
                }
            }
        }
    }
    Ok(MaterializeOutcome {
        views: outcomes,
        removed,
    })
}

fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// The newest event time of a computed view, in UTC microseconds.
pub(crate) fn newest(table: &DataFrame) -> PolarsResult<Option<i64>> {
    let max = table
        .column(TS)?
        .as_materialized_series()
        .to_physical_repr()
        .max::<i64>()?;
    Ok(max)
}

/// The online rows of the latest table: a JSON key, the times, the features as JSON.
fn online_rows<'a>(
    latest: &DataFrame,
    keys: &[String],
    features: impl Iterator<Item = &'a String>,
) -> PolarsResult<Vec<NewRow>> {
    let features: Vec<&String> = features.collect();
    let key_cols: Vec<&Column> = keys
        .iter()
        .map(|k| latest.column(k))
        .collect::<PolarsResult<_>>()?;
    let feature_cols: Vec<&Column> = features
        .iter()
        .map(|f| latest.column(f))
        .collect::<PolarsResult<_>>()?;
    let ts = latest.column(TS)?.to_physical_repr();
    let created = match latest.column(CREATED) {
        Ok(c) => Some(c.to_physical_repr()),
        Err(_) => None,
    };
    let mut rows = Vec::with_capacity(latest.height());
    for i in 0..latest.height() {
        let key: Vec<serde_json::Value> = key_cols
            .iter()
            .map(|c| c.get(i).map(|v| json_value(&v)))
            .collect::<PolarsResult<_>>()?;
        let mut object = serde_json::Map::new();
        for (name, column) in features.iter().zip(&feature_cols) {
            object.insert((*name).clone(), json_value(&column.get(i)?));
        }
        rows.push(NewRow {
            key: serde_json::Value::Array(key).to_string(),
            event_us: ts.get(i)?.extract::<i64>().unwrap_or(0),
            created_us: match &created {
                Some(c) => c.get(i)?.extract::<i64>(),
                None => None,
            },
            features: serde_json::Value::Object(object).to_string(),
        });
    }
    Ok(rows)
}

/// A polars value as JSON: numbers, strings, booleans; dates as `YYYY-MM-DD` and datetimes as
/// RFC 3339 (UTC); null, and NaN (which JSON cannot hold), as null.
pub(crate) fn json_value(value: &AnyValue) -> serde_json::Value {
    use serde_json::Value;
    match value {
        AnyValue::Null => Value::Null,
        AnyValue::Boolean(b) => Value::Bool(*b),
        AnyValue::String(s) => Value::String((*s).to_owned()),
        AnyValue::StringOwned(s) => Value::String(s.to_string()),
        AnyValue::Int8(v) => (*v).into(),
        AnyValue::Int16(v) => (*v).into(),
        AnyValue::Int32(v) => (*v).into(),
        AnyValue::Int64(v) => (*v).into(),
        AnyValue::UInt8(v) => (*v).into(),
        AnyValue::UInt16(v) => (*v).into(),
        AnyValue::UInt32(v) => (*v).into(),
        AnyValue::UInt64(v) => (*v).into(),
        AnyValue::Float32(v) => {
            serde_json::Number::from_f64(f64::from(*v)).map_or(Value::Null, Value::Number)
        }
        AnyValue::Float64(v) => serde_json::Number::from_f64(*v).map_or(Value::Null, Value::Number),
        AnyValue::Date(days) => {
            let s = format_micros(i64::from(*days) * 86_400_000_000);
            Value::String(s[..10].to_owned())
        }
        AnyValue::Datetime(v, unit, _) => {
            let us = match unit {
                TimeUnit::Nanoseconds => v.div_euclid(1000),
                TimeUnit::Microseconds => *v,
                TimeUnit::Milliseconds => v * 1000,
            };
            Value::String(format_micros(us))
        }
        other => Value::String(other.to_string()),
    }
}
