//! One column of one table, reduced to what the statistics need: its finite values sorted
//! (numbers) or its value counts (categories), with the values that never enter a statistic
//! counted apart (nulls, NaN, +inf, -inf). polars does the filtering, sorting and counting.

use polars::prelude::*;

use crate::record::Counts;

/// A column's values on one side.
#[derive(Debug, Clone)]
pub(crate) enum Values {
    /// The finite values, sorted ascending.
    Numeric(Vec<f64>),
    /// Each distinct value and its count, sorted by value.
    Categorical(Vec<(String, u64)>),
}

#[derive(Debug, Clone)]
pub(crate) struct Sample {
    pub counts: Counts,
    pub values: Values,
}

fn polars_err(e: PolarsError) -> String {
    e.to_string()
}

/// The finite values of a `Float64` column, sorted, and its counts: one pass over the column
/// counts what never enters a statistic and copies the rest, then one sort.
pub(crate) fn numeric(series: &Series) -> Result<Sample, String> {
    let ca = series.f64().map_err(polars_err)?;
    let (mut nan, mut pos_inf, mut neg_inf) = (0u64, 0u64, 0u64);
    let mut values: Vec<f64> = Vec::with_capacity(ca.len() - ca.null_count());
    for array in ca.downcast_iter() {
        for v in array.iter().flatten() {
            let v = *v;
            if v.is_finite() {
                values.push(v);
            } else if v.is_nan() {
                nan += 1;
            } else if v > 0.0 {
                pos_inf += 1;
            } else {
                neg_inf += 1;
            }
        }
    }
    // Finite values only: the total order is the numeric one (-0 before +0, which compare
    // equal and so count as one value wherever values are compared).
    values.sort_unstable_by(f64::total_cmp);
    let distinct = distinct_sorted(&values, u64::MAX);
    Ok(Sample {
        counts: Counts {
            rows: ca.len() as u64,
            values: values.len() as u64,
            nulls: ca.null_count() as u64,
            nan,
            pos_inf,
            neg_inf,
            distinct,
        },
        values: Values::Numeric(values),
    })
}

fn special_counts(ca: &Float64Chunked) -> (u64, u64, u64, u64) {
    let count = |mask: BooleanChunked| u64::from(mask.sum().unwrap_or(0));
    (
        ca.null_count() as u64,
        count(ca.is_nan()),
        count(ca.equal(f64::INFINITY)),
        count(ca.equal(f64::NEG_INFINITY)),
    )
}

/// The value counts of a column read as text (or a float column compared as categories:
/// its NaN and infinities are counted apart first, its finite values become text).
pub(crate) fn categorical(series: &Series) -> Result<Sample, String> {
    let name = series.name().clone();
    let (series, nan, pos_inf, neg_inf) = if series.dtype() == &DataType::Float64 {
        let ca = series.f64().map_err(polars_err)?;
        let (_, nan, pos_inf, neg_inf) = special_counts(ca);
        let finite = ca.filter(&ca.is_finite()).map_err(polars_err)?;
        let text = finite
            .into_series()
            .cast(&DataType::String)
            .map_err(polars_err)?;
        (text, nan, pos_inf, neg_inf)
    } else {
        (series.clone(), 0, 0, 0)
    };
    let nulls = series.null_count() as u64;
    let rows = series.len() as u64 + nan + pos_inf + neg_inf;
    let counts_name = if name.as_str() == "count" {
        "__cairn_count"
    } else {
        "count"
    };
    let grouped = DataFrame::new(series.len(), vec![series.with_name(name.clone()).into()])
        .map_err(polars_err)?
        .lazy()
        .filter(col(name.as_str()).is_not_null())
        .group_by([col(name.as_str())])
        .agg([len().alias(counts_name)])
        .sort([name.as_str()], SortMultipleOptions::default())
        .collect()
        .map_err(polars_err)?;
    let keys = grouped
        .column(name.as_str())
        .and_then(|c| c.str().cloned())
        .map_err(polars_err)?;
    let counts = grouped
        .column(counts_name)
        .and_then(|c| c.cast(&DataType::UInt64))
        .map_err(polars_err)?;
    let counts = counts.u64().map_err(polars_err)?;
    let values: Vec<(String, u64)> = keys
        .iter()
        .zip(counts.iter())
        .filter_map(|(k, c)| Some((k?.to_owned(), c?)))
        .collect();
    let total: u64 = values.iter().map(|(_, c)| c).sum();
    Ok(Sample {
        counts: Counts {
            rows,
            values: total,
            nulls,
            nan,
            pos_inf,
            neg_inf,
            distinct: values.len() as u64,
        },
        values: Values::Categorical(values),
    })
}

/// A column with no value at all (every row null), of `rows` rows.
pub(crate) fn empty(rows: u64, kind: cairn_core::drift::ColumnType) -> Sample {
    Sample {
        counts: Counts {
            rows,
            nulls: rows,
            ..Counts::default()
        },
        values: match kind {
            cairn_core::drift::ColumnType::Numeric => Values::Numeric(Vec::new()),
            cairn_core::drift::ColumnType::Categorical => Values::Categorical(Vec::new()),
        },
    }
}

/// The number of distinct values of `sorted`, counting no further than `limit + 1`.
pub(crate) fn distinct_sorted(sorted: &[f64], limit: u64) -> u64 {
    let mut n = 0u64;
    let mut last: Option<f64> = None;
    for &v in sorted {
        if last != Some(v) {
            n += 1;
            if n > limit {
                break;
            }
            last = Some(v);
        }
    }
    n
}

/// The distinct values of `a` and `b` (sorted) together, counting no further than
/// `limit + 1`.
pub(crate) fn distinct_union(a: &[f64], b: &[f64], limit: u64) -> u64 {
    let (mut i, mut j, mut n) = (0usize, 0usize, 0u64);
    while i < a.len() || j < b.len() {
        let v = match (a.get(i), b.get(j)) {
            (Some(&x), Some(&y)) => x.min(y),
            (Some(&x), None) => x,
            (None, Some(&y)) => y,
            (None, None) => break,
        };
        n += 1;
        if n > limit {
            break;
        }
        while i < a.len() && a[i] <= v {
            i += 1;
        }
        while j < b.len() && b[j] <= v {
            j += 1;
        }
    }
    n
}

/// Each distinct value of `sorted` and how often it occurs.
pub(crate) fn run_lengths(sorted: &[f64]) -> Vec<(f64, u64)> {
    let mut out: Vec<(f64, u64)> = Vec::new();
    for &v in sorted {
        match out.last_mut() {
            Some((last, n)) if *last == v => *n += 1,
            _ => out.push((v, 1)),
        }
    }
    out
}
