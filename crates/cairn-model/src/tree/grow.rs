//! Growing a tree: the split objectives (Gini impurity, squared error) and the grower that
//! builds node histograms and searches them for the best split.

use std::sync::Mutex;

use cairn_core::rng::Rng;
use rayon::prelude::*;

use super::bins::{Binned, midpoint};
use super::{LEAF, Node, Tree, UNSET};

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
