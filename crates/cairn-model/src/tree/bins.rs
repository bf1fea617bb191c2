//! Binning: every feature of the training matrix becomes `u8` bin codes, once per fit.

use rayon::prelude::*;

use crate::{FitError, Matrix};

/// Every feature of the training matrix as `u8` bin codes, with what each bin holds.
pub(crate) struct Binned {
    /// `codes[j][i]`: the bin of feature `j` of row `i`.
    pub(super) codes: Vec<Vec<u8>>,
    /// Per feature, per bin: the smallest and largest training value in the bin.
    pub(super) bin_min: Vec<Vec<f64>>,
    pub(super) bin_max: Vec<Vec<f64>>,
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

    pub(super) fn n_bins(&self, feature: usize) -> usize {
        self.bin_min[feature].len()
    }
}

/// One feature, binned.
pub(super) struct FeatureBins {
    pub(super) codes: Vec<u8>,
    pub(super) bin_min: Vec<f64>,
    pub(super) bin_max: Vec<f64>,
}

/// One feature's bin codes and per-bin value ranges. Bins are runs of consecutive distinct
/// values: one per distinct value when there are at most `max_bins`, otherwise runs holding
/// about `rows / max_bins` rows each (quantiles).
pub(super) fn bin_feature(
    j: usize,
    column: &[f64],
    max_bins: usize,
) -> Result<FeatureBins, FitError> {
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
pub(super) fn midpoint(lo: f64, hi: f64) -> f64 {
    let t = (lo + hi) / 2.0;
    if t == hi || !t.is_finite() { lo } else { t }
}
