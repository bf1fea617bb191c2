//! One CART decision tree grown over histogram-binned features: the building block of
//! [`crate::forest`], which is also how a single tree is fitted (one tree, no bootstrap, all
//! features).
//!
//! Growing a tree:
//! - every feature is binned once per fit ([`Binned`]): up to `max_bins` bins whose edges are
//!   quantiles of the training values; a feature with at most `max_bins` distinct values gets
//!   one bin per value, which makes the split search exhaustive (plain CART);
//! - per node, the candidate features' histograms (weighted class counts, or weight and weighted
//!   sum of the target, plus a row count) are built over the node's samples only; with all
//!   features as candidates, the larger child's histograms are the parent's minus the smaller
//!   child's;
//! - the best split maximises the decrease of Gini impurity (classification) or of the squared
//!   error (regression); ties go to the first candidate feature, then the lowest threshold;
//! - a split's threshold is a real value, the midpoint between the largest training value of
//!   the node on its left and the smallest on its right (scikit-learn's rule), so prediction
//!   reads raw features: a row goes left when `value <= threshold` (a NaN goes right).
//!
//! Leaves hold the (weighted) class frequencies of the training samples that reached them, or
//! their (weighted) mean target.

use std::sync::Mutex;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{FitError, Matrix};

/// How many features are candidates at each node (drawn afresh at every node, without
/// replacement, like scikit-learn). A feature that is constant over the node's samples does not
/// count, so more features are looked at when some are constant.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum MaxFeatures {
    /// Every feature, in their order (no randomness).
    All,
    /// `max(1, floor(sqrt(n_features)))`.
    Sqrt,
    /// `max(1, floor(log2(n_features)))`.
    Log2,
    /// `max(1, floor(fraction * n_features))`, for a fraction in (0, 1].
    Fraction(f64),
    /// Exactly this many, between 1 and the number of features.
    Count(usize),
}

impl MaxFeatures {
    /// The number of candidate features per node for `n_features` features.
    pub fn resolve(self, n_features: usize) -> Result<usize, FitError> {
        let n = n_features as f64;
        let count = match self {
            MaxFeatures::All => n_features,
            MaxFeatures::Sqrt => n.sqrt() as usize,
            MaxFeatures::Log2 => n.log2() as usize,
            MaxFeatures::Fraction(fraction) => {
                check_fraction(fraction)?;
                (fraction * n) as usize
            }
            MaxFeatures::Count(count) => {
                if count == 0 || count > n_features {
                    return Err(param(
                        "max_features",
                        format!(
                            "must be between 1 and the number of features ({n_features}), not {count}"
                        ),
                    ));
                }
                count
            }
        };
        Ok(count.clamp(1, n_features.max(1)))
    }
}

fn check_fraction(fraction: f64) -> Result<(), FitError> {
    if fraction > 0.0 && fraction <= 1.0 {
        Ok(())
    } else {
        Err(param(
            "max_features",
            format!("a fraction must be in (0, 1], not {fraction}"),
        ))
    }
}

/// How a tree grows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeParams {
    /// The deepest level a leaf may be at, scikit-learn's convention: the root is depth 0, so
    /// `Some(10)` allows up to 1,024 leaves. `None`: grow until the leaves are pure or too small
    /// to split. `Some(0)` is rejected (as scikit-learn does): a tree that cannot split is a
    /// constant.
    pub max_depth: Option<usize>,
    /// A node with fewer training rows than this is a leaf (at least 2).
    pub min_samples_split: usize,
    /// Every leaf keeps at least this many training rows (at least 1). Rows count once whatever
    /// their bootstrap multiplicity, like scikit-learn.
    pub min_samples_leaf: usize,
    /// Candidate features per node.
    pub max_features: MaxFeatures,
    /// Bins per feature, 2 to 255.
    pub max_bins: usize,
}

impl Default for TreeParams {
    fn default() -> Self {
        TreeParams {
            max_depth: None,
            min_samples_split: 2,
            min_samples_leaf: 1,
            max_features: MaxFeatures::All,
            max_bins: 255,
        }
    }
}

impl TreeParams {
    /// Checks the values that do not depend on the data.
    pub fn validate(&self) -> Result<(), FitError> {
        if self.max_depth == Some(0) {
            return Err(param(
                "max_depth",
                "must be at least 1 (the root is depth 0)".to_owned(),
            ));
        }
        if self.min_samples_split < 2 {
            return Err(param(
                "min_samples_split",
                format!("must be at least 2, not {}", self.min_samples_split),
            ));
        }
        if self.min_samples_leaf == 0 {
            return Err(param(
                "min_samples_leaf",
                "must be at least 1, not 0".to_owned(),
            ));
        }
        if !(2..=255).contains(&self.max_bins) {
            return Err(param(
                "max_bins",
                format!("must be between 2 and 255, not {}", self.max_bins),
            ));
        }
        match self.max_features {
            MaxFeatures::Fraction(fraction) => check_fraction(fraction),
            MaxFeatures::Count(0) => Err(param(
                "max_features",
                "must be at least 1, not 0".to_owned(),
            )),
            _ => Ok(()),
        }
    }
}

pub(crate) fn param(name: &str, message: String) -> FitError {
    FitError::Param {
        name: name.to_owned(),
        message,
    }
}

/// A fitted tree: a flat array of nodes (the root first; the two children of a node are
/// adjacent and always after it) and the leaves' values, `width` per leaf.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "TreeRepr")]
pub struct Tree {
    nodes: Vec<Node>,
    values: Vec<f64>,
    width: usize,
}

/// A split (`feature` < `LEAF`: go to `child` when `value <= threshold`, else to `child + 1`)
/// or a leaf (`feature == LEAF`: its values start at `child * width`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Node {
    threshold: f64,
    feature: u32,
    child: u32,
}

const LEAF: u32 = u32::MAX;

/// A node not decided yet.
const UNSET: Node = Node {
    threshold: 0.0,
    feature: LEAF,
    child: 0,
};

/// What is deserialised, then checked: a tree whose traversal could loop or index out of
/// bounds is refused.
#[derive(Deserialize)]
struct TreeRepr {
    nodes: Vec<Node>,
    values: Vec<f64>,
    width: usize,
}

impl TryFrom<TreeRepr> for Tree {
    type Error = String;

    fn try_from(repr: TreeRepr) -> Result<Self, String> {
        let TreeRepr {
            nodes,
            values,
            width,
        } = repr;
        if nodes.is_empty() || width == 0 || values.len() % width != 0 {
            return Err("a tree needs nodes and leaf values of its width".to_owned());
        }
        let leaves = values.len() / width;
        for (i, node) in nodes.iter().enumerate() {
            let child = node.child as usize;
            let ok = if node.feature == LEAF {
                child < leaves
            } else {
                child > i && child + 1 < nodes.len() && !node.threshold.is_nan()
            };
            if !ok {
                return Err(format!("tree node {i} points outside the tree"));
            }
        }
        Ok(Tree {
            nodes,
            values,
            width,
        })
    }
}

impl Tree {
    /// The values of the leaf `row` falls into: class probabilities, or one mean.
    ///
    /// Panics if `row` is shorter than a feature the tree splits on.
    #[inline]
    pub fn leaf(&self, row: &[f64]) -> &[f64] {
        let mut node = self.nodes[0];
        while node.feature != LEAF {
            let right = goes_right(row[node.feature as usize], node.threshold);
            node = self.nodes[node.child as usize + usize::from(right)];
        }
        let start = node.child as usize * self.width;
        &self.values[start..start + self.width]
    }

    /// Walks rows down the tree side by side (the walks are independent, so the processor
    /// overlaps their memory reads and comparisons): `rows` holds them row-major, `stride`
    /// values each; leaves in `at` where each row's leaf values start (see
    /// [`Tree::values_at`]).
    pub(crate) fn walk_rows(&self, rows: &[f64], stride: usize, at: &mut [u32]) {
        at.fill(0);
        loop {
            let mut moved = false;
            for (row, a) in rows.chunks_exact(stride).zip(at.iter_mut()) {
                let node = self.nodes[*a as usize];
                if node.feature != LEAF {
                    let value = row[node.feature as usize];
                    *a = node.child + u32::from(goes_right(value, node.threshold));
                    moved = true;
                }
            }
            if !moved {
                break;
            }
        }
        for a in at {
            *a = self.nodes[*a as usize].child * self.width as u32;
        }
    }

    /// The leaf values that start at `offset`.
    #[inline]
    pub(crate) fn values_at(&self, offset: u32) -> &[f64] {
        &self.values[offset as usize..offset as usize + self.width]
    }

    /// Values per leaf: the number of classes, or 1 for regression.
    pub fn width(&self) -> usize {
        self.width
    }

    pub fn n_nodes(&self) -> usize {
        self.nodes.len()
    }

    pub fn n_leaves(&self) -> usize {
        self.values.len() / self.width
    }

    /// The depth of the deepest leaf (a lone root leaf is depth 0).
    pub fn depth(&self) -> usize {
        let mut depth = vec![0usize; self.nodes.len()];
        let mut deepest = 0;
        // Children come after their parent, so one pass in order sees every parent first.
        for (i, node) in self.nodes.iter().enumerate() {
            if node.feature == LEAF {
                deepest = deepest.max(depth[i]);
            } else {
                let child = node.child as usize;
                depth[child] = depth[i] + 1;
                depth[child + 1] = depth[i] + 1;
            }
        }
        deepest
    }

    /// The largest feature index the tree splits on, if it splits at all.
    pub fn max_feature(&self) -> Option<usize> {
        self.nodes
            .iter()
            .filter(|node| node.feature != LEAF)
            .map(|node| node.feature as usize)
            .max()
    }
}

/// Whether a value goes to the right child: above the threshold, or NaN.
#[inline]
#[allow(clippy::neg_cmp_op_on_partial_ord)]
fn goes_right(value: f64, threshold: f64) -> bool {
    !(value <= threshold)
}

/// Walks one row down several trees side by side, as [`Tree::walk_rows`] does rows; leaves in
/// `at[i]` where the row's leaf values in `trees[i]` start.
pub(crate) fn walk_trees(trees: &[Tree], row: &[f64], at: &mut [u32]) {
    at.fill(0);
    loop {
        let mut moved = false;
        for (tree, a) in trees.iter().zip(at.iter_mut()) {
            let node = tree.nodes[*a as usize];
            if node.feature != LEAF {
                *a = node.child + u32::from(goes_right(row[node.feature as usize], node.threshold));
                moved = true;
            }
        }
        if !moved {
            break;
        }
    }
    for (tree, a) in trees.iter().zip(at) {
        *a = tree.nodes[*a as usize].child * tree.width as u32;
    }
}

// ---------------------------------------------------------------------------------------------
// Binning

/// Every feature of the training matrix as `u8` bin codes, with what each bin holds.
pub(crate) struct Binned {
    /// `codes[j][i]`: the bin of feature `j` of row `i`.
    codes: Vec<Vec<u8>>,
    /// Per feature, per bin: the smallest and largest training value in the bin.
    bin_min: Vec<Vec<f64>>,
    bin_max: Vec<Vec<f64>>,
}

impl Binned {
    /// Bins every column of `x` (in parallel over features) into at most `max_bins` bins.
    pub(crate) fn new(x: &Matrix, max_bins: usize) -> Result<Binned, FitError> {
        let binned: Vec<FeatureBins> = x
            .columns
            .par_iter()
            .enumerate()
            .map(|(j, column)| bin_feature(j, column, max_bins))
            .collect::<Result<_, _>>()?;
        let mut codes = Vec::with_capacity(binned.len());
        let mut bin_min = Vec::with_capacity(binned.len());
        let mut bin_max = Vec::with_capacity(binned.len());
        for feature in binned {
            codes.push(feature.codes);
            bin_min.push(feature.bin_min);
            bin_max.push(feature.bin_max);
        }
        Ok(Binned {
            codes,
            bin_min,
            bin_max,
        })
    }

    pub(crate) fn n_features(&self) -> usize {
        self.codes.len()
    }

    fn n_bins(&self, feature: usize) -> usize {
        self.bin_min[feature].len()
    }
}

/// One feature, binned.
struct FeatureBins {
    codes: Vec<u8>,
    bin_min: Vec<f64>,
    bin_max: Vec<f64>,
}

/// One feature's bin codes and per-bin value ranges. Bins are runs of consecutive distinct
/// values: one per distinct value when there are at most `max_bins`, otherwise runs holding
/// about `rows / max_bins` rows each (quantiles).
fn bin_feature(j: usize, column: &[f64], max_bins: usize) -> Result<FeatureBins, FitError> {
    if column.iter().any(|v| v.is_nan()) {
        return Err(FitError::Data(format!("feature {j} has NaN values")));
    }
    let mut sorted = column.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    // Distinct values (-0.0 == 0.0) and how many rows have each.
    let mut distinct: Vec<(f64, usize)> = Vec::new();
    for &v in &sorted {
        match distinct.last_mut() {
            Some((last, count)) if *last == v => *count += 1,
            _ => distinct.push((v, 1)),
        }
    }
    let n = sorted.len();
    let (mut bin_min, mut bin_max) = (Vec::new(), Vec::new());
    if distinct.len() <= max_bins {
        for &(v, _) in &distinct {
            bin_min.push(v);
            bin_max.push(v);
        }
    } else {
        // Close a bin once it reaches the next multiple of n / max_bins rows.
        let mut cumulative = 0usize;
        let mut target = 1usize; // the bin closes when cumulative * max_bins >= target * n
        let mut open: Option<f64> = None;
        for (i, &(v, count)) in distinct.iter().enumerate() {
            let lo = *open.get_or_insert(v);
            cumulative += count;
            if cumulative * max_bins >= target * n || i + 1 == distinct.len() {
                bin_min.push(lo);
                bin_max.push(v);
                open = None;
                target = cumulative * max_bins / n + 1;
            }
        }
    }
    debug_assert!(bin_min.len() <= max_bins);
    // The edge after bin b: every value of bin b is <= it, every value of bin b + 1 is above.
    let edges: Vec<f64> = (1..bin_min.len())
        .map(|b| midpoint(bin_max[b - 1], bin_min[b]))
        .collect();
    let codes = column
        .iter()
        .map(|&v| edges.partition_point(|&edge| edge < v) as u8)
        .collect();
    Ok(FeatureBins {
        codes,
        bin_min,
        bin_max,
    })
}

/// A threshold between `lo < hi` with `lo <= t < hi`: their midpoint, or `lo` when the
/// midpoint rounds to `hi` or overflows (scikit-learn's rule).
fn midpoint(lo: f64, hi: f64) -> f64 {
    let t = (lo + hi) / 2.0;
    if t == hi || !t.is_finite() { lo } else { t }
}

// ---------------------------------------------------------------------------------------------
// Objectives

/// What a tree predicts and how splits are scored. Histograms hold `slots()` values per bin,
/// the last of which counts rows; node totals begin with the same `slots()` values (regression
/// adds the smallest and largest target).
pub(crate) trait Objective: Sync {
    /// One training row's target.
    type Target: Copy + Send + Sync;

    fn slots(&self) -> usize;
    fn new_totals(&self) -> Vec<f64>;
    fn add(&self, acc: &mut [f64], target: Self::Target, weight: f64);
    fn add_total(&self, acc: &mut [f64], target: Self::Target, weight: f64);
    /// Whether no split can improve the node.
    fn is_pure(&self, totals: &[f64]) -> bool;
    /// A score of a split that grows as the weighted impurity of the two sides falls.
    fn proxy(&self, left: &[f64], right: &[f64]) -> f64;
    /// The leaf's values, appended.
    fn leaf(&self, totals: &[f64], out: &mut Vec<f64>);
    /// Values per leaf.
    fn width(&self) -> usize;
}

/// Classification by Gini impurity; targets are class indices.
pub(crate) struct Gini {
    pub(crate) n_classes: usize,
}

impl Objective for Gini {
    type Target = u32;

    fn slots(&self) -> usize {
        self.n_classes + 1
    }

    fn new_totals(&self) -> Vec<f64> {
        vec![0.0; self.n_classes + 1]
    }

    #[inline]
    fn add(&self, acc: &mut [f64], target: u32, weight: f64) {
        acc[target as usize] += weight;
        acc[self.n_classes] += 1.0;
    }

    #[inline]
    fn add_total(&self, acc: &mut [f64], target: u32, weight: f64) {
        self.add(acc, target, weight);
    }

    fn is_pure(&self, totals: &[f64]) -> bool {
        totals[..self.n_classes]
            .iter()
            .filter(|&&c| c > 0.0)
            .count()
            <= 1
    }

    /// Minimising `w_l * gini_l + w_r * gini_r` is maximising
    /// `sum_k l_k² / w_l + sum_k r_k² / w_r`.
    #[inline]
    fn proxy(&self, left: &[f64], right: &[f64]) -> f64 {
        let (mut wl, mut sl, mut wr, mut sr) = (0.0, 0.0, 0.0, 0.0);
        for k in 0..self.n_classes {
            let (l, r) = (left[k], right[k]);
            wl += l;
            sl += l * l;
            wr += r;
            sr += r * r;
        }
        sl / wl + sr / wr
    }

    fn leaf(&self, totals: &[f64], out: &mut Vec<f64>) {
        let counts = &totals[..self.n_classes];
        let total: f64 = counts.iter().sum();
        out.extend(counts.iter().map(|c| c / total));
    }

    fn width(&self) -> usize {
        self.n_classes
    }
}

/// Regression by squared error; targets are centred on `offset` (the training mean), which is
/// added back in the leaves, so that sums of large targets do not lose the differences between
/// splits.
pub(crate) struct SquaredError {
    pub(crate) offset: f64,
}

impl Objective for SquaredError {
    type Target = f64;

    /// Weight, weighted sum of the target, rows.
    fn slots(&self) -> usize {
        3
    }

    fn new_totals(&self) -> Vec<f64> {
        vec![0.0, 0.0, 0.0, f64::INFINITY, f64::NEG_INFINITY]
    }

    #[inline]
    fn add(&self, acc: &mut [f64], target: f64, weight: f64) {
        acc[0] += weight;
        acc[1] += weight * target;
        acc[2] += 1.0;
    }

    #[inline]
    fn add_total(&self, acc: &mut [f64], target: f64, weight: f64) {
        self.add(acc, target, weight);
        acc[3] = acc[3].min(target);
        acc[4] = acc[4].max(target);
    }

    fn is_pure(&self, totals: &[f64]) -> bool {
        totals[3] >= totals[4]
    }

    /// Minimising the children's summed squared errors is maximising
    /// `s_l² / w_l + s_r² / w_r`.
    #[inline]
    fn proxy(&self, left: &[f64], right: &[f64]) -> f64 {
        left[1] * left[1] / left[0] + right[1] * right[1] / right[0]
    }

    fn leaf(&self, totals: &[f64], out: &mut Vec<f64>) {
        out.push(totals[1] / totals[0] + self.offset);
    }

    fn width(&self) -> usize {
        1
    }
}

// ---------------------------------------------------------------------------------------------
// Growing

/// A small deterministic generator (SplitMix64): a tree's draws depend only on the forest's
/// seed and the tree's index; `cairn-train` shuffles its splits with it too.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// The generator whose first state is `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    pub(crate) fn for_tree(seed: u64, tree: u64) -> Rng {
        Rng {
            state: mix(seed ^ mix(tree.wrapping_add(0x243F_6A88_85A3_08D3))),
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.state)
    }

    /// A value in `0..n` (multiply-shift; the bias is below 2^-32 for n < 2^32).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The training rows one tree sees: row indices (ascending), their targets and weights
/// (bootstrap multiplicities), kept in step as nodes partition them.
pub(crate) struct Samples<T> {
    pub(crate) rows: Vec<u32>,
    pub(crate) targets: Vec<T>,
    pub(crate) weights: Vec<f64>,
}

/// Parameters resolved against the data.
pub(crate) struct Grower<'a, O: Objective> {
    pub(crate) binned: &'a Binned,
    pub(crate) objective: &'a O,
    pub(crate) max_depth: usize,
    pub(crate) min_samples_split: usize,
    pub(crate) min_samples_leaf: usize,
    /// Candidate features per node; equal to the number of features means all, in order.
    pub(crate) max_features: usize,
    /// Build a node's histograms on several threads (when the forest's trees do not already
    /// keep the threads busy).
    pub(crate) parallel_histograms: bool,
}

/// Histograms for every feature (empty for features not built).
type Hist = Vec<Vec<f64>>;

/// Below this many (row, feature) pairs a node's histograms are built on one thread.
const PARALLEL_WORK: usize = 1 << 15;
/// At most this many histograms wait on the stack for their node (memory bound, in case of a
/// deep, lopsided tree).
const MAX_STASHED: usize = 64;

struct Pending {
    node: usize,
    lo: usize,
    hi: usize,
    depth: usize,
    totals: Vec<f64>,
    hist: Option<Hist>,
}

#[derive(Clone, Copy)]
struct Split {
    feature: usize,
    /// The last bin on the left that has samples of the node, and the first on the right.
    left_bin: usize,
    right_bin: usize,
    proxy: f64,
}

impl<O: Objective> Grower<'_, O> {
    fn all_features(&self) -> bool {
        self.max_features >= self.binned.n_features()
    }

    fn can_split(&self, totals: &[f64], depth: usize) -> bool {
        let rows = totals[self.objective.slots() - 1] as usize;
        depth < self.max_depth
            && rows >= self.min_samples_split
            && rows >= self.min_samples_leaf.saturating_mul(2)
            && !self.objective.is_pure(totals)
    }

    /// Grows one tree over `samples`, drawing candidate features from `rng`.
    pub(crate) fn grow(&self, mut samples: Samples<O::Target>, rng: &mut Rng) -> Tree {
        let o = self.objective;
        let n = samples.rows.len();
        let n_features = self.binned.n_features();
        let mut totals = o.new_totals();
        for (&t, &w) in samples.targets.iter().zip(&samples.weights) {
            o.add_total(&mut totals, t, w);
        }
        let mut scratch = Samples {
            rows: vec![0; n],
            targets: samples.targets.clone(),
            weights: vec![0.0; n],
        };
        let mut drawn_hist: Hist = vec![Vec::new(); n_features];
        let mut order: Vec<usize> = (0..n_features).collect();
        let mut pool: Vec<Hist> = Vec::new();
        let mut stashed = 0usize;

        let mut nodes = vec![UNSET];
        let mut values = Vec::new();
        let mut stack = vec![Pending {
            node: 0,
            lo: 0,
            hi: n,
            depth: 0,
            totals,
            hist: None,
        }];
        while let Some(pending) = stack.pop() {
            let Pending {
                node,
                lo,
                hi,
                depth,
                totals,
                hist,
            } = pending;
            if hist.is_some() {
                stashed -= 1;
            }
            let mut full = None;
            let best = if !self.can_split(&totals, depth) {
                None
            } else if self.all_features() {
                let mut hist = hist.unwrap_or_else(|| {
                    let mut hist = self.take(&mut pool);
                    self.build(&mut hist, None, &samples, lo, hi);
                    hist
                });
                let best = (0..n_features)
                    .filter_map(|f| self.best_in(&hist[f], f, &totals).0)
                    .fold(None, |best, split| better(best, Some(split)));
                if best.is_some() {
                    full = Some(hist);
                } else {
                    pool.push(std::mem::take(&mut hist));
                }
                best
            } else {
                self.best_drawn(&mut drawn_hist, &mut order, rng, &samples, lo, hi, &totals)
            };
            let Some(split) = best else {
                nodes[node] = Node {
                    threshold: 0.0,
                    feature: LEAF,
                    child: (values.len() / o.width()) as u32,
                };
                o.leaf(&totals, &mut values);
                if let Some(hist) = full {
                    pool.push(hist);
                }
                continue;
            };

            let (mid, left_totals, right_totals) =
                self.partition(&mut samples, &mut scratch, lo, hi, &split);
            let child = nodes.len();
            let f = split.feature;
            nodes[node] = Node {
                threshold: midpoint(
                    self.binned.bin_max[f][split.left_bin],
                    self.binned.bin_min[f][split.right_bin],
                ),
                feature: f as u32,
                child: child as u32,
            };
            nodes.extend([UNSET; 2]);

            // The children's histograms: the smaller child's built, the larger's by
            // subtraction, when the larger can split and there is room to keep them.
            let (mut left_hist, mut right_hist) = (None, None);
            if let Some(mut parent) = full {
                let left_splits = self.can_split(&left_totals, depth + 1);
                let right_splits = self.can_split(&right_totals, depth + 1);
                let left_smaller = mid - lo <= hi - mid;
                let larger_splits = if left_smaller {
                    right_splits
                } else {
                    left_splits
                };
                if larger_splits && stashed + 2 <= MAX_STASHED {
                    let mut small = self.take(&mut pool);
                    let (s_lo, s_hi) = if left_smaller { (lo, mid) } else { (mid, hi) };
                    self.build(&mut small, None, &samples, s_lo, s_hi);
                    for (p, s) in parent.iter_mut().zip(&small) {
                        for (p, s) in p.iter_mut().zip(s) {
                            *p -= s;
                        }
                    }
                    let smaller_splits = if left_smaller {
                        left_splits
                    } else {
                        right_splits
                    };
                    let small = if smaller_splits {
                        Some(small)
                    } else {
                        pool.push(small);
                        None
                    };
                    if left_smaller {
                        (left_hist, right_hist) = (small, Some(parent));
                    } else {
                        (left_hist, right_hist) = (Some(parent), small);
                    }
                } else {
                    pool.push(parent);
                }
            }
            stashed += usize::from(left_hist.is_some()) + usize::from(right_hist.is_some());
            // Right first: the left subtree is grown first.
            stack.push(Pending {
                node: child + 1,
                lo: mid,
                hi,
                depth: depth + 1,
                totals: right_totals,
                hist: right_hist,
            });
            stack.push(Pending {
                node: child,
                lo,
                hi: mid,
                depth: depth + 1,
                totals: left_totals,
                hist: left_hist,
            });
        }
        Tree {
            nodes,
            values,
            width: o.width(),
        }
    }

    /// A histogram buffer for every feature, from the pool or new (contents undefined).
    fn take(&self, pool: &mut Vec<Hist>) -> Hist {
        pool.pop().unwrap_or_else(|| {
            (0..self.binned.n_features())
                .map(|f| vec![0.0; self.binned.n_bins(f) * self.objective.slots()])
                .collect()
        })
    }

    /// Builds the histograms of `features` (all when `None`) over samples `lo..hi`.
    fn build(
        &self,
        hist: &mut Hist,
        features: Option<&[usize]>,
        samples: &Samples<O::Target>,
        lo: usize,
        hi: usize,
    ) {
        let wanted = |f: usize| features.is_none_or(|fs| fs.contains(&f));
        let width = features.map_or(hist.len(), <[usize]>::len);
        let fill = |(f, h): (usize, &mut Vec<f64>)| {
            h.resize(self.binned.n_bins(f) * self.objective.slots(), 0.0);
            self.fill(h, f, samples, lo, hi);
        };
        if self.parallel_histograms && (hi - lo) * width >= PARALLEL_WORK && width > 1 {
            hist.par_iter_mut()
                .enumerate()
                .filter(|(f, _)| wanted(*f))
                .for_each(fill);
        } else {
            hist.iter_mut()
                .enumerate()
                .filter(|(f, _)| wanted(*f))
                .for_each(fill);
        }
    }

    fn fill(
        &self,
        h: &mut [f64],
        feature: usize,
        samples: &Samples<O::Target>,
        lo: usize,
        hi: usize,
    ) {
        let o = self.objective;
        let s = o.slots();
        h.fill(0.0);
        let codes = &self.binned.codes[feature];
        let rows = &samples.rows[lo..hi];
        let targets = &samples.targets[lo..hi];
        let weights = &samples.weights[lo..hi];
        for ((&row, &t), &w) in rows.iter().zip(targets).zip(weights) {
            let b = usize::from(codes[row as usize]) * s;
            o.add(&mut h[b..b + s], t, w);
        }
    }

    /// The best split of one feature's histogram, and whether the feature varies in the node.
    fn best_in(&self, h: &[f64], feature: usize, totals: &[f64]) -> (Option<Split>, bool) {
        let o = self.objective;
        let s = o.slots();
        let count = s - 1;
        let min_leaf = self.min_samples_leaf as f64;
        let total_rows = totals[count];
        let mut left = [0.0f64; 16];
        let mut right = [0.0f64; 16];
        let mut left_vec;
        let mut right_vec;
        let (left, right): (&mut [f64], &mut [f64]) = if s <= 16 {
            (&mut left[..s], &mut right[..s])
        } else {
            left_vec = vec![0.0; s];
            right_vec = vec![0.0; s];
            (&mut left_vec, &mut right_vec)
        };
        let mut best: Option<Split> = None;
        let mut previous: Option<usize> = None;
        let mut varies = false;
        for (b, bin) in h.chunks_exact(s).enumerate() {
            if bin[count] == 0.0 {
                continue;
            }
            if let Some(p) = previous {
                varies = true;
                let n_left = left[count];
                if total_rows - n_left < min_leaf {
                    break;
                }
                if n_left >= min_leaf {
                    for ((r, t), l) in right.iter_mut().zip(totals).zip(left.iter()) {
                        *r = t - l;
                    }
                    let proxy = o.proxy(left, right);
                    if best.is_none_or(|best| proxy > best.proxy) {
                        best = Some(Split {
                            feature,
                            left_bin: p,
                            right_bin: b,
                            proxy,
                        });
                    }
                }
            }
            for (l, v) in left.iter_mut().zip(bin) {
                *l += v;
            }
            previous = Some(b);
        }
        (best, varies)
    }

    /// The best split over features drawn at random: features are drawn without replacement
    /// until `max_features` of them vary in the node (or none are left).
    #[allow(clippy::too_many_arguments)]
    fn best_drawn(
        &self,
        hist: &mut Hist,
        order: &mut [usize],
        rng: &mut Rng,
        samples: &Samples<O::Target>,
        lo: usize,
        hi: usize,
        totals: &[f64],
    ) -> Option<Split> {
        let n_features = order.len();
        let mut drawn = 0;
        let mut visited = 0;
        let mut best = None;
        while visited < self.max_features && drawn < n_features {
            let batch = (self.max_features - visited).min(n_features - drawn);
            for j in drawn..drawn + batch {
                let r = j + rng.below(n_features - j);
                order.swap(j, r);
            }
            let features = &order[drawn..drawn + batch];
            self.build(hist, Some(features), samples, lo, hi);
            for &f in features {
                let (split, varies) = self.best_in(&hist[f], f, totals);
                visited += usize::from(varies);
                best = better(best, split);
            }
            drawn += batch;
        }
        best
    }

    /// Moves the node's samples with `bin <= left_bin` of the split feature before the others,
    /// keeping their order; returns where the right child starts and both children's totals.
    fn partition(
        &self,
        samples: &mut Samples<O::Target>,
        scratch: &mut Samples<O::Target>,
        lo: usize,
        hi: usize,
        split: &Split,
    ) -> (usize, Vec<f64>, Vec<f64>) {
        let o = self.objective;
        let codes = &self.binned.codes[split.feature];
        let limit = split.left_bin as u8;
        let mut left_totals = o.new_totals();
        let mut right_totals = o.new_totals();
        let mut l = lo;
        let mut r = 0;
        for i in lo..hi {
            let (row, t, w) = (samples.rows[i], samples.targets[i], samples.weights[i]);
            if codes[row as usize] <= limit {
                samples.rows[l] = row;
                samples.targets[l] = t;
                samples.weights[l] = w;
                l += 1;
                o.add_total(&mut left_totals, t, w);
            } else {
                scratch.rows[r] = row;
                scratch.targets[r] = t;
                scratch.weights[r] = w;
                r += 1;
                o.add_total(&mut right_totals, t, w);
            }
        }
        samples.rows[l..hi].copy_from_slice(&scratch.rows[..r]);
        samples.targets[l..hi].copy_from_slice(&scratch.targets[..r]);
        samples.weights[l..hi].copy_from_slice(&scratch.weights[..r]);
        (l, left_totals, right_totals)
    }
}

/// The better of two splits; the first wins a tie.
fn better(a: Option<Split>, b: Option<Split>) -> Option<Split> {
    match (a, b) {
        (Some(a), Some(b)) if b.proxy > a.proxy => Some(b),
        (Some(a), _) => Some(a),
        (None, b) => b,
    }
}

/// Calls `progress` with the running count as each of `n` jobs finishes, one call at a time and
/// in increasing order.
pub(crate) struct Counter<'a> {
    done: Mutex<usize>,
    progress: &'a (dyn Fn(usize) + Sync),
}

impl<'a> Counter<'a> {
    pub(crate) fn new(progress: &'a (dyn Fn(usize) + Sync)) -> Self {
        Counter {
            done: Mutex::new(0),
            progress,
        }
    }

    pub(crate) fn tick(&self) {
        let mut done = self
            .done
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *done += 1;
        (self.progress)(*done);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_cover_each_distinct_value_when_few() {
        let column = [3.0, 1.0, 2.0, 2.0, -0.0, 0.0, 3.0];
        let FeatureBins {
            codes,
            bin_min: lo,
            bin_max: hi,
        } = bin_feature(0, &column, 255).unwrap();
        assert_eq!(lo, vec![-0.0, 1.0, 2.0, 3.0]);
        assert_eq!(lo, hi);
        assert_eq!(codes, vec![3, 1, 2, 2, 0, 0, 3]);
    }

    #[test]
    fn quantile_bins_are_balanced_and_ordered() {
        let column: Vec<f64> = (0..1000).map(|i| f64::from((i * 7919) % 1000)).collect();
        let FeatureBins {
            codes,
            bin_min: lo,
            bin_max: hi,
        } = bin_feature(0, &column, 10).unwrap();
        assert_eq!(lo.len(), 10);
        let mut per_bin = [0usize; 10];
        for (&code, &v) in codes.iter().zip(&column) {
            let b = usize::from(code);
            assert!(lo[b] <= v && v <= hi[b], "{v} not in bin {b}");
            per_bin[b] += 1;
        }
        assert_eq!(per_bin, [100; 10]);
        for b in 1..10 {
            assert!(hi[b - 1] < lo[b]);
        }
    }

    #[test]
    fn binning_refuses_nan() {
        let Err(err) = bin_feature(4, &[1.0, f64::NAN], 255) else {
            panic!("NaN was binned");
        };
        assert!(err.to_string().contains("feature 4"), "{err}");
    }

    #[test]
    fn midpoint_stays_below_the_upper_value() {
        assert_eq!(midpoint(1.0, 2.0), 1.5);
        let next = f64::from_bits(1.0f64.to_bits() + 1);
        assert_eq!(midpoint(1.0, next), 1.0);
        assert_eq!(midpoint(f64::MAX, f64::INFINITY), f64::MAX);
    }

    #[test]
    fn max_features_resolves_like_scikit_learn() {
        assert_eq!(MaxFeatures::Sqrt.resolve(20).unwrap(), 4);
        assert_eq!(MaxFeatures::Sqrt.resolve(16).unwrap(), 4);
        assert_eq!(MaxFeatures::Log2.resolve(20).unwrap(), 4);
        assert_eq!(MaxFeatures::Sqrt.resolve(1).unwrap(), 1);
        assert_eq!(MaxFeatures::Fraction(0.5).resolve(7).unwrap(), 3);
        assert_eq!(MaxFeatures::Fraction(0.01).resolve(7).unwrap(), 1);
        assert_eq!(MaxFeatures::All.resolve(7).unwrap(), 7);
        assert_eq!(MaxFeatures::Count(3).resolve(7).unwrap(), 3);
        for bad in [
            MaxFeatures::Count(8),
            MaxFeatures::Count(0),
            MaxFeatures::Fraction(0.0),
            MaxFeatures::Fraction(1.5),
            MaxFeatures::Fraction(f64::NAN),
        ] {
            match bad.resolve(7) {
                Err(FitError::Param { name, .. }) => assert_eq!(name, "max_features"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn rng_streams_differ_per_tree_and_stay_in_range() {
        let mut a = Rng::for_tree(0, 0);
        let mut b = Rng::for_tree(0, 1);
        assert_ne!(a.next_u64(), b.next_u64());
        let mut counts = [0usize; 5];
        for _ in 0..5000 {
            counts[a.below(5)] += 1;
        }
        assert!(
            counts.iter().all(|&c| (900..1100).contains(&c)),
            "{counts:?}"
        );
    }

    /// A plain exhaustive CART (sorted scan of every feature at every node), built in the same
    /// node order as `Grower`.
    struct Cart<'a> {
        x: &'a Matrix,
        y: &'a [u32],
        gini: Gini,
        max_depth: usize,
        min_split: usize,
        min_leaf: usize,
        nodes: Vec<Node>,
        values: Vec<f64>,
    }

    impl Cart<'_> {
        fn grow(&mut self, node: usize, rows: Vec<usize>, depth: usize) {
            let o = &self.gini;
            let mut totals = o.new_totals();
            for &r in &rows {
                o.add_total(&mut totals, self.y[r], 1.0);
            }
            let n = rows.len();
            let mut best: Option<(f64, usize, f64)> = None;
            if depth < self.max_depth
                && n >= self.min_split
                && n >= 2 * self.min_leaf
                && !o.is_pure(&totals)
            {
                for f in 0..self.x.cols() {
                    let column = &self.x.columns[f];
                    let mut sorted = rows.clone();
                    sorted.sort_by(|&a, &b| column[a].total_cmp(&column[b]));
                    let mut left = o.new_totals();
                    for i in 0..n - 1 {
                        o.add(&mut left, self.y[sorted[i]], 1.0);
                        let (a, b) = (column[sorted[i]], column[sorted[i + 1]]);
                        if a == b || i + 1 < self.min_leaf || n - i - 1 < self.min_leaf {
                            continue;
                        }
                        let right: Vec<f64> =
                            totals.iter().zip(&left).map(|(t, l)| t - l).collect();
                        let proxy = o.proxy(&left, &right);
                        if best.is_none_or(|(p, _, _)| proxy > p) {
                            best = Some((proxy, f, midpoint(a, b)));
                        }
                    }
                }
            }
            let Some((_, feature, threshold)) = best else {
                self.nodes[node] = Node {
                    threshold: 0.0,
                    feature: LEAF,
                    child: (self.values.len() / o.n_classes) as u32,
                };
                o.leaf(&totals, &mut self.values);
                return;
            };
            let child = self.nodes.len();
            self.nodes[node] = Node {
                threshold,
                feature: feature as u32,
                child: child as u32,
            };
            self.nodes.extend([UNSET; 2]);
            let (left, right): (Vec<usize>, Vec<usize>) = rows
                .into_iter()
                .partition(|&r| self.x.columns[feature][r] <= threshold);
            self.grow(child, left, depth + 1);
            self.grow(child + 1, right, depth + 1);
        }
    }

    #[test]
    fn one_tree_with_a_bin_per_value_is_plain_cart() {
        let mut rng = Rng::for_tree(42, 0);
        let rows = 150;
        // Few distinct values (many ties), a finer feature, and three classes with noise.
        let a: Vec<f64> = (0..rows).map(|_| rng.below(6) as f64).collect();
        let b: Vec<f64> = (0..rows)
            .map(|_| rng.below(40) as f64 * 0.25 - 3.0)
            .collect();
        let c: Vec<f64> = (0..rows).map(|_| rng.below(3) as f64).collect();
        let y: Vec<u32> = (0..rows)
            .map(|i| {
                let class = if a[i] + b[i] > 3.0 {
                    2
                } else if c[i] == 1.0 {
                    1
                } else {
                    0
                };
                if rng.below(10) == 0 {
                    rng.below(3) as u32
                } else {
                    class
                }
            })
            .collect();
        let x = Matrix::new(vec![a, b, c]);
        for (max_depth, min_split, min_leaf) in [(None, 2, 1), (Some(3), 2, 1), (None, 10, 4)] {
            let params = crate::forest::ForestParams::single_tree(TreeParams {
                max_depth,
                min_samples_split: min_split,
                min_samples_leaf: min_leaf,
                ..TreeParams::default()
            });
            let forest = crate::forest::ForestClassifier::fit(&x, &y, 3, &params, &|_| {}).unwrap();
            let mut cart = Cart {
                x: &x,
                y: &y,
                gini: Gini { n_classes: 3 },
                max_depth: max_depth.unwrap_or(usize::MAX),
                min_split,
                min_leaf,
                nodes: vec![UNSET],
                values: Vec::new(),
            };
            cart.grow(0, (0..rows).collect(), 0);
            let expected = Tree {
                nodes: cart.nodes,
                values: cart.values,
                width: 3,
            };
            assert!(expected.n_leaves() > 4, "the reference tree should split");
            assert_eq!(
                forest.trees()[0],
                expected,
                "{max_depth:?} {min_split} {min_leaf}"
            );
        }
    }

    #[test]
    fn a_tree_that_could_loop_is_refused() {
        let repr = TreeRepr {
            nodes: vec![
                Node {
                    threshold: 0.0,
                    feature: 0,
                    child: 0,
                },
                Node {
                    threshold: 0.0,
                    feature: LEAF,
                    child: 0,
                },
            ],
            values: vec![1.0],
            width: 1,
        };
        assert!(Tree::try_from(repr).is_err());
    }
}
