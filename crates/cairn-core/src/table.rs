//! Reading tracked tables with polars: one CSV or Parquet file, or a directory of them (read in
//! path order and stacked). The readers of data validation, feature views and training all
//! come through here, so a table means the same rows everywhere, and a bad file gets the same
//! error (the file, what is wrong, what to do) whichever command met it.

use std::path::{Path, PathBuf};

use polars::prelude::*;

/// The file formats a table can be stored in, by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// `.csv`: comma-separated, with a header row.
    Csv,
    /// `.parquet` or `.pq`.
    Parquet,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "CSV",
            Format::Parquet => "Parquet",
        }
    }

    /// The format of `path`, from its extension (case-insensitive).
    pub fn of(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(Format::Csv),
            "parquet" | "pq" => Some(Format::Parquet),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a table (cairn reads .csv, .parquet and .pq files)")]
    Unsupported { path: PathBuf },
    #[error("{path}: the file is empty (a CSV file needs at least a header row)")]
    Empty { path: PathBuf },
    #[error("{path}: no .csv, .parquet or .pq file in this directory")]
    EmptyDirectory { path: PathBuf },
    #[error("{path}: cannot be read as {}: {reason}", format.name())]
    Malformed {
        path: PathBuf,
        format: Format,
        reason: String,
    },
    #[error(
        "{path} is {}, but {first} is {}: a directory table has one format",
        found.name(),
        expected.name()
    )]
    MixedFormats {
        path: PathBuf,
        first: PathBuf,
        expected: Format,
        found: Format,
    },
    #[error("{path}: its columns differ from those of {first}: {reason}")]
    SchemaMismatch {
        path: PathBuf,
        first: PathBuf,
        reason: String,
    },
}

impl TableError {
    /// What to do about it, for the CLI's hint line.
    pub fn hint(&self) -> &'static str {
        match self {
            TableError::Io { .. } => "check that the path exists and is readable",
            TableError::Unsupported { .. } | TableError::EmptyDirectory { .. } => {
                "convert the data to CSV (with a header row) or Parquet"
            }
            TableError::Empty { .. } | TableError::Malformed { .. } => {
                "fix or regenerate the file; `cairn data checkout` restores the tracked version"
            }
            TableError::MixedFormats { .. } | TableError::SchemaMismatch { .. } => {
                "every file of a directory table must have the same format and columns"
            }
        }
    }
}

/// Rows of a CSV file its column types are first guessed from.
const CSV_INFER_ROWS: usize = 10_000;

/// The files that make up the table at `path`: the file itself, or every table file below
/// the directory, in path order.
pub fn table_files(path: &Path) -> Result<(Format, Vec<PathBuf>), TableError> {
    let io = |source| TableError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_dir() {
        let format = Format::of(path).ok_or_else(|| TableError::Unsupported {
            path: path.to_path_buf(),
        })?;
        return Ok((format, vec![path.to_path_buf()]));
    }
    let mut files = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|source| TableError::Io {
            path: dir.clone(),
            source,
        })? {
            let entry = entry.map_err(|source| TableError::Io {
                path: dir.clone(),
                source,
            })?;
            let p = entry.path();
            if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                stack.push(p);
            } else if let Some(format) = Format::of(&p) {
                files.push((p, format));
            }
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let Some((first, expected)) = files.first().cloned() else {
        return Err(TableError::EmptyDirectory {
            path: path.to_path_buf(),
        });
    };
    if let Some((other, found)) = files.iter().find(|(_, f)| *f != expected) {
        return Err(TableError::MixedFormats {
            path: other.clone(),
            first,
            expected,
            found: *found,
        });
    }
    Ok((expected, files.into_iter().map(|(p, _)| p).collect()))
}

/// The digest of a table's content: each of its files' path (relative to the table) and
/// BLAKE3 digest. What a feature view pins as its source, and what a run records for a table
/// that is not tracked.
pub fn content_digest(path: &Path) -> Result<cairn_store::Digest, TableError> {
    let (_, files) = table_files(path)?;
    let mut hasher = blake3::Hasher::new();
    for file in files {
        let io = |source| TableError::Io {
            path: file.clone(),
            source,
        };
        let len = std::fs::metadata(&file).map_err(io)?.len();
        let (digest, _) = cairn_store::hash::hash_file(&file, len).map_err(io)?;
        let rel = file.strip_prefix(path).unwrap_or(Path::new(""));
        hasher.update(rel.to_string_lossy().as_bytes());
        hasher.update(&[0]);
        hasher.update(digest.as_bytes());
    }
    Ok(hasher.finalize().into())
}

/// How many rows of a CSV file its column types are guessed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inference {
    /// The first `CSV_INFER_ROWS` rows: fast, and right unless a later value does not fit.
    FirstRows,
    /// Every row: a second, slower read for files where a later value did not fit the guess.
    EveryRow,
}

/// What a datetime column with a time zone becomes when a table is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Zones {
    /// A naive datetime holding the same instants in UTC: every timestamp cairn computes with
    /// is UTC, whatever wrote the file.
    #[default]
    Utc,
    /// Kept as written, zone and all (the instants are the same either way): for a table whose
    /// columns are handed back to the user, such as the entity table of a historical join.
    Keep,
}

/// The format of the table at `path` (a file, or a directory of files of one format).
pub fn table_format(path: &Path) -> Result<Format, TableError> {
    Ok(table_files(path)?.0)
}

/// Scans the table at `path` lazily: the same rows and types as [`read_table`], read only as
/// the query built on it runs, so that polars' streaming engine can process a table larger
/// than memory. Column types are known now (from each file's schema, or the first rows of a
/// CSV file); a CSV value further down that does not fit its column's guessed type makes the
/// query fail, and the caller runs it again over [`scan_table_with`]`(path,
/// Inference::EveryRow)` (see [`read_table`]).
pub fn scan_table(path: &Path) -> Result<LazyFrame, TableError> {
    scan_table_with(path, Inference::FirstRows)
}

/// [`scan_table`] with the CSV type inference chosen.
pub fn scan_table_with(path: &Path, inference: Inference) -> Result<LazyFrame, TableError> {
    scan(path, inference, Zones::Utc)
}

/// [`scan_table_with`] with the treatment of zoned datetimes chosen.
fn scan(path: &Path, inference: Inference, zones: Zones) -> Result<LazyFrame, TableError> {
    let (format, files) = table_files(path)?;
    let mut frames = Vec::with_capacity(files.len());
    let mut schemas = Vec::with_capacity(files.len());
    for file in &files {
        let mut frame = scan_file(file, format, inference)?;
        let schema = frame
            .collect_schema()
            .map_err(|e| malformed(file, format, e))?;
        frames.push(frame);
        schemas.push(schema);
    }
    if format == Format::Csv && files.len() > 1 {
        widen_csv_types(&files, &mut frames, &mut schemas)?;
    }
    for (file, schema) in files.iter().zip(&schemas).skip(1) {
        if schema.as_ref() != schemas[0].as_ref() {
            return Err(TableError::SchemaMismatch {
                path: file.clone(),
                first: files[0].clone(),
                reason: describe_difference(&schemas[0], schema),
            });
        }
    }
    let table = if frames.len() == 1 {
        frames.pop().expect("one frame")
    } else {
        concat(
            frames,
            UnionArgs {
                rechunk: false,
                maintain_order: true,
                ..UnionArgs::default()
            },
        )
        .map_err(|e| malformed(path, format, e))?
    };
    Ok(normalize(table, &schemas[0], zones))
}

/// Reads the table at `path` (a file, or a directory of files of one format with the same
/// columns) into memory.
pub fn read_table(path: &Path) -> Result<DataFrame, TableError> {
    read_table_with_zones(path, Zones::Utc)
}

/// [`read_table`], with zoned datetime columns made naive UTC ([`Zones::Utc`], as everywhere
/// else) or kept with their zone ([`Zones::Keep`]).
pub fn read_table_with_zones(path: &Path, zones: Zones) -> Result<DataFrame, TableError> {
    let format = table_format(path)?;
    with_table_zoned(
        path,
        zones,
        |table| table.collect().map_err(|e| malformed(path, format, e)),
        |e| matches!(e, TableError::Malformed { .. }),
    )
}

/// Runs `query` over the table at `path`, scanned lazily ([`scan_table`]). If it fails with an
/// error for which `from_reading` is true and the table is CSV, it runs again with types
/// guessed from every row (a value below the first rows did not fit its column's guess); if
/// that fails too and one of the table's files cannot be read on its own, the error names that
/// file.
pub fn with_table<T, E: From<TableError>>(
    path: &Path,
    query: impl Fn(LazyFrame) -> Result<T, E>,
    from_reading: impl Fn(&E) -> bool,
) -> Result<T, E> {
    with_table_zoned(path, Zones::Utc, query, from_reading)
}

/// [`with_table`] with the treatment of zoned datetimes chosen.
fn with_table_zoned<T, E: From<TableError>>(
    path: &Path,
    zones: Zones,
    query: impl Fn(LazyFrame) -> Result<T, E>,
    from_reading: impl Fn(&E) -> bool,
) -> Result<T, E> {
    let format = table_format(path)?;
    match query(scan(path, Inference::FirstRows, zones)?) {
        Err(e) if from_reading(&e) && format == Format::Csv => {
            match query(scan(path, Inference::EveryRow, zones)?) {
                Err(e) if from_reading(&e) => Err(bad_file(path, format).map_or(e, E::from)),
                other => other,
            }
        }
        Err(e) if from_reading(&e) => Err(bad_file(path, format).map_or(e, E::from)),
        other => other,
    }
}

/// The first of the table's files that cannot be read on its own (only on an error path: it
/// reads them one by one).
fn bad_file(path: &Path, format: Format) -> Option<TableError> {
    let (_, files) = table_files(path).ok()?;
    files.iter().find_map(|file| {
        scan_file(file, format, Inference::EveryRow)
            .and_then(|frame| {
                collect_streaming(frame)
                    .map(drop)
                    .map_err(|e| malformed(file, format, e))
            })
            .err()
    })
}

/// Runs a query with polars' streaming engine, which reads its sources in batches as the query
/// consumes them, so that only what the query keeps (aggregates, a sort's rows) is in memory.
pub fn collect_streaming(query: LazyFrame) -> PolarsResult<DataFrame> {
    query
        .collect_with_engine(Engine::Streaming)
        .map(|r| r.unwrap_single())
}

fn malformed(path: &Path, format: Format, e: PolarsError) -> TableError {
    TableError::Malformed {
        path: path.to_path_buf(),
        format,
        reason: e.to_string(),
    }
}

/// CSV files carry no types: each file's are guessed from its own values, so the parts of one
/// table can disagree (a float column that holds only whole numbers in one file, a column
/// that is empty in another). When the files have the same column names, each column gets
/// one type: the type of the files that have values in it if they agree, a float if they are
/// all numbers, text otherwise. A column without any value is guessed as text; whether a text
/// column of one file has values is asked of that file only when the files disagree.
fn widen_csv_types(
    files: &[PathBuf],
    frames: &mut [LazyFrame],
    schemas: &mut [SchemaRef],
) -> Result<(), TableError> {
    let names: Vec<PlSmallStr> = schemas[0].iter_names().cloned().collect();
    if schemas.iter().any(|s| !s.iter_names().eq(names.iter())) {
        return Ok(()); // reported as a schema mismatch by the caller
    }
    let disagreeing: Vec<&PlSmallStr> = names
        .iter()
        .filter(|n| {
            let first = schemas[0].get(n.as_str());
            schemas.iter().any(|s| s.get(n.as_str()) != first)
        })
        .collect();
    if disagreeing.is_empty() {
        return Ok(());
    }
    // For each file, which of the disagreeing text columns hold no value at all.
    let mut empty: Vec<Vec<bool>> = Vec::with_capacity(frames.len());
    for ((file, frame), schema) in files.iter().zip(frames.iter()).zip(schemas.iter()) {
        let text: Vec<&PlSmallStr> = disagreeing
            .iter()
            .copied()
            .filter(|n| schema.get(n.as_str()) == Some(&DataType::String))
            .collect();
        let mut row = vec![false; disagreeing.len()];
        if !text.is_empty() {
            let counts = frame
                .clone()
                .select(
                    text.iter()
                        .map(|n| col(n.as_str()).null_count().eq(len()).alias(n.as_str()))
                        .collect::<Vec<_>>(),
                )
                .collect()
                .map_err(|e| malformed(file, Format::Csv, e))?;
            for (i, name) in disagreeing.iter().enumerate() {
                if let Ok(c) = counts.column(name.as_str()) {
                    row[i] = c
                        .get(0)
                        .ok()
                        .and_then(|v| v.extract_bool())
                        .unwrap_or(false);
                }
            }
        }
        empty.push(row);
    }
    let mut casts: Vec<Vec<Expr>> = vec![Vec::new(); frames.len()];
    for (i, name) in disagreeing.iter().enumerate() {
        let typed: Vec<DataType> = schemas
            .iter()
            .zip(&empty)
            .filter(|(_, e)| !e[i])
            .map(|(s, _)| s.get(name.as_str()).expect("same names").clone())
            .collect();
        let target = match typed.first() {
            None => continue,
            Some(t) if typed.iter().all(|d| d == t) => t.clone(),
            Some(_) if typed.iter().all(DataType::is_primitive_numeric) => {
                if typed.iter().any(DataType::is_float) {
                    DataType::Float64
                } else {
                    DataType::Int64
                }
            }
            Some(_) => DataType::String,
        };
        for (f, schema) in schemas.iter().enumerate() {
            if schema.get(name.as_str()) != Some(&target) {
                casts[f].push(col(name.as_str()).cast(target.clone()));
            }
        }
    }
    for ((frame, schema), casts) in frames.iter_mut().zip(schemas.iter_mut()).zip(casts) {
        if casts.is_empty() {
            continue;
        }
        *frame = frame.clone().with_columns(casts);
        *schema = frame
            .collect_schema()
            .map_err(|e| malformed(&files[0], Format::Csv, e))?;
    }
    Ok(())
}

/// The same kinds of values, whatever wrote the file: categorical strings become strings,
/// decimals become 64-bit floats, and (with [`Zones::Utc`]) zoned timestamps become naive UTC
/// timestamps (the same instants; every timestamp cairn computes with is UTC).
fn normalize(table: LazyFrame, schema: &Schema, zones: Zones) -> LazyFrame {
    let replaced: Vec<Expr> = schema
        .iter()
        .filter_map(|(name, dtype)| {
            let c = col(name.as_str());
            let new = match dtype {
                DataType::Categorical(..) | DataType::Enum(..) => c.cast(DataType::String),
                DataType::Decimal(..) => c.cast(DataType::Float64),
                DataType::Datetime(unit, Some(_)) if zones == Zones::Utc => {
                    c.to_physical().cast(DataType::Datetime(*unit, None))
                }
                _ => return None,
            };
            Some(new.alias(name.as_str()))
        })
        .collect();
    if replaced.is_empty() {
        table
    } else {
        table.with_columns(replaced)
    }
}

fn scan_file(path: &Path, format: Format, inference: Inference) -> Result<LazyFrame, TableError> {
    let meta = std::fs::metadata(path).map_err(|source| TableError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if meta.len() == 0 {
        return Err(TableError::Empty {
            path: path.to_path_buf(),
        });
    }
    let Some(text) = path.to_str() else {
        return Err(TableError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the path is not valid UTF-8",
            ),
        });
    };
    let source = PlRefPath::new(text);
    match format {
        Format::Csv => scan_csv(source, inference),
        Format::Parquet => LazyFrame::scan_parquet(source, ScanArgsParquet::default()),
    }
    .map_err(|e| malformed(path, format, e))
}

/// Rows of a CSV file whose first values decide whether its text columns may hold dates.
const DATE_SNIFF_ROWS: usize = 100;

fn csv_reader(source: PlRefPath, inference: Inference, dates: bool) -> PolarsResult<LazyFrame> {
    csv_options(source, dates)
        .with_infer_schema_length(match inference {
            Inference::FirstRows => Some(CSV_INFER_ROWS),
            Inference::EveryRow => None,
        })
        .finish()
}

/// A CSV file's reader with a header, parsing dates or not; the types still to be chosen.
fn csv_options(source: PlRefPath, dates: bool) -> LazyCsvReader {
    LazyCsvReader::new(source)
        .with_has_header(true)
        .with_try_parse_dates(dates)
}

/// A CSV file, with dates and timestamps in ISO 8601 (or the other patterns polars knows) as
/// date and datetime columns (naive = UTC) and types guessed from the first rows.
///
/// Guessing dates means trying every date pattern on every text value the inference reads,
/// which costs more than reading the whole file (a 1,000,000-row, 70 MB file: 168 ms to
/// guess the types of its first 10,000 rows with dates, 100 ms to count all its rows, 8 ms
/// to guess them without dates). So the file is first scanned without date guessing. A
/// column whose first value is not date-shaped cannot become a date column: its values would
/// disagree, and a column of disagreeing kinds is text. The columns that start (first value
/// among the first [`DATE_SNIFF_ROWS`] rows) with something shaped like a date or a time take
/// the type date guessing gives them over those rows; every other column keeps the type of
/// the first scan. A column with no value in those rows is unknown: the whole file's types are
/// then guessed with dates, as they always were. A later value that is not the date its
/// column's first rows promised fails the read, which [`with_table`] answers by reading again
/// with [`Inference::EveryRow`] (its slow path, where dates are always guessed).
fn scan_csv(source: PlRefPath, inference: Inference) -> PolarsResult<LazyFrame> {
    if inference == Inference::EveryRow {
        return csv_reader(source, inference, true);
    }
    let mut plain = csv_reader(source.clone(), inference, false)?;
    let schema = plain.collect_schema()?;
    let text: Vec<Expr> = schema
        .iter()
        .filter(|(_, dtype)| **dtype == DataType::String)
        .map(|(name, _)| col(name.as_str()))
        .collect();
    if text.is_empty() {
        return Ok(plain);
    }
    // A file whose first rows cannot be read is read as before; the query says what is wrong.
    let Ok(head) = plain
        .clone()
        .select(text)
        .limit(DATE_SNIFF_ROWS as IdxSize)
        .collect()
    else {
        return csv_reader(source, inference, true);
    };
    let mut dated = Vec::new();
    for column in head.columns() {
        let Ok(values) = column.as_materialized_series().str() else {
            return csv_reader(source, inference, true);
        };
        match values.iter().flatten().next() {
            Some(first) if date_shaped(first) => dated.push(column.name().clone()),
            Some(_) => {}
            // No value in the first rows: the rows below may hold dates.
            None if head.height() >= DATE_SNIFF_ROWS => {
                return csv_reader(source, inference, true);
            }
            None => {}
        }
    }
    if dated.is_empty() {
        return Ok(plain);
    }
    let guessed = csv_options(source.clone(), true)
        .with_infer_schema_length(Some(DATE_SNIFF_ROWS))
        .finish()?
        .collect_schema()?;
    let mut types = (*schema).clone();
    for name in &dated {
        if let Some(dtype) = guessed.get(name) {
            types.with_column(name.clone(), dtype.clone());
        }
    }
    csv_options(source, true)
        .with_schema(Some(Arc::new(types)))
        .finish()
}

/// Whether a text value could be a date, a time or a timestamp in one of polars' patterns
/// (`2024-01-31`, `31/01/2024`, `2024.01.31 10:00`, `2024-01-31T10:00:00.5+01:00`,
/// `20240131T100000`, `10:00:00`): a digit first, then only digits, separators, `T`, `Z` and
/// a zone's sign. A false positive costs time, never a type.
fn date_shaped(value: &str) -> bool {
    let value = value.trim();
    value.as_bytes().first().is_some_and(u8::is_ascii_digit)
        && value
            .bytes()
            .any(|b| matches!(b, b'-' | b'/' | b'.' | b':' | b'T'))
        && value.bytes().all(|b| {
            b.is_ascii_digit() || matches!(b, b'-' | b'/' | b'.' | b':' | b'T' | b'Z' | b' ' | b'+')
        })
}

/// The first difference between two schemas, in words.
fn describe_difference(a: &Schema, b: &Schema) -> String {
    for (name, dtype) in a.iter() {
        match b.get(name) {
            None => return format!("column `{name}` is missing"),
            Some(other) if other != dtype => {
                return format!("column `{name}` is {other}, not {dtype}");
            }
            Some(_) => {}
        }
    }
    if let Some((name, _)) = b.iter().find(|(name, _)| a.get(name).is_none()) {
        return format!("it has an extra column `{name}`");
    }
    "the columns are in another order".to_string()
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // fixtures are written directly
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn csv_types_nulls_and_nan() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "t.csv",
            "id,amount,country\n1,2.5,DE\n2,NaN,FR\n3,,\n",
        );
        let df = read_table(&path).unwrap();
        assert_eq!(df.shape(), (3, 3));
        assert_eq!(df.column("id").unwrap().dtype(), &DataType::Int64);
        let amount = df.column("amount").unwrap();
        assert_eq!(amount.dtype(), &DataType::Float64);
        assert_eq!(amount.null_count(), 1, "an empty field is null");
        let nan = amount.f64().unwrap().get(1).unwrap();
        assert!(nan.is_nan(), "NaN stays NaN, not null");
        assert_eq!(df.column("country").unwrap().null_count(), 1);
    }

    /// Written by pyarrow: uint8, int16, decimal128, a dictionary-encoded string column and a
    /// timestamp zoned Europe/Berlin.
    #[test]
    fn parquet_from_another_writer_is_normalised() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/other_writer.parquet");
        let df = read_table(&path).unwrap();
        let dtype = |c: &str| df.column(c).unwrap().dtype().clone();
        assert_eq!(dtype("id"), DataType::UInt8);
        assert_eq!(dtype("small"), DataType::Int16);
        assert_eq!(dtype("price"), DataType::Float64);
        assert_eq!(dtype("color"), DataType::String);
        assert_eq!(
            dtype("at"),
            DataType::Datetime(TimeUnit::Microseconds, None)
        );
        let price = df.column("price").unwrap().f64().unwrap().get(0).unwrap();
        assert!((price - 1.25).abs() < 1e-12);
        assert_eq!(
            df.column("color").unwrap().str().unwrap().get(1),
            Some("blue")
        );
        // The same instant, as naive UTC: 2026-01-01T12:00:00Z.
        let at = df.column("at").unwrap().to_physical_repr();
        assert_eq!(at.i64().unwrap().get(0), Some(1_767_268_800_000_000));
    }

    #[test]
    fn zones_are_kept_when_asked() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/other_writer.parquet");
        let df = read_table_with_zones(&path, Zones::Keep).unwrap();
        let at = df.column("at").unwrap();
        match at.dtype() {
            DataType::Datetime(_, Some(zone)) => assert_eq!(zone.as_str(), "Europe/Berlin"),
            other => panic!("the zone is gone: {other}"),
        }
        // The same instant as read_table's naive UTC, and the other columns as read_table
        // makes them.
        let physical = at.to_physical_repr();
        let us = match at.dtype() {
            DataType::Datetime(TimeUnit::Nanoseconds, _) => {
                physical.i64().unwrap().get(0).map(|v| v / 1000)
            }
            DataType::Datetime(TimeUnit::Milliseconds, _) => {
                physical.i64().unwrap().get(0).map(|v| v * 1000)
            }
            _ => physical.i64().unwrap().get(0),
        };
        assert_eq!(us, Some(1_767_268_800_000_000));
        assert_eq!(df.column("color").unwrap().dtype(), &DataType::String);
        assert_eq!(df.column("price").unwrap().dtype(), &DataType::Float64);

        // A CSV file with offsets: polars reads the instants in UTC, and the zone stays.
        let dir = tempfile::tempdir().unwrap();
        let csv = write(
            dir.path(),
            "z.csv",
            "at\n2026-01-01T13:00:00+01:00\n2026-01-01T11:00:00-01:00\n",
        );
        let zoned = read_table_with_zones(&csv, Zones::Keep).unwrap();
        assert!(
            matches!(
                zoned.column("at").unwrap().dtype(),
                DataType::Datetime(_, Some(_))
            ),
            "{zoned}"
        );
        let naive = read_table(&csv).unwrap();
        assert!(matches!(
            naive.column("at").unwrap().dtype(),
            DataType::Datetime(_, None)
        ));
        assert_eq!(
            zoned
                .column("at")
                .unwrap()
                .to_physical_repr()
                .i64()
                .unwrap()
                .get(1),
            naive
                .column("at")
                .unwrap()
                .to_physical_repr()
                .i64()
                .unwrap()
                .get(1),
        );
    }

    #[test]
    fn a_late_value_does_not_break_type_inference() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::from("x\n");
        for i in 0..(CSV_INFER_ROWS + 500) {
            text.push_str(&format!("{i}\n"));
        }
        text.push_str("2.5\n");
        let df = read_table(&write(dir.path(), "late.csv", &text)).unwrap();
        assert_eq!(df.column("x").unwrap().dtype(), &DataType::Float64);
    }

    #[test]
    fn csv_timestamps_are_parsed() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "t.csv",
            "day,at\n2026-01-02,2026-01-02T03:04:05\n2026-01-03,2026-01-03 00:00:00\n",
        );
        let df = read_table(&path).unwrap();
        assert_eq!(df.column("day").unwrap().dtype(), &DataType::Date);
        assert!(matches!(
            df.column("at").unwrap().dtype(),
            DataType::Datetime(_, None)
        ));
    }

    /// Dates are guessed only in a file with a date-shaped text column, and then exactly as
    /// before: beside text columns, after empty first rows, in DMY and with a zone.
    #[test]
    fn csv_dates_are_guessed_where_the_first_values_look_like_dates() {
        let dir = tempfile::tempdir().unwrap();
        let dtype = |df: &DataFrame, c: &str| df.column(c).unwrap().dtype().clone();
        let df = read_table(&write(
            dir.path(),
            "mixed.csv",
            "name,day,code,dmy
ann,2026-01-02,12-ab,31/01/2026
bob,2026-01-03,13-cd,01/02/2026
",
        ))
        .unwrap();
        assert_eq!(dtype(&df, "name"), DataType::String);
        assert_eq!(dtype(&df, "day"), DataType::Date);
        assert_eq!(dtype(&df, "code"), DataType::String);
        assert_eq!(dtype(&df, "dmy"), DataType::Date);

        let df = read_table(&write(
            dir.path(),
            "text.csv",
            "name,city,when
ann,Paris,soon
bob,Oslo,later
",
        ))
        .unwrap();
        for c in ["name", "city", "when"] {
            assert_eq!(dtype(&df, c), DataType::String);
        }

        // A timestamp column empty in the first rows the sniff reads, then full.
        let mut text = String::from(
            "name,at
",
        );
        for i in 0..(DATE_SNIFF_ROWS + 20) {
            text.push_str(&format!("n{i},\n"));
        }
        text.push_str("last,2026-01-02T03:04:05\n");
        let df = read_table(&write(dir.path(), "late.csv", &text)).unwrap();
        assert!(matches!(dtype(&df, "at"), DataType::Datetime(_, None)));
        assert_eq!(df.column("at").unwrap().null_count(), DATE_SNIFF_ROWS + 20);

        // Dates in the rows the sniff reads, text below them: the read of the dates fails at
        // the text, and the read again with every row's types makes the column text, whole.
        let mut text = String::from("n,v\n");
        for i in 0..(DATE_SNIFF_ROWS + 50) {
            text.push_str(&format!("{i},2026-01-02\n"));
        }
        text.push_str("999,not a date\n");
        let df = read_table(&write(dir.path(), "text-below.csv", &text)).unwrap();
        assert_eq!(dtype(&df, "v"), DataType::String);
        assert_eq!(df.column("v").unwrap().null_count(), 0);
        assert_eq!(dtype(&df, "n"), DataType::Int64);

        // A date column beside a column of numbers whose first rows are integers and a later
        // one a float: each keeps its own guess.
        let mut text = String::from("at,x\n");
        for i in 0..(DATE_SNIFF_ROWS + 50) {
            text.push_str(&format!("2026-01-02T03:04:05,{i}\n"));
        }
        text.push_str("2026-01-03T00:00:00,2.5\n");
        let df = read_table(&write(dir.path(), "late-float.csv", &text)).unwrap();
        assert!(matches!(dtype(&df, "at"), DataType::Datetime(_, None)));
        assert_eq!(dtype(&df, "x"), DataType::Float64);
        assert_eq!(df.column("at").unwrap().null_count(), 0);

        // A text column whose first value is not a date stays text, as before.
        let df = read_table(&write(
            dir.path(),
            "disagree.csv",
            "v\nnot a date\n2026-01-02\n",
        ))
        .unwrap();
        assert_eq!(dtype(&df, "v"), DataType::String);
    }

    #[test]
    fn date_shapes() {
        for yes in [
            "2024-01-31",
            "31/01/2024",
            "2024.01.31 10:00",
            "2024-01-31T10:00:00.5+01:00",
            "2024-01-31T10:00:00Z",
            "20240131T100000",
            "10:00:00",
        ] {
            assert!(date_shaped(yes), "{yes}");
        }
        for no in ["", "DE", "abc-1", "12345", "x2024-01-01", "2024-01-01 UTC"] {
            assert!(!date_shaped(no), "{no}");
        }
    }

    #[test]
    fn parquet_round_trip_and_directories_stack_in_path_order() {
        let dir = tempfile::tempdir().unwrap();
        let part = df!("k" => [1i64, 2], "v" => [0.5f64, 1.5]).unwrap();
        for (name, offset) in [("b/part-2.parquet", 10i64), ("a/part-1.parquet", 0)] {
            let path = dir.path().join("table").join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            let mut shifted = part.clone();
            let k = shifted.column("k").unwrap().as_materialized_series() + offset;
            shifted.with_column(k.into_column()).unwrap();
            let file = std::fs::File::create(&path).unwrap();
            ParquetWriter::new(file).finish(&mut shifted).unwrap();
        }
        let df = read_table(&dir.path().join("table")).unwrap();
        let keys: Vec<i64> = df
            .column("k")
            .unwrap()
            .i64()
            .unwrap()
            .into_no_null_iter()
            .collect();
        assert_eq!(keys, [1, 2, 11, 12]);
    }

    #[test]
    fn bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let ragged = write(dir.path(), "ragged.csv", "a,b\n1,2\n3,4,5,6\n");
        let err = read_table(&ragged).unwrap_err();
        assert!(matches!(err, TableError::Malformed { .. }), "{err}");
        assert!(err.to_string().contains("ragged.csv"), "{err}");

        let garbage = write(dir.path(), "garbage.parquet", "this is not parquet at all");
        let err = read_table(&garbage).unwrap_err();
        assert!(
            matches!(
                err,
                TableError::Malformed {
                    format: Format::Parquet,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("garbage.parquet"), "{err}");

        let empty = write(dir.path(), "empty.csv", "");
        assert!(matches!(read_table(&empty), Err(TableError::Empty { .. })));

        let header_only = write(dir.path(), "header.csv", "a,b\n");
        assert_eq!(read_table(&header_only).unwrap().shape(), (0, 2));

        let other = write(dir.path(), "notes.txt", "hello");
        assert!(matches!(
            read_table(&other),
            Err(TableError::Unsupported { .. })
        ));
        assert!(matches!(
            read_table(&dir.path().join("missing.csv")),
            Err(TableError::Io { .. })
        ));
    }

    #[test]
    fn csv_parts_with_different_guesses_are_one_table() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "t/a.csv", "id,v,note\n1,2.5,x\n");
        write(dir.path(), "t/b.csv", "id,v,note\n2,3,\n");
        let df = read_table(&dir.path().join("t")).unwrap();
        assert_eq!(df.shape(), (2, 3));
        assert_eq!(df.column("v").unwrap().dtype(), &DataType::Float64);
        assert_eq!(df.column("note").unwrap().dtype(), &DataType::String);
        assert_eq!(df.column("note").unwrap().null_count(), 1);
    }

    #[test]
    fn directory_tables_must_agree() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "mixed/a.csv", "x\n1\n");
        write(dir.path(), "mixed/b.parquet", "PAR1");
        assert!(matches!(
            read_table(&dir.path().join("mixed")),
            Err(TableError::MixedFormats { .. })
        ));
        write(dir.path(), "drift/a.csv", "x,y\n1,2\n");
        let b = write(dir.path(), "drift/b.csv", "x,z\n1,2\n");
        let err = read_table(&dir.path().join("drift")).unwrap_err();
        assert!(matches!(err, TableError::SchemaMismatch { .. }), "{err}");
        assert!(err.to_string().contains(&b.display().to_string()), "{err}");
        assert!(err.to_string().contains("`y` is missing"), "{err}");
        std::fs::create_dir_all(dir.path().join("none")).unwrap();
        assert!(matches!(
            read_table(&dir.path().join("none")),
            Err(TableError::EmptyDirectory { .. })
        ));
    }
}
