//! The fitted model on the held-out rows: scalar metrics, and the rest of the report
//! (confusion matrix, per class).

use std::collections::BTreeMap;

use cairn_model::Matrix;
use cairn_model::artifact::{Artifact, Predictions};
use cairn_model::boosting::Booster;
use cairn_model::metrics;
use serde_json::Value;

use crate::TrainError;
use crate::fit::Truth;
use crate::record::{BOOSTING_KEY, BoostingReport, IMPORTANCES_KEY, Importance};

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
    if let Some(booster) = artifact.fitted.booster() {
        let (importances, boosting) = boosting_report(artifact, booster);
        let value = |v: Result<Value, serde_json::Error>| v.map_err(|e| failed(e.to_string()));
        rest.insert(
            IMPORTANCES_KEY.to_owned(),
            value(serde_json::to_value(importances))?,
        );
        rest.insert(
            BOOSTING_KEY.to_owned(),
            value(serde_json::to_value(boosting))?,
        );
    }
    if !rest.is_empty() {
        evaluation.report = Some(Value::Object(rest));
    }
    Ok(evaluation)
}

/// A boosted model's importances by input (summed over an input's encoded columns; most
/// important first, ties in input order) and its fit summary.
fn boosting_report(artifact: &Artifact, booster: &Booster) -> (Vec<Importance>, BoostingReport) {
    let gains = booster.importances();
    let mut at = 0;
    let mut importances: Vec<Importance> = artifact
        .header
        .inputs
        .iter()
        .map(|input| {
            let width = input.width();
            let gain = gains.iter().skip(at).take(width).sum();
            at += width;
            Importance {
                feature: input.name.clone(),
                gain,
            }
        })
        .collect();
    importances.sort_by(|a, b| b.gain.total_cmp(&a.gain));
    let s = booster.summary();
    let boosting = BoostingReport {
        iterations_run: s.iterations_run,
        best_iteration: s.best_iteration,
        early_stopped: s.early_stopped,
        validation_rows: s.validation_rows,
        validation_loss: s.validation_loss,
    };
    (importances, boosting)
}
