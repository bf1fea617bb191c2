//! Linear models: logistic regression and least squares (linear and ridge regression).
//!
//! Every model here is a plain serde struct that holds its fitted state in `Vec`s (no maps), so
//! postcard bytes of the same fit are the same bytes. Models predict one row at a time from
//! their own state; smartcore is used to fit least squares, and only to fit.
//!
//! | model | fitted by | how it differs from smartcore's estimator |
//! |---|---|---|
//! | [`LogisticRegression`] | cairn (Newton's method, `logistic/newton.rs`) | probabilities (smartcore only predicts labels); the exact optimum in a few iterations, in parallel, the same at any thread count |
//! | [`LinearRegression`] | smartcore (SVD or QR) on centred data | collinear features get scikit-learn's minimum-norm solution; the QR solver reports them instead of returning huge coefficients |
//! | [`RidgeRegression`] | smartcore (Cholesky or SVD) on centred data | scikit-learn's penalty on raw features with an unpenalised intercept (smartcore penalises standardised features, or drops the intercept) |
//!
//! k-nearest neighbours are in [`crate::knn`], Gaussian naive Bayes in [`crate::naive_bayes`];
//! the input rules every model shares, and the guard around smartcore's fits, in
//! [`crate::guard`]. Classifiers take labels `0..n_classes`; a label in `0..n_classes` that does
//! not occur in `y` gets probability 0.
//!
//! Prediction methods take a row of `n_features` values and panic if it has another length (and,
//! for probabilities, if `out` is not `n_classes` long): that is a caller bug, not bad data.

mod least_squares;
mod logistic;

pub use self::least_squares::{
    LinearParams, LinearRegression, LinearSolver, RidgeParams, RidgeRegression, RidgeSolver,
};
pub use self::logistic::{LogisticParams, LogisticRegression, LogisticReport, Stop};
