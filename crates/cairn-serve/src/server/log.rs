//! The prediction log, wired to the server: one `cairn_predlog::PredictionLog` per served
//! model name (`.cairn/predictions/NAME/`), fed by every answered request and by feedback.
//! Logging never blocks a request: a full queue drops the rows, which the log counts;
//! `/metrics` shows the counts and the server reports drops and write errors as events.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::http::StatusCode;
use cairn_model::prep::InputKind;
use cairn_predlog::{
    Column, Feedback, FeedbackBatch, FeedbackLabel, LogOptions, LogStats, Predicted,
    PredictionBatch, PredictionLog, Values,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::Model;
use crate::rows::Rows;
use crate::score::Scored;

use super::Event;
use super::metrics::LogGauges;

/// How the prediction log rotates and queues.
#[derive(Debug, Clone, Default)]
pub struct LogSettings {
    pub options: LogOptions,
}

/// A log that could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot open the prediction log of {model}: {source}")]
pub struct LogOpenError {
    pub model: String,
    #[source]
    pub source: cairn_predlog::LogError,
}

/// A prediction log as it was closed.
#[derive(Debug, Clone, Serialize)]
pub struct LogSummary {
    pub model: String,
    pub directory: PathBuf,
    pub stats: LogStats,
    /// What went wrong when it closed (rows that could not be written).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The server's prediction logs, by model name.
pub(crate) struct Logs {
    root: PathBuf,
    settings: LogSettings,
    open: Mutex<BTreeMap<String, PredictionLog>>,
    /// Logs that could not be opened, or whose directory cannot be written: (model, what
    /// went wrong), reported once, as troubles.
    failed: Mutex<Vec<(String, String)>>,
    /// (dropped rows, write errors) last reported, per model.
    reported: Mutex<BTreeMap<String, (u64, u64)>>,
}

impl Logs {
    pub(crate) fn new(root: PathBuf, settings: LogSettings) -> Logs {
        Logs {
            root,
            settings,
            open: Mutex::new(BTreeMap::new()),
            failed: Mutex::new(Vec::new()),
            reported: Mutex::new(BTreeMap::new()),
        }
    }

    /// The log of `model`'s name (opened on first use), with what `model`'s batches repeat.
    pub(crate) fn for_model(&self, model: &Model) -> Option<ModelLog> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let log = match open.get(&model.name) {
            Some(log) => log.clone(),
            None => {
                let dir = self.root.join(&model.name);
                // The writer creates its first segment only when it has rows to write: find
                // out now whether it can, so that the operator hears of it at once. The log is
                // opened anyway, and writes again once the directory is writable.
                if let Err(e) = probe(&dir) {
                    self.trouble(
                        &model.name,
                        format!("cannot write in {}: {e}", dir.display()),
                    );
                }
                match PredictionLog::open(&dir, &self.settings.options) {
                    Ok(log) => {
                        open.insert(model.name.clone(), log.clone());
                        log
                    }
                    Err(source) => {
                        let failure = LogOpenError {
                            model: model.name.clone(),
                            source,
                        };
                        self.trouble(&model.name, failure.to_string());
                        return None;
                    }
                }
            }
        };
        Some(ModelLog {
            log,
            digest: model.digest.as_str().into(),
            labels: model
                .labels()
                .map(|labels| labels.iter().map(ToString::to_string).collect()),
            names: model
                .schema
                .inputs()
                .iter()
                .map(|i| i.name.as_str().into())
                .collect(),
            regressor: !model.is_classifier(),
        })
    }

    fn trouble(&self, model: &str, message: String) {
        self.failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((model.to_owned(), message));
    }

    pub(crate) fn gauges(&self) -> Vec<LogGauges> {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.iter()
            .map(|(model, log)| {
                let s = log.stats();
                LogGauges {
                    model: model.clone(),
                    queued_rows: s.queued_rows,
                    written_rows: s.predictions.written_rows,
                    dropped_rows: s.predictions.dropped_rows + s.feedback.dropped_rows,
                    segments: s.predictions.segments,
                    write_errors: s.write_errors,
                }
            })
            .collect()
    }

    /// Events for logs that dropped rows or failed to write since the last call, and for logs
    /// that could not be opened.
    pub(crate) fn troubles(&self) -> Vec<Event> {
        let mut events = Vec::new();
        for (model, message) in self
            .failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            events.push(Event::LogTrouble {
                model,
                dropped_rows: 0,
                write_errors: 1,
                last_error: Some(message),
            });
        }
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let mut reported = self.reported.lock().unwrap_or_else(|p| p.into_inner());
        for (model, log) in open.iter() {
            let s = log.stats();
            let now = (
                s.predictions.dropped_rows + s.feedback.dropped_rows,
                s.write_errors,
            );
            let before = reported.get(model).copied().unwrap_or((0, 0));
            if now.0 > before.0 || now.1 > before.1 {
                events.push(Event::LogTrouble {
                    model: model.clone(),
                    dropped_rows: now.0,
                    write_errors: now.1,
                    last_error: s.last_error.clone(),
                });
                reported.insert(model.clone(), now);
            }
        }
        events
    }

    /// Closes every log: what is queued is written and the open segments are completed.
    pub(crate) fn close(&self) -> Vec<LogSummary> {
        let open = std::mem::take(&mut *self.open.lock().unwrap_or_else(|p| p.into_inner()));
        open.into_iter()
            .map(|(model, log)| {
                let directory = self.root.join(&model);
                let before = log.stats();
                match log.close() {
                    Ok(stats) => LogSummary {
                        model,
                        directory,
                        stats,
                        error: None,
                    },
                    Err(e) => LogSummary {
                        model,
                        directory,
                        stats: before,
                        error: Some(e.to_string()),
                    },
                }
            })
            .collect()
    }
}

/// The log of one served version.
#[derive(Clone)]
pub(crate) struct ModelLog {
    log: PredictionLog,
    digest: Arc<str>,
    labels: Option<Arc<[String]>>,
    names: Vec<Arc<str>>,
    regressor: bool,
}

impl ModelLog {
    /// Logs a request's rows and predictions (never blocks: a full queue drops them, and the
    /// log counts the drop).
    pub(crate) fn record(
        &self,
        model: &Model,
        request_id: &str,
        ts: SystemTime,
        rows: &Rows,
        scored: &Scored,
        imputed: Option<&[Vec<String>]>,
    ) {
        let n = rows.len();
        let inputs = model
            .schema
            .inputs()
            .iter()
            .enumerate()
            .map(|(slot, input)| Column {
                name: Arc::clone(&self.names[slot]),
                values: match input.kind {
                    InputKind::Number { .. } => Values::Number(
                        (0..n)
                            .map(|row| match rows.get(row, slot) {
                                Some(Value::Number(x)) => x.as_f64(),
                                Some(Value::Bool(b)) => Some(f64::from(u8::from(*b))),
                                _ => None,
                            })
                            .collect(),
                    ),
                    InputKind::Category { .. } => Values::Text(
                        (0..n)
                            .map(|row| match rows.get(row, slot) {
                                Some(Value::String(s)) => Some(s.clone()),
                                _ => None,
                            })
                            .collect(),
                    ),
                },
            })
            .collect();
        let prediction = match (scored, &self.labels) {
            (
                Scored::Classes {
                    class,
                    proba,
                    n_classes: _,
                },
                Some(labels),
            ) => Predicted::Classes {
                labels: Arc::clone(labels),
                class: class.clone(),
                proba: Some(proba.clone()),
            },
            (Scored::Values(values), _) => Predicted::Values(values.clone()),
            // A classifier's answer without labels cannot happen: a loaded classifier has them.
            (Scored::Classes { class, .. }, None) => {
                Predicted::Values(class.iter().map(|c| *c as f64).collect())
            }
        };
        let imputed = match imputed {
            Some(imputed) if imputed.iter().any(|r| !r.is_empty()) => imputed.to_vec(),
            _ => Vec::new(),
        };
        // Dropped batches are counted by the log and reported from its stats.
        let _ = self.log.log(PredictionBatch {
            request_id: request_id.to_owned(),
            ts_us: micros(ts),
            version: model.version,
            digest: Arc::clone(&self.digest),
            inputs,
            imputed,
            prediction,
        });
    }

    /// Records a feedback body: `{"request_id": …, "row": …, "label": …}`, a list of such
    /// objects, or `{"feedback": [ … ]}` (`row` defaults to 0). Returns how many were accepted.
    pub(crate) fn feedback(
        &self,
        model: &Model,
        body: &[u8],
        ts: SystemTime,
    ) -> Result<usize, FeedbackError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Record {
            request_id: String,
            #[serde(default)]
            row: u32,
            label: Value,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Body {
            One(Record),
            Many(Vec<Record>),
            Wrapped { feedback: Vec<Record> },
        }
        let body: Body = serde_json::from_slice(body).map_err(|e| FeedbackError::Malformed {
            reason: e.to_string(),
        })?;
        let records = match body {
            Body::One(r) => vec![r],
            Body::Many(r) | Body::Wrapped { feedback: r } => r,
        };
        if records.is_empty() {
            return Err(FeedbackError::Malformed {
                reason: "no feedback records".into(),
            });
        }
        let mut out = Vec::with_capacity(records.len());
        for (i, r) in records.into_iter().enumerate() {
            let label = match (&r.label, self.regressor) {
                (Value::Number(n), true) => n
                    .as_f64()
                    .filter(|x| x.is_finite())
                    .map(FeedbackLabel::Number),
                (_, true) => None,
                (Value::String(s), false) => Some(FeedbackLabel::Text(s.clone())),
                (Value::Number(n), false) => Some(FeedbackLabel::Text(n.to_string())),
                (Value::Bool(b), false) => Some(FeedbackLabel::Text(b.to_string())),
                (_, false) => None,
            };
            let Some(label) = label else {
                return Err(FeedbackError::Label {
                    index: i,
                    reason: if self.regressor {
                        format!(
                            "{} is a regressor: its labels are numbers, not {}",
                            model.name, r.label
                        )
                    } else {
                        format!(
                            "{} is a classifier: its labels are strings, numbers or booleans, not {}",
                            model.name, r.label
                        )
                    },
                });
            };
            out.push(Feedback {
                request_id: r.request_id,
                row: r.row,
                label,
            });
        }
        let n = out.len();
        self.log
            .feedback(FeedbackBatch {
                ts_us: micros(ts),
                records: out,
            })
            .map_err(|dropped| FeedbackError::Dropped {
                reason: dropped.to_string(),
            })?;
        Ok(n)
    }
}

/// Why feedback was not recorded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FeedbackError {
    #[error(
        "the feedback body cannot be read: {reason} (expected {{\"request_id\": …, \"row\": …, \"label\": …}}, a list of them, or {{\"feedback\": [ … ]}})"
    )]
    Malformed { reason: String },
    #[error("feedback record {index}: {reason}")]
    Label { index: usize, reason: String },
    #[error("the feedback was not recorded: {reason}")]
    Dropped { reason: String },
}

impl FeedbackError {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            FeedbackError::Malformed { .. } | FeedbackError::Label { .. } => {
                StatusCode::BAD_REQUEST
            }
            FeedbackError::Dropped { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub(crate) fn code(&self) -> &'static str {
        match self {
            FeedbackError::Malformed { .. } => "malformed",
            FeedbackError::Label { .. } => "wrong_type",
            FeedbackError::Dropped { .. } => "log_full",
        }
    }
}

/// Creates `dir` if it is missing and checks that a file can be made in it.
fn probe(dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    // Removed when dropped.
    cairn_store::atomic::TempFile::new_in(dir, 0o644).map(drop)
}

fn micros(ts: SystemTime) -> i64 {
    ts.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}
