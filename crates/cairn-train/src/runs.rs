//! This machine's runs: recording a run (the record step of `train`), and reading, listing
//! and removing runs through the index.

use cairn_core::Project;
use cairn_core::runs::{RunRow, RunsDb};
use cairn_store::Digest;
use serde::Serialize;

use crate::query::{RunList, Selection};
use crate::record::{RUN_FORMAT, RunRecord, RunSummary};
use crate::{TrainError, TrainProgress};

/// The store's progress interface over a run's, for the write lock.
struct LockWait<'a>(&'a dyn TrainProgress);

impl cairn_store::Progress for LockWait<'_> {
    fn start(&self, _: &str, _: u64, _: u64) {}
    fn advance(&self, _: u64, _: u64) {}
    fn finish(&self) {}
    fn waiting_for_lock(&self, holder: &str) {
        self.0.waiting_for_lock(holder);
    }
}

/// Records a run: the record object, the objects synced, then the ref (from here on the run
/// exists: gc keeps its objects), then the index row. Under the project's write lock, so that
/// a concurrent `data gc` sees either no run or all of it.
pub(crate) fn save(
    project: &Project,
    record: &RunRecord,
    progress: &dyn TrainProgress,
) -> Result<Digest, TrainError> {
    let json = serde_json::to_string_pretty(record).map_err(|e| TrainError::Record {
        id: record.id.clone(),
        message: e.to_string(),
    })?;
    let state = project.state_dir();
    let store = project.store()?;
    let _guard =
        cairn_store::WriteGuard::acquire(&state, &LockWait(progress)).map_err(|source| {
            TrainError::Io {
                path: state.join("lock").display().to_string(),
                source,
            }
        })?;
    let put = store.put_bytes(json.as_bytes())?;
    if let Some(artifact) = &record.artifact {
        // Stored before the lock was taken: a gc in between may have removed it.
        let digest: Digest = artifact
            .parse()
            .map_err(|e: cairn_store::ParseDigestError| TrainError::Record {
                id: record.id.clone(),
                message: e.to_string(),
            })?;
        if !store.contains(&digest) {
            return Err(TrainError::Record {
                id: record.id.clone(),
                message: "its model artifact was removed (by a concurrent `data gc`?) before the run was recorded; train again".into(),
            });
        }
    }
    store.sync()?;
    cairn_core::runs::write_ref(
        &state,
        &cairn_core::runs::RunRef {
            id: record.id.clone(),
            record: put.digest.to_hex(),
            artifact: record.artifact.clone(),
        },
    )?;
    let db = RunsDb::open(&state.join("cairn.db"))?;
    db.insert(&RunRow {
        id: record.id.clone(),
        model: record.model.clone(),
        status: record.status.as_str().to_owned(),
        started_us: record.started_us,
        record: json,
        record_digest: put.digest.to_hex(),
        artifact: record.artifact.clone(),
        summary: serde_json::to_string(&RunSummary::of(record)).ok(),
    })?;
    Ok(put.digest)
}

/// The runs index, in line with the refs (rebuilt from the records if needed).
fn open_index(project: &Project) -> Result<RunsDb, TrainError> {
    Ok(RunsDb::open_project(
        &project.state_dir(),
        &project.store()?,
    )?)
}

/// Fails as [`train`](crate::train) would on a runs index that is newer than this cairn or
/// damaged, or a damaged ref: for work that comes before a run.
pub fn check_index(project: &Project) -> Result<(), TrainError> {
    open_index(project).map(drop)
}

/// A run record (or the part of it that `T` holds) from its JSON text; a record of a newer
/// format is refused.
fn parse_json<T: serde::de::DeserializeOwned>(
    id: &str,
    text: &str,
    format: impl Fn(&T) -> u32,
) -> Result<T, TrainError> {
    let record: T = serde_json::from_str(text).map_err(|e| TrainError::Record {
        id: id.to_owned(),
        message: format!("the record is unreadable ({e})"),
    })?;
    if format(&record) > RUN_FORMAT {
        return Err(TrainError::NewerRecord {
            id: id.to_owned(),
            found: format(&record),
        });
    }
    Ok(record)
}

fn parse_record(row: &RunRow) -> Result<RunRecord, TrainError> {
    parse_json(&row.id, &row.record, |r: &RunRecord| r.format)
}

/// A run record from the content of its record object (a run on a remote, read without
/// fetching it); a record of a newer format is refused.
pub fn parse_run_record(id: &str, json: &[u8]) -> Result<RunRecord, TrainError> {
    let text = std::str::from_utf8(json).map_err(|_| TrainError::Record {
        id: id.to_owned(),
        message: "the record is not UTF-8 text".to_owned(),
    })?;
    parse_json(id, text, |r: &RunRecord| r.format)
}

/// The runs `selection` picks: whole records.
pub fn list_runs(
    project: &Project,
    selection: &Selection,
) -> Result<RunList<RunRecord>, TrainError> {
    let db = open_index(project)?;
    let runs = db
        .list(selection.model.as_deref())?
        .into_iter()
        .map(|row| parse_record(&row))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RunList {
        runs: selection.apply(runs),
        remote: None,
    })
}

/// The runs `selection` picks: what `runs list` shows of them. Cheaper than [`list_runs`]:
/// the rest of each record is not read.
pub fn list_summaries(
    project: &Project,
    selection: &Selection,
) -> Result<RunList<RunSummary>, TrainError> {
    let db = open_index(project)?;
    let runs = db
        .list_summaries(selection.model.as_deref())?
        .into_iter()
        .map(|(id, text)| parse_json(&id, &text, |s: &RunSummary| s.format))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RunList {
        runs: selection.apply(runs),
        remote: None,
    })
}

/// One run by id or unique prefix.
pub fn get_run(project: &Project, id: &str) -> Result<RunRecord, TrainError> {
    let db = open_index(project)?;
    parse_record(&db.get(id)?)
}

/// Runs by ids or unique prefixes, in that order.
pub fn get_runs(project: &Project, ids: &[String]) -> Result<Vec<RunRecord>, TrainError> {
    let db = open_index(project)?;
    ids.iter().map(|id| parse_record(&db.get(id)?)).collect()
}

/// What [`remove_runs`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemovedRuns {
    /// The full ids of the runs removed, in the order asked.
    pub removed: Vec<String>,
}

/// Removes runs: their refs, then their index rows. Their records and artifacts stay in the
/// store until the next collection of garbage, which keeps whatever the lock (a registered
/// model) still pins. Every id is resolved before anything is removed.
pub fn remove_runs(project: &Project, ids: &[String]) -> Result<RemovedRuns, TrainError> {
    let db = open_index(project)?;
    let rows = ids
        .iter()
        .map(|id| db.get(id))
        .collect::<Result<Vec<_>, _>>()?;
    let state = project.state_dir();
    for row in &rows {
        cairn_core::runs::remove_ref(&state, &row.id)?;
        db.remove(&row.id)?;
    }
    Ok(RemovedRuns {
        removed: rows.into_iter().map(|r| r.id).collect(),
    })
}
