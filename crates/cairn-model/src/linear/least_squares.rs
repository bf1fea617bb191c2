//! Least squares with an intercept: [`LinearRegression`] and [`RidgeRegression`] share one fit
//! ([`fit_centred`]): the input checks, the centring of the features and the target, the call
//! to smartcore's solver on centred data, and the intercept recovered on the original scale.
//! Only the solver differs.

use serde::{Deserialize, Serialize};
use smartcore::linalg::basic::arrays::Array;
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linalg::traits::qr::QRDecomposable;
use smartcore::linear::linear_regression::{
    LinearRegression as ScLinearRegression, LinearRegressionParameters, LinearRegressionSolverName,
};
use smartcore::linear::ridge_regression::{
    RidgeRegression as ScRidgeRegression, RidgeRegressionParameters, RidgeRegressionSolverName,
};

use crate::guard::{check_magnitude, check_target, check_x, guarded, param};
use crate::math::{dot, mean};
use crate::{FitError, Matrix};

/// How [`LinearRegression`] solves the least-squares problem.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinearSolver {
    /// Singular value decomposition (smartcore's default): collinear or constant features get
    /// the minimum-norm solution, like `numpy.linalg.lstsq` and scikit-learn. Singular values
    /// below about `1e-15 ×` the largest are treated as zero, and smartcore's design matrix
    /// includes the intercept's column of ones, so a feature whose centred values are all
    /// smaller than about 1e-15 is ignored (gets coefficient 0).
    #[default]
    Svd,
    /// Householder QR: fails with [`FitError::Data`] when the features are collinear (or one
    /// is constant) instead of returning a minimum-norm solution. The decomposition runs twice:
    /// once to check the rank (smartcore's own check only catches exact zeros), once inside
    /// smartcore's solver.
    Qr,
}

/// Parameters of [`LinearRegression`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LinearParams {
    pub solver: LinearSolver,
}

/// Ordinary least squares with an intercept, fitted by smartcore.
///
/// The features and the target are centred before smartcore sees them, and the intercept is
/// recovered as `mean(y) - mean(x)·w`. This is what scikit-learn's `LinearRegression` does: it
/// improves the conditioning, and with collinear features the SVD solver then returns the
/// minimum-norm coefficients without the intercept entering the norm (smartcore alone would
/// include it). A constant feature gets coefficient 0.
///
/// Differences from scikit-learn: fewer rows than `n_features + 1` is an error (smartcore does
/// not solve underdetermined systems); the QR solver reports collinear features as an error,
/// detected when a diagonal entry of R is below `max|R_jj| * max(rows, cols) * f64::EPSILON`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LinearRegression(LeastSquares);

impl LinearRegression {
    pub fn fit(x: &Matrix, y: &[f64], p: &LinearParams) -> Result<Self, FitError> {
        let solver = match p.solver {
            LinearSolver::Svd => LinearRegressionSolverName::SVD,
            LinearSolver::Qr => LinearRegressionSolverName::QR,
        };
        let fit = fit_centred("linear regression", x, y, |centred| {
            if p.solver == LinearSolver::Qr {
                check_full_rank(&centred.x)?;
            }
            let params = LinearRegressionParameters::default().with_solver(solver);
            guarded("linear regression", || {
                ScLinearRegression::<f64, f64, DenseMatrix<f64>, Vec<f64>>::fit(
                    &centred.x, &centred.y, params,
                )
                .map(|m| (m.coefficients().clone(), *m.intercept()))
            })
        })?;
        Ok(LinearRegression(fit))
    }

    /// `w·row + b`.
    ///
    /// # Panics
    /// If `row.len()` differs from the number of features at fit.
    pub fn predict(&self, row: &[f64]) -> f64 {
        self.0.predict(row)
    }

    /// One weight per feature.
    pub fn coefficients(&self) -> &[f64] {
        &self.0.coefficients
    }

    pub fn intercept(&self) -> f64 {
        self.0.intercept
    }
}

/// How [`RidgeRegression`] solves `(XᵀX + alpha·I) w = Xᵀy`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RidgeSolver {
    /// Cholesky decomposition (smartcore's default): fast; fails with [`FitError::Data`] when
    /// the system is not positive definite (only possible with `alpha = 0`).
    #[default]
    Cholesky,
    /// Singular value decomposition: also handles `alpha = 0` with collinear features
    /// (pseudo-inverse).
    Svd,
}

/// Parameters of [`RidgeRegression`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RidgeParams {
    /// L2 penalty: the objective is `||y - Xw - b||² + alpha * ||w||²`, scikit-learn's `Ridge`
    /// convention (the intercept is not penalised). Default 1.0. Must be finite and `>= 0`.
    pub alpha: f64,
    pub solver: RidgeSolver,
}

impl Default for RidgeParams {
    fn default() -> Self {
        RidgeParams {
            alpha: 1.0,
            solver: RidgeSolver::Cholesky,
        }
    }
}

/// Ridge regression with an intercept, fitted by smartcore on centred data; the result is
/// scikit-learn's `Ridge(alpha)`.
///
/// smartcore's own estimator does something else with either setting of its `normalize` flag:
/// with `normalize = true` (its default) it standardises the features and penalises the
/// standardised coefficients, and a constant feature is an error; with `normalize = false` it
/// fits no intercept. cairn centres the features and the target itself, calls smartcore with
/// `normalize = false`, and sets the intercept to `mean(y) - mean(x)·w`.
///
/// Differences from scikit-learn: smartcore needs more rows than features, even with
/// `alpha > 0` (an error otherwise).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RidgeRegression(LeastSquares);

impl RidgeRegression {
    pub fn fit(x: &Matrix, y: &[f64], p: &RidgeParams) -> Result<Self, FitError> {
        if !(p.alpha.is_finite() && p.alpha >= 0.0) {
            return Err(param(
                "alpha",
                format!("must be a finite number >= 0, got {}", p.alpha),
            ));
        }
        let solver = match p.solver {
            RidgeSolver::Cholesky => RidgeRegressionSolverName::Cholesky,
            RidgeSolver::Svd => RidgeRegressionSolverName::SVD,
        };
        let params = RidgeRegressionParameters::default()
            .with_alpha(p.alpha)
            .with_solver(solver)
            .with_normalize(false);
        let fit = fit_centred("ridge regression", x, y, |centred| {
            guarded("ridge regression", || {
                ScRidgeRegression::<f64, f64, DenseMatrix<f64>, Vec<f64>>::fit(
                    &centred.x, &centred.y, params,
                )
                .map(|m| (m.coefficients().clone(), *m.intercept()))
            })
            .map_err(|e| match e {
                FitError::Data(message) if p.alpha == 0.0 => FitError::Data(format!(
                    "{message} (with alpha = 0, collinear or constant features make the system \
                     singular)"
                )),
                other => other,
            })
        })?;
        Ok(RidgeRegression(fit))
    }

    /// `w·row + b`.
    ///
    /// # Panics
    /// If `row.len()` differs from the number of features at fit.
    pub fn predict(&self, row: &[f64]) -> f64 {
        self.0.predict(row)
    }

    /// One weight per feature.
    pub fn coefficients(&self) -> &[f64] {
        &self.0.coefficients
    }

    pub fn intercept(&self) -> f64 {
        self.0.intercept
    }
}

/// A fitted least-squares model: `w·row + b`. Serialised as its two fields, in this order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct LeastSquares {
    coefficients: Vec<f64>,
    intercept: f64,
}

impl LeastSquares {
    fn predict(&self, row: &[f64]) -> f64 {
        assert_eq!(row.len(), self.coefficients.len(), "row length");
        dot(&self.coefficients, row) + self.intercept
    }
}

/// A solver's answer on centred data: coefficients (`n_features × 1`) and an intercept (zero up
/// to rounding).
type Solved = (DenseMatrix<f64>, f64);

/// The fit linear and ridge regression share: checks the input (more rows than features, every
/// value finite and within [`crate::guard::MAX_MAGNITUDE`]), centres `x` and `y`, runs `solve`
/// on the centred data, and recovers the intercept on the original scale.
fn fit_centred(
    what: &str,
    x: &Matrix,
    y: &[f64],
    solve: impl FnOnce(&Centred) -> Result<Solved, FitError>,
) -> Result<LeastSquares, FitError> {
    check_x(x)?;
    check_target(y, x.rows)?;
    check_magnitude(x, Some(y))?;
    let (rows, cols) = (x.rows, x.cols());
    if rows <= cols {
        return Err(FitError::Data(format!(
            "{what} needs more rows than features: at least {} rows for {cols} features, got \
             {rows}",
            cols + 1
        )));
    }
    let centred = Centred::new(x, y)?;
    let (coef, centred_intercept) = solve(&centred)?;
    if coef.shape() != (cols, 1) {
        return Err(FitError::Data(format!(
            "{what} returned coefficients of shape {:?}, expected ({cols}, 1)",
            coef.shape()
        )));
    }
    let coefficients: Vec<f64> = (0..cols).map(|j| *coef.get((j, 0))).collect();
    let intercept = centred.y_mean + centred_intercept - dot(&coefficients, &centred.x_mean);
    if !(coefficients.iter().all(|v| v.is_finite()) && intercept.is_finite()) {
        return Err(FitError::Data(format!(
            "{what} produced a non-finite coefficient: the system is singular (collinear or \
             constant features)"
        )));
    }
    Ok(LeastSquares {
        coefficients,
        intercept,
    })
}

/// Centred copies of `x` (column-major, one buffer) and `y`, with their means.
struct Centred {
    x: DenseMatrix<f64>,
    x_mean: Vec<f64>,
    y: Vec<f64>,
    y_mean: f64,
}

impl Centred {
    fn new(x: &Matrix, y: &[f64]) -> Result<Centred, FitError> {
        let x_mean: Vec<f64> = x.columns.iter().map(|c| mean(c)).collect();
        let mut values = Vec::with_capacity(x.rows * x.cols());
        for (column, m) in x.columns.iter().zip(&x_mean) {
            values.extend(column.iter().map(|v| v - m));
        }
        let y_mean = mean(y);
        Ok(Centred {
            x: DenseMatrix::new(x.rows, x.cols(), values, true)
                .map_err(|e| FitError::Data(format!("cannot build the feature matrix: {e}")))?,
            x_mean,
            y: y.iter().map(|v| v - y_mean).collect(),
            y_mean,
        })
    }
}

/// Fails when the (centred) columns of `a` are numerically linearly dependent, judged from the
/// diagonal of R in smartcore's Householder QR.
fn check_full_rank(a: &DenseMatrix<f64>) -> Result<(), FitError> {
    let (rows, cols) = a.shape();
    let qr = guarded("QR decomposition", || a.qr())?;
    let r = qr.R();
    let diag: Vec<f64> = (0..cols).map(|j| r.get((j, j)).abs()).collect();
    let largest = diag.iter().copied().fold(0.0, f64::max);
    let tolerance = largest * rows.max(cols) as f64 * f64::EPSILON;
    if let Some(j) = diag.iter().position(|&d| d.is_nan() || d <= tolerance) {
        return Err(FitError::Data(format!(
            "the features are linearly dependent (feature {j} is constant or a combination of \
             the features before it), so the QR solver cannot fit them; use the SVD solver"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{LIN_X, LIN_Y, assert_close, data_message, matrix};

    /// LIN_X plus a copy of feature 0 and a constant feature.
    fn collinear() -> Matrix {
        let mut x = matrix(&LIN_X);
        x.columns.push(x.columns[0].clone());
        x.columns.push(vec![2.0; 12]);
        x
    }

    #[test]
    fn linear_regression_matches_numpy_lstsq_with_both_solvers() {
        // numpy.linalg.lstsq([X, 1], y): coefficients then intercept.
        let lstsq = [
            1.419926986971012,
            -0.8545088740798479,
            1.990796200263507,
            0.18666484433840963,
        ];
        let x = matrix(&LIN_X);
        for solver in [LinearSolver::Svd, LinearSolver::Qr] {
            let model = LinearRegression::fit(&x, &LIN_Y, &LinearParams { solver }).unwrap();
            assert_close(model.coefficients(), &lstsq[..3], 1e-10, "coef");
            assert_close(&[model.intercept()], &lstsq[3..], 1e-10, "intercept");
            let row = x.row(4);
            let expected = dot(&lstsq[..3], &row) + lstsq[3];
            assert!((model.predict(&row) - expected).abs() < 1e-10);
        }
    }

    #[test]
    fn linear_regression_with_collinear_features_is_sklearns_minimum_norm_or_an_error() {
        let x = collinear();
        let model = LinearRegression::fit(&x, &LIN_Y, &LinearParams::default()).unwrap();
        // scikit-learn LinearRegression(): the duplicated feature shares the weight, the
        // constant feature gets 0.
        let sklearn = [
            0.7099634934855052,
            -0.8545088740798481,
            1.9907962002635073,
            0.7099634934855051,
            0.0,
        ];
        assert_close(model.coefficients(), &sklearn, 1e-9, "coef");
        assert!((model.intercept() - 0.1866648443384099).abs() < 1e-9);

        let error = LinearRegression::fit(
            &x,
            &LIN_Y,
            &LinearParams {
                solver: LinearSolver::Qr,
            },
        )
        .unwrap_err();
        let message = data_message(error);
        assert!(message.contains("feature 3"), "{message}");
        // A combination that is not exact in floating point (smartcore's QR alone returns
        // coefficients of order 1e14 here) and a constant feature alone are caught too.
        let mut x = matrix(&LIN_X);
        let combination = (0..12)
            .map(|i| 0.3 * x.columns[0][i] - 0.7 * x.columns[2][i])
            .collect();
        x.columns.push(combination);
        let message = data_message(
            LinearRegression::fit(
                &x,
                &LIN_Y,
                &LinearParams {
                    solver: LinearSolver::Qr,
                },
            )
            .unwrap_err(),
        );
        assert!(message.contains("feature 3"), "{message}");
        let mut x = matrix(&LIN_X);
        x.columns.insert(1, vec![-4.5; 12]);
        let message = data_message(
            LinearRegression::fit(
                &x,
                &LIN_Y,
                &LinearParams {
                    solver: LinearSolver::Qr,
                },
            )
            .unwrap_err(),
        );
        assert!(message.contains("feature 1"), "{message}");
    }

    #[test]
    fn ridge_matches_sklearn_ridge() {
        let x = matrix(&LIN_X);
        for solver in [RidgeSolver::Cholesky, RidgeSolver::Svd] {
            // scikit-learn Ridge(alpha=1.5).
            let model =
                RidgeRegression::fit(&x, &LIN_Y, &RidgeParams { alpha: 1.5, solver }).unwrap();
            let coef = [1.0178266469063435, -0.9319739647483264, 1.0702638373731899];
            assert_close(model.coefficients(), &coef, 1e-10, "coef");
            assert!((model.intercept() - 0.18865815979632705).abs() < 1e-10);
            // alpha = 0 is ordinary least squares.
            let model =
                RidgeRegression::fit(&x, &LIN_Y, &RidgeParams { alpha: 0.0, solver }).unwrap();
            let coef = [1.4199269869710112, -0.8545088740798484, 1.9907962002635056];
            assert_close(model.coefficients(), &coef, 1e-9, "coef (alpha 0)");
            assert!((model.intercept() - 0.1866648443384099).abs() < 1e-9);
        }
        // Collinear and constant features are fine with a penalty (smartcore's own
        // normalize=true would reject the constant one).
        let model = RidgeRegression::fit(&collinear(), &LIN_Y, &RidgeParams::default()).unwrap();
        let model_15 = RidgeRegression::fit(
            &collinear(),
            &LIN_Y,
            &RidgeParams {
                alpha: 1.5,
                ..RidgeParams::default()
            },
        )
        .unwrap();
        let sklearn = [
            0.5601615037484358,
            -0.9144658704921446,
            1.1178149651969138,
            0.5601615037484349,
            0.0,
        ];
        assert_close(model_15.coefficients(), &sklearn, 1e-10, "collinear coef");
        assert!((model_15.intercept() - 0.19904678236319617).abs() < 1e-10);
        assert_ne!(model.coefficients(), model_15.coefficients());
    }

    #[test]
    fn the_stored_form_is_still_the_two_fields() {
        // Format 1 artifacts hold `coefficients` then `intercept` for both models (they were
        // two structs of those fields): the shared fit must encode and decode the same bytes.
        #[derive(Serialize)]
        struct Fields {
            coefficients: Vec<f64>,
            intercept: f64,
        }
        let x = matrix(&LIN_X);
        let linear = LinearRegression::fit(&x, &LIN_Y, &LinearParams::default()).unwrap();
        let fields = Fields {
            coefficients: linear.coefficients().to_vec(),
            intercept: linear.intercept(),
        };
        let bytes = postcard::to_stdvec(&fields).unwrap();
        assert_eq!(postcard::to_stdvec(&linear).unwrap(), bytes);
        assert_eq!(
            postcard::from_bytes::<LinearRegression>(&bytes).unwrap(),
            linear
        );
        let ridge = RidgeRegression::fit(&x, &LIN_Y, &RidgeParams::default()).unwrap();
        let fields = Fields {
            coefficients: ridge.coefficients().to_vec(),
            intercept: ridge.intercept(),
        };
        let bytes = postcard::to_stdvec(&fields).unwrap();
        assert_eq!(postcard::to_stdvec(&ridge).unwrap(), bytes);
        assert_eq!(
            postcard::from_bytes::<RidgeRegression>(&bytes).unwrap(),
            ridge
        );
    }
}
