//! One column compared: the method chosen (configured, or by Evidently's automatic rules),
//! its score against its threshold, the counts kept apart, the categories the reference never
//! saw, and the aggregates the report draws.

use std::collections::BTreeMap;

use cairn_core::drift::{ColumnType, Method};

use crate::error::DriftError;
use crate::record::{Choice, ColumnResult, ColumnStatus, Counts, Histogram, Unseen};
use crate::sample::{Sample, Values, distinct_union, run_lengths};
use crate::stats::{counts, distance, ks};

/// At most this many reference rows (nulls, NaN and infinities included, as Evidently counts
/// them), the automatic choice is a p-value test.
pub const SMALL_REFERENCE: u64 = 1_000;
/// A numeric column with at most this many distinct values (both sides together) is
/// compared as categories by the automatic choice.
pub const FEW_VALUES: u64 = 5;
/// A binned method on numbers gives each distinct value its own bin when both sides together
/// have at most this many distinct values; otherwise it bins by reference deciles.
pub const VALUE_BINS: u64 = 10;
/// The smallest standard deviation the Wasserstein distance is divided by.
pub const MIN_SCALE: f64 = 0.001;
/// Bins of a numeric histogram, and bars of a category chart, in the report.
const HISTOGRAM_BINS: usize = 20;
const HISTOGRAM_BARS: usize = 20;

/// A column's `[drift.NAME.columns.COLUMN]`, and its key for messages.
pub(crate) struct Rule {
    pub key: String,
    pub method: Option<Method>,
    pub threshold: Option<f64>,
}

/// A column of the reference that the current data does not have: drifted.
pub(crate) fn missing(name: &str, kind: ColumnType, reference: Counts) -> ColumnResult {
    ColumnResult {
        column: name.to_owned(),
        kind,
        status: ColumnStatus::Missing,
        method: None,
        chosen: None,
        score: None,
        threshold: None,
        drifted: true,
        statistic: None,
        scale: None,
        exact: None,
        bins: None,
        reference,
        current: Counts::default(),
        unseen: None,
        histogram: None,
        note: Some("the current data has no such column".to_owned()),
    }
}

/// The automatic choice (Evidently's rules): with at most 1,000 reference rows, KS for
/// numbers with more than 5 distinct values, chi-square for categories (and numbers with at
/// most 5 values), the Z-test when there are at most 2; above, the normalised Wasserstein
/// distance for numbers and Jensen–Shannon for categories (and numbers with at most 5 values).
pub fn auto_method(kind: ColumnType, reference_rows: u64, distinct: u64) -> Method {
    let few = kind == ColumnType::Categorical || distinct <= FEW_VALUES;
    match (reference_rows <= SMALL_REFERENCE, few) {
        (true, true) if distinct <= 2 => Method::Z,
        (true, true) => Method::Chisquare,
        (true, false) => Method::Ks,
        (false, true) => Method::Jensenshannon,
        (false, false) => Method::Wasserstein,
    }
}

/// Compares one column present on both sides.
pub(crate) fn compare(
    name: &str,
    kind: ColumnType,
    rule: &Rule,
    reference: Sample,
    current: Sample,
) -> Result<ColumnResult, DriftError> {
    let mut result = ColumnResult {
        column: name.to_owned(),
        kind,
        status: ColumnStatus::Tested,
        method: None,
        chosen: None,
        score: None,
        threshold: None,
        drifted: false,
        statistic: None,
        scale: None,
        exact: None,
        bins: None,
        reference: reference.counts,
        current: current.counts,
        unseen: None,
        histogram: histogram(&reference.values, &current.values),
        note: None,
    };
    if let (Values::Categorical(r), Values::Categorical(c)) = (&reference.values, &current.values) {
        result.unseen = unseen(r, c);
    }
    if let Some(method) = rule.method
        && kind == ColumnType::Categorical
        && !method.takes_categories()
    {
        return Err(DriftError::MethodType {
            key: format!("{}.method", rule.key),
            column: name.to_owned(),
            method,
            kind,
        });
    }
    if reference.counts.values == 0 || current.counts.values == 0 {
        result.status = ColumnStatus::NoValues;
        result.drifted = reference.counts.values > 0;
        result.note = Some(
            match (reference.counts.values, current.counts.values) {
                (0, 0) => "neither side has a value to compare (every value null, NaN or infinite)",
                (0, _) => {
                    "the reference has no value to compare (every value null, NaN or infinite)"
                }
                _ => "the current data has no value to compare (every value null, NaN or infinite)",
            }
            .to_owned(),
        );
        return Ok(result);
    }
    let (method, chosen) = match rule.method {
        Some(m) => (m, Choice::Config),
        None => {
            let distinct = match (&reference.values, &current.values) {
                (Values::Numeric(r), Values::Numeric(c)) => distinct_union(r, c, FEW_VALUES),
                (Values::Categorical(r), Values::Categorical(c)) => union(r, c).0.len() as u64,
                _ => u64::MAX,
            };
            // Evidently decides on the reference's rows (`reference_data.shape[0]`), nulls
            // and all, not on the values left to compare.
            (
                auto_method(kind, reference.counts.rows, distinct),
                Choice::Auto,
            )
        }
    };
    let threshold = rule.threshold.unwrap_or_else(|| method.default_threshold());
    result.method = Some(method);
    result.chosen = Some(chosen);
    result.threshold = Some(threshold);
    let score = match (&reference.values, &current.values) {
        (Values::Numeric(r), Values::Numeric(c)) => numeric(&mut result, method, r, c),
        (Values::Categorical(r), Values::Categorical(c)) => {
            let (_, rc, cc) = union(r, c);
            by_counts(&mut result, method, &rc, &cc)
        }
        _ => unreachable_mix(),
    };
    result.score = Some(score);
    result.drifted = if method.is_p_value() {
        score < threshold
    } else {
        score >= threshold
    };
    Ok(result)
}

/// Both samples of a column are read as the same kind; a mix never reaches here.
fn unreachable_mix() -> f64 {
    f64::NAN
}

/// Scores sorted finite numbers (not empty).
fn numeric(result: &mut ColumnResult, method: Method, r: &[f64], c: &[f64]) -> f64 {
    match method {
        Method::Ks => {
            let test = ks::ks_2samp(r, c);
            result.statistic = Some(test.statistic);
            result.exact = Some(test.exact);
            test.p_value
        }
        Method::Wasserstein => {
            let w = distance::wasserstein(r, c);
            let (_, std) = distance::mean_std(r);
            let scale = std.max(MIN_SCALE);
            if std < MIN_SCALE {
                result.note = Some(format!(
                    "the reference is (nearly) constant: standard deviation {std}, so the distance is divided by {MIN_SCALE}"
                ));
            }
            result.statistic = Some(w);
            result.scale = Some(scale);
            w / scale
        }
        Method::Chisquare | Method::Chi2Contingency | Method::Z => {
            let (rc, cc) = value_counts(r, c);
            result.bins = Some("values".to_owned());
            by_counts(result, method, &rc, &cc)
        }
        Method::Psi | Method::Jensenshannon | Method::KlDiv => {
            let (rc, cc) = if distinct_union(r, c, VALUE_BINS) <= VALUE_BINS {
                result.bins = Some("values".to_owned());
                value_counts(r, c)
            } else {
                result.bins = Some("deciles".to_owned());
                let mut edges: Vec<f64> = (1..10)
                    .map(|k| distance::quantile(r, f64::from(k) / 10.0))
                    .collect();
                edges.dedup();
                (
                    distance::bin_counts(r, &edges),
                    distance::bin_counts(c, &edges),
                )
            };
            if r.first() == r.last() {
                result.note = Some("the reference is constant: one value".to_owned());
            }
            by_counts(result, method, &rc, &cc)
        }
    }
}

/// The counts of each distinct value of both samples, aligned over their union.
fn value_counts(r: &[f64], c: &[f64]) -> (Vec<u64>, Vec<u64>) {
    let (rr, cr) = (run_lengths(r), run_lengths(c));
    let (mut i, mut j) = (0, 0);
    let (mut rc, mut cc) = (Vec::new(), Vec::new());
    while i < rr.len() || j < cr.len() {
        match (rr.get(i), cr.get(j)) {
            (Some(&(x, n)), Some(&(y, m))) if x == y => {
                rc.push(n);
                cc.push(m);
                i += 1;
                j += 1;
            }
            (Some(&(x, n)), Some(&(y, _))) if x < y => {
                rc.push(n);
                cc.push(0);
                i += 1;
            }
            (Some(&(_, n)), None) => {
                rc.push(n);
                cc.push(0);
                i += 1;
            }
            (_, Some(&(_, m))) => {
                rc.push(0);
                cc.push(m);
                j += 1;
            }
            (None, None) => break,
        }
    }
    (rc, cc)
}

/// The categories of both sides (sorted) and each side's counts over them.
fn union(r: &[(String, u64)], c: &[(String, u64)]) -> (Vec<String>, Vec<u64>, Vec<u64>) {
    let mut all: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for (k, n) in r {
        all.entry(k).or_default().0 += n;
    }
    for (k, n) in c {
        all.entry(k).or_default().1 += n;
    }
    let mut keys = Vec::with_capacity(all.len());
    let (mut rc, mut cc) = (Vec::with_capacity(all.len()), Vec::with_capacity(all.len()));
    for (k, (a, b)) in all {
        keys.push(k.to_owned());
        rc.push(a);
        cc.push(b);
    }
    (keys, rc, cc)
}

/// Scores counts aligned over the same categories or bins.
fn by_counts(result: &mut ColumnResult, method: Method, r: &[u64], c: &[u64]) -> f64 {
    let tested = |result: &mut ColumnResult, t: counts::Tested| {
        result.statistic = t.statistic;
        t.p_value
    };
    match method {
        Method::Chisquare => tested(result, counts::chisquare(r, c)),
        Method::Chi2Contingency => tested(result, counts::chi2_contingency(r, c)),
        Method::Z => tested(result, counts::z_test(r, c)),
        Method::Psi => distance::psi(&distance::proportions(r), &distance::proportions(c)),
        Method::Jensenshannon => {
            distance::jensen_shannon(&distance::proportions(r), &distance::proportions(c))
        }
        Method::KlDiv => {
            distance::kl_divergence(&distance::proportions(r), &distance::proportions(c))
        }
        // Numbers only; refused for categories before this point.
        Method::Ks | Method::Wasserstein => f64::NAN,
    }
}

/// The current categories the reference never had.
fn unseen(r: &[(String, u64)], c: &[(String, u64)]) -> Option<Unseen> {
    let known: std::collections::HashSet<&str> = r.iter().map(|(k, _)| k.as_str()).collect();
    let mut new: Vec<(&str, u64)> = c
        .iter()
        .filter(|(k, _)| !known.contains(k.as_str()))
        .map(|(k, n)| (k.as_str(), *n))
        .collect();
    if new.is_empty() {
        return None;
    }
    new.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    Some(Unseen {
        categories: new.len() as u64,
        rows: new.iter().map(|(_, n)| n).sum(),
        examples: new.iter().take(10).map(|(k, _)| (*k).to_owned()).collect(),
    })
}

/// The report's aggregates: for numbers, 20 bins whose inner edges are equal-width between
/// the 1st and the 99th percentile of both sides (so that a few outliers do not squash the
/// rest into one bin), the first bin reaching down to the smallest value and the last up to
/// the largest; for categories, the most frequent ones. `None` when neither side has a value.
fn histogram(r: &Values, c: &Values) -> Option<Histogram> {
    match (r, c) {
        (Values::Numeric(r), Values::Numeric(c)) => {
            let sides = || [r, c].into_iter().filter(|s| !s.is_empty());
            let min = sides().map(|s| s[0]).reduce(f64::min)?;
            let max = sides().map(|s| s[s.len() - 1]).reduce(f64::max)?;
            let low = sides()
                .map(|s| distance::quantile(s, 0.01))
                .reduce(f64::min)?;
            let high = sides()
                .map(|s| distance::quantile(s, 0.99))
                .reduce(f64::max)?;
            let (low, high) = if high > low { (low, high) } else { (min, max) };
            let bins = if max > min { HISTOGRAM_BINS } else { 1 };
            let width = (high - low) / bins as f64;
            let mut edges: Vec<f64> = std::iter::once(min)
                .chain((1..bins).map(|k| low + width * k as f64))
                .collect();
            edges.push(max);
            let count = |sorted: &[f64]| -> Vec<u64> {
                let below = |x: f64| sorted.partition_point(|&v| v < x);
                (0..bins)
                    .map(|k| {
                        let end = if k + 1 == bins {
                            sorted.len()
                        } else {
                            below(edges[k + 1])
                        };
                        (end - below(edges[k])) as u64
                    })
                    .collect()
            };
            Some(Histogram::Bins {
                reference: count(r),
                current: count(c),
                edges,
            })
        }
        (Values::Categorical(r), Values::Categorical(c)) => {
            let (keys, rc, cc) = union(r, c);
            if keys.is_empty() {
                return None;
            }
            let mut order: Vec<usize> = (0..keys.len()).collect();
            order.sort_by(|&a, &b| (rc[b] + cc[b]).cmp(&(rc[a] + cc[a])).then(a.cmp(&b)));
            let (top, rest) = order.split_at(order.len().min(HISTOGRAM_BARS));
            Some(Histogram::Values {
                labels: top.iter().map(|&i| keys[i].clone()).collect(),
                reference: top.iter().map(|&i| rc[i]).collect(),
                current: top.iter().map(|&i| cc[i]).collect(),
                other_reference: rest.iter().map(|&i| rc[i]).sum(),
                other_current: rest.iter().map(|&i| cc[i]).sum(),
            })
        }
        _ => None,
    }
}
