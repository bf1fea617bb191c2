//! A booster's trees compiled for prediction (built when a model is fitted or read, never
//! written: the artifact keeps the trees as they are).
//!
//! Every threshold becomes its rank among the distinct thresholds the model has for its
//! feature, and every value of a row becomes the number of those thresholds below it (a
//! missing value becomes [`MISSING`]). Then `value <= threshold` exactly when
//! `code <= rank`: if `value <= t_k`, every threshold below the value is below `t_k`, so there
//! are at most `k` of them; if `value > t_k`, `t_0 … t_k` are all below it. So the compiled
//! trees take the same paths as the trees, and the scores are added in the same order: the
//! predictions have the same bits.
//!
//! A fitted model has at most 254 thresholds per feature (`max_bins` is at most 255), so a
//! code is one byte and 255 is free for a missing value. A split sends a code left when
//! `code + add <= limit` in `u8` arithmetic: `add` is 0 and `limit` the rank when missing
//! values go right (255 is above every rank), and `add` is 1 and `limit` the rank + 1 when they
//! go left (255 wraps to 0). A leaf is a node with `limit` 255 whose child is itself: every
//! code goes "left", back to the leaf, so a walk can take more steps than its depth without
//! checking where it is. Nodes are 8 bytes, laid out breadth first per tree with the two
//! children of a split side by side.
//!
//! One row walks [`LANES`] trees side by side, each lane stepping without a branch, until a
//! step moves none of them: the node loads of the lanes are independent, so the processor
//! overlaps them instead of waiting on one chain of ~4,500 dependent loads (500 trees × 63
//! leaves, 9 levels on average). The group stops when its own deepest tree is done, not at
//! a depth fixed for the whole model. The outputs are then added in the trees' order.
//!
//! The batch takes a block of rows ([`BLOCK`]) at a time, their codes column by column, and
//! for each tree goes through its splits in order, once over the whole block: every row whose
//! position is that split moves to the split's child. A row's position is a byte (the node's
//! index in its tree), so the pass over a block is a loop of byte compares and adds that the
//! compiler turns into vector instructions (16 rows with the default SSE2, 32 with AVX2,
//! chosen when the program runs), without a branch or a dependent load; the children come
//! after their parent, so one pass over the splits takes each row to its leaf. It costs one
//! pass per split rather than one step per level (62 passes for 9 steps at 63 leaves), and
//! wins because a pass is a few instructions per 16 or 32 rows. A tree of more than 256
//! nodes is walked row by row. Blocks go to rayon's threads.
//!
//! Measured on 2026-12-07 (docs/benchmarks.md, "Faster prediction"; bench-lite builds on a
//! loaded 2-core machine, so differences under ~10% were not resolved), at 500 × 63 against
//! the 2-byte layout of 2026-12-06 that walked one tree at a time, one row at a time: one row
//! 19–20 µs → 8–12 µs, a 100,000-row batch 1.2–1.5 s → 0.19–0.25 s on two threads at load
//! 4–5 and 1.31 s → 0.18–0.23 s of CPU on one. What won and what did not:
//! - one-byte codes (the batch's compares then take 16 or 32 rows per instruction);
//! - the per-split byte passes for the batch; AVX2 made them 1.5× faster than SSE2 (one
//!   thread's CPU 0.20 s against 0.29–0.32 s, blocks of 512), worth its one `unsafe` call;
//! - blocks of 2,048 rows (codes 40 KiB at 20 features): one thread's CPU for the batch
//!   0.16–0.18 s, against 0.20–0.21 s at 512, 0.18 s at 1,024, 0.19 s at 4,096 and 0.26 s
//!   at 256 (medians of 5 alternating runs); a batch of fewer rows than a block runs on one
//!   thread;
//! - 8 lanes for one row: 4 and 16 were not told apart from 8;
//! - a group's stop test as an OR of the lanes' moved bits: comparing the lane arrays
//!   compiled to a store and a vector reload per step, a store-forwarding stall on which a
//!   quarter of the single-row samples sat (perf);
//! - not kept: summing a one-output model's trees in a local instead of `out[0]` (the same
//!   additions) measured slower, 11.7 against 9.0 µs (medians of 4 alternating runs).
//!
//! Not tried yet: 4-byte nodes or leaf values kept only for leaves (the one-row walk reads
//! about 1 MiB at 500 × 63, near the 1.25 MiB L2 of the machine measured, and one row's time
//! varied most with the load), a depth-first layout, two levels per step, and QuickScorer's
//! bit vectors.
//!
//! Tried before (on the 2026-12-06 layout of 2-byte codes): walking several trees or rows
//! side by side a fixed number of steps, as deep as the deepest tree of the model (14 at
//! 500 × 63): slower than stopping at each leaf.
//!
//! A model with more than 65,536 features, or with more than 254 distinct thresholds on one
//! feature (only a model not fitted by cairn), is not compiled: it predicts by walking its
//! trees.

use std::collections::VecDeque;

use rayon::prelude::*;

use super::model::{BoostTree, LEAF_BIT};
use crate::Matrix;

/// The code of a missing value, larger than every rank.
const MISSING: u8 = u8::MAX;
/// Distinct thresholds a feature may have: codes run from 0 to this, below [`MISSING`].
pub(super) const MAX_CUTS: usize = MISSING as usize - 1;
/// Trees one row walks side by side.
const LANES: usize = 8;
/// Rows the batch takes through each tree before the next.
pub(super) const BLOCK: usize = 2048;
/// Features whose codes one row keeps on the stack: 256, so that a feature's low byte is
/// the feature and indexes them without a bounds check.
const STACK_FEATURES: usize = 256;

/// A split: a code goes to `child` when `code + add <= limit` (wrapping), else to
/// `child + 1`. A leaf: `limit` is [`MISSING`] and `child` the leaf itself.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Node {
    add: u8,
    limit: u8,
    feature: u16,
    child: u32,
}

impl Node {
    fn is_leaf(self) -> bool {
        self.limit == MISSING
    }

    /// Whether `code` goes to `child + 1`.
    #[inline(always)]
    fn right(self, code: u8) -> bool {
        code.wrapping_add(self.add) > self.limit
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Compiled {
    /// Per feature, its distinct thresholds in ascending order.
    cuts: Vec<Vec<f64>>,
    nodes: Vec<Node>,
    /// Per node, the leaf's output (0 for splits).
    values: Vec<f64>,
    /// Per tree, its root node; then the number of nodes (tree `t` is `starts[t]..starts[t + 1]`).
    starts: Vec<u32>,
}

impl Compiled {
    /// The compiled trees, or `None` when the model exceeds what codes can hold.
    pub(super) fn new(trees: &[BoostTree], n_features: usize) -> Option<Compiled> {
        Compiled::with_limit(trees, n_features, MAX_CUTS)
    }

    /// As [`Compiled::new`], with at most `max_cuts` (≤ [`MAX_CUTS`]) thresholds per feature.
    pub(super) fn with_limit(
        trees: &[BoostTree],
        n_features: usize,
        max_cuts: usize,
    ) -> Option<Compiled> {
        if n_features > usize::from(u16::MAX) + 1 {
            return None;
        }
        let mut cuts: Vec<Vec<f64>> = vec![Vec::new(); n_features];
        for tree in trees {
            for node in &tree.nodes {
                cuts[node.feature as usize].push(node.threshold);
            }
        }
        for c in &mut cuts {
            c.sort_by(f64::total_cmp);
            // −0 and +0 are one threshold: they send every value the same way.
            c.dedup_by(|a, b| a == b);
            if c.len() > max_cuts.min(MAX_CUTS) {
                return None;
            }
        }

        let mut nodes: Vec<Node> = Vec::new();
        let mut values: Vec<f64> = Vec::new();
        let mut starts = Vec::with_capacity(trees.len() + 1);
        let mut queue = VecDeque::new();
        // A leaf at `at`, leading back to itself.
        let leaf = |at: u32| Node {
            add: 0,
            limit: MISSING,
            feature: 0,
            child: at,
        };
        for tree in trees {
            let root = u32::try_from(nodes.len()).ok()?;
            starts.push(root);
            nodes.push(leaf(root));
            values.push(tree.values[0]);
            if tree.nodes.is_empty() {
                continue;
            }
            values[root as usize] = 0.0;
            queue.push_back((0usize, root));
            while let Some((index, at)) = queue.pop_front() {
                let split = &tree.nodes[index];
                let f = split.feature as usize;
                // The two children's slots; u32 indexes them.
                u32::try_from(nodes.len() + 1).ok()?;
                let child = nodes.len() as u32;
                // At most MAX_CUTS - 1 = 253: `rank + 1` is below MISSING.
                let rank = cuts[f].partition_point(|c| *c < split.threshold) as u8;
                let add = u8::from(split.default_left);
                nodes[at as usize] = Node {
                    add,
                    limit: rank + add,
                    feature: f as u16,
                    child,
                };
                for (side, &c) in split.children.iter().enumerate() {
                    let slot = child + side as u32;
                    nodes.push(leaf(slot));
                    if c & LEAF_BIT != 0 {
                        values.push(tree.values[(c & !LEAF_BIT) as usize]);
                    } else {
                        values.push(0.0);
                        queue.push_back((c as usize, slot));
                    }
                }
            }
        }
        starts.push(u32::try_from(nodes.len()).ok()?);
        Some(Compiled {
            cuts,
            nodes,
            values,
            starts,
        })
    }

    /// The node after `at` for the row whose code of feature `f` is `code(f)`.
    #[inline(always)]
    fn step(&self, at: u32, code: impl Fn(u16) -> u8) -> u32 {
        let node = self.nodes[at as usize];
        node.child + u32::from(node.right(code(node.feature)))
    }

    /// The leaf a row reaches from `root` (codes as for [`Compiled::step`]).
    #[inline(always)]
    fn walk(&self, root: u32, code: impl Fn(u16) -> u8 + Copy) -> u32 {
        let mut at = root;
        while !self.nodes[at as usize].is_leaf() {
            at = self.step(at, code);
        }
        at
    }

    /// The code of `value` on a feature with thresholds `cuts`.
    #[inline]
    fn code(cuts: &[f64], value: f64) -> u8 {
        if value.is_nan() {
            MISSING
        } else {
            // At most MAX_CUTS: fits below MISSING.
            cuts.partition_point(|c| *c < value) as u8
        }
    }

    /// Adds the trees' outputs for one row to `out` (tree `t` to `out[t % out.len()]`, in the
    /// trees' order).
    pub(super) fn add_row(&self, row: &[f64], out: &mut [f64]) {
        let n = self.cuts.len();
        if n <= STACK_FEATURES {
            // Zeros past the features: a leaf reads feature 0 even in a model without any.
            let mut codes = [0u8; STACK_FEATURES];
            for ((code, &value), cuts) in codes.iter_mut().zip(row).zip(&self.cuts) {
                *code = Compiled::code(cuts, value);
            }
            // Every feature is below 256, so it is its own low byte, and a byte indexes the
            // codes without a bounds check.
            self.add_codes(|f| codes[usize::from(f as u8)], out);
        } else {
            let codes: Vec<u8> = (self.cuts.iter().zip(row))
                .map(|(cuts, &value)| Compiled::code(cuts, value))
                .collect();
            self.add_codes(|f| codes[usize::from(f)], out);
        }
    }

    /// [`Compiled::add_row`] for the row whose code of feature `f` is `code(f)`.
    #[inline(always)]
    fn add_codes(&self, code: impl Fn(u16) -> u8 + Copy, out: &mut [f64]) {
        let k = out.len();
        // The output of the next tree, without a division per tree.
        let mut o = 0;
        let roots = &self.starts[..self.starts.len() - 1];
        let groups = roots.chunks_exact(LANES);
        let rest = groups.remainder();
        for group in groups {
            let mut at = [0u32; LANES];
            at.copy_from_slice(group);
            loop {
                // Whether a lane moved, in bits: comparing the arrays instead stores the
                // lanes and reloads them as a vector, which stalls.
                let mut moved = 0;
                for a in &mut at {
                    let next = self.step(*a, code);
                    moved |= next ^ *a;
                    *a = next;
                }
                if moved == 0 {
                    break;
                }
            }
            for a in at {
                out[o] += self.values[a as usize];
                o = if o + 1 == k { 0 } else { o + 1 };
            }
        }
        for &root in rest {
            out[o] += self.values[self.walk(root, code) as usize];
            o = if o + 1 == k { 0 } else { o + 1 };
        }
    }

    /// The scores of every row of `x`, row-major (`base.len()` per row, starting from
    /// `base`), in parallel over blocks of rows.
    pub(super) fn raw_batch(&self, base: &[f64], x: &Matrix) -> Vec<f64> {
        let k = base.len();
        let mut out = vec![0.0; x.rows * k];
        out.par_chunks_mut(BLOCK * k).enumerate().for_each_init(
            || (Vec::new(), Vec::new()),
            |(codes, at): &mut (Vec<u8>, Vec<u8>), (b, scores)| {
                let start = b * BLOCK;
                let n = scores.len() / k;
                // Column-major: feature `f` of row `i` at `f * n + i`.
                codes.clear();
                codes.resize(n * self.cuts.len().max(1), 0);
                for ((column, cuts), codes) in x
                    .columns
                    .iter()
                    .zip(&self.cuts)
                    .zip(codes.chunks_exact_mut(n))
                {
                    for (code, &value) in codes.iter_mut().zip(&column[start..start + n]) {
                        *code = Compiled::code(cuts, value);
                    }
                }
                for row in scores.chunks_exact_mut(k) {
                    row.copy_from_slice(base);
                }
                let mut o = 0;
                for tree in self.starts.windows(2) {
                    let (root, end) = (tree[0] as usize, tree[1] as usize);
                    if end - root <= 256 {
                        self.positions(root, end, codes, n, at);
                        let values = &self.values[root..end];
                        if k == 1 {
                            for (score, &a) in scores.iter_mut().zip(at.iter()) {
                                *score += values[usize::from(a)];
                            }
                        } else {
                            for (score, &a) in scores[o..].iter_mut().step_by(k).zip(at.iter()) {
                                *score += values[usize::from(a)];
                            }
                        }
                    } else {
                        for (i, score) in scores[o..].iter_mut().step_by(k).enumerate() {
                            let leaf = self.walk(root as u32, |f| codes[usize::from(f) * n + i]);
                            *score += self.values[leaf as usize];
                        }
                    }
                    o = if o + 1 == k { 0 } else { o + 1 };
                }
            },
        );
        out
    }

    /// Into `at`, the leaf (its index in the tree) that each of `n` rows with column-major
    /// `codes` reaches in the tree of nodes `root..end` (at most 256 of them).
    fn positions(&self, root: usize, end: usize, codes: &[u8], n: usize, at: &mut Vec<u8>) {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // The same loop in 32-byte vectors where the processor has them (the default
            // target has only 16-byte SSE2): the batch takes 0.20 s of CPU instead of
            // 0.29–0.32 s at 500 × 63 (docs/benchmarks.md, "Faster prediction").
            // SAFETY: `positions_avx2` needs nothing but AVX2, which the line above checked;
            // its indexing is the safe, bounds-checked code of `positions_in`.
            #[allow(unsafe_code)]
            unsafe {
                self.positions_avx2(root, end, codes, n, at);
            }
            return;
        }
        self.positions_in(root, end, codes, n, at);
    }

    /// [`Compiled::positions`] compiled for AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn positions_avx2(&self, root: usize, end: usize, codes: &[u8], n: usize, at: &mut Vec<u8>) {
        self.positions_in(root, end, codes, n, at);
    }

    #[inline(always)]
    fn positions_in(&self, root: usize, end: usize, codes: &[u8], n: usize, at: &mut Vec<u8>) {
        at.clear();
        at.resize(n, 0);
        for (j, node) in self.nodes[root..end].iter().enumerate() {
            if node.is_leaf() {
                continue;
            }
            // Indexes within the tree, below 256; the children come after the split.
            let here = j as u8;
            let to_left = (node.child as usize - root - j) as u8;
            let column = &codes[usize::from(node.feature) * n..][..n];
            for (a, &code) in at.iter_mut().zip(column) {
                // 1 when the code goes right: `code + add > limit`, as a byte.
                let right = code
                    .wrapping_add(node.add)
                    .saturating_sub(node.limit)
                    .min(1);
                *a += if *a == here { to_left + right } else { 0 };
            }
        }
    }
}
