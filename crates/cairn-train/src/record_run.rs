//! The record step of a run, public: what [`train`](crate::train) does with a run's record
//! once the run has ended, for tools that record runs `train` did not make (the runs
//! benchmark records copies of one trained run, as if each had been trained).

use cairn_core::Project;
use cairn_store::Digest;

use crate::record::RunRecord;
use crate::{Quiet, TrainError, runs};

/// Records a run exactly as [`train`](crate::train) records the runs it makes: under the
/// project's write lock, its record (serialised as `train` serialises it) becomes an object
/// in the store; the record's model artifact, if it names one, must be in the store; the
/// objects are synced; then the run's ref is written (from here on the run exists) and its
/// row, with the summary that `runs list` shows, goes into the runs index. Returns the digest
/// of the record object.
///
/// Nothing checks that the record describes a run that happened: the caller vouches for it.
/// A record whose id is already in the index replaces that run's row and ref.
pub fn record_run(project: &Project, record: &RunRecord) -> Result<Digest, TrainError> {
    runs::save(project, record, &Quiet)
}

/// Records runs one after the other, each by [`record_run`] (its own write lock, sync, ref
/// and index row, as `train` would record each). Stops at the first that fails: the runs
/// before it stay recorded. Returns the digests of their record objects, in order.
pub fn record_runs(project: &Project, records: &[RunRecord]) -> Result<Vec<Digest>, TrainError> {
    records
        .iter()
        .map(|record| record_run(project, record))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use cairn_core::InitOptions;

    use super::*;
    use crate::record::{Code, Environment, RUN_FORMAT, RunStatus};
    use crate::{Selection, get_run, list_summaries};

    fn project() -> (tempfile::TempDir, Project) {
        let dir = tempfile::tempdir().unwrap();
        Project::init(dir.path(), &InitOptions { no_git: true }).unwrap();
        let project = Project::discover(dir.path()).unwrap();
        (dir, project)
    }

    fn record(id: &str, started_us: i64, accuracy: f64, artifact: Option<String>) -> RunRecord {
        RunRecord {
            format: RUN_FORMAT,
            id: id.to_owned(),
            model: "m".to_owned(),
            status: RunStatus::Finished,
            error: None,
            started: cairn_core::time::format_micros(started_us),
            ended: cairn_core::time::format_micros(started_us + 1_000_000),
            started_us,
            duration_s: 1.0,
            algorithm: "decision_tree_classifier".to_owned(),
            params: BTreeMap::new(),
            overrides: BTreeMap::new(),
            seed: 1,
            split: serde_json::Value::Null,
            tags: BTreeMap::new(),
            metrics: BTreeMap::from([("accuracy".to_owned(), accuracy)]),
            labels: None,
            report: None,
            phases: BTreeMap::new(),
            code: Code::default(),
            data: BTreeMap::new(),
            features: BTreeMap::new(),
            untracked: false,
            validation: "none".to_owned(),
            artifact,
            artifact_size: None,
            train_rows: 8,
            test_rows: 2,
            environment: Environment::current(),
        }
    }

    #[test]
    fn recorded_runs_are_read_back_listed_and_their_records_stored() {
        let (_dir, project) = project();
        let store = project.store().unwrap();
        let artifact = store.put_bytes(b"an artifact").unwrap().digest.to_hex();
        let first = record("aaaa00000001", 1_000_000, 0.5, Some(artifact.clone()));
        let digest = record_run(&project, &first).unwrap();
        assert_eq!(get_run(&project, "aaaa00000001").unwrap(), first);
        let stored: RunRecord = serde_json::from_slice(&store.read(&digest).unwrap()).unwrap();
        assert_eq!(stored, first);

        let more: Vec<RunRecord> = (2..5)
            .map(|i| {
                let id = format!("aaaa0000000{i}");
                record(
                    &id,
                    i * 1_000_000,
                    0.5 + i as f64 / 10.0,
                    Some(artifact.clone()),
                )
            })
            .collect();
        let digests = record_runs(&project, &more).unwrap();
        assert_eq!(digests.len(), 3);
        for (run, digest) in more.iter().zip(&digests) {
            assert_eq!(&get_run(&project, &run.id).unwrap(), run);
            assert!(store.contains(digest));
        }
        let listed = list_summaries(&project, &Selection::default()).unwrap();
        let mut ids: Vec<&str> = listed.runs.iter().map(|s| s.id.as_str()).collect();
        ids.sort_unstable();
        assert_eq!(
            ids,
            [
                "aaaa00000001",
                "aaaa00000002",
                "aaaa00000003",
                "aaaa00000004"
            ]
        );
    }

    #[test]
    fn a_record_whose_artifact_is_not_stored_is_refused_and_not_recorded() {
        let (_dir, project) = project();
        let missing = Digest::of(b"never stored").to_hex();
        let run = record("bbbb00000001", 1_000_000, 0.5, Some(missing));
        let err = record_run(&project, &run).unwrap_err();
        assert!(
            matches!(&err, TrainError::Record { id, .. } if id == "bbbb00000001"),
            "{err:?}"
        );
        assert!(get_run(&project, "bbbb00000001").is_err());
        assert!(
            list_summaries(&project, &Selection::default())
                .unwrap()
                .runs
                .is_empty()
        );
    }
}
