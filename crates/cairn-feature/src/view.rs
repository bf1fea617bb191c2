//! Computing a feature view: its source table, its SQL, its columns cast to the declared types
//! and its timestamps normalised to UTC microseconds. One code path for the offline table and
//! the online store.

use cairn_core::Project;
use cairn_core::dataset::ColumnType;
use cairn_core::features::FeatureViewSpec;
use cairn_core::table::collect_streaming;
use cairn_store::Digest;
use polars::prelude::*;

use crate::FeatureError;

/// The event time column of every computed view, whatever the source calls it.
pub const TS: &str = "event_timestamp";
/// The tie-breaking column, when the view has one.
pub const CREATED: &str = "created_timestamp";

/// A view's join keys in order (entity by entity, key names sorted within an entity), with
/// their types.
pub fn join_keys(project: &Project, spec: &FeatureViewSpec) -> Vec<(String, ColumnType)> {
    let entities = &project.config().entity;
    let mut keys = Vec::new();
    for entity in &spec.entities {
        if let Some(e) = entities.get(entity) {
            for (k, t) in &e.join_keys {
                if !keys.iter().any(|(n, _)| n == k) {
                    keys.push((k.clone(), *t));
                }
            }
        }
    }
    keys
}

/// The digest of a view's definition: its `cairn.toml` table and its entities' keys, as
/// canonical JSON.
pub fn definition_digest(project: &Project, name: &str, spec: &FeatureViewSpec) -> Digest {
    let doc = serde_json::json!({
        "view": name,
        "spec": spec,
        "join_keys": join_keys(project, spec)
            .iter()
            .map(|(k, t)| (k.clone(), t.as_str()))
            .collect::<Vec<_>>(),
        "format": 1,
    });
    Digest::of(doc.to_string().as_bytes())
}

/// The digest of a source table's content: each file's path (relative to the source) and
/// BLAKE3 digest.
pub fn source_digest(project: &Project, spec: &FeatureViewSpec) -> Result<Digest, FeatureError> {
    Ok(cairn_core::table::content_digest(
        &project.root().join(&spec.source),
    )?)
}

/// Runs `query` over the view's source, scanned lazily (see
/// [`cairn_core::table::with_table`]: a CSV value that does not fit the type guessed from the
/// first rows makes the query run again with types guessed from every row).
pub fn with_source<T>(
    project: &Project,
    spec: &FeatureViewSpec,
    query: impl Fn(LazyFrame) -> Result<T, FeatureError>,
) -> Result<T, FeatureError> {
    cairn_core::table::with_table(&project.root().join(&spec.source), query, |e| {
        matches!(e, FeatureError::Polars { .. } | FeatureError::Validation(_))
    })
}

/// Computes a view, lazily: keys, `event_timestamp`, `created_timestamp` (if declared) and
/// the features, sorted by keys, then event time, then created time (stable: ties keep the
/// source's order). Nothing is read here but the source's schema (and, for a text column that
/// must take another type, whether it holds any value); the caller runs the query, with
/// polars' streaming engine.
pub fn compute(
    project: &Project,
    name: &str,
    spec: &FeatureViewSpec,
    source: LazyFrame,
) -> Result<LazyFrame, FeatureError> {
    let view = compute_unsorted(project, name, spec, source)?;
    Ok(view.table.sort(
        view.order,
        SortMultipleOptions::default().with_maintain_order(true),
    ))
}

/// A view's rows in the source's order, and the columns [`compute`] sorts them by.
pub struct Unsorted {
    pub table: LazyFrame,
    /// The join keys, [`TS`], then [`CREATED`] if the view has it.
    pub order: Vec<String>,
}

/// [`compute`] without the sort, which materialize does within a memory budget
/// (`crate::sort`).
pub fn compute_unsorted(
    project: &Project,
    name: &str,
    spec: &FeatureViewSpec,
    source: LazyFrame,
) -> Result<Unsorted, FeatureError> {
    let err = |column: &str, reason: String| FeatureError::View {
        view: name.to_owned(),
        column: column.to_owned(),
        reason,
    };
    let polars = |e: PolarsError| FeatureError::Polars {
        view: name.to_owned(),
        message: e.to_string(),
    };
    let mut table = match &spec.sql {
        None => source,
        Some(sql) => {
            let mut ctx = polars::sql::SQLContext::new();
            ctx.register("source", source.clone());
            match ctx
                .execute(sql)
                .and_then(|mut view| view.collect_schema().map(|_| view))
            {
                Ok(view) => view,
                // A source without rows (a CSV file with only a header) has text columns, on
                // which the SQL's arithmetic may not type-check. Over no rows, the view has no
                // rows: its declared columns, untyped, so that they take the declared types.
                Err(_) if is_empty(source.clone()).map_err(polars)? => {
                    let mut names: Vec<String> = join_keys(project, spec)
                        .into_iter()
                        .map(|(k, _)| k)
                        .collect();
                    names.push(spec.timestamp.clone());
                    names.extend(spec.created.clone());
                    names.extend(spec.features.keys().cloned());
                    DataFrame::new(
                        0,
                        names
                            .iter()
                            .map(|n| Column::full_null(n.as_str().into(), 0, &DataType::Null))
                            .collect(),
                    )
                    .map_err(polars)?
                    .lazy()
                }
                Err(e) => return Err(err("sql", e.to_string())),
            }
        }
    };
    let schema = table.collect_schema().map_err(polars)?;
    let available = || {
        schema
            .iter_names()
            .map(|n| n.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    // A text column without a single value (a CSV file with only a header, an empty column)
    // carries no type: it takes the declared one. Asked of the data only for a text column
    // that must become something else.
    let column = |column: &str, what: &str, text: bool| -> Result<DataType, FeatureError> {
        let dtype = schema.get(column).cloned().ok_or_else(|| {
            err(
                column,
                format!(
                    "the {what} column is not in the source (it has: {})",
                    available()
                ),
            )
        })?;
        let untyped = match dtype {
            DataType::Null => true,
            DataType::String if !text => {
                let all_null = table
                    .clone()
                    .select([col(column).null_count().eq(len()).alias("untyped")]);
                let answer = collect_streaming(all_null).map_err(polars)?;
                answer
                    .column("untyped")
                    .and_then(|c| c.get(0))
                    .map_err(polars)?
                    .extract_bool()
                    .unwrap_or(false)
            }
            _ => false,
        };
        Ok(if untyped { DataType::Null } else { dtype })
    };
    let mut exprs = Vec::new();
    let mut sort_by = Vec::new();
    for (key, dtype) in join_keys(project, spec) {
        let have = column(&key, "join key", dtype == ColumnType::String)?;
        exprs.push(
            cast_to(&key, &have, dtype)
                .map_err(|r| err(&key, r))?
                .alias(key.as_str()),
        );
        sort_by.push(key);
    }
    let ts = column(&spec.timestamp, "timestamp", false)?;
    exprs.push(
        to_utc_micros(&spec.timestamp, &ts)
            .map_err(|r| err(&spec.timestamp, r))?
            .alias(TS),
    );
    sort_by.push(TS.to_owned());
    if let Some(created) = &spec.created {
        let dtype = column(created, "created", false)?;
        exprs.push(
            to_utc_micros(created, &dtype)
                .map_err(|r| err(created, r))?
                .alias(CREATED),
        );
        sort_by.push(CREATED.to_owned());
    }
    for (feature, want) in &spec.features {
        let have = column(feature, "feature", *want == ColumnType::String)?;
        exprs.push(
            cast_to(feature, &have, *want)
                .map_err(|r| err(feature, r))?
                .alias(feature.as_str()),
        );
    }
    // A row without an event time or a join key cannot be placed in time or on an entity: it
    // is left out of both stores.
    let keys_present = sort_by
        .iter()
        .filter(|c| c.as_str() != CREATED)
        .map(|c| col(c.as_str()).is_not_null())
        .reduce(Expr::and)
        .unwrap_or(lit(true));
    Ok(Unsorted {
        table: table.select(exprs).filter(keys_present),
        order: sort_by,
    })
}

/// Whether a table has no rows (a count, streamed).
fn is_empty(table: LazyFrame) -> PolarsResult<bool> {
    let count = collect_streaming(table.select([len().alias("rows")]))?;
    Ok(count.column("rows")?.get(0)?.extract::<u64>() == Some(0))
}

/// A column cast to a declared type, if the types are compatible (widening only).
fn cast_to(name: &str, have: &DataType, want: ColumnType) -> Result<Expr, String> {
    let ok = matches!(have, DataType::Null)
        || match want {
            ColumnType::Int => have.is_integer(),
            ColumnType::Float => have.is_primitive_numeric(),
            ColumnType::String => matches!(have, DataType::String),
            ColumnType::Bool => matches!(have, DataType::Boolean),
            ColumnType::Date => matches!(have, DataType::Date),
            ColumnType::Datetime => matches!(have, DataType::Datetime(..) | DataType::Date),
        };
    if !ok {
        return Err(format!(
            "is {have} in the source, which is not {} (declared)",
            want.as_str()
        ));
    }
    let target = match want {
        ColumnType::Int => DataType::Int64,
        ColumnType::Float => DataType::Float64,
        ColumnType::String => DataType::String,
        ColumnType::Bool => DataType::Boolean,
        ColumnType::Date => DataType::Date,
        ColumnType::Datetime => return to_utc_micros(name, have),
    };
    Ok(col(name).cast(target))
}

/// A date or datetime column as naive UTC microseconds. A zoned datetime is stored as UTC
/// instants already; a naive one is taken as UTC; a date is its midnight, UTC.
pub(crate) fn to_utc_micros(name: &str, have: &DataType) -> Result<Expr, String> {
    let micros = DataType::Datetime(TimeUnit::Microseconds, None);
    match have {
        DataType::Null => Ok(col(name).cast(micros)),
        DataType::Date => Ok(col(name).cast(micros)),
        DataType::Datetime(unit, _) => {
            // The stored instants, whatever the zone; nanoseconds are floored to microseconds.
            let raw = col(name).to_physical().cast(DataType::Int64);
            let us = match unit {
                TimeUnit::Nanoseconds => raw.floor_div(lit(1000i64)),
                TimeUnit::Microseconds => raw,
                TimeUnit::Milliseconds => raw * lit(1000i64),
            };
            Ok(us.cast(micros))
        }
        other => Err(format!(
            "is {other}, not a date or datetime (CSV values must be ISO 8601)"
        )),
    }
}
