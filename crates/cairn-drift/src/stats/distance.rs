//! Distances between two samples or two distributions: Wasserstein-1 (as
//! `scipy.stats.wasserstein_distance`), the population standard deviation (`np.std`, ddof 0),
//! reference-quantile bins (`np.quantile`, linear), and over proportions the population
//! stability index, the Jensen–Shannon distance (as `scipy.spatial.distance.jensenshannon`,
//! natural logarithm) and the Kullback–Leibler divergence (as `scipy.stats.entropy(p, q)`).

/// A sum that keeps the rounding error of each addition (Neumaier), so that sums over a
/// million values do not drift from the exact result.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sum {
    sum: f64,
    compensation: f64,
}

impl Sum {
    pub fn add(&mut self, x: f64) {
        let t = self.sum + x;
        self.compensation += if self.sum.abs() >= x.abs() {
            (self.sum - t) + x
        } else {
            (x - t) + self.sum
        };
        self.sum = t;
    }

    pub fn value(&self) -> f64 {
        self.sum + self.compensation
    }
}

/// The sum of `values`, compensated.
pub fn sum(values: impl IntoIterator<Item = f64>) -> f64 {
    let mut s = Sum::default();
    for v in values {
        s.add(v);
    }
    s.value()
}

/// The first-order Wasserstein distance between the empirical distributions of `a` and `b`
/// (each sorted ascending, finite, not empty): the area between their CDFs,
/// `Σ |F_a(x_k) - F_b(x_k)| (x_{k+1} - x_k)` over the sorted values of both samples.
pub fn wasserstein(a: &[f64], b: &[f64]) -> f64 {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let mut total = Sum::default();
    let next = |i: usize, j: usize| match (a.get(i), b.get(j)) {
        (Some(&x), Some(&y)) => Some(x.min(y)),
        (Some(&x), None) => Some(x),
        (None, Some(&y)) => Some(y),
        (None, None) => None,
    };
    let Some(mut v) = next(i, j) else {
        return 0.0;
    };
    loop {
        while i < a.len() && a[i] <= v {
            i += 1;
        }
        while j < b.len() && b[j] <= v {
            j += 1;
        }
        let Some(w) = next(i, j) else {
            break;
        };
        total.add((i as f64 / n1 - j as f64 / n2).abs() * (w - v));
        v = w;
    }
    total.value()
}

/// The mean and the population standard deviation (ddof 0, as `np.std`) of `values` (not
/// empty).
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = sum(values.iter().copied()) / n;
    let var = sum(values.iter().map(|&x| (x - mean) * (x - mean))) / n;
    (mean, var.sqrt())
}

/// The `q` quantile of `sorted` (ascending, not empty), by linear interpolation between
/// order statistics (numpy's default `method='linear'`, computed as numpy does).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    let last = n - 1;
    let virtual_index = last as f64 * q;
    if virtual_index >= last as f64 {
        return sorted[last];
    }
    let prev = virtual_index.floor();
    let gamma = virtual_index - prev;
    let lo = prev.max(0.0) as usize;
    let (a, b) = (sorted[lo], sorted[lo + 1]);
    let diff = b - a;
    if gamma >= 0.5 {
        b - diff * (1.0 - gamma)
    } else {
        a + diff * gamma
    }
}

/// How many of `sorted` are at most `x`.
pub fn count_at_most(sorted: &[f64], x: f64) -> usize {
    sorted.partition_point(|&v| v <= x)
}

/// Counts of `sorted` in the bins `(-∞, e_0], (e_0, e_1], …, (e_last, ∞)`.
pub fn bin_counts(sorted: &[f64], edges: &[f64]) -> Vec<u64> {
    let mut out = Vec::with_capacity(edges.len() + 1);
    let mut below = 0usize;
    for &e in edges {
        let at_most = count_at_most(sorted, e);
        out.push((at_most - below) as u64);
        below = at_most;
    }
    out.push((sorted.len() - below) as u64);
    out
}

/// Shares of `counts` in their total.
pub fn proportions(counts: &[u64]) -> Vec<f64> {
    let total: u64 = counts.iter().sum();
    counts.iter().map(|&c| c as f64 / total as f64).collect()
}

/// The empty-bin rule for PSI and KL (Evidently's): a share of 0 becomes 0.0001, or, when the
/// smallest non-zero share is itself at most 0.0001, that share divided by 10^6 — so that a
/// logarithm of the ratio is finite. Shares are not renormalised afterwards.
pub fn fill_zeros(shares: &mut [f64]) {
    let smallest = shares
        .iter()
        .copied()
        .filter(|&s| s != 0.0)
        .fold(f64::INFINITY, f64::min);
    if !smallest.is_finite() {
        return;
    }
    let fill = if smallest <= 0.0001 {
        smallest / 1e6
    } else {
        0.0001
    };
    for s in shares.iter_mut().filter(|s| **s == 0.0) {
        *s = fill;
    }
}

/// The population stability index `Σ (r_i - c_i) ln(r_i / c_i)` of the reference and current
/// shares, after [`fill_zeros`] on each.
pub fn psi(reference: &[f64], current: &[f64]) -> f64 {
    let (mut r, mut c) = (reference.to_vec(), current.to_vec());
    fill_zeros(&mut r);
    fill_zeros(&mut c);
    sum(r.iter().zip(&c).map(|(&r, &c)| (r - c) * (r / c).ln()))
}

/// `x ln(x / y)`, 0 where `x` is 0 (scipy's `rel_entr`).
fn rel_entr(x: f64, y: f64) -> f64 {
    if x > 0.0 && y > 0.0 {
        x * (x / y).ln()
    } else if x == 0.0 && y >= 0.0 {
        0.0
    } else {
        f64::INFINITY
    }
}

fn normalised(p: &[f64]) -> Vec<f64> {
    let total = sum(p.iter().copied());
    p.iter().map(|&x| x / total).collect()
}

/// The Jensen–Shannon distance between two distributions (each normalised to sum to 1):
/// `sqrt((KL(p‖m) + KL(q‖m)) / 2)` with `m = (p + q) / 2`, natural logarithm, so between 0
/// and `sqrt(ln 2)` ≈ 0.833. Zero shares need no rule here.
pub fn jensen_shannon(p: &[f64], q: &[f64]) -> f64 {
    let (p, q) = (normalised(p), normalised(q));
    let m: Vec<f64> = p.iter().zip(&q).map(|(&a, &b)| (a + b) / 2.0).collect();
    let left = sum(p.iter().zip(&m).map(|(&a, &m)| rel_entr(a, m)));
    let right = sum(q.iter().zip(&m).map(|(&b, &m)| rel_entr(b, m)));
    ((left + right) / 2.0).sqrt()
}

/// The Kullback–Leibler divergence of the reference shares from the current ones,
/// `KL(reference ‖ current) = Σ r_i ln(r_i / c_i)` (natural logarithm), after
/// [`fill_zeros`] on each and renormalising both to sum to 1 (as `scipy.stats.entropy`).
pub fn kl_divergence(reference: &[f64], current: &[f64]) -> f64 {
    let (mut r, mut c) = (reference.to_vec(), current.to_vec());
    fill_zeros(&mut r);
    fill_zeros(&mut c);
    let (r, c) = (normalised(&r), normalised(&c));
    sum(r.iter().zip(&c).map(|(&a, &b)| rel_entr(a, b)))
}
