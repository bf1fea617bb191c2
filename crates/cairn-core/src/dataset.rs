//! `[dataset."PATH"]` in `cairn.toml`: what a table must look like before anything is built
//! from it (`cairn data validate`; docs/guide/validate.md, docs/formats/config.md).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The expectations declared for one table (a CSV or Parquet file, or a directory of them).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DatasetSpec {
    /// Bounds on the number of rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<Bounds<u64>>,
    /// Columns whose values, taken together, identify a row: no two rows may share them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unique: Vec<String>,
    /// The newest value of a timestamp column must be recent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freshness: Option<Freshness>,
    /// Expectations per column; every column named here must exist.
    #[serde(default)]
    pub columns: BTreeMap<String, ColumnSpec>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Bounds<T> {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<T>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Freshness {
    /// A date or datetime column (naive values are UTC).
    pub column: String,
    /// How old the newest value may be: a number and a unit, `s`, `m`, `h`, `d` or `w`
    /// (`"36h"`, `"7d"`).
    pub max_age: String,
}

impl Freshness {
    /// `max_age` as a duration (checked when `cairn.toml` is read).
    pub fn max_age(&self) -> Duration {
        parse_age(&self.max_age).unwrap_or(Duration::ZERO)
    }
}

/// The kinds of values a column may be declared to hold.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    /// Any integer type.
    Int,
    /// A 32- or 64-bit float.
    Float,
    String,
    Bool,
    Date,
    /// A timestamp, with or without a time zone.
    Datetime,
}

impl ColumnType {
    pub fn as_str(self) -> &'static str {
        match self {
            ColumnType::Int => "int",
            ColumnType::Float => "float",
            ColumnType::String => "string",
            ColumnType::Bool => "bool",
            ColumnType::Date => "date",
            ColumnType::Datetime => "datetime",
        }
    }
}

/// A value in an `allowed` list: strings, or integers for integer codes.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(untagged, expecting = "a string or an integer")]
pub enum Category {
    Int(i64),
    Text(String),
}

impl std::fmt::Display for Category {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Category::Int(v) => write!(f, "{v}"),
            Category::Text(v) => write!(f, "{v}"),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dtype: Option<ColumnType>,
    /// No missing value (null, or NaN in a float column).
    #[serde(default)]
    pub not_null: bool,
    /// The largest share of missing values, from 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_null_share: Option<f64>,
    /// Numeric columns: the smallest allowed value (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Numeric columns: the largest allowed value (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// The only values the column may hold (missing values aside).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed: Option<Vec<Category>>,
}

/// Parses `"90s"`, `"15m"`, `"36h"`, `"7d"`, `"2w"`.
pub fn parse_age(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().ok()?;
    let seconds = match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return None,
    };
    Some(Duration::from_secs(n.checked_mul(seconds)?))
}

/// Checks what serde cannot: bounds in order, shares between 0 and 1, ages that parse, names
/// that are not empty. Errors name the key (`dataset."data/t.csv".columns.amount.min`).
pub fn check(path: &str, spec: &DatasetSpec) -> Result<(), String> {
    let at = |key: &str| format!("`dataset.\"{path}\".{key}`");
    if let Some(Bounds {
        min: Some(min),
        max: Some(max),
    }) = spec.rows
        && min > max
    {
        return Err(format!(
            "{}: min ({min}) is larger than max ({max})",
            at("rows")
        ));
    }
    if spec.unique.iter().any(|c| c.is_empty()) {
        return Err(format!("{}: a column name is empty", at("unique")));
    }
    if let Some(f) = &spec.freshness {
        if f.column.is_empty() {
            return Err(format!(
                "{}: the column name is empty",
                at("freshness.column")
            ));
        }
        if parse_age(&f.max_age).is_none() {
            return Err(format!(
                "{}: `{}` is not an age; write a number and a unit: s, m, h, d or w (\"36h\", \"7d\")",
                at("freshness.max_age"),
                f.max_age
            ));
        }
    }
    for (name, column) in &spec.columns {
        let key = |k: &str| at(&format!("columns.{name}.{k}"));
        if name.is_empty() {
            return Err(format!("{}: a column name is empty", at("columns")));
        }
        if let (Some(min), Some(max)) = (column.min, column.max)
            && min > max
        {
            return Err(format!(
                "{}: min ({min}) is larger than max ({max})",
                at(&format!("columns.{name}"))
            ));
        }
        for (k, v) in [("min", column.min), ("max", column.max)] {
            if v.is_some_and(|v| !v.is_finite()) {
                return Err(format!("{}: must be a finite number", key(k)));
            }
        }
        if let Some(share) = column.max_null_share
            && !(0.0..=1.0).contains(&share)
        {
            return Err(format!(
                "{}: {share} is not a share; use a number from 0 to 1",
                key("max_null_share")
            ));
        }
        if column.allowed.as_ref().is_some_and(Vec::is_empty) {
            return Err(format!("{}: the list is empty", key("allowed")));
        }
        let numeric = matches!(
            column.dtype,
            None | Some(ColumnType::Int | ColumnType::Float)
        );
        if !numeric && (column.min.is_some() || column.max.is_some()) {
            return Err(format!(
                "{}: min and max apply to int and float columns, not {}",
                at(&format!("columns.{name}")),
                column.dtype.map_or("", ColumnType::as_str)
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages() {
        assert_eq!(parse_age("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_age("36h"), Some(Duration::from_secs(36 * 3600)));
        assert_eq!(parse_age(" 2w "), Some(Duration::from_secs(14 * 86_400)));
        for bad in ["", "7", "d", "7y", "-1d", "1.5h"] {
            assert_eq!(parse_age(bad), None, "{bad}");
        }
    }

    #[test]
    fn semantic_errors_name_the_key() {
        let mut spec = DatasetSpec::default();
        spec.columns.insert(
            "amount".into(),
            ColumnSpec {
                min: Some(10.0),
                max: Some(1.0),
                ..ColumnSpec::default()
            },
        );
        let err = check("t.csv", &spec).unwrap_err();
        assert!(err.contains("`dataset.\"t.csv\".columns.amount`"), "{err}");
        spec.columns.clear();
        spec.freshness = Some(Freshness {
            column: "ts".into(),
            max_age: "soon".into(),
        });
        assert!(
            check("t.csv", &spec)
                .unwrap_err()
                .contains("freshness.max_age")
        );
    }
}
