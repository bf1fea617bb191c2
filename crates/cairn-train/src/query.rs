//! Which runs a listing shows: conditions on their fields, an order, a limit.

use std::cmp::Ordering;

use serde::Serialize;
use serde_json::Value;

use crate::record::Fields;

/// Which runs a listing picks, and in what order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selection {
    /// Only runs of this model.
    pub model: Option<String>,
    /// Only runs that meet every condition (see [`parse_where`]).
    pub conditions: Vec<Condition>,
    /// Sort by this field (see [`sort`]); otherwise oldest first.
    pub sort: Option<String>,
    /// With `sort`: smallest first (`true`) or largest first (`false`) instead of best first.
    pub ascending: Option<bool>,
    /// At most this many runs, after sorting.
    pub limit: Option<usize>,
}

impl Selection {
    /// Filters, sorts and cuts `runs` (given oldest first).
    pub fn apply<T: Fields>(&self, runs: Vec<T>) -> Vec<T> {
        let model = self.model.as_deref().map(Value::from);
        let mut runs: Vec<T> = runs
            .into_iter()
            .filter(|r| model.is_none() || r.field("model") == model)
            .filter(|r| matches(r, &self.conditions))
            .collect();
        if let Some(field) = &self.sort {
            sort(&mut runs, field, self.ascending);
        }
        if let Some(n) = self.limit {
            runs.truncate(n);
        }
        runs
    }
}

/// A listing of runs: whole records or summaries.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunList<T> {
    pub runs: Vec<T>,
    /// The remote the runs were read from, by name; `None` for this machine's runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

/// One condition: `NAME OP VALUE`.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    field: String,
    op: Op,
    value: Value,
}

/// Parses `accuracy>0.9`, `params.n_trees>=100`, `tags.team=risk`, `status!=failed`; several
/// joined with `,` or ` and ` must all hold.
pub fn parse_where(text: &str) -> Result<Vec<Condition>, String> {
    let mut out = Vec::new();
    for part in text.split(',').flat_map(|p| p.split(" and ")) {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let ops = [
            (">=", Op::Ge),
            ("<=", Op::Le),
            ("!=", Op::Ne),
            ("==", Op::Eq),
            (">", Op::Gt),
            ("<", Op::Lt),
            ("=", Op::Eq),
        ];
        let Some((at, token, op)) = ops
            .iter()
            .filter_map(|(t, op)| part.find(t).map(|i| (i, *t, *op)))
            .min_by_key(|(i, t, _)| (*i, std::cmp::Reverse(t.len())))
        else {
            return Err(format!(
                "`{part}`: expected NAME OP VALUE with OP one of > >= < <= = !=, e.g. `accuracy>0.9`"
            ));
        };
        let field = part[..at].trim();
        let raw = part[at + token.len()..].trim();
        if field.is_empty() || raw.is_empty() {
            return Err(format!(
                "`{part}`: expected NAME OP VALUE, e.g. `accuracy>0.9`"
            ));
        }
        let value = match raw.parse::<f64>() {
            Ok(x) => x.into(),
            Err(_) => match raw {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => Value::String(raw.trim_matches(['"', '\'']).to_owned()),
            },
        };
        if !matches!(op, Op::Eq | Op::Ne) && !value.is_number() {
            return Err(format!(
                "`{part}`: `{token}` compares numbers, and `{raw}` is not one"
            ));
        }
        out.push(Condition {
            field: field.to_owned(),
            op,
            value,
        });
    }
    Ok(out)
}

fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::String(x), Value::Number(_)) => x.parse::<f64>().ok().and_then(|x| {
            serde_json::Number::from_f64(x).and_then(|x| compare(&Value::Number(x), b))
        }),
        (Value::Number(_), Value::String(y)) => compare(
            a,
            &Value::Number(serde_json::Number::from_f64(y.parse().ok()?)?),
        ),
        _ => None,
    }
}

/// Whether a run meets every condition; a run without the field does not.
pub fn matches(run: &impl Fields, conditions: &[Condition]) -> bool {
    conditions.iter().all(|c| {
        let Some(v) = run.field(&c.field) else {
            return false;
        };
        let Some(ord) = compare(&v, &c.value) else {
            return c.op == Op::Ne;
        };
        match c.op {
            Op::Lt => ord == Ordering::Less,
            Op::Le => ord != Ordering::Greater,
            Op::Gt => ord == Ordering::Greater,
            Op::Ge => ord != Ordering::Less,
            Op::Eq => ord == Ordering::Equal,
            Op::Ne => ord != Ordering::Equal,
        }
    })
}

/// Metrics where smaller is better: a sort puts the smallest first for these, the largest
/// first for the others.
pub fn smaller_is_better(name: &str) -> bool {
    matches!(name, "rmse" | "mae" | "log_loss" | "duration_s" | "mse")
}

/// Sorts runs by a field: best first (see [`smaller_is_better`]) unless `ascending` is given;
/// runs without the field go last, in their previous order.
pub fn sort<T: Fields>(runs: &mut [T], field: &str, ascending: Option<bool>) {
    let ascending = ascending.unwrap_or_else(|| smaller_is_better(field));
    runs.sort_by(|a, b| match (a.field(field), b.field(field)) {
        (Some(x), Some(y)) => {
            let ord = compare(&x, &y).unwrap_or(Ordering::Equal);
            if ascending { ord } else { ord.reverse() }
        }
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_parse_and_reject_nonsense() {
        let c = parse_where("accuracy>0.9, params.n_trees>=100 and tags.team=risk").unwrap();
        assert_eq!(c.len(), 3);
        assert_eq!(c[1].op, Op::Ge);
        assert_eq!(c[2].value, Value::String("risk".into()));
        assert!(
            parse_where("accuracy")
                .unwrap_err()
                .contains("NAME OP VALUE")
        );
        assert!(
            parse_where("model>abc")
                .unwrap_err()
                .contains("compares numbers")
        );
    }
}
