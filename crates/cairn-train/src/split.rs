//! Splitting rows into training and test rows, reproducibly from the seed.

use cairn_core::models::ModelSpec;
use cairn_core::rng::Rng;
use polars::prelude::{DataFrame, DataType};

use crate::TrainError;
use crate::target::Targets;

/// Uniform in `0..n` (n > 0), by rejection so that no value is favoured.
fn below(rng: &mut Rng, n: u64) -> u64 {
    let zone = u64::MAX - u64::MAX % n;
    loop {
        let x = rng.next_u64();
        if x < zone {
            return x % n;
        }
    }
}

/// A Fisher–Yates shuffle.
fn shuffle(items: &mut [usize], rng: &mut Rng) {
    for i in (1..items.len()).rev() {
        let j = below(rng, i as u64 + 1) as usize;
        items.swap(i, j);
    }
}

/// How many of `n` rows are test rows: `test_size × n` rounded up, like scikit-learn.
pub fn test_count(n: usize, test_size: f64) -> usize {
    ((n as f64 * test_size).ceil() as usize).min(n)
}

/// A random split: (train, test) row indices, each sorted.
pub fn random(n: usize, test_size: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut rows: Vec<usize> = (0..n).collect();
    shuffle(&mut rows, &mut Rng::new(seed));
    let mut test = rows.split_off(n - test_count(n, test_size));
    rows.sort_unstable();
    test.sort_unstable();
    (rows, test)
}

/// A stratified split: each class contributes its share of test rows (rounded so that the
/// total is `test_count`, largest remainders first).
pub fn stratified(
    classes: &[u32],
    n_classes: usize,
    test_size: f64,
    seed: u64,
) -> (Vec<usize>, Vec<usize>) {
    let n = classes.len();
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); n_classes];
    for (i, c) in classes.iter().enumerate() {
        by_class[*c as usize].push(i);
    }
    let total = test_count(n, test_size);
    let exact: Vec<f64> = by_class
        .iter()
        .map(|rows| rows.len() as f64 * total as f64 / n.max(1) as f64)
        .collect();
    let mut take: Vec<usize> = exact.iter().map(|x| x.floor() as usize).collect();
    let mut order: Vec<usize> = (0..n_classes).collect();
    order.sort_by(|a, b| {
        let ra = exact[*a] - exact[*a].floor();
        let rb = exact[*b] - exact[*b].floor();
        rb.total_cmp(&ra).then(a.cmp(b))
    });
    let mut missing = total.saturating_sub(take.iter().sum());
    for c in order {
        if missing == 0 {
            break;
        }
        if take[c] < by_class[c].len() {
            take[c] += 1;
            missing -= 1;
        }
    }
    let mut rng = Rng::new(seed);
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for (rows, k) in by_class.iter_mut().zip(take) {
        shuffle(rows, &mut rng);
        test.extend_from_slice(&rows[..k]);
        train.extend_from_slice(&rows[k..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    (train, test)
}

/// A time split: the rows with the newest `times` are the test rows (ties keep table order).
pub fn by_time(times: &[i64], test_size: f64) -> (Vec<usize>, Vec<usize>) {
    let n = times.len();
    let mut rows: Vec<usize> = (0..n).collect();
    rows.sort_by_key(|&i| (times[i], i));
    let mut test = rows.split_off(n - test_count(n, test_size));
    rows.sort_unstable();
    test.sort_unstable();
    (rows, test)
}

/// The training and test rows of a run, each sorted.
pub(crate) struct Rows {
    pub train: Vec<usize>,
    pub test: Vec<usize>,
}

/// The split a spec asks for: by time with `split.time_column`, stratified for a classifier
/// (unless `split.stratify = false`), random otherwise. Neither part may be empty.
pub(crate) fn rows(
    frame: &DataFrame,
    model: &str,
    spec: &ModelSpec,
    target: &Targets,
) -> Result<Rows, TrainError> {
    let split = &spec.split;
    let (train, test) = match (&split.time_column, target) {
        (Some(column), _) => by_time(&times(frame, model, column)?, split.test_size),
        (None, Targets::Classes { y, labels }) if split.stratify != Some(false) => {
            stratified(y, labels.len(), split.test_size, spec.seed)
        }
        (None, _) => random(frame.height(), split.test_size, spec.seed),
    };
    if train.is_empty() || test.is_empty() {
        return Err(TrainError::Data {
            model: model.to_owned(),
            message: format!(
                "the split leaves {} training and {} test rows (of {}, test_size {}): add rows or change `split.test_size`",
                train.len(),
                test.len(),
                if frame.height() == 1 {
                    "1 row".to_owned()
                } else {
                    format!("{} rows", frame.height())
                },
                split.test_size
            ),
        });
    }
    Ok(Rows { train, test })
}

/// A time split's column as numbers (dates, datetimes or integers; none missing).
fn times(frame: &DataFrame, model: &str, column: &str) -> Result<Vec<i64>, TrainError> {
    let data_err = |message: String| TrainError::Data {
        model: model.to_owned(),
        message,
    };
    let series = frame
        .column(column)
        .map_err(|_| {
            TrainError::Spec(format!(
                "`model.{model}.split.time_column`: the data has no column `{column}`"
            ))
        })?
        .as_materialized_series();
    let dtype = series.dtype();
    if !(dtype.is_temporal() || dtype.is_integer()) {
        return Err(TrainError::Spec(format!(
            "`model.{model}.split.time_column`: `{column}` holds {dtype}; a time split needs dates, datetimes or integers"
        )));
    }
    let times = series
        .to_physical_repr()
        .cast(&DataType::Int64)
        .map_err(|e| data_err(format!("split.time_column `{column}`: {e}")))?;
    times
        .i64()
        .map_err(|e| data_err(e.to_string()))?
        .iter()
        .enumerate()
        .map(|(i, t)| {
            t.ok_or_else(|| {
                data_err(format!(
                    "split.time_column `{column}` is missing at row {}: every row needs a time for a time split",
                    i + 1
                ))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_split_is_a_partition_reproducible_from_the_seed() {
        let (train, test) = random(10, 0.25, 7);
        assert_eq!((train.len(), test.len()), (7, 3));
        let mut all: Vec<_> = train.iter().chain(&test).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        assert_eq!(random(10, 0.25, 7), (train, test.clone()));
        assert_ne!(random(10, 0.25, 8).1, test);
    }

    #[test]
    fn stratified_split_keeps_class_shares() {
        let classes: Vec<u32> = (0..100).map(|i| u32::from(i % 4 == 0)).collect();
        let (train, test) = stratified(&classes, 2, 0.2, 1);
        assert_eq!(test.len(), 20);
        assert_eq!(test.iter().filter(|&&i| classes[i] == 1).count(), 5);
        assert_eq!(train.len(), 80);
    }

    #[test]
    fn time_split_holds_out_the_newest_rows() {
        let times = [5, 1, 9, 3, 7];
        assert_eq!(by_time(&times, 0.4), (vec![0, 1, 3], vec![2, 4]));
    }
}
