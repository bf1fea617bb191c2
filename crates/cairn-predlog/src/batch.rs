//! What a caller hands to the log: one request's predictions, or a batch of feedback labels.
//! The shapes are checked when a batch is logged (cheap: lengths only); everything else is
//! the writer's work.

use std::sync::Arc;

/// One request's rows: its inputs as received (or as read from the online store), and what the
/// model answered. All rows of a request share its id and timestamp; `row` in the log is a
/// row's index in the request.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictionBatch {
    /// The request id the response carried (feedback refers to it).
    pub request_id: String,
    /// When the request was scored: microseconds since 1970-01-01 UTC.
    pub ts_us: i64,
    /// The registered model version that answered.
    pub version: u32,
    /// The digest of that version's artifact (shared by every batch of the version).
    pub digest: Arc<str>,
    /// One column per model input, in the model's input order, each as long as the request
    /// has rows.
    pub inputs: Vec<Column>,
    /// Per row, the names of the inputs that were imputed (entity-keyed requests: a feature
    /// missing from the online store or expired). Empty when no row had an imputed input;
    /// otherwise one entry per row.
    pub imputed: Vec<Vec<String>>,
    /// The model's answer, one per row.
    pub prediction: Predicted,
}

/// One input of the model, for every row of a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// The input's name in the model's input schema.
    pub name: Arc<str>,
    pub values: Values,
}

/// An input's values. A value that was missing or imputed is `None`.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// A numeric input (ints and booleans as numbers, as the model reads them).
    Number(Vec<Option<f64>>),
    /// A categorical input.
    Text(Vec<Option<String>>),
}

impl Values {
    pub fn len(&self) -> usize {
        match self {
            Values::Number(v) => v.len(),
            Values::Text(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn kind(&self) -> ValueKind {
        match self {
            Values::Number(_) => ValueKind::Number,
            Values::Text(_) => ValueKind::Text,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueKind {
    Number,
    Text,
}

/// The model's answer for every row of a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Predicted {
    /// A regressor's values.
    Values(Vec<f64>),
    /// A classifier's answers: `class[i]` is row `i`'s class, an index into `labels`.
    Classes {
        /// The model's class labels in class order, as text (shared by every batch of a
        /// version).
        labels: Arc<[String]>,
        class: Vec<usize>,
        /// Class probabilities, row-major: row `i`'s are
        /// `proba[i * labels.len()..(i + 1) * labels.len()]`.
        proba: Option<Vec<f64>>,
    },
}

impl Predicted {
    pub fn rows(&self) -> usize {
        match self {
            Predicted::Values(v) => v.len(),
            Predicted::Classes { class, .. } => class.len(),
        }
    }
}

impl PredictionBatch {
    /// The number of rows: the number of predictions.
    pub fn rows(&self) -> usize {
        self.prediction.rows()
    }

    /// Checks the shapes (every column as long as the predictions, class indices in range);
    /// the reason a batch is refused otherwise.
    pub(crate) fn check(&self) -> Result<(), String> {
        let rows = self.rows();
        for column in &self.inputs {
            if column.values.len() != rows {
                return Err(format!(
                    "input `{}` has {} values for {rows} predictions",
                    column.name,
                    column.values.len()
                ));
            }
        }
        if !self.imputed.is_empty() && self.imputed.len() != rows {
            return Err(format!(
                "the imputed inputs are given for {} rows, there are {rows} predictions",
                self.imputed.len()
            ));
        }
        if let Predicted::Classes {
            labels,
            class,
            proba,
        } = &self.prediction
        {
            if let Some(&bad) = class.iter().find(|&&c| c >= labels.len()) {
                return Err(format!(
                    "class index {bad} is out of range for {} labels",
                    labels.len()
                ));
            }
            if let Some(proba) = proba
                && proba.len() != rows * labels.len()
            {
                return Err(format!(
                    "{} probabilities for {rows} rows of {} classes",
                    proba.len(),
                    labels.len()
                ));
            }
        }
        Ok(())
    }
}

/// True outcomes for logged predictions, as they arrive (often long after the prediction).
#[derive(Debug, Clone, PartialEq)]
pub struct FeedbackBatch {
    /// When the feedback was received: microseconds since 1970-01-01 UTC.
    pub ts_us: i64,
    pub records: Vec<Feedback>,
}

/// The true outcome of one logged prediction: the row `row` of request `request_id`.
#[derive(Debug, Clone, PartialEq)]
pub struct Feedback {
    pub request_id: String,
    /// The row's index in its request (0 for a single-row request).
    pub row: u32,
    pub label: FeedbackLabel,
}

/// A true outcome: a number for a regressor, a class label as text for a classifier (written
/// the way the log writes the predicted label, so that the two compare equal).
#[derive(Debug, Clone, PartialEq)]
pub enum FeedbackLabel {
    Number(f64),
    Text(String),
}

impl FeedbackLabel {
    pub(crate) fn kind(&self) -> ValueKind {
        match self {
            FeedbackLabel::Number(_) => ValueKind::Number,
            FeedbackLabel::Text(_) => ValueKind::Text,
        }
    }
}

/// A batch that was not logged. The log never blocks the caller: it refuses instead, and
/// counts the rows in its stats.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{rows} rows not logged: {reason}")]
pub struct Dropped {
    pub rows: usize,
    pub reason: DropReason,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DropReason {
    /// The queue to the writer holds as many rows as it may: the writer is behind.
    #[error("the prediction log's queue is full")]
    QueueFull,
    /// The log was closed.
    #[error("the prediction log is closed")]
    Closed,
    /// The batch's shape is wrong (a caller's bug).
    #[error("invalid batch: {0}")]
    Invalid(String),
}
