//! Where the two tables come from, and reading them: a file or directory given by path, or
//! the table a model version's run trained on, at the digest the run recorded (made from the
//! store in `.cairn/tmp`, or read from the workspace when its copy still has that content).
//! Each table is scanned lazily and only the compared columns are collected (polars'
//! streaming engine), numbers as 64-bit floats and categories as text.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cairn_core::drift::ColumnType;
use cairn_core::table::Format;
use cairn_store::{Digest, LinkMode, Manifest, Store};
use polars::prelude::*;

use crate::error::{DriftError, Side};
use crate::record::DataSource;

/// A table to compare.
#[derive(Debug, Clone)]
pub enum Table {
    /// A CSV or Parquet file, or a directory of them. `shown` is the path as the user gave it
    /// (recorded).
    File { path: PathBuf, shown: String },
    /// The table a model version was trained on.
    Training(Training),
    /// A model's prediction log: its inputs and its predictions.
    Predictions(crate::predictions::LoggedPredictions),
}

/// A registered model version's training data, as its lock entry pins it.
#[derive(Debug, Clone)]
pub struct Training {
    /// The project's store and root (for the workspace copy).
    pub store: Store,
    pub root: PathBuf,
    pub model: String,
    pub version: u32,
    pub run: String,
    /// The tables the run read: project path → digest.
    pub data: BTreeMap<String, Digest>,
    /// The feature tables the run joined: view → digest (a spec over an entity table).
    pub features: BTreeMap<String, Digest>,
}

/// A table ready to scan, and the record's description of it.
pub(crate) struct Opened {
    pub path: PathBuf,
    pub source: DataSource,
    /// The rows, when they are in memory (the prediction log, a reference with the model's
    /// predictions added) rather than at `path`.
    pub frame: Option<DataFrame>,
    /// A copy made from the store, removed when this is dropped.
    _temp: Option<TempTable>,
}

impl Opened {
    pub(crate) fn in_memory(frame: DataFrame, source: DataSource) -> Opened {
        Opened {
            path: PathBuf::new(),
            source,
            frame: Some(frame),
            _temp: None,
        }
    }

    /// Runs `query` over the table: scanned lazily from its files, or over the frame in
    /// memory.
    pub(crate) fn with<T>(
        &self,
        query: impl Fn(LazyFrame) -> Result<T, DriftError>,
    ) -> Result<T, DriftError> {
        match &self.frame {
            Some(frame) => query(frame.clone().lazy()),
            None => cairn_core::table::with_table(&self.path, query, |e| {
                matches!(e, DriftError::Read { .. })
            }),
        }
    }

    pub fn describe(&self) -> String {
        self.source.describe()
    }
}

impl Table {
    pub(crate) fn open(self) -> Result<Opened, DriftError> {
        match self {
            Table::File { path, shown } => {
                let digest = cairn_core::table::content_digest(&path)?;
                Ok(Opened {
                    path,
                    source: DataSource::File {
                        path: shown,
                        digest: digest.to_hex(),
                    },
                    frame: None,
                    _temp: None,
                })
            }
            Table::Training(t) => t.open(),
            Table::Predictions(log) => {
                let (frame, source) = log.read()?;
                Ok(Opened::in_memory(frame, source))
            }
        }
    }
}

impl Training {
    fn open(self) -> Result<Opened, DriftError> {
        let mut tables = self.data.iter();
        let (path, digest) = match (tables.next(), tables.next()) {
            (None, _) => {
                return Err(DriftError::NoTrainingData {
                    model: self.model,
                    version: self.version,
                    run: self.run,
                });
            }
            (Some(first), None) if self.features.is_empty() => first,
            (Some((path, _)), _) => {
                let others: Vec<&str> = self
                    .features
                    .keys()
                    .chain(self.data.keys().filter(|p| *p != path))
                    .map(String::as_str)
                    .collect();
                return Err(DriftError::JoinedTraining {
                    model: self.model,
                    version: self.version,
                    path: path.clone(),
                    views: others.join(", "),
                });
            }
        };
        let source = DataSource::Training {
            run: self.run.clone(),
            path: path.clone(),
            digest: digest.to_hex(),
        };
        if self.store.contains(digest) {
            let temp = TempTable::make(&self.store, path, digest)?;
            return Ok(Opened {
                path: temp.table.clone(),
                source,
                frame: None,
                _temp: Some(temp),
            });
        }
        let workspace = self.root.join(path);
        if workspace_has(&workspace, digest) {
            return Ok(Opened {
                path: workspace,
                source,
                frame: None,
                _temp: None,
            });
        }
        Err(DriftError::TrainingUnavailable {
            model: self.model,
            version: self.version,
            path: path.clone(),
            digest: digest.short(),
        })
    }
}

/// Whether the workspace table at `path` has the content `digest`: a file's own digest (a
/// tracked file), or the table's content digest (what a run records for an untracked table).
fn workspace_has(path: &Path, digest: &Digest) -> bool {
    if let Ok(meta) = std::fs::metadata(path)
        && meta.is_file()
        && let Ok((d, _)) = cairn_store::hash::hash_file(path, meta.len())
        && &d == digest
    {
        return true;
    }
    cairn_core::table::content_digest(path).is_ok_and(|d| &d == digest)
}

/// A table made from the store in `.cairn/tmp`: a file object, or a directory manifest's
/// files, linked (or copied) under the table's own name so that its format is known.
struct TempTable {
    dir: PathBuf,
    table: PathBuf,
}

impl TempTable {
    fn make(store: &Store, path: &str, digest: &Digest) -> Result<TempTable, DriftError> {
        let dir = cairn_store::atomic::temp_path(store.tmp_dir()).with_extension("table");
        let io = |p: &Path, source| DriftError::Write {
            path: p.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
        let name = Path::new(path)
            .file_name()
            .map_or_else(|| "table".into(), |n| n.to_owned());
        let made = TempTable {
            table: dir.join(name),
            dir,
        };
        const MODES: [LinkMode; 3] = [LinkMode::Reflink, LinkMode::Hardlink, LinkMode::Copy];
        if Format::of(Path::new(path)).is_some() {
            store.materialize(digest, &made.table, &MODES, false)?;
            return Ok(made);
        }
        let manifest =
            Manifest::from_bytes(&store.read(digest)?).map_err(|e| DriftError::Record {
                digest: digest.to_hex(),
                message: format!("the manifest of {path} is unreadable ({e})"),
            })?;
        for entry in manifest.entries() {
            let dest = made.table.join(entry.path.as_str());
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
            }
            store.materialize(&entry.digest, &dest, &MODES, false)?;
        }
        Ok(made)
    }
}

impl Drop for TempTable {
    fn drop(&mut self) {
        // Best effort; a killed process leaves the directory in .cairn/tmp.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// How a column's type reads, before any override.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Natural {
    Numeric,
    Categorical,
    /// Polars' `Null` type: a column without a single value (Parquet).
    Empty,
    /// Dates, times, lists…: not compared unless declared categorical.
    Other,
}

pub(crate) fn natural(dtype: &DataType) -> Natural {
    match dtype {
        DataType::Null => Natural::Empty,
        DataType::Boolean | DataType::String | DataType::Categorical(..) | DataType::Enum(..) => {
            Natural::Categorical
        }
        d if d.is_primitive_numeric() || d.is_decimal() => Natural::Numeric,
        _ => Natural::Other,
    }
}

/// A collected table: the wanted columns it has, numbers as `Float64`, categories as
/// `String` (a float column declared categorical stays `Float64`: its NaN and infinities are
/// counted before its values become text).
pub(crate) struct Frame {
    pub frame: DataFrame,
    pub rows: u64,
}

/// Reads `wanted` (name, declared type) from the table at `path`; `None` reads every column
/// of a comparable type.
pub(crate) fn read(
    opened: &Opened,
    side: Side,
    wanted: Option<&[(String, Option<ColumnType>)]>,
) -> Result<Frame, DriftError> {
    let describe = opened.describe();
    let read_err = |e: PolarsError| DriftError::Read {
        side,
        source_name: describe.clone(),
        message: e.to_string(),
    };
    let run = |mut lf: LazyFrame| -> Result<Frame, DriftError> {
        let schema = lf.collect_schema().map_err(read_err)?;
        let all: Vec<(String, DataType)> = schema
            .iter()
            .map(|(n, d)| (n.to_string(), d.clone()))
            .collect();
        let mut exprs = Vec::new();
        let mut pick = |name: &str, dtype: &DataType, declared: Option<ColumnType>| {
            let c = col(name);
            let expr = match (declared, natural(dtype)) {
                (_, Natural::Empty) => Some(c),
                (Some(ColumnType::Categorical), Natural::Numeric)
                    if matches!(dtype, DataType::Float32 | DataType::Float64) =>
                {
                    Some(c.cast(DataType::Float64))
                }
                (Some(ColumnType::Categorical), _) => Some(c.cast(DataType::String)),
                (_, Natural::Numeric) => Some(c.cast(DataType::Float64)),
                (_, Natural::Categorical) if *dtype == DataType::String => Some(c),
                (_, Natural::Categorical) => Some(c.cast(DataType::String)),
                // A column declared numeric that holds text is read as text: refused when
                // it has a value, treated as empty otherwise.
                (Some(ColumnType::Numeric), Natural::Other) => None,
                (None, Natural::Other) => None,
            };
            if let Some(e) = expr {
                exprs.push(e);
            }
        };
        match wanted {
            None => {
                for (name, dtype) in &all {
                    pick(name, dtype, None);
                }
            }
            Some(wanted) => {
                for (name, declared) in wanted {
                    if let Some(dtype) = schema.get(name.as_str()) {
                        pick(name, dtype, *declared);
                    }
                }
            }
        }
        // The row count comes with the columns (or alone, when none is left to read).
        let rows_query = lf.clone().select([len().alias("__cairn_rows")]);
        let frame = if exprs.is_empty() {
            DataFrame::empty()
        } else {
            cairn_core::table::collect_streaming(lf.select(exprs)).map_err(read_err)?
        };
        let rows = if frame.width() > 0 {
            frame.height() as u64
        } else {
            let counted = cairn_core::table::collect_streaming(rows_query).map_err(read_err)?;
            counted
                .column("__cairn_rows")
                .ok()
                .and_then(|c| c.get(0).ok())
                .and_then(|v| v.extract::<u64>())
                .unwrap_or(0)
        };
        Ok(Frame { frame, rows })
    };
    opened.with(run)
}

/// Every column of the table and its type as read, in table order (the schema only: no row
/// is read beyond what CSV type inference needs).
pub(crate) fn schema(opened: &Opened, side: Side) -> Result<Vec<(String, DataType)>, DriftError> {
    let describe = opened.describe();
    opened.with(|mut lf: LazyFrame| {
        let schema = lf.collect_schema().map_err(|e| DriftError::Read {
            side,
            source_name: describe.clone(),
            message: e.to_string(),
        })?;
        Ok(schema
            .iter()
            .map(|(n, d)| (n.to_string(), d.clone()))
            .collect())
    })
}
