//! Growing one boosted tree leaf-wise over gradient histograms.
//!
//! A histogram holds, per feature and bin, the sums of the gradients and hessians of the
//! leaf's rows and their count (the missing bin last). The root's histograms are built from
//! its rows; after a split, the smaller child's are built and the larger child's are the
//! parent's minus the smaller's. Each feature's histogram is filled by one thread in row order
//! and features are searched independently, so the tree does not depend on the thread count.
//!
//! The work of a split runs in two parallel steps, so that the threads are not idle between
//! small steps: the partition of the leaf's rows (in blocks of rows, from 512 rows, reading
//! the split feature's codes from their column), then one
//! step over groups of features (two groups per thread, so that a thread done first takes the
//! next group rather than waiting) that builds the smaller child's histograms of the
//! group, subtracts them from the parent's and searches both children's splits on the group's
//! features. The best split of each group is kept, and the groups' best in feature order.
//! The partition also copies the smaller child's codes and gradients in its rows' order
//! (LightGBM's "ordered gradients"), so that each group reads them in order rather than from
//! rows scattered over the table: the same sums, 4–13% less CPU for the fit at 500 × 63
//! (alternating runs, docs/benchmarks.md). The root's histograms are built in one group of
//! features per thread (each group reads every row; the groups' work is alike).
//!
//! The leaf to split next is the one whose best split gains most (ties: the leaf created
//! first). A split's gain is `G_l²/(H_l+λ) + G_r²/(H_r+λ) − G²/(H+λ)` (LightGBM's); missing
//! values are tried on both sides and the better side is kept as the default direction (with
//! no missing value in the leaf, missing values follow the side with more rows).

use rayon::prelude::*;

use super::bins::{Bins, HIST_BINS};
use super::model::{BoostTree, LEAF_BIT, Node};

/// From this many rows a leaf's partition runs on several threads, in blocks of at most
/// [`PARTITION_BLOCK`] rows (one per thread for a leaf of fewer than that many per thread).
const PARALLEL_ROWS: usize = 1 << 9;
const PARTITION_BLOCK: usize = 1 << 12;
/// The rows of training scores one task of [`Grown::add_leaf_values`] updates.
const SCORE_CHUNK: usize = 1 << 14;
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
    ///
    /// In parallel over fixed chunks of `scores`: a leaf's rows are ascending (the grower's
    /// partition keeps their order), so each chunk finds its part of every leaf by binary
    /// search. Each score gets one addition, whatever the thread count.
    pub(super) fn add_leaf_values(&self, scores: &mut [f64]) {
        let leaves: Vec<(&[u32], f64)> = self
            .leaf_ranges
            .iter()
            .zip(&self.tree.values)
            .map(|(&(lo, hi), &value)| (&self.rows[lo..hi], value))
            .collect();
        scores
            .par_chunks_mut(SCORE_CHUNK)
            .enumerate()
            .for_each(|(c, out)| {
                let start = c * SCORE_CHUNK;
                let end = start + out.len();
                for &(rows, value) in &leaves {
                    let a = rows.partition_point(|&r| (r as usize) < start);
                    let b = a + rows[a..].partition_point(|&r| (r as usize) < end);
                    for &r in &rows[a..b] {
                        out[r as usize - start] += value;
                    }
                }
            });
    }
}

/// Memory a fit reuses from tree to tree: histograms (allocating and zeroing one per leaf of
/// every tree costs the time of a small leaf's work, on one thread) and the partition's
/// scratch rows.
#[derive(Default)]
pub(super) struct Buffers {
    /// Flat histograms, each zero past every feature's missing bin: [`Grower::fill`] zeroes
    /// the slots it uses before filling them, and nothing writes past them.
    hists: Vec<Vec<f64>>,
    scratch: Vec<u32>,
    /// The smaller child's rows' codes (row-major) and gradients, gathered by the partition.
    codes: Vec<u8>,
    grads: Vec<[f64; 2]>,
}

/// Where the partition copies the codes and gradients of one side's rows, in their new order:
/// the histograms of that side are then filled from memory read in order instead of from rows
/// scattered over the table (LightGBM's "ordered gradients"), with the same sums.
struct Gather<'a> {
    /// Whether the rows gathered are those going left.
    left: bool,
    codes: &'a mut [u8],
    grads: &'a mut [[f64; 2]],
    /// The gradients of every row, indexed by row.
    gh: &'a [[f64; 2]],
}

/// One feature's histogram: per code, the sums of the gradients and hessians and the count.
pub(super) type FeatureHist = [[f64; 3]; HIST_BINS];

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

/// One group of features and its part of a flat histogram: the slots of its first to its last
/// feature (`HIST_BINS` slots a feature, features in order).
pub(super) type Group<'f, 'h> = (&'f [usize], &'h mut [FeatureHist]);

/// A leaf whose split is searched in a step over groups of features: its sums, and whether it
/// may split at all.
#[derive(Clone, Copy)]
struct Searched<'s> {
    sums: &'s [f64; 3],
    splits: bool,
}

impl Grower<'_> {
    /// Grows one tree on `rows` (ascending) with gradients and hessians `gh` (indexed by
    /// row), searching the features `features` only; `buffers` are reused from tree to tree.
    pub(super) fn grow(
        &self,
        mut rows: Vec<u32>,
        gh: &[[f64; 2]],
        features: &[usize],
        buffers: &mut Buffers,
    ) -> Grown {
        let n = rows.len();
        let Buffers {
            hists: pool,
            scratch,
            codes,
            grads,
        } = buffers;
        scratch.resize(n, 0);
        let mut root = Leaf {
            lo: 0,
            hi: n,
            depth: 0,
            sums: [0.0, 0.0, n as f64],
            hist: None,
            best: None,
            parent: None,
        };
        if self.may_split(&root) {
            // The root's sums while its histograms are built.
            let mut hist = self.take(pool);
            let (sums, ()) = rayon::join(
                || row_sums(&rows, gh),
                || {
                    // One group per thread: every group reads all the rows, and at the root
                    // the groups' work is alike (no search to balance).
                    let mut groups = self.groups(&mut hist, features, 1);
                    self.each_group(&mut groups, |(group, part)| {
                        self.fill(group, part, &rows, gh);
                    });
                },
            );
            root.sums = sums;
            root.best = self.best_split(&hist, &root.sums, features);
            root.hist = Some(hist);
        } else {
            root.sums = row_sums(&rows, gh);
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
            // The split's counts are exact: the partition sends this many rows left.
            let mid = lo + split.left[2] as usize;
            let left_smaller = mid - lo <= hi - mid;
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
            // The smaller child's histograms are filled when either child may split.
            let filled = parent_hist.is_some() && (left_splits || right_splits);
            let small_n = if left_smaller { mid - lo } else { hi - mid };
            let nf = self.bins.n_features();
            let gather = if filled {
                codes.resize(small_n * nf, 0);
                grads.resize(small_n, [0.0; 2]);
                Some(Gather {
                    left: left_smaller,
                    codes: &mut codes[..small_n * nf],
                    grads: &mut grads[..small_n],
                    gh,
                })
            } else {
                None
            };
            let n_left = self.partition(&mut rows[lo..hi], &mut scratch[..hi - lo], &split, gather);
            debug_assert_eq!(
                lo + n_left,
                mid,
                "the partition agrees with the split's counts"
            );
            debug_assert!(
                !filled || {
                    let small_rows = if left_smaller {
                        &rows[lo..mid]
                    } else {
                        &rows[mid..hi]
                    };
                    small_rows
                        .iter()
                        .zip(codes.chunks_exact(nf.max(1)).zip(grads.iter()))
                        .all(|(&r, (c, g))| c == self.bins.row(r as usize) && *g == gh[r as usize])
                }
            );
            match parent_hist {
                Some(mut parent_hist) if filled => {
                    let (small_leaf, large_leaf) = if left_smaller {
                        (
                            Searched {
                                sums: &left.sums,
                                splits: left_splits,
                            },
                            Searched {
                                sums: &right.sums,
                                splits: right_splits,
                            },
                        )
                    } else {
                        (
                            Searched {
                                sums: &right.sums,
                                splits: right_splits,
                            },
                            Searched {
                                sums: &left.sums,
                                splits: left_splits,
                            },
                        )
                    };
                    let mut small = self.take(pool);
                    let (small_best, large_best) = self.children(
                        &mut small,
                        &mut parent_hist,
                        (&codes[..small_n * nf], &grads[..small_n]),
                        features,
                        small_leaf,
                        large_leaf,
                    );
                    let (lh, rh, left_best, right_best) = if left_smaller {
                        (small, parent_hist, small_best, large_best)
                    } else {
                        (parent_hist, small, large_best, small_best)
                    };
                    left.best = left_best;
                    right.best = right_best;
                    for (child, hist) in [(&mut left, lh), (&mut right, rh)] {
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
        for (l, leaf) in leaves.iter_mut().enumerate() {
            pool.extend(leaf.hist.take());
            values.push(self.leaf_value(&leaf.sums));
            leaf_ranges.push((leaf.lo, leaf.hi));
            if let Some((p, side)) = leaf.parent {
                nodes[p].children[side] = LEAF_BIT | l as u32;
            }
        }
        debug_assert!(
            leaf_ranges
                .iter()
                .all(|&(lo, hi)| rows[lo..hi].windows(2).all(|w| w[0] < w[1]))
        );
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

    /// Splits `features` into groups (one on one thread, `per_thread` per thread on several)
    /// and `hist` into the groups' parts.
    pub(super) fn groups<'f, 'h>(
        &self,
        hist: &'h mut [f64],
        features: &'f [usize],
        per_thread: usize,
    ) -> Vec<Group<'f, 'h>> {
        let Some(&last) = features.last() else {
            return Vec::new();
        };
        debug_assert!(features.windows(2).all(|w| w[0] < w[1]) && last < self.bins.n_features());
        // Groups of at least 4 features; with two per thread, a thread that finishes first
        // takes another group instead of waiting for the other thread's half.
        let threads = rayon::current_num_threads().max(1);
        let size = if threads == 1 {
            features.len()
        } else {
            features.len().div_ceil(per_thread.max(1) * threads).max(4)
        };
        let (slots, _) = hist.as_chunks_mut::<3>();
        let (mut hists, _) = slots.as_chunks_mut::<HIST_BINS>();
        let mut skipped = 0;
        let mut groups = Vec::new();
        for group in features.chunks(size) {
            let (first, end) = (group[0], group[group.len() - 1] + 1);
            let (_, tail) = std::mem::take(&mut hists).split_at_mut(first - skipped);
            let (part, tail) = tail.split_at_mut(end - first);
            hists = tail;
            skipped = end;
            groups.push((group, part));
        }
        groups
    }

    /// Runs `work` on every group, on as many threads as there are groups; returns the
    /// results in group order.
    fn each_group<'f, 'h, T: Send>(
        &self,
        groups: &mut [Group<'f, 'h>],
        work: impl Fn(&mut Group<'f, 'h>) -> T + Sync + Send,
    ) -> Vec<T> {
        if groups.len() > 1 {
            groups.par_iter_mut().map(work).collect()
        } else {
            groups.iter_mut().map(work).collect()
        }
    }

    /// Fills the histograms of a group's features over `rows`: one pass over the rows reads
    /// each row's codes (adjacent, row-major) and gradients once for the group. Each feature's
    /// histogram is summed in row order, so the sums do not depend on the grouping.
    pub(super) fn fill(
        &self,
        group: &[usize],
        part: &mut [FeatureHist],
        rows: &[u32],
        gh: &[[f64; 2]],
    ) {
        let bins = self.bins;
        if let (Some(&first), Some(&last)) = (rows.first(), rows.last())
            && (last - first) as usize + 1 == rows.len()
        {
            // Ascending rows without a gap (every row, at a root without subsampling): read
            // the codes and gradients straight through, without the row indices.
            let nf = bins.n_features().max(1);
            let (first, last) = (first as usize, last as usize);
            let codes = bins.codes[first * nf..(last + 1) * nf].chunks_exact(nf);
            self.fill_from(group, part, codes.zip(gh[first..=last].iter().copied()));
            return;
        }
        self.fill_from(
            group,
            part,
            rows.iter().map(|&r| (bins.row(r as usize), gh[r as usize])),
        );
    }

    /// [`Grower::fill`] over rows given as their codes and gradients, in order.
    #[inline(always)]
    fn fill_from<'r>(
        &self,
        group: &[usize],
        part: &mut [FeatureHist],
        rows: impl Iterator<Item = (&'r [u8], [f64; 2])>,
    ) {
        let bins = self.bins;
        let first = group[0];
        for &f in group {
            // Codes never exceed the missing bin: the slots after it stay zero.
            part[f - first][..=bins.n_bins[f]].fill([0.0; 3]);
        }
        if group.len() == part.len() {
            // The group's features are adjacent: zip a row's codes with the histograms.
            for (codes, [g, h]) in rows {
                let codes = &codes[first..first + group.len()];
                for (slots, &code) in part.iter_mut().zip(codes) {
                    // 256 slots: any `u8` code indexes them without a bounds check.
                    let slot = &mut slots[usize::from(code)];
                    slot[0] += g;
                    slot[1] += h;
                    slot[2] += 1.0;
                }
            }
        } else {
            for (codes, [g, h]) in rows {
                for &f in group {
                    let slot = &mut part[f - first][usize::from(codes[f])];
                    slot[0] += g;
                    slot[1] += h;
                    slot[2] += 1.0;
                }
            }
        }
    }

    /// After a split: fills `small` with the smaller child's histograms over its rows (their
    /// codes, row-major, and gradients, as the partition gathered them), turns
    /// `parent` into the larger child's (the parent's minus the smaller's) and searches both
    /// children's best splits; one parallel step over groups of features.
    #[allow(clippy::too_many_arguments)]
    fn children(
        &self,
        small: &mut [f64],
        parent: &mut [f64],
        (codes, grads): (&[u8], &[[f64; 2]]),
        features: &[usize],
        small_leaf: Searched<'_>,
        large_leaf: Searched<'_>,
    ) -> (Option<Split>, Option<Split>) {
        let mut groups: Vec<(Group<'_, '_>, Group<'_, '_>)> = self
            .groups(small, features, 2)
            .into_iter()
            .zip(self.groups(parent, features, 2))
            .collect();
        let work = |((group, small), (_, parent)): &mut (Group<'_, '_>, Group<'_, '_>)| {
            let nf = self.bins.n_features();
            let rows = codes.chunks_exact(nf.max(1)).zip(grads.iter().copied());
            self.fill_from(group, small, rows);
            let first = group[0];
            let mut best = (None, None);
            for &f in group.iter() {
                let used = self.bins.n_bins[f] + 1;
                let (s, p) = (&small[f - first], &mut parent[f - first]);
                for (p, s) in p[..used].iter_mut().zip(&s[..used]) {
                    p[0] -= s[0];
                    p[1] -= s[1];
                    p[2] -= s[2];
                }
                if small_leaf.splits {
                    best.0 = better(best.0, self.best_in(s, f, small_leaf.sums));
                }
                if large_leaf.splits {
                    best.1 = better(best.1, self.best_in(p, f, large_leaf.sums));
                }
            }
            best
        };
        let found = if groups.len() > 1 {
            groups.par_iter_mut().map(work).collect::<Vec<_>>()
        } else {
            groups.iter_mut().map(work).collect()
        };
        found.into_iter().fold((None, None), |(s, l), (gs, gl)| {
            (better(s, gs), better(l, gl))
        })
    }

    /// The best split of a leaf over `features`; `None` when no split gains more than
    /// `min_gain` while keeping `min_samples_leaf` rows on each side.
    fn best_split(&self, hist: &[f64], sums: &[f64; 3], features: &[usize]) -> Option<Split> {
        let search = |&f: &usize| {
            let (a, b) = self.span(f);
            let (part, _) = hist[a..b].as_chunks::<3>();
            let part: &FeatureHist = part.try_into().ok()?;
            self.best_in(part, f, sums)
        };
        let found: Vec<Option<Split>> = if features.len() > 1 {
            features.par_iter().map(search).collect()
        } else {
            features.iter().map(search).collect()
        };
        found.into_iter().fold(None, better)
    }

    /// Feature `f`'s best split, from its histogram `part`.
    fn best_in(&self, part: &FeatureHist, f: usize, sums: &[f64; 3]) -> Option<Split> {
        let n_bins = self.bins.n_bins[f];
        if n_bins < 2 {
            return None;
        }
        let missing = part[n_bins];
        let min_leaf = self.min_samples_leaf as f64;
        let parent = score(sums, self.l2);
        let mut best: Option<Split> = None;
        let mut acc = [0.0f64; 3];
        let mut consider = |left: [f64; 3], bin: usize, default_left: bool| {
            let Some((right, gain)) = self.split_gain(left, sums, parent) else {
                return;
            };
            if best.is_none_or(|b| gain > b.gain) {
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
        for (bin, slot) in part[..n_bins - 1].iter().enumerate() {
            if slot[2] == 0.0 {
                continue;
            }
            acc[0] += slot[0];
            acc[1] += slot[1];
            acc[2] += slot[2];
            // Counts are whole numbers, exact in `f64`. Once fewer than `min_leaf` rows are
            // right of this bin (with the missing ones), no later bin has more; while fewer
            // are left of it (with the missing ones), neither side of this bin can be taken.
            if sums[2] - acc[2] < min_leaf {
                break;
            }
            if acc[2] + missing[2] < min_leaf {
                continue;
            }
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

    /// Moves the rows of a leaf (`rows`) that go left before the others, keeping their order;
    /// returns how many go left. `scratch` is as long as `rows`.
    ///
    /// Two passes over fixed blocks of rows, each block on one thread for a large leaf: the
    /// first reads every row's code and writes the block's rows into its part of `scratch`,
    /// left rows from the front and right rows from the back (both written every time, only
    /// one place advanced: no branch on the side); the second copies each block's left and
    /// right rows to their places, which the blocks' left counts give. The result is the
    /// stable partition, whatever the blocks. With `gather`, the second pass also copies the
    /// codes and gradients of one side's rows, in their new order.
    fn partition(
        &self,
        rows: &mut [u32],
        scratch: &mut [u32],
        split: &Split,
        gather: Option<Gather<'_>>,
    ) -> usize {
        let missing = self.bins.n_bins[split.feature];
        let (feature, bin, default_left) = (split.feature, split.bin, split.default_left);
        let bins = self.bins;
        let column = &bins.columns[feature];
        let note = |(rows, out): (&[u32], &mut [u32])| -> usize {
            let (mut l, mut r) = (0, out.len());
            for &row in rows {
                let code = usize::from(column[row as usize]);
                let left = (code == missing && default_left) | (code != missing && code <= bin);
                out[l] = row;
                out[r - 1] = row;
                l += usize::from(left);
                r -= usize::from(!left);
            }
            l
        };
        let threads = rayon::current_num_threads();
        let parallel = threads > 1 && rows.len() >= PARALLEL_ROWS;
        let block = if parallel {
            rows.len().div_ceil(threads).min(PARTITION_BLOCK)
        } else {
            rows.len().max(1)
        };
        let lefts: Vec<usize> = if parallel {
            rows.par_chunks(block)
                .zip(scratch.par_chunks_mut(block))
                .map(note)
                .collect()
        } else {
            vec![note((rows, scratch))]
        };
        let n_left: usize = lefts.iter().sum();
        // Each block's places: its left rows after the earlier blocks' left rows, its right
        // rows after all left rows and the earlier blocks' right rows.
        let (mut to_left, mut to_right) = rows.split_at_mut(n_left);
        let nf = bins.n_features();
        let (left_side, gh, mut codes, mut grads) = match gather {
            Some(g) => (g.left, g.gh, g.codes, g.grads),
            None => (true, &[][..], &mut [][..], &mut [][..]),
        };
        let mut moves = Vec::with_capacity(lefts.len());
        for (from, &l) in scratch.chunks(block).zip(&lefts) {
            let (dl, rest) = std::mem::take(&mut to_left).split_at_mut(l);
            let (dr, rest_r) = std::mem::take(&mut to_right).split_at_mut(from.len() - l);
            to_left = rest;
            to_right = rest_r;
            // This block's part of the gathered side (nothing without `gather`).
            let n = if grads.is_empty() {
                0
            } else if left_side {
                l
            } else {
                from.len() - l
            };
            let (c, rest_c) = std::mem::take(&mut codes).split_at_mut(n * nf);
            let (g, rest_g) = std::mem::take(&mut grads).split_at_mut(n);
            codes = rest_c;
            grads = rest_g;
            moves.push((from, dl, dr, c, g));
        }
        type Move<'m> = (
            &'m [u32],
            &'m mut [u32],
            &'m mut [u32],
            &'m mut [u8],
            &'m mut [[f64; 2]],
        );
        let copy = |(from, dl, dr, codes, grads): &mut Move<'_>| {
            let (l, r) = from.split_at(dl.len());
            dl.copy_from_slice(l);
            // Right rows were written from the back: reverse them to keep their order.
            for (d, &s) in dr.iter_mut().zip(r.iter().rev()) {
                *d = s;
            }
            if !grads.is_empty() {
                let side: &[u32] = if left_side { dl } else { dr };
                for ((&row, c), g) in side
                    .iter()
                    .zip(codes.chunks_exact_mut(nf))
                    .zip(grads.iter_mut())
                {
                    c.copy_from_slice(bins.row(row as usize));
                    *g = gh[row as usize];
                }
            }
        };
        if parallel {
            moves.par_iter_mut().for_each(copy);
        } else {
            moves.iter_mut().for_each(copy);
        }
        n_left
    }
}

/// The sums of the gradients and hessians of `rows`, in row order, and their count.
fn row_sums(rows: &[u32], gh: &[[f64; 2]]) -> [f64; 3] {
    let mut sums = [0.0, 0.0, rows.len() as f64];
    for &r in rows {
        sums[0] += gh[r as usize][0];
        sums[1] += gh[r as usize][1];
    }
    sums
}

/// The better of two splits: the one that gains more, the first on ties.
fn better(a: Option<Split>, b: Option<Split>) -> Option<Split> {
    match (a, b) {
        (Some(x), Some(y)) if y.gain > x.gain => Some(y),
        (Some(x), _) => Some(x),
        (None, y) => y,
    }
}

impl Grower<'_> {
    /// The gain of splitting a node whose gradient, hessian and count sums are `sums` (its
    /// `score` `parent`) into `left` and the rest, with the rest's sums: `None` when a side
    /// has fewer than `min_samples_leaf` rows or too little hessian, or the gain is not above
    /// `min_gain` and 0.
    #[inline]
    fn split_gain(&self, left: [f64; 3], sums: &[f64; 3], parent: f64) -> Option<([f64; 3], f64)> {
        let min_leaf = self.min_samples_leaf as f64;
        let right = [sums[0] - left[0], sums[1] - left[1], sums[2] - left[2]];
        if left[2] < min_leaf
            || right[2] < min_leaf
            || left[1] < MIN_HESSIAN
            || right[1] < MIN_HESSIAN
        {
            return None;
        }
        let gain = score(&left, self.l2) + score(&right, self.l2) - parent;
        (gain > self.min_gain && gain > 0.0).then_some((right, gain))
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
        let code = usize::from(bins.columns[f][row]);
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

#[cfg(test)]
mod tests {
    use cairn_core::rng::Rng;

    use super::*;
    use crate::Matrix;

    /// [`Grower::best_in`] without its early exits: every non-empty bin considered.
    fn best_by_every_bin(grower: &Grower<'_>, part: &FeatureHist, f: usize, sums: &[f64; 3]) {
        let n_bins = grower.bins.n_bins[f];
        let missing = part[n_bins];
        let parent = score(sums, grower.l2);
        let mut best: Option<(usize, bool, f64)> = None;
        let mut consider = |left: [f64; 3], bin: usize, default_left: bool| {
            if let Some((_, gain)) = grower.split_gain(left, sums, parent)
                && best.is_none_or(|b| gain > b.2)
            {
                best = Some((bin, default_left, gain));
            }
        };
        let mut acc = [0.0f64; 3];
        for (bin, slot) in part[..n_bins - 1].iter().enumerate() {
            if slot[2] == 0.0 {
                continue;
            }
            for k in 0..3 {
                acc[k] += slot[k];
            }
            if missing[2] > 0.0 {
                consider(acc, bin, false);
                let with_missing = [
                    acc[0] + missing[0],
                    acc[1] + missing[1],
                    acc[2] + missing[2],
                ];
                consider(with_missing, bin, true);
            } else {
                consider(acc, bin, acc[2] >= sums[2] - acc[2]);
            }
        }
        let found = grower
            .best_in(part, f, sums)
            .map(|s| (s.bin, s.default_left, s.gain));
        assert_eq!(
            found.map(|(b, d, g)| (b, d, g.to_bits())),
            best.map(|(b, d, g)| (b, d, g.to_bits())),
            "min_samples_leaf {}, {} rows, {} missing",
            grower.min_samples_leaf,
            sums[2],
            missing[2]
        );
    }

    #[test]
    fn the_split_search_skips_only_bins_that_cannot_be_taken() {
        // `best_in` stops at the first bin that leaves fewer than `min_samples_leaf` rows on
        // the right and skips bins with fewer on the left: the split it finds must be the one
        // a search of every bin finds, on small leaves (where the exits cut most) with and
        // without missing values.
        let mut rng = Rng::new(31);
        let values: Vec<f64> = (0..2_000).map(|i| f64::from(i % 97)).collect();
        let bins = Bins::new(
            &Matrix::new(vec![values]),
            &(0..2_000).collect::<Vec<_>>(),
            255,
        );
        let n_bins = bins.n_bins[0];
        assert!(n_bins > 50, "{n_bins} bins");
        for case in 0..400 {
            let grower = Grower {
                bins: &bins,
                num_leaves: 2,
                max_depth: None,
                min_samples_leaf: 1 + case % 25,
                min_gain: 0.0,
                l2: (case % 3) as f64 * 0.5,
                learning_rate: 0.1,
            };
            let mut part: FeatureHist = [[0.0; 3]; HIST_BINS];
            let mut sums = [0.0; 3];
            let with_missing = case % 2 == 0;
            for (bin, slot) in part[..=n_bins].iter_mut().enumerate() {
                if bin == n_bins && !with_missing {
                    continue;
                }
                // Mostly empty bins, a few rows in the others.
                let count = (rng.next_u64() % 8).saturating_sub(4) as f64;
                if count > 0.0 {
                    let g = (rng.next_u64() % 2001) as f64 / 1000.0 - 1.0;
                    *slot = [g * count, 0.25 * count, count];
                    for k in 0..3 {
                        sums[k] += slot[k];
                    }
                }
            }
            best_by_every_bin(&grower, &part, 0, &sums);
        }
    }
}
