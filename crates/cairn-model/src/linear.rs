//! Linear models, k-nearest neighbours and Gaussian naive Bayes.
//!
//! Every model here is a plain serde struct that holds its fitted state in `Vec`s (no maps), so
//! postcard bytes of the same fit are the same bytes. Models predict one row at a time from
//! their own state; smartcore is used to fit where its estimator is sound, and only to fit.
//!
//! | model | fitted by | how it differs from smartcore's estimator |
//! |---|---|---|
//! | [`LogisticRegression`] | smartcore (L-BFGS) | adds probabilities (smartcore only predicts labels) |
//! | [`LinearRegression`] | smartcore (SVD or QR) on centred data | collinear features get scikit-learn's minimum-norm solution; the QR solver reports them instead of returning huge coefficients |
//! | [`RidgeRegression`] | smartcore (Cholesky or SVD) on centred data | scikit-learn's penalty on raw features with an unpenalised intercept (smartcore penalises standardised features, or drops the intercept) |
//! | [`KnnClassifier`], [`KnnRegressor`] | cairn (exact linear search) | the same neighbours and votes as smartcore's `LinearSearch`; no cover tree |
//! | [`GaussianNb`] | cairn | scikit-learn's `var_smoothing`; a numerically stable variance |
//!
//! Common input rules: `x` must have at least one row and one feature column, every column
//! `x.rows` long, every value finite (and at most [`MAX_MAGNITUDE`] in absolute value, target
//! included, for the models fitted by smartcore), and the target as long as `x`. Classifiers
//! take labels `0..n_classes` and need at least two distinct labels in `y`; a label in
//! `0..n_classes` that does not occur in `y` gets probability 0. Violations are
//! [`FitError::Data`]; a parameter out of range is [`FitError::Param`] naming the field of the
//! params struct. Fitting never panics.
//!
//! Prediction methods take a row of `n_features` values and panic if it has another length (and,
//! for probabilities, if `out` is not `n_classes` long): that is a caller bug, not bad data.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::panic::{self, AssertUnwindSafe};

use serde::{Deserialize, Serialize};
use smartcore::error::Failed;
use smartcore::linalg::basic::arrays::Array;
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linalg::traits::qr::QRDecomposable;
use smartcore::linear::linear_regression::{
    LinearRegression as ScLinearRegression, LinearRegressionParameters, LinearRegressionSolverName,
};
use smartcore::linear::logistic_regression::{
    LogisticRegression as ScLogisticRegression, LogisticRegressionParameters,
};
use smartcore::linear::ridge_regression::{
    RidgeRegression as ScRidgeRegression, RidgeRegressionParameters, RidgeRegressionSolverName,
};

use crate::{FitError, Matrix};

// ---------------------------------------------------------------------------------------------
// Logistic regression
// ---------------------------------------------------------------------------------------------

/// Parameters of [`LogisticRegression`].
///
/// smartcore's `LogisticRegressionParameters` has one other field, `solver`, whose only value is
/// L-BFGS; it is not exposed. The optimiser's own settings (1,000 iterations, gradient tolerance
/// 1e-8) are fixed inside smartcore.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogisticParams {
    /// L2 penalty on the coefficients (not on the intercepts): the objective is the summed log
    /// loss plus `alpha / 2 * ||w||²`. This is smartcore's `alpha`; scikit-learn's `C` is
    /// `1 / alpha`. Default 0, smartcore's default: no penalty (scikit-learn's default is
    /// `C = 1`, i.e. `alpha = 1`). Must be finite and `>= 0`. With `alpha = 0` on separable data
    /// the coefficients grow until the optimiser stops and probabilities approach 0 and 1.
    pub alpha: f64,
}

impl Default for LogisticParams {
    fn default() -> Self {
        LogisticParams { alpha: 0.0 }
    }
}

/// Logistic regression fitted by smartcore: a sigmoid of one linear function for two classes,
/// a softmax over one linear function per class for more (smartcore's multinomial model, the
/// same as scikit-learn's `multinomial` loss: K weight vectors, the softmax of the K scores, the
/// penalty on all K vectors).
///
/// smartcore's estimator only predicts labels; this one keeps the coefficients and intercepts
/// and computes probabilities from them. The most probable class (lowest label on ties) is
/// smartcore's prediction: for two classes, smartcore predicts the second class when
/// `sigmoid(w·x + b) > 0.5`; for more, the class with the highest score (first on ties), and the
/// softmax keeps that order. Only scores that differ by less than about 1e-16 relative, which
/// the softmax rounds to equal probabilities, could pick a different class.
///
/// Compared with scikit-learn's `LogisticRegression`: the same model and objective for
/// `alpha = 1 / C`, but the default is no penalty, and the features are not scaled, so an
/// unpenalised or badly scaled fit converges more slowly and may stop earlier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticRegression {
    n_classes: usize,
    n_features: usize,
    /// The labels present in the training data, ascending.
    classes: Vec<u32>,
    /// Row-major: one row of `n_features` weights per linear function (one function for two
    /// classes, one per class in `classes` otherwise).
    coefficients: Vec<f64>,
    /// One intercept per linear function.
    intercepts: Vec<f64>,
}

impl LogisticRegression {
    /// Fits the model to labels `y` in `0..n_classes`.
    pub fn fit(
        x: &Matrix,
        y: &[u32],
        n_classes: usize,
        p: &LogisticParams,
    ) -> Result<Self, FitError> {
        if !(p.alpha.is_finite() && p.alpha >= 0.0) {
            return Err(param(
                "alpha",
                format!("must be a finite number >= 0, got {}", p.alpha),
            ));
        }
        check_x(x)?;
        check_magnitude(x, None)?;
        let classes = check_labels(y, x.rows, n_classes)?;
        let dense = dense_matrix(x)?;
        let params = LogisticRegressionParameters::default().with_alpha(p.alpha);
        let y = y.to_vec();
        let model = guarded("logistic regression", || {
            ScLogisticRegression::<f64, u32, DenseMatrix<f64>, Vec<u32>>::fit(&dense, &y, params)
        })?;

        let n_features = x.cols();
        let functions = if classes.len() == 2 { 1 } else { classes.len() };
        let (coef, intercept) = (model.coefficients(), model.intercept());
        if coef.shape() != (functions, n_features) || intercept.shape() != (functions, 1) {
            return Err(FitError::Data(format!(
                "logistic regression returned coefficients of shape {:?} and intercepts of \
                 shape {:?}, expected ({functions}, {n_features}) and ({functions}, 1)",
                coef.shape(),
                intercept.shape()
            )));
        }
        let mut coefficients = Vec::with_capacity(functions * n_features);
        let mut intercepts = Vec::with_capacity(functions);
        for r in 0..functions {
            coefficients.extend((0..n_features).map(|j| *coef.get((r, j))));
            intercepts.push(*intercept.get((r, 0)));
        }
        if !coefficients
            .iter()
            .chain(&intercepts)
            .all(|v| v.is_finite())
        {
            return Err(FitError::Data(
                "logistic regression diverged (a coefficient is not finite); try alpha > 0 or \
                 scaling the features"
                    .into(),
            ));
        }
        Ok(LogisticRegression {
            n_classes,
            n_features,
            classes,
            coefficients,
            intercepts,
        })
    }

    /// Writes the probability of each class `0..n_classes` for `row` into `out`.
    ///
    /// # Panics
    /// If `row.len() != n_features()` or `out.len() != n_classes()`.
    pub fn predict_proba_into(&self, row: &[f64], out: &mut [f64]) {
        assert_eq!(row.len(), self.n_features, "row length");
        assert_eq!(out.len(), self.n_classes, "output length");
        out.fill(0.0);
        let p = self.n_features;
        let score =
            |r: usize| dot(&self.coefficients[r * p..(r + 1) * p], row) + self.intercepts[r];
        if let [negative, positive] = self.classes[..] {
            let z = score(0);
            out[positive as usize] = sigmoid(z);
            out[negative as usize] = sigmoid(-z);
        } else {
            let scores: Vec<f64> = (0..self.classes.len()).map(score).collect();
            softmax_into(&scores, &self.classes, out);
        }
    }

    /// The number of classes the probabilities cover (`n_classes` at fit).
    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    /// The number of features a row must have.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// The labels that occurred in the training data, ascending. With two, the model is
    /// `P(classes[1]) = sigmoid(w·x + b)`; with more, row `r` of [`Self::coefficients`] is the
    /// score of `classes[r]`.
    pub fn classes(&self) -> &[u32] {
        &self.classes
    }

    /// Row-major weights, `n_features` per linear function (see [`Self::classes`]).
    pub fn coefficients(&self) -> &[f64] {
        &self.coefficients
    }

    /// One intercept per linear function.
    pub fn intercepts(&self) -> &[f64] {
        &self.intercepts
    }
}

// ---------------------------------------------------------------------------------------------
// Linear and ridge regression
// ---------------------------------------------------------------------------------------------

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
pub struct LinearRegression {
    coefficients: Vec<f64>,
    intercept: f64,
}

impl LinearRegression {
    pub fn fit(x: &Matrix, y: &[f64], p: &LinearParams) -> Result<Self, FitError> {
        check_x(x)?;
        check_target(y, x.rows)?;
        check_magnitude(x, Some(y))?;
        let (rows, cols) = (x.rows, x.cols());
        if rows < cols + 1 {
            return Err(FitError::Data(format!(
                "linear regression needs at least {} rows for {cols} features (one more than \
                 the number of features), got {rows}",
                cols + 1
            )));
        }
        let centred = Centred::new(x, y)?;
        if p.solver == LinearSolver::Qr {
            check_full_rank(&centred.x)?;
        }
        let solver = match p.solver {
            LinearSolver::Svd => LinearRegressionSolverName::SVD,
            LinearSolver::Qr => LinearRegressionSolverName::QR,
        };
        let params = LinearRegressionParameters::default().with_solver(solver);
        let model = guarded("linear regression", || {
            ScLinearRegression::<f64, f64, DenseMatrix<f64>, Vec<f64>>::fit(
                &centred.x, &centred.y, params,
            )
        })?;
        let coef = model.coefficients();
        if coef.shape() != (cols, 1) {
            return Err(FitError::Data(format!(
                "linear regression returned coefficients of shape {:?}, expected ({cols}, 1)",
                coef.shape()
            )));
        }
        let coefficients: Vec<f64> = (0..cols).map(|j| *coef.get((j, 0))).collect();
        let intercept = centred.intercept(&coefficients, *model.intercept());
        finite_fit("linear regression", &coefficients, intercept)?;
        Ok(LinearRegression {
            coefficients,
            intercept,
        })
    }

    /// `w·row + b`.
    ///
    /// # Panics
    /// If `row.len()` differs from the number of features at fit.
    pub fn predict(&self, row: &[f64]) -> f64 {
        assert_eq!(row.len(), self.coefficients.len(), "row length");
        dot(&self.coefficients, row) + self.intercept
    }

    /// One weight per feature.
    pub fn coefficients(&self) -> &[f64] {
        &self.coefficients
    }

    pub fn intercept(&self) -> f64 {
        self.intercept
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
pub struct RidgeRegression {
    coefficients: Vec<f64>,
    intercept: f64,
}

impl RidgeRegression {
    pub fn fit(x: &Matrix, y: &[f64], p: &RidgeParams) -> Result<Self, FitError> {
        if !(p.alpha.is_finite() && p.alpha >= 0.0) {
            return Err(param(
                "alpha",
                format!("must be a finite number >= 0, got {}", p.alpha),
            ));
        }
        check_x(x)?;
        check_target(y, x.rows)?;
        check_magnitude(x, Some(y))?;
        let (rows, cols) = (x.rows, x.cols());
        if rows <= cols {
            return Err(FitError::Data(format!(
                "ridge regression needs more rows than features: {cols} features, {rows} rows"
            )));
        }
        let centred = Centred::new(x, y)?;
        let solver = match p.solver {
            RidgeSolver::Cholesky => RidgeRegressionSolverName::Cholesky,
            RidgeSolver::Svd => RidgeRegressionSolverName::SVD,
        };
        let params = RidgeRegressionParameters::default()
            .with_alpha(p.alpha)
            .with_solver(solver)
            .with_normalize(false);
        let model = guarded("ridge regression", || {
            ScRidgeRegression::<f64, f64, DenseMatrix<f64>, Vec<f64>>::fit(
                &centred.x, &centred.y, params,
            )
        })
        .map_err(|e| match e {
            FitError::Data(message) if p.alpha == 0.0 => FitError::Data(format!(
                "{message} (with alpha = 0, collinear or constant features make the system \
                 singular)"
            )),
            other => other,
        })?;
        let coef = model.coefficients();
        if coef.shape() != (cols, 1) {
            return Err(FitError::Data(format!(
                "ridge regression returned coefficients of shape {:?}, expected ({cols}, 1)",
                coef.shape()
            )));
        }
        let coefficients: Vec<f64> = (0..cols).map(|j| *coef.get((j, 0))).collect();
        let intercept = centred.intercept(&coefficients, *model.intercept());
        finite_fit("ridge regression", &coefficients, intercept)?;
        Ok(RidgeRegression {
            coefficients,
            intercept,
        })
    }

    /// `w·row + b`.
    ///
    /// # Panics
    /// If `row.len()` differs from the number of features at fit.
    pub fn predict(&self, row: &[f64]) -> f64 {
        assert_eq!(row.len(), self.coefficients.len(), "row length");
        dot(&self.coefficients, row) + self.intercept
    }

    /// One weight per feature.
    pub fn coefficients(&self) -> &[f64] {
        &self.coefficients
    }

    pub fn intercept(&self) -> f64 {
        self.intercept
    }
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

    /// The intercept on the original scale, given the coefficients and the intercept fitted on
    /// centred data (zero up to rounding).
    fn intercept(&self, coefficients: &[f64], centred_intercept: f64) -> f64 {
        self.y_mean + centred_intercept - dot(coefficients, &self.x_mean)
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

fn finite_fit(what: &str, coefficients: &[f64], intercept: f64) -> Result<(), FitError> {
    if coefficients.iter().all(|v| v.is_finite()) && intercept.is_finite() {
        Ok(())
    } else {
        Err(FitError::Data(format!(
            "{what} produced a non-finite coefficient: the system is singular (collinear or \
             constant features)"
        )))
    }
}

// ---------------------------------------------------------------------------------------------
// k-nearest neighbours
// ---------------------------------------------------------------------------------------------

/// How the k neighbours' votes (or targets) are weighted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KnnWeights {
    /// Every neighbour counts the same.
    #[default]
    Uniform,
    /// A neighbour at distance `d` counts `1 / d`; if any neighbour is at distance 0, only the
    /// neighbours at distance 0 count (equally). Same rule as smartcore and scikit-learn.
    Distance,
}

/// The distance between rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KnnDistance {
    /// `sqrt(Σ (a_j - b_j)²)`.
    #[default]
    Euclidean,
    /// `Σ |a_j - b_j|`.
    Manhattan,
}

/// Parameters of [`KnnClassifier`] and [`KnnRegressor`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KnnParams {
    /// The number of neighbours, between 1 and the number of training rows. Default 5, as in
    /// scikit-learn (smartcore's default is 3).
    pub k: usize,
    pub weights: KnnWeights,
    pub distance: KnnDistance,
}

impl Default for KnnParams {
    fn default() -> Self {
        KnnParams {
            k: 5,
            weights: KnnWeights::Uniform,
            distance: KnnDistance::Euclidean,
        }
    }
}

/// The training rows (row-major) and an exact k-nearest search over them (see
/// [`KnnClassifier`] for the search rules).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Neighbours {
    params: KnnParams,
    n_features: usize,
    rows: Vec<f64>,
}

/// A candidate neighbour; ordered by `(distance, index)`. For Euclidean distance `distance`
/// is the squared distance until [`Neighbours::find`] returns.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    distance: f64,
    index: usize,
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Candidate {}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        self.distance
            .total_cmp(&other.distance)
            .then(self.index.cmp(&other.index))
    }
}

impl Neighbours {
    fn new(x: &Matrix, params: KnnParams) -> Result<Neighbours, FitError> {
        if params.k == 0 {
            return Err(param("k", "must be at least 1, got 0"));
        }
        check_x(x)?;
        if params.k > x.rows {
            return Err(param(
                "k",
                format!(
                    "is {} but there are only {} training rows; k cannot exceed the number of \
                     training rows",
                    params.k, x.rows
                ),
            ));
        }
        let n_features = x.cols();
        let mut rows = Vec::with_capacity(x.rows * n_features);
        for i in 0..x.rows {
            rows.extend(x.columns.iter().map(|c| c[i]));
        }
        Ok(Neighbours {
            params,
            n_features,
            rows,
        })
    }

    /// The k nearest training rows to `query`, nearest first, with their distances.
    fn find(&self, query: &[f64]) -> Vec<Candidate> {
        assert_eq!(query.len(), self.n_features, "row length");
        let k = self.params.k;
        let mut heap: BinaryHeap<Candidate> = BinaryHeap::with_capacity(k + 1);
        for (index, row) in self.rows.chunks_exact(self.n_features.max(1)).enumerate() {
            // Once k rows are held, a row is admitted only if strictly closer than the k-th: on
            // a tie the earlier row (already held) wins, as the `(distance, index)` order says.
            let bound = if heap.len() == k {
                heap.peek().map(|c| c.distance)
            } else {
                None
            };
            let Some(distance) = self.partial_distance(query, row, bound) else {
                continue;
            };
            heap.push(Candidate { distance, index });
            if heap.len() > k {
                heap.pop();
            }
        }
        let mut found = heap.into_sorted_vec();
        if self.params.distance == KnnDistance::Euclidean {
            for c in &mut found {
                c.distance = c.distance.sqrt();
            }
        }
        found
    }

    /// The (squared, for Euclidean) distance, or `None` as soon as it reaches `bound`.
    fn partial_distance(&self, a: &[f64], b: &[f64], bound: Option<f64>) -> Option<f64> {
        let mut sum = 0.0;
        for (x, y) in a.iter().zip(b) {
            let d = x - y;
            sum += match self.params.distance {
                KnnDistance::Euclidean => d * d,
                KnnDistance::Manhattan => d.abs(),
            };
            if bound.is_some_and(|b| sum >= b) {
                return None;
            }
        }
        Some(sum)
    }

    /// The weights of `found`, in the same order (not normalised; their sum is positive and
    /// finite).
    ///
    /// Distance weights: a neighbour whose `1 / d` is infinite (d = 0, or subnormal) takes the
    /// place of smartcore's and scikit-learn's "distance 0" neighbours; if every distance
    /// overflowed to infinity the weights fall back to uniform.
    fn weights(&self, found: &[Candidate]) -> Vec<f64> {
        if self.params.weights == KnnWeights::Uniform {
            return vec![1.0; found.len()];
        }
        let inverse: Vec<f64> = found.iter().map(|c| 1.0 / c.distance).collect();
        if inverse.iter().any(|w| w.is_infinite()) {
            inverse
                .iter()
                .map(|w| if w.is_infinite() { 1.0 } else { 0.0 })
                .collect()
        } else if inverse.iter().sum::<f64>() > 0.0 {
            inverse
        } else {
            vec![1.0; found.len()]
        }
    }
}

/// k-nearest-neighbour classifier: each class's share of the k nearest training rows'
/// (weighted) votes.
///
/// The model stores the training rows (row-major) and searches them exactly for every
/// prediction with a linear scan: O(rows × features) per row predicted, abandoning a training
/// row as soon as its partial distance cannot beat the current k-th neighbour. The neighbours
/// are the k smallest `(distance, training row index)` pairs, so equal distances go to the
/// earlier training row, which is also what smartcore's `LinearSearch` does.
///
/// Not smartcore's `KNNClassifier` (whose default search is a cover tree, serialized with the
/// model); the probabilities are those of smartcore's `predict_proba` with `LinearSearch`
/// (tested) and of scikit-learn's `KNeighborsClassifier` (tested), except where distances tie:
/// scikit-learn breaks such ties in an unspecified order and computes Euclidean distances with
/// the `|a|² - 2a·b + |b|²` expansion, which can round differently.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KnnClassifier {
    n_classes: usize,
    neighbours: Neighbours,
    y: Vec<u32>,
}

impl KnnClassifier {
    pub fn fit(x: &Matrix, y: &[u32], n_classes: usize, p: &KnnParams) -> Result<Self, FitError> {
        let neighbours = Neighbours::new(x, *p)?;
        check_labels(y, x.rows, n_classes)?;
        Ok(KnnClassifier {
            n_classes,
            neighbours,
            y: y.to_vec(),
        })
    }

    /// Writes each class's share of the k nearest neighbours' (weighted) votes into `out`.
    ///
    /// # Panics
    /// If `row.len() != n_features()` or `out.len() != n_classes()`.
    pub fn predict_proba_into(&self, row: &[f64], out: &mut [f64]) {
        assert_eq!(out.len(), self.n_classes, "output length");
        let found = self.neighbours.find(row);
        let weights = self.neighbours.weights(&found);
        let total: f64 = weights.iter().sum();
        out.fill(0.0);
        for (c, w) in found.iter().zip(&weights) {
            out[self.y[c.index] as usize] += w;
        }
        for v in out.iter_mut() {
            *v /= total;
        }
    }

    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    pub fn n_features(&self) -> usize {
        self.neighbours.n_features
    }

    pub fn params(&self) -> &KnnParams {
        &self.neighbours.params
    }
}

/// k-nearest-neighbour regressor: the (weighted) mean target of the k nearest training rows.
/// Same search as [`KnnClassifier`]; the same predictions as smartcore's `KNNRegressor` with
/// `LinearSearch` and scikit-learn's `KNeighborsRegressor` (up to tied distances).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KnnRegressor {
    neighbours: Neighbours,
    y: Vec<f64>,
}

impl KnnRegressor {
    pub fn fit(x: &Matrix, y: &[f64], p: &KnnParams) -> Result<Self, FitError> {
        let neighbours = Neighbours::new(x, *p)?;
        check_target(y, x.rows)?;
        Ok(KnnRegressor {
            neighbours,
            y: y.to_vec(),
        })
    }

    /// # Panics
    /// If `row.len()` differs from the number of features at fit.
    pub fn predict(&self, row: &[f64]) -> f64 {
        let found = self.neighbours.find(row);
        let weights = self.neighbours.weights(&found);
        let total: f64 = weights.iter().sum();
        found
            .iter()
            .zip(&weights)
            .map(|(c, w)| self.y[c.index] * w)
            .sum::<f64>()
            / total
    }

    pub fn n_features(&self) -> usize {
        self.neighbours.n_features
    }

    pub fn params(&self) -> &KnnParams {
        &self.neighbours.params
    }
}

// ---------------------------------------------------------------------------------------------
// Gaussian naive Bayes
// ---------------------------------------------------------------------------------------------

/// Parameters of [`GaussianNb`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GaussianNbParams {
    /// scikit-learn's `var_smoothing`: `var_smoothing * (the largest variance of any feature
    /// over all training rows)` is added to every per-class variance. Default 1e-9, as in
    /// scikit-learn. Must be finite and `>= 0`. smartcore has no such parameter.
    pub var_smoothing: f64,
}

impl Default for GaussianNbParams {
    fn default() -> Self {
        GaussianNbParams {
            var_smoothing: 1e-9,
        }
    }
}

/// Gaussian naive Bayes: class priors from the class frequencies, one normal distribution per
/// feature and class. The result is scikit-learn's `GaussianNB(var_smoothing=...)`.
///
/// Fitted by cairn, not smartcore: smartcore's `GaussianNB` has no variance smoothing (a feature
/// that is constant within a class, like most one-hot columns, gives a zero variance and NaN or
/// infinite log-likelihoods) and computes the variance as `E[x²] - E[x]²`, which cancels
/// catastrophically for features whose mean is large compared with their spread and can even
/// come out negative. Here the per-class variance is the population variance computed around
/// the mean (two passes), as in scikit-learn and smartcore. Without smoothing on well-scaled
/// data the predicted class is smartcore's (tested).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GaussianNb {
    n_classes: usize,
    n_features: usize,
    /// The labels present in the training data, ascending.
    classes: Vec<u32>,
    /// Per class in `classes`: `ln prior - ½ Σ_j ln(2π var_j)`.
    log_norm: Vec<f64>,
    /// Class-major: `n_features` means per class in `classes`.
    means: Vec<f64>,
    /// Class-major smoothed variances, all > 0.
    variances: Vec<f64>,
    /// The amount added to every variance.
    epsilon: f64,
}

impl GaussianNb {
    pub fn fit(
        x: &Matrix,
        y: &[u32],
        n_classes: usize,
        p: &GaussianNbParams,
    ) -> Result<Self, FitError> {
        if !(p.var_smoothing.is_finite() && p.var_smoothing >= 0.0) {
            return Err(param(
                "var_smoothing",
                format!("must be a finite number >= 0, got {}", p.var_smoothing),
            ));
        }
        check_x(x)?;
        let classes = check_labels(y, x.rows, n_classes)?;
        let n_features = x.cols();
        let mut slot = vec![usize::MAX; n_classes];
        for (s, &c) in classes.iter().enumerate() {
            slot[c as usize] = s;
        }
        let mut counts = vec![0usize; classes.len()];
        for &label in y {
            counts[slot[label as usize]] += 1;
        }

        let largest_variance = x
            .columns
            .iter()
            .map(|c| variance(c.iter().copied()))
            .fold(0.0, f64::max);
        let epsilon = p.var_smoothing * largest_variance;

        let mut means = vec![0.0; classes.len() * n_features];
        let mut variances = vec![0.0; classes.len() * n_features];
        for (j, column) in x.columns.iter().enumerate() {
            let mut sums = vec![0.0; classes.len()];
            for (&v, &label) in column.iter().zip(y) {
                sums[slot[label as usize]] += v;
            }
            for s in 0..classes.len() {
                means[s * n_features + j] = sums[s] / counts[s] as f64;
            }
            let mut squares = vec![0.0; classes.len()];
            for (&v, &label) in column.iter().zip(y) {
                let s = slot[label as usize];
                let d = v - means[s * n_features + j];
                squares[s] += d * d;
            }
            for s in 0..classes.len() {
                let var = squares[s] / counts[s] as f64 + epsilon;
                if !var.is_finite() {
                    return Err(FitError::Data(format!(
                        "feature {j} has values too large to model: its variance overflows"
                    )));
                }
                if var <= 0.0 {
                    return Err(FitError::Data(format!(
                        "feature {j} is constant within class {} and no variance smoothing \
                         applies (var_smoothing is 0 or every feature is constant)",
                        classes[s]
                    )));
                }
                variances[s * n_features + j] = var;
            }
        }

        let total = x.rows as f64;
        let log_norm = (0..classes.len())
            .map(|s| {
                let log_det: f64 = variances[s * n_features..(s + 1) * n_features]
                    .iter()
                    .map(|v| (2.0 * std::f64::consts::PI * v).ln())
                    .sum();
                (counts[s] as f64 / total).ln() - 0.5 * log_det
            })
            .collect();
        Ok(GaussianNb {
            n_classes,
            n_features,
            classes,
            log_norm,
            means,
            variances,
            epsilon,
        })
    }

    /// Writes the posterior probability of each class into `out`: the joint log-likelihoods
    /// `ln prior - ½ Σ ln(2π var) - ½ Σ (x - mean)² / var`, normalised in log space.
    ///
    /// # Panics
    /// If `row.len() != n_features()` or `out.len() != n_classes()`.
    pub fn predict_proba_into(&self, row: &[f64], out: &mut [f64]) {
        assert_eq!(row.len(), self.n_features, "row length");
        assert_eq!(out.len(), self.n_classes, "output length");
        let p = self.n_features;
        let scores: Vec<f64> = (0..self.classes.len())
            .map(|s| {
                let means = &self.means[s * p..(s + 1) * p];
                let vars = &self.variances[s * p..(s + 1) * p];
                let distance: f64 = row
                    .iter()
                    .zip(means)
                    .zip(vars)
                    .map(|((x, m), v)| (x - m) * (x - m) / v)
                    .sum();
                self.log_norm[s] - 0.5 * distance
            })
            .collect();
        out.fill(0.0);
        softmax_into(&scores, &self.classes, out);
    }

    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// The labels that occurred in the training data, ascending.
    pub fn classes(&self) -> &[u32] {
        &self.classes
    }

    /// Class-major per-class feature means (rows follow [`Self::classes`]).
    pub fn means(&self) -> &[f64] {
        &self.means
    }

    /// Class-major per-class feature variances, smoothing included.
    pub fn variances(&self) -> &[f64] {
        &self.variances
    }

    /// The smoothing added to every variance: `var_smoothing * largest feature variance`.
    pub fn epsilon(&self) -> f64 {
        self.epsilon
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn param(name: &str, message: impl Into<String>) -> FitError {
    FitError::Param {
        name: name.to_string(),
        message: message.into(),
    }
}

/// At least one row and one column, every column `x.rows` long, every value finite.
fn check_x(x: &Matrix) -> Result<(), FitError> {
    if x.cols() == 0 {
        return Err(FitError::Data(
            "the training data has no feature columns".into(),
        ));
    }
    if x.rows == 0 {
        return Err(FitError::Data("the training data has no rows".into()));
    }
    for (j, column) in x.columns.iter().enumerate() {
        if column.len() != x.rows {
            return Err(FitError::Data(format!(
                "feature column {j} has {} values, expected {}",
                column.len(),
                x.rows
            )));
        }
        if let Some(i) = column.iter().position(|v| !v.is_finite()) {
            return Err(FitError::Data(format!(
                "feature column {j} has a non-finite value ({}) at row {i}",
                column[i]
            )));
        }
    }
    Ok(())
}

/// The largest magnitude of a feature value (or regression target) that the models fitted by
/// smartcore accept. Beyond it, sums of squares inside smartcore's solvers can overflow: its
/// SVD then panics ("no convergence") and its logistic regression returns coefficients whose
/// scores overflow to NaN probabilities.
pub const MAX_MAGNITUDE: f64 = 1e100;

fn check_magnitude(x: &Matrix, y: Option<&[f64]>) -> Result<(), FitError> {
    for (j, column) in x.columns.iter().enumerate() {
        if let Some(v) = column.iter().find(|v| v.abs() > MAX_MAGNITUDE) {
            return Err(FitError::Data(format!(
                "feature column {j} has the value {v:e}, beyond the ±{MAX_MAGNITUDE:e} the \
                 solver handles; rescale the feature"
            )));
        }
    }
    if let Some(v) = y.into_iter().flatten().find(|v| v.abs() > MAX_MAGNITUDE) {
        return Err(FitError::Data(format!(
            "the target has the value {v:e}, beyond the ±{MAX_MAGNITUDE:e} the solver handles; \
             rescale the target"
        )));
    }
    Ok(())
}

thread_local! {
    static CATCHING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether a panic on this thread, now, would be caught by a smartcore fit's guard and turned
/// into an error. The process's panic hook runs before the catch (Rust's default hook prints
/// the message and a backtrace hint to stderr): a program's own hook can stay quiet for these.
pub fn panic_is_caught() -> bool {
    CATCHING.with(std::cell::Cell::get)
}

/// Runs a smartcore fit, turning its error or, as a last resort, its panic into
/// [`FitError::Data`]. Inputs are checked before smartcore sees them, so a panic is not
/// expected; if one happens anyway, the caller gets an error instead of an unwinding thread,
/// and [`panic_is_caught`] says so to the panic hook while it runs.
fn guarded<T>(what: &str, fit: impl FnOnce() -> Result<T, Failed>) -> Result<T, FitError> {
    let outer = CATCHING.with(|c| c.replace(true));
    let caught = panic::catch_unwind(AssertUnwindSafe(fit));
    CATCHING.with(|c| c.set(outer));
    match caught {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(FitError::Data(format!("{what} failed: {e}"))),
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".to_string());
            Err(FitError::Data(format!(
                "{what} failed inside smartcore: {message}"
            )))
        }
    }
}

fn check_target(y: &[f64], rows: usize) -> Result<(), FitError> {
    if y.len() != rows {
        return Err(FitError::Data(format!(
            "the target has {} values but the features have {rows} rows",
            y.len()
        )));
    }
    if let Some(i) = y.iter().position(|v| !v.is_finite()) {
        return Err(FitError::Data(format!(
            "the target has a non-finite value ({}) at row {i}",
            y[i]
        )));
    }
    Ok(())
}

/// Checks labels against `0..n_classes` and returns the distinct labels present, ascending
/// (at least two).
fn check_labels(y: &[u32], rows: usize, n_classes: usize) -> Result<Vec<u32>, FitError> {
    if y.len() != rows {
        return Err(FitError::Data(format!(
            "the target has {} labels but the features have {rows} rows",
            y.len()
        )));
    }
    let mut seen = vec![false; n_classes];
    for (i, &label) in y.iter().enumerate() {
        match seen.get_mut(label as usize) {
            Some(s) => *s = true,
            None => {
                return Err(FitError::Data(format!(
                    "label {label} at row {i} is out of range: there are {n_classes} classes"
                )));
            }
        }
    }
    let present: Vec<u32> = (0..n_classes as u32)
        .filter(|&c| seen[c as usize])
        .collect();
    if present.len() < 2 {
        return Err(FitError::Data(match present.first() {
            Some(c) => {
                format!("every training row has class {c}; a classifier needs at least two classes")
            }
            None => "there are no classes".into(),
        }));
    }
    Ok(present)
}

fn dense_matrix(x: &Matrix) -> Result<DenseMatrix<f64>, FitError> {
    DenseMatrix::new(x.rows, x.cols(), x.columns.concat(), true)
        .map_err(|e| FitError::Data(format!("cannot build the feature matrix: {e}")))
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// Population variance, computed around the mean.
fn variance(values: impl Iterator<Item = f64> + Clone) -> f64 {
    let (n, sum) = values
        .clone()
        .fold((0usize, 0.0), |(n, s), v| (n + 1, s + v));
    let m = sum / n as f64;
    values.map(|v| (v - m) * (v - m)).sum::<f64>() / n as f64
}

/// `1 / (1 + e^-z)`, without smartcore's clamping to exactly 0 and 1 beyond |z| > 40.
fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Softmax of `scores` written to `out[classes[r]]`; other entries of `out` are left alone.
///
/// Scores that overflowed (a row far outside the training data) do not give NaN: if the
/// largest score is infinite, the classes with that score share the probability equally; if
/// every score is `-inf` (or NaN), all classes do.
fn softmax_into(scores: &[f64], classes: &[u32], out: &mut [f64]) {
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

#[cfg(test)]
mod tests {
    //! Expected values come from scikit-learn 1.9.1 / numpy 2.4 on the same literal data
    //! (printed with `repr`, pasted here).

    use smartcore::algorithm::neighbour::KNNAlgorithmName;
    use smartcore::naive_bayes::gaussian::{GaussianNB as ScGaussianNb, GaussianNBParameters};
    use smartcore::neighbors::KNNWeightFunction;
    use smartcore::neighbors::knn_classifier::{KNNClassifier, KNNClassifierParameters};
    use smartcore::neighbors::knn_regressor::{KNNRegressor, KNNRegressorParameters};

    use super::*;

    fn matrix<const N: usize>(rows: &[[f64; N]]) -> Matrix {
        Matrix::new(
            (0..N)
                .map(|j| rows.iter().map(|r| r[j]).collect())
                .collect(),
        )
    }

    fn dense<const N: usize>(rows: &[[f64; N]]) -> DenseMatrix<f64> {
        let refs: Vec<&[f64]> = rows.iter().map(|r| &r[..]).collect();
        DenseMatrix::from_2d_array(&refs).unwrap()
    }

    fn assert_close(actual: &[f64], expected: &[f64], tolerance: f64, what: &str) {
        assert_eq!(actual.len(), expected.len(), "{what}: length");
        for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
            assert!(
                (a - e).abs() <= tolerance,
                "{what}[{i}]: got {a}, expected {e} (tolerance {tolerance})"
            );
        }
    }

    fn probabilities(n_classes: usize, rows: usize, f: impl Fn(usize, &mut [f64])) -> Vec<f64> {
        let mut out = vec![0.0; rows * n_classes];
        for (i, chunk) in out.chunks_exact_mut(n_classes).enumerate() {
            f(i, chunk);
        }
        out
    }

    fn argmax(p: &[f64]) -> usize {
        crate::metrics::argmax(p)
    }

    fn param_name(e: FitError) -> String {
        match e {
            FitError::Param { name, .. } => name,
            other => panic!("expected a param error, got {other:?}"),
        }
    }

    fn data_message(e: FitError) -> String {
        match e {
            FitError::Data(message) => message,
            other => panic!("expected a data error, got {other:?}"),
        }
    }

    // --- logistic regression ------------------------------------------------------------------

    const LOGIT_X: [[f64; 2]; 20] = [
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
    const LOGIT_Y: [u32; 20] = [0, 1, 1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1, 0, 1];

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
    fn logistic_binary_is_a_sigmoid_and_matches_smartcore_and_sklearn() {
        let x = matrix(&LOGIT_X);
        let model =
            LogisticRegression::fit(&x, &LOGIT_Y, 2, &LogisticParams { alpha: 1.0 }).unwrap();
        let (w, b) = (model.coefficients(), model.intercepts());
        assert_eq!((w.len(), b.len()), (2, 1));
        let proba = probabilities(2, 20, |i, out| model.predict_proba_into(&x.row(i), out));
        for (i, row) in LOGIT_X.iter().enumerate() {
            let z = w[0] * row[0] + w[1] * row[1] + b[0];
            let p1 = 1.0 / (1.0 + (-z).exp());
            assert_close(&proba[2 * i..2 * i + 2], &[1.0 - p1, p1], 1e-12, "sigmoid");
        }
        // The argmax is smartcore's prediction on every row.
        let sc = ScLogisticRegression::<f64, u32, DenseMatrix<f64>, Vec<u32>>::fit(
            &dense(&LOGIT_X),
            &LOGIT_Y.to_vec(),
            LogisticRegressionParameters::default().with_alpha(1.0),
        )
        .unwrap();
        let predicted = sc.predict(&dense(&LOGIT_X)).unwrap();
        for i in 0..20 {
            assert_eq!(
                argmax(&proba[2 * i..2 * i + 2]) as u32,
                predicted[i],
                "row {i}"
            );
        }
        // scikit-learn LogisticRegression(C=1.0, tol=1e-12): the same objective.
        assert_close(w, &[0.742644845995347, -1.7469627940639727], 1e-4, "coef");
        assert_close(b, &[-0.9069592885960521], 1e-4, "intercept");
        let p1: Vec<f64> = proba.chunks(2).map(|r| r[1]).collect();
        assert_close(&p1, &LOGIT_SKLEARN_P1.concat(), 1e-6, "P(class 1)");
    }

    const MULTI_X: [[f64; 2]; 24] = [
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
    const MULTI_Y: [u32; 24] = [
        0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2,
    ];

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
    fn logistic_multiclass_is_smartcores_softmax_and_matches_sklearn_multinomial() {
        let x = matrix(&MULTI_X);
        let model =
            LogisticRegression::fit(&x, &MULTI_Y, 3, &LogisticParams { alpha: 2.0 }).unwrap();
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
        let sc = ScLogisticRegression::<f64, u32, DenseMatrix<f64>, Vec<u32>>::fit(
            &dense(&MULTI_X),
            &MULTI_Y.to_vec(),
            LogisticRegressionParameters::default().with_alpha(2.0),
        )
        .unwrap();
        let predicted = sc.predict(&dense(&MULTI_X)).unwrap();
        for i in 0..24 {
            assert_eq!(
                argmax(&proba[3 * i..3 * i + 3]) as u32,
                predicted[i],
                "row {i}"
            );
        }
        // scikit-learn LogisticRegression(C=0.5) (multinomial): C = 1 / alpha.
        assert_close(&proba, &MULTI_SKLEARN.concat(), 1e-6, "proba vs sklearn");
    }

    #[test]
    fn logistic_gives_absent_classes_zero_probability() {
        // Labels 0, 1 and 3 of 4: smartcore fits three classes; class 2 gets 0.
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

    // --- linear and ridge regression ----------------------------------------------------------

    const LIN_X: [[f64; 3]; 12] = [
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
    const LIN_Y: [f64; 12] = [
        0.98, -2.14, 2.08, 1.6, 0.39, 0.89, 4.48, -2.25, -1.33, 1.61, -0.74, 3.42,
    ];

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

    // --- k-nearest neighbours -----------------------------------------------------------------

    const KNN_X: [[f64; 2]; 21] = [
        [-0.82, -0.56],
        [-1.18, -1.21],
        [-0.75, 0.66],
        [1.33, -0.02],
        [0.87, -0.21],
        [-1.53, 0.12],
        [0.36, -0.34],
        [1.74, 0.96],
        [0.81, -0.68],
        [1.32, 0.33],
        [1.22, 1.29],
        [2.88, 0.17],
        [2.06, 1.25],
        [2.07, 1.34],
        [0.19, 2.09],
        [2.12, 2.14],
        [0.0, 1.99],
        [1.51, 1.8],
        [0.05, 2.73],
        [-0.5, 1.9],
        [0.49, 0.55],
    ];
    const KNN_Y: [u32; 21] = [
        0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2,
    ];
    const KNN_Q: [[f64; 2]; 6] = [
        [1.7, 0.91],
        [-0.45, 1.14],
        [0.21, -1.11],
        [-0.02, 0.84],
        [1.17, 0.75],
        [0.64, 1.02],
    ];

    /// scikit-learn `KNeighborsClassifier(4, weights="distance", metric="euclidean")` probabilities of KNN_Q.
    #[rustfmt::skip]
    const KNN_SKLEARN_DISTANCE_EUCLIDEAN: [[f64; 3]; 6] = [
        [0.0, 1.0, 0.0],
        [0.35189605003533364, 0.0, 0.6481039499646664],
        [0.6908403382729273, 0.30915966172707254, 0.0],
        [0.27922142383391596, 0.0, 0.720778576166084],
        [0.0, 0.8024945596660538, 0.19750544033394626],
        [0.0, 0.6334653188164145, 0.3665346811835854],
    ];

    /// scikit-learn `KNeighborsClassifier(4, weights="distance", metric="manhattan")` probabilities of KNN_Q.
    #[rustfmt::skip]
    const KNN_SKLEARN_DISTANCE_MANHATTAN: [[f64; 3]; 6] = [
        [0.0, 1.0, 0.0],
        [0.3254395916052184, 0.0, 0.6745604083947816],
        [0.7119066223345495, 0.28809337766545057, 0.0],
        [0.282600396801927, 0.0, 0.7173996031980729],
        [0.0, 0.8063362968278648, 0.1936637031721352],
        [0.0, 0.6318723814081408, 0.36812761859185916],
    ];

    fn knn_params(k: usize, weights: KnnWeights, distance: KnnDistance) -> KnnParams {
        KnnParams {
            k,
            weights,
            distance,
        }
    }

    #[test]
    fn knn_classifier_matches_sklearn() {
        // scikit-learn KNeighborsClassifier(n_neighbors=4, algorithm="brute").
        let cases = [
            (
                KnnWeights::Uniform,
                KnnDistance::Euclidean,
                [
                    [0.0, 1.0, 0.0],
                    [0.25, 0.0, 0.75],
                    [0.75, 0.25, 0.0],
                    [0.25, 0.0, 0.75],
                    [0.0, 0.75, 0.25],
                    [0.0, 0.75, 0.25],
                ],
            ),
            (
                KnnWeights::Uniform,
                KnnDistance::Manhattan,
                [
                    [0.0, 1.0, 0.0],
                    [0.25, 0.0, 0.75],
                    [0.75, 0.25, 0.0],
                    [0.25, 0.0, 0.75],
                    [0.0, 0.75, 0.25],
                    [0.0, 0.75, 0.25],
                ],
            ),
            (
                KnnWeights::Distance,
                KnnDistance::Euclidean,
                KNN_SKLEARN_DISTANCE_EUCLIDEAN,
            ),
            (
                KnnWeights::Distance,
                KnnDistance::Manhattan,
                KNN_SKLEARN_DISTANCE_MANHATTAN,
            ),
        ];
        let x = matrix(&KNN_X);
        for (weights, distance, expected) in cases {
            let model =
                KnnClassifier::fit(&x, &KNN_Y, 3, &knn_params(4, weights, distance)).unwrap();
            let proba = probabilities(3, 6, |i, out| model.predict_proba_into(&KNN_Q[i], out));
            assert_close(
                &proba,
                &expected.concat(),
                1e-12,
                &format!("{weights:?} {distance:?}"),
            );
        }
    }

    #[test]
    fn knn_classifier_matches_smartcore_linear_search_including_ties() {
        // Duplicated training rows with different labels make exact distance ties: both
        // searches keep the earlier training row.
        let mut rows = KNN_X.to_vec();
        let mut labels = KNN_Y.to_vec();
        for (i, label) in [(20, 0), (3, 2), (14, 1), (9, 2)] {
            rows.push(rows[i]);
            labels.push(label);
        }
        let x = matrix(&rows);
        let mut queries = KNN_Q.to_vec();
        queries.extend([rows[20], rows[3], [0.49, 0.56]]);
        for (weights, sc_weight) in [
            (KnnWeights::Uniform, KNNWeightFunction::Uniform),
            (KnnWeights::Distance, KNNWeightFunction::Distance),
        ] {
            for k in [1, 3, 4, 7] {
                let model = KnnClassifier::fit(
                    &x,
                    &labels,
                    3,
                    &knn_params(k, weights, KnnDistance::Euclidean),
                )
                .unwrap();
                let sc = KNNClassifier::fit(
                    &dense(&rows),
                    &labels,
                    KNNClassifierParameters::default()
                        .with_k(k)
                        .with_algorithm(KNNAlgorithmName::LinearSearch)
                        .with_weight(sc_weight.clone()),
                )
                .unwrap();
                let expected = sc.predict_proba(&dense(&queries)).unwrap();
                for (q, e) in queries.iter().zip(&expected) {
                    let mut out = [0.0; 3];
                    model.predict_proba_into(q, &mut out);
                    assert_close(&out, e, 1e-12, &format!("{weights:?} k={k} {q:?}"));
                }
            }
        }
    }

    #[test]
    fn knn_regressor_matches_sklearn_and_smartcore() {
        let y = [
            -1.12, -0.91, -2.13, 2.74, 2.06, -3.39, 0.92, 2.83, 2.37, 2.25, 1.22, 5.49, 2.93, 2.67,
            -1.65, 1.78, -1.72, 1.12, -2.95, -2.94, 0.36,
        ];
        // scikit-learn KNeighborsRegressor(n_neighbors=3).
        let cases = [
            (
                KnnWeights::Uniform,
                KNNWeightFunction::Uniform,
                [
                    2.81,
                    -2.263333333333333,
                    1.7833333333333332,
                    -1.1633333333333333,
                    2.1,
                    1.2766666666666666,
                ],
            ),
            (
                KnnWeights::Distance,
                KNNWeightFunction::Distance,
                [
                    2.825870937663666,
                    -2.2846822785724044,
                    1.7669168767095962,
                    -0.9515403780147085,
                    2.085239324605406,
                    1.0728961412078195,
                ],
            ),
        ];
        let x = matrix(&KNN_X);
        for (weights, sc_weight, expected) in cases {
            let model =
                KnnRegressor::fit(&x, &y, &knn_params(3, weights, KnnDistance::Euclidean)).unwrap();
            let predicted: Vec<f64> = KNN_Q.iter().map(|q| model.predict(q)).collect();
            assert_close(&predicted, &expected, 1e-12, &format!("{weights:?}"));
            let sc = KNNRegressor::fit(
                &dense(&KNN_X),
                &y.to_vec(),
                KNNRegressorParameters::default()
                    .with_k(3)
                    .with_algorithm(KNNAlgorithmName::LinearSearch)
                    .with_weight(sc_weight),
            )
            .unwrap();
            let sc_predicted: Vec<f64> = sc.predict(&dense(&KNN_Q)).unwrap();
            assert_close(&predicted, &sc_predicted, 1e-12, "smartcore");
        }
        // A query on a training row with distance weights returns that row's target.
        let model = KnnRegressor::fit(
            &x,
            &y,
            &knn_params(3, KnnWeights::Distance, KnnDistance::Euclidean),
        )
        .unwrap();
        assert_eq!(model.predict(&KNN_X[5]), y[5]);
    }

    // --- Gaussian naive Bayes -----------------------------------------------------------------

    const NB_X: [[f64; 3]; 18] = [
        [-0.13, -1.44, 1.67],
        [0.37, 2.11, 1.03],
        [-0.32, -1.45, 1.66],
        [1.8, -0.82, 0.68],
        [0.42, -0.83, 0.86],
        [-0.24, 0.19, 1.55],
        [1.52, 1.92, -0.21],
        [1.73, -1.14, -0.72],
        [2.06, 0.41, 0.29],
        [1.88, 2.32, 0.41],
        [2.21, 0.89, -0.35],
        [0.99, 0.51, -0.56],
        [-0.38, 1.91, 2.13],
        [-0.24, 0.08, 1.96],
        [0.16, 3.08, 2.29],
        [-0.45, 1.28, 3.01],
        [0.53, 3.83, 3.06],
        [-0.57, 2.39, 2.23],
    ];
    const NB_Y: [u32; 18] = [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2];
    const NB_Q: [[f64; 3]; 5] = [
        [1.17, 1.65, 1.24],
        [0.71, -0.8, 0.8],
        [-0.4, 1.15, 0.44],
        [1.24, 1.98, 1.37],
        [0.88, 1.11, 0.46],
    ];

    /// scikit-learn `GaussianNB()` probabilities of the rows of NB_X.
    #[rustfmt::skip]
    const NB_SKLEARN_TRAIN: [[f64; 3]; 18] = [
        [0.9848389745897028, 6.291805851354448e-10, 0.015161024781116533],
        [0.974853399104604, 0.0003260942868329481, 0.024820506608562953],
        [0.9844541896263773, 7.92168271920808e-11, 0.01554581029440598],
        [0.3679689744334045, 0.6320310251641253, 4.0247000489275653e-10],
        [0.9997400690609307, 0.00020326849555049806, 5.666244351893666e-05],
        [0.8970307134287998, 2.216275498673048e-09, 0.10296928435492465],
        [5.97715622631795e-05, 0.9999402284371786, 5.583937820503926e-13],
        [3.8858206113798016e-06, 0.9999961141793884, 2.1727736756911865e-18],
        [0.003964925683590586, 0.996035074316221, 1.8848039017530548e-13],
        [0.0039866171382921525, 0.9960133827964641, 6.524373982386214e-11],
        [7.993140606568294e-06, 0.9999920068593935, 3.994024093816193e-18],
        [8.900904678774009e-05, 0.9999109909523963, 8.158154145648941e-13],
        [0.008444687559377615, 1.3940452538285086e-13, 0.9915553124404829],
        [0.3746743052017328, 3.069559752158778e-11, 0.6253256947675714],
        [0.0007497095625515727, 2.229544177209951e-12, 0.9992502904352188],
        [2.9316507129131066e-05, 1.5437461582361046e-19, 0.9999706834928711],
        [2.0884392839931873e-06, 5.978070831875871e-16, 0.9999979115607157],
        [0.0021260642240626994, 2.0224409700514045e-15, 0.9978739357759353],
    ];

    /// scikit-learn `GaussianNB()` probabilities of NB_Q.
    #[rustfmt::skip]
    const NB_SKLEARN_QUERY: [[f64; 3]; 5] = [
        [0.9885211623887863, 0.01086969258244968, 0.0006091450287640505],
        [0.9966334719978275, 0.003355193730773005, 1.1334271399566576e-05],
        [0.9995006537678647, 9.356131330316966e-06, 0.0004899901008053121],
        [0.9920216498662259, 0.006524474878474518, 0.001453875255300062],
        [0.48873478382536145, 0.5112586047993655, 6.6113752727982345e-06],
    ];

    /// scikit-learn `GaussianNB(var_smoothing=0.5)` probabilities of NB_Q.
    #[rustfmt::skip]
    const NB_SKLEARN_QUERY_SMOOTH: [[f64; 3]; 5] = [
        [0.33113671301958736, 0.37653857406393776, 0.29232471291647455],
        [0.6813355475601637, 0.2643306050809548, 0.0543338473588814],
        [0.5190776284673216, 0.22238669690126484, 0.2585356746314132],
        [0.2865434892864571, 0.3455421564824226, 0.36791435423111996],
        [0.34751036813287994, 0.5419956555348923, 0.11049397633222777],
    ];

    #[test]
    fn gaussian_nb_matches_sklearn() {
        let x = matrix(&NB_X);
        // scikit-learn GaussianNB(var_smoothing=...).predict_proba on the training rows and
        // on NB_Q.
        let model = GaussianNb::fit(&x, &NB_Y, 3, &GaussianNbParams::default()).unwrap();
        let train = probabilities(3, 18, |i, out| model.predict_proba_into(&x.row(i), out));
        assert_close(&train, &NB_SKLEARN_TRAIN.concat(), 1e-12, "train (1e-9)");
        let query = probabilities(3, 5, |i, out| model.predict_proba_into(&NB_Q[i], out));
        assert_close(&query, &NB_SKLEARN_QUERY.concat(), 1e-12, "query (1e-9)");
        let model =
            GaussianNb::fit(&x, &NB_Y, 3, &GaussianNbParams { var_smoothing: 0.5 }).unwrap();
        let query = probabilities(3, 5, |i, out| model.predict_proba_into(&NB_Q[i], out));
        assert_close(
            &query,
            &NB_SKLEARN_QUERY_SMOOTH.concat(),
            1e-12,
            "query (0.5)",
        );
        // sklearn's var_ with var_smoothing=0.5: the smoothing is the same for every entry.
        assert_close(
            &model.variances()[..3],
            &[1.7400722222222225, 2.7502055555555556, 1.378563888888889],
            1e-12,
            "variances",
        );
    }

    #[test]
    fn gaussian_nb_without_smoothing_agrees_with_smartcore() {
        let x = matrix(&NB_X);
        let model =
            GaussianNb::fit(&x, &NB_Y, 3, &GaussianNbParams { var_smoothing: 0.0 }).unwrap();
        assert_eq!(model.epsilon(), 0.0);
        let sc = ScGaussianNb::<f64, u32, DenseMatrix<f64>, Vec<u32>>::fit(
            &dense(&NB_X),
            &NB_Y.to_vec(),
            GaussianNBParameters::default(),
        )
        .unwrap();
        let flat = |v: &Vec<Vec<f64>>| v.concat();
        assert_close(model.means(), &flat(sc.theta()), 1e-12, "means");
        assert_close(model.variances(), &flat(sc.var()), 1e-12, "variances");
        let mut queries: Vec<[f64; 3]> = NB_X.to_vec();
        queries.extend(NB_Q);
        let predicted = sc.predict(&dense(&queries)).unwrap();
        for (q, &label) in queries.iter().zip(&predicted) {
            let mut out = [0.0; 3];
            model.predict_proba_into(q, &mut out);
            assert_eq!(argmax(&out) as u32, label, "{q:?}");
        }
        // The default smoothing changes no prediction here either.
        let model = GaussianNb::fit(&x, &NB_Y, 3, &GaussianNbParams::default()).unwrap();
        for (q, &label) in queries.iter().zip(&predicted) {
            let mut out = [0.0; 3];
            model.predict_proba_into(q, &mut out);
            assert_eq!(argmax(&out) as u32, label, "{q:?}");
        }
    }

    #[test]
    fn gaussian_nb_handles_large_offsets_and_constant_features() {
        // A feature around 1e9 with unit spread: E[x²] - E[x]² (smartcore) loses it all; the
        // two-pass variance does not. Feature 1 is constant within each class (one-hot like).
        let rows: Vec<[f64; 2]> = (0..12)
            .map(|i| {
                let class = i % 2;
                [1e9 + (i as f64) * 0.5 + class as f64 * 3.0, class as f64]
            })
            .collect();
        let y: Vec<u32> = (0..12).map(|i| i % 2).collect();
        let model = GaussianNb::fit(&matrix(&rows), &y, 2, &GaussianNbParams::default()).unwrap();
        // Class 0 rows are i = 0, 2, ..., 10: values 1e9 + 0, 1, ..., 5 → variance 35/12.
        assert!((model.variances()[0] - 35.0 / 12.0).abs() < 1e-6);
        let mut out = [0.0; 2];
        model.predict_proba_into(&rows[3], &mut out);
        assert!(out[1] > 0.99 && out.iter().all(|p| p.is_finite()));
        // A row far outside the data (every log-likelihood -inf) gets no NaN.
        model.predict_proba_into(&[1e200, 0.0], &mut out);
        assert_eq!(out, [0.5, 0.5]);
        // Without smoothing, the within-class constant feature is an error naming it.
        let error = GaussianNb::fit(
            &matrix(&rows),
            &y,
            2,
            &GaussianNbParams { var_smoothing: 0.0 },
        )
        .unwrap_err();
        let message = data_message(error);
        assert!(message.contains("feature 1"), "{message}");
    }

    // --- serialization ------------------------------------------------------------------------

    fn round_trip<T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(
        model: &T,
        refit: &T,
    ) -> T {
        let bytes = postcard::to_stdvec(model).unwrap();
        assert_eq!(
            bytes,
            postcard::to_stdvec(refit).unwrap(),
            "refit bytes differ"
        );
        let back: T = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(&back, model);
        back
    }

    #[test]
    fn postcard_round_trip_and_refit_give_identical_bytes_and_predictions() {
        let check_proba = |a: &dyn Fn(&[f64], &mut [f64]),
                           b: &dyn Fn(&[f64], &mut [f64]),
                           rows: &[Vec<f64>],
                           n: usize| {
            for row in rows {
                let (mut pa, mut pb) = (vec![0.0; n], vec![0.0; n]);
                a(row, &mut pa);
                b(row, &mut pb);
                assert_eq!(pa, pb);
            }
        };

        let x = matrix(&MULTI_X);
        let rows: Vec<Vec<f64>> = (0..x.rows).map(|i| x.row(i)).collect();
        let p = LogisticParams { alpha: 0.5 };
        let fit = || LogisticRegression::fit(&x, &MULTI_Y, 3, &p).unwrap();
        let (model, back) = (fit(), round_trip(&fit(), &fit()));
        check_proba(
            &|r, o| model.predict_proba_into(r, o),
            &|r, o| back.predict_proba_into(r, o),
            &rows,
            3,
        );

        let fit = || GaussianNb::fit(&x, &MULTI_Y, 3, &GaussianNbParams::default()).unwrap();
        let (model, back) = (fit(), round_trip(&fit(), &fit()));
        check_proba(
            &|r, o| model.predict_proba_into(r, o),
            &|r, o| back.predict_proba_into(r, o),
            &rows,
            3,
        );

        let p = knn_params(5, KnnWeights::Distance, KnnDistance::Euclidean);
        let fit = || KnnClassifier::fit(&x, &MULTI_Y, 3, &p).unwrap();
        let (model, back) = (fit(), round_trip(&fit(), &fit()));
        check_proba(
            &|r, o| model.predict_proba_into(r, o),
            &|r, o| back.predict_proba_into(r, o),
            &rows,
            3,
        );

        let x = matrix(&LIN_X);
        let rows: Vec<Vec<f64>> = (0..x.rows).map(|i| x.row(i)).collect();
        let fit = || LinearRegression::fit(&x, &LIN_Y, &LinearParams::default()).unwrap();
        let (model, back) = (fit(), round_trip(&fit(), &fit()));
        assert!(rows.iter().all(|r| model.predict(r) == back.predict(r)));
        let fit = || RidgeRegression::fit(&x, &LIN_Y, &RidgeParams::default()).unwrap();
        let (model, back) = (fit(), round_trip(&fit(), &fit()));
        assert!(rows.iter().all(|r| model.predict(r) == back.predict(r)));
        let fit = || KnnRegressor::fit(&x, &LIN_Y, &KnnParams::default()).unwrap();
        let (model, back) = (fit(), round_trip(&fit(), &fit()));
        assert!(rows.iter().all(|r| model.predict(r) == back.predict(r)));
    }

    #[test]
    fn params_deserialize_from_partial_json_with_defaults() {
        let p: KnnParams = serde_json::from_str(r#"{"k": 7, "weights": "distance"}"#).unwrap();
        assert_eq!(
            p,
            knn_params(7, KnnWeights::Distance, KnnDistance::Euclidean)
        );
        let p: RidgeParams = serde_json::from_str(r#"{"solver": "svd"}"#).unwrap();
        assert_eq!(p.alpha, 1.0);
        assert!(serde_json::from_str::<LogisticParams>(r#"{"C": 1}"#).is_err());
    }

    // --- errors -------------------------------------------------------------------------------

    #[test]
    fn bad_params_name_the_param() {
        let x = matrix(&LOGIT_X);
        for alpha in [-1.0, f64::NAN, f64::INFINITY] {
            let e = LogisticRegression::fit(&x, &LOGIT_Y, 2, &LogisticParams { alpha });
            assert_eq!(param_name(e.unwrap_err()), "alpha");
            let p = RidgeParams {
                alpha,
                ..RidgeParams::default()
            };
            let e = RidgeRegression::fit(&x, &[0.0; 20], &p);
            assert_eq!(param_name(e.unwrap_err()), "alpha");
            let p = GaussianNbParams {
                var_smoothing: alpha,
            };
            let e = GaussianNb::fit(&x, &LOGIT_Y, 2, &p);
            assert_eq!(param_name(e.unwrap_err()), "var_smoothing");
        }
        for k in [0, 21, 1000] {
            let p = KnnParams {
                k,
                ..KnnParams::default()
            };
            let e = KnnClassifier::fit(&x, &LOGIT_Y, 2, &p).unwrap_err();
            assert_eq!(param_name(e), "k");
            let e = KnnRegressor::fit(&x, &[0.0; 20], &p).unwrap_err();
            assert_eq!(param_name(e), "k");
        }
        let p = KnnParams {
            k: 20,
            ..KnnParams::default()
        };
        assert!(KnnClassifier::fit(&x, &LOGIT_Y, 2, &p).is_ok());
    }

    #[test]
    fn bad_data_is_a_data_error_not_a_panic() {
        let x = matrix(&LOGIT_X);
        let y = LOGIT_Y;
        let reg_y = [1.0; 20];
        type Fit<'a> = Box<dyn Fn(&Matrix, &[u32], &[f64], usize) -> Result<(), FitError> + 'a>;
        let fits: Vec<(&str, Fit)> = vec![
            (
                "logistic",
                Box::new(|x, y, _, n| {
                    LogisticRegression::fit(x, y, n, &LogisticParams::default()).map(drop)
                }),
            ),
            (
                "knn",
                Box::new(|x, y, _, n| {
                    let p = KnnParams {
                        k: 1,
                        ..KnnParams::default()
                    };
                    KnnClassifier::fit(x, y, n, &p).map(drop)
                }),
            ),
            (
                "nb",
                Box::new(|x, y, _, n| {
                    GaussianNb::fit(x, y, n, &GaussianNbParams::default()).map(drop)
                }),
            ),
            (
                "linear",
                Box::new(|x, _, t, _| {
                    LinearRegression::fit(x, t, &LinearParams::default()).map(drop)
                }),
            ),
            (
                "ridge",
                Box::new(|x, _, t, _| {
                    RidgeRegression::fit(x, t, &RidgeParams::default()).map(drop)
                }),
            ),
            (
                "knn regressor",
                Box::new(|x, _, t, _| {
                    let p = KnnParams {
                        k: 1,
                        ..KnnParams::default()
                    };
                    KnnRegressor::fit(x, t, &p).map(drop)
                }),
            ),
        ];
        let mut nan = x.clone();
        nan.columns[1][7] = f64::NAN;
        let mut ragged = x.clone();
        ragged.columns[1].pop();
        let no_columns = Matrix {
            columns: vec![],
            rows: 20,
        };
        let mut bad_target = reg_y;
        bad_target[3] = f64::INFINITY;
        let classifier_only = ["logistic", "knn", "nb"];
        /// A name, the features, class labels, regression targets and the number of classes.
        type Case = (&'static str, Matrix, Vec<u32>, Vec<f64>, usize);
        for (name, fit) in &fits {
            let cases: [Case; 5] = [
                (
                    "no rows",
                    Matrix::new(vec![vec![], vec![]]),
                    vec![],
                    vec![],
                    2,
                ),
                (
                    "no columns",
                    no_columns.clone(),
                    y.to_vec(),
                    reg_y.to_vec(),
                    2,
                ),
                ("NaN", nan.clone(), y.to_vec(), reg_y.to_vec(), 2),
                ("ragged", ragged.clone(), y.to_vec(), reg_y.to_vec(), 2),
                (
                    "short target",
                    x.clone(),
                    y[..19].to_vec(),
                    reg_y[..19].to_vec(),
                    2,
                ),
            ];
            for (case, x, y, t, n) in cases {
                let e = fit(&x, &y, &t, n).unwrap_err();
                assert!(matches!(e, FitError::Data(_)), "{name} / {case}: {e:?}");
            }
            if classifier_only.contains(name) {
                let one_class = [1u32; 20];
                let message = data_message(fit(&x, &one_class, &reg_y, 2).unwrap_err());
                assert!(message.contains("two classes"), "{name}: {message}");
                let message = data_message(fit(&x, &y, &reg_y, 1).unwrap_err());
                assert!(message.contains("out of range"), "{name}: {message}");
            } else {
                let e = fit(&x, &y, &bad_target, 2).unwrap_err();
                assert!(matches!(e, FitError::Data(_)), "{name}: {e:?}");
            }
        }
        // Values too large for smartcore's solvers (its SVD would panic).
        let mut huge = x.clone();
        huge.columns[0][2] = 3e150;
        let message = data_message(
            LinearRegression::fit(&huge, &reg_y, &LinearParams::default()).unwrap_err(),
        );
        assert!(message.contains("feature column 0"), "{message}");
        let e = RidgeRegression::fit(&x, &[-2e200; 20], &RidgeParams::default()).unwrap_err();
        assert!(data_message(e).contains("target"));
        let e = LogisticRegression::fit(&huge, &y, 2, &LogisticParams::default()).unwrap_err();
        assert!(matches!(e, FitError::Data(_)));
        // k-NN has no such limit: distances that overflow to infinity still give neighbours.
        let p = knn_params(3, KnnWeights::Distance, KnnDistance::Euclidean);
        let mut far = x.clone();
        far.columns[0].iter_mut().for_each(|v| *v *= 1e307);
        let model = KnnClassifier::fit(&far, &y, 2, &p).unwrap();
        let mut out = [0.0; 2];
        model.predict_proba_into(&[-1.7e308, 1.7e308], &mut out);
        assert!(out.iter().all(|p| p.is_finite()) && (out[0] + out[1] - 1.0).abs() < 1e-12);
        // Too few rows for the linear models.
        let small = x.take(&[0, 1]);
        let e = LinearRegression::fit(&small, &[1.0, 2.0], &LinearParams::default());
        assert!(data_message(e.unwrap_err()).contains("at least 3 rows"));
        let e = RidgeRegression::fit(&small, &[1.0, 2.0], &RidgeParams::default());
        assert!(data_message(e.unwrap_err()).contains("more rows than features"));
        // Ridge with alpha = 0 on a constant feature: singular for Cholesky.
        let mut constant = matrix(&LIN_X);
        constant.columns.push(vec![1.0; 12]);
        let p = RidgeParams {
            alpha: 0.0,
            solver: RidgeSolver::Cholesky,
        };
        let e = RidgeRegression::fit(&constant, &LIN_Y, &p).unwrap_err();
        assert!(matches!(e, FitError::Data(_)), "{e:?}");
    }

    #[test]
    fn a_panic_inside_a_guarded_fit_is_known_to_be_caught() {
        assert!(!panic_is_caught());
        let result: Result<(), FitError> = guarded("a fit", || {
            assert!(panic_is_caught());
            panic!("smartcore gave up")
        });
        match result {
            Err(FitError::Data(message)) => assert!(message.contains("smartcore gave up")),
            other => panic!("expected a data error, got {other:?}"),
        }
        assert!(!panic_is_caught(), "outside the guard again");
    }
}
