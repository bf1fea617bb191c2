//! The fitted model on the held-out rows: scalar metrics, and the rest of the report
//! (confusion matrix, per class).

use std::collections::BTreeMap;

use cairn_model::Matrix;
use cairn_model::artifact::{Artifact, Predictions};
use cairn_model::metrics;
use serde_json::Value;

use crate::TrainError;
use crate::fit::Truth;

/// What the evaluation found.
pub(crate) struct Evaluation {
    /// Scalar metrics by name (a metric that is not defined is left out).
    pub metrics: BTreeMap<String, f64>,
    /// The rest of the report, when there is any.
    pub report: Option<Value>,
}

/// Evaluates `artifact` on the test rows `x_test`, whose true target is `truth`; `id` names
/// the run in errors.
pub(crate) fn evaluate(
    artifact: &Artifact,
    x_test: &Matrix,
    truth: &Truth,
    id: &str,
) -> Result<Evaluation, TrainError> {
    let failed = |message: String| TrainError::Record {
        id: id.to_owned(),
        message,
    };
    let report = match (artifact.predict_matrix(x_test), truth) {
        (
            Predictions::Classes {
                proba, n_classes, ..
            },
            Truth::Classes(y),
        ) => serde_json::to_value(metrics::classification(y, &proba, n_classes)),
        (Predictions::Values(predicted), Truth::Values(y)) => {
            serde_json::to_value(metrics::regression(y, &predicted))
        }
        _ => {
            return Err(failed(
                "the model's predictions do not match its task".to_owned(),
            ));
        }
    }
    .map_err(|e| failed(e.to_string()))?;
    let Value::Object(fields) = report else {
        return Err(failed("the metrics are not a JSON object".to_owned()));
    };
    let mut evaluation = Evaluation {
        metrics: BTreeMap::new(),
        report: None,
    };
    let mut rest = serde_json::Map::new();
    for (k, v) in fields {
        match v.as_f64() {
            Some(x) => {
                evaluation.metrics.insert(k, x);
            }
            None if v.is_null() => {}
            None => {
                rest.insert(k, v);
            }
        }
    }
    if !rest.is_empty() {
        evaluation.report = Some(Value::Object(rest));
    }
    Ok(evaluation)
}
