//! Helpers and data shared by the crate's unit tests. Expected values in the tests come from
//! scikit-learn 1.9.1 / numpy 2.4 on the same literal data (printed with `repr`, pasted).

use smartcore::linalg::basic::matrix::DenseMatrix;

use crate::knn::{KnnDistance, KnnParams, KnnWeights};
use crate::{FitError, Matrix};

pub(crate) fn matrix<const N: usize>(rows: &[[f64; N]]) -> Matrix {
    Matrix::new(
        (0..N)
            .map(|j| rows.iter().map(|r| r[j]).collect())
            .collect(),
    )
}

pub(crate) fn dense<const N: usize>(rows: &[[f64; N]]) -> DenseMatrix<f64> {
    let refs: Vec<&[f64]> = rows.iter().map(|r| &r[..]).collect();
    DenseMatrix::from_2d_array(&refs).unwrap()
}

pub(crate) fn assert_close(actual: &[f64], expected: &[f64], tolerance: f64, what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}: length");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            (a - e).abs() <= tolerance,
            "{what}[{i}]: got {a}, expected {e} (tolerance {tolerance})"
        );
    }
}

pub(crate) fn probabilities(
    n_classes: usize,
    rows: usize,
    f: impl Fn(usize, &mut [f64]),
) -> Vec<f64> {
    let mut out = vec![0.0; rows * n_classes];
    for (i, chunk) in out.chunks_exact_mut(n_classes).enumerate() {
        f(i, chunk);
    }
    out
}

pub(crate) fn argmax(p: &[f64]) -> usize {
    crate::metrics::argmax(p)
}

pub(crate) fn knn_params(k: usize, weights: KnnWeights, distance: KnnDistance) -> KnnParams {
    KnnParams {
        k,
        weights,
        distance,
    }
}

pub(crate) fn param_name(e: FitError) -> String {
    match e {
        FitError::Param { name, .. } => name,
        other => panic!("expected a param error, got {other:?}"),
    }
}

pub(crate) fn data_message(e: FitError) -> String {
    match e {
        FitError::Data(message) => message,
        other => panic!("expected a data error, got {other:?}"),
    }
}

/// Two features, two classes (logistic regression and the input-rule tests).
pub(crate) const LOGIT_X: [[f64; 2]; 20] = [
    [0.55, 0.89],
    [2.34, -0.61],
    [0.05, -0.62],
    [1.35, -0.24],
    [1.62, -1.68],
    [2.85, -0.28],
    [1.52, -0.31],
    [-0.07, 0.17],
    [1.74, -0.36],
    [0.27, 0.35],
    [-0.81, -1.41],
    [1.09, -0.74],
    [-2.38, -0.85],
    [-0.2, -1.15],
    [-1.74, -0.17],
    [1.85, -0.39],
    [-0.62, 0.11],
    [1.58, -0.44],
    [1.32, 0.63],
    [0.19, -0.85],
];

pub(crate) const LOGIT_Y: [u32; 20] = [0, 1, 1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1, 0, 1];

/// Two features, three classes.
pub(crate) const MULTI_X: [[f64; 2]; 24] = [
    [-0.23, 0.7],
    [-0.4, -0.02],
    [0.31, -0.79],
    [0.54, -0.09],
    [0.44, -0.47],
    [0.98, 0.54],
    [-0.16, 0.57],
    [1.13, 1.61],
    [0.58, 1.79],
    [2.42, 0.92],
    [1.09, 2.13],
    [0.86, 1.51],
    [3.17, -0.44],
    [1.73, -0.18],
    [2.22, 2.36],
    [3.82, -0.6],
    [-0.02, 3.13],
    [1.92, 2.88],
    [-0.17, 2.77],
    [0.49, 2.32],
    [-0.16, 2.85],
    [0.78, 2.42],
    [0.3, 1.34],
    [0.06, 3.59],
];

pub(crate) const MULTI_Y: [u32; 24] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2,
];

/// Three features and a regression target.
pub(crate) const LIN_X: [[f64; 3]; 12] = [
    [-0.16, -0.99, 0.19],
    [0.01, 1.16, -0.66],
    [0.89, -1.53, -0.37],
    [-0.2, -1.13, 0.15],
    [-0.57, -2.14, -0.42],
    [1.31, 0.09, -0.58],
    [0.01, -3.11, 0.89],
    [-1.52, 0.96, 0.27],
    [-1.45, 0.6, 0.5],
    [0.47, 0.52, 0.47],
    [0.16, 0.67, -0.06],
    [0.63, -1.88, 0.4],
];

pub(crate) const LIN_Y: [f64; 12] = [
    0.98, -2.14, 2.08, 1.6, 0.39, 0.89, 4.48, -2.25, -1.33, 1.61, -0.74, 3.42,
];
