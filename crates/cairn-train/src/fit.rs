//! The model's inputs (which columns, prepared how) and the fit on the training rows.

use std::collections::BTreeMap;

use cairn_core::models::{Algorithm, Encode, Impute, ModelSpec};
use cairn_model::artifact::{Label, Task};
use cairn_model::estimator::{self, Fitted, Target};
use cairn_model::prep::{self, Encoding, ImputeRule, Input, InputError, InputRule};
use cairn_model::{FitError, Matrix};
use polars::prelude::DataFrame;
use serde_json::Value;

use crate::split::Rows;
use crate::target::Targets;
use crate::{TrainError, TrainProgress, timed};

/// The inputs of a model, fitted on the training rows, and the rows as numbers.
pub(crate) struct Inputs {
    pub inputs: Vec<Input>,
    pub train: Matrix,
    pub test: Matrix,
}

/// The input columns: those of the join (`joined`), the spec's `features`, or every column but
/// the target, `exclude` and a time split's column; each prepared by its `columns` rule.
pub(crate) fn inputs(
    frame: &DataFrame,
    model: &str,
    spec: &ModelSpec,
    joined: Option<Vec<String>>,
    rows: &Rows,
) -> Result<Inputs, TrainError> {
    let columns: Vec<String> = match (joined, &spec.features) {
        (Some(joined), _) => joined,
        (None, Some(f)) => f.clone(),
        (None, None) => frame
            .get_column_names()
            .iter()
            .map(|c| c.to_string())
            .filter(|c| {
                *c != spec.target
                    && !spec.exclude.contains(c)
                    && spec.split.time_column.as_deref() != Some(c.as_str())
            })
            .collect(),
    };
    if columns.is_empty() {
        return Err(TrainError::Spec(format!(
            "`model.{model}`: no input columns are left (the data holds only the target and excluded columns)"
        )));
    }
    if let Some(missing) = spec.exclude.iter().find(|c| frame.column(c).is_err()) {
        return Err(TrainError::Spec(format!(
            "`model.{model}.exclude`: the data has no column `{missing}`"
        )));
    }
    if let Some(other) = spec
        .columns
        .keys()
        .find(|c| !columns.contains(c) && **c != spec.target)
    {
        return Err(TrainError::Spec(format!(
            "`model.{model}.columns.{other}`: `{other}` is not an input of the model (inputs: {})",
            columns.join(", ")
        )));
    }
    let rules: Vec<(String, InputRule)> = columns
        .iter()
        .map(|c| (c.clone(), input_rule(spec, c)))
        .collect();
    let input_err = |source: InputError| TrainError::Input {
        model: model.to_owned(),
        source,
    };
    let inputs = prep::fit_inputs(frame, &rules, &rows.train).map_err(input_err)?;
    let x = prep::transform(frame, &inputs).map_err(input_err)?;
    Ok(Inputs {
        inputs,
        train: x.take(&rows.train),
        test: x.take(&rows.test),
    })
}

fn input_rule(spec: &ModelSpec, column: &str) -> InputRule {
    let keep_missing = spec.algorithm.handles_missing();
    let Some(rule) = spec.columns.get(column) else {
        return InputRule {
            keep_missing,
            ..InputRule::default()
        };
    };
    InputRule {
        dtype: rule.dtype.map(|t| t.as_str().to_owned()),
        impute: rule.impute.map(|i| match i {
            Impute::Mean => ImputeRule::Mean,
            Impute::Median => ImputeRule::Median,
            Impute::MostFrequent => ImputeRule::MostFrequent,
            Impute::Constant => ImputeRule::Constant(
                rule.fill
                    .as_ref()
                    .and_then(|v| serde_json::to_value(v).ok())
                    .unwrap_or(Value::Null),
            ),
        }),
        encode: rule.encode.map(|e| match e {
            Encode::OneHot => Encoding::OneHot,
            Encode::Ordinal => Encoding::Ordinal,
        }),
        keep_missing,
    }
}

/// The spec's params as JSON values, checked against the algorithm's names.
pub(crate) fn params(model: &str, spec: &ModelSpec) -> Result<BTreeMap<String, Value>, TrainError> {
    let params: BTreeMap<String, Value> = spec
        .params
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::to_value(v).unwrap_or(Value::Null)))
        .collect();
    estimator::check_param_names(spec.algorithm, &params).map_err(|e| fit_error(model, e))?;
    Ok(params)
}

/// A fitted model, with what the artifact and the evaluation need.
pub(crate) struct Fit {
    pub task: Task,
    pub fitted: Fitted,
    /// Every param as used, defaults included.
    pub params: BTreeMap<String, Value>,
}

/// The true target of the test rows.
pub(crate) enum Truth {
    Classes(Vec<u32>),
    Values(Vec<f64>),
}

/// Fits the spec's algorithm on the training rows (the time it takes goes to `phases`, as
/// `fit`); also the test rows' true target.
#[allow(clippy::too_many_arguments)]
pub(crate) fn fit(
    model: &str,
    spec: &ModelSpec,
    params: &BTreeMap<String, Value>,
    target: &Targets,
    rows: &Rows,
    x_train: &Matrix,
    phases: &mut BTreeMap<String, f64>,
    progress: &dyn TrainProgress,
) -> Result<(Fit, Truth), TrainError> {
    let report = |done: usize, total: usize| progress.fit(done, total);
    let mut timed_fit = |target: Target<'_>| {
        timed(phases, "fit", || {
            estimator::fit(spec.algorithm, params, spec.seed, x_train, target, &report)
        })
        .map_err(|e| fit_error(model, e))
    };
    match target {
        Targets::Classes { y, labels } => {
            let y_train: Vec<u32> = rows.train.iter().map(|&i| y[i]).collect();
            let mut seen = vec![false; labels.len()];
            y_train.iter().for_each(|c| seen[*c as usize] = true);
            if seen.iter().filter(|s| **s).count() < 2 {
                return Err(TrainError::Data {
                    model: model.to_owned(),
                    message: format!(
                        "the training rows hold a single class of `{}`: a classifier needs at least two",
                        spec.target
                    ),
                });
            }
            // Boosting fits one score per class: a class without training rows has none.
            if spec.algorithm == Algorithm::GradientBoostingClassifier
                && let Some(absent) = seen.iter().position(|s| !s)
            {
                return Err(TrainError::Data {
                    model: model.to_owned(),
                    message: format!(
                        "the class `{}` of `{}` has no training rows: {} needs every class in \
                         the training rows",
                        labels[absent], spec.target, spec.algorithm
                    ),
                });
            }
            let (fitted, params) = timed_fit(Target::Classes {
                y: &y_train,
                n_classes: labels.len(),
            })?;
            let fit = Fit {
                task: Task::Classification {
                    labels: labels.clone(),
                },
                fitted,
                params,
            };
            Ok((
                fit,
                Truth::Classes(rows.test.iter().map(|&i| y[i]).collect()),
            ))
        }
        Targets::Values(v) => {
            let y_train: Vec<f64> = rows.train.iter().map(|&i| v[i]).collect();
            let (fitted, params) = timed_fit(Target::Values(&y_train))?;
            let fit = Fit {
                task: Task::Regression,
                fitted,
                params,
            };
            Ok((
                fit,
                Truth::Values(rows.test.iter().map(|&i| v[i]).collect()),
            ))
        }
    }
}

impl Fit {
    /// A classifier's labels, in class-index order, as the record holds them.
    pub(crate) fn labels(&self) -> Option<Vec<Value>> {
        match &self.task {
            Task::Classification { labels } => Some(labels.iter().map(Label::to_json).collect()),
            Task::Regression => None,
        }
    }
}

pub(crate) fn fit_error(model: &str, e: FitError) -> TrainError {
    match e {
        FitError::Param { name, message } => TrainError::Param {
            model: model.to_owned(),
            name,
            message,
        },
        FitError::Data(message) => TrainError::Data {
            model: model.to_owned(),
            message,
        },
    }
}
