//! Logistic regression against known optima: scikit-learn's, and a zero gradient of the
//! objective computed here independently of the solver.

use cairn_core::rng::Rng;

use super::newton::Method;
use super::*;
use crate::test_util::{
    LOGIT_X, LOGIT_Y, MULTI_X, MULTI_Y, argmax, assert_close, matrix, probabilities,
};

/// The gradient of the summed log loss plus `alpha / 2 · ||w||²` at the model's parameters,
/// divided by the number of rows, computed row by row from the definition; its largest
/// component. At the optimum of this convex objective it is 0.
fn gradient_max(model: &LogisticRegression, x: &Matrix, y: &[u32], alpha: f64) -> f64 {
    let p = x.cols();
    let classes = model.classes();
    let functions = model.intercepts().len();
    let mut gradient = vec![0.0; functions * (p + 1)];
    for (i, &label) in y.iter().enumerate() {
        let row = x.row(i);
        let scores: Vec<f64> = (0..functions)
            .map(|f| {
                let w = &model.coefficients()[f * p..(f + 1) * p];
                w.iter().zip(&row).map(|(w, x)| w * x).sum::<f64>() + model.intercepts()[f]
            })
            .collect();
        // d loss / d score of each function.
        let residuals: Vec<f64> = if functions == 1 {
            let positive = f64::from(u8::from(label == classes[1]));
            vec![1.0 / (1.0 + (-scores[0]).exp()) - positive]
        } else {
            let total: f64 = scores.iter().map(|s| s.exp()).sum();
            (0..functions)
                .map(|f| scores[f].exp() / total - f64::from(u8::from(label == classes[f])))
                .collect()
        };
        for (f, r) in residuals.iter().enumerate() {
            for j in 0..p {
                gradient[f * (p + 1) + j] += r * row[j];
            }
            gradient[f * (p + 1) + p] += r;
        }
    }
    for f in 0..functions {
        for j in 0..p {
            gradient[f * (p + 1) + j] += alpha * model.coefficients()[f * p + j];
        }
    }
    gradient.iter().fold(0.0f64, |m, g| m.max(g.abs())) / x.rows as f64
}

fn fit(
    x: &Matrix,
    y: &[u32],
    n_classes: usize,
    alpha: f64,
) -> (LogisticRegression, LogisticReport) {
    LogisticRegression::fit_report(x, y, n_classes, &LogisticParams { alpha }).unwrap()
}

fn fit_by(
    method: Method,
    x: &Matrix,
    y: &[u32],
    n_classes: usize,
    alpha: f64,
) -> LogisticRegression {
    LogisticRegression::fit_with(x, y, n_classes, &LogisticParams { alpha }, Some(method))
        .unwrap()
        .0
}

/// `rows` rows: `numeric` standard-ish features, then a one-hot encoding of a category with
/// `levels` levels; labels from a noisy linear rule over `n_classes` classes.
fn generated(
    rows: usize,
    numeric: usize,
    levels: usize,
    n_classes: u32,
    seed: u64,
) -> (Matrix, Vec<u32>) {
    let mut rng = Rng::new(seed);
    let mut unit = move || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let mut columns = vec![Vec::with_capacity(rows); numeric + levels];
    let mut y = Vec::with_capacity(rows);
    for _ in 0..rows {
        let values: Vec<f64> = (0..numeric).map(|_| 4.0 * unit() - 2.0).collect();
        let level = ((unit() * levels as f64) as usize).min(levels.saturating_sub(1));
        // A score around 0, with noise so that no class is separable.
        let score = values
            .iter()
            .enumerate()
            .map(|(j, v)| v * (j as f64 - 0.7))
            .sum::<f64>()
            + if levels > 0 {
                level as f64 / levels as f64 - 0.5
            } else {
                0.0
            }
            + 1.5 * (unit() - 0.5);
        let label = ((score / 2.0 + 0.5) * f64::from(n_classes)).floor();
        y.push(label.clamp(0.0, f64::from(n_classes - 1)) as u32);
        for (j, v) in values.iter().enumerate() {
            columns[j].push(*v);
        }
        for l in 0..levels {
            columns[numeric + l].push(f64::from(u8::from(l == level)));
        }
    }
    (Matrix::new(columns), y)
}

/// scikit-learn `LogisticRegression(C=1.0, tol=1e-12)`: P(class 1) of the rows of LOGIT_X.
#[rustfmt::skip]
const LOGIT_SKLEARN_P1: [[f64; 4]; 5] = [
    [0.11371920690036301, 0.8694922666580343, 0.5531212388687375, 0.6259503059429081],
    [0.9619851761418388, 0.8453685450821792, 0.6820956494734695, 0.22167564298184475],
    [0.7338313980315082, 0.21117086297657894, 0.722062599100968, 0.7676833552564907],
    [0.23334199520281862, 0.721822317424807, 0.12986220632962725, 0.7591909747141823],
    [0.17370907548226525, 0.7379001921908622, 0.2636166931822511, 0.6724003430924951],
];

#[test]
fn binary_is_a_sigmoid_at_sklearns_optimum() {
    let x = matrix(&LOGIT_X);
    let (model, report) = fit(&x, &LOGIT_Y, 2, 1.0);
    assert_eq!(report.stop, Stop::Converged);
    assert!(report.iterations <= 10, "{report:?}");
    assert!(report.gradient <= LogisticReport::TOLERANCE);
    let (w, b) = (model.coefficients(), model.intercepts());
    assert_eq!((w.len(), b.len()), (2, 1));
    let proba = probabilities(2, 20, |i, out| model.predict_proba_into(&x.row(i), out));
    for (i, row) in LOGIT_X.iter().enumerate() {
        let z = w[0] * row[0] + w[1] * row[1] + b[0];
        let p1 = 1.0 / (1.0 + (-z).exp());
        assert_close(&proba[2 * i..2 * i + 2], &[1.0 - p1, p1], 1e-12, "sigmoid");
    }
    // scikit-learn 1.9.1 LogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-14)
    // (newton-cg agrees to 1e-15): C = 1 / alpha.
    assert_close(w, &[0.7426448389950683, -1.74696278588682], 1e-9, "coef");
    assert_close(b, &[-0.9069592944076609], 1e-9, "intercept");
    let p1: Vec<f64> = proba.chunks(2).map(|r| r[1]).collect();
    assert_close(&p1, &LOGIT_SKLEARN_P1.concat(), 1e-7, "P(class 1)");
    assert!(gradient_max(&model, &x, &LOGIT_Y, 1.0) < 1e-8);
}

/// scikit-learn `LogisticRegression(C=0.5)` (multinomial) probabilities of the rows of MULTI_X.
#[rustfmt::skip]
const MULTI_SKLEARN: [[f64; 3]; 24] = [
    [0.7324125471181214, 0.1166192117070613, 0.1509682411748174],
    [0.8852617890035959, 0.06635774165943471, 0.04838046933696945],
    [0.8831587896373393, 0.1030397127975571, 0.013801497565103607],
    [0.7557349201577911, 0.2008079351591096, 0.043457144683099296],
    [0.8302419599708382, 0.14611103063019928, 0.023647009398962637],
    [0.5085752998594861, 0.39272721022999374, 0.09869748991052014],
    [0.7545442090914691, 0.12073325301194374, 0.1247225378965871],
    [0.22634133904496068, 0.46383163824409784, 0.3098270227109415],
    [0.264131167085575, 0.2851530888766325, 0.4507157440377926],
    [0.10976815174062522, 0.8348941983718111, 0.055337649887563685],
    [0.13746518600006938, 0.3865056189088293, 0.4760291950911012],
    [0.2946240945782975, 0.385176338679069, 0.32019956674263356],
    [0.10802676850166927, 0.8865460050326208, 0.005427226465709957],
    [0.4204072076208939, 0.5538740130570146, 0.02571877932209172],
    [0.042378252109170844, 0.6830636916233253, 0.27455805626750374],
    [0.05203179796434635, 0.945753137650151, 0.0022150643855027175],
    [0.05206366755178754, 0.06334812729596234, 0.8845882051522501],
    [0.03127273467174213, 0.48063563187235797, 0.48809163345589984],
    [0.09611167530682604, 0.07326039942804595, 0.8306279252651281],
    [0.1482547014940267, 0.20622981306731192, 0.6455154854386613],
    [0.08461880907303651, 0.06926472078566127, 0.8461164701413023],
    [0.11432394284897941, 0.25635502088931694, 0.6293210362617037],
    [0.4446417963445351, 0.23505120712543554, 0.32030699653002936],
    [0.02360920546335586, 0.04466123470719378, 0.9317295598294505],
];

#[test]
fn multiclass_is_a_softmax_at_sklearns_multinomial_optimum() {
    let x = matrix(&MULTI_X);
    let (model, report) = fit(&x, &MULTI_Y, 3, 2.0);
    assert_eq!(report.stop, Stop::Converged);
    let (w, b) = (model.coefficients(), model.intercepts());
    assert_eq!((w.len(), b.len()), (6, 3));
    let proba = probabilities(3, 24, |i, out| model.predict_proba_into(&x.row(i), out));
    for (i, row) in MULTI_X.iter().enumerate() {
        let scores: Vec<f64> = (0..3)
            .map(|c| w[2 * c] * row[0] + w[2 * c + 1] * row[1] + b[c])
            .collect();
        let exps: Vec<f64> = scores.iter().map(|s| s.exp()).collect();
        let total: f64 = exps.iter().sum();
        let expected: Vec<f64> = exps.iter().map(|e| e / total).collect();
        assert_close(&proba[3 * i..3 * i + 3], &expected, 1e-12, "softmax");
    }
    // scikit-learn 1.9.1 LogisticRegression(C=0.5, solver="newton-cholesky", tol=1e-14):
    // the intercepts and each feature's weights sum to 0 over the classes, as here.
    #[rustfmt::skip]
    let coef = [
        -0.5292278001063008, -0.8384257527952794,
        0.8703423756472983, -0.12250058474995137,
        -0.34111457554099717, 0.9609263375452319,
    ];
    assert_close(w, &coef, 1e-9, "coef");
    let intercepts = [
        1.6040770900411483,
        -0.41259930076159357,
        -1.1914777892795552,
    ];
    assert_close(b, &intercepts, 1e-9, "intercepts");
    // LogisticRegression(C=0.5) with its default solver (lbfgs, tol 1e-4).
    assert_close(&proba, &MULTI_SKLEARN.concat(), 1e-6, "proba vs sklearn");
    assert!(gradient_max(&model, &x, &MULTI_Y, 2.0) < 1e-8);
}

#[test]
fn both_ways_of_solving_the_newton_system_reach_the_same_optimum() {
    // LOGIT_X is separable without a penalty; the generated data is not.
    let (gx2, gy2) = generated(300, 3, 0, 2, 3);
    let (gx3, gy3) = generated(300, 3, 0, 3, 4);
    for (x, y, n_classes, alphas) in [
        (matrix(&LOGIT_X), &LOGIT_Y[..], 2, &[0.3, 5.0][..]),
        (matrix(&MULTI_X), &MULTI_Y[..], 3, &[0.0, 0.3, 5.0][..]),
        (gx2, &gy2[..], 2, &[0.0, 1.0][..]),
        (gx3, &gy3[..], 3, &[0.0, 1.0][..]),
    ] {
        for &alpha in alphas {
            let direct = fit_by(Method::Direct, &x, y, n_classes, alpha);
            let iterative = fit_by(Method::Iterative, &x, y, n_classes, alpha);
            let what = format!("{n_classes} classes, alpha {alpha}");
            // Both stop at a gradient within 1e-8 per row, which pins the coefficients to
            // about 1e-6 on these few rows without a penalty (the direct solve, converging
            // quadratically, usually lands far closer).
            assert_close(direct.coefficients(), iterative.coefficients(), 1e-5, &what);
            assert_close(direct.intercepts(), iterative.intercepts(), 1e-5, &what);
            assert!(gradient_max(&direct, &x, y, alpha) < 1e-8, "{what}");
            assert!(gradient_max(&iterative, &x, y, alpha) < 1e-8, "{what}");
        }
    }
}

#[test]
fn separable_data_gives_finite_coefficients() {
    // Class 1 exactly where x0 + x1 > 0.5.
    let x = matrix(&LOGIT_X);
    let y: Vec<u32> = LOGIT_X
        .iter()
        .map(|r| u32::from(r[0] + r[1] > 0.5))
        .collect();
    // With a penalty the optimum exists: the solver reaches it.
    let (model, report) = fit(&x, &y, 2, 1.0);
    assert_eq!(report.stop, Stop::Converged);
    assert!(gradient_max(&model, &x, &y, 1.0) < 1e-8);
    // Without, the loss only approaches 0 as the weights grow: the solver stops once the
    // gradient is within tolerance, every training row on its side with near certainty.
    for method in [Method::Direct, Method::Iterative] {
        let (model, report) =
            LogisticRegression::fit_with(&x, &y, 2, &LogisticParams::default(), Some(method))
                .unwrap();
        assert!(model.coefficients().iter().all(|w| w.is_finite()));
        assert!(
            report.iterations < LogisticReport::MAX_ITERATIONS,
            "{report:?}"
        );
        let proba = probabilities(2, 20, |i, out| model.predict_proba_into(&x.row(i), out));
        for (i, &label) in y.iter().enumerate() {
            assert!(proba[2 * i + label as usize] > 0.99, "row {i}: {proba:?}");
        }
    }
    // Three separable classes (by x1 bands), no penalty.
    let y: Vec<u32> = LOGIT_X
        .iter()
        .map(|r| {
            if r[1] < -0.6 {
                0
            } else if r[1] < 0.0 {
                1
            } else {
                2
            }
        })
        .collect();
    let (model, _) = fit(&x, &y, 3, 0.0);
    assert!(model.coefficients().iter().all(|w| w.is_finite()));
    let proba = probabilities(3, 20, |i, out| model.predict_proba_into(&x.row(i), out));
    for (i, &label) in y.iter().enumerate() {
        assert_eq!(argmax(&proba[3 * i..3 * i + 3]), label as usize, "row {i}");
    }
}

#[test]
fn a_constant_column_gets_no_weight_and_changes_nothing() {
    let x = matrix(&LOGIT_X);
    for constant in [3.0, 0.0] {
        let mut with = x.clone();
        with.columns.insert(1, vec![constant; 20]);
        for alpha in [1.0, 0.0] {
            let (plain, _) = fit(&x, &LOGIT_Y, 2, alpha);
            let (model, report) = fit(&with, &LOGIT_Y, 2, alpha);
            let what = format!("constant {constant}, alpha {alpha}");
            assert_ne!(report.stop, Stop::IterationLimit, "{what}");
            let proba = probabilities(2, 20, |i, out| model.predict_proba_into(&with.row(i), out));
            let expected = probabilities(2, 20, |i, out| plain.predict_proba_into(&x.row(i), out));
            assert_close(&proba, &expected, 1e-9, &what);
            if alpha > 0.0 {
                // The intercept absorbs a constant for free; the penalty removes the weight.
                let w = model.coefficients();
                assert_close(&[w[0], w[2]], plain.coefficients(), 1e-9, &what);
                assert!(w[1].abs() < 1e-9, "{what}: {w:?}");
            }
        }
    }
    // The same for three classes.
    let x = matrix(&MULTI_X);
    let mut with = x.clone();
    with.columns.push(vec![-2.0; 24]);
    let (plain, _) = fit(&x, &MULTI_Y, 3, 0.5);
    let (model, _) = fit(&with, &MULTI_Y, 3, 0.5);
    let proba = probabilities(3, 24, |i, out| model.predict_proba_into(&with.row(i), out));
    let expected = probabilities(3, 24, |i, out| plain.predict_proba_into(&x.row(i), out));
    assert_close(&proba, &expected, 1e-9, "three classes");
}

#[test]
fn unscaled_features_need_no_scaling() {
    // Without a penalty the model is equivariant: a feature in millions gets a weight a million
    // times smaller, and the probabilities do not change.
    for n_classes in [2, 3] {
        let (x, y) = generated(300, 3, 0, n_classes, 7);
        let (y, n_classes) = (&y[..], n_classes as usize);
        let mut scaled = x.clone();
        scaled.columns[0].iter_mut().for_each(|v| *v *= 1e6);
        let (plain, _) = fit(&x, y, n_classes, 0.0);
        let (model, report) = fit(&scaled, y, n_classes, 0.0);
        assert_ne!(report.stop, Stop::IterationLimit);
        assert!((model.coefficients()[0] * 1e6 / plain.coefficients()[0] - 1.0).abs() < 1e-6);
        let proba = probabilities(n_classes, x.rows, |i, out| {
            model.predict_proba_into(&scaled.row(i), out)
        });
        let expected = probabilities(n_classes, x.rows, |i, out| {
            plain.predict_proba_into(&x.row(i), out)
        });
        assert_close(&proba, &expected, 1e-8, &format!("{n_classes} classes"));
    }
}

#[test]
fn many_one_hot_columns_are_solved_by_conjugate_gradients_to_the_same_optimum() {
    // 2 numeric + 24 one-hot columns: 27 parameters for two classes (a built Hessian by
    // default), 3 × 27 for three (conjugate gradients); each is checked against the other way.
    for n_classes in [2, 3] {
        let (x, y) = generated(600, 2, 24, n_classes, 11);
        let present = {
            let mut seen: Vec<u32> = y.clone();
            seen.sort_unstable();
            seen.dedup();
            seen.len()
        };
        assert_eq!(
            present, n_classes as usize,
            "the data should use every class"
        );
        let (model, report) = fit(&x, &y, n_classes as usize, 1.0);
        assert_eq!(report.stop, Stop::Converged, "{report:?}");
        assert!(gradient_max(&model, &x, &y, 1.0) < 1e-8);
        let other = if Method::for_size(27 * (if n_classes == 2 { 1 } else { 3 })) == Method::Direct
        {
            Method::Iterative
        } else {
            Method::Direct
        };
        let check = fit_by(other, &x, &y, n_classes as usize, 1.0);
        assert_close(model.coefficients(), check.coefficients(), 1e-7, "coef");
        assert_close(model.intercepts(), check.intercepts(), 1e-7, "intercepts");
    }
}

#[test]
fn the_fit_is_the_same_at_any_thread_count() {
    // 2,600 rows: three chunks, so the threads really share the passes.
    for n_classes in [2, 3] {
        let (x, y) = generated(2600, 4, 3, n_classes, 5);
        for method in [Method::Direct, Method::Iterative] {
            let bytes: Vec<Vec<u8>> = [1, 3]
                .iter()
                .map(|&threads| {
                    let pool = rayon::ThreadPoolBuilder::new()
                        .num_threads(threads)
                        .build()
                        .unwrap();
                    let model = pool.install(|| fit_by(method, &x, &y, n_classes as usize, 0.5));
                    postcard::to_stdvec(&model).unwrap()
                })
                .collect();
            assert_eq!(
                bytes[0], bytes[1],
                "{n_classes} classes, {method:?}: 1 vs 3 threads"
            );
        }
    }
}

#[test]
fn absent_classes_get_zero_probability() {
    // Labels 0, 1 and 3 of 4: three classes are fitted; class 2 gets 0.
    let x = matrix(&MULTI_X);
    let y: Vec<u32> = MULTI_Y
        .iter()
        .map(|&c| if c == 2 { 3 } else { c })
        .collect();
    let model = LogisticRegression::fit(&x, &y, 4, &LogisticParams { alpha: 2.0 }).unwrap();
    assert_eq!(model.classes(), &[0, 1, 3]);
    let mut out = [f64::NAN; 4];
    model.predict_proba_into(&x.row(0), &mut out);
    assert_eq!(out[2], 0.0);
    assert!((out.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    // Two present classes of three: a sigmoid over 0 and 2.
    let y: Vec<u32> = LOGIT_Y.iter().map(|&c| 2 * c).collect();
    let model =
        LogisticRegression::fit(&matrix(&LOGIT_X), &y, 3, &LogisticParams::default()).unwrap();
    let mut out = [f64::NAN; 3];
    model.predict_proba_into(&LOGIT_X[1], &mut out);
    assert_eq!(out[1], 0.0);
    assert!(out[2] > 0.5 && (out[0] + out[2] - 1.0).abs() < 1e-12);
}
