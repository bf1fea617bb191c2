//! One CART decision tree grown over histogram-binned features: the building block of
//! [`crate::forest`], which is also how a single tree is fitted (one tree, no bootstrap, all
//! features).
//!
//! Growing a tree:
//! - every feature is binned once per fit (`bins.rs`): up to `max_bins` bins whose edges are
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
//!
//! The files: this one holds the params and the fitted [`Tree`] (prediction, the checks of a
//! deserialised tree); `bins.rs` the binning; `grow.rs` the split objectives and the grower.

mod bins;
mod grow;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

pub(crate) use self::bins::Binned;
pub(crate) use self::grow::{Counter, Gini, Grower, Objective, Samples, SquaredError};
use crate::FitError;

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
