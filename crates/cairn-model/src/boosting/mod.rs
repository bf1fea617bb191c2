//! Gradient-boosted trees (`gradient_boosting_classifier`, `gradient_boosting_regressor`):
//! histogram-based, grown leaf-wise, as LightGBM does.
//!
//! A fit:
//! - holds out a seeded share of the training rows for early stopping, if asked;
//! - bins every feature of the remaining rows once (`bins.rs`; a missing value gets its own
//!   bin, so missing values are handled natively: each split learns where they go);
//! - starts from the loss's best constant (the mean, the median, the log-odds or the log class
//!   shares) and then, per iteration, computes each row's gradient and hessian, draws the rows
//!   (`subsample`) and features (`colsample`) from the run's seed, and grows one tree per
//!   output leaf-wise (`grow.rs`) with leaf values `−G/(H+λ)` times the learning rate (for the
//!   absolute error, the median residual of the leaf's rows times the learning rate);
//! - with early stopping, scores the held-out rows after each iteration and stops `rounds`
//!   iterations after the best, keeping the trees up to the best.
//!
//! Every parallel step (binning per feature, histograms and split searches per group of
//! features with each feature's sums in row order, the partition per fixed block of rows, the
//! score update per fixed chunk of rows, gradients per row) writes results that do not depend
//! on which thread computed them, and every reduction runs in a fixed order (a split's best in
//! feature order): the same seed gives the same model bytes at any thread count.

mod bins;
mod compiled;
mod grow;
mod model;
#[cfg(test)]
mod tests;

use cairn_core::rng::Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use self::bins::Bins;
use self::grow::{Buffers, Grower, predict_binned};
pub use self::model::{BoostSummary, BoostTree, Booster, Loss};
use self::model::{sigmoid, softmax};
use crate::guard::param;
use crate::{FitError, Matrix};

/// Early stopping: hold out `share` of the training rows and stop when the loss on them has not
/// improved for `rounds` iterations.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopping {
    pub rounds: usize,
    pub share: f64,
}

/// How a booster grows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoostParams {
    /// Boosting iterations (trees per output).
    pub n_iterations: usize,
    /// Shrinkage of every tree's output, > 0.
    pub learning_rate: f64,
    /// Leaves per tree, at least 2.
    pub num_leaves: usize,
    /// The deepest level a leaf may be at (the root is depth 0); `None`: no limit.
    pub max_depth: Option<usize>,
    /// Training rows every leaf keeps, at least 1.
    pub min_samples_leaf: usize,
    /// A split must gain more than this, ≥ 0.
    pub min_gain: f64,
    /// L2 regularisation of the leaf values, ≥ 0.
    pub l2: f64,
    /// The share of rows each iteration draws, in (0, 1].
    pub subsample: f64,
    /// The share of features each tree draws, in (0, 1].
    pub colsample: f64,
    /// Value bins per feature, 2 to 255 (missing values get one more).
    pub max_bins: usize,
    pub early_stopping: Option<EarlyStopping>,
    pub seed: u64,
}

impl Default for BoostParams {
    fn default() -> Self {
        BoostParams {
            n_iterations: 100,
            learning_rate: 0.1,
            num_leaves: 31,
            max_depth: None,
            min_samples_leaf: 20,
            min_gain: 0.0,
            l2: 0.0,
            subsample: 1.0,
            colsample: 1.0,
            max_bins: 255,
            early_stopping: None,
            seed: 0,
        }
    }
}

impl BoostParams {
    /// Checks the values that do not depend on the data; errors name the param.
    pub fn validate(&self) -> Result<(), FitError> {
        if self.n_iterations == 0 {
            return Err(param("n_iterations", "must be at least 1, got 0"));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(param(
                "learning_rate",
                format!("must be a number > 0, got {}", self.learning_rate),
            ));
        }
        if self.num_leaves < 2 {
            return Err(param(
                "num_leaves",
                format!("must be at least 2, got {}", self.num_leaves),
            ));
        }
        if self.max_depth == Some(0) {
            return Err(param(
                "max_depth",
                "must be at least 1 (the root is depth 0)",
            ));
        }
        if self.min_samples_leaf == 0 {
            return Err(param("min_samples_leaf", "must be at least 1, got 0"));
        }
        for (name, value) in [("min_gain", self.min_gain), ("l2", self.l2)] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(param(name, format!("must be a number ≥ 0, got {value}")));
            }
        }
        for (name, value) in [("subsample", self.subsample), ("colsample", self.colsample)] {
            if !(value > 0.0 && value <= 1.0) {
                return Err(param(name, format!("must be in (0, 1], got {value}")));
            }
        }
        if !(2..=255).contains(&self.max_bins) {
            return Err(param(
                "max_bins",
                format!("must be between 2 and 255, got {}", self.max_bins),
            ));
        }
        if let Some(es) = &self.early_stopping {
            if es.rounds == 0 {
                return Err(param("early_stopping.rounds", "must be at least 1, got 0"));
            }
            if !(es.share > 0.0 && es.share < 1.0) {
                return Err(param(
                    "early_stopping.share",
                    format!("must be in (0, 1), got {}", es.share),
                ));
            }
        }
        Ok(())
    }
}

/// What a booster learns.
enum Labels<'a> {
    Classes(&'a [u32]),
    Values(&'a [f64]),
}

impl Booster {
    /// Fits a classifier on labels `0..n_classes` (every class must have training rows):
    /// binary log loss for two classes, softmax for more.
    pub fn fit_classifier(
        x: &Matrix,
        y: &[u32],
        n_classes: usize,
        params: &BoostParams,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<Booster, FitError> {
        if y.len() != x.rows {
            return Err(FitError::Data(format!(
                "the target has {} labels but the features have {} rows",
                y.len(),
                x.rows
            )));
        }
        let mut counts = vec![0usize; n_classes];
        for (i, &label) in y.iter().enumerate() {
            match counts.get_mut(label as usize) {
                Some(c) => *c += 1,
                None => {
                    return Err(FitError::Data(format!(
                        "label {label} at row {i} is out of range: there are {n_classes} classes"
                    )));
                }
            }
        }
        let present = counts.iter().filter(|&&c| c > 0).count();
        if present < 2 {
            return Err(FitError::Data(
                "the training rows hold a single class; a classifier needs at least two".into(),
            ));
        }
        if let Some(absent) = counts.iter().position(|&c| c == 0) {
            return Err(FitError::Data(format!(
                "class {absent} has no training rows; gradient boosting needs every class in \
                 the training rows"
            )));
        }
        let loss = if n_classes == 2 {
            Loss::LogLoss
        } else {
            Loss::Softmax { n_classes }
        };
        fit(x, &Labels::Classes(y), loss, params, progress)
    }

    /// Fits a regressor with the squared or the absolute error.
    pub fn fit_regressor(
        x: &Matrix,
        y: &[f64],
        loss: Loss,
        params: &BoostParams,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<Booster, FitError> {
        if loss.is_classifier() {
            return Err(param(
                "loss",
                "a regressor's loss is squared_error or absolute_error",
            ));
        }
        crate::guard::check_target(y, x.rows)?;
        fit(x, &Labels::Values(y), loss, params, progress)
    }
}

fn check_x(x: &Matrix) -> Result<(), FitError> {
    if x.cols() == 0 {
        return Err(FitError::Data(
            "the training data has no feature columns".into(),
        ));
    }
    if x.rows == 0 {
        return Err(FitError::Data("the training data has no rows".into()));
    }
    if x.rows >= u32::MAX as usize / 2 {
        return Err(FitError::Data(format!("{} rows are too many", x.rows)));
    }
    for (j, column) in x.columns.iter().enumerate() {
        if column.len() != x.rows {
            return Err(FitError::Data(format!(
                "feature column {j} has {} values, expected {}",
                column.len(),
                x.rows
            )));
        }
        // Missing values (NaN) are learned; infinities are refused.
        if let Some(i) = column.iter().position(|v| v.is_infinite()) {
            return Err(FitError::Data(format!(
                "feature column {j} has an infinite value at row {i}"
            )));
        }
    }
    Ok(())
}

/// The seeded streams of a fit (`Rng::stream` indices).
const STREAM_HOLDOUT: u64 = 0;
const STREAM_ROWS: u64 = 1 << 32;
const STREAM_FEATURES: u64 = 2 << 32;

/// Runs the fit on a thread of rayon's pool: called from outside the pool, every parallel
/// step (several per split) would be handed to the pool through a lock and a wake-up, which
/// costs more than the work of a small leaf; from inside, a step is pushed on the thread's own
/// queue and the other threads steal from it.
fn fit(
    x: &Matrix,
    labels: &Labels<'_>,
    loss: Loss,
    params: &BoostParams,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Booster, FitError> {
    let (fitted, ()) = rayon::join(|| fit_in_pool(x, labels, loss, params, progress), || ());
    fitted
}

fn fit_in_pool(
    x: &Matrix,
    labels: &Labels<'_>,
    loss: Loss,
    params: &BoostParams,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Booster, FitError> {
    params.validate()?;
    check_x(x)?;
    let n_all = x.rows;
    let k = loss.outputs();

    // Early stopping's held-out rows: a seeded shuffle, then the first `share` of it.
    let (fit_rows, valid_rows): (Vec<u32>, Vec<u32>) = match &params.early_stopping {
        None => ((0..n_all as u32).collect(), Vec::new()),
        Some(es) => {
            let n_valid = (es.share * n_all as f64).floor() as usize;
            if n_valid < 1 || n_all - n_valid < 2 {
                return Err(param(
                    "early_stopping.share",
                    format!(
                        "{} of {n_all} training rows leaves {n_valid} rows to stop on and {} \
                         to fit; early stopping needs at least 1 and 2",
                        es.share,
                        n_all - n_valid
                    ),
                ));
            }
            let mut order: Vec<u32> = (0..n_all as u32).collect();
            let mut rng = Rng::stream(params.seed, STREAM_HOLDOUT);
            for i in (1..order.len()).rev() {
                order.swap(i, rng.below(i + 1));
            }
            let mut valid = order[..n_valid].to_vec();
            let mut fit = order[n_valid..].to_vec();
            valid.sort_unstable();
            fit.sort_unstable();
            (fit, valid)
        }
    };
    if let Labels::Classes(y) = labels {
        let mut seen = vec![false; loss.n_classes()];
        for &r in &fit_rows {
            seen[y[r as usize] as usize] = true;
        }
        if let Some(absent) = seen.iter().position(|s| !s) {
            return Err(param(
                "early_stopping.share",
                format!(
                    "after holding out the early-stopping rows, class {absent} has no rows left \
                     to fit on"
                ),
            ));
        }
    }

    let n = fit_rows.len();
    let bins = Bins::new(x, &fit_rows, params.max_bins);
    // Targets of the fitting rows, as numbers (class indices for classifiers).
    let target = |r: u32| -> f64 {
        match labels {
            Labels::Classes(y) => f64::from(y[r as usize]),
            Labels::Values(y) => y[r as usize],
        }
    };
    let y_fit: Vec<f64> = fit_rows.iter().map(|&r| target(r)).collect();
    let y_valid: Vec<f64> = valid_rows.iter().map(|&r| target(r)).collect();

    let base = base_scores(loss, &y_fit);
    // Scores, output-major: `scores[o * n + i]`.
    let mut scores: Vec<f64> = base
        .iter()
        .flat_map(|&b| std::iter::repeat_n(b, n))
        .collect();
    let n_valid = valid_rows.len();
    let mut valid_scores: Vec<f64> = base
        .iter()
        .flat_map(|&b| std::iter::repeat_n(b, n_valid))
        .collect();
    let valid_x: Vec<Vec<f64>> = valid_rows
        .iter()
        .map(|&r| x.columns.iter().map(|c| c[r as usize]).collect())
        .collect();

    let grower = Grower {
        bins: &bins,
        num_leaves: params.num_leaves,
        max_depth: params.max_depth,
        min_samples_leaf: params.min_samples_leaf,
        min_gain: params.min_gain,
        l2: params.l2,
        learning_rate: params.learning_rate,
    };
    let n_features = x.cols();
    let n_drawn = ((params.colsample * n_features as f64).round() as usize).clamp(1, n_features);
    // Gradients and hessians side by side, output-major as the scores.
    let mut gh = vec![[0.0; 2]; n * k];
    let mut buffers = Buffers::default();
    let mut trees: Vec<BoostTree> = Vec::new();
    let mut gains: Vec<Vec<(usize, f64)>> = Vec::new();
    let mut best: Option<(usize, f64)> = None;
    let mut iterations_run = 0;
    let mut early_stopped = false;

    for iteration in 0..params.n_iterations {
        gradients(loss, &scores, &y_fit, &mut gh);
        let rows = draw_rows(params, iteration, n);
        for o in 0..k {
            let features = draw_features(params, iteration, o, n_features, n_drawn);
            let mut grown = grower.grow(
                rows.clone(),
                &gh[o * n..(o + 1) * n],
                &features,
                &mut buffers,
            );
            if loss == Loss::AbsoluteError {
                renew_medians(&mut grown, &y_fit, &scores, params.learning_rate);
            }
            let out = &mut scores[o * n..(o + 1) * n];
            // The grown rows' leaves are known from the partition; the rows left out by
            // `subsample` walk the tree.
            grown.add_leaf_values(out);
            if rows.len() < n {
                let mut drawn = vec![false; n];
                for &r in &rows {
                    drawn[r as usize] = true;
                }
                out.par_iter_mut()
                    .zip(&drawn)
                    .enumerate()
                    .filter(|(_, (_, drawn))| !**drawn)
                    .for_each(|(i, (s, _))| *s += predict_binned(&grown, &bins, i));
            }
            for (row, s) in valid_x
                .iter()
                .zip(&mut valid_scores[o * n_valid..(o + 1) * n_valid])
            {
                *s += grown.tree.predict(row);
            }
            gains.push(grown.gains);
            trees.push(grown.tree);
        }
        iterations_run = iteration + 1;
        progress(iterations_run);
        if let Some(es) = &params.early_stopping {
            let current = validation_loss(loss, &valid_scores, &y_valid);
            if best.is_none_or(|(_, b)| current < b) {
                best = Some((iterations_run, current));
            }
            if best.is_some_and(|(at, _)| iterations_run - at >= es.rounds) {
                early_stopped = iterations_run < params.n_iterations;
                break;
            }
        }
    }

    let best_iteration = best.map_or(iterations_run, |(at, _)| at);
    trees.truncate(best_iteration * k);
    gains.truncate(best_iteration * k);
    let mut importances = vec![0.0; n_features];
    for (f, gain) in gains.iter().flatten() {
        importances[*f] += gain;
    }
    Ok(Booster {
        compiled: compiled::Compiled::new(&trees, n_features).map(Box::new),
        loss,
        n_features,
        base,
        trees,
        importances,
        summary: BoostSummary {
            iterations_run,
            best_iteration,
            early_stopped,
            validation_rows: n_valid,
            validation_loss: best.map(|(_, l)| l),
        },
    })
}

/// The loss's best constant per output.
fn base_scores(loss: Loss, y: &[f64]) -> Vec<f64> {
    let n = y.len() as f64;
    match loss {
        Loss::LogLoss => {
            let p = y.iter().sum::<f64>() / n;
            vec![(p / (1.0 - p)).ln()]
        }
        Loss::Softmax { n_classes } => {
            let mut counts = vec![0.0; n_classes];
            for &c in y {
                counts[c as usize] += 1.0;
            }
            counts.iter().map(|c| (c / n).ln()).collect()
        }
        Loss::SquaredError => vec![y.iter().sum::<f64>() / n],
        Loss::AbsoluteError => vec![median(y.to_vec())],
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_unstable_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Gradients and hessians (`[g, h]`) of every row and output (output-major, as the scores).
fn gradients(loss: Loss, scores: &[f64], y: &[f64], gh: &mut [[f64; 2]]) {
    let n = y.len();
    match loss {
        Loss::LogLoss => gh.par_iter_mut().enumerate().for_each(|(i, gh)| {
            let p = sigmoid(scores[i]);
            *gh = [p - y[i], (p * (1.0 - p)).max(1e-16)];
        }),
        Loss::Softmax { n_classes } => {
            let k = n_classes;
            let rows: Vec<(usize, Vec<f64>)> = (0..n)
                .into_par_iter()
                .map(|i| {
                    let mut p: Vec<f64> = (0..k).map(|o| scores[o * n + i]).collect();
                    softmax(&mut p);
                    (i, p)
                })
                .collect();
            for (i, p) in rows {
                for (o, &p) in p.iter().enumerate() {
                    let yk = f64::from(u8::from(y[i] as usize == o));
                    gh[o * n + i] = [p - yk, (p * (1.0 - p)).max(1e-16)];
                }
            }
        }
        Loss::SquaredError => gh
            .par_iter_mut()
            .enumerate()
            .for_each(|(i, gh)| *gh = [scores[i] - y[i], 1.0]),
        Loss::AbsoluteError => gh.par_iter_mut().enumerate().for_each(|(i, gh)| {
            let d = scores[i] - y[i];
            let g = if d > 0.0 {
                1.0
            } else if d < 0.0 {
                -1.0
            } else {
                0.0
            };
            *gh = [g, 1.0];
        }),
    }
}

/// The absolute error's leaf values: the median residual of each leaf's rows.
fn renew_medians(grown: &mut grow::Grown, y: &[f64], scores: &[f64], learning_rate: f64) {
    for (leaf, &(lo, hi)) in grown.leaf_ranges.iter().enumerate() {
        let residuals: Vec<f64> = grown.rows[lo..hi]
            .iter()
            .map(|&r| y[r as usize] - scores[r as usize])
            .collect();
        grown.tree.values[leaf] = median(residuals) * learning_rate;
    }
}

/// The mean loss of the held-out rows.
fn validation_loss(loss: Loss, scores: &[f64], y: &[f64]) -> f64 {
    let n = y.len();
    let total: f64 = match loss {
        Loss::LogLoss => (0..n)
            .map(|i| {
                let p = sigmoid(scores[i]).clamp(1e-15, 1.0 - 1e-15);
                if y[i] > 0.5 { -p.ln() } else { -(1.0 - p).ln() }
            })
            .sum(),
        Loss::Softmax { n_classes } => (0..n)
            .map(|i| {
                let mut p: Vec<f64> = (0..n_classes).map(|o| scores[o * n + i]).collect();
                softmax(&mut p);
                -p[y[i] as usize].clamp(1e-15, 1.0).ln()
            })
            .sum(),
        Loss::SquaredError => (0..n).map(|i| (scores[i] - y[i]).powi(2)).sum(),
        Loss::AbsoluteError => (0..n).map(|i| (scores[i] - y[i]).abs()).sum(),
    };
    total / n as f64
}

/// The rows iteration `iteration` grows on: all, or each with probability `subsample`
/// (at least one), ascending.
fn draw_rows(params: &BoostParams, iteration: usize, n: usize) -> Vec<u32> {
    if params.subsample >= 1.0 {
        return (0..n as u32).collect();
    }
    let mut rng = Rng::stream(params.seed, STREAM_ROWS + iteration as u64);
    let limit = (params.subsample * 2f64.powi(53)) as u64;
    let mut rows: Vec<u32> = (0..n as u32)
        .filter(|_| (rng.next_u64() >> 11) < limit)
        .collect();
    if rows.is_empty() {
        rows.push(rng.below(n) as u32);
    }
    rows
}

/// The features a tree searches: all, or `n_drawn` drawn without replacement, ascending.
fn draw_features(
    params: &BoostParams,
    iteration: usize,
    output: usize,
    n_features: usize,
    n_drawn: usize,
) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n_features).collect();
    if n_drawn >= n_features {
        return order;
    }
    let index = (iteration as u64) << 16 | output as u64;
    let mut rng = Rng::stream(params.seed, STREAM_FEATURES + index);
    for j in 0..n_drawn {
        let r = j + rng.below(n_features - j);
        order.swap(j, r);
    }
    let mut drawn = order[..n_drawn].to_vec();
    drawn.sort_unstable();
    drawn
}
