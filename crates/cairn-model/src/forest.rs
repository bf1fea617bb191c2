//! Random forests (and single decision trees) of cairn's own: histogram CART trees
//! ([`crate::tree`]) grown in parallel, with class probabilities.
//!
//! A single decision tree is a forest of one: `n_trees: 1, bootstrap: false,
//! max_features: All`. With every feature binned one bin per distinct value (at most
//! `max_bins` distinct values), that tree is the exact CART tree: the same splits, thresholds
//! and leaves as an exhaustive search.
//!
//! # How this differs from smartcore 0.7 (`RandomForestClassifier`, `DecisionTreeClassifier`)
//!
//! - **Splits from histograms.** Every feature is binned once per fit into at most `max_bins`
//!   (≤ 255) quantile bins; a node's split search reads per-bin sums over the node's own samples
//!   (the larger child's from the parent's minus the smaller child's, when all features are
//!   candidates), instead of scanning all rows of the node in sorted order. With more distinct
//!   values than bins, thresholds are limited to bin edges.
//! - **Depth as scikit-learn counts it.** The root is depth 0 and `max_depth: Some(10)` allows
//!   1,024 leaves; smartcore's `max_depth = 11` is the same tree depth.
//! - **Probabilities.** Leaves keep the (bootstrap-weighted) class frequencies of their training
//!   samples, and the forest's probability is the mean of its trees' leaf probabilities;
//!   smartcore's forest has no `predict_proba` and predicts by majority vote.
//! - **Parallel, deterministic trees.** Trees grow in parallel on rayon's pool; tree `i` draws
//!   its bootstrap and its candidate features from its own SplitMix64 stream seeded from
//!   `(seed, i)` only, so the fitted forest (and its serialized bytes) does not depend on the
//!   number of threads or on scheduling. A lone tree builds its histograms in parallel instead.
//! - **Candidate features per node** are drawn afresh at every node; features constant in the
//!   node do not count towards `max_features` (scikit-learn's rule).
//! - **Regression** (squared error) shares the same machinery ([`ForestRegressor`]).
//!
//! # How this differs from scikit-learn's `RandomForestClassifier` / `RandomForestRegressor`
//!
//! - Thresholds come from at most `max_bins` bins per feature, so on features with many
//!   distinct values the split search is approximate (scikit-learn's is exact; in the
//!   benchmark the accuracy is the same within noise). Thresholds are midpoints between the
//!   neighbouring training values of the two sides when each bin is one value, otherwise
//!   between the neighbouring bins' extreme values.
//! - Random streams differ: the same `seed` does not reproduce scikit-learn's forest for its
//!   `random_state`.
//! - Supported: `n_estimators` (`n_trees`), `max_depth`, `min_samples_split`,
//!   `min_samples_leaf` (all as integer counts), `max_features`, `bootstrap` (`n` draws), the
//!   `gini` and `squared_error` criteria. Not supported: other criteria, sample or class
//!   weights, `max_leaf_nodes`, `min_impurity_decrease`, `min_weight_fraction_leaf`,
//!   `max_samples`, `ccp_alpha`, out-of-bag scores, monotonic constraints.
//! - Missing values: fitting refuses NaN (impute first); at prediction a NaN goes right.
//! - Classes are indices `0..n_classes`; a class absent from the training data gets
//!   probability 0 (scikit-learn would not know it).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::tree::{
    Binned, Counter, Gini, Grower, MaxFeatures, Objective, Rng, Samples, SquaredError, Tree,
    TreeParams, param,
};
use crate::{FitError, Matrix};

/// How a forest grows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForestParams {
    /// Trees in the forest (at least 1).
    pub n_trees: usize,
    pub tree: TreeParams,
    /// Whether each tree sees a bootstrap sample (`rows` draws with replacement, as
    /// multiplicities) instead of every row once.
    pub bootstrap: bool,
    /// With the tree's index, the only source of randomness.
    pub seed: u64,
}

impl ForestParams {
    /// scikit-learn's `RandomForestClassifier` defaults: 100 trees, `sqrt` features, bootstrap.
    pub fn classifier() -> Self {
        ForestParams {
            n_trees: 100,
            tree: TreeParams {
                max_features: MaxFeatures::Sqrt,
                ..TreeParams::default()
            },
            bootstrap: true,
            seed: 0,
        }
    }

    /// scikit-learn's `RandomForestRegressor` defaults: 100 trees, all features, bootstrap.
    pub fn regressor() -> Self {
        ForestParams {
            n_trees: 100,
            tree: TreeParams::default(),
            bootstrap: true,
            seed: 0,
        }
    }

    /// One decision tree: no bootstrap, every feature.
    pub fn single_tree(tree: TreeParams) -> Self {
        ForestParams {
            n_trees: 1,
            tree,
            bootstrap: false,
            seed: 0,
        }
    }

    /// Checks the values that do not depend on the data.
    pub fn validate(&self) -> Result<(), FitError> {
        if self.n_trees == 0 {
            return Err(param("n_trees", "must be at least 1, not 0".to_owned()));
        }
        self.tree.validate()
    }
}

/// A random forest classifier over classes `0..n_classes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ClassifierRepr")]
pub struct ForestClassifier {
    trees: Vec<Tree>,
    n_classes: usize,
    n_features: usize,
}

/// A random forest regressor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RegressorRepr")]
pub struct ForestRegressor {
    trees: Vec<Tree>,
    n_features: usize,
}

impl ForestClassifier {
    /// Fits a forest to `x` and class indices `y` (each below `n_classes`). `progress` is
    /// called with the number of trees done so far as each tree finishes (from the worker
    /// threads, one call at a time, counting up).
    pub fn fit(
        x: &Matrix,
        y: &[u32],
        n_classes: usize,
        params: &ForestParams,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<Self, FitError> {
        params.validate()?;
        check_data(x, y.len())?;
        if n_classes == 0 {
            return Err(FitError::Data("there must be at least one class".to_owned()));
        }
        if let Some((i, &label)) = y
            .iter()
            .enumerate()
            .find(|&(_, &label)| label as usize >= n_classes)
        {
            return Err(FitError::Data(format!(
                "row {i} has class {label}, but there are {n_classes} classes"
            )));
        }
        let objective = Gini { n_classes };
        let trees = grow_forest(x, y, &objective, params, progress)?;
        Ok(ForestClassifier {
            trees,
            n_classes,
            n_features: x.cols(),
        })
    }

    /// The class probabilities of one row (the mean of the trees' leaf probabilities) into
    /// `out`, without allocating.
    ///
    /// Panics if `out.len() != n_classes` or `row` has fewer values than the training data had
    /// features.
    pub fn predict_proba_into(&self, row: &[f64], out: &mut [f64]) {
        assert_eq!(out.len(), self.n_classes, "one output per class");
        assert!(row.len() >= self.n_features, "one value per feature");
        out.fill(0.0);
        for tree in &self.trees {
            for (o, v) in out.iter_mut().zip(tree.leaf(row)) {
                *o += v;
            }
        }
        let n = self.trees.len() as f64;
        for o in out {
            *o /= n;
        }
    }

    /// The class probabilities of one row.
    pub fn predict_proba(&self, row: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; self.n_classes];
        self.predict_proba_into(row, &mut out);
        out
    }

    /// The most probable class of one row (the lowest index on a tie).
    pub fn predict(&self, row: &[f64]) -> u32 {
        argmax(&self.predict_proba(row))
    }

    /// The class probabilities of every row of `x`, row-major (`rows × n_classes`), computed in
    /// parallel over blocks of rows; the same values as [`Self::predict_proba_into`].
    ///
    /// Panics if `x` has fewer columns than the training data.
    pub fn predict_proba_batch(&self, x: &Matrix) -> Vec<f64> {
        assert!(x.cols() >= self.n_features, "one column per feature");
        batch(&self.trees, x, self.n_classes)
    }

    /// The most probable class of every row of `x`.
    pub fn predict_batch(&self, x: &Matrix) -> Vec<u32> {
        self.predict_proba_batch(x)
            .chunks_exact(self.n_classes)
            .map(argmax)
            .collect()
    }

    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    pub fn n_features(&self) -> usize {
        self.n_features
    }

    pub fn trees(&self) -> &[Tree] {
        &self.trees
    }
}

impl ForestRegressor {
    /// Fits a forest to `x` and finite targets `y`; `progress` as for
    /// [`ForestClassifier::fit`].
    pub fn fit(
        x: &Matrix,
        y: &[f64],
        params: &ForestParams,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<Self, FitError> {
        params.validate()?;
        check_data(x, y.len())?;
        if let Some(i) = y.iter().position(|v| !v.is_finite()) {
            return Err(FitError::Data(format!(
                "row {i} has a target that is not a finite number ({})",
                y[i]
            )));
        }
        let offset = y.iter().sum::<f64>() / y.len() as f64;
        let centred: Vec<f64> = y.iter().map(|v| v - offset).collect();
        let objective = SquaredError { offset };
        let trees = grow_forest(x, &centred, &objective, params, progress)?;
        Ok(ForestRegressor {
            trees,
            n_features: x.cols(),
        })
    }

    /// The prediction for one row: the mean of the trees' leaf means.
    ///
    /// Panics if `row` has fewer values than the training data had features.
    pub fn predict(&self, row: &[f64]) -> f64 {
        assert!(row.len() >= self.n_features, "one value per feature");
        let sum: f64 = self.trees.iter().map(|tree| tree.leaf(row)[0]).sum();
        sum / self.trees.len() as f64
    }

    /// The predictions for every row of `x`, in parallel; the same values as
    /// [`Self::predict`].
    ///
    /// Panics if `x` has fewer columns than the training data.
    pub fn predict_batch(&self, x: &Matrix) -> Vec<f64> {
        assert!(x.cols() >= self.n_features, "one column per feature");
        batch(&self.trees, x, 1)
    }

    pub fn n_features(&self) -> usize {
        self.n_features
    }

    pub fn trees(&self) -> &[Tree] {
        &self.trees
    }
}

fn argmax(values: &[f64]) -> u32 {
    let mut best = 0;
    for (k, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = k;
        }
    }
    best as u32
}

fn check_data(x: &Matrix, targets: usize) -> Result<(), FitError> {
    if x.rows == 0 {
        return Err(FitError::Data("there are no rows to fit".to_owned()));
    }
    if x.cols() == 0 {
        return Err(FitError::Data("there are no features to fit".to_owned()));
    }
    if let Some(j) = x.columns.iter().position(|c| c.len() != x.rows) {
        return Err(FitError::Data(format!(
            "feature {j} has {} values for {} rows",
            x.columns[j].len(),
            x.rows
        )));
    }
    if targets != x.rows {
        return Err(FitError::Data(format!(
            "there are {targets} targets for {} rows",
            x.rows
        )));
    }
    if u32::try_from(x.rows).is_err() {
        return Err(FitError::Data(format!("{} rows are too many", x.rows)));
    }
    Ok(())
}

/// Bins `x` and grows `params.n_trees` trees in parallel; tree `i` is the same whatever the
/// thread count, and the trees come back in index order.
fn grow_forest<O: Objective>(
    x: &Matrix,
    targets: &[O::Target],
    objective: &O,
    params: &ForestParams,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Vec<Tree>, FitError> {
    let max_features = params.tree.max_features.resolve(x.cols())?;
    let binned = Binned::new(x, params.tree.max_bins)?;
    let grower = Grower {
        binned: &binned,
        objective,
        max_depth: params.tree.max_depth.unwrap_or(usize::MAX),
        min_samples_split: params.tree.min_samples_split,
        min_samples_leaf: params.tree.min_samples_leaf,
        max_features,
        parallel_histograms: params.n_trees < rayon::current_num_threads(),
    };
    let counter = Counter::new(progress);
    let trees = (0..params.n_trees)
        .into_par_iter()
        .map(|i| {
            let mut rng = Rng::for_tree(params.seed, i as u64);
            let samples = if params.bootstrap {
                bootstrap(targets, &mut rng)
            } else {
                Samples {
                    rows: (0..targets.len() as u32).collect(),
                    targets: targets.to_vec(),
                    weights: vec![1.0; targets.len()],
                }
            };
            let tree = grower.grow(samples, &mut rng);
            counter.tick();
            tree
        })
        .collect();
    Ok(trees)
}

/// `n` draws with replacement from `n` rows, as the multiplicities of the rows drawn at least
/// once (in row order).
fn bootstrap<T: Copy>(targets: &[T], rng: &mut Rng) -> Samples<T> {
    let n = targets.len();
    let mut counts = vec![0u32; n];
    for _ in 0..n {
        counts[rng.below(n)] += 1;
    }
    let drawn = counts.iter().filter(|&&c| c > 0).count();
    let mut samples = Samples {
        rows: Vec::with_capacity(drawn),
        targets: Vec::with_capacity(drawn),
        weights: Vec::with_capacity(drawn),
    };
    for (row, &count) in counts.iter().enumerate() {
        if count > 0 {
            samples.rows.push(row as u32);
            samples.targets.push(targets[row]);
            samples.weights.push(f64::from(count));
        }
    }
    samples
}

/// Rows per parallel block of batch prediction: every tree is walked over a block before the
/// next, while the tree is in cache.
const BLOCK: usize = 256;

/// The mean leaf values of every row of `x`, row-major, `width` per row.
fn batch(trees: &[Tree], x: &Matrix, width: usize) -> Vec<f64> {
    let mut out = vec![0.0; x.rows * width];
    out.par_chunks_mut(BLOCK * width)
        .enumerate()
        .for_each(|(block, chunk)| {
            let start = block * BLOCK;
            for tree in trees {
                for (i, row_out) in chunk.chunks_exact_mut(width).enumerate() {
                    let leaf = tree.leaf_by(|j| x.columns[j][start + i]);
                    for (o, v) in row_out.iter_mut().zip(leaf) {
                        *o += v;
                    }
                }
            }
            let n = trees.len() as f64;
            for o in chunk {
                *o /= n;
            }
        });
    out
}

/// What is deserialised, then checked.
#[derive(Deserialize)]
struct ClassifierRepr {
    trees: Vec<Tree>,
    n_classes: usize,
    n_features: usize,
}

#[derive(Deserialize)]
struct RegressorRepr {
    trees: Vec<Tree>,
    n_features: usize,
}

/// Whether `trees` can make a forest: at least one tree, `width` values per leaf, features
/// below `n_features`.
fn check_trees(trees: &[Tree], width: usize, n_features: usize) -> Result<(), String> {
    if trees.is_empty() || width == 0 {
        return Err("a forest needs at least one tree and one class".to_owned());
    }
    for (i, tree) in trees.iter().enumerate() {
        if tree.width() != width {
            return Err(format!(
                "tree {i} has {} values per leaf, not {width}",
                tree.width()
            ));
        }
        if tree.max_feature().is_some_and(|f| f >= n_features) {
            return Err(format!(
                "tree {i} splits on a feature beyond the forest's {n_features}"
            ));
        }
    }
    Ok(())
}

impl TryFrom<ClassifierRepr> for ForestClassifier {
    type Error = String;

    fn try_from(repr: ClassifierRepr) -> Result<Self, String> {
        let ClassifierRepr {
            trees,
            n_classes,
            n_features,
        } = repr;
        check_trees(&trees, n_classes, n_features)?;
        Ok(ForestClassifier {
            trees,
            n_classes,
            n_features,
        })
    }
}

impl TryFrom<RegressorRepr> for ForestRegressor {
    type Error = String;

    fn try_from(repr: RegressorRepr) -> Result<Self, String> {
        let RegressorRepr { trees, n_features } = repr;
        check_trees(&trees, 1, n_features)?;
        Ok(ForestRegressor { trees, n_features })
    }
}
