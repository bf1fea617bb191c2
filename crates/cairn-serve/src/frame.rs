//! Table rows (a polars frame read from CSV or Parquet) → [`Rows`], so that a file is scored
//! by the same path as a request. Each column is read as the input it goes to: a string
//! input gets the column's values as text (a CSV column of digits is still a category); a
//! number input gets numbers and booleans (a float that is NaN or infinite is refused as
//! non-finite, as in a request; a null is a null); a text column for a number input is read
//! value by value, and a value that is not a number is refused by the preprocessing at its
//! row, with the input's type.

use std::collections::BTreeMap;

use cairn_core::dataset::ColumnType;
use polars::prelude::*;
use serde_json::Value;

use crate::error::ScoreError;
use crate::rows::Rows;
use crate::schema::{Schema, UnknownFields};

/// How the columns of a table map to a model's inputs.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// For each input, the frame column that holds it.
    pub(crate) inputs: Vec<Option<String>>,
    /// Entity tables: the join key columns.
    pub(crate) keys: Vec<String>,
}

impl Layout {
    /// The layout of a table's columns: each column is an input, a join key (entity tables:
    /// `keys` lists them), or unknown (refused unless `unknown` says to ignore it).
    pub(crate) fn of(
        names: &[String],
        schema: &Schema,
        keys: Option<&[String]>,
        unknown: UnknownFields,
    ) -> Result<Layout, ScoreError> {
        let mut layout = Layout {
            inputs: vec![None; schema.len()],
            keys: Vec::new(),
        };
        for name in names {
            if let Some(keys) = keys {
                if keys.contains(name) {
                    layout.keys.push(name.clone());
                    continue;
                }
                // The inputs of entity rows come from the online store, not from the table.
                if unknown == UnknownFields::Reject {
                    return Err(ScoreError::UnknownField {
                        field: name.clone(),
                        row: 0,
                        inputs: format!("the join keys: {}", keys.join(", ")),
                    });
                }
                continue;
            }
            match schema.slot(name) {
                Some(slot) => layout.inputs[slot] = Some(name.clone()),
                None if unknown == UnknownFields::Reject => {
                    return Err(ScoreError::UnknownField {
                        field: name.clone(),
                        row: 0,
                        inputs: schema.listing().to_owned(),
                    });
                }
                None => {}
            }
        }
        if let Some(keys) = keys
            && let Some(missing) = keys.iter().find(|k| !layout.keys.contains(k))
        {
            return Err(ScoreError::Entity {
                field: Some(missing.clone()),
                row: 0,
                reason: format!("the table has no join key column `{missing}`"),
            });
        }
        Ok(layout)
    }
}

/// The rows of `frame` as slots; `offset` is the index of its first row in the whole table
/// (errors name rows of the table).
pub(crate) fn frame_rows(
    frame: &DataFrame,
    schema: &Schema,
    layout: &Layout,
    offset: usize,
) -> Result<Rows, ScoreError> {
    let n = frame.height();
    let mut rows = Rows::with_capacity(schema.len(), n);
    for _ in 0..n {
        rows.push_row();
    }
    for (slot, column) in layout.inputs.iter().enumerate() {
        let Some(column) = column else { continue };
        let name = &schema.inputs()[slot].name;
        let series = frame
            .column(column)
            .map_err(|e| ScoreError::Malformed {
                reason: e.to_string(),
            })?
            .as_materialized_series()
            .clone();
        let values = column_values(&series, schema.is_category(slot), name, offset)?;
        for (row, value) in values.into_iter().enumerate() {
            let _ = rows.set(row, slot, value);
        }
    }
    Ok(rows)
}

/// A column's values as the input reads them.
fn column_values(
    series: &Series,
    category: bool,
    name: &str,
    offset: usize,
) -> Result<Vec<Value>, ScoreError> {
    let wrong = |reason: String| ScoreError::WrongType {
        field: name.to_owned(),
        row: offset,
        reason,
    };
    let dtype = series.dtype().clone();
    let cast = |to: &DataType| series.cast(to).map_err(|e| wrong(e.to_string()));
    if !category && dtype == DataType::String {
        // A number input in a text column: a CSV column with one value that is not a number
        // is read as text. Each value that is a number becomes one, so that the value that is
        // not is refused at its own row, as a request's would be.
        let text = series.str().map_err(|e| wrong(e.to_string()))?;
        let mut out = Vec::with_capacity(text.len());
        for (i, v) in text.iter().enumerate() {
            out.push(match v.map(str::trim) {
                None | Some("") => Value::Null,
                Some(s) => match (s.parse::<i64>(), s.parse::<f64>()) {
                    (Ok(n), _) => Value::from(n),
                    (_, Ok(x)) => match serde_json::Number::from_f64(x) {
                        Some(n) => Value::Number(n),
                        None => {
                            return Err(ScoreError::NonFinite {
                                field: name.to_owned(),
                                row: offset + i,
                                value: s.to_owned(),
                            });
                        }
                    },
                    _ => Value::String(s.to_owned()),
                },
            });
        }
        return Ok(out);
    }
    if category || dtype == DataType::String || dtype.is_categorical() {
        if !(dtype.is_primitive_numeric()
            || dtype == DataType::Boolean
            || dtype == DataType::String
            || dtype.is_categorical()
            || dtype.is_null())
        {
            return Err(wrong(format!("a {dtype} column is not a model input")));
        }
        let text = cast(&DataType::String)?;
        let text = text.str().map_err(|e| wrong(e.to_string()))?;
        return Ok(text
            .iter()
            .map(|v| v.map_or(Value::Null, |s| Value::String(s.to_owned())))
            .collect());
    }
    if dtype == DataType::Boolean {
        let b = series.bool().map_err(|e| wrong(e.to_string()))?;
        return Ok(b
            .iter()
            .map(|v| v.map_or(Value::Null, Value::Bool))
            .collect());
    }
    if dtype.is_integer() && dtype != DataType::UInt64 {
        let ints = cast(&DataType::Int64)?;
        let ints = ints.i64().map_err(|e| wrong(e.to_string()))?;
        return Ok(ints
            .iter()
            .map(|v| v.map_or(Value::Null, Value::from))
            .collect());
    }
    if dtype.is_primitive_numeric() {
        let floats = cast(&DataType::Float64)?;
        let floats = floats.f64().map_err(|e| wrong(e.to_string()))?;
        let mut out = Vec::with_capacity(floats.len());
        for (i, v) in floats.iter().enumerate() {
            out.push(match v {
                None => Value::Null,
                Some(x) => match serde_json::Number::from_f64(x) {
                    Some(n) => Value::Number(n),
                    None => {
                        return Err(ScoreError::NonFinite {
                            field: name.to_owned(),
                            row: offset + i,
                            value: x.to_string(),
                        });
                    }
                },
            });
        }
        return Ok(out);
    }
    if dtype.is_null() {
        return Ok(vec![Value::Null; series.len()]);
    }
    Err(wrong(format!(
        "a {dtype} column is not a model input (numbers, booleans and strings are)"
    )))
}

/// The entities of an entity table's rows: each row's join keys (an `int` key as an integer,
/// any other as text, whatever type the table's column has).
pub(crate) fn frame_entities(
    frame: &DataFrame,
    layout: &Layout,
    types: &BTreeMap<String, ColumnType>,
    offset: usize,
) -> Result<Vec<BTreeMap<String, Value>>, ScoreError> {
    let mut entities = vec![BTreeMap::new(); frame.height()];
    for key in &layout.keys {
        let series = frame
            .column(key)
            .map_err(|e| ScoreError::Malformed {
                reason: e.to_string(),
            })?
            .as_materialized_series()
            .clone();
        let bad = |row: usize, reason: String| ScoreError::Entity {
            field: Some(key.clone()),
            row,
            reason,
        };
        let values: Vec<Value> = if types.get(key) == Some(&ColumnType::Int) {
            let ints = series
                .cast(&DataType::Int64)
                .map_err(|e| bad(offset, e.to_string()))?;
            let ints = ints.i64().map_err(|e| bad(offset, e.to_string()))?;
            ints.iter()
                .map(|v| v.map_or(Value::Null, Value::from))
                .collect()
        } else {
            let text = series
                .cast(&DataType::String)
                .map_err(|e| bad(offset, e.to_string()))?;
            let text = text.str().map_err(|e| bad(offset, e.to_string()))?;
            text.iter()
                .map(|v| v.map_or(Value::Null, |s| Value::String(s.to_owned())))
                .collect()
        };
        for (i, (entity, value)) in entities.iter_mut().zip(values).enumerate() {
            if value.is_null() {
                return Err(bad(offset + i, format!("the join key `{key}` is null")));
            }
            entity.insert(key.clone(), value);
        }
    }
    Ok(entities)
}
