//! The writer's columnar buffers: a request's rows are appended column by column (no frame per
//! request); a row group's worth is turned into one frame and written.

use std::sync::Arc;

use polars::prelude::*;

use crate::batch::{FeedbackBatch, FeedbackLabel, Predicted, PredictionBatch, ValueKind, Values};
use crate::segment::{Buffers, FORMAT_KEY, KIND_KEY, MODEL_KEY, MODEL_VERSION_KEY};
use crate::{FORMAT_VERSION, INPUT_PREFIX, PROBA_PREFIX, columns};

/// Everything that makes two batches of predictions fit in one segment: the same model
/// version, artifact, inputs and answers.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictionSchema {
    pub version: u32,
    pub digest: Arc<str>,
    pub inputs: Vec<(Arc<str>, ValueKind)>,
    pub task: TaskSchema,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TaskSchema {
    Regression,
    Classification { labels: Arc<[String]>, proba: bool },
}

impl PredictionSchema {
    pub fn of(batch: &PredictionBatch) -> Self {
        PredictionSchema {
            version: batch.version,
            digest: batch.digest.clone(),
            inputs: batch
                .inputs
                .iter()
                .map(|c| (c.name.clone(), c.values.kind()))
                .collect(),
            task: match &batch.prediction {
                Predicted::Values(_) => TaskSchema::Regression,
                Predicted::Classes { labels, proba, .. } => TaskSchema::Classification {
                    labels: labels.clone(),
                    proba: proba.is_some(),
                },
            },
        }
    }

    /// Whether `batch` has this schema (cheap when the batch shares this schema's `Arc`s).
    pub fn matches(&self, batch: &PredictionBatch) -> bool {
        let same = |a: &Arc<str>, b: &Arc<str>| Arc::ptr_eq(a, b) || a == b;
        self.version == batch.version
            && same(&self.digest, &batch.digest)
            && self.inputs.len() == batch.inputs.len()
            && self
                .inputs
                .iter()
                .zip(&batch.inputs)
                .all(|((name, kind), c)| same(name, &c.name) && *kind == c.values.kind())
            && match (&self.task, &batch.prediction) {
                (TaskSchema::Regression, Predicted::Values(_)) => true,
                (
                    TaskSchema::Classification { labels, proba },
                    Predicted::Classes {
                        labels: theirs,
                        proba: their_proba,
                        ..
                    },
                ) => {
                    (Arc::ptr_eq(labels, theirs) || labels == theirs)
                        && *proba == their_proba.is_some()
                }
                _ => false,
            }
    }

    /// The segment's columns, or why the schema cannot be written (two columns with one name).
    pub fn columns(&self) -> Result<Schema, String> {
        let mut schema = Schema::with_capacity(self.inputs.len() + 12);
        let mut add = |name: String, dtype: DataType| -> Result<(), String> {
            if schema.insert(name.as_str().into(), dtype).is_some() {
                return Err(format!("two columns would be named `{name}`"));
            }
            Ok(())
        };
        add(columns::REQUEST_ID.into(), DataType::String)?;
        add(columns::ROW.into(), DataType::UInt32)?;
        add(columns::TS.into(), ts_dtype())?;
        add(columns::MODEL.into(), DataType::String)?;
        add(columns::VERSION.into(), DataType::UInt32)?;
        add(columns::DIGEST.into(), DataType::String)?;
        for (name, kind) in &self.inputs {
            add(format!("{INPUT_PREFIX}{name}"), kind_dtype(*kind))?;
        }
        add(
            columns::IMPUTED.into(),
            DataType::List(Box::new(DataType::String)),
        )?;
        match &self.task {
            TaskSchema::Regression => add(columns::PREDICTION.into(), DataType::Float64)?,
            TaskSchema::Classification { labels, proba } => {
                add(columns::PREDICTION.into(), DataType::String)?;
                add(columns::PREDICTION_INDEX.into(), DataType::UInt32)?;
                if *proba {
                    for label in labels.iter() {
                        add(format!("{PROBA_PREFIX}{label}"), DataType::Float64)?;
                    }
                }
            }
        }
        Ok(schema)
    }
}

/// The type of the `ts` columns: microseconds, UTC.
pub fn ts_dtype() -> DataType {
    DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
}

fn kind_dtype(kind: ValueKind) -> DataType {
    match kind {
        ValueKind::Number => DataType::Float64,
        ValueKind::Text => DataType::String,
    }
}

/// An input's buffered values.
enum InputBuffer {
    Number(Vec<Option<f64>>),
    Text(StringChunkedBuilder),
}

/// The rows of a prediction segment that are not yet written.
pub struct PredictionBuffers {
    schema: PredictionSchema,
    columns: Schema,
    model: String,
    capacity: usize,
    rows: usize,
    request_id: StringChunkedBuilder,
    row: Vec<u32>,
    ts: Vec<i64>,
    inputs: Vec<InputBuffer>,
    imputed: ListStringChunkedBuilder,
    /// Regression: the values; classification: the class indices.
    values: Vec<f64>,
    class: Vec<u32>,
    proba: Vec<Vec<f64>>,
}

impl PredictionBuffers {
    /// Buffers for `schema`, sized for `capacity` rows per row group; `Err` when the schema
    /// cannot be written.
    pub fn new(schema: PredictionSchema, model: &str, capacity: usize) -> Result<Self, String> {
        let columns = schema.columns()?;
        let n_proba = match &schema.task {
            TaskSchema::Classification {
                labels,
                proba: true,
            } => labels.len(),
            _ => 0,
        };
        let mut buffers = PredictionBuffers {
            inputs: Vec::with_capacity(schema.inputs.len()),
            proba: vec![Vec::new(); n_proba],
            schema,
            columns,
            model: model.to_owned(),
            capacity,
            rows: 0,
            request_id: StringChunkedBuilder::new(columns::REQUEST_ID.into(), 0),
            row: Vec::new(),
            ts: Vec::new(),
            imputed: ListStringChunkedBuilder::new(columns::IMPUTED.into(), 0, 0),
            values: Vec::new(),
            class: Vec::new(),
        };
        buffers.reset();
        Ok(buffers)
    }

    pub fn schema(&self) -> &PredictionSchema {
        &self.schema
    }

    /// The key-value metadata of a segment of this schema.
    pub fn metadata(&self) -> Vec<(String, String)> {
        vec![
            (FORMAT_KEY.into(), FORMAT_VERSION.to_string()),
            (KIND_KEY.into(), crate::Kind::Predictions.as_str().into()),
            (MODEL_KEY.into(), self.model.clone()),
            (MODEL_VERSION_KEY.into(), self.schema.version.to_string()),
        ]
    }

    /// Empty buffers with room for a row group.
    fn reset(&mut self) {
        let n = self.capacity;
        self.rows = 0;
        self.request_id = StringChunkedBuilder::new(columns::REQUEST_ID.into(), n);
        self.row = Vec::with_capacity(n);
        self.ts = Vec::with_capacity(n);
        self.inputs = self
            .schema
            .inputs
            .iter()
            .map(|(name, kind)| match kind {
                ValueKind::Number => InputBuffer::Number(Vec::with_capacity(n)),
                ValueKind::Text => InputBuffer::Text(StringChunkedBuilder::new(
                    format!("{INPUT_PREFIX}{name}").into(),
                    n,
                )),
            })
            .collect();
        self.imputed = ListStringChunkedBuilder::new(columns::IMPUTED.into(), n, 0);
        match &self.schema.task {
            TaskSchema::Regression => self.values = Vec::with_capacity(n),
            TaskSchema::Classification { .. } => self.class = Vec::with_capacity(n),
        }
        for p in &mut self.proba {
            *p = Vec::with_capacity(n);
        }
    }

    /// Appends a batch whose schema [`PredictionSchema::matches`] this one and whose shape
    /// was checked.
    pub fn append(&mut self, batch: PredictionBatch) {
        let rows = batch.rows();
        for i in 0..rows {
            self.request_id.append_value(&batch.request_id);
            // A request of more than 4 billion rows is not a request the server takes.
            self.row.push(u32::try_from(i).unwrap_or(u32::MAX));
        }
        self.ts.extend(std::iter::repeat_n(batch.ts_us, rows));
        for (buffer, column) in self.inputs.iter_mut().zip(batch.inputs) {
            match (buffer, column.values) {
                (InputBuffer::Number(b), Values::Number(v)) => b.extend(v),
                (InputBuffer::Text(b), Values::Text(v)) => {
                    for value in v {
                        b.append_option(value);
                    }
                }
                // `matches` checked the kinds; a mismatch cannot reach here, but keep the row
                // count right if it did.
                (InputBuffer::Number(b), Values::Text(_)) => {
                    b.extend(std::iter::repeat_n(None, rows))
                }
                (InputBuffer::Text(b), Values::Number(_)) => {
                    for _ in 0..rows {
                        b.append_null();
                    }
                }
            }
        }
        if batch.imputed.is_empty() {
            for _ in 0..rows {
                self.imputed.append_values_iter(std::iter::empty());
            }
        } else {
            for names in &batch.imputed {
                self.imputed
                    .append_values_iter(names.iter().map(String::as_str));
            }
        }
        match batch.prediction {
            Predicted::Values(v) => self.values.extend(v),
            Predicted::Classes { class, proba, .. } => {
                self.class
                    .extend(class.iter().map(|&c| u32::try_from(c).unwrap_or(u32::MAX)));
                if let Some(proba) = proba {
                    let n = self.proba.len();
                    if n > 0 {
                        for row in proba.chunks_exact(n) {
                            for (column, &p) in self.proba.iter_mut().zip(row) {
                                column.push(p);
                            }
                        }
                    }
                }
            }
        }
        self.rows += rows;
    }
}

impl Buffers for PredictionBuffers {
    fn rows(&self) -> usize {
        self.rows
    }

    fn schema(&self) -> &Schema {
        &self.columns
    }

    fn take_frame(&mut self) -> PolarsResult<DataFrame> {
        let n = self.rows;
        let request_id = std::mem::replace(
            &mut self.request_id,
            StringChunkedBuilder::new(columns::REQUEST_ID.into(), 0),
        );
        let mut out: Vec<Column> = Vec::with_capacity(self.columns.len());
        out.push(request_id.finish().into_column());
        out.push(
            UInt32Chunked::from_vec(columns::ROW.into(), std::mem::take(&mut self.row))
                .into_column(),
        );
        out.push(
            Int64Chunked::from_vec(columns::TS.into(), std::mem::take(&mut self.ts))
                .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
                .into_column(),
        );
        out.push(StringChunked::full(columns::MODEL.into(), &self.model, n).into_column());
        out.push(
            UInt32Chunked::full(columns::VERSION.into(), self.schema.version, n).into_column(),
        );
        out.push(StringChunked::full(columns::DIGEST.into(), &self.schema.digest, n).into_column());
        let inputs = std::mem::take(&mut self.inputs);
        for ((name, _), buffer) in self.schema.inputs.iter().zip(inputs) {
            let name: PlSmallStr = format!("{INPUT_PREFIX}{name}").into();
            out.push(match buffer {
                InputBuffer::Number(v) => {
                    Float64Chunked::from_iter_options(name, v.into_iter()).into_column()
                }
                InputBuffer::Text(b) => b.finish().into_column(),
            });
        }
        let mut imputed = std::mem::replace(
            &mut self.imputed,
            ListStringChunkedBuilder::new(columns::IMPUTED.into(), 0, 0),
        );
        out.push(imputed.finish().into_column());
        match &self.schema.task {
            TaskSchema::Regression => out.push(
                Float64Chunked::from_vec(
                    columns::PREDICTION.into(),
                    std::mem::take(&mut self.values),
                )
                .into_column(),
            ),
            TaskSchema::Classification { labels, .. } => {
                let class = std::mem::take(&mut self.class);
                let label: StringChunked = class
                    .iter()
                    .map(|&c| labels.get(c as usize).map(String::as_str))
                    .collect();
                out.push(label.with_name(columns::PREDICTION.into()).into_column());
                out.push(
                    UInt32Chunked::from_vec(columns::PREDICTION_INDEX.into(), class).into_column(),
                );
                for (label, values) in labels.iter().zip(&mut self.proba) {
                    out.push(
                        Float64Chunked::from_vec(
                            format!("{PROBA_PREFIX}{label}").into(),
                            std::mem::take(values),
                        )
                        .into_column(),
                    );
                }
            }
        }
        self.reset();
        DataFrame::new(n, out)
    }
}

/// The rows of a feedback segment that are not yet written. A segment holds labels of one
/// kind (numbers or text).
pub struct FeedbackBuffers {
    kind: ValueKind,
    columns: Schema,
    model: String,
    capacity: usize,
    request_id: StringChunkedBuilder,
    row: Vec<u32>,
    numbers: Vec<f64>,
    text: StringChunkedBuilder,
    ts: Vec<i64>,
}

impl FeedbackBuffers {
    pub fn new(kind: ValueKind, model: &str, capacity: usize) -> Self {
        let mut schema = Schema::with_capacity(4);
        schema.insert(columns::REQUEST_ID.into(), DataType::String);
        schema.insert(columns::ROW.into(), DataType::UInt32);
        schema.insert(columns::LABEL.into(), kind_dtype(kind));
        schema.insert(columns::TS.into(), ts_dtype());
        FeedbackBuffers {
            kind,
            columns: schema,
            model: model.to_owned(),
            capacity,
            request_id: StringChunkedBuilder::new(columns::REQUEST_ID.into(), capacity),
            row: Vec::with_capacity(capacity),
            numbers: Vec::new(),
            text: StringChunkedBuilder::new(columns::LABEL.into(), 0),
            ts: Vec::with_capacity(capacity),
        }
    }

    pub fn kind(&self) -> ValueKind {
        self.kind
    }

    pub fn metadata(&self) -> Vec<(String, String)> {
        vec![
            (FORMAT_KEY.into(), FORMAT_VERSION.to_string()),
            (KIND_KEY.into(), crate::Kind::Feedback.as_str().into()),
            (MODEL_KEY.into(), self.model.clone()),
        ]
    }

    /// Appends the records of `batch` whose label is of this segment's kind; returns how many.
    pub fn append(&mut self, batch: &FeedbackBatch) -> usize {
        let mut n = 0;
        for record in &batch.records {
            match (&record.label, self.kind) {
                (FeedbackLabel::Number(v), ValueKind::Number) => self.numbers.push(*v),
                (FeedbackLabel::Text(t), ValueKind::Text) => self.text.append_value(t),
                _ => continue,
            }
            self.request_id.append_value(&record.request_id);
            self.row.push(record.row);
            n += 1;
        }
        self.ts.extend(std::iter::repeat_n(batch.ts_us, n));
        n
    }
}

impl Buffers for FeedbackBuffers {
    fn rows(&self) -> usize {
        self.row.len()
    }

    fn schema(&self) -> &Schema {
        &self.columns
    }

    fn take_frame(&mut self) -> PolarsResult<DataFrame> {
        let n = self.row.len();
        let cap = self.capacity;
        let request_id = std::mem::replace(
            &mut self.request_id,
            StringChunkedBuilder::new(columns::REQUEST_ID.into(), cap),
        );
        let label = match self.kind {
            ValueKind::Number => Float64Chunked::from_vec(
                columns::LABEL.into(),
                std::mem::replace(&mut self.numbers, Vec::with_capacity(cap)),
            )
            .into_column(),
            ValueKind::Text => std::mem::replace(
                &mut self.text,
                StringChunkedBuilder::new(columns::LABEL.into(), cap),
            )
            .finish()
            .into_column(),
        };
        let out = vec![
            request_id.finish().into_column(),
            UInt32Chunked::from_vec(
                columns::ROW.into(),
                std::mem::replace(&mut self.row, Vec::with_capacity(cap)),
            )
            .into_column(),
            label,
            Int64Chunked::from_vec(
                columns::TS.into(),
                std::mem::replace(&mut self.ts, Vec::with_capacity(cap)),
            )
            .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
            .into_column(),
        ];
        DataFrame::new(n, out)
    }
}
