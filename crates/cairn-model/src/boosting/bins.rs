//! Binning for boosting: every feature of the training rows becomes `u8` bin codes, once per
//! fit. The bins of the observed values are built as the forest's are (`tree/bins.rs`: one bin
//! per distinct value up to `max_bins`, otherwise quantile runs of about `rows / max_bins`
//! rows); a missing value (NaN) gets its own code, one past the last value bin, so that a split
//! can learn which side missing values go to.

use rayon::prelude::*;

use crate::Matrix;

/// Slots per feature in a histogram: one per `u8` code.
pub(super) const HIST_BINS: usize = 256;

/// The training rows' features as bin codes.
pub(super) struct Bins {
    /// `codes[i * n_features + j]`: the bin of feature `j` of training row `i`; `n_bins[j]`
    /// means missing. Row-major: one row's codes are adjacent (usually one cache line), so a
    /// leaf whose rows are scattered over the table reads one line per row, not per feature.
    pub(super) codes: Vec<u8>,
    n_features: usize,
    /// Value bins per feature (the missing bin not counted).
    pub(super) n_bins: Vec<usize>,
    /// Per feature, the threshold after value bin `b` (`b < n_bins - 1`): every value of bin
    /// `b` is `<=` it, every value of bin `b + 1` above.
    pub(super) edges: Vec<Vec<f64>>,
    /// Where feature `j`'s histogram starts in a flat histogram: [`HIST_BINS`] slots of 3
    /// numbers each, whatever the feature's bins (a `u8` code indexes them without a bounds
    /// check); the missing bin is slot `n_bins[j]`.
    pub(super) offsets: Vec<usize>,
    /// The length of a flat histogram of every feature.
    pub(super) hist_len: usize,
}

impl Bins {
    /// Bins the rows `rows` of every column of `x` (in parallel over features).
    pub(super) fn new(x: &Matrix, rows: &[u32], max_bins: usize) -> Bins {
        let features: Vec<(Vec<u8>, Vec<f64>, usize)> = x
            .columns
            .par_iter()
            .map(|column| bin_feature(column, rows, max_bins))
            .collect();
        let n_features = features.len();
        let mut columns = Vec::with_capacity(n_features);
        let mut edges = Vec::with_capacity(features.len());
        let mut n_bins = Vec::with_capacity(features.len());
        let mut offsets = Vec::with_capacity(features.len());
        let mut hist_len = 0;
        for (c, e, n) in features {
            n_bins.push(n);
            offsets.push(hist_len);
            debug_assert!(n < HIST_BINS);
            hist_len += HIST_BINS * 3;
            columns.push(c);
            edges.push(e);
        }
        // Transposed in blocks of rows, each block by one thread.
        const BLOCK: usize = 4096;
        let mut codes = vec![0u8; rows.len() * n_features];
        if n_features > 0 {
            codes
                .par_chunks_mut(BLOCK * n_features)
                .enumerate()
                .for_each(|(b, block)| {
                    for (i, row) in block.chunks_exact_mut(n_features).enumerate() {
                        for (code, column) in row.iter_mut().zip(&columns) {
                            *code = column[b * BLOCK + i];
                        }
                    }
                });
        }
        Bins {
            codes,
            n_features,
            n_bins,
            edges,
            offsets,
            hist_len,
        }
    }

    pub(super) fn n_features(&self) -> usize {
        self.n_features
    }

    /// The codes of training row `i`, feature by feature.
    #[inline]
    pub(super) fn row(&self, i: usize) -> &[u8] {
        let at = i * self.n_features;
        &self.codes[at..at + self.n_features]
    }
}

/// One feature's codes over `rows`, the thresholds between its value bins and their number
/// (0 when every value is missing; the missing code is that number).
fn bin_feature(column: &[f64], rows: &[u32], max_bins: usize) -> (Vec<u8>, Vec<f64>, usize) {
    let mut sorted: Vec<f64> = rows
        .iter()
        .map(|&i| column[i as usize])
        .filter(|v| !v.is_nan())
        .collect();
    sorted.sort_unstable_by(f64::total_cmp);
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
        let mut cumulative = 0usize;
        let mut target = 1usize;
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
    let edges: Vec<f64> = (1..bin_min.len())
        .map(|b| midpoint(bin_max[b - 1], bin_min[b]))
        .collect();
    let missing = bin_min.len() as u8;
    let codes = rows
        .iter()
        .map(|&i| {
            let v = column[i as usize];
            if v.is_nan() {
                missing
            } else {
                edges.partition_point(|&edge| edge < v) as u8
            }
        })
        .collect();
    (codes, edges, bin_min.len())
}

/// A threshold between `lo < hi` with `lo <= t < hi` (the forest's rule).
fn midpoint(lo: f64, hi: f64) -> f64 {
    let t = (lo + hi) / 2.0;
    if t == hi || !t.is_finite() { lo } else { t }
}
