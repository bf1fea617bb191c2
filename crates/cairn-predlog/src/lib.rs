//! The prediction log: what a served model was asked and what it answered, and the true
//! outcomes that arrive later, as rotated Parquet segments under `.cairn/predictions/NAME/`.
//!
//! The server writes it through a [`PredictionLog`]: [`PredictionLog::log`] hands a request's
//! rows to one background writer thread over a bounded queue and never blocks (a full queue
//! drops the batch and counts it); the writer appends the rows to columnar buffers, writes a
//! row group at a time to a segment under a temporary name, and renames the segment into place
//! when it is complete, so a reader never sees a torn segment. Drift detection and production
//! metrics read it back with [`read`](fn@read), [`read_feedback`] and [`attach_feedback`].
//!
//! The format is documented in `docs/formats/predictions.md`; its version is
//! [`FORMAT_VERSION`], in every segment's name and Parquet key-value metadata, and a reader
//! refuses a newer one.
//!
//! Libraries never print: the writer's troubles are counted in [`LogStats`] for the caller to
//! report.

mod batch;
mod buffers;
mod read;
mod segment;
mod writer;

pub use batch::{
    Column, DropReason, Dropped, Feedback, FeedbackBatch, FeedbackLabel, Predicted,
    PredictionBatch, Values,
};
pub use read::{ReadError, ReadOptions, attach_feedback, input_names, read, read_feedback};
pub use segment::{FORMAT_KEY, KIND_KEY, MODEL_KEY, MODEL_VERSION_KEY};
pub use writer::{KindStats, LogError, LogOptions, LogStats, PredictionLog};

/// The prediction-log format this crate writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// The subdirectory of a model's log that holds its feedback segments.
pub const FEEDBACK_DIR: &str = "feedback";

/// The prefix of the column of each model input: input `amount` is column `input_amount`.
pub const INPUT_PREFIX: &str = "input_";

/// The prefix of each class probability column: class `fraud` is column `proba_fraud`.
pub const PROBA_PREFIX: &str = "proba_";

/// The names of the log's fixed columns.
pub mod columns {
    pub const REQUEST_ID: &str = "request_id";
    pub const ROW: &str = "row";
    pub const TS: &str = "ts";
    pub const MODEL: &str = "model";
    pub const VERSION: &str = "version";
    pub const DIGEST: &str = "digest";
    pub const IMPUTED: &str = "imputed";
    pub const PREDICTION: &str = "prediction";
    pub const PREDICTION_INDEX: &str = "prediction_index";
    /// Feedback segments: the true outcome.
    pub const LABEL: &str = "label";
    /// [`crate::attach_feedback`]: when the label was received.
    pub const LABEL_TS: &str = "label_ts";
}

/// The two kinds of segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Predictions,
    Feedback,
}

impl Kind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Predictions => "predictions",
            Kind::Feedback => "feedback",
        }
    }
}

#[cfg(test)]
mod tests;
