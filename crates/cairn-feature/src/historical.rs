//! `cairn feature historical`: the point-in-time join of an entity table (keys and a time per
//! row) with the offline tables of feature views.
//!
//! For an entity row (keys k, time t) and a view V: the candidates are V's rows with keys k and
//! `t - ttl <= event_timestamp <= t` (both inclusive; no ttl, no lower bound; with
//! `created_before`, also `created <= t`). The chosen row is the candidate with the largest
//! (event_timestamp, created); every feature of V comes from it, nulls included. No candidate:
//! every feature of V is null. One output row per entity row, in input order, duplicates
//! kept, the entity table's columns passed through with the types they were read with (a
//! zoned time column keeps its zone; the comparison is on the instant).

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use cairn_core::Project;
use cairn_core::table::{Zones, read_table_with_zones};
use polars::prelude::*;
use serde::Serialize;

use crate::FeatureError;
use crate::reads::{output_names, resolve};
use crate::view::{self, CREATED, TS};

const ROW: &str = "__cairn_row";
const T: &str = "__cairn_t";
/// A row's position in the offline table: among rows with equal (event time, created), the
/// last one wins, as in the online store.
const POS: &str = "__cairn_pos";
/// In the sorted frame of the default join: 0 for a view's row, 1 for an entity row.
const KIND: &str = "__cairn_kind";

/// The columns of both halves of the sorted frame, in one order.
fn frame_columns(keys: &[(String, cairn_core::dataset::ColumnType)]) -> Vec<Expr> {
    let mut columns: Vec<Expr> = keys.iter().map(|(k, _)| col(k.as_str())).collect();
    columns.extend([col(T), col(KIND), col(CREATED), col(POS), col(ROW)]);
    columns
}

pub struct HistoricalOptions {
    /// The entity table (CSV or Parquet): join keys and a time per row.
    pub entities: PathBuf,
    /// The entity table's time column.
    pub timestamp: String,
    pub features: Vec<String>,
    pub service: Option<String>,
    /// Name columns `view__feature`. Without it, two requested features with one name (from
    /// two views) are refused with [`FeatureError::NameClash`].
    pub full_names: bool,
    /// Also require `created <= t` (leave out rows that were backfilled later).
    pub created_before: bool,
    /// Where to write the result: CSV for a `.csv` name, Parquet otherwise.
    pub output: PathBuf,
}

#[derive(Debug, Clone, Serialize)]
pub struct HistoricalOutcome {
    pub rows: u64,
    pub columns: Vec<String>,
    pub views: Vec<String>,
    pub output: PathBuf,
}

/// The point-in-time join in memory: the entity table with the requested features, in input
/// order; also the views read, with the digests of their offline tables.
#[derive(Debug)]
pub struct HistoricalFrame {
    pub frame: DataFrame,
    /// The feature columns added, in request order.
    pub feature_columns: Vec<String>,
    /// View → the digest of the offline table joined.
    pub tables: BTreeMap<String, cairn_store::Digest>,
}

pub fn historical(
    project: &Project,
    options: &HistoricalOptions,
) -> Result<HistoricalOutcome, FeatureError> {
    // An output into a directory that does not exist is the input's fault, found before the
    // join; a write that fails later is the machine's.
    let parent = options
        .output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !parent.is_dir() {
        return Err(FeatureError::OutputDirectory {
            path: options.output.clone(),
        });
    }
    let HistoricalFrame {
        frame: mut out,
        tables,
        ..
    } = historical_frame(project, options)?;
    let polars = |e: PolarsError| FeatureError::Entities {
        path: options.entities.clone(),
        reason: e.to_string(),
    };
    let mut bytes = Vec::new();
    match cairn_core::table::Format::of(&options.output) {
        Some(cairn_core::table::Format::Csv) => CsvWriter::new(&mut bytes)
            .include_header(true)
            .finish(&mut out)
            .map_err(polars)?,
        _ => ParquetWriter::new(&mut bytes)
            .finish(&mut out)
            .map_err(polars)
            .map(drop)?,
    }
    cairn_store::atomic::write_atomic_beside(&options.output, &bytes, 0o644).map_err(|source| {
        FeatureError::Output {
            path: options.output.clone(),
            source,
        }
    })?;
    Ok(HistoricalOutcome {
        rows: out.height() as u64,
        columns: out
            .get_column_names()
            .iter()
            .map(|n| n.to_string())
            .collect(),
        views: tables.into_keys().collect(),
        output: options.output.clone(),
    })
}

/// [`historical`] without writing: the joined frame (`options.output` is not used).
pub fn historical_frame(
    project: &Project,
    options: &HistoricalOptions,
) -> Result<HistoricalFrame, FeatureError> {
    let config = project.config();
    let grouped = resolve(project, &options.features, options.service.as_deref())?;
    let names = output_names(&grouped, options.full_names)?;
    // Read as every table is, except that a zoned datetime keeps its zone: the entity table's
    // columns go back to the user as they were.
    let entities = read_table_with_zones(&options.entities, Zones::Keep)?;
    let bad = |reason: String| FeatureError::Entities {
        path: options.entities.clone(),
        reason,
    };
    let polars = |e: PolarsError| FeatureError::Entities {
        path: options.entities.clone(),
        reason: e.to_string(),
    };
    let schema = entities.schema().clone();
    let columns = || {
        schema
            .iter_names()
            .map(|n| n.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let t_type =
        schema
            .get(options.timestamp.as_str())
            .ok_or_else(|| FeatureError::NoTimeColumn {
                path: options.entities.clone(),
                column: options.timestamp.clone(),
                columns: columns(),
            })?;
    let t = view::to_utc_micros(&options.timestamp, t_type)
        .map_err(|r| bad(format!("`{}` {r}", options.timestamp)))?;
    for (_, _, name) in &names {
        if schema.get(name.as_str()).is_some() {
            return Err(FeatureError::ColumnTaken {
                path: options.entities.clone(),
                column: name.clone(),
            });
        }
    }
    let store = project.store()?;
    let lock = project.read_lock()?;
    let engine = crate::Engine::open(project)?;
    let mut tables = BTreeMap::new();
    let mut out = entities
        .lazy()
        .with_row_index(ROW, None)
        .with_column(t.cast(DataType::Int64).alias(T))
        .collect()
        .map_err(polars)?;
    for (view_name, features) in &grouped {
        let spec = &config.feature_view[view_name];
        let entry = lock
            .feature
            .get(view_name)
            .ok_or_else(|| FeatureError::NotMaterialized {
                view: view_name.clone(),
            })?;
        if entry.definition != view::definition_digest(project, view_name, spec) {
            return Err(FeatureError::Stale {
                view: view_name.clone(),
            });
        }
        tables.insert(view_name.clone(), entry.digest);
        let view_err = |e: PolarsError| FeatureError::Polars {
            view: view_name.clone(),
            message: e.to_string(),
        };
        // Read here for polars; for Spark, checked against its digest and read by the server.
        let offline = match &engine {
            crate::Engine::Polars => ParquetReader::new(Cursor::new(store.read(&entry.digest)?))
                .finish()
                .map_err(view_err)?,
            #[cfg(feature = "spark")]
            crate::Engine::Spark(_) => {
                store.verify(&entry.digest)?;
                let path = store.object_path(&entry.digest);
                let schema = LazyFrame::scan_parquet(
                    PlRefPath::new(path.to_string_lossy().as_ref()),
                    ScanArgsParquet::default(),
                )
                .and_then(|mut table| table.collect_schema())
                .map_err(view_err)?;
                DataFrame::empty_with_schema(&schema)
            }
        };
        let keys = view::join_keys(project, spec);
        let mut left = vec![col(ROW), col(T)];
        for (key, dtype) in &keys {
            if schema.get(key.as_str()).is_none() {
                return Err(FeatureError::NoJoinKey {
                    path: options.entities.clone(),
                    view: view_name.clone(),
                    key: key.clone(),
                    columns: columns(),
                });
            }
            let target = match dtype {
                cairn_core::dataset::ColumnType::Int => DataType::Int64,
                _ => DataType::String,
            };
            left.push(col(key.as_str()).cast(target));
        }
        let has_created = offline.schema().get(CREATED).is_some();
        let mut right = vec![col(POS)];
        right.extend(keys.iter().map(|(k, _)| col(k.as_str())));
        right.push(col(TS).to_physical().cast(DataType::Int64).alias(TS));
        if has_created {
            right.push(
                col(CREATED)
                    .to_physical()
                    .cast(DataType::Int64)
                    .alias(CREATED),
            );
        }
        right.extend(features.iter().map(|f| col(f.as_str())));
        let on: Vec<Expr> = keys.iter().map(|(k, _)| col(k.as_str())).collect();
        let mut within = col(TS).lt_eq(col(T));
        if let Some(ttl) = spec.ttl() {
            within = within.and(col(TS).gt_eq(col(T) - lit(ttl.as_micros() as i64)));
        }
        if options.created_before && has_created {
            within = within.and(col(CREATED).lt_eq(col(T)));
        }
        let mut order = vec![ROW.to_owned(), TS.to_owned()];
        if has_created {
            order.push(CREATED.to_owned());
        }
        order.push(POS.to_owned());
        let chosen = if let Some(chosen) = on_engine(
            &engine,
            &store,
            &entry.digest,
            &out,
            &left,
            &keys,
            view_name,
            features,
            &offline,
            spec.ttl().map(|ttl| ttl.as_micros() as i64),
            options.created_before,
        )? {
            chosen
        } else if options.created_before && has_created {
            // The candidates depend on each entity row's time through `created` too: join every
            // entity row with its key's rows, keep the candidates, take the last.
            let candidates = out
                .clone()
                .lazy()
                .select(left)
                .join(
                    offline
                        .clone()
                        .lazy()
                        .with_row_index(POS, None)
                        .select(right),
                    on.clone(),
                    on,
                    JoinArgs::new(JoinType::Inner),
                )
                .filter(within)
                .sort(order, SortMultipleOptions::default())
                .collect()
                .map_err(view_err)?;
            // Sorted by (row, event time, created, position): the last candidate is chosen.
            candidates
                .unique_stable(Some(&[ROW.to_owned()]), UniqueKeepStrategy::Last, None)
                .map_err(view_err)?
        } else {
            // One sort instead of a join: the entity rows and the view's rows in one frame,
            // ordered by keys, then time, feature rows before entity rows at equal times (the
            // bound is inclusive), feature rows by (created, position). The latest feature row
            // at or before an entity row is then the last one before it in its key's group: a
            // forward fill within each key.
            let key_names: Vec<Expr> = keys.iter().map(|(k, _)| col(k.as_str())).collect();
            let queries = out
                .clone()
                .lazy()
                .select(left)
                .with_columns([
                    col(ROW).cast(DataType::Int64).alias(ROW),
                    lit(NULL).cast(DataType::Int64).alias(POS),
                    lit(NULL).cast(DataType::Int64).alias(CREATED),
                    lit(1i32).alias(KIND),
                ])
                .select(frame_columns(&keys));
            let rows = offline
                .clone()
                .lazy()
                .with_row_index(POS, None)
                .with_columns([
                    lit(NULL).cast(DataType::Int64).alias(ROW),
                    col(POS).cast(DataType::Int64).alias(POS),
                    col(TS).to_physical().cast(DataType::Int64).alias(T),
                    if has_created {
                        col(CREATED)
                            .to_physical()
                            .cast(DataType::Int64)
                            .alias(CREATED)
                    } else {
                        lit(NULL).cast(DataType::Int64).alias(CREATED)
                    },
                    lit(0i32).alias(KIND),
                ])
                .select(frame_columns(&keys));
            let mut order: Vec<String> = keys.iter().map(|(k, _)| k.clone()).collect();
            order.extend([T, KIND, CREATED, POS].map(str::to_owned));
            let is_row = col(KIND).eq(lit(0i32));
            let latest = |e: Expr| -> PolarsResult<Expr> {
                e.fill_null_with_strategy(FillNullStrategy::Forward(None))
                    .over(&key_names)
            };
            let picked_at = latest(
                when(is_row.clone())
                    .then(col(T))
                    .otherwise(lit(NULL).cast(DataType::Int64)),
            )
            .map_err(view_err)?;
            let mut picked_pos = latest(col(POS)).map_err(view_err)?;
            if let Some(ttl) = spec.ttl() {
                let fresh = picked_at
                    .clone()
                    .gt_eq(col(T) - lit(ttl.as_micros() as i64));
                picked_pos = when(fresh)
                    .then(picked_pos)
                    .otherwise(lit(NULL).cast(DataType::Int64));
            }
            let matched = concat([queries, rows], UnionArgs::default())
                .map_err(view_err)?
                .sort(order, SortMultipleOptions::default().with_nulls_last(false))
                .with_column(picked_pos.alias(POS))
                .filter(col(KIND).eq(lit(1i32)))
                .select([col(ROW).cast(IDX_DTYPE).alias(ROW), col(POS)]);
            let mut feature_cols = vec![col(POS).cast(DataType::Int64).alias(POS)];
            feature_cols.extend(features.iter().map(|f| col(f.as_str())));
            matched
                .join(
                    offline
                        .clone()
                        .lazy()
                        .with_row_index(POS, None)
                        .select(feature_cols),
                    [col(POS)],
                    [col(POS)],
                    JoinArgs::new(JoinType::Left),
                )
                .collect()
                .map_err(view_err)?
        };
        let mut picked = vec![col(ROW)];
        for feature in features {
            let name = &names
                .iter()
                .find(|(v, f, _)| v == view_name && f == feature)
                .expect("every requested feature has a name")
                .2;
            picked.push(col(feature.as_str()).alias(name.as_str()));
        }
        out = out
            .lazy()
            .join(
                chosen.lazy().select(picked),
                [col(ROW)],
                [col(ROW)],
                JoinArgs::new(JoinType::Left),
            )
            .collect()
            .map_err(view_err)?;
    }
    let out = out
        .lazy()
        .sort([ROW], SortMultipleOptions::default())
        .drop(Selector::ByName {
            names: [ROW.into(), T.into()].into(),
            strict: true,
        })
        .collect()
        .map_err(polars)?;
    Ok(HistoricalFrame {
        frame: out,
        feature_columns: names.into_iter().map(|(_, _, n)| n).collect(),
        tables,
    })
}

/// The rows chosen for one view by the engine of `[offline]` when it is not polars (`None`
/// for polars, which joins here): the entity rows that have a candidate, `ROW` and the
/// requested features.
#[allow(clippy::too_many_arguments, unused_variables)]
fn on_engine(
    engine: &crate::Engine,
    store: &cairn_store::Store,
    digest: &cairn_store::Digest,
    out: &DataFrame,
    left: &[Expr],
    keys: &[(String, cairn_core::dataset::ColumnType)],
    view: &str,
    features: &[String],
    offline: &DataFrame,
    ttl_micros: Option<i64>,
    created_before: bool,
) -> Result<Option<DataFrame>, FeatureError> {
    match engine {
        crate::Engine::Polars => Ok(None),
        #[cfg(feature = "spark")]
        crate::Engine::Spark(spark) => {
            let view_err = |e: PolarsError| FeatureError::Polars {
                view: view.to_owned(),
                message: e.to_string(),
            };
            // The entity rows, keys cast as for polars, in a temporary Parquet file the server
            // reads (removed when dropped).
            let mut rows = out
                .clone()
                .lazy()
                .select(left)
                .with_column(col(ROW).cast(DataType::Int64))
                .collect()
                .map_err(view_err)?;
            // Spark skips files whose names start with `.` or `_`, as tempfile's do.
            let mut file = tempfile::Builder::new()
                .prefix("entities-")
                .suffix(".parquet")
                .tempfile_in(store.tmp_dir())
                .map_err(|source| FeatureError::Write {
                    path: store.tmp_dir().to_path_buf(),
                    source,
                })?;
            ParquetWriter::new(file.as_file_mut())
                .finish(&mut rows)
                .map_err(view_err)?;
            let schema = offline.schema();
            let features: Vec<(String, DataType)> = features
                .iter()
                .map(|f| {
                    let dtype = schema.get(f.as_str()).cloned().unwrap_or(DataType::Null);
                    (f.clone(), dtype)
                })
                .collect();
            let keys: Vec<String> = keys.iter().map(|(k, _)| k.clone()).collect();
            spark
                .point_in_time(&crate::spark::join::PointInTime {
                    view,
                    entities: file.path(),
                    row: ROW,
                    t: T,
                    offline: &store.object_path(digest),
                    keys: &keys,
                    has_created: schema.get(CREATED).is_some(),
                    ttl_micros,
                    created_before,
                    features: &features,
                })
                .map(Some)
        }
    }
}
