//! Training runs shared through a remote: their refs there (`runs/ID`, written by a push),
//! fetching the runs other machines pushed, and listing them without fetching.

use std::collections::{BTreeSet, HashMap, HashSet};

use cairn_core::Project;
use cairn_core::runs::RunRef;
use cairn_store::{Digest, Progress, Remote, RemoteError, Store, Transfer};
use serde::Serialize;

use crate::DataError;
use crate::remote::{RemoteInfo, open_remote};

/// A run on the remote that a fetch did not record: one of its objects could not be fetched.
#[derive(Debug, Clone, Serialize)]
pub struct SkippedRun {
    pub id: String,
    pub digest: Digest,
    pub reason: String,
}

/// Fetches the objects of `runs` (a record and a model artifact each) and records each run
/// whose objects are all here, its ref last (after a sync: the ref keeps its objects from
/// `data gc`). A run that cannot be fetched whole is skipped, not an error: the data the lock
/// pins does not depend on it. Its objects count in `downloaded`, their failures do not.
pub(crate) fn fetch_runs(
    project: &Project,
    store: &Store,
    remote: &Remote,
    runs: Vec<RunRef>,
    jobs: usize,
    downloaded: &mut Transfer,
    progress: &dyn Progress,
) -> Result<(Vec<String>, Vec<SkippedRun>), DataError> {
    // `RunRef::parse` accepts only 64 hex digits: every digest parses.
    let objects = |run: &RunRef| -> Vec<Digest> {
        std::iter::once(&run.record)
            .chain(&run.artifact)
            .filter_map(|d| d.parse::<Digest>().ok())
            .collect()
    };
    let lacking: Vec<Digest> = runs
        .iter()
        .flat_map(objects)
        .filter(|digest| !store.contains(digest))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut failed: HashMap<Digest, String> = HashMap::new();
    if !lacking.is_empty() {
        let sizes = remote.present(&lacking, jobs)?;
        let get: Vec<(Digest, u64)> = lacking
            .iter()
            .filter_map(|digest| sizes.get(digest).map(|size| (*digest, *size)))
            .collect();
        for digest in lacking.iter().filter(|d| !sizes.contains_key(d)) {
            failed.insert(*digest, "not on the remote".to_owned());
        }
        if !get.is_empty() {
            let transfer = remote.download(store, &get, jobs, progress)?;
            downloaded.objects += transfer.objects;
            downloaded.bytes += transfer.bytes;
            downloaded.shared += transfer.shared;
            failed.extend(transfer.failures.into_iter().map(|f| (f.digest, f.reason)));
        }
    }
    let mut complete = Vec::new();
    let mut skipped = Vec::new();
    for run in runs {
        let problem = objects(&run)
            .into_iter()
            .find(|digest| !store.contains(digest))
            .map(|digest| {
                let reason = failed.get(&digest).cloned();
                (digest, reason.unwrap_or_else(|| "not fetched".to_owned()))
            });
        match problem {
            None => complete.push(run),
            Some((digest, reason)) => skipped.push(SkippedRun {
                id: run.id,
                digest,
                reason,
            }),
        }
    }
    if !complete.is_empty() {
        store.sync()?;
    }
    let mut added = Vec::new();
    for run in complete {
        cairn_core::runs::write_ref(&project.state_dir(), &run)?;
        added.push(run.id);
    }
    Ok((added, skipped))
}

/// The runs on `remote` (its `runs/ID` refs, written by `data push`) that this machine does not
/// have. A ref that does not parse is not cairn's, and is skipped.
pub(crate) fn remote_runs(project: &Project, remote: &Remote) -> Result<Vec<RunRef>, DataError> {
    let local: HashSet<String> = cairn_core::runs::read_refs(&project.state_dir())?
        .into_iter()
        .map(|r| r.id)
        .collect();
    Ok(run_refs(remote)?
        .into_iter()
        .filter(|run| !local.contains(&run.id))
        .collect())
}

/// The run refs on `remote` (`runs/ID`, written by `data push`), ordered by id. A ref that does
/// not parse is not cairn's, and is skipped.
pub(crate) fn run_refs(remote: &Remote) -> Result<Vec<RunRef>, DataError> {
    Ok(remote
        .list_named("runs")?
        .into_iter()
        .filter_map(|(id, bytes)| RunRef::parse(&id, &String::from_utf8_lossy(&bytes)))
        .collect())
}

/// A run that was pushed to a remote (its ref `runs/ID` there), with its record: what
/// `runs list --remote` shows without fetching anything.
#[derive(Debug)]
pub struct RemoteRun {
    pub id: String,
    /// The record's digest, as the ref names it.
    pub record: Digest,
    /// The record's JSON, verified against its digest, or why it could not be read (a
    /// predicate of the record: "is not on the remote").
    pub json: Result<Vec<u8>, String>,
}

/// The runs on a remote, ordered by id.
#[derive(Debug)]
pub struct RemoteRuns {
    pub remote: RemoteInfo,
    pub runs: Vec<RemoteRun>,
}

/// Lists the runs pushed to a remote (`None`: the default one) and reads their records, from
/// this machine's store when it has them and otherwise from the remote (as many at once as the
/// remote's `jobs`). Nothing is stored: the runs are not added here (that is `data fetch`). A
/// ref that does not parse is not cairn's, and is skipped; a record that is missing or damaged
/// is reported in its run's `json`.
pub fn list_remote_runs(project: &Project, remote: Option<&str>) -> Result<RemoteRuns, DataError> {
    let (remote, info, jobs) = open_remote(project, remote)?;
    let store = project.store()?;
    let refs: Vec<(String, Digest)> = run_refs(&remote)?
        .into_iter()
        .filter_map(|run| Some((run.id, run.record.parse::<Digest>().ok()?)))
        .collect();
    let mut wanted: Vec<Digest> = refs
        .iter()
        .map(|(_, record)| *record)
        .filter(|record| !store.contains(record))
        .collect();
    wanted.sort();
    wanted.dedup();
    let read: HashMap<Digest, Result<Vec<u8>, String>> = remote
        .read_all(&wanted, jobs)?
        .into_iter()
        .map(|(digest, result)| {
            let result = match result {
                Ok(Some(bytes)) => Ok(bytes),
                Ok(None) => Err("is not on the remote".to_owned()),
                Err(RemoteError::Corrupt { actual, .. }) => Err(format!(
                    "is damaged on the remote: its content hashes to {actual}"
                )),
                Err(e) => Err(format!("could not be read: {e}")),
            };
            (digest, result)
        })
        .collect();
    let runs = refs
        .into_iter()
        .map(|(id, record)| {
            let json = match read.get(&record) {
                Some(result) => result.clone(),
                None => store
                    .read(&record)
                    .map_err(|e| format!("could not be read from this machine's store: {e}")),
            };
            RemoteRun { id, record, json }
        })
        .collect();
    Ok(RemoteRuns { remote: info, runs })
}

/// Writes the refs (`runs/ID`) of this machine's runs whose objects are all on the remote now,
/// that is none of whose objects is in `not_there`, so that a `data gc --remote` from any
/// machine keeps them and other machines fetch them.
pub(crate) fn share_run_refs(
    project: &Project,
    remote: &mut Remote,
    not_there: &HashSet<Digest>,
) -> Result<(), DataError> {
    for run in cairn_core::runs::read_refs(&project.state_dir())? {
        let digests = std::iter::once(&run.record).chain(run.artifact.as_ref());
        if digests
            .filter_map(|d| d.parse::<Digest>().ok())
            .all(|d| !not_there.contains(&d))
        {
            remote.put_named("runs", &run.id, run.line().as_bytes())?;
        }
    }
    Ok(())
}
