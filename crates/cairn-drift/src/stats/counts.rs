//! Tests over category counts: chi-square goodness of fit against the reference proportions
//! (as Evidently calls `scipy.stats.chisquare`), the chi-square test of the 2 × k contingency
//! table (as `scipy.stats.chi2_contingency` with its default Yates correction, which applies
//! only to a 2 × 2 table), and the two-proportion Z-test (Evidently's `z` test).

use statrs::function::erf::erfc;
use statrs::function::gamma::gamma_ur;

use super::distance::Sum;

/// A test's statistic (`None` when infinite) and p-value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tested {
    pub statistic: Option<f64>,
    pub p_value: f64,
}

/// `P(X >= x)` for a chi-square variable with `dof` degrees of freedom (> 0).
pub fn chi2_sf(x: f64, dof: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x <= 0.0 {
        return 1.0;
    }
    if x == f64::INFINITY {
        return 0.0;
    }
    gamma_ur(dof / 2.0, x / 2.0)
}

/// `P(|Z| >= |z|)` for a standard normal `Z`.
pub fn normal_two_sided(z: f64) -> f64 {
    erfc(z.abs() / std::f64::consts::SQRT_2)
}

/// Goodness of fit of the current counts to the reference proportions: the expected count of
/// category i is `reference_i · n_current / n_reference`; `Σ (o - e)² / e` against a
/// chi-square with k - 1 degrees of freedom. A category the reference never saw has an
/// expected count of 0: the statistic is infinite and the p-value 0. With fewer than two
/// categories nothing can differ: p = 1.
pub fn chisquare(reference: &[u64], current: &[u64]) -> Tested {
    let k = reference.len();
    if k < 2 {
        return Tested {
            statistic: Some(0.0),
            p_value: 1.0,
        };
    }
    let n_ref: u64 = reference.iter().sum();
    let n_cur: u64 = current.iter().sum();
    let k_norm = n_cur as f64 / n_ref as f64;
    let mut stat = Sum::default();
    for (&r, &c) in reference.iter().zip(current) {
        let expected = r as f64 * k_norm;
        let observed = c as f64;
        if expected == 0.0 {
            if observed != 0.0 {
                return Tested {
                    statistic: None,
                    p_value: 0.0,
                };
            }
            continue;
        }
        stat.add((observed - expected) * (observed - expected) / expected);
    }
    let stat = stat.value();
    Tested {
        statistic: Some(stat),
        p_value: chi2_sf(stat, (k - 1) as f64),
    }
}

/// The chi-square test of independence of the 2 × k table (reference counts, current
/// counts) over the union of categories: expected counts from the margins, `k - 1` degrees
/// of freedom, Yates' continuity correction when that is 1 (a 2 × 2 table: each observed count
/// moves toward its expected count by at most 0.5), as `scipy.stats.chi2_contingency`.
/// With fewer than two categories the statistic is 0 and p = 1.
pub fn chi2_contingency(reference: &[u64], current: &[u64]) -> Tested {
    let k = reference.len();
    if k < 2 {
        return Tested {
            statistic: Some(0.0),
            p_value: 1.0,
        };
    }
    let rows = [reference, current];
    let row_sums: Vec<f64> = rows.iter().map(|r| r.iter().sum::<u64>() as f64).collect();
    let col_sums: Vec<f64> = (0..k).map(|j| (reference[j] + current[j]) as f64).collect();
    let total: f64 = row_sums.iter().sum();
    let dof = k - 1;
    let mut stat = Sum::default();
    for (row, &row_sum) in rows.iter().zip(&row_sums) {
        for (j, &count) in row.iter().enumerate() {
            let expected = row_sum * col_sums[j] / total;
            let mut observed = count as f64;
            if dof == 1 {
                let diff = expected - observed;
                observed += 0.5f64.min(diff.abs()) * diff.signum() * f64::from(diff != 0.0);
            }
            stat.add((observed - expected) * (observed - expected) / expected);
        }
    }
    let stat = stat.value();
    Tested {
        statistic: Some(stat),
        p_value: chi2_sf(stat, dof as f64),
    }
}

/// The two-proportion Z-test (pooled), two-sided: the share of the first category (in sorted
/// order) against the rest, in the reference and in the current counts (indexed alike, the
/// first being the first category). When both samples hold one and the same single category,
/// p = 1 (Evidently's rule).
pub fn z_test(reference: &[u64], current: &[u64]) -> Tested {
    let present = |counts: &[u64]| counts.iter().filter(|&&c| c > 0).count();
    let same_single = present(reference) == 1
        && present(current) == 1
        && reference.iter().zip(current).any(|(&r, &c)| r > 0 && c > 0);
    if reference.is_empty() || same_single {
        return Tested {
            statistic: Some(0.0),
            p_value: 1.0,
        };
    }
    let n1: u64 = reference.iter().sum();
    let n2: u64 = current.iter().sum();
    // Evidently codes the first category 0 and every other 1; p is the share of 1s.
    let p1 = (n1 - reference[0]) as f64 / n1 as f64;
    let p2 = (n2 - current[0]) as f64 / n2 as f64;
    let (n1, n2) = (n1 as f64, n2 as f64);
    let pooled = (p1 * n1 + p2 * n2) / (n1 + n2);
    let z = (p1 - p2) / (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    Tested {
        statistic: Some(z),
        p_value: normal_two_sided(z),
    }
}
