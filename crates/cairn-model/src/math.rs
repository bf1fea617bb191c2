//! Small numeric helpers the models share.

pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

pub(crate) fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// Population variance, computed around the mean.
pub(crate) fn variance(values: impl Iterator<Item = f64> + Clone) -> f64 {
    let (n, sum) = values
        .clone()
        .fold((0usize, 0.0), |(n, s), v| (n + 1, s + v));
    let m = sum / n as f64;
    values.map(|v| (v - m) * (v - m)).sum::<f64>() / n as f64
}

/// `1 / (1 + e^-z)`, without smartcore's clamping to exactly 0 and 1 beyond |z| > 40.
pub(crate) fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Softmax of `scores` written to `out[classes[r]]`; other entries of `out` are left alone.
///
/// Scores that overflowed (a row far outside the training data) do not give NaN: if the
/// largest score is infinite, the classes with that score share the probability equally; if
/// every score is `-inf` (or NaN), all classes do.
pub(crate) fn softmax_into(scores: &[f64], classes: &[u32], out: &mut [f64]) {
    let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        let tied = scores.iter().filter(|&&s| s == max && max > 0.0).count();
        for (&s, &c) in scores.iter().zip(classes) {
            out[c as usize] = match tied {
                0 => 1.0 / classes.len() as f64,
                _ if s == max => 1.0 / tied as f64,
                _ => 0.0,
            };
        }
        return;
    }
    let exps: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
    let total: f64 = exps.iter().sum();
    for (e, &c) in exps.iter().zip(classes) {
        out[c as usize] = e / total;
    }
}
