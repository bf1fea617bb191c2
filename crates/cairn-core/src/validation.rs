//! Data validation: a table checked against its `[dataset."PATH"]` expectations
//! ([`crate::dataset`]). The row-level checks are polars expressions evaluated in one pass over
//! the table; examples of failing rows are fetched only for the checks that failed. Used by
//! `cairn data validate` and before a feature view is materialized from the table.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use polars::prelude::*;
use serde::Serialize;

use crate::dataset::{ColumnType, DatasetSpec};
use crate::table::{TableError, collect_streaming};

#[derive(Debug, thiserror::Error)]
pub enum ValidationError {
    #[error(transparent)]
    Table(#[from] TableError),
    #[error("{path}: {message}")]
    Polars { path: String, message: String },
}

/// How many failing rows a check shows.
const EXAMPLES: usize = 3;

#[derive(Debug, Clone, Serialize)]
pub struct DatasetReport {
    pub path: String,
    pub rows: u64,
    pub passed: bool,
    pub checks: Vec<CheckReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// `rows`, `column`, `dtype`, `not_null`, `max_null_share`, `min`, `max`, `allowed`,
    /// `unique` or `freshness`.
    pub check: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// The expectation, in words.
    pub expected: String,
    pub passed: bool,
    /// Rows that break a row-level check (0 for table-level checks).
    pub failing: u64,
    /// What was found: for table-level checks, `dtype` and `max_null_share`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed: Option<String>,
    /// Up to three failing rows.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<Example>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Example {
    /// The row's position in the table, from 1 (in a CSV file, line `row + 1`).
    pub row: u64,
    pub value: String,
}

impl CheckReport {
    fn new(check: &'static str, column: Option<&str>, expected: String) -> Self {
        Self {
            check,
            column: column.map(str::to_owned),
            expected,
            passed: true,
            failing: 0,
            observed: None,
            examples: Vec::new(),
        }
    }

    fn fail(mut self, observed: String) -> Self {
        self.passed = false;
        self.observed = Some(observed);
        self
    }
}

/// A row-level check waiting for its count: the index of its report and the predicate that
/// is true for a failing row.
struct Pending {
    report: usize,
    column: String,
    failing: Expr,
}

/// Checks the table at `root/path` against `spec`; freshness is measured against `now`.
pub fn check_table(
    root: &Path,
    path: &str,
    spec: &DatasetSpec,
    now: SystemTime,
) -> Result<DatasetReport, ValidationError> {
    let full = root.join(path);
    crate::table::with_table(
        &full,
        |table| check_lazy(table, path, spec, now),
        |e| matches!(e, ValidationError::Polars { .. }),
    )
}

/// Checks a table already read (from `path`, named in the report) against `spec`.
pub fn check_frame(
    df: &DataFrame,
    path: &str,
    spec: &DatasetSpec,
    now: SystemTime,
) -> Result<DatasetReport, ValidationError> {
    check_lazy(df.clone().lazy(), path, spec, now)
}

/// Checks a table scanned lazily (from `path`, named in the report) against `spec`, with
/// polars' streaming engine: one pass for the row count, every row-level check and the
/// freshness, one group-by for the uniqueness of keys, and, for a failed check only, one more
/// for its example rows. The table is never wholly in memory.
pub fn check_lazy(
    mut table: LazyFrame,
    path: &str,
    spec: &DatasetSpec,
    now: SystemTime,
) -> Result<DatasetReport, ValidationError> {
    let polars_err = |e: PolarsError| ValidationError::Polars {
        path: path.to_owned(),
        message: e.to_string(),
    };
    let schema = table.collect_schema().map_err(polars_err)?;
    let mut checks = Vec::new();
    let mut pending = Vec::new();
    // Checks whose outcome depends on the row count, settled after the pass: a dtype check
    // (its expected type; a CSV file without rows says nothing about its columns' types), or
    // a bound on a column that is not a number (failed only if there are rows).
    let mut dtype_checks: Vec<(usize, ColumnType, DataType)> = Vec::new();
    let mut text_bounds: Vec<usize> = Vec::new();
    let mut rows_check = None;

    if let Some(bounds) = spec.rows {
        let rows_of = |n: u64| {
            if n == 1 {
                "1 row".to_owned()
            } else {
                format!("{n} rows")
            }
        };
        let expected = match (bounds.min, bounds.max) {
            (Some(a), Some(b)) => format!("between {a} and {}", rows_of(b)),
            (Some(a), None) => format!("at least {}", rows_of(a)),
            (None, Some(b)) => format!("at most {}", rows_of(b)),
            (None, None) => "any number of rows".to_owned(),
        };
        rows_check = Some((checks.len(), bounds));
        checks.push(CheckReport::new("rows", None, expected));
    }

    for (name, column) in &spec.columns {
        let Some(dtype) = schema.get(name.as_str()) else {
            checks.push(
                CheckReport::new("column", Some(name), "exists".into())
                    .fail(format!("missing; the table has {}", column_list(&schema))),
            );
            continue;
        };
        let numeric = dtype.is_primitive_numeric();
        if let Some(want) = column.dtype {
            dtype_checks.push((checks.len(), want, dtype.clone()));
            checks.push(CheckReport::new(
                "dtype",
                Some(name),
                want.as_str().to_owned(),
            ));
        }
        let missing = if dtype.is_float() {
            col(name.as_str()).is_null().or(col(name.as_str()).is_nan())
        } else {
            col(name.as_str()).is_null()
        };
        if column.not_null {
            pending.push(Pending {
                report: checks.len(),
                column: name.clone(),
                failing: missing.clone(),
            });
            checks.push(CheckReport::new(
                "not_null",
                Some(name),
                "no missing value (null or NaN)".into(),
            ));
        }
        if let Some(share) = column.max_null_share {
            pending.push(Pending {
                report: checks.len(),
                column: name.clone(),
                failing: missing.clone(),
            });
            checks.push(CheckReport::new(
                "max_null_share",
                Some(name),
                format!("at most {} missing", percent(share)),
            ));
        }
        for (check, bound) in [("min", column.min), ("max", column.max)] {
            let Some(bound) = bound else { continue };
            let expected = if check == "min" {
                format!(">= {bound}")
            } else {
                format!("<= {bound}")
            };
            if !numeric {
                text_bounds.push(checks.len());
                checks.push(CheckReport::new(check, Some(name), expected));
                continue;
            }
            // Missing values (null, NaN) are the business of not_null, not of the bounds.
            let value = col(name.as_str()).cast(DataType::Float64);
            let failing = if check == "min" {
                value.clone().lt(lit(bound))
            } else {
                value.clone().gt(lit(bound))
            }
            .and(value.is_not_nan());
            pending.push(Pending {
                report: checks.len(),
                column: name.clone(),
                failing,
            });
            checks.push(CheckReport::new(check, Some(name), expected));
        }
        if let Some(allowed) = &column.allowed {
            let values: Vec<String> = allowed.iter().map(ToString::to_string).collect();
            // Integer codes in a numeric column compare as numbers (1 allows 1.0); anything
            // else compares as text. Missing values are not_null's business.
            let codes: Option<Vec<f64>> = allowed
                .iter()
                .map(|c| match c {
                    crate::dataset::Category::Int(v) => Some(*v as f64),
                    crate::dataset::Category::Text(_) => None,
                })
                .collect();
            let is_allowed = match codes {
                Some(codes) if numeric => col(name.as_str()).cast(DataType::Float64).is_in(
                    lit(Series::new("allowed".into(), codes)).implode(false),
                    false,
                ),
                _ => col(name.as_str()).cast(DataType::String).is_in(
                    lit(Series::new("allowed".into(), values.clone())).implode(false),
                    false,
                ),
            };
            let failing = is_allowed.not().and(missing.clone().not());
            pending.push(Pending {
                report: checks.len(),
                column: name.clone(),
                failing,
            });
            checks.push(CheckReport::new(
                "allowed",
                Some(name),
                format!("one of {}", values.join(", ")),
            ));
        }
    }

    // The freshness column's newest value, if it is a date or datetime.
    let freshness = spec.freshness.as_ref().and_then(|fresh| {
        let dtype = schema.get(fresh.column.as_str())?;
        matches!(dtype, DataType::Date | DataType::Datetime(..)).then(|| {
            [
                col(fresh.column.as_str()).max().alias("__newest"),
                col(fresh.column.as_str())
                    .max()
                    .to_physical()
                    .cast(DataType::Int64)
                    .alias("__newest_raw"),
            ]
        })
    });

    // The row count, every row-level count and the newest time in one pass over the table.
    let mut exprs = vec![len().cast(DataType::UInt64).alias("__rows")];
    exprs.extend(pending.iter().enumerate().map(|(i, p)| {
        p.failing
            .clone()
            .cast(DataType::UInt64)
            .sum()
            .alias(format!("c{i}"))
    }));
    exprs.extend(freshness.into_iter().flatten());
    // Every column is read, so that a row that does not parse (a ragged CSV line) fails the
    // validation even when no check names its column.
    exprs.extend(
        schema
            .iter_names()
            .enumerate()
            .map(|(i, name)| col(name.as_str()).null_count().alias(format!("__read{i}"))),
    );
    let counts = collect_streaming(table.clone().select(exprs)).map_err(polars_err)?;
    let first = |name: &str| {
        counts
            .column(name)
            .and_then(|c| c.get(0))
            .map_err(polars_err)
    };
    let rows = first("__rows")?.extract::<u64>().unwrap_or(0);

    if let Some((index, bounds)) = rows_check {
        let (min, max) = (bounds.min.unwrap_or(0), bounds.max.unwrap_or(u64::MAX));
        let check = &mut checks[index];
        check.observed = Some(rows.to_string());
        check.passed = (min..=max).contains(&rows);
    }
    for (index, want, dtype) in dtype_checks {
        let check = &mut checks[index];
        check.observed = Some(dtype.to_string());
        // A CSV file without rows says nothing about its columns' types.
        if rows == 0 && matches!(dtype, DataType::String) {
            check.observed = Some("unknown (no rows)".into());
        } else if !dtype_matches(want, &dtype) {
            check.passed = false;
        }
    }
    for index in text_bounds {
        let check = &mut checks[index];
        if rows > 0 {
            let dtype = check
                .column
                .as_deref()
                .and_then(|c| schema.get(c))
                .map(ToString::to_string)
                .unwrap_or_default();
            check.passed = false;
            check.observed = Some(format!("the column is {dtype}, not a number"));
        }
    }

    for (i, p) in pending.iter().enumerate() {
        let failing = first(&format!("c{i}"))?.extract::<u64>().unwrap_or(0);
        let check = &mut checks[p.report];
        check.failing = failing;
        let passed = match check.check {
            "max_null_share" => {
                let share = spec.columns[&p.column].max_null_share.unwrap_or(1.0);
                rows == 0 || failing as f64 <= share * rows as f64
            }
            _ => failing == 0,
        };
        if check.check == "max_null_share" {
            check.observed = Some(format!(
                "{} missing ({failing} of {rows})",
                percent(if rows == 0 {
                    0.0
                } else {
                    failing as f64 / rows as f64
                })
            ));
        }
        if !passed {
            check.passed = false;
            check.examples = examples(&table, &p.failing, &p.column).map_err(polars_err)?;
        }
    }

    if !spec.unique.is_empty() {
        let expected = format!("no two rows share {}", spec.unique.join(", "));
        let absent: Vec<&String> = spec
            .unique
            .iter()
            .filter(|c| schema.get(c.as_str()).is_none())
            .collect();
        if absent.is_empty() {
            let keys: Vec<Expr> = spec.unique.iter().map(|k| col(k.as_str())).collect();
            // The keys that more than one row has, with their row counts: as many entries as
            // there are distinct duplicated keys, not rows.
            let shared = table
                .clone()
                .group_by(keys.clone())
                .agg([len().cast(DataType::UInt64).alias("__n")])
                .filter(col("__n").gt(lit(1u64)));
            let total =
                collect_streaming(shared.clone().select([col("__n").sum()])).map_err(polars_err)?;
            let failing = total
                .column("__n")
                .and_then(|c| c.get(0))
                .map_err(polars_err)?
                .extract::<u64>()
                .unwrap_or(0);
            let mut check = CheckReport::new("unique", None, expected);
            check.failing = failing;
            if failing > 0 {
                check.passed = false;
                check.observed = Some(format!("{failing} rows share their key with another"));
                let shown = table
                    .clone()
                    .select(keys.clone())
                    .with_row_index("__cairn_row", None)
                    .join(
                        shared.select(keys.clone()),
                        keys.clone(),
                        keys,
                        JoinArgs {
                            nulls_equal: true,
                            ..JoinArgs::new(JoinType::Inner)
                        },
                    )
                    .sort(["__cairn_row"], SortMultipleOptions::default())
                    .limit(EXAMPLES as IdxSize);
                let shown = collect_streaming(shown).map_err(polars_err)?;
                let positions = shown.column("__cairn_row").map_err(polars_err)?;
                let values = shown
                    .select(spec.unique.iter().map(String::as_str))
                    .map_err(polars_err)?;
                for n in 0..shown.height() {
                    let row = positions
                        .get(n)
                        .map_err(polars_err)?
                        .extract::<u64>()
                        .unwrap_or(0)
                        + 1;
                    let value = values
                        .get_row(n)
                        .map(|r| r.0.iter().map(show).collect::<Vec<_>>().join(", "))
                        .unwrap_or_default();
                    check.examples.push(Example { row, value });
                }
            }
            checks.push(check);
        } else {
            let missing: Vec<&str> = absent.iter().map(|s| s.as_str()).collect();
            checks.push(CheckReport::new("unique", None, expected).fail(format!(
                "no column {}; the table has {}",
                missing.join(", "),
                column_list(&schema)
            )));
        }
    }

    if let Some(fresh) = &spec.freshness {
        let max_age = fresh.max_age();
        let expected = format!(
            "newest {} at most {} old",
            fresh.column,
            fresh.max_age.trim()
        );
        let check = CheckReport::new("freshness", Some(&fresh.column), expected);
        checks.push(match schema.get(fresh.column.as_str()) {
            None => check.fail(format!("missing; the table has {}", column_list(&schema))),
            Some(dtype) => match newest_seconds(&counts, dtype).map_err(polars_err)? {
                Err(why) => check.fail(why),
                Ok(None) => check.fail("no value (the column is empty or all null)".into()),
                Ok(Some((seconds, shown))) => {
                    let now = now
                        .duration_since(UNIX_EPOCH)
                        .unwrap_or_default()
                        .as_secs_f64();
                    let age = (now - seconds).max(0.0);
                    let observed = format!("{shown} ({} old)", human_age(age));
                    if age > max_age.as_secs_f64() {
                        check.fail(observed)
                    } else {
                        CheckReport {
                            observed: Some(observed),
                            ..check
                        }
                    }
                }
            },
        });
    }

    Ok(DatasetReport {
        path: path.to_owned(),
        rows,
        passed: checks.iter().all(|c| c.passed),
        checks,
    })
}

/// Up to [`EXAMPLES`] rows where `failing` holds: their position and the column's value.
fn examples(table: &LazyFrame, failing: &Expr, column: &str) -> PolarsResult<Vec<Example>> {
    let found = collect_streaming(
        table
            .clone()
            .with_row_index("__cairn_row", None)
            .filter(failing.clone())
            .select([col("__cairn_row"), col(column)])
            .limit(EXAMPLES as IdxSize),
    )?;
    let rows = found.column("__cairn_row")?;
    let values = found.column(column)?;
    (0..found.height())
        .map(|i| {
            Ok(Example {
                row: rows.get(i)?.extract::<u64>().unwrap_or(0) + 1,
                value: show(&values.get(i)?),
            })
        })
        .collect()
}

/// The newest value of a date or datetime column (`__newest` and `__newest_raw` of the pass),
/// as seconds since the epoch (UTC) and as text; `Err` says why the column cannot be used.
fn newest_seconds(
    counts: &DataFrame,
    dtype: &DataType,
) -> PolarsResult<Result<Option<(f64, String)>, String>> {
    let per_second = match dtype {
        DataType::Date => 1.0 / 86_400.0,
        DataType::Datetime(TimeUnit::Milliseconds, _) => 1e3,
        DataType::Datetime(TimeUnit::Microseconds, _) => 1e6,
        DataType::Datetime(TimeUnit::Nanoseconds, _) => 1e9,
        other => {
            return Ok(Err(format!(
                "the column is {other}, not a date or datetime (CSV values must be ISO 8601)"
            )));
        }
    };
    let raw = counts.column("__newest_raw")?.get(0)?;
    let Some(raw) = raw.extract::<i64>() else {
        return Ok(Ok(None));
    };
    let shown = show(&counts.column("__newest")?.get(0)?);
    Ok(Ok(Some((raw as f64 / per_second, shown))))
}

fn dtype_matches(want: ColumnType, have: &DataType) -> bool {
    match want {
        ColumnType::Int => have.is_integer(),
        ColumnType::Float => have.is_float(),
        ColumnType::String => matches!(have, DataType::String),
        ColumnType::Bool => matches!(have, DataType::Boolean),
        ColumnType::Date => matches!(have, DataType::Date),
        ColumnType::Datetime => matches!(have, DataType::Datetime(..)),
    }
}

fn show(value: &AnyValue) -> String {
    match value {
        AnyValue::Null => "null".to_owned(),
        AnyValue::String(s) => (*s).to_owned(),
        AnyValue::StringOwned(s) => s.to_string(),
        AnyValue::Float64(v) => v.to_string(),
        AnyValue::Float32(v) => v.to_string(),
        other => other.to_string(),
    }
}

fn column_list(schema: &Schema) -> String {
    let names: Vec<&str> = schema.iter_names().map(|n| n.as_str()).collect();
    if names.is_empty() {
        "no columns".to_owned()
    } else {
        names.join(", ")
    }
}

fn percent(share: f64) -> String {
    let p = share * 100.0;
    if (p - p.round()).abs() < 1e-9 {
        format!("{p:.0}%")
    } else {
        format!("{p:.2}%")
    }
}

fn human_age(seconds: f64) -> String {
    let d = Duration::from_secs_f64(seconds);
    let s = d.as_secs();
    if s < 120 {
        format!("{s}s")
    } else if s < 7200 {
        format!("{}m", s / 60)
    } else if s < 2 * 86_400 {
        format!("{}h", s / 3600)
    } else {
        format!("{}d", s / 86_400)
    }
}
