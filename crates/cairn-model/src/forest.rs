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

use cairn_core::rng::Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::tree::{
    Binned, Counter, Gini, Grower, MaxFeatures, Objective, Samples, SquaredError, Tree, TreeParams,
    param, walk_trees,
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
            return Err(FitError::Data(
                "there must be at least one class".to_owned(),
            ));
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
        mean_of_leaves(&self.trees, row, out);
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
        let mut out = [0.0];
        mean_of_leaves(&self.trees, row, &mut out);
        out[0]
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
    crate::metrics::argmax(values) as u32
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
            let mut rng = Rng::stream(params.seed, i as u64);
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

/// Trees walked side by side for one row.
const LANES: usize = 8;

/// The mean of the trees' leaf values for one row into `out`: summed in tree order, then
/// divided by the number of trees (as [`batch`] does, to the bit).
fn mean_of_leaves(trees: &[Tree], row: &[f64], out: &mut [f64]) {
    out.fill(0.0);
    let mut at = [0u32; LANES];
    for group in trees.chunks(LANES) {
        let at = &mut at[..group.len()];
        walk_trees(group, row, at);
        for (tree, &offset) in group.iter().zip(at.iter()) {
            for (o, v) in out.iter_mut().zip(tree.values_at(offset)) {
                *o += v;
            }
        }
    }
    let n = trees.len() as f64;
    for o in out {
        *o /= n;
    }
}

/// Rows per parallel block of batch prediction: each tree walks the block's rows side by side
/// while it is in cache.
const BLOCK: usize = 256;

/// The mean leaf values of every row of `x`, row-major, `width` per row.
fn batch(trees: &[Tree], x: &Matrix, width: usize) -> Vec<f64> {
    let mut out = vec![0.0; x.rows * width];
    let stride = x.cols();
    out.par_chunks_mut(BLOCK * width)
        .enumerate()
        .for_each(|(block, chunk)| {
            let start = block * BLOCK;
            let n = chunk.len() / width;
            // The block's rows, row-major.
            let mut rows = vec![0.0; n * stride];
            for (j, column) in x.columns.iter().enumerate() {
                for (i, v) in column[start..start + n].iter().enumerate() {
                    rows[i * stride + j] = *v;
                }
            }
            let mut at = [0u32; BLOCK];
            let at = &mut at[..n];
            for tree in trees {
                tree.walk_rows(&rows, stride, at);
                for (row_out, &offset) in chunk.chunks_exact_mut(width).zip(at.iter()) {
                    for (o, v) in row_out.iter_mut().zip(tree.values_at(offset)) {
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use super::*;

    fn tree_params(max_depth: Option<usize>) -> TreeParams {
        TreeParams {
            max_depth,
            ..TreeParams::default()
        }
    }

    fn classify(x: &Matrix, y: &[u32], k: usize, params: &ForestParams) -> ForestClassifier {
        ForestClassifier::fit(x, y, k, params, &|_| {}).unwrap()
    }

    /// Noisy data: `features` columns, two or three classes that depend on the first three
    /// columns.
    fn noisy(rows: usize, features: usize, classes: u32, seed: u64) -> (Matrix, Vec<u32>) {
        let mut rng = Rng::stream(seed, 99);
        let mut unit = move || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let columns: Vec<Vec<f64>> = (0..features)
            .map(|_| (0..rows).map(|_| unit() * 10.0 - 5.0).collect())
            .collect();
        let y = (0..rows)
            .map(|i| {
                let score = columns[0][i] + 0.5 * columns[1][i] * columns[2.min(features - 1)][i];
                let class = if score < -1.0 {
                    0
                } else if score < 2.0 {
                    1 % classes
                } else {
                    2 % classes
                };
                if unit() < 0.1 {
                    (unit() * f64::from(classes)) as u32
                } else {
                    class
                }
            })
            .collect();
        (Matrix::new(columns), y)
    }

    #[test]
    fn separates_separable_data_with_one_split() {
        let x = Matrix::new(vec![(0..20).map(f64::from).collect()]);
        let y: Vec<u32> = (0..20).map(|i| u32::from(i >= 12)).collect();
        let forest = classify(&x, &y, 2, &ForestParams::single_tree(TreeParams::default()));
        let tree = &forest.trees()[0];
        assert_eq!((tree.n_leaves(), tree.depth()), (2, 1));
        assert_eq!(forest.predict_proba(&[11.49]), vec![1.0, 0.0]);
        assert_eq!(forest.predict_proba(&[11.5]), vec![1.0, 0.0]);
        assert_eq!(forest.predict_proba(&[11.51]), vec![0.0, 1.0]);
        assert_eq!(forest.predict(&[-100.0]), 0);
        assert_eq!(forest.predict(&[100.0]), 1);
    }

    #[test]
    fn xor_needs_depth_two() {
        let points = [(0.0, 0.0, 0), (0.0, 1.0, 1), (1.0, 0.0, 1), (1.0, 1.0, 0)];
        let (mut a, mut b, mut y) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..3 {
            for &(pa, pb, class) in &points {
                a.push(pa);
                b.push(pb);
                y.push(class);
            }
        }
        let x = Matrix::new(vec![a, b]);
        let deep = classify(&x, &y, 2, &ForestParams::single_tree(tree_params(Some(2))));
        for &(pa, pb, class) in &points {
            let mut expected = vec![0.0; 2];
            expected[class as usize] = 1.0;
            assert_eq!(deep.predict_proba(&[pa, pb]), expected, "({pa}, {pb})");
        }
        assert_eq!(deep.trees()[0].n_leaves(), 4);
        let shallow = classify(&x, &y, 2, &ForestParams::single_tree(tree_params(Some(1))));
        for &(pa, pb, _) in &points {
            assert_eq!(shallow.predict_proba(&[pa, pb]), vec![0.5, 0.5]);
        }
    }

    #[test]
    fn regression_fits_a_step() {
        let x = Matrix::new(vec![(0..40).map(f64::from).collect()]);
        let y: Vec<f64> = (0..40).map(|i| if i < 17 { 1.5 } else { -2.0 }).collect();
        let params = ForestParams::single_tree(TreeParams::default());
        let forest = ForestRegressor::fit(&x, &y, &params, &|_| {}).unwrap();
        assert_eq!(forest.trees()[0].n_leaves(), 2);
        assert!((forest.predict(&[16.49]) - 1.5).abs() < 1e-12);
        assert!((forest.predict(&[16.51]) + 2.0).abs() < 1e-12);
        // A noisy step: leaves are the means of their rows.
        let y: Vec<f64> = (0..40)
            .map(|i| if i < 17 { 1.0 } else { 5.0 } + if i % 2 == 0 { 0.5 } else { -0.5 })
            .collect();
        let params = ForestParams::single_tree(tree_params(Some(1)));
        let forest = ForestRegressor::fit(&x, &y, &params, &|_| {}).unwrap();
        let left_mean = y[..17].iter().sum::<f64>() / 17.0;
        let right_mean = y[17..].iter().sum::<f64>() / 23.0;
        assert!((forest.predict(&[3.0]) - left_mean).abs() < 1e-12);
        assert!((forest.predict(&[30.0]) - right_mean).abs() < 1e-12);
    }

    #[test]
    fn leaf_probabilities_are_weighted_class_frequencies() {
        let (x, y) = noisy(400, 5, 3, 1);
        let params = ForestParams {
            n_trees: 6,
            tree: TreeParams {
                max_depth: Some(4),
                max_features: MaxFeatures::Sqrt,
                ..TreeParams::default()
            },
            bootstrap: true,
            seed: 7,
        };
        let forest = classify(&x, &y, 3, &params);
        for (t, tree) in forest.trees().iter().enumerate() {
            // The tree's bootstrap, drawn again, and the training rows walked down the tree.
            let mut rng = Rng::stream(params.seed, t as u64);
            let drawn = bootstrap(&y, &mut rng);
            let mut per_leaf: HashMap<*const f64, (&[f64], [f64; 3])> = HashMap::new();
            for (&row, &w) in drawn.rows.iter().zip(&drawn.weights) {
                let leaf = tree.leaf(&x.row(row as usize));
                let entry = per_leaf.entry(leaf.as_ptr()).or_insert((leaf, [0.0; 3]));
                entry.1[y[row as usize] as usize] += w;
            }
            assert_eq!(
                per_leaf.len(),
                tree.n_leaves(),
                "every leaf has training rows"
            );
            for (values, counts) in per_leaf.values() {
                let total: f64 = counts.iter().sum();
                for k in 0..3 {
                    assert!((values[k] - counts[k] / total).abs() < 1e-15, "tree {t}");
                }
            }
        }
        // The forest's probability is the mean of its trees'.
        let row = x.row(5);
        let mut mean = [0.0; 3];
        for tree in forest.trees() {
            for (m, v) in mean.iter_mut().zip(tree.leaf(&row)) {
                *m += v / 6.0;
            }
        }
        for (m, p) in mean.iter().zip(forest.predict_proba(&row)) {
            assert!((m - p).abs() < 1e-12);
        }
    }

    #[test]
    fn bootstrap_draws_n_rows() {
        let targets = vec![0u32; 1000];
        let drawn = bootstrap(&targets, &mut Rng::stream(3, 4));
        assert_eq!(drawn.weights.iter().sum::<f64>(), 1000.0);
        // About 1 - 1/e of the rows are drawn at least once.
        assert!(
            (590..680).contains(&drawn.rows.len()),
            "{}",
            drawn.rows.len()
        );
        assert!(drawn.rows.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn min_samples_leaf_and_max_depth_are_honoured() {
        let (x, y) = noisy(300, 4, 2, 2);
        let params = ForestParams::single_tree(TreeParams {
            min_samples_leaf: 7,
            ..TreeParams::default()
        });
        let forest = classify(&x, &y, 2, &params);
        let tree = &forest.trees()[0];
        let mut per_leaf: HashMap<*const f64, usize> = HashMap::new();
        for i in 0..x.rows {
            *per_leaf.entry(tree.leaf(&x.row(i)).as_ptr()).or_default() += 1;
        }
        assert!(tree.n_leaves() > 5);
        assert_eq!(per_leaf.len(), tree.n_leaves());
        assert!(per_leaf.values().all(|&n| n >= 7), "{per_leaf:?}");
        assert!(per_leaf.values().any(|&n| n < 14));

        // With a bootstrap, a row counts once however often it was drawn.
        let params = ForestParams {
            bootstrap: true,
            seed: 3,
            ..ForestParams::single_tree(TreeParams {
                min_samples_leaf: 5,
                ..TreeParams::default()
            })
        };
        let tree = classify(&x, &y, 2, &params).trees()[0].clone();
        let drawn = bootstrap(&y, &mut Rng::stream(3, 0));
        let mut per_leaf: HashMap<*const f64, (usize, f64)> = HashMap::new();
        for (&row, &w) in drawn.rows.iter().zip(&drawn.weights) {
            let entry = per_leaf
                .entry(tree.leaf(&x.row(row as usize)).as_ptr())
                .or_default();
            *entry = (entry.0 + 1, entry.1 + w);
        }
        assert!(
            per_leaf.values().all(|&(rows, _)| rows >= 5),
            "{per_leaf:?}"
        );
        assert!(per_leaf.values().any(|&(rows, w)| rows < 10 && w >= 10.0));

        let params = ForestParams::single_tree(tree_params(Some(3)));
        let tree = classify(&x, &y, 2, &params).trees()[0].clone();
        assert_eq!(tree.depth(), 3);
        assert!(tree.n_leaves() <= 8);

        let params = ForestParams::single_tree(TreeParams {
            min_samples_split: 301,
            ..TreeParams::default()
        });
        assert_eq!(classify(&x, &y, 2, &params).trees()[0].n_leaves(), 1);
    }

    #[test]
    fn quantile_bins_split_at_bin_edges() {
        let x = Matrix::new(vec![(0..100).map(f64::from).collect()]);
        let y: Vec<u32> = (0..100).map(|i| u32::from(i >= 50)).collect();
        let params = ForestParams::single_tree(TreeParams {
            max_bins: 4,
            ..TreeParams::default()
        });
        let forest = classify(&x, &y, 2, &params);
        assert_eq!(forest.trees()[0].n_leaves(), 2);
        assert_eq!(forest.predict(&[49.5]), 0);
        assert_eq!(forest.predict(&[49.6]), 1);
        // With the boundary inside a bin, the tree cannot be exact.
        let y: Vec<u32> = (0..100).map(|i| u32::from(i >= 40)).collect();
        let forest = classify(&x, &y, 2, &params);
        let wrong = (0..100)
            .filter(|&i| forest.predict(&[f64::from(i)]) != y[i as usize])
            .count();
        assert!(wrong > 0);
    }

    fn fit_in_pool(threads: usize, x: &Matrix, y: &[u32], params: &ForestParams) -> Vec<u8> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let forest = pool.install(|| classify(x, y, 3, params));
        postcard::to_stdvec(&forest).unwrap()
    }

    #[test]
    fn fits_are_identical_whatever_the_thread_count() {
        let (x, y) = noisy(3000, 6, 3, 3);
        let forest = ForestParams {
            n_trees: 8,
            tree: TreeParams {
                max_depth: Some(6),
                max_features: MaxFeatures::Sqrt,
                ..TreeParams::default()
            },
            bootstrap: true,
            seed: 11,
        };
        let one = fit_in_pool(1, &x, &y, &forest);
        assert_eq!(one, fit_in_pool(2, &x, &y, &forest));
        assert_eq!(one, fit_in_pool(3, &x, &y, &forest));
        let other_seed = ForestParams {
            seed: 12,
            ..forest.clone()
        };
        assert_ne!(one, fit_in_pool(2, &x, &y, &other_seed));
        // One tree builds its histograms in parallel (big enough nodes), with and without
        // drawing features.
        let (x, y) = noisy(12_000, 4, 3, 4);
        for max_features in [MaxFeatures::All, MaxFeatures::Count(2)] {
            let single = ForestParams {
                n_trees: 1,
                tree: TreeParams {
                    max_depth: Some(5),
                    max_features,
                    ..TreeParams::default()
                },
                bootstrap: true,
                seed: 5,
            };
            assert_eq!(
                fit_in_pool(1, &x, &y, &single),
                fit_in_pool(2, &x, &y, &single)
            );
        }
    }

    #[test]
    fn serialization_round_trips_with_identical_predictions() {
        let (x, y) = noisy(500, 5, 3, 5);
        let forest = classify(&x, &y, 3, &ForestParams::classifier());
        let bytes = postcard::to_stdvec(&forest).unwrap();
        let back: ForestClassifier = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, forest);
        assert_eq!(back.predict_proba_batch(&x), forest.predict_proba_batch(&x));
        assert!(postcard::from_bytes::<ForestClassifier>(&bytes[..bytes.len() / 2]).is_err());

        let target: Vec<f64> = (0..x.rows).map(|i| x.columns[0][i] * 3.0 + 1e6).collect();
        let params = ForestParams {
            n_trees: 10,
            ..ForestParams::regressor()
        };
        let regressor = ForestRegressor::fit(&x, &target, &params, &|_| {}).unwrap();
        let bytes = postcard::to_stdvec(&regressor).unwrap();
        let back: ForestRegressor = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back.predict_batch(&x), regressor.predict_batch(&x));
        // A classifier's bytes are not a regressor.
        let bytes = postcard::to_stdvec(&forest).unwrap();
        assert!(postcard::from_bytes::<ForestRegressor>(&bytes).is_err());
    }

    #[test]
    fn batch_predictions_equal_single_row_ones() {
        let (x, y) = noisy(700, 5, 3, 6);
        let params = ForestParams {
            n_trees: 7,
            ..ForestParams::classifier()
        };
        let forest = classify(&x, &y, 3, &params);
        let batch = forest.predict_proba_batch(&x);
        assert_eq!(batch.len(), 700 * 3);
        let mut out = [0.0; 3];
        for i in 0..x.rows {
            forest.predict_proba_into(&x.row(i), &mut out);
            assert_eq!(&batch[i * 3..i * 3 + 3], &out);
            assert!((out.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
        let predicted = forest.predict_batch(&x);
        let accuracy =
            predicted.iter().zip(&y).filter(|(p, y)| p == y).count() as f64 / y.len() as f64;
        assert!(accuracy > 0.8, "{accuracy}");

        let target: Vec<f64> = (0..x.rows).map(|i| x.columns[1][i].sin()).collect();
        let regressor = ForestRegressor::fit(&x, &target, &params, &|_| {}).unwrap();
        let batch = regressor.predict_batch(&x);
        for (i, b) in batch.iter().enumerate() {
            assert_eq!(*b, regressor.predict(&x.row(i)));
        }
    }

    #[test]
    fn progress_counts_up_to_the_number_of_trees() {
        let (x, y) = noisy(200, 3, 2, 7);
        let seen = Mutex::new(Vec::new());
        let params = ForestParams {
            n_trees: 9,
            ..ForestParams::classifier()
        };
        ForestClassifier::fit(&x, &y, 2, &params, &|done| seen.lock().unwrap().push(done)).unwrap();
        assert_eq!(seen.into_inner().unwrap(), (1..=9).collect::<Vec<_>>());
    }

    fn param_name(result: Result<ForestClassifier, FitError>) -> String {
        match result {
            Err(FitError::Param { name, .. }) => name,
            other => panic!("expected a param error, got {other:?}"),
        }
    }

    #[test]
    fn errors_name_the_param_or_the_data() {
        let (x, y) = noisy(50, 3, 2, 8);
        let fit = |params: ForestParams| ForestClassifier::fit(&x, &y, 2, &params, &|_| {});
        let base = ForestParams::classifier();
        let with_tree = |tree: TreeParams| ForestParams {
            tree,
            ..base.clone()
        };
        let tree = base.tree.clone();
        let cases = [
            (
                "n_trees",
                ForestParams {
                    n_trees: 0,
                    ..base.clone()
                },
            ),
            (
                "max_depth",
                with_tree(TreeParams {
                    max_depth: Some(0),
                    ..tree.clone()
                }),
            ),
            (
                "min_samples_split",
                with_tree(TreeParams {
                    min_samples_split: 1,
                    ..tree.clone()
                }),
            ),
            (
                "min_samples_leaf",
                with_tree(TreeParams {
                    min_samples_leaf: 0,
                    ..tree.clone()
                }),
            ),
            (
                "max_bins",
                with_tree(TreeParams {
                    max_bins: 1,
                    ..tree.clone()
                }),
            ),
            (
                "max_bins",
                with_tree(TreeParams {
                    max_bins: 256,
                    ..tree.clone()
                }),
            ),
            (
                "max_features",
                with_tree(TreeParams {
                    max_features: MaxFeatures::Fraction(0.0),
                    ..tree.clone()
                }),
            ),
            (
                "max_features",
                with_tree(TreeParams {
                    max_features: MaxFeatures::Count(4),
                    ..tree.clone()
                }),
            ),
        ];
        for (name, params) in cases {
            assert_eq!(param_name(fit(params)), name);
        }
        assert!(
            fit(with_tree(TreeParams {
                max_depth: Some(1),
                ..tree
            }))
            .is_ok()
        );

        let data_error = |result: Result<ForestClassifier, FitError>, needle: &str| match result {
            Err(FitError::Data(message)) => assert!(message.contains(needle), "{message}"),
            other => panic!("expected a data error about {needle}, got {other:?}"),
        };
        let empty = Matrix::new(vec![Vec::new()]);
        data_error(
            ForestClassifier::fit(&empty, &[], 2, &base, &|_| {}),
            "no rows",
        );
        data_error(
            ForestClassifier::fit(&x, &y[1..], 2, &base, &|_| {}),
            "targets",
        );
        let mut bad = y.clone();
        bad[3] = 2;
        data_error(ForestClassifier::fit(&x, &bad, 2, &base, &|_| {}), "row 3");
        let mut nan = x.clone();
        nan.columns[1][4] = f64::NAN;
        data_error(
            ForestClassifier::fit(&nan, &y, 2, &base, &|_| {}),
            "feature 1",
        );
        let target = vec![f64::INFINITY; 50];
        assert!(matches!(
            ForestRegressor::fit(&x, &target, &ForestParams::regressor(), &|_| {}),
            Err(FitError::Data(_))
        ));
    }
}
