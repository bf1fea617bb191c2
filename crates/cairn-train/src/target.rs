//! The target column: class indices and labels for a classifier, numbers for a regressor.

use cairn_core::models::ModelSpec;
use cairn_model::artifact::Label;
use polars::prelude::*;

use crate::TrainError;

/// The target column as class indices (classification) or numbers (regression).
pub(crate) enum Targets {
    Classes { y: Vec<u32>, labels: Vec<Label> },
    Values(Vec<f64>),
}

fn read_target(
    frame: &DataFrame,
    model: &str,
    target: &str,
    classifier: bool,
) -> Result<Targets, TrainError> {
    let data = |message: String| TrainError::Data {
        model: model.to_owned(),
        message,
    };
    let column = frame
        .column(target)
        .map_err(|_| {
            TrainError::Spec(format!(
                "`model.{model}.target`: the data has no column `{target}` (its columns: {})",
                frame
                    .get_column_names()
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?
        .as_materialized_series()
        .clone();
    let missing = |row: usize| {
        data(format!(
            "the target `{target}` is missing at row {row}: drop or fill such rows before training"
        ))
    };
    let dtype = column.dtype().clone();
    if !classifier {
        if !dtype.is_primitive_numeric() {
            return Err(data(format!(
                "the target `{target}` holds {dtype}, and a regressor predicts numbers"
            )));
        }
        let values = column
            .cast(&DataType::Float64)
            .map_err(|e| data(e.to_string()))?;
        let mut out = Vec::with_capacity(values.len());
        for (i, v) in values
            .f64()
            .map_err(|e| data(e.to_string()))?
            .iter()
            .enumerate()
        {
            match v {
                Some(x) if !x.is_nan() => out.push(x),
                _ => return Err(missing(i + 1)),
            }
        }
        return Ok(Targets::Values(out));
    }
    let raw: Vec<Label> = if dtype == DataType::Boolean {
        column
            .bool()
            .map_err(|e| data(e.to_string()))?
            .iter()
            .enumerate()
            .map(|(i, v)| v.map(Label::Bool).ok_or_else(|| missing(i + 1)))
            .collect::<Result<_, _>>()?
    } else if dtype == DataType::String {
        column
            .str()
            .map_err(|e| data(e.to_string()))?
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.map(|s| Label::Text(s.to_owned()))
                    .ok_or_else(|| missing(i + 1))
            })
            .collect::<Result<_, _>>()?
    } else if dtype.is_primitive_numeric() {
        let values = column
            .cast(&DataType::Float64)
            .map_err(|e| data(e.to_string()))?;
        values
            .f64()
            .map_err(|e| data(e.to_string()))?
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Some(x) if x.is_nan() => Err(missing(i + 1)),
                Some(x) if x.fract() != 0.0 || x.abs() > 9.0e15 => Err(data(format!(
                    "the target `{target}` holds {x} at row {}: a classifier needs labels (whole numbers, booleans or strings); use a regressor for numbers",
                    i + 1
                ))),
                Some(x) => Ok(Label::Int(x as i64)),
                None => Err(missing(i + 1)),
            })
            .collect::<Result<_, _>>()?
    } else {
        return Err(data(format!(
            "the target `{target}` holds {dtype}; a label is a whole number, a boolean or a string"
        )));
    };
    let mut labels = raw.clone();
    labels.sort();
    labels.dedup();
    let y = raw
        .iter()
        .map(|l| labels.binary_search(l).map(|i| i as u32).unwrap_or(0))
        .collect();
    Ok(Targets::Classes { y, labels })
}

/// The target of `spec` in `frame` (the table at `path`), refused when a model cannot learn
/// from it: no rows, or a single class.
pub(crate) fn read_checked(
    frame: &DataFrame,
    model: &str,
    spec: &ModelSpec,
    path: &str,
) -> Result<Targets, TrainError> {
    let target = read_target(frame, model, &spec.target, spec.algorithm.is_classifier())?;
    let data_err = |message: String| TrainError::Data {
        model: model.to_owned(),
        message,
    };
    if frame.height() == 0 {
        return Err(data_err(format!("{path} has no rows")));
    }
    if let Targets::Classes { labels, .. } = &target
        && labels.len() < 2
    {
        return Err(data_err(format!(
            "the target `{}` has a single class ({}) in {path}: a classifier needs at least two",
            spec.target, labels[0]
        )));
    }
    Ok(target)
}
