//! What every fit checks first, and the guard around smartcore's fits.
//!
//! Common input rules: `x` must have at least one row and one feature column, every column
//! `x.rows` long, every value finite (and at most [`MAX_MAGNITUDE`] in absolute value, target
//! included, for the models fitted by a solver that sums squares of the values: least squares
//! and logistic regression), and the target as long as `x`. Classifiers take labels
//! `0..n_classes` and need at least two distinct labels in `y`. Violations are
//! [`FitError::Data`]; a parameter out of range is [`FitError::Param`] naming the field of the
//! params struct. Fitting never panics: smartcore's fits run inside `guarded`, which turns an
//! unexpected panic into an error.

use std::panic::{self, AssertUnwindSafe};

use smartcore::error::Failed;

use crate::{FitError, Matrix};

pub(crate) fn param(name: &str, message: impl Into<String>) -> FitError {
    FitError::Param {
        name: name.to_string(),
        message: message.into(),
    }
}

/// At least one row and one column, every column `x.rows` long, every value finite.
pub(crate) fn check_x(x: &Matrix) -> Result<(), FitError> {
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

/// The largest magnitude of a feature value (or regression target) that least squares and
/// logistic regression accept. Beyond it, sums of squares inside the solvers can overflow:
/// smartcore's SVD then panics ("no convergence"), and the logistic solver's curvature sums
/// (squares of feature values, summed over rows) would reach infinity.
pub const MAX_MAGNITUDE: f64 = 1e100;

pub(crate) fn check_magnitude(x: &Matrix, y: Option<&[f64]>) -> Result<(), FitError> {
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
pub(crate) fn guarded<T>(
    what: &str,
    fit: impl FnOnce() -> Result<T, Failed>,
) -> Result<T, FitError> {
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

pub(crate) fn check_target(y: &[f64], rows: usize) -> Result<(), FitError> {
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
pub(crate) fn check_labels(y: &[u32], rows: usize, n_classes: usize) -> Result<Vec<u32>, FitError> {
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

#[cfg(test)]
mod tests;
