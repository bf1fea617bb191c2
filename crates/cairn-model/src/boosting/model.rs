//! The fitted booster: its trees, how their summed outputs become predictions, and the checks
//! of a deserialised model (a model whose traversal could loop or index out of bounds is
//! refused when it is read, not when it predicts).

use serde::{Deserialize, Serialize};

use super::compiled::Compiled;

/// The loss a booster minimises, which also says what it predicts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Loss {
    /// Binary classification: one tree per iteration, the log-odds of class 1.
    LogLoss,
    /// Multiclass classification: one tree per class per iteration, softmax of the scores.
    Softmax { n_classes: usize },
    /// Regression, the mean.
    SquaredError,
    /// Regression, the median (leaf values are medians of the residuals).
    AbsoluteError,
}

impl Loss {
    /// Scores per row: trees per iteration.
    pub fn outputs(self) -> usize {
        match self {
            Loss::Softmax { n_classes } => n_classes,
            _ => 1,
        }
    }

    /// Classes (classifiers), 0 for regression.
    pub fn n_classes(self) -> usize {
        match self {
            Loss::LogLoss => 2,
            Loss::Softmax { n_classes } => n_classes,
            Loss::SquaredError | Loss::AbsoluteError => 0,
        }
    }

    pub fn is_classifier(self) -> bool {
        self.n_classes() > 0
    }

    /// The name used in params and records.
    pub fn as_str(self) -> &'static str {
        match self {
            Loss::LogLoss => "log_loss",
            Loss::Softmax { .. } => "softmax",
            Loss::SquaredError => "squared_error",
            Loss::AbsoluteError => "absolute_error",
        }
    }
}

/// A child pointer with this bit set is a leaf index.
pub(super) const LEAF_BIT: u32 = 1 << 31;

/// A split: rows with `value <= threshold` go to `children[0]`, the others to `children[1]`;
/// a missing value (NaN) goes left when `default_left`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(super) struct Node {
    pub(super) threshold: f64,
    pub(super) feature: u32,
    pub(super) children: [u32; 2],
    pub(super) default_left: bool,
}

impl Node {
    /// Whether `value` goes to `children[0]`: at most the threshold, or missing with
    /// `default_left`.
    #[inline]
    fn goes_left(&self, value: f64) -> bool {
        (value <= self.threshold) | (value.is_nan() & self.default_left)
    }
}

/// Rows scored together by the batch predictions: each tree walks them side by side.
const BLOCK: usize = 512;

/// One regression tree of a booster. A tree without splits has no nodes and one leaf.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "TreeRepr")]
pub struct BoostTree {
    pub(super) nodes: Vec<Node>,
    /// Leaf outputs, the learning rate applied.
    pub(super) values: Vec<f64>,
}

#[derive(Deserialize)]
struct TreeRepr {
    nodes: Vec<Node>,
    values: Vec<f64>,
}

impl TryFrom<TreeRepr> for BoostTree {
    type Error = String;

    fn try_from(repr: TreeRepr) -> Result<Self, String> {
        let TreeRepr { nodes, values } = repr;
        if values.is_empty() || (nodes.is_empty() && values.len() != 1) {
            return Err("a boosted tree needs one leaf more than its splits".to_owned());
        }
        for (i, node) in nodes.iter().enumerate() {
            for &child in &node.children {
                let ok = if child & LEAF_BIT != 0 {
                    ((child & !LEAF_BIT) as usize) < values.len()
                } else {
                    child as usize > i && (child as usize) < nodes.len()
                };
                if !ok || node.threshold.is_nan() {
                    return Err(format!("boosted tree node {i} points outside the tree"));
                }
            }
        }
        Ok(BoostTree { nodes, values })
    }
}

impl BoostTree {
    /// The tree's output for one row.
    #[inline]
    pub fn predict(&self, row: &[f64]) -> f64 {
        if self.nodes.is_empty() {
            return self.values[0];
        }
        let mut i = 0usize;
        loop {
            let node = &self.nodes[i];
            let child = node.children[usize::from(!node.goes_left(row[node.feature as usize]))];
            if child & LEAF_BIT != 0 {
                return self.values[(child & !LEAF_BIT) as usize];
            }
            i = child as usize;
        }
    }

    pub fn n_leaves(&self) -> usize {
        self.values.len()
    }

    /// The tree for walking many rows: its nodes, then one node per leaf that leads back to
    /// itself whatever the value (threshold +∞, missing values left), so that a walk can take
    /// as many steps as the tree is deep without checking where it is; and that depth.
    fn walker(&self) -> (Vec<Node>, usize) {
        let n = self.nodes.len() as u32;
        let to_walker = |child: u32| {
            if child & LEAF_BIT != 0 {
                n + (child & !LEAF_BIT)
            } else {
                child
            }
        };
        let mut nodes: Vec<Node> = self
            .nodes
            .iter()
            .map(|node| Node {
                children: node.children.map(to_walker),
                ..*node
            })
            .collect();
        nodes.extend((0..self.values.len() as u32).map(|leaf| Node {
            threshold: f64::INFINITY,
            feature: 0,
            children: [n + leaf, n + leaf],
            default_left: true,
        }));
        // Children come after their parent: one pass in order gives every node's depth.
        let mut depth = vec![0usize; nodes.len()];
        let mut deepest = 0;
        for i in 0..self.nodes.len() {
            for c in nodes[i].children {
                depth[c as usize] = depth[i] + 1;
                deepest = deepest.max(depth[i] + 1);
            }
        }
        (nodes, deepest)
    }

    fn max_feature(&self) -> Option<usize> {
        self.nodes.iter().map(|n| n.feature as usize).max()
    }
}

/// A tree prepared for walking a block of rows side by side (see [`BoostTree::walker`]).
struct Walker {
    nodes: Vec<Node>,
    depth: usize,
    /// Where the leaf nodes start.
    first_leaf: usize,
}

impl Walker {
    /// Adds the tree's output for each row of `rows` (row-major, `stride` values each) to
    /// `scores[i * step]`. The walks are independent and take `depth` steps each, so they
    /// advance one level at a time side by side, without branches, and the processor overlaps
    /// their memory reads and comparisons; `at` is scratch.
    fn add_rows(
        &self,
        tree: &BoostTree,
        rows: &[f64],
        stride: usize,
        at: &mut Vec<u32>,
        scores: &mut [f64],
        step: usize,
    ) {
        let n = rows.len() / stride;
        at.clear();
        at.resize(n, 0);
        if self.first_leaf > 0 {
            for _ in 0..self.depth {
                for (row, a) in rows.chunks_exact(stride).zip(at.iter_mut()) {
                    let node = &self.nodes[*a as usize];
                    *a = node.children[usize::from(!node.goes_left(row[node.feature as usize]))];
                }
            }
        }
        for (i, a) in at.iter().enumerate() {
            let leaf = (*a as usize).saturating_sub(self.first_leaf);
            scores[i * step] += tree.values[leaf];
        }
    }
}

/// What a fit did: iterations run and kept, and the early-stopping validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoostSummary {
    /// Iterations grown before the fit stopped.
    pub iterations_run: usize,
    /// Iterations kept: the best on the validation rows with early stopping, else all.
    pub best_iteration: usize,
    /// Whether early stopping ended the fit before `n_iterations`.
    pub early_stopped: bool,
    /// Training rows held out for early stopping (0 without it).
    pub validation_rows: usize,
    /// The loss on those rows at the best iteration.
    pub validation_loss: Option<f64>,
}

/// A fitted gradient-boosted model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "BoosterRepr")]
pub struct Booster {
    pub(super) loss: Loss,
    pub(super) n_features: usize,
    /// The starting score of each output.
    pub(super) base: Vec<f64>,
    /// Iteration-major: tree `t` adds to output `t % outputs`.
    pub(super) trees: Vec<BoostTree>,
    /// Total split gain per feature over the kept trees.
    pub(super) importances: Vec<f64>,
    pub(super) summary: BoostSummary,
    /// The trees compiled for prediction (`None` when they cannot be: compiled.rs).
    #[serde(skip)]
    pub(super) compiled: Option<Box<Compiled>>,
}

#[derive(Deserialize)]
struct BoosterRepr {
    loss: Loss,
    n_features: usize,
    base: Vec<f64>,
    trees: Vec<BoostTree>,
    importances: Vec<f64>,
    summary: BoostSummary,
}

impl TryFrom<BoosterRepr> for Booster {
    type Error = String;

    fn try_from(r: BoosterRepr) -> Result<Self, String> {
        let outputs = r.loss.outputs();
        if matches!(r.loss, Loss::Softmax { n_classes } if n_classes < 3) {
            return Err("a softmax booster needs at least three classes".to_owned());
        }
        if r.base.len() != outputs || !r.trees.len().is_multiple_of(outputs) {
            return Err(format!(
                "a booster of {outputs} outputs has {} base scores and {} trees",
                r.base.len(),
                r.trees.len()
            ));
        }
        if r.importances.len() != r.n_features {
            return Err("the booster's importances do not match its features".to_owned());
        }
        if r.trees
            .iter()
            .any(|t| t.max_feature().is_some_and(|f| f >= r.n_features))
        {
            return Err("a boosted tree splits on a feature the model does not have".to_owned());
        }
        Ok(Booster {
            compiled: Compiled::new(&r.trees, r.n_features).map(Box::new),
            loss: r.loss,
            n_features: r.n_features,
            base: r.base,
            trees: r.trees,
            importances: r.importances,
            summary: r.summary,
        })
    }
}

impl Booster {
    pub fn loss(&self) -> Loss {
        self.loss
    }

    pub fn n_features(&self) -> usize {
        self.n_features
    }

    pub fn n_classes(&self) -> usize {
        self.loss.n_classes()
    }

    pub fn trees(&self) -> &[BoostTree] {
        &self.trees
    }

    /// Total split gain per feature (encoded feature order) over the kept trees.
    pub fn importances(&self) -> &[f64] {
        &self.importances
    }

    pub fn summary(&self) -> &BoostSummary {
        &self.summary
    }

    /// The raw scores (log-odds, class scores or the value) of one row into `out`
    /// (`outputs` long).
    #[inline]
    pub fn raw_into(&self, row: &[f64], out: &mut [f64]) {
        out.copy_from_slice(&self.base);
        if let Some(compiled) = &self.compiled {
            compiled.add_row(row, out);
            return;
        }
        let k = self.base.len();
        if k == 1 {
            // Added one at a time, as the batch does: the same bits.
            for tree in &self.trees {
                out[0] += tree.predict(row);
            }
        } else {
            for iteration in self.trees.chunks_exact(k) {
                for (o, tree) in out.iter_mut().zip(iteration) {
                    *o += tree.predict(row);
                }
            }
        }
    }

    /// The raw scores of every row of `x`, row-major (`outputs` per row), in parallel over
    /// blocks of rows; the same numbers as [`Booster::raw_into`] row by row.
    pub fn raw_batch(&self, x: &crate::Matrix) -> Vec<f64> {
        use rayon::prelude::*;
        if let Some(compiled) = &self.compiled {
            return compiled.raw_batch(&self.base, x);
        }
        let k = self.base.len();
        let stride = x.cols();
        let walkers: Vec<Walker> = self
            .trees
            .iter()
            .map(|tree| {
                let (nodes, depth) = tree.walker();
                Walker {
                    nodes,
                    depth,
                    first_leaf: tree.nodes.len(),
                }
            })
            .collect();
        let mut out = vec![0.0; x.rows * k];
        out.par_chunks_mut(BLOCK * k).enumerate().for_each_init(
            || (Vec::new(), Vec::new()),
            |(rows, at), (b, scores)| {
                let start = b * BLOCK;
                let n = scores.len() / k;
                rows.clear();
                for i in start..start + n {
                    rows.extend(x.columns.iter().map(|c| c[i]));
                }
                for row in scores.chunks_exact_mut(k) {
                    row.copy_from_slice(&self.base);
                }
                for (t, (tree, walker)) in self.trees.iter().zip(&walkers).enumerate() {
                    walker.add_rows(tree, rows, stride, at, &mut scores[t % k..], k);
                }
            },
        );
        out
    }

    /// Class probabilities of every row of `x`, row-major (`n_classes` per row).
    pub fn predict_proba_batch(&self, x: &crate::Matrix) -> Vec<f64> {
        let raw = self.raw_batch(x);
        match self.loss {
            Loss::LogLoss => raw
                .iter()
                .flat_map(|&s| {
                    let p = sigmoid(s);
                    [1.0 - p, p]
                })
                .collect(),
            _ => {
                let mut raw = raw;
                for row in raw.chunks_exact_mut(self.base.len()) {
                    softmax(row);
                }
                raw
            }
        }
    }

    /// Class probabilities of one row into `out` (`n_classes` long). Classifiers only.
    pub fn predict_proba_into(&self, row: &[f64], out: &mut [f64]) {
        match self.loss {
            Loss::LogLoss => {
                let mut score = [0.0];
                self.raw_into(row, &mut score);
                let p = sigmoid(score[0]);
                out[0] = 1.0 - p;
                out[1] = p;
            }
            _ => {
                self.raw_into(row, out);
                softmax(out);
            }
        }
    }

    /// The predicted value of one row. Regressors only.
    pub fn predict(&self, row: &[f64]) -> f64 {
        let mut score = [0.0];
        self.raw_into(row, &mut score);
        score[0]
    }
}

pub(super) fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Scores to probabilities, in place.
pub(super) fn softmax(scores: &mut [f64]) {
    let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut total = 0.0;
    for s in scores.iter_mut() {
        *s = (*s - max).exp();
        total += *s;
    }
    for s in scores.iter_mut() {
        *s /= total;
    }
}
