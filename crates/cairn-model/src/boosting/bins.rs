//! Binning for boosting: every feature of the training rows becomes `u8` bin codes, once per
//! fit. The bins of the observed values are LightGBM's (4.x, `bin.cpp`), so that a split can
//! fall where LightGBM's can: zero has a bin of its own between the negative and the positive
//! values, each side gets bins in proportion to its rows, and a side's bins are cut greedily
//! (`min_data_in_bin` 3; a value as frequent as a whole bin gets its own). LightGBM bins a
//! sample of 200,000 rows; cairn bins every training row (the same bins up to that many). A
//! missing value (NaN) gets its own code, one past the last value bin, so that a split can
//! learn which side missing values go to.

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
    /// The same codes column-major, `columns[j][i]`: a partition reads one feature of a
    /// leaf's rows, which lie closer together here (one byte apart in a row of the table
    /// instead of `n_features`).
    pub(super) columns: Vec<Vec<u8>>,
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
            columns,
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

/// LightGBM's `min_data_in_bin`: when a feature has no more distinct values than bins,
/// neighbouring values share a bin until it holds this many rows; with more values, no bin is
/// planned smaller than this.
const MIN_DATA_IN_BIN: usize = 3;
/// LightGBM's `kZeroThreshold`: values within it of zero are zero, and zero has a bin of its
/// own, `(-ZERO, ZERO]`.
const ZERO: f64 = 1e-35;

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
    let edges = if distinct.is_empty() {
        Vec::new()
    } else {
        zero_as_one_bin(&distinct, max_bins)
    };
    let n_bins = if distinct.is_empty() {
        0
    } else {
        edges.len() + 1
    };
    let missing = n_bins as u8;
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
    (codes, edges, n_bins)
}

/// The thresholds between at most `max_bins` value bins of the sorted distinct values
/// `distinct` (value, rows), as LightGBM 4 finds them (`FindBinWithZeroAsOneBin`): the
/// negative values share `max_bins - 1` bins with the positive ones in proportion to their
/// rows, zero has a bin of its own between them, and each side is binned by
/// [`greedy_bins`]. A value `v` falls in the first bin whose threshold is `>= v`.
fn zero_as_one_bin(distinct: &[(f64, usize)], max_bins: usize) -> Vec<f64> {
    let rows = |part: &[(f64, usize)]| part.iter().map(|&(_, c)| c).sum::<usize>();
    let negative = distinct.partition_point(|&(v, _)| v <= -ZERO);
    let positive = distinct.partition_point(|&(v, _)| v <= ZERO);
    let (left_rows, right_rows) = (rows(&distinct[..negative]), rows(&distinct[positive..]));
    let non_zero = left_rows + right_rows;
    // Upper bounds of the bins; the last bin's is infinite.
    let mut upper: Vec<f64> = Vec::new();
    if negative > 0 && max_bins > 1 {
        let share = left_rows as f64 / non_zero as f64 * (max_bins - 1) as f64;
        upper = greedy_bins(&distinct[..negative], (share as usize).max(1), left_rows);
        if let Some(last) = upper.last_mut() {
            *last = -ZERO;
        }
    }
    let right_bins = (max_bins - 1).saturating_sub(upper.len());
    if positive < distinct.len() && right_bins > 0 {
        upper.push(ZERO);
        upper.extend(greedy_bins(&distinct[positive..], right_bins, right_rows));
    } else {
        upper.push(f64::INFINITY);
    }
    upper.pop();
    upper
}

/// LightGBM's `GreedyFindBin`: the upper bounds of at most `max_bins` bins of `distinct`
/// (`rows` rows), the last one infinite. With few distinct values, neighbours share a bin
/// until it holds [`MIN_DATA_IN_BIN`] rows. Otherwise a value with at least the mean bin's
/// rows gets a bin of its own and the others are cut into runs of about the mean of the rows
/// and bins left over; a threshold lies halfway between the last value of a bin and the first
/// of the next.
fn greedy_bins(distinct: &[(f64, usize)], max_bins: usize, rows: usize) -> Vec<f64> {
    let n = distinct.len();
    let mut upper = Vec::new();
    if n <= max_bins {
        let mut in_bin = 0;
        for i in 0..n - 1 {
            in_bin += distinct[i].1;
            if in_bin >= MIN_DATA_IN_BIN {
                upper.push(midpoint(distinct[i].0, distinct[i + 1].0));
                in_bin = 0;
            }
        }
    } else {
        let max_bins = max_bins.min(rows / MIN_DATA_IN_BIN).max(1);
        let mean = rows as f64 / max_bins as f64;
        let big: Vec<bool> = distinct.iter().map(|&(_, c)| c as f64 >= mean).collect();
        let (mut rest_bins, mut rest_rows) = (max_bins as f64, rows as f64);
        for (&(_, c), &big) in distinct.iter().zip(&big) {
            if big {
                rest_bins -= 1.0;
                rest_rows -= c as f64;
            }
        }
        let mut mean = rest_rows / rest_bins;
        // Per bin but the last: its last value and the next bin's first.
        let mut cuts: Vec<(f64, f64)> = Vec::new();
        let mut in_bin = 0;
        for i in 0..n - 1 {
            let (v, c) = distinct[i];
            if !big[i] {
                rest_rows -= c as f64;
            }
            in_bin += c;
            if big[i]
                || in_bin as f64 >= mean
                || (big[i + 1] && in_bin as f64 >= (mean * 0.5).max(1.0))
            {
                cuts.push((v, distinct[i + 1].0));
                if cuts.len() + 1 >= max_bins {
                    break;
                }
                in_bin = 0;
                if !big[i] {
                    rest_bins -= 1.0;
                    mean = rest_rows / rest_bins;
                }
            }
        }
        upper.extend(cuts.iter().map(|&(lo, hi)| midpoint(lo, hi)));
    }
    upper.push(f64::INFINITY);
    upper
}

/// A threshold between `lo < hi` with `lo <= t < hi` (the forest's rule).
fn midpoint(lo: f64, hi: f64) -> f64 {
    let t = (lo + hi) / 2.0;
    if t == hi || !t.is_finite() { lo } else { t }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn distinct(values: &[(f64, usize)]) -> Vec<(f64, usize)> {
        values.to_vec()
    }

    #[test]
    fn few_values_share_bins_until_they_hold_min_data_in_bin() {
        // Counts 1, 1, 2, 5, 1: the first three share a bin (4 rows), then 5, then the last.
        let d = distinct(&[(1.0, 1), (2.0, 1), (3.0, 2), (4.0, 5), (5.0, 1)]);
        // No negative value: the first bin is zero's, up to ZERO.
        assert_eq!(zero_as_one_bin(&d, 255), vec![ZERO, 3.5, 4.5]);
    }

    #[test]
    fn zero_has_a_bin_between_the_negative_and_the_positive_values() {
        let d = distinct(&[(-2.0, 5), (-1.0, 5), (0.0, 5), (1.0, 5), (2.0, 5)]);
        let edges = zero_as_one_bin(&d, 255);
        // The last negative bound becomes -ZERO, then zero's bin, then the positive values.
        assert_eq!(edges, vec![-1.5, -ZERO, ZERO, 1.5]);
        let bin = |v: f64| edges.partition_point(|&e| e < v);
        assert_eq!(
            [-2.0, -1.0, -0.0, 0.0, 1.0, 2.0].map(bin),
            [0, 1, 2, 2, 3, 4]
        );
    }

    #[test]
    fn many_values_get_max_bins_shared_by_sign_in_proportion() {
        // 300 negative and 700 positive distinct values, one row each; 11 bins: zero's bin
        // and 10 shared 3 : 7.
        let mut d: Vec<(f64, usize)> = (1..=300).map(|i| (-f64::from(i), 1)).collect();
        d.reverse();
        d.extend((1..=700).map(|i| (f64::from(i), 1)));
        let edges = zero_as_one_bin(&d, 11);
        assert_eq!(edges.len(), 10);
        let zero = edges.iter().position(|&e| e == ZERO).unwrap();
        assert_eq!(edges[zero - 1], -ZERO);
        // Three negative bins (two thresholds below -ZERO) and seven positive ones.
        assert_eq!(zero - 1, 2);
        assert_eq!(edges.len() - zero, 7);
        // The bins of a side hold about the same number of rows.
        let bin = |v: f64| edges.partition_point(|&e| e < v);
        let mut rows = vec![0usize; edges.len() + 1];
        for &(v, c) in &d {
            rows[bin(v)] += c;
        }
        assert_eq!(rows[zero], 0);
        for &r in rows[..zero].iter().chain(&rows[zero + 1..]) {
            assert!((90..=110).contains(&r), "{rows:?}");
        }
    }

    #[test]
    fn a_value_as_frequent_as_a_bin_gets_its_own() {
        // 1,000 rows over 4 bins: the mean bin holds 250; 1.505 has 400 rows and gets a bin of
        // its own; the other 600 values share the other three.
        let mut d: Vec<(f64, usize)> = (1..=600).map(|i| (f64::from(i) / 100.0, 1)).collect();
        d.insert(150, (1.505, 400));
        let upper = greedy_bins(&d, 4, 1000);
        let bin = |v: f64| upper.partition_point(|&e| e < v);
        assert_eq!([1.5, 1.505, 1.51, 6.0].map(bin), [0, 1, 2, 3]);
        assert_eq!(upper.len(), 4);
    }
}
