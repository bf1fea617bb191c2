//! A finished run's held-out rows, rebuilt exactly: the table at the digest the run recorded
//! (the workspace copy when it still has that content, otherwise the object in the store), the
//! same join for a spec over an entity table, the same target, split and seed; so that the
//! model's metrics on them are the run's recorded test metrics, bit for bit.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cairn_core::Project;
use cairn_core::table::Format;
use cairn_store::{Digest, LinkMode, Manifest, Store};
use polars::prelude::{DataFrame, IdxCa, IdxSize};

use crate::record::{RunRecord, RunStatus};
use crate::{TrainError, join, split, target, tracked};

/// A run's held-out (test) rows, rebuilt.
#[derive(Debug, Clone)]
pub struct HeldOut {
    /// The test rows, in table order, with every column of the table (for a spec over an
    /// entity table: the entity table joined to its features, as training joined it).
    pub frame: DataFrame,
    /// Their positions in the table (from 0).
    pub rows: Vec<usize>,
    /// The table read (a project path), and its digest as the run recorded it.
    pub path: String,
    pub digest: String,
    /// The feature tables joined, by view: their digests (empty without an entity table).
    pub features: BTreeMap<String, String>,
    /// Whether the table was read from the store (the workspace copy no longer has the
    /// content the run read).
    pub from_store: bool,
}

/// Rebuilds the held-out rows of `record`, a finished run of a spec that is still declared,
/// whose target column is `target` (the model artifact's). The spec gives where the rows come
/// from (its `data`, or `entities` and features); the record gives the digest of what was
/// read, the split and the seed. Refused when the run failed or held out no rows, when the
/// spec now reads another table, when neither the workspace nor the store has the content the
/// run read, when the feature tables joined are not the run's, and when the rebuilt split
/// does not have the run's number of test rows.
pub fn held_out(
    project: &Project,
    record: &RunRecord,
    target: &str,
) -> Result<HeldOut, TrainError> {
    let (id, name) = (record.id.as_str(), record.model.as_str());
    let data_err = |message: String| TrainError::Data {
        model: name.to_owned(),
        message,
    };
    if record.status != RunStatus::Finished {
        return Err(data_err(format!(
            "run {id} failed: it has no model and no held-out rows"
        )));
    }
    if record.test_rows == 0 {
        return Err(data_err(format!(
            "run {id} held out no rows (its test share is 0): there are no held-out rows to rebuild"
        )));
    }
    let config = project.config();
    let mut spec = config
        .model
        .get(name)
        .cloned()
        .ok_or_else(|| TrainError::NoSuchModel {
            name: name.to_owned(),
            declared: config.model.keys().cloned().collect(),
        })?;
    spec.seed = record.seed;
    spec.split = serde_json::from_value(record.split.clone()).map_err(|e| TrainError::Record {
        id: id.to_owned(),
        message: format!("its split cannot be read ({e})"),
    })?;
    target.clone_into(&mut spec.target);
    let (key, path) = match (&spec.data, &spec.entities) {
        (Some(p), _) => ("data", p.clone()),
        (None, Some(p)) => ("entities", p.clone()),
        (None, None) => {
            return Err(TrainError::Spec(format!(
                "`model.{name}`: say what to train on: `data` or `entities`"
            )));
        }
    };
    let recorded = record.data.get(&path).ok_or_else(|| {
        data_err(format!(
            "run {id} read {}, but `model.{name}.{key}` now names {path}",
            record
                .data
                .keys()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    let digest: Digest = recorded.parse().map_err(|e| TrainError::Record {
        id: id.to_owned(),
        message: format!("its digest of {path} cannot be read ({e})"),
    })?;

    let source = locate(project, record, key, &path, &digest)?;
    let (frame, features) = match &spec.entities {
        Some(_) => {
            let joined = join::entity_features_from(project, source.path(), &spec)?;
            if joined.tables != record.features {
                return Err(data_err(format!(
                    "the feature tables joined now ({}) are not those run {id} joined ({}), so its held-out rows cannot be rebuilt as it saw them",
                    describe(&joined.tables),
                    describe(&record.features)
                )));
            }
            (joined.frame, joined.tables)
        }
        None => (
            cairn_core::table::read_table(source.path())?,
            BTreeMap::new(),
        ),
    };
    let from_store = matches!(source, Source::Store(_));
    drop(source);

    let targets = target::read_checked(&frame, name, &spec, &path)?;
    let rows = split::rows(&frame, name, &spec, &targets)?;
    if rows.test.len() as u64 != record.test_rows {
        return Err(TrainError::Record {
            id: id.to_owned(),
            message: format!(
                "the split rebuilt from its seed holds out {} rows, but the run recorded {}",
                rows.test.len(),
                record.test_rows
            ),
        });
    }
    let indices: Vec<IdxSize> = rows.test.iter().map(|&i| i as IdxSize).collect();
    let frame = frame
        .take(&IdxCa::from_vec("rows".into(), indices))
        .map_err(|e| data_err(format!("the held-out rows cannot be taken: {e}")))?;
    Ok(HeldOut {
        frame,
        rows: rows.test,
        path,
        digest: recorded.clone(),
        features,
        from_store,
    })
}

fn describe(tables: &BTreeMap<String, String>) -> String {
    if tables.is_empty() {
        return "none".to_owned();
    }
    tables
        .iter()
        .map(|(view, digest)| format!("{view} {}", digest.get(..12).unwrap_or(digest)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where the content the run read is now.
enum Source {
    /// The workspace copy at this path has it.
    Workspace(PathBuf),
    /// Made from the store in a temporary directory, removed when this is dropped.
    Store(TempTable),
}

impl Source {
    fn path(&self) -> &Path {
        match self {
            Source::Workspace(p) => p,
            Source::Store(t) => &t.table,
        }
    }
}

/// The table at `path` (the spec's `key`) with the content `digest` that run `record` read.
fn locate(
    project: &Project,
    record: &RunRecord,
    key: &'static str,
    path: &str,
    digest: &Digest,
) -> Result<Source, TrainError> {
    let full = project.root().join(path);
    // The workspace's digest, computed as the run computed it.
    let workspace = if record.untracked {
        cairn_core::table::content_digest(&full).ok()
    } else {
        tracked::check_tracked(project, &record.model, key, path).ok()
    };
    if workspace.as_ref() == Some(digest) {
        return Ok(Source::Workspace(full));
    }
    let store = project.store()?;
    if !record.untracked && store.contains(digest) {
        return Ok(Source::Store(TempTable::make(&store, path, digest)?));
    }
    Err(TrainError::Data {
        model: record.model.clone(),
        message: format!(
            "run {} read {path} at {}, which neither the workspace copy (it changed since) nor the store has",
            record.id,
            digest.short()
        ),
    })
}

/// A table made from the store in `.cairn/tmp`: a file object, or a directory manifest's files.
struct TempTable {
    dir: PathBuf,
    table: PathBuf,
}

impl TempTable {
    fn make(store: &Store, path: &str, digest: &Digest) -> Result<TempTable, TrainError> {
        let dir = cairn_store::atomic::temp_path(store.tmp_dir()).with_extension("table");
        let io = |p: &Path, source| TrainError::Io {
            path: p.display().to_string(),
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
        let manifest = Manifest::from_bytes(&store.read(digest)?).map_err(|e| {
            TrainError::Spec(format!(
                "the manifest of {path} in the store is unreadable ({e})"
            ))
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
        // Best effort. A process killed before this leaves the directory in .cairn/tmp, which
        // the store's cleaning of temporary files does not remove (it removes files).
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
