//! Growing one boosted tree leaf-wise over gradient histograms.
//!
//! A histogram holds, per feature and bin, the sums of the gradients and hessians of the
//! leaf's rows and their count (the missing bin last). The root's histograms are built from
//! its rows; after a split, the smaller child's are built and the larger child's are the
//! parent's minus the smaller's. Each feature's histogram is filled by one thread in row order
//! and features are searched independently, so the tree does not depend on the thread count.
//!
//! The leaf to split next is the one whose best split gains most (ties: the leaf created
//! first). A split's gain is `G_l²/(H_l+λ) + G_r²/(H_r+λ) − G²/(H+λ)` (LightGBM's); missing
//! values are tried on both sides and the better side is kept as the default direction (with
//! no missing value in the leaf, missing values follow the side with more rows).

use rayon::prelude::*;

use super::bins::{Bins, HIST_BINS};
use super::model::{BoostTree, LEAF_BIT, Node};

/// Below this many (row, feature) pairs a histogram is built on one thread.
const PARALLEL_WORK: usize = 1 << 14;
/// From this many rows a leaf's partition reads the codes on several threads.
const PARALLEL_ROWS: usize = 1 << 15;
/// The smallest hessian sum a leaf may have (LightGBM's `min_sum_hessian_in_leaf`).
const MIN_HESSIAN: f64 = 1e-3;

/// The grower's settings for one fit.
pub(super) struct Grower<'a> {
    pub(super) bins: &'a Bins,
    pub(super) num_leaves: usize,
    pub(super) max_depth: Option<usize>,
    pub(super) min_samples_leaf: usize,
    pub(super) min_gain: f64,
    pub(super) l2: f64,
    pub(super) learning_rate: f64,
}

/// A grown tree, with what the fit needs besides it.
pub(super) struct Grown {
    pub(super) tree: BoostTree,
    /// Per node, the last bin of the split feature that goes left.
    pub(super) split_bins: Vec<u8>,
    /// Per split: the feature and its gain.
    pub(super) gains: Vec<(usize, f64)>,
    /// The rows, grouped by leaf: leaf `l` holds `rows[leaf_ranges[l].0..leaf_ranges[l].1]`.
    pub(super) rows: Vec<u32>,
    pub(super) leaf_ranges: Vec<(usize, usize)>,
}

impl Grown {
    /// Adds each grown row's leaf value to its score (`scores[row]`): the same sum as walking
    /// the tree, without the walk.
    pub(super) fn add_leaf_values(&self, scores: &mut [f64]) {
        for (&(lo, hi), &value) in self.leaf_ranges.iter().zip(&self.tree.values) {
            for &r in &self.rows[lo..hi] {
                scores[r as usize] += value;
            }
        }
    }
}

/// One feature's histogram: per code, the sums of the gradients and hessians and the count.
type FeatureHist = [[f64; 3]; HIST_BINS];

#[derive(Clone, Copy)]
struct Split {
    feature: usize,
    bin: usize,
    default_left: bool,
    gain: f64,
    left: [f64; 3],
    right: [f64; 3],
}

struct Leaf {
    lo: usize,
    hi: usize,
    depth: usize,
    sums: [f64; 3],
    hist: Option<Vec<f64>>,
    best: Option<Split>,
    /// The node pointing at this leaf and which child it is (`None`: the root).
    parent: Option<(usize, usize)>,
}

impl Grower<'_> {
    /// Grows one tree on `rows` (ascending) with gradients and hessians `gh` (indexed by
    /// row), searching the features `features` only.
    pub(super) fn grow(&self, mut rows: Vec<u32>, gh: &[[f64; 2]], features: &[usize]) -> Grown {
        let n = rows.len();
        let mut sums = [0.0, 0.0, n as f64];
        for &r in &rows {
            sums[0] += gh[r as usize][0];
            sums[1] += gh[r as usize][1];
        }
        let mut scratch = vec![0u32; n];
        let mut sides = vec![false; n];
        let mut pool: Vec<Vec<f64>> = Vec::new();
        let mut root = Leaf {
            lo: 0,
            hi: n,
            depth: 0,
            sums,
            hist: None,
            best: None,
            parent: None,
        };
        if self.may_split(&root) {
            let mut hist = self.take(&mut pool);
            self.build(&mut hist, &rows[..], gh, features);
            root.best = self.best_split(&hist, &root.sums, features);
            root.hist = Some(hist);
        }
        let mut leaves = vec![root];
        let mut nodes: Vec<Node> = Vec::new();
        let mut split_bins: Vec<u8> = Vec::new();
        let mut gains = Vec::new();

        while leaves.len() < self.num_leaves {
            // The leaf whose split gains most; the first on ties.
            let mut chosen: Option<(usize, f64)> = None;
            for (i, leaf) in leaves.iter().enumerate() {
                if let Some(s) = &leaf.best
                    && chosen.is_none_or(|(_, gain)| s.gain > gain)
                {
                    chosen = Some((i, s.gain));
                }
            }
            let Some((i, _)) = chosen else { break };
            let leaf = &mut leaves[i];
            let Some(split) = leaf.best.take() else { break };
            let parent_hist = leaf.hist.take();
            let (lo, hi, depth, parent) = (leaf.lo, leaf.hi, leaf.depth, leaf.parent);

            let mid = self.partition(&mut rows, &mut scratch, &mut sides, lo, hi, &split);
            let node = nodes.len();
            nodes.push(Node {
                threshold: self.threshold(split.feature, split.bin),
                feature: split.feature as u32,
                children: [0, 0],
                default_left: split.default_left,
            });
            split_bins.push(split.bin as u8);
            gains.push((split.feature, split.gain));
            if let Some((p, side)) = parent {
                nodes[p].children[side] = node as u32;
            }

            let mut left = Leaf {
                lo,
                hi: mid,
                depth: depth + 1,
                sums: split.left,
                hist: None,
                best: None,
                parent: Some((node, 0)),
            };
            let mut right = Leaf {
                lo: mid,
                hi,
                depth: depth + 1,
                sums: split.right,
                hist: None,
                best: None,
                parent: Some((node, 1)),
            };
            // After the split that fills the tree no leaf is split again: its children need no
            // histograms.
            let full = leaves.len() + 1 >= self.num_leaves;
            let (left_splits, right_splits) = (
                !full && self.may_split(&left),
                !full && self.may_split(&right),
            );
            match parent_hist {
                Some(mut parent_hist) if left_splits || right_splits => {
                    let left_smaller = mid - lo <= hi - mid;
                    let (s_lo, s_hi) = if left_smaller { (lo, mid) } else { (mid, hi) };
                    let mut small = self.take(&mut pool);
                    self.build(&mut small, &rows[s_lo..s_hi], gh, features);
                    for &f in features {
                        let (a, b) = self.span(f);
                        for (p, s) in parent_hist[a..b].iter_mut().zip(&small[a..b]) {
                            *p -= s;
                        }
                    }
                    let (lh, rh) = if left_smaller {
                        (small, parent_hist)
                    } else {
                        (parent_hist, small)
                    };
                    for (child, hist, splits) in
                        [(&mut left, lh, left_splits), (&mut right, rh, right_splits)]
                    {
                        if splits {
                            child.best = self.best_split(&hist, &child.sums, features);
                        }
                        if child.best.is_some() {
                            child.hist = Some(hist);
                        } else {
                            pool.push(hist);
                        }
                    }
                }
                Some(hist) => pool.push(hist),
                None => {}
            }
            leaves[i] = left;
            leaves.push(right);
        }

        let mut values = Vec::with_capacity(leaves.len());
        let mut leaf_ranges = Vec::with_capacity(leaves.len());
        for (l, leaf) in leaves.iter().enumerate() {
            values.push(self.leaf_value(&leaf.sums));
            leaf_ranges.push((leaf.lo, leaf.hi));
            if let Some((p, side)) = leaf.parent {
                nodes[p].children[side] = LEAF_BIT | l as u32;
            }
        }
        Grown {
            tree: BoostTree { nodes, values },
            split_bins,
            gains,
            rows,
            leaf_ranges,
        }
    }

    /// `-G / (H + λ)`, times the learning rate.
    pub(super) fn leaf_value(&self, sums: &[f64; 3]) -> f64 {
        -sums[0] / (sums[1] + self.l2) * self.learning_rate
    }

    fn may_split(&self, leaf: &Leaf) -> bool {
        leaf.sums[2] >= 2.0 * self.min_samples_leaf as f64
            && self.max_depth.is_none_or(|d| leaf.depth < d)
    }

    /// Feature `f`'s part of a flat histogram.
    fn span(&self, f: usize) -> (usize, usize) {
        let a = self.bins.offsets[f];
        (a, a + HIST_BINS * 3)
    }

    fn threshold(&self, feature: usize, bin: usize) -> f64 {
        self.bins.edges[feature][bin]
    }

    fn take(&self, pool: &mut Vec<Vec<f64>>) -> Vec<f64> {
        pool.pop().unwrap_or_else(|| vec![0.0; self.bins.hist_len])
    }

    /// Fills the histograms of `features` over `rows`.
    ///
    /// Each feature's histogram is summed in row order by one thread, whatever the thread
    /// count, so the sums do not depend on it. The features are split into one group per
    /// thread (all of them on one thread for a small leaf); one pass over the rows fills a
    /// group, reading each row's codes (adjacent, row-major) and gradients once for the group.
    fn build(&self, hist: &mut [f64], rows: &[u32], gh: &[[f64; 2]], features: &[usize]) {
        let Some(&last) = features.last() else {
            return;
        };
        let parallel = rows.len() * features.len() >= PARALLEL_WORK && features.len() > 1;
        let size = if parallel {
            features.len().div_ceil(rayon::current_num_threads().max(1))
        } else {
            features.len()
        };
        debug_assert!(features.windows(2).all(|w| w[0] < w[1]) && last < self.bins.n_features());
        // Each group's part of the histogram: the slots of its first to its last feature
        // (`HIST_BINS` slots a feature, features in order).
        let (slots, _) = hist.as_chunks_mut::<3>();
        let (mut hists, _) = slots.as_chunks_mut::<HIST_BINS>();
        let mut skipped = 0;
        let mut groups: Vec<(&[usize], &mut [FeatureHist])> = Vec::new();
        for group in features.chunks(size) {
            let (first, end) = (group[0], group[group.len() - 1] + 1);
            let (_, tail) = std::mem::take(&mut hists).split_at_mut(first - skipped);
            let (part, tail) = tail.split_at_mut(end - first);
            hists = tail;
            skipped = end;
            groups.push((group, part));
        }
        let bins = self.bins;
        let fill = |(group, part): &mut (&[usize], &mut [FeatureHist])| {
            let first = group[0];
            for &f in group.iter() {
                part[f - first].fill([0.0; 3]);
            }
            if group.len() == part.len() {
                // The group's features are adjacent: zip a row's codes with the histograms.
                for &r in rows {
                    let codes = &bins.row(r as usize)[first..first + group.len()];
                    let [g, h] = gh[r as usize];
                    for (slots, &code) in part.iter_mut().zip(codes) {
                        // 256 slots: any `u8` code indexes them without a bounds check.
                        let slot = &mut slots[usize::from(code)];
                        slot[0] += g;
                        slot[1] += h;
                        slot[2] += 1.0;
                    }
                }
            } else {
                for &r in rows {
                    let codes = bins.row(r as usize);
                    let [g, h] = gh[r as usize];
                    for &f in group.iter() {
                        let slot = &mut part[f - first][usize::from(codes[f])];
                        slot[0] += g;
                        slot[1] += h;
                        slot[2] += 1.0;
                    }
                }
            }
        };
        if parallel {
            groups.par_iter_mut().for_each(fill);
        } else {
            groups.iter_mut().for_each(fill);
        }
    }

    /// The best split of a leaf over `features`; `None` when no split gains more than
    /// `min_gain` while keeping `min_samples_leaf` rows on each side.
    fn best_split(&self, hist: &[f64], sums: &[f64; 3], features: &[usize]) -> Option<Split> {
        let search = |&f: &usize| self.best_in(hist, f, sums);
        let found: Vec<Option<Split>> = if features.len() > 1 {
            features.par_iter().map(search).collect()
        } else {
            features.iter().map(search).collect()
        };
        found
            .into_iter()
            .flatten()
            .fold(None, |best: Option<Split>, s| {
                if best.is_none_or(|b| s.gain > b.gain) {
                    Some(s)
                } else {
                    best
                }
            })
    }

    fn best_in(&self, hist: &[f64], f: usize, sums: &[f64; 3]) -> Option<Split> {
        let n_bins = self.bins.n_bins[f];
        if n_bins < 2 {
            return None;
        }
        let (a, b) = self.span(f);
        let part = &hist[a..b];
        let missing = [part[n_bins * 3], part[n_bins * 3 + 1], part[n_bins * 3 + 2]];
        let min_leaf = self.min_samples_leaf as f64;
        let parent = score(sums, self.l2);
        let mut best: Option<Split> = None;
        let mut acc = [0.0f64; 3];
        let mut consider = |left: [f64; 3], bin: usize, default_left: bool| {
            let right = [sums[0] - left[0], sums[1] - left[1], sums[2] - left[2]];
            if left[2] < min_leaf
                || right[2] < min_leaf
                || left[1] < MIN_HESSIAN
                || right[1] < MIN_HESSIAN
            {
                return;
            }
            let gain = score(&left, self.l2) + score(&right, self.l2) - parent;
            if gain > self.min_gain && gain > 0.0 && best.is_none_or(|b| gain > b.gain) {
                best = Some(Split {
                    feature: f,
                    bin,
                    default_left,
                    gain,
                    left,
                    right,
                });
            }
        };
        for bin in 0..n_bins - 1 {
            let slot = &part[bin * 3..bin * 3 + 3];
            if slot[2] == 0.0 {
                continue;
            }
            acc[0] += slot[0];
            acc[1] += slot[1];
            acc[2] += slot[2];
            if missing[2] > 0.0 {
                consider(acc, bin, false);
                consider(
                    [
                        acc[0] + missing[0],
                        acc[1] + missing[1],
                        acc[2] + missing[2],
                    ],
                    bin,
                    true,
                );
            } else {
                // No missing value here: missing values follow the side with more rows.
                consider(acc, bin, acc[2] >= sums[2] - acc[2]);
            }
        }
        best
    }

    /// Moves the leaf's rows that go left before the others, keeping their order; returns
    /// where the right child starts.
    ///
    /// Two passes: the first reads every row's code and notes its side (independent loads,
    /// so their cache misses overlap; in blocks on several threads for a large leaf), the
    /// second moves the rows without a branch on the side.
    fn partition(
        &self,
        rows: &mut [u32],
        scratch: &mut [u32],
        sides: &mut [bool],
        lo: usize,
        hi: usize,
        split: &Split,
    ) -> usize {
        let missing = self.bins.n_bins[split.feature];
        let (feature, bin, default_left) = (split.feature, split.bin, split.default_left);
        let bins = self.bins;
        let note = |(rows, sides): (&[u32], &mut [bool])| {
            for (&row, left) in rows.iter().zip(sides.iter_mut()) {
                let code = usize::from(bins.row(row as usize)[feature]);
                *left = (code == missing && default_left) | (code != missing && code <= bin);
            }
        };
        let (leaf, sides) = (&rows[lo..hi], &mut sides[..hi - lo]);
        if leaf.len() >= PARALLEL_ROWS {
            leaf.par_chunks(PARALLEL_ROWS / 4)
                .zip(sides.par_chunks_mut(PARALLEL_ROWS / 4))
                .for_each(note);
        } else {
            note((leaf, sides));
        }
        let mut l = lo;
        let mut r = 0;
        // Every row is written to both places and only the side it goes to advances.
        for (i, &left) in (lo..hi).zip(sides.iter()) {
            let row = rows[i];
            rows[l] = row;
            scratch[r] = row;
            l += usize::from(left);
            r += usize::from(!left);
        }
        rows[l..hi].copy_from_slice(&scratch[..r]);
        l
    }
}

fn score(sums: &[f64; 3], l2: f64) -> f64 {
    sums[0] * sums[0] / (sums[1] + l2)
}

/// The output of a grown tree for training row `row`, walking bins instead of values.
#[inline]
pub(super) fn predict_binned(grown: &Grown, bins: &Bins, row: usize) -> f64 {
    let tree = &grown.tree;
    if tree.nodes.is_empty() {
        return tree.values[0];
    }
    let mut i = 0usize;
    loop {
        let node = &tree.nodes[i];
        let f = node.feature as usize;
        let code = usize::from(bins.row(row)[f]);
        let left = if code == bins.n_bins[f] {
            node.default_left
        } else {
            code <= usize::from(grown.split_bins[i])
        };
        let child = node.children[usize::from(!left)];
        if child & LEAF_BIT != 0 {
            return tree.values[(child & !LEAF_BIT) as usize];
        }
        i = child as usize;
    }
}
