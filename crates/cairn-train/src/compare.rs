//! Runs side by side: every field any of them has, whether the values differ, and the best
//! value of each metric.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value;

use crate::query::smaller_is_better;
use crate::record::RunRecord;

/// Runs compared field by field.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// The runs' ids, in the order given: the columns.
    pub runs: Vec<String>,
    /// `model`, `algorithm`, `status`, `seed`, `started`, then every param
    /// (`params.NAME`), metric and tag (`tags.NAME`) any of the runs has.
    pub rows: Vec<ComparedField>,
}

/// One field of the compared runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComparedField {
    pub field: String,
    /// Per run, as in its record; `None` where a run has no such field.
    pub values: Vec<Option<Value>>,
    /// Whether the values are not all the same (numbers compared as numbers).
    pub differs: bool,
    /// Per run, the value as text: metrics with 4 decimals, `-` where a run has none.
    pub shown: Vec<String>,
    /// For a metric whose values differ: the run with the best value (the largest, or the
    /// smallest for the metrics where smaller is better).
    #[serde(skip)]
    pub best: Option<usize>,
}

/// Compares `runs`.
pub fn compare(runs: &[RunRecord]) -> Comparison {
    let mut fields: Vec<(String, bool)> = ["model", "algorithm", "status", "seed", "started"]
        .map(|f| (f.to_owned(), false))
        .to_vec();
    let params: BTreeSet<&String> = runs.iter().flat_map(|r| r.params.keys()).collect();
    fields.extend(params.iter().map(|k| (format!("params.{k}"), false)));
    let metrics: BTreeSet<&String> = runs.iter().flat_map(|r| r.metrics.keys()).collect();
    fields.extend(metrics.iter().map(|k| ((*k).clone(), true)));
    let tags: BTreeSet<&String> = runs.iter().flat_map(|r| r.tags.keys()).collect();
    fields.extend(tags.iter().map(|k| (format!("tags.{k}"), false)));
    Comparison {
        runs: runs.iter().map(|r| r.id.clone()).collect(),
        rows: fields
            .into_iter()
            .map(|(field, metric)| compared(runs, field, metric))
            .collect(),
    }
}

fn compared(runs: &[RunRecord], field: String, metric: bool) -> ComparedField {
    let values: Vec<Option<Value>> = runs.iter().map(|r| r.field(&field)).collect();
    let differs = values.iter().any(|v| !same(v, &values[0]));
    let shown = values.iter().map(|v| text(v.as_ref(), metric)).collect();
    let best = (metric && differs).then(|| best_of(runs, &field)).flatten();
    ComparedField {
        field,
        values,
        differs,
        shown,
        best,
    }
}

/// Equal values; numbers compared as numbers (`6` and `6.0` are the same).
fn same(a: &Option<Value>, b: &Option<Value>) -> bool {
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => {
            x == y || matches!((x.as_f64(), y.as_f64()), (Some(x), Some(y)) if x == y)
        }
        _ => a == b,
    }
}

fn text(value: Option<&Value>, metric: bool) -> String {
    match value {
        None => "-".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) if metric => format!("{:.4}", n.as_f64().unwrap_or(f64::NAN)),
        Some(v) => v.to_string(),
    }
}

fn best_of(runs: &[RunRecord], metric: &str) -> Option<usize> {
    let smaller = smaller_is_better(metric);
    runs.iter()
        .enumerate()
        .filter_map(|(i, r)| r.metrics.get(metric).map(|v| (i, *v)))
        .filter(|(_, v)| !v.is_nan())
        .reduce(|a, b| {
            let better = if smaller { b.1 < a.1 } else { b.1 > a.1 };
            if better { b } else { a }
        })
        .map(|(i, _)| i)
}
