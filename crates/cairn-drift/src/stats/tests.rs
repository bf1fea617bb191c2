//! The statistics against values computed independently: by formula on small hand-made
//! samples, and by scipy 1.17.1 / numpy 2.4.6 on larger seeded samples. The samples are drawn
//! here and in the script below by the same generator (`cairn_core::rng::Rng`, SplitMix64,
//! ported to Python), with arithmetic only (no logarithms or cosines whose last bit could
//! differ between the two languages), so both sides hold the same numbers. Tolerance: 1e-9,
//! relative (so a p-value of 1e-22 is checked to 1e-31; a value of 0 must be 0).
//!
//! The script that printed the expected values (run with scipy and numpy installed):
//!
//! ```python
//! # Expected values for crates/cairn-drift/src/stats/tests.rs (scipy 1.17.1, numpy 2.4.6).
//! import math
//! import numpy as np
//! from scipy import stats, special
//! from scipy.spatial import distance
//!
//! M = (1 << 64) - 1
//!
//! class Rng:  # cairn_core::rng::Rng (SplitMix64)
//!     def __init__(self, seed): self.s = seed & M
//!     def next_u64(self):
//!         self.s = (self.s + 0x9E3779B97F4A7C15) & M
//!         z = self.s
//!         z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
//!         z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
//!         return z ^ (z >> 31)
//!     def unit(self): return (self.next_u64() >> 11) * 2.0 ** -53
//!
//! def bell(seed, n, loc, scale):  # four uniforms summed and centred: exact in both languages
//!     r = Rng(seed)
//!     return np.array([loc + scale * (r.unit() + r.unit() + r.unit() + r.unit() - 2.0) for _ in range(n)])
//!
//! def steps(seed, n, k):  # whole numbers 0 .. k-1
//!     r = Rng(seed)
//!     return np.array([float(math.floor(r.unit() * k)) for _ in range(n)])
//!
//! def f(x): return repr(float(x))
//!
//! print("// KS: (case, statistic, p-value)")
//! ks_cases = [
//!     ("equal", bell(1, 60, 0.0, 1.0), bell(2, 60, 0.3, 1.0)),
//!     ("unequal", bell(3, 300, 0.0, 1.0), bell(4, 200, 0.1, 1.0)),
//!     ("ties", steps(5, 500, 8), steps(6, 700, 8)),
//!     ("large_m_small_n", bell(7, 20000, 0.0, 1.0), bell(8, 120, 0.25, 1.0)),
//!     ("both_large_shift", bell(9, 12000, 0.0, 1.0), bell(10, 11000, 0.03, 1.0)),
//!     ("both_large_same", bell(11, 15000, 0.0, 1.0), bell(12, 15000, 0.0, 1.0)),
//!     ("both_large_far", bell(13, 10001, 0.0, 1.0), bell(14, 10500, 0.5, 1.0)),
//! ]
//! for name, a, b in ks_cases:
//!     r = stats.ks_2samp(a, b, method="auto")
//!     print(f'("{name}", {f(r.statistic)}, {f(r.pvalue)}),')
//!
//! print("// kstwo.sf(x, n): (n, x, sf)")
//! for n in [1, 2, 5, 10, 50, 100, 140, 141, 500, 1000, 5000, 20000, 100000, 100001, 300000, 2000000]:
//!     for x in [0.3 / n, 0.75 / n, 1.5 / n, 0.5 / math.sqrt(n), 0.8 / math.sqrt(n), 1.2 / math.sqrt(n), 1.7 / math.sqrt(n), 2.5 / math.sqrt(n), 5.0 / math.sqrt(n), 0.3, 0.6, 1 - 1.5 / n]:
//!         if 0 < x < 1:
//!             print(f"({n}, {f(x)}, {f(stats.kstwo.sf(x, n))}),")
//!
//! print("// smirnov(n, x): (n, x, sf)")
//! for n, x in [(2, 0.3), (10, 0.05), (10, 0.25), (100, 0.2), (140, 0.25), (1000, 0.06), (5739, 0.03), (50000, 0.01), (200000, 0.004), (3000000, 0.001)]:
//!     print(f"({n}, {f(x)}, {f(special.smirnov(n, x))}),")
//!
//! print("// wasserstein, std of a, normalised")
//! for name, a, b in [("bell", bell(21, 1000, 0.0, 2.0), bell(22, 800, 0.4, 2.5)), ("steps", steps(23, 400, 5), steps(24, 300, 6))]:
//!     w = stats.wasserstein_distance(a, b)
//!     s = np.std(a)
//!     print(f'("{name}", {f(w)}, {f(s)}, {f(w / max(s, 0.001))}),')
//!
//! def fill(p):
//!     p = p.copy()
//!     nz = p[p != 0]
//!     m = nz.min()
//!     np.place(p, p == 0, m / 10**6 if m <= 0.0001 else 0.0001)
//!     return p
//!
//! def quantile_bins(a, b):
//!     a = np.sort(a); b = np.sort(b)
//!     edges = np.unique(np.quantile(a, [i / 10 for i in range(1, 10)]))
//!     ra = np.diff(np.concatenate([[0], np.searchsorted(a, edges, side="right"), [len(a)]]))
//!     rb = np.diff(np.concatenate([[0], np.searchsorted(b, edges, side="right"), [len(b)]]))
//!     return edges, ra / len(a), rb / len(b)
//!
//! print("// reference-decile bins: psi, jensenshannon, kl")
//! for name, a, b in [("bell", bell(31, 2000, 0.0, 1.0), bell(32, 1500, 0.2, 1.3)), ("shifted", bell(33, 1000, 0.0, 1.0), bell(34, 1000, 3.0, 1.0))]:
//!     edges, r, c = quantile_bins(a, b)
//!     psi = np.sum((fill(r) - fill(c)) * np.log(fill(r) / fill(c)))
//!     js = distance.jensenshannon(r, c)
//!     kl = stats.entropy(fill(r), fill(c))
//!     print(f'("{name}", {f(psi)}, {f(js)}, {f(kl)}),  // edges {list(map(float, edges))[:3]}...')
//!
//! print("// counts: chisquare (goodness of fit), chi2_contingency, z")
//! for name, ref, cur in [("three", [120, 300, 80], [100, 260, 140]), ("two", [400, 600], [380, 520]), ("four", [10, 20, 30, 40], [12, 18, 35, 25])]:
//!     ref = np.array(ref); cur = np.array(cur)
//!     e = ref * (cur.sum() / ref.sum())
//!     gof = stats.chisquare(cur, e)
//!     con = stats.chi2_contingency(np.array([ref, cur]))
//!     n1, n2 = ref.sum(), cur.sum()
//!     p1 = (n1 - ref[0]) / n1; p2 = (n2 - cur[0]) / n2
//!     P = (p1 * n1 + p2 * n2) / (n1 + n2)
//!     z = (p1 - p2) / np.sqrt(P * (1 - P) * (1 / n1 + 1 / n2))
//!     pz = 2 * stats.norm.sf(abs(z))
//!     print(f'("{name}", {f(gof.statistic)}, {f(gof.pvalue)}, {f(con.statistic)}, {f(con.pvalue)}, {f(z)}, {f(pz)}),')
//!     jr = ref / ref.sum(); jc = cur / cur.sum()
//!     print(f'//   js {f(distance.jensenshannon(jr, jc))} psi {f(np.sum((fill(jr) - fill(jc)) * np.log(fill(jr) / fill(jc))))} kl {f(stats.entropy(fill(jr), fill(jc)))}')
//! ```

use cairn_core::rng::Rng;

use super::counts::{chi2_contingency, chi2_sf, chisquare, normal_two_sided, z_test};
use super::distance::{
    bin_counts, jensen_shannon, kl_divergence, mean_std, proportions, psi, quantile, wasserstein,
};
use super::ks::ks_2samp;
use super::kstwo;

const TOLERANCE: f64 = 1e-9;

#[track_caller]
fn close(got: f64, want: f64, what: &str) {
    let scale = want.abs();
    assert!(
        (got - want).abs() <= TOLERANCE * scale,
        "{what}: got {got:e}, want {want:e} (difference {:e})",
        (got - want).abs()
    );
}

fn unit(rng: &mut Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 * 2f64.powi(-53)
}

/// The script's `bell`: four uniforms summed and centred, scaled and shifted.
fn bell(seed: u64, n: usize, loc: f64, scale: f64) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| {
            let s = unit(&mut rng) + unit(&mut rng) + unit(&mut rng) + unit(&mut rng) - 2.0;
            loc + scale * s
        })
        .collect()
}

/// The script's `steps`: whole numbers 0 … k-1.
fn steps(seed: u64, n: usize, k: u64) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| (unit(&mut rng) * k as f64).floor())
        .collect()
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

#[test]
fn ks_by_formula() {
    // Disjoint samples of 3: D = 1, and 2 of the C(6, 3) = 20 orderings are that extreme.
    let r = ks_2samp(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]);
    assert_eq!(r.statistic, 1.0);
    close(r.p_value, 0.1, "disjoint p");
    assert!(r.exact);
    let r = ks_2samp(&[1.0, 2.0, 3.0, 4.0], &[1.0, 2.0, 3.0, 4.0]);
    assert_eq!((r.statistic, r.p_value), (0.0, 1.0));
    // F_a - F_b at 1, 2, 3: 1/2 - 0, 1 - 1/2, 1 - 1.
    let r = ks_2samp(&[1.0, 2.0], &[2.0, 3.0]);
    assert_eq!(r.statistic, 0.5);
}

#[test]
fn ks_matches_scipy_exact_and_asymptotic() {
    let cases: Vec<(&str, Vec<f64>, Vec<f64>)> = vec![
        ("equal", bell(1, 60, 0.0, 1.0), bell(2, 60, 0.3, 1.0)),
        ("unequal", bell(3, 300, 0.0, 1.0), bell(4, 200, 0.1, 1.0)),
        ("ties", steps(5, 500, 8), steps(6, 700, 8)),
        (
            "large_m_small_n",
            bell(7, 20000, 0.0, 1.0),
            bell(8, 120, 0.25, 1.0),
        ),
        (
            "both_large_shift",
            bell(9, 12000, 0.0, 1.0),
            bell(10, 11000, 0.03, 1.0),
        ),
        (
            "both_large_same",
            bell(11, 15000, 0.0, 1.0),
            bell(12, 15000, 0.0, 1.0),
        ),
        (
            "both_large_far",
            bell(13, 10001, 0.0, 1.0),
            bell(14, 10500, 0.5, 1.0),
        ),
    ];
    let expected = [
        ("equal", 0.3333333333333333, 0.0023714114020391003),
        ("unequal", 0.14666666666666667, 0.010600491354394916),
        ("ties", 0.030285714285714287, 0.943986008064994),
        (
            "large_m_small_n",
            0.21459999999999996,
            2.7357786127735034e-05,
        ),
        (
            "both_large_shift",
            0.023886363636363594,
            0.002816597979619055,
        ),
        ("both_large_same", 0.01206666666666667, 0.22304919058240646),
        ("both_large_far", 0.31050203551073463, 0.0),
    ];
    for ((name, a, b), (want_name, statistic, p)) in cases.into_iter().zip(expected) {
        assert_eq!(name, want_name);
        let (a, b) = (sorted(a), sorted(b));
        let r = ks_2samp(&a, &b);
        close(r.statistic, statistic, &format!("{name} statistic"));
        close(r.p_value, p, &format!("{name} p-value"));
        assert_eq!(r.exact, a.len().max(b.len()) <= 10_000, "{name}");
    }
}

#[test]
fn kstwo_matches_scipy_on_every_branch() {
    // Ruben–Gambino (x <= 1/n and x >= 1 - 1/n), Durbin's matrix, Pomeranz, Pelz–Good and
    // twice the Smirnov tail, for n on both sides of scipy's switch points (140, 100,000).
    let expected: [(u64, f64, f64); 180] = [
        (1, 0.3, 1.0),
        (1, 0.75, 0.5),
        (1, 0.5, 1.0),
        (1, 0.8, 0.3999999999999999),
        (1, 0.3, 1.0),
        (1, 0.6, 0.8),
        (2, 0.15, 1.0),
        (2, 0.375, 0.875),
        (2, 0.75, 0.125),
        (2, 0.35355339059327373, 0.9142135623730951),
        (2, 0.565685424949238, 0.37725830020304796),
        (2, 0.8485281374238569, 0.045887450304571954),
        (2, 0.3, 0.98),
        (2, 0.6, 0.32000000000000006),
        (2, 0.25, 1.0),
        (5, 0.06, 1.0),
        (5, 0.15, 0.9988),
        (5, 0.3, 0.664),
        (5, 0.22360679774997896, 0.9162082822963654),
        (5, 0.35777087639996635, 0.4415172023820515),
        (5, 0.5366563145999494, 0.07107678230606948),
        (5, 0.7602631123499285, 0.0016027701604897995),
        (5, 0.3, 0.664),
        (5, 0.6, 0.03008000000000001),
        (5, 0.7, 0.005560000000000004),
        (10, 0.03, 1.0),
        (10, 0.075, 0.999999645625),
        (10, 0.15, 0.95396527),
        (10, 0.15811388300841897, 0.9316945195670987),
        (10, 0.25298221281347033, 0.46922582172431215),
        (10, 0.3794733192202055, 0.08380667350243654),
        (10, 0.5375872022286244, 0.003136788699964629),
        (10, 0.7905694150420948, 3.602427284663163e-07),
        (10, 0.3, 0.27053557479999946),
        (10, 0.6, 0.0005681672000000003),
        (10, 0.85, 1.1566210937500017e-08),
        (50, 0.006, 1.0),
        (50, 0.015, 1.0),
        (50, 0.03, 0.9999999991521389),
        (50, 0.07071067811865475, 0.9487944875162981),
        (50, 0.1131370849898476, 0.5081313822203297),
        (50, 0.1697056274847714, 0.09960275827669895),
        (50, 0.24041630560342614, 0.004992818074665117),
        (50, 0.35355339059327373, 4.2690060009890896e-06),
        (50, 0.7071067811865475, 1.100575359463242e-25),
        (50, 0.3, 0.00017353260202718738),
        (50, 0.6, 9.634070456142374e-18),
        (50, 0.97, 1.4357959753837688e-76),
        (100, 0.003, 1.0),
        (100, 0.0075, 1.0),
        (100, 0.015, 1.0),
        (100, 0.05, 0.9532159710635725),
        (100, 0.08, 0.5182193645480672),
        (100, 0.12, 0.1033037490181987),
        (100, 0.16999999999999998, 0.005376406596376887),
        (100, 0.25, 5.408871776434847e-06),
        (100, 0.5, 1.2131434371817858e-23),
        (100, 0.3, 1.7719869892662917e-08),
        (100, 0.6, 5.912822156396238e-35),
        (100, 0.985, 8.131223550705027e-183),
        (140, 0.002142857142857143, 1.0),
        (140, 0.005357142857142857, 1.0),
        (140, 0.010714285714285714, 1.0),
        (140, 0.042257712736425826, 0.9548772475800795),
        (140, 0.06761234037828133, 0.522084041434605),
        (140, 0.10141851056742199, 0.10468682507194148),
        (140, 0.1436762233038478, 0.005512649956895624),
        (140, 0.21128856368212914, 5.807997673785573e-06),
        (140, 0.4225771273642583, 3.4655579885233975e-23),
        (140, 0.3, 1.1370251710737309e-11),
        (140, 0.6, 1.0052268370224967e-48),
        (140, 0.9892857142857143, 3.132429234392794e-276),
        (141, 0.002127659574468085, 1.0),
        (141, 0.005319148936170213, 1.0),
        (141, 0.010638297872340425, 1.0),
        (141, 0.04210759605332595, 0.9549094893418928),
        (141, 0.06737215368532153, 0.5221577963245764),
        (141, 0.10105823052798227, 0.10471366448734887),
        (141, 0.14316582658130822, 0.005515250960112069),
        (141, 0.21053798026662973, 5.81552565761188e-06),
        (141, 0.42107596053325946, 3.5279048855551754e-23),
        (141, 0.3, 9.46134771413843e-12),
        (141, 0.6, 4.550154415759682e-49),
        (141, 0.9893617021276596, 1.2302762440585609e-278),
        (500, 0.0006, 1.0),
        (500, 0.0015, 1.0),
        (500, 0.003, 1.0),
        (500, 0.022360679774997897, 0.959154992904892),
        (500, 0.03577708763999664, 0.5322609545817769),
        (500, 0.05366563145999495, 0.10824335474199998),
        (500, 0.07602631123499284, 0.005843134555528614),
        (500, 0.11180339887498948, 6.715937887322478e-06),
        (500, 0.22360679774997896, 1.9166940156188108e-22),
        (500, 0.3, 2.0976835679070943e-40),
        (500, 0.6, 1.1934763993433721e-172),
        (500, 0.997, 0.0),
        (1000, 0.0003, 1.0),
        (1000, 0.00075, 1.0),
        (1000, 0.0015, 1.0),
        (1000, 0.015811388300841896, 0.9605616144751687),
        (1000, 0.025298221281347035, 0.5356909657557909),
        (1000, 0.03794733192202055, 0.10941541429803348),
        (1000, 0.05375872022286245, 0.005945313946545005),
        (1000, 0.07905694150420949, 6.967265066703322e-06),
        (1000, 0.15811388300841897, 2.647229538840343e-22),
        (1000, 0.3, 2.590715705736845e-80),
        (1000, 0.6, 0.0),
        (1000, 0.9985, 0.0),
        (5000, 5.9999999999999995e-05, 1.0),
        (5000, 0.00015, 1.0),
        (5000, 0.0003, 1.0),
        (5000, 0.007071067811865475, 0.9624348682860043),
        (5000, 0.01131370849898476, 0.5403324616290442),
        (5000, 0.01697056274847714, 0.11098122447398728),
        (5000, 0.024041630560342614, 0.006076242282896832),
        (5000, 0.035355339059327376, 7.258404360512366e-06),
        (5000, 0.07071067811865475, 3.488001020816532e-22),
        (5000, 0.3, 0.0),
        (5000, 0.6, 0.0),
        (5000, 0.9997, 0.0),
        (20000, 1.4999999999999999e-05, 1.0),
        (20000, 3.75e-05, 1.0),
        (20000, 7.5e-05, 1.0),
        (20000, 0.0035355339059327377, 0.9631907398702761),
        (20000, 0.00565685424949238, 0.5422312148794965),
        (20000, 0.00848528137423857, 0.11161523991820543),
        (20000, 0.012020815280171307, 0.006127377658907477),
        (20000, 0.017677669529663688, 7.360605671048207e-06),
        (20000, 0.035355339059327376, 3.7176711414639685e-22),
        (20000, 0.3, 0.0),
        (20000, 0.6, 0.0),
        (20000, 0.999925, 0.0),
        (100000, 3e-06, 1.0),
        (100000, 7.5e-06, 1.0),
        (100000, 1.5e-05, 1.0),
        (100000, 0.0015811388300841895, 0.963608000716019),
        (100000, 0.0025298221281347035, 0.5432861510901741),
        (100000, 0.003794733192202055, 0.11196588953063102),
        (100000, 0.005375872022286244, 0.006155181451523588),
        (100000, 0.007905694150420948, 7.413045381065036e-06),
        (100000, 0.015811388300841896, 3.8068818361729104e-22),
        (100000, 0.3, 0.0),
        (100000, 0.6, 0.0),
        (100000, 0.999985, 0.0),
        (100001, 2.9999700002999967e-06, 1.0),
        (100001, 7.499925000749993e-06, 1.0),
        (100001, 1.4999850001499985e-05, 1.0),
        (100001, 0.0015811309244493314, 0.9636080024029726),
        (100001, 0.0025298094791189303, 0.543286155365172),
        (100001, 0.003794714218678395, 0.11196589094928922),
        (100001, 0.0053758451431277264, 0.00615518156331792),
        (100001, 0.007905654622246657, 7.413045587236896e-06),
        (100001, 0.015811309244493314, 3.8068821384025157e-22),
        (100001, 0.3, 0.0),
        (100001, 0.6, 0.0),
        (100001, 0.9999850001499985, 0.0),
        (300000, 1e-06, 1.0),
        (300000, 2.5e-06, 1.0),
        (300000, 5e-06, 1.0),
        (300000, 0.0009128709291752768, 0.9637505733331867),
        (300000, 0.001460593486680443, 0.543647743015397),
        (300000, 0.0021908902300206644, 0.11208581723353461),
        (300000, 0.003103761159195941, 0.006164611932895916),
        (300000, 0.004564354645876384, 7.430299775078506e-06),
        (300000, 0.009128709291752768, 3.830687648489974e-22),
        (300000, 0.3, 0.0),
        (300000, 0.6, 0.0),
        (300000, 0.999995, 0.0),
        (2000000, 1.5e-07, 1.0),
        (2000000, 3.75e-07, 1.0),
        (2000000, 7.5e-07, 1.0),
        (2000000, 0.00035355339059327376, 0.9638698603320083),
        (2000000, 0.000565685424949238, 0.5439507278317917),
        (2000000, 0.000848528137423857, 0.11218620458207873),
        (2000000, 0.0012020815280171307, 0.006172482111144204),
        (2000000, 0.0017677669529663688, 7.444527505475718e-06),
        (2000000, 0.0035355339059327377, 3.8484180819124835e-22),
        (2000000, 0.3, 0.0),
        (2000000, 0.6, 0.0),
        (2000000, 0.99999925, 0.0),
    ];
    for (n, x, want) in expected {
        close(kstwo::sf(n as f64, x), want, &format!("kstwo.sf({x}, {n})"));
    }
}

#[test]
fn smirnov_matches_scipy() {
    let expected: [(u64, f64, f64); 10] = [
        (2, 0.3, 0.61),
        (10, 0.05, 0.9224335892010742),
        (10, 0.25, 0.24491372483398438),
        (100, 0.2, 0.0002775963664037337),
        (140, 0.25, 1.695786218535516e-08),
        (1000, 0.06, 0.0007142989439764456),
        (5739, 0.03, 3.193294906358001e-05),
        (50000, 0.01, 4.509024405921801e-05),
        (200000, 0.004, 0.0016571064112801276),
        (3000000, 0.001, 0.00247710018005445),
    ];
    for (n, x, want) in expected {
        close(
            kstwo::smirnov_for_tests(n, x),
            want,
            &format!("smirnov({n}, {x})"),
        );
    }
}

#[test]
fn wasserstein_by_formula_and_against_scipy() {
    // A shift by 5 moves all the mass by 5.
    assert_eq!(wasserstein(&[0.0, 1.0, 3.0], &[5.0, 6.0, 8.0]), 5.0);
    assert_eq!(wasserstein(&[1.0, 2.0], &[1.0, 2.0]), 0.0);
    // Half the mass moves from 0 to 1: 0.5.
    assert_eq!(wasserstein(&[0.0, 0.0], &[0.0, 1.0]), 0.5);
    let (mean, std) = mean_std(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
    assert_eq!((mean, std), (5.0, 2.0));
    let cases = [
        ("bell", bell(21, 1000, 0.0, 2.0), bell(22, 800, 0.4, 2.5)),
        ("steps", steps(23, 400, 5), steps(24, 300, 6)),
    ];
    let expected = [
        (
            "bell",
            0.4775424892043686,
            1.139361207088101,
            0.4191317786085047,
        ),
        (
            "steps",
            0.49916666666666665,
            1.3791278947218781,
            0.3619437099177311,
        ),
    ];
    for ((name, a, b), (want_name, w, s, normalised)) in cases.into_iter().zip(expected) {
        assert_eq!(name, want_name);
        let (a, b) = (sorted(a), sorted(b));
        let got = wasserstein(&a, &b);
        close(got, w, &format!("{name} distance"));
        close(mean_std(&a).1, s, &format!("{name} std"));
        close(
            got / mean_std(&a).1.max(0.001),
            normalised,
            &format!("{name} normalised"),
        );
    }
}

/// The shares of `a` and `b` in the bins of `a`'s deciles (as the script's `quantile_bins`).
fn decile_shares(a: &[f64], b: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let mut edges: Vec<f64> = (1..10).map(|i| quantile(a, f64::from(i) / 10.0)).collect();
    edges.dedup();
    (
        proportions(&bin_counts(a, &edges)),
        proportions(&bin_counts(b, &edges)),
    )
}

#[test]
fn binned_distances_by_formula_and_against_scipy() {
    close(psi(&[0.5, 0.5], &[0.25, 0.75]), 0.25 * 3f64.ln(), "psi");
    close(
        kl_divergence(&[0.5, 0.5], &[0.25, 0.75]),
        0.5 * (4.0f64 / 3.0).ln(),
        "kl",
    );
    close(
        jensen_shannon(&[1.0, 0.0], &[0.0, 1.0]),
        2f64.ln().sqrt(),
        "js disjoint",
    );
    assert_eq!(jensen_shannon(&[0.2, 0.8], &[0.2, 0.8]), 0.0);
    // An empty current bin counts as 0.0001: (0.5 - 0.0001) ln(0.5 / 0.0001) + (0.5 - 1) ln(0.5).
    close(
        psi(&[0.5, 0.5], &[0.0, 1.0]),
        (0.5 - 0.0001) * (0.5f64 / 0.0001).ln() + (0.5 - 1.0) * 0.5f64.ln(),
        "psi empty bin",
    );
    assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.5), 2.5);
    assert_eq!(
        bin_counts(&[1.0, 2.0, 2.0, 3.0, 9.0], &[2.0, 3.0]),
        [3, 1, 1]
    );
    let cases = [
        ("bell", bell(31, 2000, 0.0, 1.0), bell(32, 1500, 0.2, 1.3)),
        (
            "shifted",
            bell(33, 1000, 0.0, 1.0),
            bell(34, 1000, 3.0, 1.0),
        ),
    ];
    let expected = [
        (
            "bell",
            0.15407716396175303,
            0.13747383230406368,
            0.07154753399330355,
        ),
        (
            "shifted",
            8.283089355027482,
            0.7249809149335342,
            5.987620837027355,
        ),
    ];
    for ((name, a, b), (want_name, want_psi, want_js, want_kl)) in cases.into_iter().zip(expected) {
        assert_eq!(name, want_name);
        let (a, b) = (sorted(a), sorted(b));
        let (r, c) = decile_shares(&a, &b);
        close(psi(&r, &c), want_psi, &format!("{name} psi"));
        close(jensen_shannon(&r, &c), want_js, &format!("{name} js"));
        close(kl_divergence(&r, &c), want_kl, &format!("{name} kl"));
    }
}

#[test]
fn count_tests_by_formula() {
    // 50/50 expected, 30/70 observed: chi2 = 2 · 20² / 50 = 16 with 1 degree of freedom,
    // whose tail is erfc(sqrt(16 / 2)).
    let r = chisquare(&[50, 50], &[30, 70]);
    assert_eq!(r.statistic, Some(16.0));
    close(r.p_value, statrs::function::erf::erfc(8f64.sqrt()), "gof p");
    // The pooled share is 0.6: z = (0.5 - 0.7) / sqrt(0.24 · (1/100 + 1/100)).
    let r = z_test(&[50, 50], &[30, 70]);
    let z = -0.2 / (0.24f64 * 0.02).sqrt();
    close(r.statistic.unwrap(), z, "z");
    close(r.p_value, normal_two_sided(z), "z p");
    // A category the reference never saw: infinite statistic, p = 0.
    assert_eq!(
        chisquare(&[10, 0], &[9, 1]),
        super::counts::Tested {
            statistic: None,
            p_value: 0.0
        }
    );
    // One and the same category on both sides: nothing differs.
    assert_eq!(z_test(&[10, 0], &[4, 0]).p_value, 1.0);
    assert_eq!(chi2_sf(0.0, 3.0), 1.0);
    assert_eq!(chi2_sf(f64::INFINITY, 3.0), 0.0);
}

#[test]
fn count_tests_against_scipy() {
    let cases: [(&str, &[u64], &[u64]); 3] = [
        ("three", &[120, 300, 80], &[100, 260, 140]),
        ("two", &[400, 600], &[380, 520]),
        ("four", &[10, 20, 30, 40], &[12, 18, 35, 25]),
    ];
    let expected = [
        (
            "three",
            53.666666666666664,
            2.2204009386994905e-12,
            21.038961038961038,
            2.700521616073765e-05,
            -1.5267620413811498,
            0.12682019367748867,
        ),
        (
            "two",
            1.8518518518518519,
            0.1735681665559176,
            0.8769774496336982,
            0.3490308700886011,
            0.9831713821231624,
            0.3255230970232498,
        ),
        (
            "four",
            6.731481481481481,
            0.08096710982062347,
            3.6169386169386173,
            0.3059092623064505,
            0.716986237015233,
            0.4733825888909441,
        ),
    ];
    let shares = [
        (
            "three",
            0.10308503969695275,
            0.08589482431526278,
            0.040079153745285395,
        ),
        (
            "two",
            0.015968608533646043,
            0.002040167761180507,
            0.0010173082815979687,
        ),
        (
            "four",
            0.09803177361691066,
            0.07722455589670024,
            0.03923567954446022,
        ),
    ];
    for (((name, r, c), want), (_, js, want_psi, kl)) in cases.into_iter().zip(expected).zip(shares)
    {
        assert_eq!(name, want.0);
        let gof = chisquare(r, c);
        close(
            gof.statistic.unwrap(),
            want.1,
            &format!("{name} chisquare statistic"),
        );
        close(gof.p_value, want.2, &format!("{name} chisquare p"));
        let con = chi2_contingency(r, c);
        close(
            con.statistic.unwrap(),
            want.3,
            &format!("{name} contingency statistic"),
        );
        close(con.p_value, want.4, &format!("{name} contingency p"));
        let z = z_test(r, c);
        close(z.statistic.unwrap(), want.5, &format!("{name} z"));
        close(z.p_value, want.6, &format!("{name} z p"));
        let (rs, cs) = (proportions(r), proportions(c));
        close(jensen_shannon(&rs, &cs), js, &format!("{name} js"));
        close(psi(&rs, &cs), want_psi, &format!("{name} psi"));
        close(kl_divergence(&rs, &cs), kl, &format!("{name} kl"));
    }
}
