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
//! `x.rows` long, every value finite, and the target as long as `x`. Classifiers take labels
//! `0..n_classes` and need at least two distinct labels in `y`; a label in `0..n_classes` that
//! does not occur in `y` gets probability 0. Violations are [`FitError::Data`]; a parameter out
//! of range is [`FitError::Param`] naming the field of the params struct. Fitting never panics.
//!
//! Prediction methods take a row of `n_features` values and panic if it has another length (and,
//! for probabilities, if `out` is not `n_classes` long): that is a caller bug, not bad data.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use serde::{Deserialize, Serialize};
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
        let classes = check_labels(y, x.rows, n_classes)?;
        let dense = dense_matrix(x)?;
        let params = LogisticRegressionParameters::default().with_alpha(p.alpha);
        let model = ScLogisticRegression::<f64, u32, DenseMatrix<f64>, Vec<u32>>::fit(
            &dense,
            &y.to_vec(),
            params,
        )
        .map_err(|e| FitError::Data(format!("logistic regression failed: {e}")))?;

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
        if !coefficients.iter().chain(&intercepts).all(|v| v.is_finite()) {
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
        let score = |r: usize| dot(&self.coefficients[r * p..(r + 1) * p], row) + self.intercepts[r];
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
    /// the minimum-norm solution, like `numpy.linalg.lstsq` and scikit-learn.
    #[default]
    Svd,
    /// Householder QR: faster, but fails with [`FitError::Data`] when the features are
    /// collinear (or one is constant).
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
        let (rows, cols) = (x.rows, x.cols());
        if rows < cols + 1 {
            return Err(FitError::Data(format!(
                "linear regression needs at least {} rows for {cols} features (one more than \
                 the number of features), got {rows}",
                cols + 1
            )));
        }
        let centred = Centred::new(x, y);
        let dense = centred.dense()?;
        if p.solver == LinearSolver::Qr {
            check_full_rank(&dense)?;
        }
        let solver = match p.solver {
            LinearSolver::Svd => LinearRegressionSolverName::SVD,
            LinearSolver::Qr => LinearRegressionSolverName::QR,
        };
        let params = LinearRegressionParameters::default().with_solver(solver);
        let model = ScLinearRegression::<f64, f64, DenseMatrix<f64>, Vec<f64>>::fit(
            &dense,
            &centred.y,
            params,
        )
        .map_err(|e| FitError::Data(format!("linear regression failed: {e}")))?;
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
        let (rows, cols) = (x.rows, x.cols());
        if rows <= cols {
            return Err(FitError::Data(format!(
                "ridge regression needs more rows than features: {cols} features, {rows} rows"
            )));
        }
        let centred = Centred::new(x, y);
        let dense = centred.dense()?;
        let solver = match p.solver {
            RidgeSolver::Cholesky => RidgeRegressionSolverName::Cholesky,
            RidgeSolver::Svd => RidgeRegressionSolverName::SVD,
        };
        let params = RidgeRegressionParameters::default()
            .with_alpha(p.alpha)
            .with_solver(solver)
            .with_normalize(false);
        let model = ScRidgeRegression::<f64, f64, DenseMatrix<f64>, Vec<f64>>::fit(
            &dense,
            &centred.y,
            params,
        )
        .map_err(|e| {
            FitError::Data(format!(
                "ridge regression failed: {e}{}",
                if p.alpha == 0.0 {
                    " (with alpha = 0, collinear or constant features make the system singular)"
                } else {
                    ""
                }
            ))
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
    rows: usize,
    cols: usize,
    x: Vec<f64>,
    x_mean: Vec<f64>,
    y: Vec<f64>,
    y_mean: f64,
}

impl Centred {
    fn new(x: &Matrix, y: &[f64]) -> Centred {
        let x_mean: Vec<f64> = x.columns.iter().map(|c| mean(c)).collect();
        let mut values = Vec::with_capacity(x.rows * x.cols());
        for (column, m) in x.columns.iter().zip(&x_mean) {
            values.extend(column.iter().map(|v| v - m));
        }
        let y_mean = mean(y);
        Centred {
            rows: x.rows,
            cols: x.cols(),
            x: values,
            x_mean,
            y: y.iter().map(|v| v - y_mean).collect(),
            y_mean,
        }
    }

    fn dense(&self) -> Result<DenseMatrix<f64>, FitError> {
        DenseMatrix::new(self.rows, self.cols, self.x.clone(), true)
            .map_err(|e| FitError::Data(format!("cannot build the feature matrix: {e}")))
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
    let qr = a
        .qr()
        .map_err(|e| FitError::Data(format!("QR decomposition failed: {e}")))?;
    let r = qr.R();
    let diag: Vec<f64> = (0..cols).map(|j| r.get((j, j)).abs()).collect();
    let largest = diag.iter().copied().fold(0.0, f64::max);
    let tolerance = largest * rows.max(cols) as f64 * f64::EPSILON;
    if let Some(j) = diag.iter().position(|&d| !(d > tolerance)) {
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
            // A row is admitted only if strictly closer than the current k-th neighbour: on a
            // tie the earlier row (already in the heap) wins.
            let bound = if heap.len() == k {
                heap.peek().map_or(f64::INFINITY, |c| c.distance)
            } else {
                f64::INFINITY
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
    fn partial_distance(&self, a: &[f64], b: &[f64], bound: f64) -> Option<f64> {
        let mut sum = 0.0;
        for (x, y) in a.iter().zip(b) {
            let d = x - y;
            sum += match self.params.distance {
                KnnDistance::Euclidean => d * d,
                KnnDistance::Manhattan => d.abs(),
            };
            if sum >= bound {
                return None;
            }
        }
        Some(sum)
    }

    /// The weights of `found`, in the same order (not normalised).
    fn weights(&self, found: &[Candidate]) -> Vec<f64> {
        match self.params.weights {
            KnnWeights::Uniform => vec![1.0; found.len()],
            KnnWeights::Distance => {
                if found.iter().any(|c| c.distance == 0.0) {
                    found
                        .iter()
                        .map(|c| if c.distance == 0.0 { 1.0 } else { 0.0 })
                        .collect()
                } else {
                    found.iter().map(|c| 1.0 / c.distance).collect()
                }
            }
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
    pub fn fit(
        x: &Matrix,
        y: &[u32],
        n_classes: usize,
        p: &KnnParams,
    ) -> Result<Self, FitError> {
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
                if !(var > 0.0) {
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
        return Err(FitError::Data("the training data has no feature columns".into()));
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
            Some(c) => format!(
                "every training row has class {c}; a classifier needs at least two classes"
            ),
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
    let (n, sum) = values.clone().fold((0usize, 0.0), |(n, s), v| (n + 1, s + v));
    let m = sum / n as f64;
    values.map(|v| (v - m) * (v - m)).sum::<f64>() / n as f64
}

/// `1 / (1 + e^-z)`, without smartcore's clamping to exactly 0 and 1 beyond |z| > 40.
fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Softmax of `scores` written to `out[classes[r]]`; other entries of `out` are left alone.
fn softmax_into(scores: &[f64], classes: &[u32], out: &mut [f64]) {
    let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let exps: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
    let total: f64 = exps.iter().sum();
    for (e, &c) in exps.iter().zip(classes) {
        out[c as usize] = e / total;
    }
}
