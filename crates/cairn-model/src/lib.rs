//! The model artifact: algorithms (smartcore's, and a parallel histogram forest of cairn's own),
//! the input schema and the preprocessing that training applied, metrics, and a deterministic
//! serialization (same fit → same bytes → same digest).
//!
//! The algorithms, by family: [`forest`] (random forests and single trees, grown by [`tree`]),
//! [`linear`] (logistic regression, linear and ridge regression), [`knn`] and [`naive_bayes`];
//! [`guard`] holds the input rules they share. [`estimator`] puts them behind one enum with
//! params read by name; [`artifact`] stores a fitted model.
//!
//! Libraries never print: fitting reports progress through a callback.

pub mod artifact;
pub mod estimator;
pub mod forest;
pub mod guard;
pub mod knn;
pub mod linear;
mod math;
pub mod metrics;
pub mod naive_bayes;
pub mod prep;
pub mod tree;

#[cfg(test)]
mod test_util;
#[cfg(test)]
mod tests;

/// A column-major feature matrix: `columns[j][i]` is feature `j` of row `i`. Every column has
/// `rows` values and none is NaN: missing values are imputed before a matrix is built.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Matrix {
    pub columns: Vec<Vec<f64>>,
    pub rows: usize,
}

impl Matrix {
    pub fn new(columns: Vec<Vec<f64>>) -> Matrix {
        let rows = columns.first().map_or(0, Vec::len);
        debug_assert!(columns.iter().all(|c| c.len() == rows));
        Matrix { columns, rows }
    }

    pub fn cols(&self) -> usize {
        self.columns.len()
    }

    /// Row `i` as a vector (feature order).
    pub fn row(&self, i: usize) -> Vec<f64> {
        self.columns.iter().map(|c| c[i]).collect()
    }

    /// The rows at `indices`, in that order.
    pub fn take(&self, indices: &[usize]) -> Matrix {
        Matrix {
            columns: self
                .columns
                .iter()
                .map(|c| indices.iter().map(|&i| c[i]).collect())
                .collect(),
            rows: indices.len(),
        }
    }
}

/// Why a fit failed.
#[derive(Debug, thiserror::Error)]
pub enum FitError {
    /// A parameter value the algorithm rejects; `name` is the user-facing param name.
    #[error("param `{name}`: {message}")]
    Param { name: String, message: String },
    /// The data cannot be fitted (no rows, one class, singular matrix...).
    #[error("{0}")]
    Data(String),
}
