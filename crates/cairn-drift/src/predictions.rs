//! Prediction drift: a model's prediction log as the current data (its inputs under their
//! names, and its `prediction` column), and the model's predictions on the reference rows, so
//! that the model's output is compared as well as its inputs.

use std::path::PathBuf;

use cairn_core::time::format_micros;
use cairn_model::artifact::{Artifact, Predictions};
use cairn_model::prep::InputKind;
use cairn_predlog::{INPUT_PREFIX, ReadOptions};
use polars::prelude::*;

use crate::error::{DriftError, Side};
use crate::record::DataSource;
use crate::source::Opened;

/// The column compared for prediction drift, on both sides.
pub const PREDICTION: &str = "prediction";

/// The rows a model version logged (`.cairn/predictions/NAME`, docs/formats/predictions.md).
#[derive(Debug, Clone)]
pub struct LoggedPredictions {
    /// The model's log directory, `.cairn/predictions/NAME`.
    pub dir: PathBuf,
    pub model: String,
    /// Only this version's rows.
    pub version: u32,
    /// Only rows logged at or after this time (microseconds since 1970-01-01 UTC).
    pub since: Option<i64>,
}

impl LoggedPredictions {
    /// The logged rows: each input column `input_NAME` as `NAME` (numbers as f64, categories
    /// as text, null where the request had no value), and `prediction`.
    pub(crate) fn read(self) -> Result<(DataFrame, DataSource), DriftError> {
        let source = DataSource::Predictions {
            model: self.model.clone(),
            version: self.version,
            since: self.since.map(format_micros),
        };
        let logged = cairn_predlog::read(
            &self.dir,
            &ReadOptions {
                since: self.since,
                until: None,
                version: Some(self.version),
            },
        )
        .map_err(|e| DriftError::Log {
            model: self.model.clone(),
            message: e.to_string(),
        })?;
        let mut exprs: Vec<Expr> = cairn_predlog::input_names(&logged)
            .into_iter()
            .map(|name| col(format!("{INPUT_PREFIX}{name}")).alias(name))
            .collect();
        if logged.column(PREDICTION).is_ok() {
            exprs.push(col(PREDICTION));
        }
        let height = logged.height();
        let frame = if exprs.is_empty() {
            DataFrame::empty_with_height(height)
        } else {
            logged
                .lazy()
                .select(exprs)
                .collect()
                .map_err(|e| DriftError::Read {
                    side: Side::Current,
                    source_name: source.describe(),
                    message: e.to_string(),
                })?
        };
        Ok((frame, source))
    }
}

/// The reference's rows as the log holds them — each model input as a number (f64) or as
/// text — with the model's prediction on each row in `prediction` (a regressor's value, or a
/// classifier's label as text, as the log writes it).
pub(crate) fn with_predictions(opened: Opened, artifact: &Artifact) -> Result<Opened, DriftError> {
    let describe = opened.describe();
    let read_err = |e: PolarsError| DriftError::Read {
        side: Side::Reference,
        source_name: describe.clone(),
        message: e.to_string(),
    };
    let frame = opened.with(|lf| cairn_core::table::collect_streaming(lf).map_err(read_err))?;
    let predicted = artifact
        .predict_frame(&frame)
        .map_err(|e| DriftError::Predict {
            source_name: describe.clone(),
            message: e.to_string(),
        })?;
    let prediction = match predicted {
        Predictions::Values(values) => Column::new(PREDICTION.into(), values),
        Predictions::Classes { class, .. } => {
            let labels = artifact.labels().unwrap_or(&[]);
            let text: Vec<Option<String>> = class
                .iter()
                .map(|&c| labels.get(c).map(ToString::to_string))
                .collect();
            Column::new(PREDICTION.into(), text)
        }
    };
    let exprs: Vec<Expr> = artifact
        .header
        .inputs
        .iter()
        .map(|input| {
            let c = col(input.name.as_str());
            match input.kind {
                InputKind::Number { .. } => c.cast(DataType::Float64),
                InputKind::Category { .. } => c.cast(DataType::String),
            }
        })
        .collect();
    let mut frame = frame.lazy().select(exprs).collect().map_err(read_err)?;
    frame.with_column(prediction).map_err(read_err)?;
    Ok(Opened::in_memory(frame, opened.source.clone()))
}
