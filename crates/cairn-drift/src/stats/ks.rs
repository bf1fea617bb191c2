//! The two-sample Kolmogorov–Smirnov test, two-sided, as scipy's
//! `scipy.stats.ks_2samp(a, b, method='auto')` computes it (scipy 1.17,
//! `scipy/stats/_stats_py.py` and `_stats_pythran.py`): the statistic is the largest
//! difference between the two empirical CDFs; the p-value is exact when both samples have at
//! most 10,000 values (Hodges' lattice-path counts, `_compute_prob_outside_square` for equal
//! sizes, `_compute_outer_prob_inside_method` otherwise), and otherwise asymptotic: the
//! one-sample Kolmogorov distribution `kstwo` at `n = round(m·n / (m + n))` ([`super::kstwo`]).
//! An exact computation that fails (a probability outside [0, 1]) falls back to the
//! asymptotic one, as scipy does.

use super::kstwo;

/// Samples this large or smaller (both) get an exact p-value (scipy's `MAX_AUTO_N`).
pub const MAX_EXACT_N: usize = 10_000;

/// The test's outcome.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ks {
    /// The largest absolute difference between the empirical CDFs.
    pub statistic: f64,
    pub p_value: f64,
    /// The p-value is exact (not the asymptotic distribution's).
    pub exact: bool,
}

/// The two-sided two-sample test of `a` and `b`, each sorted ascending, finite and not empty.
pub fn ks_2samp(a: &[f64], b: &[f64]) -> Ks {
    let (n1, n2) = (a.len(), b.len());
    debug_assert!(n1 > 0 && n2 > 0);
    let mut d = statistic(a, b);
    if n1.max(n2) <= MAX_EXACT_N {
        let (h, lcm) = lattice_distance(n1 as u64, n2 as u64, d);
        d = h as f64 / lcm as f64;
        if h == 0 {
            return Ks {
                statistic: d,
                p_value: 1.0,
                exact: true,
            };
        }
        let p = exact_p(n1 as u64, n2 as u64, h);
        if (0.0..=1.0).contains(&p) {
            return Ks {
                statistic: d,
                p_value: p,
                exact: true,
            };
        }
    }
    let (m, n) = if n1 >= n2 {
        (n1 as f64, n2 as f64)
    } else {
        (n2 as f64, n1 as f64)
    };
    let en = m * n / (m + n);
    Ks {
        statistic: d,
        p_value: kstwo::sf(en.round_ties_even(), d).clamp(0.0, 1.0),
        exact: false,
    }
}

/// `max |F_a(x) - F_b(x)|` over every value `x` of either sample, each CDF evaluated as
/// scipy does (`searchsorted(side='right') / n`, then the difference).
pub fn statistic(a: &[f64], b: &[f64]) -> f64 {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let (mut max, mut min) = (0.0f64, 0.0f64);
    while i < a.len() || j < b.len() {
        let v = match (a.get(i), b.get(j)) {
            (Some(&x), Some(&y)) => x.min(y),
            (Some(&x), None) => x,
            (None, Some(&y)) => y,
            (None, None) => break,
        };
        while i < a.len() && a[i] <= v {
            i += 1;
        }
        while j < b.len() && b[j] <= v {
            j += 1;
        }
        let diff = i as f64 / n1 - j as f64 / n2;
        max = max.max(diff);
        min = min.min(diff);
    }
    // scipy: minS = clip(-min, 0, 1); the statistic is minS when it is larger than maxS.
    let min_s = (-min).clamp(0.0, 1.0);
    if min_s > max { min_s } else { max }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The statistic as a number of lattice steps: `(h, lcm)` with `h = round(d · lcm)` (ties to
/// even, as `np.round`).
fn lattice_distance(n1: u64, n2: u64, d: f64) -> (u64, u64) {
    let lcm = (n1 / gcd(n1, n2)) * n2;
    let h = (d * lcm as f64).round_ties_even();
    (h as u64, lcm)
}

/// scipy's `_attempt_exact_2kssamp` for the two-sided alternative: the probability of a
/// distance of at least `h / lcm`. May be outside [0, 1] when the computation loses its
/// precision (the caller then uses the asymptotic distribution).
fn exact_p(n1: u64, n2: u64, h: u64) -> f64 {
    if n1 == n2 {
        prob_outside_square(n1 as i64, h as i64)
    } else {
        outer_prob_inside(n1 as i64, n2 as i64, gcd(n1, n2) as i64, h as i64)
    }
}

/// scipy's `_compute_prob_outside_square(n, h)`: the proportion of lattice paths from (0, 0)
/// to (n, n) that pass outside the lines `x - y = ±h`.
fn prob_outside_square(n: i64, h: i64) -> f64 {
    let mut p = 0.0f64;
    let mut k = (n as f64 / h as f64).floor() as i64;
    while k >= 0 {
        let mut p1 = 1.0f64;
        for j in 0..h {
            p1 = (n - k * h - j) as f64 * p1 / (n + k * h + j + 1) as f64;
        }
        p = p1 * (1.0 - p);
        k -= 1;
    }
    2.0 * p
}

/// scipy's `_compute_outer_prob_inside_method(m, n, g, h)`: the proportion of lattice paths
/// from (0, 0) to (m, n) that do not stay strictly inside `|x/m - y/n| < h / lcm(m, n)`,
/// computed as 1 - p directly (Viehmann's recursion). NaN where the recursion would leave
/// its window (never seen; scipy's pythran build would read out of bounds there).
fn outer_prob_inside(m: i64, n: i64, g: i64, h: i64) -> f64 {
    let (m, n) = if m < n { (n, m) } else { (m, n) };
    let (mg, ng) = (m / g, n / g);
    let mut minj: i64 = 0;
    let mut maxj: i64 = ((h as f64 / mg as f64).ceil() as i64).min(n + 1);
    let mut curlen = maxj - minj;
    let len_a = (2 * maxj + 2).min(n + 1) as usize;
    let mut a = vec![1.0f64; len_a];
    for x in a.iter_mut().take(maxj.max(0) as usize) {
        *x = 0.0;
    }
    for i in 1..=m {
        let (lastminj, lastlen) = (minj, curlen);
        minj = (((ng * i - h) as f64 / mg as f64).floor() as i64 + 1).max(0);
        minj = minj.min(n);
        maxj = (((ng * i + h) as f64 / mg as f64).ceil() as i64).min(n + 1);
        if maxj <= minj {
            return 1.0;
        }
        let mut val = if minj == 0 { 0.0 } else { 1.0 };
        for jj in 0..(maxj - minj) {
            let j = jj + minj;
            let Some(&prev) = usize::try_from(jj + minj - lastminj)
                .ok()
                .and_then(|k| a.get(k))
            else {
                return f64::NAN;
            };
            val = (prev * i as f64 + val * j as f64) / (i + j) as f64;
            match a.get_mut(jj as usize) {
                Some(slot) => *slot = val,
                None => return f64::NAN,
            }
        }
        curlen = maxj - minj;
        if lastlen > curlen {
            // numpy's slice assignment stops at the end of the array.
            let start = (maxj - minj) as usize;
            let end = ((maxj - minj + (lastlen - curlen)) as usize).min(a.len());
            for x in a.iter_mut().take(end).skip(start) {
                *x = 1.0;
            }
        }
    }
    usize::try_from(maxj - minj - 1)
        .ok()
        .and_then(|k| a.get(k))
        .copied()
        .unwrap_or(f64::NAN)
}
