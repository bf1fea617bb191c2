//! `cairn feature materialize`: computes views into offline tables (Parquet objects pinned in
//! `cairn.lock`) and writes the latest row per entity into the online store. A view whose
//! definition and source data are unchanged, and whose online rows are those of its pinned
//! table, is skipped without reading its source.

use cairn_core::{FeatureEntry, Project};
use cairn_store::{Digest, Progress, WriteGuard};
use polars::prelude::*;
use serde::Serialize;

use crate::FeatureError;
use crate::latest::LatestRows;
use crate::online::{NewRow, NewRows, OnlineBackend, ViewInfo};
use crate::sort::{self, Sorting};
use crate::view::{self, CREATED, TS};
use cairn_core::table::collect_streaming;
use cairn_core::time::{format_micros, parse_time};

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
    /// Bytes the sort of a view may hold in memory (over `[offline] memory_budget`).
    pub memory_budget: Option<u64>,
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
    /// Buckets the view was sorted in through temporary files, one after another, to stay
    /// within the memory budget (0: sorted in memory).
    #[serde(skip_serializing_if = "is_zero")]
    pub sort_buckets: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
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
    let mut online = OnlineBackend::open(project)?;
    // Connected on the first view that must be computed: skipped views need no engine.
    let mut engine: Option<crate::Engine> = None;
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
                    store.verify(&entry.digest)?;
                    let keys: Vec<String> = view::join_keys(project, spec)
                        .into_iter()
                        .map(|(k, _)| k)
                        .collect();
                    let names = feature_names(spec);
                    let mut latest = LatestRows::start(
                        scan_object(&store, &entry.digest).map_err(polars)?,
                        &keys,
                        &names,
                        polars,
                    )?;
                    online.replace_view(
                        &ViewInfo {
                            view: name.clone(),
                            rows: 0,
                            offline: entry.digest.to_hex(),
                            definition: definition.to_hex(),
                            ttl_seconds: spec.ttl().map(|d| d.as_secs()),
                            materialized_at: cairn_core::time::now_micros(),
                        },
                        &names,
                        &mut latest,
                    )?;
                    latest.entities()
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
                sort_buckets: 0,
            });
            progress.advance(1, 0);
            continue;
        }
        // The pinned table extended by --incremental, checked against its digest before it is
        // read.
        let extended = match previous.as_ref() {
            Some(prev) if options.incremental && store.has(&prev.digest, prev.size) => {
                store.verify(&prev.digest)?;
                Some(prev)
            }
            _ => None,
        };
        let after =
            extended.map(|prev| prev.end.as_deref().and_then(parse_time).unwrap_or(i64::MIN));
        let keys: Vec<String> = view::join_keys(project, spec)
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        let engine: &crate::Engine = match &mut engine {
            Some(engine) => engine,
            slot @ None => slot.insert(crate::Engine::open(project)?),
        };
        // The source is scanned, not read: the validation pass, the view's query and the
        // offline table's Parquet writer all run on polars' streaming engine, which holds what
        // a query keeps (the sorted view's columns) rather than the source.
        let put = view::with_source(project, spec, |source| {
            let validation = match project.config().dataset.get(&spec.source) {
                None => None,
                Some(expectations) => {
                    let report = cairn_core::validation::check_lazy(
                        source.clone(),
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
            // The view's rows unsorted: the window and the incremental append below filter
            // and extend them, then `sort::sink_sorted` sorts them within the memory budget.
            let (mut table, order, sorting) = match engine {
                crate::Engine::Polars => {
                    let view = view::compute_unsorted(project, name, spec, source)?;
                    (
                        view.table,
                        view.order,
                        sorting_for(project, spec, extended, options)?,
                    )
                }
                // Computed on the server and received sorted, in memory; the window, the
                // incremental append and the Parquet writer below are the same as for polars.
                #[cfg(feature = "spark")]
                crate::Engine::Spark(spark) => {
                    let mut source = source;
                    let rows = spark.compute_view(project, name, spec, &mut source)?;
                    let mut order = keys.clone();
                    order.push(TS.to_owned());
                    if spec.created.is_some() {
                        order.push(CREATED.to_owned());
                    }
                    (rows.lazy(), order, Sorting::InMemory)
                }
            };
            let ts = || col(TS).to_physical().cast(DataType::Int64);
            if options.start.is_some() || options.end.is_some() {
                let mut keep = lit(true);
                if let Some(start) = options.start {
                    keep = keep.and(ts().gt_eq(lit(start)));
                }
                if let Some(end) = options.end {
                    keep = keep.and(ts().lt(lit(end)));
                }
                table = table.filter(keep);
            }
            // Incremental: the rows newer than the pinned table's newest event time are
            // appended to it (the view is computed whole, so SQL aggregates see all the
            // history).
            if let (Some(prev), Some(after)) = (extended, after) {
                let old = scan_object(&store, &prev.digest).map_err(polars)?;
                table = concat(
                    [old, table.filter(ts().gt(lit(after)))],
                    UnionArgs {
                        rechunk: false,
                        ..UnionArgs::default()
                    },
                )
                .map_err(polars)?;
            }
            let (put, report) = sort::sink_sorted(&store, table, &order, sorting, &polars)?;
            Ok((put, validation, report))
        })?;
        let (put, validation, sort_report) = put;
        // What the online store needs, read back from the table just stored (its Parquet
        // statistics answer the count and the newest time). Sorted by keys, event time,
        // created time: the last row of each entity is its latest.
        let written = scan_object(&store, &put.digest).map_err(polars)?;
        let summary = collect_streaming(
            written.clone().select([
                len().cast(DataType::UInt64).alias("rows"),
                col(TS)
                    .max()
                    .to_physical()
                    .cast(DataType::Int64)
                    .alias("end"),
            ]),
        )
        .map_err(polars)?;
        let value = |c: &str| summary.column(c).and_then(|c| c.get(0)).map_err(polars);
        let table_rows = value("rows")?.extract::<u64>().unwrap_or(0);
        let end = value("end")?.extract::<i64>().map(format_micros);
        let names = feature_names(spec);
        let mut info = ViewInfo {
            view: name.clone(),
            rows: 0,
            offline: put.digest.to_hex(),
            definition: definition.to_hex(),
            ttl_seconds: spec.ttl().map(|d| d.as_secs()),
            materialized_at: cairn_core::time::now_micros(),
        };
        let appended = after.is_some();
        let entities = match after {
            // The rows newer than the old table's newest, merged newer-wins.
            Some(after) => {
                let newer =
                    written.filter(col(TS).to_physical().cast(DataType::Int64).gt(lit(after)));
                let latest = collect_streaming(latest_rows(newer, &keys, spec)).map_err(polars)?;
                info.rows = latest.height() as u64;
                let rows = online_rows(&latest, &keys, &names).map_err(polars)?;
                online.upsert_rows(&info, &NewRows { names, rows })?;
                online.view(name)?.map_or(0, |i| i.rows)
            }
            None => {
                let mut latest = LatestRows::start(written, &keys, &names, polars)?;
                online.replace_view(&info, &names, &mut latest)?;
                latest.entities()
            }
        };
        lock.feature.insert(
            name.clone(),
            FeatureEntry {
                digest: put.digest,
                size: put.size,
                rows: table_rows,
                definition,
                source,
                end: end.clone(),
                window_start: if appended { None } else { window_start.clone() },
                window_end: if appended { None } else { window_end.clone() },
                incremental: appended,
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
            rows: table_rows,
            entities,
            digest: put.digest,
            size: put.size,
            end,
            validation,
            sort_buckets: sort_report.buckets,
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

/// How materialize sorts a view computed with polars: in memory when its source is small
/// beside the budget (`[offline] memory_budget`, or `--memory-budget`, or a quarter of the
/// machine's memory), else spilled (`crate::sort`). The source's size on disk stands for the
/// view's: a view has at most its source's rows, and a table in memory is rarely more than
/// four times its file, while the sort needs about three times its input: so a source of a
/// sixteenth of the budget or more is spilled (the spill then measures the rows, and sorts a
/// view that fits in memory after all in one piece).
fn sorting_for(
    project: &Project,
    spec: &cairn_core::features::FeatureViewSpec,
    extended: Option<&FeatureEntry>,
    options: &MaterializeOptions,
) -> Result<Sorting, FeatureError> {
    let budget = options
        .memory_budget
        .or_else(|| project.config().offline.memory_budget())
        .unwrap_or_else(default_budget);
    let (_, files) = cairn_core::table::table_files(&project.root().join(&spec.source))?;
    let mut bytes: u64 = extended.map_or(0, |e| e.size);
    for file in files {
        bytes += std::fs::metadata(&file)
            .map_err(|source| cairn_core::table::TableError::Io { path: file, source })?
            .len();
    }
    Ok(if bytes.saturating_mul(16) >= budget {
        Sorting::Spill { budget }
    } else {
        Sorting::InMemory
    })
}

/// A quarter of the machine's memory (its cgroup's limit, if lower).
fn default_budget() -> u64 {
    (polars_utils::sys::total_memory() / 4).max(64 << 20)
}

/// The last row of each entity of a table sorted by keys, event time and created time: its
/// latest, in key order. A streaming `group_by` with `last` (polars' reduction keeps the last
/// row by its position in the input, across batches), so that memory grows with the entities,
/// not with the table (`unique` with `keep = last` collected the whole table: 5.7 GiB for a
/// 50M-row view).
fn latest_rows(
    table: LazyFrame,
    keys: &[String],
    spec: &cairn_core::features::FeatureViewSpec,
) -> LazyFrame {
    let mut last = vec![col(TS).last()];
    if spec.created.is_some() {
        last.push(col(CREATED).last());
    }
    last.extend(feature_names(spec).iter().map(|f| col(f.as_str()).last()));
    table
        .group_by(keys.iter().map(|k| col(k.as_str())).collect::<Vec<_>>())
        .agg(last)
        .sort(keys.to_vec(), SortMultipleOptions::default())
}

/// Scans a Parquet object of the store (whose content the caller trusts: it was just written,
/// or verified).
fn scan_object(store: &cairn_store::Store, digest: &Digest) -> PolarsResult<LazyFrame> {
    crate::sort::scan(&store.object_path(digest))
}

/// The view's features, in name order: the order of each online row's values.
fn feature_names(spec: &cairn_core::features::FeatureViewSpec) -> Vec<String> {
    let mut names: Vec<String> = spec.features.keys().cloned().collect();
    names.sort();
    names
}

/// The online rows of (a slice of) the latest table: a JSON key, the times, each feature's
/// value as JSON text, in the order of `names`. Built column by column (a typed pass per
/// column rather than a value lookup per cell).
pub(crate) fn online_rows(
    latest: &DataFrame,
    keys: &[String],
    names: &[String],
) -> PolarsResult<Vec<NewRow>> {
    let height = latest.height();
    let mut key_texts = Vec::with_capacity(keys.len());
    for k in keys {
        key_texts.push(json_texts(latest.column(k)?)?);
    }
    let mut columns = Vec::with_capacity(names.len());
    for name in names {
        columns.push(json_texts(latest.column(name)?)?.into_iter());
    }
    let ts = micros(latest.column(TS)?)?;
    let created = match latest.column(CREATED) {
        Ok(c) => Some(micros(c)?),
        Err(_) => None,
    };
    let mut rows = Vec::with_capacity(height);
    let mut ts = ts.into_iter();
    let mut created = created.map(Vec::into_iter);
    for i in 0..height {
        let mut key = String::with_capacity(16);
        key.push('[');
        for (n, texts) in key_texts.iter().enumerate() {
            if n > 0 {
                key.push(',');
            }
            key.push_str(texts[i].as_deref().unwrap_or("null"));
        }
        key.push(']');
        rows.push(NewRow {
            key,
            event_us: ts.next().flatten().unwrap_or(0),
            created_us: created.as_mut().and_then(|c| c.next().flatten()),
            values: columns.iter_mut().map(|c| c.next().flatten()).collect(),
        });
    }
    Ok(rows)
}

/// A time column's values as UTC microseconds (its physical integers).
fn micros(column: &Column) -> PolarsResult<Vec<Option<i64>>> {
    let physical = column
        .as_materialized_series()
        .to_physical_repr()
        .cast(&DataType::Int64)?;
    Ok(physical.i64()?.iter().collect())
}

/// Each value of a column as compact JSON text, as [`json_value`] makes it (`None` for a
/// null, and for NaN, which JSON cannot hold). Floats and integers are formatted straight
/// from their typed arrays; other types go through [`json_value`].
fn json_texts(column: &Column) -> PolarsResult<Vec<Option<String>>> {
    let series = column.as_materialized_series();
    let float = |v: f64| serde_json::Number::from_f64(v).map(|n| n.to_string());
    Ok(match series.dtype() {
        DataType::Float64 => series.f64()?.iter().map(|v| v.and_then(float)).collect(),
        DataType::Float32 => series
            .f32()?
            .iter()
            .map(|v| v.and_then(|v| float(f64::from(v))))
            .collect(),
        DataType::Int64 => series
            .i64()?
            .iter()
            .map(|v| v.map(|v| v.to_string()))
            .collect(),
        DataType::Int32 => series
            .i32()?
            .iter()
            .map(|v| v.map(|v| v.to_string()))
            .collect(),
        _ => {
            let mut texts = Vec::with_capacity(series.len());
            for i in 0..series.len() {
                texts.push(match json_value(&series.get(i)?) {
                    serde_json::Value::Null => None,
                    other => Some(other.to_string()),
                });
            }
            texts
        }
    })
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
