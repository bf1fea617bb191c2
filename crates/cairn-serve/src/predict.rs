//! `cairn predict`: batch scoring of a table (CSV or Parquet) through the server's scoring
//! path, streamed in batches: polars' streaming engine reads the table a batch at a time,
//! each batch is checked, preprocessed and predicted like a request, and its predictions are
//! written before the next is read, so a table larger than memory can be scored.
//!
//! The output (CSV or Parquet, by its extension; CSV on the caller's writer without one) has
//! a `row` column (the input row's 0-based index), the join keys (entity tables), the
//! `prediction`, one `proba_<label>` column per class (classifiers) and, for entity tables,
//! the inputs that were imputed. A file is written under a temporary name and renamed into
//! place when it is complete.

use std::io::Write;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use cairn_core::Project;
use cairn_core::table::{Format, Inference, scan_table_with, table_format};
use cairn_model::artifact::Label;
use polars::prelude::*;
use serde::Serialize;

use crate::entities::{EntityError, WhenUnavailable, entity_rows, join_keys};
use crate::error::{PredictError, ScoreError};
use crate::frame::{Layout, frame_entities, frame_rows};
use crate::model::Model;
use crate::schema::UnknownFields;
use crate::score::{Scored, score};

/// Progress of a batch scoring, in rows.
pub trait Progress: Send + Sync {
    /// Scoring starts; `total` rows when known (Parquet tells, CSV does not).
    fn start(&self, _total: Option<u64>) {}
    fn advance(&self, _rows: u64) {}
    fn finish(&self) {}
}

/// A [`Progress`] that reports nothing.
pub struct NoProgress;

impl Progress for NoProgress {}

/// What to score, with what, and where the predictions go.
#[derive(Debug, Clone)]
pub struct PredictOptions {
    /// `NAME@REF` (a bare `NAME` is its production version).
    pub reference: String,
    pub input: PathBuf,
    /// A `.csv` or `.parquet` file; `None`: CSV on the writer given to [`predict`].
    pub output: Option<PathBuf>,
    /// The input holds join keys: the inputs are read from the online store.
    pub entities: bool,
    pub unknown: UnknownFields,
    /// Rows per batch.
    pub batch_rows: usize,
    /// The clock entity features are read against (their ttl).
    pub now: SystemTime,
}

/// What a batch scoring did.
#[derive(Debug, Clone, Serialize)]
pub struct PredictOutcome {
    pub model: String,
    pub version: u32,
    pub digest: String,
    pub input: PathBuf,
    /// The file written (`None`: standard output).
    pub output: Option<PathBuf>,
    /// `csv` or `parquet`.
    pub format: &'static str,
    pub rows: u64,
    /// Entity tables: rows with at least one imputed input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imputed_rows: Option<u64>,
    pub seconds: f64,
}

/// The rows per batch when the caller does not say.
pub const DEFAULT_BATCH_ROWS: usize = 65_536;

/// Scores the table `options.input` with `options.reference`; CSV goes to `stdout` when no
/// output file is given.
pub fn predict(
    project: &Arc<Project>,
    options: &PredictOptions,
    stdout: &mut dyn Write,
    progress: &dyn Progress,
) -> Result<PredictOutcome, PredictError> {
    let started = Instant::now();
    let out_format = match &options.output {
        None => Format::Csv,
        Some(path) => {
            Format::of(path).ok_or_else(|| PredictError::OutputFormat { path: path.clone() })?
        }
    };
    if let Some(out) = &options.output
        && same_file(out, &options.input)
    {
        return Err(PredictError::OutputIsInput { path: out.clone() });
    }
    let lock = project
        .read_lock()
        .map_err(|e| crate::LoadError::from(cairn_registry::RegistryError::from(e)))?;
    let model = Model::load(project, &lock, &options.reference)?;
    let in_format = table_format(&options.input)?;
    let inference = match in_format {
        Format::Csv => Inference::EveryRow,
        Format::Parquet => Inference::FirstRows,
    };
    let mut table = scan_table_with(&options.input, inference)?;
    let read_error = |e: PolarsError| PredictError::Read {
        path: options.input.clone(),
        reason: e.to_string(),
    };
    let names: Vec<String> = table
        .collect_schema()
        .map_err(read_error)?
        .iter_names()
        .map(|n| n.to_string())
        .collect();
    let key_types = if options.entities {
        Some(join_keys(&model).map_err(|e| entity_error(e, &options.input))?)
    } else {
        None
    };
    let keys: Option<Vec<String>> = key_types.as_ref().map(|k| k.keys().cloned().collect());
    let layout =
        Layout::of(&names, &model.schema, keys.as_deref(), options.unknown).map_err(|source| {
            PredictError::Score {
                path: options.input.clone(),
                source,
            }
        })?;
    let total = match in_format {
        Format::Parquet => table
            .clone()
            .select([len()])
            .collect()
            .ok()
            .and_then(|f| f.column("len").ok()?.get(0).ok()?.extract::<u64>()),
        Format::Csv => None,
    };
    progress.start(total);

    // The table, a batch at a time, from a reader thread.
    let (tx, rx) = std::sync::mpsc::sync_channel::<DataFrame>(1);
    let query = table
        .sink_batches(
            PlanCallback::new(move |batch: DataFrame| Ok(tx.send(batch).is_err())),
            true,
            NonZeroUsize::new(options.batch_rows.max(1)),
        )
        .map_err(read_error)?;
    let reader = std::thread::spawn(move || {
        query
            .collect_with_engine(Engine::Streaming)
            .map(drop)
            .map_err(|e| e.to_string())
    });

    let mut sink = Sink::new(options.output.as_deref(), out_format)?;
    let mut offset = 0usize;
    let mut imputed_rows = 0u64;
    let mut failure: Option<PredictError> = None;
    for batch in &rx {
        if batch.height() == 0 {
            continue;
        }
        match score_batch(&model, &batch, &layout, key_types.as_ref(), offset, options) {
            Ok((frame, imputed)) => {
                imputed_rows += imputed;
                if let Err(e) = sink.write(frame, stdout) {
                    failure = Some(e);
                    break;
                }
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
        offset += batch.height();
        progress.advance(batch.height() as u64);
    }
    // Stops the reader if it is still sending.
    drop(rx);
    let read = reader.join();
    progress.finish();
    if let Some(e) = failure {
        return Err(e);
    }
    match read {
        Ok(Ok(())) => {}
        Ok(Err(reason)) => {
            return Err(PredictError::Read {
                path: options.input.clone(),
                reason,
            });
        }
        Err(_) => {
            return Err(PredictError::Read {
                path: options.input.clone(),
                reason: "the reader failed".into(),
            });
        }
    }
    if offset == 0 {
        // An empty table: the output has the columns and no row.
        let empty = DataFrame::empty_with_schema(&names_schema(&names));
        let (frame, _) = score_batch_empty(&model, &empty, &layout)?;
        sink.write(frame, stdout)?;
    }
    let output = sink.finish(stdout)?;
    Ok(PredictOutcome {
        model: model.name.clone(),
        version: model.version,
        digest: model.digest.clone(),
        input: options.input.clone(),
        output,
        format: match out_format {
            Format::Csv => "csv",
            Format::Parquet => "parquet",
        },
        rows: offset as u64,
        imputed_rows: options.entities.then_some(imputed_rows),
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn names_schema(names: &[String]) -> Schema {
    names
        .iter()
        .map(|n| Field::new(n.as_str().into(), DataType::Null))
        .collect()
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn entity_error(e: EntityError, path: &Path) -> PredictError {
    match e {
        EntityError::Input(source) => PredictError::Score {
            path: path.to_path_buf(),
            source,
        },
        EntityError::Store(e) => PredictError::Online(e),
    }
}

/// Scores one batch; returns its output frame and how many of its rows had imputed inputs.
fn score_batch(
    model: &Model,
    batch: &DataFrame,
    layout: &Layout,
    key_types: Option<&std::collections::BTreeMap<String, cairn_core::dataset::ColumnType>>,
    offset: usize,
    options: &PredictOptions,
) -> Result<(DataFrame, u64), PredictError> {
    let scoring = |source: ScoreError| PredictError::Score {
        path: options.input.clone(),
        source: source.offset(offset),
    };
    let (scored, imputed) = match key_types {
        None => {
            let rows = frame_rows(batch, &model.schema, layout, offset).map_err(|e| {
                PredictError::Score {
                    path: options.input.clone(),
                    source: e,
                }
            })?;
            (score(model, &rows).map_err(scoring)?, None)
        }
        Some(types) => {
            let entities =
                frame_entities(batch, layout, types, offset).map_err(|e| PredictError::Score {
                    path: options.input.clone(),
                    source: e,
                })?;
            let found =
                entity_rows(model, &entities, options.now, WhenUnavailable::Fail).map_err(|e| {
                    match e {
                        EntityError::Input(source) => scoring(source),
                        EntityError::Store(e) => PredictError::Online(e),
                    }
                })?;
            let scored = score(model, &found.rows).map_err(scoring)?;
            (scored, Some(found.imputed))
        }
    };
    let n_imputed = imputed
        .as_ref()
        .map_or(0, |i| i.iter().filter(|r| !r.is_empty()).count() as u64);
    let frame =
        output_frame(model, batch, layout, offset, &scored, imputed.as_deref()).map_err(|e| {
            PredictError::Write {
                path: options.output.clone().unwrap_or_default(),
                reason: e.to_string(),
            }
        })?;
    Ok((frame, n_imputed))
}

/// The output of an empty table.
fn score_batch_empty(
    model: &Model,
    empty: &DataFrame,
    layout: &Layout,
) -> Result<(DataFrame, u64), PredictError> {
    let scored = match model.labels() {
        Some(labels) => Scored::Classes {
            class: Vec::new(),
            proba: Vec::new(),
            n_classes: labels.len(),
        },
        None => Scored::Values(Vec::new()),
    };
    let imputed: Option<&[Vec<String>]> = (!layout.keys.is_empty()).then_some(&[]);
    let frame = output_frame(model, empty, layout, 0, &scored, imputed).map_err(|e| {
        PredictError::Write {
            path: PathBuf::new(),
            reason: e.to_string(),
        }
    })?;
    Ok((frame, 0))
}

/// `row`, the join keys, `prediction`, `proba_<label>`…, `imputed`.
fn output_frame(
    model: &Model,
    batch: &DataFrame,
    layout: &Layout,
    offset: usize,
    scored: &Scored,
    imputed: Option<&[Vec<String>]>,
) -> PolarsResult<DataFrame> {
    let n = scored.len();
    let mut columns: Vec<Column> = Vec::new();
    let rows: Vec<u64> = (offset as u64..(offset + n) as u64).collect();
    columns.push(Column::new("row".into(), rows));
    for key in &layout.keys {
        let column = batch.column(key)?;
        columns.push(if column.len() == n {
            column.clone()
        } else {
            Column::full_null(key.as_str().into(), n, column.dtype())
        });
    }
    match (scored, model.labels()) {
        (Scored::Values(values), _) => {
            columns.push(Column::new("prediction".into(), values.clone()));
        }
        (Scored::Classes { class, .. }, Some(labels)) => {
            columns.push(label_column(labels, class));
            for (k, label) in labels.iter().enumerate() {
                let p: Vec<f64> = (0..n)
                    .map(|i| scored.proba(i).map_or(f64::NAN, |p| p[k]))
                    .collect();
                columns.push(Column::new(format!("proba_{label}").into(), p));
            }
        }
        (Scored::Classes { class, .. }, None) => {
            let values: Vec<u64> = class.iter().map(|c| *c as u64).collect();
            columns.push(Column::new("prediction".into(), values));
        }
    }
    if let Some(imputed) = imputed {
        let text: Vec<String> = (0..n)
            .map(|i| imputed.get(i).map(|r| r.join(",")).unwrap_or_default())
            .collect();
        columns.push(Column::new("imputed".into(), text));
    }
    DataFrame::new(n, columns)
}

/// The predicted labels, typed as the target was (all of a model's labels have one type).
fn label_column(labels: &[Label], class: &[usize]) -> Column {
    let name: PlSmallStr = "prediction".into();
    let pick = |c: usize| labels.get(c);
    match labels.first() {
        Some(Label::Int(_)) => Column::new(
            name,
            class
                .iter()
                .map(|c| match pick(*c) {
                    Some(Label::Int(i)) => Some(*i),
                    _ => None,
                })
                .collect::<Vec<Option<i64>>>(),
        ),
        Some(Label::Bool(_)) => Column::new(
            name,
            class
                .iter()
                .map(|c| match pick(*c) {
                    Some(Label::Bool(b)) => Some(*b),
                    _ => None,
                })
                .collect::<Vec<Option<bool>>>(),
        ),
        _ => Column::new(
            name,
            class
                .iter()
                .map(|c| pick(*c).map(ToString::to_string))
                .collect::<Vec<Option<String>>>(),
        ),
    }
}

/// Where the output goes: a file written under a temporary name, or the caller's writer.
struct Sink {
    format: Format,
    file: Option<(PathBuf, cairn_store::atomic::TempFile)>,
    csv: Option<polars::io::csv::write::BatchedWriter<OutputWrite>>,
    parquet: Option<polars::io::parquet::write::BatchedWriter<OutputWrite>>,
    /// CSV text for the caller's writer (stdout), written batch by batch.
    buffer: Vec<u8>,
    header_written: bool,
}

/// The writer a batched writer owns: the temporary file (by its own handle).
struct OutputWrite(std::fs::File);

impl Write for OutputWrite {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

impl Sink {
    fn new(output: Option<&Path>, format: Format) -> Result<Sink, PredictError> {
        let file = match output {
            None => None,
            Some(path) => {
                let dir = match path.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                    _ => PathBuf::from("."),
                };
                let tmp = cairn_store::atomic::TempFile::new_in(&dir, 0o644).map_err(|e| {
                    PredictError::Write {
                        path: path.to_path_buf(),
                        reason: e.to_string(),
                    }
                })?;
                Some((path.to_path_buf(), tmp))
            }
        };
        Ok(Sink {
            format,
            file,
            csv: None,
            parquet: None,
            buffer: Vec::new(),
            header_written: false,
        })
    }

    fn write_error(&self, e: impl std::fmt::Display) -> PredictError {
        PredictError::Write {
            path: self
                .file
                .as_ref()
                .map_or_else(|| PathBuf::from("<stdout>"), |(p, _)| p.clone()),
            reason: e.to_string(),
        }
    }

    fn handle(&mut self) -> Result<OutputWrite, PredictError> {
        match &mut self.file {
            Some((path, tmp)) => {
                tmp.file()
                    .try_clone()
                    .map(OutputWrite)
                    .map_err(|e| PredictError::Write {
                        path: path.clone(),
                        reason: e.to_string(),
                    })
            }
            None => Err(self.write_error("no file")),
        }
    }

    fn write(&mut self, mut frame: DataFrame, stdout: &mut dyn Write) -> Result<(), PredictError> {
        frame.rechunk_mut_par();
        if self.file.is_none() {
            // CSV on the caller's writer: the header before the first batch only.
            self.buffer.clear();
            CsvWriter::new(&mut self.buffer)
                .include_header(!self.header_written)
                .finish(&mut frame)
                .map_err(|e| self.write_error(e))?;
            self.header_written = true;
            return stdout.write_all(&self.buffer).map_err(PredictError::Stdout);
        }
        match self.format {
            Format::Csv => {
                if self.csv.is_none() {
                    let handle = self.handle()?;
                    let writer = CsvWriter::new(handle)
                        .include_header(true)
                        .batched(frame.schema())
                        .map_err(|e| self.write_error(e))?;
                    self.csv = Some(writer);
                }
                if let Some(w) = self.csv.as_mut() {
                    w.write_batch(&frame).map_err(|e| PredictError::Write {
                        path: PathBuf::new(),
                        reason: e.to_string(),
                    })?;
                }
            }
            Format::Parquet => {
                if self.parquet.is_none() {
                    let handle = self.handle()?;
                    let writer = ParquetWriter::new(handle)
                        .batched(frame.schema())
                        .map_err(|e| self.write_error(e))?;
                    self.parquet = Some(writer);
                }
                if let Some(w) = self.parquet.as_mut() {
                    w.write_batch(&frame).map_err(|e| PredictError::Write {
                        path: PathBuf::new(),
                        reason: e.to_string(),
                    })?;
                }
            }
        }
        Ok(())
    }

    /// Completes the output: the file is synced and renamed into place.
    fn finish(mut self, stdout: &mut dyn Write) -> Result<Option<PathBuf>, PredictError> {
        if let Some(mut w) = self.csv.take() {
            w.finish().map_err(|e| self.write_error(e))?;
        }
        if let Some(w) = self.parquet.take() {
            w.finish().map_err(|e| self.write_error(e))?;
        }
        match self.file.take() {
            None => {
                stdout.flush().map_err(PredictError::Stdout)?;
                Ok(None)
            }
            Some((path, mut tmp)) => {
                let fail = |e: std::io::Error| PredictError::Write {
                    path: path.clone(),
                    reason: e.to_string(),
                };
                tmp.sync().map_err(fail)?;
                tmp.persist(&path).map_err(fail)?;
                Ok(Some(path))
            }
        }
    }
}
