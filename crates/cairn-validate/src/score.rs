//! A model's predictions on the rows with their true target, and metrics of them: on all rows
//! or on a subset (a fairness group), computed as training's evaluation computes them.

use cairn_core::models::Metric;
use cairn_model::artifact::Predictions;
use cairn_model::metrics::{self, ClassificationMetrics, RegressionMetrics};

use crate::data::Truth;

/// The metrics of a set of rows.
pub(crate) enum Measures {
    Classes(ClassificationMetrics),
    Values(RegressionMetrics),
    /// Predictions of another task than the truth's (not measurable).
    Mismatch,
}

impl Measures {
    pub(crate) fn get(&self, metric: Metric) -> Option<f64> {
        match self {
            Measures::Classes(m) => m.get(metric),
            Measures::Values(m) => m.get(metric),
            Measures::Mismatch => None,
        }
        .filter(|v| v.is_finite())
    }
}

/// Predictions with the truth of the same rows.
pub(crate) struct Scored<'a> {
    pub truth: &'a Truth,
    pub predictions: &'a Predictions,
}

impl Scored<'_> {
    /// The metrics on every row.
    pub(crate) fn all(&self) -> Measures {
        match (self.predictions, self.truth) {
            (
                Predictions::Classes {
                    proba, n_classes, ..
                },
                Truth::Classes(y),
            ) => Measures::Classes(metrics::classification(y, proba, *n_classes)),
            (Predictions::Values(predicted), Truth::Values(y)) => {
                Measures::Values(metrics::regression(y, predicted))
            }
            _ => Measures::Mismatch,
        }
    }

    /// The metrics on the rows at `rows`.
    pub(crate) fn subset(&self, rows: &[usize]) -> Measures {
        match (self.predictions, self.truth) {
            (
                Predictions::Classes {
                    proba, n_classes, ..
                },
                Truth::Classes(y),
            ) => {
                let n = *n_classes;
                let y: Vec<u32> = rows.iter().map(|&i| y[i]).collect();
                let p: Vec<f64> = rows
                    .iter()
                    .flat_map(|&i| &proba[i * n..(i + 1) * n])
                    .copied()
                    .collect();
                Measures::Classes(metrics::classification(&y, &p, n))
            }
            (Predictions::Values(predicted), Truth::Values(y)) => {
                let t: Vec<f64> = rows.iter().map(|&i| y[i]).collect();
                let p: Vec<f64> = rows.iter().map(|&i| predicted[i]).collect();
                Measures::Values(metrics::regression(&t, &p))
            }
            _ => Measures::Mismatch,
        }
    }
}

/// The bytes of a scoring: for a classifier, each row's class (u64) then its probabilities
/// (f64), for a regressor each value (f64), little-endian, in row order.
pub(crate) fn prediction_bytes(predictions: &Predictions) -> Vec<u8> {
    match predictions {
        Predictions::Classes {
            class,
            proba,
            n_classes,
        } => {
            let mut out = Vec::with_capacity(class.len() * 8 * (1 + n_classes));
            for (i, c) in class.iter().enumerate() {
                out.extend_from_slice(&(*c as u64).to_le_bytes());
                for p in &proba[i * n_classes..(i + 1) * n_classes] {
                    out.extend_from_slice(&p.to_le_bytes());
                }
            }
            out
        }
        Predictions::Values(values) => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
    }
}
