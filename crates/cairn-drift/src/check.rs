//! A drift check: both tables read (only the compared columns), each column compared by its
//! method, the dataset verdict, and the record of it all.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Instant;

use cairn_core::drift::{ColumnType, DriftSpec};
use cairn_core::time::{format_micros, now_micros};
use cairn_store::Digest;
use polars::prelude::*;
use rayon::prelude::*;
use serde::Serialize;

use crate::column::{self, Rule};
use crate::error::{DriftError, Side};
use crate::record::{ColumnResult, DriftRecord, ModelChecked, SkippedColumn, TableChecked};
use crate::sample::{self, Sample};
use crate::source::{self, Natural, Opened, Table};

/// What to compare, how, and where the outcome goes.
pub struct DriftOptions<'a> {
    pub reference: Table,
    pub current: Table,
    /// The `[drift.NAME]` table applied and its name (`None`: the defaults).
    pub config: Option<(String, DriftSpec)>,
    /// The model version checked, when the check names one.
    pub model: Option<ModelChecked>,
    /// The columns to compare, in this order (a model's inputs). `None`: every column of the
    /// reference whose type drift compares.
    pub columns: Option<Vec<String>>,
    /// Compare the model's output too: this model's predictions on the reference rows (its
    /// inputs cast as its prediction log holds them) against the current data's
    /// `prediction` column (the prediction log's).
    pub predict_with: Option<&'a cairn_model::artifact::Artifact>,
    /// Record the check in this project's store and point its refs at it (`None`: the check
    /// is not recorded), waiting on its write lock with this progress.
    pub record_in: Option<(&'a cairn_core::Project, &'a dyn cairn_store::Progress)>,
    /// Write the HTML report here (atomically).
    pub report: Option<PathBuf>,
}

/// A check's outcome: its record, the record's digest when it was recorded, and the report
/// written.
#[derive(Debug, Clone, Serialize)]
pub struct Checked {
    #[serde(flatten)]
    pub record: DriftRecord,
    pub digest: Option<Digest>,
    pub report: Option<PathBuf>,
}

/// Runs the check, records it and writes its report, as `options` say. Bad input (tables
/// that cannot be compared, a configuration that does not fit the data) is an error; drift
/// is not: it is in the record.
pub fn check(options: DriftOptions<'_>) -> Result<Checked, DriftError> {
    let DriftOptions {
        reference,
        current,
        config,
        model,
        columns,
        predict_with,
        record_in,
        report,
    } = options;
    let record = compare(reference, current, config, model, columns, predict_with)?;
    if let Some(path) = &report {
        crate::report::write(&record, path)?;
    }
    let digest = match record_in {
        Some((project, progress)) => Some(crate::record::store_check(project, &record, progress)?),
        None => None,
    };
    Ok(Checked {
        record,
        digest,
        report,
    })
}

/// Compares the two tables: the record of the check.
pub fn compare(
    reference: Table,
    current: Table,
    config: Option<(String, DriftSpec)>,
    model: Option<ModelChecked>,
    columns: Option<Vec<String>>,
    predict_with: Option<&cairn_model::artifact::Artifact>,
) -> Result<DriftRecord, DriftError> {
    let clock = Instant::now();
    let started = format_micros(now_micros());
    let (config_name, spec) = match config {
        Some((name, spec)) => (Some(name), spec),
        None => (None, DriftSpec::default()),
    };
    let mut reference = reference.open()?;
    let mut columns = columns;
    if let Some(artifact) = predict_with {
        reference = crate::predictions::with_predictions(reference, artifact)?;
        let mut names = columns.unwrap_or_else(|| {
            artifact
                .header
                .inputs
                .iter()
                .map(|i| i.name.clone())
                .collect()
        });
        names.push(crate::predictions::PREDICTION.to_owned());
        columns = Some(names);
    }
    let current = current.open()?;
    let ref_schema = source::schema(&reference, Side::Reference)?;
    let cur_schema = source::schema(&current, Side::Current)?;
    let ignored: BTreeSet<&str> = spec.ignore.iter().map(String::as_str).collect();

    // The columns to compare, with their declared type.
    let names: Vec<String> = match &columns {
        Some(columns) => {
            for column in columns {
                if !ref_schema.iter().any(|(n, _)| n == column) {
                    return Err(DriftError::NotInReference {
                        source_name: reference.describe(),
                        column: column.clone(),
                        why: "the model takes it as an input".to_owned(),
                        columns: list(ref_schema.iter().map(|(n, _)| n.as_str())),
                    });
                }
            }
            columns.clone()
        }
        None => ref_schema.iter().map(|(n, _)| n.clone()).collect(),
    };
    for column in spec.columns.keys() {
        if !ref_schema.iter().any(|(n, _)| n == column) {
            return Err(DriftError::NotInReference {
                source_name: reference.describe(),
                column: column.clone(),
                why: format!(
                    "`{}` configures it",
                    config_key(config_name.as_deref(), column)
                ),
                columns: list(ref_schema.iter().map(|(n, _)| n.as_str())),
            });
        }
    }
    let ref_types: BTreeMap<&str, &DataType> =
        ref_schema.iter().map(|(n, d)| (n.as_str(), d)).collect();
    let cur_types: BTreeMap<&str, &DataType> =
        cur_schema.iter().map(|(n, d)| (n.as_str(), d)).collect();
    let mut wanted: Vec<(String, Option<ColumnType>)> = Vec::new();
    let mut skipped = Vec::new();
    for name in names.iter().filter(|n| !ignored.contains(n.as_str())) {
        let declared = spec.columns.get(name).and_then(|c| c.kind);
        let dtype = ref_types[name.as_str()];
        let cur_natural = cur_types.get(name.as_str()).map(|d| source::natural(d));
        let natural = match (source::natural(dtype), cur_natural) {
            (Natural::Empty, Some(other)) => other,
            (n, _) => n,
        };
        if natural == Natural::Other && declared.is_none() {
            skipped.push(SkippedColumn {
                column: name.clone(),
                dtype: dtype.to_string(),
            });
            continue;
        }
        wanted.push((name.clone(), declared));
    }
    if wanted.is_empty() {
        let detail = if skipped.is_empty() {
            String::new()
        } else {
            format!(
                ": drift compares numbers and categories, and {} hold other values",
                list(skipped.iter().map(|s| s.column.as_str()))
            )
        };
        return Err(DriftError::NoColumns {
            source_name: reference.describe(),
            detail,
        });
    }

    // Both tables at once: a read has phases that keep one core busy (a Parquet row group
    // decoded, a CSV chunk parsed), which the other table's read fills.
    let (ref_frame, cur_frame) = rayon::join(
        || source::read(&reference, Side::Reference, Some(&wanted)),
        || source::read(&current, Side::Current, Some(&wanted)),
    );
    let (ref_frame, cur_frame) = (ref_frame?, cur_frame?);
    for (frame, side, opened) in [
        (&ref_frame, Side::Reference, &reference),
        (&cur_frame, Side::Current, &current),
    ] {
        if frame.rows == 0 {
            return Err(DriftError::NoRows {
                side,
                source_name: opened.describe(),
            });
        }
    }

    // Each column on its own thread (rayon's pool): reducing a column (sorting its values,
    // counting its categories) and scoring it touch no other column. The results keep the
    // columns' order, and the first column's error (in that order) is the one reported.
    let one =
        |(name, declared): &(String, Option<ColumnType>)| -> Result<ColumnResult, DriftError> {
            let ref_type = ref_types[name.as_str()];
            let series = |frame: &source::Frame, opened: &Opened, side: Side| {
                frame
                    .frame
                    .column(name.as_str())
                    .map(|c| c.as_materialized_series().clone())
                    .map_err(|e| read_err(opened, side, e))
            };
            let Some(cur_type) = cur_types.get(name.as_str()) else {
                let kind = declared.unwrap_or(match source::natural(ref_type) {
                    Natural::Categorical => ColumnType::Categorical,
                    _ => ColumnType::Numeric,
                });
                let ref_series = series(&ref_frame, &reference, Side::Reference)?;
                let ref_sample = sample_of(&ref_series, kind, name, Side::Reference)?;
                return Ok(column::missing(name, kind, ref_sample.counts));
            };
            let ref_series = series(&ref_frame, &reference, Side::Reference)?;
            let cur_series = series(&cur_frame, &current, Side::Current)?;
            // A side without a single value (a CSV column of empty cells reads as text) takes
            // the other side's type.
            let typed = |series: &Series, dtype: &DataType| {
                if series.null_count() == series.len() {
                    DataType::Null
                } else {
                    dtype.clone()
                }
            };
            let kind = kind_of(
                name,
                *declared,
                &typed(&ref_series, ref_type),
                &typed(&cur_series, cur_type),
            )?;
            let ref_sample = sample_of(&ref_series, kind, name, Side::Reference)?;
            let cur_sample = sample_of(&cur_series, kind, name, Side::Current)?;
            drop((ref_series, cur_series));
            let rule = spec.columns.get(name);
            let rule = Rule {
                key: config_key(config_name.as_deref(), name),
                method: rule.and_then(|r| r.method),
                threshold: rule.and_then(|r| r.threshold),
            };
            column::compare(name, kind, &rule, ref_sample, cur_sample)
        };
    let results = wanted
        .par_iter()
        .map(one)
        .collect::<Vec<_>>()
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    let new_columns: Vec<String> = if columns.is_some() {
        Vec::new()
    } else {
        cur_schema
            .iter()
            .filter(|(n, _)| !ref_types.contains_key(n.as_str()))
            .map(|(n, _)| n.clone())
            .collect()
    };
    let compared = results.len() as u64;
    let drifted = results.iter().filter(|c| c.drifted).count() as u64;
    let share = drifted as f64 / compared as f64;
    Ok(DriftRecord {
        format: crate::record::DRIFT_FORMAT,
        started,
        duration_s: clock.elapsed().as_secs_f64(),
        model,
        config: config_name,
        reference: TableChecked {
            source: reference.source.clone(),
            rows: ref_frame.rows,
        },
        current: TableChecked {
            source: current.source.clone(),
            rows: cur_frame.rows,
        },
        drift_share: spec.drift_share,
        compared,
        drifted,
        share,
        dataset_drift: share >= spec.drift_share,
        columns: results,
        skipped,
        new_columns,
    })
}

fn read_err(opened: &Opened, side: Side, e: PolarsError) -> DriftError {
    DriftError::Read {
        side,
        source_name: opened.describe(),
        message: e.to_string(),
    }
}

/// `drift.NAME.columns.COLUMN`, or `columns.COLUMN` without a named table.
fn config_key(config: Option<&str>, column: &str) -> String {
    match config {
        Some(name) => format!("drift.{name}.columns.{column}"),
        None => format!("drift.NAME.columns.{column}"),
    }
}

fn list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How a column present on both sides is compared: as declared, else as its values read.
/// Numbers on one side and text on the other cannot be compared unless declared categorical.
fn kind_of(
    name: &str,
    declared: Option<ColumnType>,
    reference: &DataType,
    current: &DataType,
) -> Result<ColumnType, DriftError> {
    let (r, c) = (source::natural(reference), source::natural(current));
    if let Some(kind) = declared {
        if kind == ColumnType::Numeric {
            for (natural, side, dtype) in
                [(r, Side::Reference, reference), (c, Side::Current, current)]
            {
                if matches!(natural, Natural::Categorical | Natural::Other) {
                    return Err(DriftError::NotNumeric {
                        column: name.to_owned(),
                        side,
                        dtype: dtype.to_string(),
                        why: " (`type = \"numeric\"`)".to_owned(),
                    });
                }
            }
        }
        return Ok(kind);
    }
    match (r, c) {
        (Natural::Numeric, Natural::Numeric | Natural::Empty)
        | (Natural::Empty, Natural::Numeric | Natural::Empty) => Ok(ColumnType::Numeric),
        (Natural::Categorical, Natural::Categorical | Natural::Empty)
        | (Natural::Empty, Natural::Categorical) => Ok(ColumnType::Categorical),
        _ => Err(DriftError::TypeMismatch {
            column: name.to_owned(),
            reference: reference.to_string(),
            current: current.to_string(),
        }),
    }
}

fn sample_of(
    series: &Series,
    kind: ColumnType,
    name: &str,
    side: Side,
) -> Result<Sample, DriftError> {
    if series.dtype() == &DataType::Null || series.null_count() == series.len() {
        return Ok(sample::empty(series.len() as u64, kind));
    }
    let sampled = match kind {
        ColumnType::Numeric => sample::numeric(series),
        ColumnType::Categorical => sample::categorical(series),
    };
    sampled.map_err(|message| DriftError::Read {
        side,
        source_name: format!("column `{name}`"),
        message,
    })
}
