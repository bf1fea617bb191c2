//! The rows a version is validated on: read, checked against the model's inputs (the schema
//! gate), encoded, and their true target.

use std::collections::BTreeMap;
use std::path::PathBuf;

use cairn_model::Matrix;
use cairn_model::artifact::{Artifact, Label, Task};
use cairn_model::prep::transform;
use polars::prelude::{AnyValue, DataFrame, DataType};

use crate::ValidateError;
use crate::record::{DataSource, InputCheck, SchemaDetail};

/// The rows to validate on.
#[derive(Debug, Clone)]
pub enum Data {
    /// The run's held-out rows, rebuilt (by `cairn_train::held_out`): every column of the
    /// table (joined to its features for a spec over an entity table), the target included.
    HeldOut {
        frame: DataFrame,
        run: String,
        /// The table the run read, and its digest as the run recorded it.
        path: String,
        digest: String,
        features: BTreeMap<String, String>,
    },
    /// A table (CSV or Parquet, a file or a directory of them) with the model's input columns
    /// and its target. `shown` is its path as the user gave it (recorded).
    File { path: PathBuf, shown: String },
}

impl Data {
    /// The frame and the record's description of it.
    pub(crate) fn read(self) -> Result<(DataFrame, DataSource), ValidateError> {
        match self {
            Data::HeldOut {
                frame,
                run,
                path,
                digest,
                features,
            } => Ok((
                frame,
                DataSource::HeldOut {
                    run,
                    path,
                    digest,
                    features,
                },
            )),
            Data::File { path, shown } => {
                let frame = cairn_core::table::read_table(&path)?;
                let digest = cairn_core::table::content_digest(&path)?;
                Ok((
                    frame,
                    DataSource::File {
                        path: shown,
                        digest: digest.to_hex(),
                    },
                ))
            }
        }
    }
}

/// The schema check: every input of `artifact` is a column of `frame` whose values it can use
/// (refused otherwise, naming the column); the inputs encoded as the model takes them.
pub(crate) fn encode(
    frame: &DataFrame,
    artifact: &Artifact,
    model: &str,
    version: u32,
) -> Result<(Matrix, SchemaDetail), ValidateError> {
    let x = transform(frame, &artifact.header.inputs).map_err(|source| ValidateError::Input {
        model: model.to_owned(),
        version,
        source,
    })?;
    let inputs = artifact
        .header
        .inputs
        .iter()
        .map(|input| InputCheck {
            name: input.name.clone(),
            expected: input.describe(),
            found: frame
                .column(&input.name)
                .map(|c| c.dtype().to_string())
                .unwrap_or_default(),
        })
        .collect();
    Ok((x, SchemaDetail { inputs }))
}

/// The true target of the rows: class indices into the model's labels, or numbers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Truth {
    Classes(Vec<u32>),
    Values(Vec<f64>),
}

/// The column names of `frame`, for messages.
pub(crate) fn columns(frame: &DataFrame) -> String {
    frame
        .get_column_names()
        .iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The target column of `frame` read as `task` needs it (the labels of a classifier are
/// matched to the model's; a label the model does not know is refused).
pub(crate) fn truth(frame: &DataFrame, target: &str, task: &Task) -> Result<Truth, ValidateError> {
    let series = frame
        .column(target)
        .map_err(|_| ValidateError::NoTarget {
            target: target.to_owned(),
            columns: columns(frame),
        })?
        .as_materialized_series()
        .clone();
    let problem = |problem: String| ValidateError::Target {
        target: target.to_owned(),
        problem,
    };
    let missing = |row: usize| problem(format!("is missing at row {row}"));
    let dtype = series.dtype().clone();
    let labels = match task {
        Task::Regression => {
            if !dtype.is_primitive_numeric() {
                return Err(problem(format!(
                    "holds {dtype}, and the model predicts numbers"
                )));
            }
            let values = series
                .cast(&DataType::Float64)
                .map_err(|e| problem(e.to_string()))?;
            let values = values.f64().map_err(|e| problem(e.to_string()))?;
            let mut out = Vec::with_capacity(values.len());
            for (i, v) in values.iter().enumerate() {
                match v {
                    Some(x) if !x.is_nan() => out.push(x),
                    _ => return Err(missing(i + 1)),
                }
            }
            return Ok(Truth::Values(out));
        }
        Task::Classification { labels } => labels,
    };
    let index = |i: usize, label: Label| -> Result<u32, ValidateError> {
        labels.binary_search(&label).map(|c| c as u32).map_err(|_| {
            problem(format!(
                "holds {label} at row {}, a label the model does not know (its labels: {})",
                i + 1,
                labels
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    };
    let mut out = Vec::with_capacity(series.len());
    if dtype == DataType::Boolean {
        for (i, v) in series
            .bool()
            .map_err(|e| problem(e.to_string()))?
            .iter()
            .enumerate()
        {
            out.push(index(i, Label::Bool(v.ok_or_else(|| missing(i + 1))?))?);
        }
    } else if dtype == DataType::String {
        for (i, v) in series
            .str()
            .map_err(|e| problem(e.to_string()))?
            .iter()
            .enumerate()
        {
            let v = v.ok_or_else(|| missing(i + 1))?;
            out.push(index(i, Label::Text(v.to_owned()))?);
        }
    } else if dtype.is_primitive_numeric() {
        let values = series
            .cast(&DataType::Float64)
            .map_err(|e| problem(e.to_string()))?;
        for (i, v) in values
            .f64()
            .map_err(|e| problem(e.to_string()))?
            .iter()
            .enumerate()
        {
            match v {
                Some(x) if x.fract() == 0.0 && x.abs() <= 9.0e15 => {
                    out.push(index(i, Label::Int(x as i64))?)
                }
                Some(x) if !x.is_nan() => {
                    return Err(problem(format!(
                        "holds {x} at row {}, and the model's labels are whole numbers, booleans or strings",
                        i + 1
                    )));
                }
                _ => return Err(missing(i + 1)),
            }
        }
    } else {
        return Err(problem(format!(
            "holds {dtype}; a label is a whole number, a boolean or a string"
        )));
    }
    Ok(Truth::Classes(out))
}

/// Row `i` of the input columns as named JSON values, as a server receives them.
pub(crate) fn json_row(
    frame: &DataFrame,
    inputs: &[String],
    i: usize,
) -> serde_json::Map<String, serde_json::Value> {
    use serde_json::Value;
    inputs
        .iter()
        .map(|name| {
            let value = match frame.column(name).and_then(|c| c.get(i)) {
                Ok(v) => match v {
                    AnyValue::Null => Value::Null,
                    AnyValue::Boolean(b) => Value::Bool(b),
                    AnyValue::String(s) => Value::String(s.to_owned()),
                    AnyValue::StringOwned(s) => Value::String(s.to_string()),
                    AnyValue::Float32(x) => serde_json::Number::from_f64(f64::from(x))
                        .map_or(Value::Null, Value::Number),
                    AnyValue::Float64(x) => {
                        serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
                    }
                    AnyValue::Int8(x) => x.into(),
                    AnyValue::Int16(x) => x.into(),
                    AnyValue::Int32(x) => x.into(),
                    AnyValue::Int64(x) => x.into(),
                    AnyValue::UInt8(x) => x.into(),
                    AnyValue::UInt16(x) => x.into(),
                    AnyValue::UInt32(x) => x.into(),
                    AnyValue::UInt64(x) => x.into(),
                    other => Value::String(other.to_string()),
                },
                Err(_) => Value::Null,
            };
            (name.clone(), value)
        })
        .collect()
}
