//! The survival function of the two-sided one-sample Kolmogorov–Smirnov statistic `D_n`,
//! `P(D_n >= x)`: scipy's `scipy.stats.kstwo.sf(x, n)`, ported from scipy 1.17
//! (`scipy/stats/_ksstats.py`, which follows Simard and L'Ecuyer (2011) in choosing between
//! the Ruben–Gambino closed forms, Durbin's matrix algorithm as Marsaglia, Tsang and Wang
//! compute it, Pomeranz's recursion, the Pelz–Good approximation and twice the one-sided
//! Smirnov tail), and `scipy.special.smirnov` (`xsf/cephes/kolmogorov.h`).
//!
//! scipy computes the Smirnov sum in double-double arithmetic; here each term is computed in
//! logarithms (`ln_1p` for `1 - x - v/n`, the binomial coefficient as a scaled product), which
//! agrees with it to about 1e-12 for the sizes drift checks meet. The tests compare every
//! branch with scipy.

use std::f64::consts::PI;

const E128: f64 = 3.402_823_669_209_385e38; // 2^128
const EM128: f64 = 2.938_735_877_055_719e-39; // 2^-128
const MIN_LOG: f64 = -708.0;
/// cephes' MINLOG: `exp` of anything smaller underflows.
const CEPHES_MINLOG: f64 = -7.083_964_185_322_641e2;
const SQRT2PI: f64 = 2.506_628_274_631_000_7;
const LOG_2PI: f64 = 1.837_877_066_409_345_3;
/// Stirling coefficients `B_{2j} / (2j) / (2j - 1)`, j = 8 … 1 (scipy's `_STIRLING_COEFFS`).
#[allow(clippy::excessive_precision)] // scipy's literals, as written there
const STIRLING: [f64; 8] = [
    -2.955_065_359_477_124_2e-2,
    6.410_256_410_256_410_5e-3,
    -1.917_526_917_526_917_6e-3,
    8.417_508_417_508_417_5e-4,
    -5.952_380_952_380_952e-4,
    7.936_507_936_507_937e-4,
    -2.777_777_777_777_777_8e-3,
    8.333_333_333_333_333e-2,
];

/// `P(D_n >= x)` for a sample of `n` values (`n` a positive whole number).
pub fn sf(n: f64, x: f64) -> f64 {
    if n.is_nan() || x.is_nan() || n < 1.0 || n.fract() != 0.0 {
        return f64::NAN;
    }
    if x >= 1.0 {
        return 0.0;
    }
    if x <= 0.0 {
        return 1.0;
    }
    let n = n as u64;
    let nf = n as f64;
    let t = nf * x;
    if t <= 1.0 {
        // Ruben–Gambino: 1/2n <= x <= 1/n.
        if t <= 0.5 {
            return 1.0;
        }
        let prob = if n <= 140 {
            (1..=n).fold(1.0, |p, i| p * (i as f64 * (1.0 / nf) * (2.0 * t - 1.0)))
        } else {
            (log_nfactorial_div_n_pow_n(nf) + nf * (2.0 * t - 1.0).ln()).exp()
        };
        return clip(1.0 - prob);
    }
    if t >= nf - 1.0 {
        // Ruben–Gambino.
        return clip(2.0 * (1.0 - x).powf(nf));
    }
    if x >= 0.5 {
        return clip(2.0 * smirnov_sf(n, x));
    }
    let nxsquared = t * x;
    if n <= 140 {
        if nxsquared <= 0.754693 {
            return clip(1.0 - durbin_cdf(n, x));
        }
        if nxsquared <= 4.0 {
            return clip(1.0 - pomeranz_cdf(n, x));
        }
        return clip(2.0 * smirnov_sf(n, x));
    }
    if nxsquared >= 370.0 {
        return 0.0;
    }
    if nxsquared >= 2.2 {
        return clip(2.0 * smirnov_sf(n, x));
    }
    let cdf = if n <= 100_000 && nf * x.powf(1.5) <= 1.4 {
        durbin_cdf(n, x)
    } else {
        pelz_good_cdf(nf, x)
    };
    clip(1.0 - cdf)
}

fn clip(p: f64) -> f64 {
    p.clamp(0.0, 1.0)
}

/// `x · 2^e`, without overflowing the scale factor.
fn ldexp(mut x: f64, mut e: i64) -> f64 {
    while e > 1000 {
        x *= 2f64.powi(1000);
        e -= 1000;
    }
    while e < -1000 {
        x *= 2f64.powi(-1000);
        e += 1000;
    }
    x * 2f64.powi(e as i32)
}

/// `ln(n! / n^n)` by Stirling's series with `n ln n` removed up front.
fn log_nfactorial_div_n_pow_n(n: f64) -> f64 {
    let rn = 1.0 / n;
    let poly = STIRLING.iter().fold(0.0, |acc, &c| acc * (rn / n) + c);
    n.ln() / 2.0 - n + LOG_2PI / 2.0 + rn * poly
}

/// `P(D_n <= d)` by Durbin's matrix algorithm, as Marsaglia, Tsang and Wang compute it
/// (scipy's `_kolmogn_DMTW`): the k-th diagonal entry of `H^n`, scaled by `n!/n^n`.
fn durbin_cdf(n: u64, d: f64) -> f64 {
    if d >= 1.0 {
        return 1.0;
    }
    let nd = n as f64 * d;
    if nd <= 0.5 {
        return 0.0;
    }
    let k = nd.ceil() as usize;
    let h = k as f64 - nd;
    let m = 2 * k - 1;
    let mut v: Vec<f64> = (1..=m).map(|j| 1.0 - h.powf(j as f64)).collect();
    let mut w = vec![0.0; m];
    let mut fac = 1.0f64;
    for j in 1..=m {
        w[j - 1] = fac;
        fac /= j as f64;
        v[j - 1] *= fac;
    }
    let tt = (2.0 * h - 1.0).max(0.0).powf(m as f64) - 2.0 * h.powf(m as f64);
    v[m - 1] = (1.0 + tt) * fac;
    let mut hm = Matrix::zeros(m);
    for i in 1..m {
        for (r, &wv) in (i - 1..m).zip(&w[..m - i + 1]) {
            hm.set(r, i, wv);
        }
    }
    for (r, &vv) in v.iter().enumerate() {
        hm.set(r, 0, vv);
    }
    for (c, &vv) in v.iter().rev().enumerate() {
        hm.set(m - 1, c, vv);
    }
    let mut power = Matrix::identity(m);
    let (mut nn, mut expnt, mut h_expnt) = (n, 0i64, 0i64);
    while nn > 0 {
        if nn % 2 == 1 {
            power = power.mul(&hm);
            expnt += h_expnt;
        }
        hm = hm.mul(&hm);
        h_expnt *= 2;
        if hm.get(k - 1, k - 1).abs() > E128 {
            hm.scale(1.0 / E128);
            h_expnt += 128;
        }
        nn /= 2;
    }
    let mut p = power.get(k - 1, k - 1);
    let nf = n as f64;
    for i in 1..=n {
        p = i as f64 * p / nf;
        if p.abs() < EM128 {
            p *= E128;
            expnt -= 128;
        }
    }
    if expnt != 0 {
        p = ldexp(p, expnt);
    }
    clip(p)
}

/// A square matrix, row-major.
struct Matrix {
    m: usize,
    cells: Vec<f64>,
}

impl Matrix {
    fn zeros(m: usize) -> Matrix {
        Matrix {
            m,
            cells: vec![0.0; m * m],
        }
    }

    fn identity(m: usize) -> Matrix {
        let mut out = Matrix::zeros(m);
        for i in 0..m {
            out.set(i, i, 1.0);
        }
        out
    }

    fn get(&self, r: usize, c: usize) -> f64 {
        self.cells[r * self.m + c]
    }

    fn set(&mut self, r: usize, c: usize, v: f64) {
        self.cells[r * self.m + c] = v;
    }

    fn scale(&mut self, by: f64) {
        for x in &mut self.cells {
            *x *= by;
        }
    }

    fn mul(&self, other: &Matrix) -> Matrix {
        let m = self.m;
        let mut out = Matrix::zeros(m);
        for r in 0..m {
            let row = &self.cells[r * m..(r + 1) * m];
            let dest = &mut out.cells[r * m..(r + 1) * m];
            for (k, &a) in row.iter().enumerate() {
                if a == 0.0 {
                    continue;
                }
                let other_row = &other.cells[k * m..(k + 1) * m];
                for (d, &b) in dest.iter_mut().zip(other_row) {
                    *d += a * b;
                }
            }
        }
        out
    }
}

/// The interval of row `i` of Pomeranz's recursion (scipy's `_pomeranz_compute_j1j2`).
fn pomeranz_j1j2(i: i64, n: i64, ll: i64, ceilf: i64, roundf: i64) -> (i64, i64) {
    let (j1, j2) = if i == 0 {
        (-ll - ceilf - 1, ll + ceilf - 1)
    } else {
        let (ip1div2, ip1mod2) = ((i + 1) / 2, (i + 1) % 2);
        if ip1mod2 == 0 {
            if ip1div2 == n + 1 {
                (n - ll - ceilf - 1, n + ll + ceilf - 1)
            } else {
                (ip1div2 - 1 - ll - roundf - 1, ip1div2 + ll - 1 + ceilf - 1)
            }
        } else {
            (ip1div2 - 1 - ll - 1, ip1div2 + ll + roundf - 1)
        }
    };
    ((j1 + 2).max(0), j2.min(n))
}

/// `P(D_n <= x)` by Pomeranz's recursion (scipy's `_kolmogn_Pomeranz`). NaN if the recursion
/// would index outside its rows (never seen for the sizes it is used at, n <= 140).
fn pomeranz_cdf(n: u64, x: f64) -> f64 {
    let ni = n as i64;
    let nf = n as f64;
    let t = nf * x;
    let ll = t.floor() as i64;
    let f = t - ll as f64;
    let g = f.min(1.0 - f);
    let ceilf = i64::from(f > 0.0);
    let roundf = i64::from(f > 0.5);
    let npwrs = (2 * (ll + 1)) as usize;
    let mut gpower = vec![1.0f64; npwrs];
    let mut twogpower = vec![1.0f64; npwrs];
    let mut onem2gpower = vec![1.0f64; npwrs];
    let (g_over_n, two_g_over_n, one_minus_two_g_over_n) =
        (g / nf, 2.0 * g / nf, (1.0 - 2.0 * g) / nf);
    for m in 1..npwrs {
        gpower[m] = gpower[m - 1] * g_over_n / m as f64;
        twogpower[m] = twogpower[m - 1] * two_g_over_n / m as f64;
        onem2gpower[m] = onem2gpower[m - 1] * one_minus_two_g_over_n / m as f64;
    }
    let mut v0 = vec![0.0f64; npwrs];
    let mut v1 = vec![0.0f64; npwrs];
    v1[0] = 1.0;
    let (mut v0s, mut v1s) = (0i64, 0i64);
    let mut expnt = 0i64;
    let (mut j1, _) = pomeranz_j1j2(0, ni, ll, ceilf, roundf);
    for i in 1..(2 * ni + 2) {
        let k1 = j1;
        std::mem::swap(&mut v0, &mut v1);
        std::mem::swap(&mut v0s, &mut v1s);
        v1.fill(0.0);
        let (nj1, j2) = pomeranz_j1j2(i, ni, ll, ceilf, roundf);
        j1 = nj1;
        let pwrs = if i == 1 || i == 2 * ni + 1 {
            &gpower
        } else if i % 2 == 1 {
            &twogpower
        } else {
            &onem2gpower
        };
        let ln2 = j2 - k1 + 1;
        if ln2 > 0 {
            let start = k1 - v0s;
            if start < 0 {
                return f64::NAN;
            }
            // numpy slices stop at the end of the array.
            let start = start as usize;
            let a = &v0[start.min(v0.len())..(start + ln2 as usize).min(v0.len())];
            let b = &pwrs[..(ln2 as usize).min(pwrs.len())];
            let conv = convolve(a, b);
            let conv_start = (j1 - k1) as usize;
            let conv_len = (j2 - j1 + 1).max(0) as usize;
            let Some(piece) = conv.get(conv_start..conv_start + conv_len) else {
                return f64::NAN;
            };
            let Some(dest) = v1.get_mut(..conv_len) else {
                return f64::NAN;
            };
            dest.copy_from_slice(piece);
            let max = v1.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if 0.0 < max && max < EM128 {
                for x in &mut v1 {
                    *x *= E128;
                }
                expnt -= 128;
            }
            v1s = v0s + j1 - k1;
        }
    }
    let Some(&first) = usize::try_from(ni - v1s).ok().and_then(|k| v1.get(k)) else {
        return f64::NAN;
    };
    let mut ans = first;
    for m in 1..=n {
        if ans.abs() > E128 {
            ans *= EM128;
            expnt += 128;
        }
        ans *= m as f64;
    }
    if expnt != 0 {
        ans = ldexp(ans, expnt);
    }
    clip(ans)
}

/// The full discrete convolution of `a` and `b` (`np.convolve(a, b)`).
fn convolve(a: &[f64], b: &[f64]) -> Vec<f64> {
    if a.is_empty() || b.is_empty() {
        return Vec::new();
    }
    let mut out = vec![0.0; a.len() + b.len() - 1];
    for (i, &x) in a.iter().enumerate() {
        for (j, &y) in b.iter().enumerate() {
            out[i + j] += x * y;
        }
    }
    out
}

/// The Pelz–Good approximation of `P(D_n <= x)` (scipy's `_kolmogn_PelzGood`).
fn pelz_good_cdf(n: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let pi2 = PI.powi(2);
    let pi4 = PI.powi(4);
    let pi6 = PI.powi(6);
    let z = n.sqrt() * x;
    let (zsquared, zthree, zfour, zsix) = (z.powf(2.0), z.powf(3.0), z.powf(4.0), z.powf(6.0));
    let qlog = -pi2 / 8.0 / zsquared;
    if qlog < MIN_LOG {
        return 0.0;
    }
    let q = qlog.exp();
    let k1a = -zsquared;
    let k1b = pi2 / 4.0;
    let k2a = 6.0 * zsix + 2.0 * zfour;
    let k2b = (2.0 * zfour - 5.0 * zsquared) * pi2 / 4.0;
    let k2c = pi4 * (1.0 - 2.0 * zsquared) / 16.0;
    let k3d = pi6 * (5.0 - 30.0 * zsquared) / 64.0;
    let k3c = pi4 * (-60.0 * zsquared + 212.0 * zfour) / 16.0;
    let k3b = pi2 * (135.0 * zfour - 96.0 * zsix) / 4.0;
    let k3a = -30.0 * zsix - 90.0 * z.powf(8.0);
    let mut k = [0.0f64; 4];
    let maxk = (16.0 * z / PI).ceil() as i64;
    for kk in (1..=maxk).rev() {
        let m = (2 * kk - 1) as f64;
        let (msquared, mfour, msix) = (m * m, m.powi(4), m.powi(6));
        let qpower = q.powf((8 * kk) as f64);
        let coeffs = [
            1.0,
            k1a + k1b * msquared,
            k2a + k2b * msquared + k2c * mfour,
            k3a + k3b * msquared + k3c * mfour + k3d * msix,
        ];
        for (kv, c) in k.iter_mut().zip(coeffs) {
            *kv = *kv * qpower + c;
        }
    }
    let divisors = [z, 6.0 * zfour, 72.0 * z.powf(7.0), 6480.0 * z.powf(10.0)];
    for (kv, d) in k.iter_mut().zip(divisors) {
        *kv = *kv * q * SQRT2PI / d;
    }
    let q = (-pi2 / 2.0 / zsquared).exp();
    let sqrt3z = 3f64.sqrt() * z;
    let (mut k2extra, mut k3extra) = (0.0, 0.0);
    for kk in (1..=maxk).rev() {
        let ksquared = (kk * kk) as f64;
        let qpwer = q.powf(ksquared);
        let kspi = PI * kk as f64;
        k2extra += ksquared * qpwer;
        k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * ksquared * qpwer;
    }
    k[2] += k2extra * (pi2 * SQRT2PI / (-36.0 * zthree));
    k[3] += k3extra * (pi2 * SQRT2PI / (216.0 * zsix));
    for (i, kv) in k.iter_mut().enumerate() {
        *kv /= n.powf(i as f64 / 2.0);
    }
    k.iter().sum()
}

/// The one-sided Smirnov tail `P(D_n^+ >= x)` (cephes' `smirnov(n, x)`), for `0 < x < 1`:
/// `x · Σ_v C(n, v) (x + v/n)^(v-1) (1 - x - v/n)^(n-v)` over `v < n(1 - x)`.
fn smirnov_sf(n: u64, x: f64) -> f64 {
    if !(0.0..=1.0).contains(&x) || n == 0 {
        return f64::NAN;
    }
    if n == 1 {
        return 1.0 - x;
    }
    if x == 0.0 {
        return 1.0;
    }
    if x == 1.0 {
        return 0.0;
    }
    let nf = n as f64;
    // floor(n·x) and its remainder, exactly (cephes does this in double-double).
    let hi = nf * x;
    let lo = nf.mul_add(x, -hi);
    let mut nxfl = hi.floor();
    if hi == nxfl && lo < 0.0 {
        nxfl -= 1.0;
    }
    let mut alpha = (hi - nxfl) + lo;
    if alpha >= 1.0 {
        nxfl += 1.0;
        alpha = 0.0;
    }
    let nxfl = nxfl as u64;
    if nxfl == 0 || (nxfl == 1 && alpha == 0.0) {
        // x <= 1/n.
        let t = ((nf - 1.0) * x.ln_1p()).exp();
        return 1.0 - x * t;
    }
    if -2.0 * nf * x * x < CEPHES_MINLOG {
        return 0.0;
    }
    if nxfl >= n - 1 {
        return (nf * (-x).ln_1p()).exp();
    }
    if n > 1_000_000 {
        let logp = -(6.0 * nf * x + 1.0).powi(2) / 18.0 / nf;
        return if logp < -std::f64::consts::LN_2 {
            logp.exp()
        } else {
            1.0 + logp.exp_m1()
        };
    }
    // The terms v = 0 … n - nxfl - 1 (v < n(1 - x)), summed until the rest cannot matter.
    let n_terms = n - nxfl;
    let vmid = n / 2;
    // C(n, v) as mantissa · 2^exponent.
    let (mut c_man, mut c_exp) = (1.0f64, 0i64);
    let mut sum = (nf * (-x).ln_1p()).exp() / x;
    let mut compensation = 0.0;
    let update = |c_man: &mut f64, c_exp: &mut i64, j: u64| {
        *c_man *= (n - j) as f64 / (j + 1) as f64;
        let (man, e) = frexp(*c_man);
        *c_man = man;
        *c_exp += e;
    };
    update(&mut c_man, &mut c_exp, 0);
    for v in 1..n_terms {
        let s = x + v as f64 / nf;
        let log_term = c_man.ln()
            + c_exp as f64 * std::f64::consts::LN_2
            + (n - v) as f64 * (-s).ln_1p()
            + (v - 1) as f64 * s.ln();
        let term = log_term.exp();
        if term.is_finite() && term != 0.0 {
            // Neumaier summation: the terms are positive and many.
            let t = sum + term;
            compensation += if sum >= term {
                (sum - t) + term
            } else {
                (term - t) + sum
            };
            sum = t;
            if 4.0 * (n_terms - v) as f64 * term < f64::EPSILON * (sum + compensation)
                && v != n_terms - 1
            {
                break;
            }
        } else if v > vmid {
            break;
        }
        update(&mut c_man, &mut c_exp, v);
    }
    clip(x * (sum + compensation))
}

/// `x = man · 2^exp` with `0.5 <= |man| < 1` (C's `frexp`), for finite non-zero `x`.
fn frexp(x: f64) -> (f64, i64) {
    if x == 0.0 || !x.is_finite() {
        return (x, 0);
    }
    let bits = x.to_bits();
    let raw = ((bits >> 52) & 0x7ff) as i64;
    if raw == 0 {
        // Subnormal: scale into the normal range first.
        let (man, e) = frexp(x * 2f64.powi(64));
        return (man, e - 64);
    }
    let e = raw - 1022;
    let man = f64::from_bits((bits & !(0x7ff << 52)) | (1022 << 52));
    (man, e)
}

#[cfg(test)]
pub(crate) fn smirnov_for_tests(n: u64, x: f64) -> f64 {
    smirnov_sf(n, x)
}
