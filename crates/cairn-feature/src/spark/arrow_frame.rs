//! Arrow record batches (arrow-rs, as the Spark Connect client returns them) as polars
//! columns, for the few types a view's columns have: 64-bit integers, 64-bit floats, text,
//! booleans, dates and UTC microsecond datetimes.

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType as ArrowType, Date32Type, Float64Type, Int64Type};
use arrow::record_batch::RecordBatch;
use polars::prelude::*;

/// The column `name` of `batches` as a polars column of type `target`.
pub(crate) fn column(
    batches: &[RecordBatch],
    name: &str,
    target: &DataType,
) -> Result<Column, String> {
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(batches.len());
    for batch in batches {
        let array = batch
            .column_by_name(name)
            .ok_or_else(|| format!("Spark's answer has no column `{name}`"))?;
        arrays.push(array.clone());
    }
    let rows: usize = arrays.iter().map(|a| a.len()).sum();
    // Each array in the physical type polars stores `target` in.
    let want = match target {
        DataType::Int64 | DataType::Datetime(..) => ArrowType::Int64,
        DataType::Float64 => ArrowType::Float64,
        DataType::String => ArrowType::Utf8,
        DataType::Boolean => ArrowType::Boolean,
        DataType::Date => ArrowType::Date32,
        other => return Err(format!("`{name}`: no conversion to {other}")),
    };
    let mut cast = Vec::with_capacity(arrays.len());
    for array in &arrays {
        // A timestamp becomes its raw microseconds (Spark's unit), whatever its zone.
        let array = arrow::compute::kernels::cast::cast(array, &want)
            .map_err(|e| format!("`{name}`: {e}"))?;
        cast.push(array);
    }
    let name: PlSmallStr = name.into();
    let series = match want {
        ArrowType::Int64 => {
            let mut values: Vec<Option<i64>> = Vec::with_capacity(rows);
            for array in &cast {
                values.extend(array.as_primitive::<Int64Type>().iter());
            }
            Series::new(name, values)
        }
        ArrowType::Float64 => {
            let mut values: Vec<Option<f64>> = Vec::with_capacity(rows);
            for array in &cast {
                values.extend(array.as_primitive::<Float64Type>().iter());
            }
            Series::new(name, values)
        }
        ArrowType::Date32 => {
            let mut values: Vec<Option<i32>> = Vec::with_capacity(rows);
            for array in &cast {
                values.extend(array.as_primitive::<Date32Type>().iter());
            }
            Series::new(name, values)
        }
        ArrowType::Boolean => {
            let mut values: Vec<Option<bool>> = Vec::with_capacity(rows);
            for array in &cast {
                values.extend(array.as_boolean().iter());
            }
            Series::new(name, values)
        }
        _ => {
            let mut values: Vec<Option<&str>> = Vec::with_capacity(rows);
            for array in &cast {
                values.extend(array.as_string::<i32>().iter());
            }
            Series::new(name, values)
        }
    };
    series
        .cast(target)
        .map(Column::from)
        .map_err(|e| format!("`{}`: {e}", series.name()))
}

/// The columns of `batches`, in `columns`' order and types, as one frame.
pub(crate) fn frame(
    batches: &[RecordBatch],
    columns: &[(String, DataType)],
) -> Result<DataFrame, String> {
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let columns = columns
        .iter()
        .map(|(name, dtype)| column(batches, name, dtype))
        .collect::<Result<Vec<_>, _>>()?;
    DataFrame::new(rows, columns).map_err(|e| e.to_string())
}
