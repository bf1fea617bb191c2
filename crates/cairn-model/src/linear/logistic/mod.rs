//! Logistic regression: [`LogisticRegression`], fitted by cairn's own Newton solver (see
//! `newton.rs` for the method, its tolerance and its iteration cap).

mod newton;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

pub use self::newton::Stop;
use self::newton::{MAX_ITERATIONS, Method, Problem, TOLERANCE};
use crate::guard::{check_labels, check_magnitude, check_x, param};
use crate::math::{dot, sigmoid, softmax_into};
use crate::{FitError, Matrix};

/// Parameters of [`LogisticRegression`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogisticParams {
    /// L2 penalty on the coefficients (not on the intercepts): the objective is the summed log
    /// loss plus `alpha / 2 * ||w||²`. scikit-learn's `C` is `1 / alpha` (its objective is
    /// `C ×` the summed log loss plus `½ ||w||²`, the same minimum). Default 0: no penalty
    /// (scikit-learn's default is `C = 1`, i.e. `alpha = 1`). Must be finite and `>= 0`. With
    /// `alpha = 0` on separable data the coefficients grow until the solver stops (the gradient
    /// vanishes as the probabilities approach 0 and 1) and stay finite.
    pub alpha: f64,
}

impl Default for LogisticParams {
    fn default() -> Self {
        LogisticParams { alpha: 0.0 }
    }
}

/// How a fit went.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogisticReport {
    /// Newton iterations run (at most 100).
    pub iterations: usize,
    /// Why the solver stopped.
    pub stop: Stop,
    /// The largest gradient component of the objective divided by the number of rows, at the
    /// solution (the solver aims for 1e-8).
    pub gradient: f64,
}

impl LogisticReport {
    /// The solver's iteration cap.
    pub const MAX_ITERATIONS: usize = MAX_ITERATIONS;
    /// The solver's gradient tolerance (see [`LogisticReport::gradient`]).
    pub const TOLERANCE: f64 = TOLERANCE;
}

/// Logistic regression: a sigmoid of one linear function for two classes, a softmax over one
/// linear function per class for more (the multinomial model, scikit-learn's: K weight vectors,
/// the softmax of the K scores, the penalty on all K vectors; the solution has, for every
/// feature and for the intercepts, a sum over the classes of 0, as scikit-learn's does).
///
/// Fitted by Newton's method with a line search (`newton.rs`): the exact optimum of the
/// objective to a gradient of 1e-8 per row, in typically 5 to 15 iterations, with no need to
/// scale the features. The result does not depend on the number of threads. The most probable
/// class is the prediction (lowest label on ties).
///
/// Compared with scikit-learn's `LogisticRegression`: the same model and objective for
/// `alpha = 1 / C`, but the default is no penalty; scikit-learn's default solver (L-BFGS,
/// `tol = 1e-4`, 100 iterations) stops further from the optimum. Artifacts written before
/// cairn fitted logistic regression itself (smartcore's L-BFGS) hold the same fields and read
/// the same.
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
        Self::fit_report(x, y, n_classes, p).map(|(model, _)| model)
    }

    /// [`LogisticRegression::fit`], and how the solver went.
    pub fn fit_report(
        x: &Matrix,
        y: &[u32],
        n_classes: usize,
        p: &LogisticParams,
    ) -> Result<(Self, LogisticReport), FitError> {
        Self::fit_with(x, y, n_classes, p, None)
    }

    /// The fit, solving the Newton system the way `method` says (tests compare both), or the
    /// way that suits the number of parameters.
    pub(crate) fn fit_with(
        x: &Matrix,
        y: &[u32],
        n_classes: usize,
        p: &LogisticParams,
        method: Option<Method>,
    ) -> Result<(Self, LogisticReport), FitError> {
        if !(p.alpha.is_finite() && p.alpha >= 0.0) {
            return Err(param(
                "alpha",
                format!("must be a finite number >= 0, got {}", p.alpha),
            ));
        }
        check_x(x)?;
        check_magnitude(x, None)?;
        let classes = check_labels(y, x.rows, n_classes)?;
        let mut slot_of = vec![0u32; n_classes];
        for (s, &c) in classes.iter().enumerate() {
            slot_of[c as usize] = s as u32;
        }
        let slots: Vec<u32> = y.iter().map(|&c| slot_of[c as usize]).collect();
        let problem = Problem {
            x,
            slots: &slots,
            n_present: classes.len(),
            alpha: p.alpha,
        };
        let n_features = x.cols();
        let functions = if classes.len() == 2 { 1 } else { classes.len() };
        let method = method.unwrap_or(Method::for_size((n_features + 1) * functions));
        let solution = newton::solve(&problem, method);
        let mut coefficients = Vec::with_capacity(solution.theta.len());
        let mut intercepts = Vec::new();
        for function in solution.theta.chunks_exact(n_features + 1) {
            coefficients.extend_from_slice(&function[..n_features]);
            intercepts.push(function[n_features]);
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
        let report = LogisticReport {
            iterations: solution.iterations,
            stop: solution.stop,
            gradient: solution.gradient,
        };
        let model = LogisticRegression {
            n_classes,
            n_features,
            classes,
            coefficients,
            intercepts,
        };
        Ok((model, report))
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
