//! Inputs: the declared, recorded preprocessing that turns table columns or named values into
//! the numbers an algorithm sees. Training fits it ([`fit_inputs`]) and then applies it
//! ([`transform`]) through exactly the code that batch scoring ([`transform`]) and the server
//! ([`encode_row`]) use, so serving applies what training applied.

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::Matrix;

/// How a declared column type and rule look to this crate (the CLI maps `cairn.toml`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InputRule {
    /// "int", "float", "bool" or "string"; `None`: the table's type.
    pub dtype: Option<String>,
    pub impute: Option<ImputeRule>,
    pub encode: Option<Encoding>,
    /// A number without `impute` passes a missing value on as NaN instead of refusing it (for
    /// the algorithms that handle missing values themselves).
    pub keep_missing: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ImputeRule {
    Mean,
    Median,
    MostFrequent,
    Constant(serde_json::Value),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    OneHot,
    Ordinal,
}

/// One input column as training fitted it: everything needed to encode a value the same way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Input {
    pub name: String,
    #[serde(flatten)]
    pub kind: InputKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InputKind {
    /// A number (ints and booleans are read as numbers: true = 1). `fill` replaces a missing
    /// value; without it a missing value is refused.
    Number {
        dtype: NumberType,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fill: Option<f64>,
        /// Without `fill`: a missing value reaches the model as NaN (the model handles it)
        /// instead of being refused. Absent (false) in artifacts written before it existed.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        keep_missing: bool,
    },
    /// A category (text): `categories` are the training values, sorted.
    Category {
        encode: Encoding,
        categories: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fill: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NumberType {
    Int,
    Float,
    Bool,
}

impl NumberType {
    pub fn as_str(self) -> &'static str {
        match self {
            NumberType::Int => "int",
            NumberType::Float => "float",
            NumberType::Bool => "bool",
        }
    }
}

impl Input {
    /// How many numbers this input becomes.
    pub fn width(&self) -> usize {
        match &self.kind {
            InputKind::Category {
                encode: Encoding::OneHot,
                categories,
                ..
            } => categories.len(),
            _ => 1,
        }
    }

    /// A short description of the expected values, for schemas and errors.
    pub fn describe(&self) -> String {
        match &self.kind {
            InputKind::Number { dtype, .. } => dtype.as_str().to_owned(),
            InputKind::Category { categories, .. } => {
                format!("string (one of {} categories)", categories.len())
            }
        }
    }
}

/// Why a column or a value cannot be used.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum InputError {
    #[error("input `{column}` is missing")]
    MissingColumn { column: String },
    #[error("input `{column}`: {reason}")]
    Invalid { column: String, reason: String },
    /// A missing value where no imputation is declared. `row` counts from 1.
    #[error(
        "input `{column}` has a missing value (null or NaN) at row {row}{}, and no imputation is declared",
        if *count > 1 { format!(" and {} more", count - 1) } else { String::new() }
    )]
    Missing {
        column: String,
        row: usize,
        count: usize,
    },
}

impl InputError {
    pub fn column(&self) -> &str {
        match self {
            InputError::MissingColumn { column }
            | InputError::Invalid { column, .. }
            | InputError::Missing { column, .. } => column,
        }
    }
}

/// The names of the numbers the inputs become (one-hot columns are `column=category`).
pub fn expanded_names(inputs: &[Input]) -> Vec<String> {
    let mut names = Vec::new();
    for input in inputs {
        match &input.kind {
            InputKind::Category {
                encode: Encoding::OneHot,
                categories,
                ..
            } => names.extend(categories.iter().map(|c| format!("{}={c}", input.name))),
            _ => names.push(input.name.clone()),
        }
    }
    names
}

enum Values {
    Numbers(Vec<Option<f64>>, NumberType),
    Text(Vec<Option<String>>),
}

fn invalid(column: &str, reason: impl Into<String>) -> InputError {
    InputError::Invalid {
        column: column.to_owned(),
        reason: reason.into(),
    }
}

/// Reads a column as numbers or text, checking the declared type.
fn read_column(
    frame: &DataFrame,
    name: &str,
    declared: Option<&str>,
) -> Result<Values, InputError> {
    let column = frame
        .column(name)
        .map_err(|_| InputError::MissingColumn {
            column: name.to_owned(),
        })?
        .as_materialized_series();
    let dtype = column.dtype().clone();
    let as_numbers = |kind: NumberType| -> Result<Values, InputError> {
        let floats = column
            .cast(&DataType::Float64)
            .map_err(|e| invalid(name, e.to_string()))?;
        let values: Vec<Option<f64>> = floats
            .f64()
            .map_err(|e| invalid(name, e.to_string()))?
            .iter()
            .map(|v| v.filter(|x| !x.is_nan()))
            .collect();
        Ok(Values::Numbers(values, kind))
    };
    // The first value that is not a number (the reason the column was read as text).
    let first_text = || -> String {
        column
            .str()
            .ok()
            .and_then(|s| {
                let all: Vec<(usize, &str)> = s
                    .iter()
                    .enumerate()
                    .filter_map(|(i, v)| v.map(|v| (i, v)))
                    .collect();
                all.iter()
                    .find(|(_, v)| v.trim().parse::<f64>().is_err())
                    .or(all.first())
                    .map(|(i, v)| format!("row {}: \"{v}\"", i + 1))
            })
            .unwrap_or_default()
    };
    match declared {
        Some("string") if dtype != DataType::String && !dtype.is_null() => {
            return Err(invalid(
                name,
                format!(
                    "declared string, but the table holds {dtype}; change `type` to the column's type (int, float, bool)"
                ),
            ));
        }
        Some("string") => {}
        Some(t @ ("int" | "float" | "bool")) => {
            let kind = match t {
                "int" => NumberType::Int,
                "float" => NumberType::Float,
                _ => NumberType::Bool,
            };
            if dtype == DataType::String {
                return Err(invalid(
                    name,
                    format!(
                        "declared {t}, but it holds text ({}); fix the data, or declare `type = \"string\"` with an `encode` rule",
                        first_text()
                    ),
                ));
            }
            if !(dtype.is_primitive_numeric() || dtype == DataType::Boolean || dtype.is_null()) {
                return Err(invalid(
                    name,
                    format!("declared {t}, but the table holds {dtype}"),
                ));
            }
            if kind != NumberType::Bool && dtype == DataType::Boolean {
                return Err(invalid(
                    name,
                    format!(
                        "declared {t}, but the table holds booleans; declare `type = \"bool\"`"
                    ),
                ));
            }
            if kind == NumberType::Bool && dtype != DataType::Boolean && !dtype.is_null() {
                return Err(invalid(
                    name,
                    format!("declared bool, but the table holds {dtype}"),
                ));
            }
            let values = as_numbers(kind)?;
            if kind == NumberType::Int
                && let Values::Numbers(v, _) = &values
                && let Some((row, x)) = v
                    .iter()
                    .enumerate()
                    .find_map(|(i, x)| x.filter(|x| x.fract() != 0.0).map(|x| (i, x)))
            {
                return Err(invalid(
                    name,
                    format!("declared int, but row {} holds {x}", row + 1),
                ));
            }
            return Ok(values);
        }
        Some(other) => {
            return Err(invalid(
                name,
                format!("`{other}` is not a model input type (int, float, bool, string)"),
            ));
        }
        None => {}
    }
    if dtype == DataType::String {
        let values = column
            .str()
            .map_err(|e| invalid(name, e.to_string()))?
            .iter()
            .map(|v| v.map(str::to_owned))
            .collect();
        return Ok(Values::Text(values));
    }
    if dtype.is_null() && declared == Some("string") {
        return Ok(Values::Text(vec![None; column.len()]));
    }
    if dtype == DataType::Boolean {
        return as_numbers(NumberType::Bool);
    }
    if dtype.is_integer() {
        return as_numbers(NumberType::Int);
    }
    if dtype.is_float() || dtype.is_null() {
        return as_numbers(NumberType::Float);
    }
    Err(invalid(
        name,
        format!(
            "a {dtype} column is not a model input (numbers, booleans and strings are); derive a number from it in a feature view"
        ),
    ))
}

fn first_missing<T>(values: &[Option<T>], column: &str) -> Result<(), InputError> {
    let mut missing = values.iter().enumerate().filter(|(_, v)| v.is_none());
    if let Some((row, _)) = missing.next() {
        return Err(InputError::Missing {
            column: column.to_owned(),
            row: row + 1,
            count: 1 + missing.count(),
        });
    }
    Ok(())
}

/// Fits the preprocessing of `columns` on the training rows of `frame` (`rows`: indices into
/// the frame). Categories and fill values come from those rows only.
pub fn fit_inputs(
    frame: &DataFrame,
    columns: &[(String, InputRule)],
    rows: &[usize],
) -> Result<Vec<Input>, InputError> {
    let mut inputs = Vec::with_capacity(columns.len());
    for (name, rule) in columns {
        let values = read_column(frame, name, rule.dtype.as_deref())?;
        let kind = match values {
            Values::Numbers(values, dtype) => {
                if rule.encode.is_some() {
                    return Err(invalid(
                        name,
                        format!("holds {}s; only strings are encoded", dtype.as_str()),
                    ));
                }
                let train: Vec<f64> = rows.iter().filter_map(|&i| values[i]).collect();
                let fill = match &rule.impute {
                    None => None,
                    Some(_) if train.is_empty() => {
                        return Err(invalid(
                            name,
                            "has no value in the training rows to impute from",
                        ));
                    }
                    Some(ImputeRule::Mean) => Some(train.iter().sum::<f64>() / train.len() as f64),
                    Some(ImputeRule::Median) => Some(median(train)),
                    Some(ImputeRule::MostFrequent) => Some(most_frequent_number(&train)),
                    Some(ImputeRule::Constant(value)) => Some(match value {
                        serde_json::Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
                        serde_json::Value::Bool(b) => f64::from(u8::from(*b)),
                        other => {
                            return Err(invalid(
                                name,
                                format!("the fill value {other} is not a number"),
                            ));
                        }
                    }),
                };
                InputKind::Number {
                    dtype,
                    keep_missing: rule.keep_missing && fill.is_none(),
                    fill,
                }
            }
            Values::Text(values) => {
                let Some(encode) = rule.encode else {
                    return Err(invalid(
                        name,
                        "holds text: declare how to encode it (`encode = \"one_hot\"` or \"ordinal\"), or `type = \"float\"` if it should be numbers",
                    ));
                };
                let mut categories: Vec<String> =
                    rows.iter().filter_map(|&i| values[i].clone()).collect();
                let fill = match &rule.impute {
                    None => None,
                    Some(ImputeRule::MostFrequent) => {
                        let mut sorted = categories.clone();
                        sorted.sort_unstable();
                        most_frequent(&sorted)
                    }
                    Some(ImputeRule::Constant(serde_json::Value::String(s))) => Some(s.clone()),
                    Some(ImputeRule::Constant(other)) => {
                        return Err(invalid(
                            name,
                            format!("the fill value {other} is not a string"),
                        ));
                    }
                    Some(ImputeRule::Mean | ImputeRule::Median) => {
                        return Err(invalid(
                            name,
                            "mean and median impute numbers; use \"most_frequent\" or \"constant\" for text",
                        ));
                    }
                };
                if let Some(fill) = &fill {
                    categories.push(fill.clone());
                }
                categories.sort_unstable();
                categories.dedup();
                if categories.is_empty() {
                    return Err(invalid(name, "has no value in the training rows"));
                }
                InputKind::Category {
                    encode,
                    categories,
                    fill,
                }
            }
        };
        inputs.push(Input {
            name: name.clone(),
            kind,
        });
    }
    Ok(inputs)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_unstable_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn most_frequent_number(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    let mut best = (sorted[0], 0usize);
    let mut i = 0;
    while i < sorted.len() {
        let j = sorted[i..].iter().take_while(|v| **v == sorted[i]).count();
        if j > best.1 {
            best = (sorted[i], j);
        }
        i += j;
    }
    best.0
}

/// The most frequent value of a sorted list; ties go to the smallest.
fn most_frequent(sorted: &[String]) -> Option<String> {
    let mut best: Option<(&String, usize)> = None;
    let mut i = 0;
    while i < sorted.len() {
        let j = sorted[i..].iter().take_while(|v| **v == sorted[i]).count();
        if best.is_none_or(|(_, n)| j > n) {
            best = Some((&sorted[i], j));
        }
        i += j;
    }
    best.map(|(v, _)| v.clone())
}

/// Applies fitted inputs to every row of `frame`: the matrix an algorithm sees.
pub fn transform(frame: &DataFrame, inputs: &[Input]) -> Result<Matrix, InputError> {
    let mut columns = Vec::new();
    for input in inputs {
        let declared = match &input.kind {
            InputKind::Number { dtype, .. } => Some(dtype.as_str()),
            InputKind::Category { .. } => Some("string"),
        };
        let values = read_column(frame, &input.name, declared)?;
        match (&input.kind, values) {
            (
                InputKind::Number {
                    fill, keep_missing, ..
                },
                Values::Numbers(values, _),
            ) => {
                let column: Vec<Option<f64>> = values.into_iter().map(|v| v.or(*fill)).collect();
                let absent = if *keep_missing {
                    f64::NAN
                } else {
                    first_missing(&column, &input.name)?;
                    0.0
                };
                columns.push(column.into_iter().map(|v| v.unwrap_or(absent)).collect());
            }
            (
                InputKind::Category {
                    encode,
                    categories,
                    fill,
                },
                Values::Text(values),
            ) => {
                let codes: Vec<Option<Option<usize>>> = values
                    .iter()
                    .map(|v| {
                        v.as_ref()
                            .or(fill.as_ref())
                            .map(|v| categories.binary_search(v).ok())
                    })
                    .collect();
                first_missing(&codes, &input.name)?;
                match encode {
                    Encoding::Ordinal => columns.push(
                        codes
                            .iter()
                            .map(|c| c.flatten().map_or(-1.0, |c| c as f64))
                            .collect(),
                    ),
                    Encoding::OneHot => {
                        for k in 0..categories.len() {
                            columns.push(
                                codes
                                    .iter()
                                    .map(|c| f64::from(u8::from(c.flatten() == Some(k))))
                                    .collect(),
                            );
                        }
                    }
                }
            }
            _ => unreachable!("read_column returns the declared kind"),
        }
    }
    let rows = frame.height();
    Ok(Matrix { columns, rows })
}

/// Encodes one row given as named JSON values (what the server receives) into `out`, cleared
/// first. Extra names are ignored.
pub fn encode_row<'a>(
    inputs: &[Input],
    get: impl Fn(&str) -> Option<&'a serde_json::Value>,
    out: &mut Vec<f64>,
) -> Result<(), InputError> {
    out.clear();
    for input in inputs {
        let value = get(&input.name).ok_or_else(|| InputError::MissingColumn {
            column: input.name.clone(),
        })?;
        let missing = || InputError::Missing {
            column: input.name.clone(),
            row: 1,
            count: 1,
        };
        match &input.kind {
            InputKind::Number {
                dtype,
                fill,
                keep_missing,
            } => {
                let x = match value {
                    serde_json::Value::Null if *keep_missing => fill.unwrap_or(f64::NAN),
                    serde_json::Value::Null => fill.ok_or_else(missing)?,
                    serde_json::Value::Number(n) => {
                        let x = n.as_f64().unwrap_or(f64::NAN);
                        if *dtype == NumberType::Int && x.fract() != 0.0 {
                            return Err(invalid(&input.name, format!("expected an int, got {n}")));
                        }
                        if *dtype == NumberType::Bool {
                            return Err(invalid(
                                &input.name,
                                format!("expected true or false, got {n}"),
                            ));
                        }
                        x
                    }
                    serde_json::Value::Bool(b) if *dtype == NumberType::Bool => {
                        f64::from(u8::from(*b))
                    }
                    other => {
                        return Err(invalid(
                            &input.name,
                            format!("expected {}, got {other}", dtype.as_str()),
                        ));
                    }
                };
                out.push(x);
            }
            InputKind::Category {
                encode,
                categories,
                fill,
            } => {
                let text = match value {
                    serde_json::Value::Null => fill.as_deref().ok_or_else(missing)?,
                    serde_json::Value::String(s) => s.as_str(),
                    other => {
                        return Err(invalid(
                            &input.name,
                            format!("expected a string, got {other}"),
                        ));
                    }
                };
                let code = categories.binary_search_by(|c| c.as_str().cmp(text)).ok();
                match encode {
                    Encoding::Ordinal => out.push(code.map_or(-1.0, |c| c as f64)),
                    Encoding::OneHot => {
                        out.extend(
                            (0..categories.len()).map(|k| f64::from(u8::from(code == Some(k)))),
                        );
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> DataFrame {
        df!(
            "age" => [Some(30i64), None, Some(50), Some(40)],
            "plan" => [Some("pro"), Some("free"), None, Some("pro")],
            "score" => [Some(1.5f64), Some(f64::NAN), Some(2.5), Some(3.5)],
        )
        .unwrap()
    }

    fn rule(impute: Option<ImputeRule>, encode: Option<Encoding>) -> InputRule {
        InputRule {
            dtype: None,
            impute,
            encode,
            keep_missing: false,
        }
    }

    #[test]
    fn fit_then_transform_matches_encode_row() {
        let frame = frame();
        let columns = vec![
            ("age".to_owned(), rule(Some(ImputeRule::Median), None)),
            (
                "plan".to_owned(),
                rule(Some(ImputeRule::MostFrequent), Some(Encoding::OneHot)),
            ),
            ("score".to_owned(), rule(Some(ImputeRule::Mean), None)),
        ];
        let inputs = fit_inputs(&frame, &columns, &[0, 1, 2, 3]).unwrap();
        assert_eq!(
            inputs[0].kind,
            InputKind::Number {
                dtype: NumberType::Int,
                fill: Some(40.0),
                keep_missing: false,
            }
        );
        assert_eq!(
            expanded_names(&inputs),
            ["age", "plan=free", "plan=pro", "score"]
        );
        let m = transform(&frame, &inputs).unwrap();
        // Row 2: age imputed (median of 30, 50, 40), plan imputed ("pro"), score NaN → mean.
        assert_eq!(m.row(1), vec![40.0, 1.0, 0.0, 2.5]);
        assert_eq!(m.row(2), vec![50.0, 0.0, 1.0, 2.5]);
        for i in 0..4 {
            let row: serde_json::Map<String, serde_json::Value> = frame
                .columns()
                .iter()
                .map(|c| {
                    let v = match c.get(i).unwrap() {
                        AnyValue::Null => serde_json::Value::Null,
                        AnyValue::Int64(x) => x.into(),
                        AnyValue::Float64(x) if x.is_nan() => serde_json::Value::Null,
                        AnyValue::Float64(x) => x.into(),
                        AnyValue::String(s) => s.into(),
                        other => panic!("{other:?}"),
                    };
                    (c.name().to_string(), v)
                })
                .collect();
            let mut out = Vec::new();
            encode_row(&inputs, |k| row.get(k), &mut out).unwrap();
            assert_eq!(out, m.row(i), "row {i}");
        }
    }

    #[test]
    fn missing_values_without_a_rule_are_refused_with_the_row() {
        let frame = frame();
        let columns = vec![("age".to_owned(), rule(None, None))];
        let inputs = fit_inputs(&frame, &columns, &[0, 1, 2, 3]).unwrap();
        let e = transform(&frame, &inputs).unwrap_err();
        assert_eq!(
            e,
            InputError::Missing {
                column: "age".into(),
                row: 2,
                count: 1
            }
        );
    }

    #[test]
    fn text_where_numbers_are_declared_is_refused() {
        let frame = df!("x" => ["1", "two"]).unwrap();
        let columns = vec![(
            "x".to_owned(),
            InputRule {
                dtype: Some("float".into()),
                ..InputRule::default()
            },
        )];
        let e = fit_inputs(&frame, &columns, &[0, 1]).unwrap_err();
        assert!(
            e.to_string().contains("declared float") && e.to_string().contains("row 2: \"two\""),
            "{e}"
        );
        let e = fit_inputs(&frame, &[("x".to_owned(), rule(None, None))], &[0, 1]).unwrap_err();
        assert!(e.to_string().contains("encode"), "{e}");
    }

    #[test]
    fn unseen_categories_encode_as_zeros_or_minus_one() {
        let frame = df!("c" => ["a", "b"]).unwrap();
        let onehot = fit_inputs(
            &frame,
            &[("c".to_owned(), rule(None, Some(Encoding::OneHot)))],
            &[0, 1],
        )
        .unwrap();
        let ordinal = fit_inputs(
            &frame,
            &[("c".to_owned(), rule(None, Some(Encoding::Ordinal)))],
            &[0, 1],
        )
        .unwrap();
        let value = serde_json::json!("zzz");
        let mut out = Vec::new();
        encode_row(&onehot, |_| Some(&value), &mut out).unwrap();
        assert_eq!(out, [0.0, 0.0]);
        encode_row(&ordinal, |_| Some(&value), &mut out).unwrap();
        assert_eq!(out, [-1.0]);
        let number = serde_json::json!(3);
        let e = encode_row(&ordinal, |_| Some(&number), &mut out).unwrap_err();
        assert!(e.to_string().contains("expected a string"), "{e}");
    }
}
