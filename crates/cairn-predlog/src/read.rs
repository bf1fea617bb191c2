//! Reading the log back: every complete segment of a model, in time order, as one frame (for
//! drift detection, production metrics and tests).

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::buffers::ts_dtype;
use crate::segment::{
    FORMAT_KEY, KIND_KEY, MODEL_VERSION_KEY, NameError, SegmentName, parse_segment_name,
};
use crate::{FEEDBACK_DIR, FORMAT_VERSION, INPUT_PREFIX, Kind, columns};

/// Which rows to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// Rows logged at or after this time (microseconds since 1970-01-01 UTC).
    pub since: Option<i64>,
    /// Rows logged before this time.
    pub until: Option<i64>,
    /// Only this model version's predictions (feedback has no version: ignored there).
    pub version: Option<u32>,
}

/// Why the log cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read the prediction log {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "the prediction log segment {} has format version {found}, but this cairn reads version {FORMAT_VERSION}: it was written by a newer cairn",
        path.display()
    )]
    Newer { path: PathBuf, found: u32 },
    #[error("{} is not a prediction log segment: {reason}", path.display())]
    NotASegment { path: PathBuf, reason: String },
    #[error("cannot read the prediction log segment {}: {message}", path.display())]
    Parquet { path: PathBuf, message: String },
    #[error("cannot combine the prediction log's segments: {0}")]
    Combine(String),
}

/// Reads a model's predictions (`dir` is `.cairn/predictions/NAME`): the rows of every
/// complete segment that `options` selects, in time order (rows of one time in the order they
/// were logged). Segments of different model versions may have different input and
/// probability columns; a column a segment does not have is null in its rows. A log that does
/// not exist yet reads as no rows.
pub fn read(dir: &Path, options: &ReadOptions) -> Result<DataFrame, ReadError> {
    read_kind(dir, Kind::Predictions, options)
}

/// Reads a model's feedback labels (`dir` is `.cairn/predictions/NAME`, as for [`read`]): every
/// label received in the time `options` selects, in the order received.
pub fn read_feedback(dir: &Path, options: &ReadOptions) -> Result<DataFrame, ReadError> {
    let options = ReadOptions {
        version: None,
        ..options.clone()
    };
    read_kind(&dir.join(FEEDBACK_DIR), Kind::Feedback, &options)
}

/// Attaches to each prediction its true outcome, by (`request_id`, `row`): the columns
/// `label` and `label_ts` (when it was received), null where no label arrived. A prediction
/// labelled twice gets the later label.
pub fn attach_feedback(
    predictions: &DataFrame,
    feedback: &DataFrame,
) -> Result<DataFrame, ReadError> {
    let combine = |e: PolarsError| ReadError::Combine(e.to_string());
    let keys = [columns::REQUEST_ID, columns::ROW];
    let latest = feedback
        .sort(
            [columns::TS],
            SortMultipleOptions::default().with_maintain_order(true),
        )
        .map_err(combine)?
        .unique_stable(
            Some(&keys.map(String::from)),
            UniqueKeepStrategy::Last,
            None,
        )
        .map_err(combine)?;
    let mut labels = latest
        .select([
            columns::REQUEST_ID,
            columns::ROW,
            columns::LABEL,
            columns::TS,
        ])
        .map_err(combine)?;
    labels
        .rename(columns::TS, columns::LABEL_TS.into())
        .map_err(combine)?;
    predictions
        .join(&labels, keys, keys, JoinArgs::new(JoinType::Left), None)
        .map_err(combine)
}

/// The model inputs among a frame's columns (`input_NAME`), by input name, in column order.
pub fn input_names(frame: &DataFrame) -> Vec<String> {
    frame
        .get_column_names()
        .into_iter()
        .filter_map(|c| c.strip_prefix(INPUT_PREFIX).map(str::to_owned))
        .collect()
}

/// The complete segments in `dir`, in time order. Files that are not `.parquet` (temporary
/// files of open segments) are not segments.
fn segments(dir: &Path) -> Result<Vec<(PathBuf, SegmentName)>, ReadError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(ReadError::Io {
                path: dir.to_path_buf(),
                source,
            });
        }
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| ReadError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = entry.path();
        let name = entry.file_name();
        let Some(parsed) = name.to_str().and_then(parse_segment_name) else {
            continue;
        };
        match parsed {
            Ok(segment) => found.push((path, segment)),
            Err(NameError::Newer(found)) => return Err(ReadError::Newer { path, found }),
            Err(NameError::Unrecognised) => {
                return Err(ReadError::NotASegment {
                    path,
                    reason: "the name is not a segment's name".into(),
                });
            }
        }
    }
    found.sort_by(|(a, x), (b, y)| (x.min_ts, x.max_ts, a).cmp(&(y.min_ts, y.max_ts, b)));
    Ok(found)
}

fn read_kind(dir: &Path, kind: Kind, options: &ReadOptions) -> Result<DataFrame, ReadError> {
    let mut frames = Vec::new();
    for (path, name) in segments(dir)? {
        if options.since.is_some_and(|since| name.max_ts < since)
            || options.until.is_some_and(|until| name.min_ts >= until)
        {
            continue;
        }
        if let Some(frame) = read_segment(&path, kind, options)? {
            frames.push(frame);
        }
    }
    let frame = concat_diagonal(frames, &empty_schema(kind))
        .map_err(|e| ReadError::Combine(e.to_string()))?;
    frame
        .sort(
            [columns::TS],
            SortMultipleOptions::default().with_maintain_order(true),
        )
        .map_err(|e| ReadError::Combine(e.to_string()))
}

/// One segment's selected rows; `None` when the segment has none (another version).
fn read_segment(
    path: &Path,
    kind: Kind,
    options: &ReadOptions,
) -> Result<Option<DataFrame>, ReadError> {
    let file = File::open(path).map_err(|source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let parquet = |e: PolarsError| ReadError::Parquet {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let not_a_segment = |reason: String| ReadError::NotASegment {
        path: path.to_path_buf(),
        reason,
    };
    let mut reader = ParquetReader::new(file);
    let metadata = reader.get_metadata().map_err(parquet)?;
    let value = |key: &str| -> Option<String> {
        metadata
            .key_value_metadata()
            .as_ref()?
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.clone())
    };
    let format = value(FORMAT_KEY)
        .ok_or_else(|| not_a_segment(format!("its metadata has no `{FORMAT_KEY}`")))?;
    let format: u32 = format
        .parse()
        .map_err(|_| not_a_segment(format!("format version `{format}`")))?;
    if format > FORMAT_VERSION {
        return Err(ReadError::Newer {
            path: path.to_path_buf(),
            found: format,
        });
    }
    if format != FORMAT_VERSION {
        return Err(not_a_segment(format!("format version {format}")));
    }
    let found_kind = value(KIND_KEY).unwrap_or_default();
    if found_kind != kind.as_str() {
        return Err(not_a_segment(format!(
            "it holds `{found_kind}`, not {}",
            kind.as_str()
        )));
    }
    if let Some(version) = options.version
        && let Some(theirs) = value(MODEL_VERSION_KEY)
        && theirs != version.to_string()
    {
        return Ok(None);
    }
    let frame = reader.finish().map_err(parquet)?;
    let frame = select_rows(frame, options).map_err(parquet)?;
    Ok((frame.height() > 0).then_some(frame))
}

/// The rows of `frame` within the time range and of the version `options` select.
fn select_rows(frame: DataFrame, options: &ReadOptions) -> PolarsResult<DataFrame> {
    if options.since.is_none() && options.until.is_none() && options.version.is_none() {
        return Ok(frame);
    }
    let ts = frame.column(columns::TS)?.datetime()?.physical().clone();
    let mut keep = BooleanChunked::full(PlSmallStr::EMPTY, true, frame.height());
    if let Some(since) = options.since {
        keep = &keep & &ts.gt_eq(since);
    }
    if let Some(until) = options.until {
        keep = &keep & &ts.lt(until);
    }
    if let Some(version) = options.version
        && let Ok(column) = frame.column(columns::VERSION)
    {
        keep = &keep & &column.u32()?.equal(version);
    }
    frame.filter(&keep)
}

/// The columns of a log without segments.
fn empty_schema(kind: Kind) -> Schema {
    let mut schema = Schema::with_capacity(6);
    schema.insert(columns::REQUEST_ID.into(), DataType::String);
    schema.insert(columns::ROW.into(), DataType::UInt32);
    match kind {
        Kind::Predictions => {
            schema.insert(columns::TS.into(), ts_dtype());
            schema.insert(columns::MODEL.into(), DataType::String);
            schema.insert(columns::VERSION.into(), DataType::UInt32);
            schema.insert(columns::DIGEST.into(), DataType::String);
        }
        Kind::Feedback => {
            schema.insert(columns::LABEL.into(), DataType::String);
            schema.insert(columns::TS.into(), ts_dtype());
        }
    }
    schema
}

/// Stacks frames whose columns may differ: the result has every column, in the order they
/// first appear; a column a frame lacks is null in its rows; a column with two types takes
/// a common type (numbers: f64; a number and a text label: text).
fn concat_diagonal(frames: Vec<DataFrame>, empty: &Schema) -> PolarsResult<DataFrame> {
    if frames.is_empty() {
        return Ok(DataFrame::empty_with_schema(empty));
    }
    let mut union = Schema::with_capacity(frames[0].width());
    for frame in &frames {
        for (name, dtype) in frame.schema().iter() {
            match union.get(name) {
                Some(existing) if existing == dtype => {}
                Some(existing) => {
                    let common = if existing.is_primitive_numeric() && dtype.is_primitive_numeric()
                    {
                        DataType::Float64
                    } else {
                        DataType::String
                    };
                    union.insert(name.clone(), common);
                }
                None => {
                    union.insert(name.clone(), dtype.clone());
                }
            }
        }
    }
    let mut out: Option<DataFrame> = None;
    for frame in frames {
        let height = frame.height();
        let mut columns = Vec::with_capacity(union.len());
        for (name, dtype) in union.iter() {
            columns.push(match frame.column(name) {
                Ok(c) if c.dtype() == dtype => c.clone(),
                Ok(c) => c.cast(dtype)?,
                Err(_) => Column::full_null(name.clone(), height, dtype),
            });
        }
        let frame = DataFrame::new(height, columns)?;
        match out.as_mut() {
            None => out = Some(frame),
            Some(all) => {
                all.vstack_mut(&frame)?;
            }
        }
    }
    let mut all = out.unwrap_or_else(|| DataFrame::empty_with_schema(empty));
    all.rechunk_mut();
    Ok(all)
}
