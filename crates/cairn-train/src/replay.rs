//! Replaying a finished run: the same steps as [`train`](crate::train) (join, load, check,
//! split, fit, evaluate, store), in a project that holds the run's code and inputs (a checkout
//! of its commit with its data and feature tables in place, as `cairn reproduce` prepares it),
//! with the run's overrides, seed and split, and the run's code commit as the artifact's
//! provenance. Nothing is recorded: the artifact goes to that project's store, the record is
//! returned.

use std::collections::BTreeMap;
use std::time::Instant;

use cairn_core::Project;
use cairn_core::time::{format_micros, now_micros};
use cairn_store::Digest;
use serde_json::Value;

use crate::record::{RUN_FORMAT, RunRecord, RunStatus};
use crate::{TrainError, TrainOptions, TrainProgress, TrainWarning, join, overrides};

/// What a replay rebuilt.
#[derive(Debug, Clone)]
pub struct Replayed {
    /// The rebuilt run's record (not stored anywhere): its id, code and environment are those
    /// of the replayed run's record, except the environment, which is this cairn's.
    pub record: RunRecord,
    /// The rebuilt model artifact, in `project`'s store.
    pub artifact: Digest,
    pub warnings: Vec<TrainWarning>,
}

/// Trains `record.model` in `project` as run `record` was trained: the spec `project`'s
/// `cairn.toml` declares, with the run's overrides applied, and its seed and split. The data
/// must be what `project`'s `cairn.lock` pins. The data's declared expectations are checked
/// but a failure does not stop the replay (the run's own check is in its record; a check
/// against the clock may not pass today). Refused for a run that did not finish.
pub fn replay(
    project: &Project,
    record: &RunRecord,
    progress: &dyn TrainProgress,
) -> Result<Replayed, TrainError> {
    let name = record.model.as_str();
    if record.status != RunStatus::Finished {
        return Err(TrainError::Data {
            model: name.to_owned(),
            message: format!("run {} failed: it has no model to rebuild", record.id),
        });
    }
    let config = project.config();
    let spec = config
        .model
        .get(name)
        .cloned()
        .ok_or_else(|| TrainError::NoSuchModel {
            name: name.to_owned(),
            declared: config.model.keys().cloned().collect(),
        })?;
    let given: Vec<(String, String)> = record
        .overrides
        .iter()
        .map(|(key, value)| (key.clone(), override_text(value)))
        .collect();
    let (mut spec, applied) = overrides::apply(name, spec, &given, &config.feature_service)?;
    spec.seed = record.seed;
    spec.split = serde_json::from_value(record.split.clone()).map_err(|e| TrainError::Record {
        id: record.id.clone(),
        message: format!("its split cannot be read ({e})"),
    })?;
    let joined = match &spec.entities {
        Some(entities) => {
            progress.phase("join");
            Some(join::entity_features(project, entities, &spec)?)
        }
        None => None,
    };
    let options = TrainOptions {
        model: name.to_owned(),
        overrides: given,
        tags: record.tags.clone(),
        allow_untracked: false,
        skip_validation: true,
    };
    let clock = Instant::now();
    let started_us = now_micros();
    let mut rebuilt = RunRecord {
        format: RUN_FORMAT,
        id: record.id.clone(),
        model: name.to_owned(),
        status: RunStatus::Failed,
        error: None,
        started: format_micros(started_us),
        ended: String::new(),
        started_us,
        duration_s: 0.0,
        algorithm: spec.algorithm.as_str().to_owned(),
        params: BTreeMap::new(),
        overrides: applied,
        seed: spec.seed,
        split: serde_json::to_value(&spec.split).unwrap_or(Value::Null),
        tags: record.tags.clone(),
        metrics: BTreeMap::new(),
        labels: None,
        report: None,
        phases: BTreeMap::new(),
        code: record.code.clone(),
        data: BTreeMap::new(),
        features: BTreeMap::new(),
        untracked: false,
        validation: "none".to_owned(),
        artifact: None,
        artifact_size: None,
        train_rows: 0,
        test_rows: 0,
        environment: crate::record::Environment::current(),
    };
    let mut warnings = Vec::new();
    crate::run(
        project,
        &options,
        &spec,
        joined,
        &mut rebuilt,
        &mut warnings,
        progress,
    )?;
    rebuilt.status = RunStatus::Finished;
    rebuilt.ended = format_micros(now_micros());
    rebuilt.duration_s = clock.elapsed().as_secs_f64();
    let artifact = rebuilt
        .artifact
        .as_deref()
        .and_then(|hex| hex.parse().ok())
        .ok_or_else(|| TrainError::Record {
            id: record.id.clone(),
            message: "the replay stored no model artifact".to_owned(),
        })?;
    Ok(Replayed {
        record: rebuilt,
        artifact,
        warnings,
    })
}

/// A recorded override value as the text an override is given as (read back as TOML).
fn override_text(value: &Value) -> String {
    match value {
        Value::String(s) => toml::Value::String(s.clone()).to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::disallowed_methods)] // test fixtures are written with std::fs

    use cairn_core::{DataEntry, EntryKind, InitOptions};
    use cairn_store::RelPath;

    use super::*;
    use crate::{Quiet, train};

    const SPEC: &str = r#"
[model.forest]
data = "data/t.csv"
target = "label"
algorithm = "random_forest_classifier"
params = { n_trees = 4, max_depth = 3 }
seed = 5
"#;

    fn table(rows: u64) -> String {
        let mut out = String::from("x1,x2,label\n");
        for i in 0..rows {
            let (x1, x2) = ((i * 37 % 101) as f64 / 100.0, (i * 53 % 97) as f64 / 96.0);
            let label = if x1 + x2 > 1.0 { "yes" } else { "no" };
            out.push_str(&format!("{x1},{x2},{label}\n"));
        }
        out
    }

    /// A project (no git) with `data/t.csv` tracked and the spec above.
    fn project(dir: &std::path::Path) -> Project {
        Project::init(dir, &InitOptions { no_git: true }).unwrap();
        let toml = std::fs::read_to_string(dir.join("cairn.toml")).unwrap();
        std::fs::write(dir.join("cairn.toml"), toml + SPEC).unwrap();
        std::fs::create_dir_all(dir.join("data")).unwrap();
        let text = table(80);
        std::fs::write(dir.join("data/t.csv"), &text).unwrap();
        let project = Project::discover(dir).unwrap();
        let store = project.store().unwrap();
        let put = store.put_bytes(text.as_bytes()).unwrap();
        let mut lock = project.read_lock().unwrap();
        lock.data.insert(
            RelPath::new("data/t.csv").unwrap(),
            DataEntry {
                kind: EntryKind::File,
                digest: put.digest,
                size: put.size,
                files: 0,
                executable: false,
            },
        );
        project.write_lock(&lock, &store).unwrap();
        project
    }

    #[test]
    fn a_replay_rebuilds_the_runs_artifact_with_its_overrides_and_records_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let project = project(dir.path());
        let options = TrainOptions {
            model: "forest".to_owned(),
            overrides: vec![
                ("max_depth".to_owned(), "2".to_owned()),
                ("seed".to_owned(), "9".to_owned()),
                ("split.test_size".to_owned(), "0.25".to_owned()),
            ],
            ..TrainOptions::default()
        };
        let run = train(&project, &options, &Quiet).unwrap();
        let runs_before = crate::list_summaries(&project, &crate::Selection::default())
            .unwrap()
            .runs
            .len();
        let replayed = replay(&project, &run.record, &Quiet).unwrap();
        assert_eq!(
            Some(replayed.artifact.to_hex()),
            run.record.artifact,
            "the same artifact, byte for byte"
        );
        assert_eq!(replayed.record.id, run.record.id);
        assert_eq!(replayed.record.params, run.record.params);
        assert_eq!(replayed.record.seed, 9);
        assert_eq!(replayed.record.test_rows, run.record.test_rows);
        assert_eq!(replayed.record.code, run.record.code);
        assert_eq!(
            crate::list_summaries(&project, &crate::Selection::default())
                .unwrap()
                .runs
                .len(),
            runs_before
        );

        // The spec changed since: the replay follows the project's spec, so it differs.
        let toml = std::fs::read_to_string(dir.path().join("cairn.toml")).unwrap();
        std::fs::write(
            dir.path().join("cairn.toml"),
            toml.replace("n_trees = 4", "n_trees = 6"),
        )
        .unwrap();
        let changed = Project::discover(dir.path()).unwrap();
        let replayed = replay(&changed, &run.record, &Quiet).unwrap();
        assert_ne!(Some(replayed.artifact.to_hex()), run.record.artifact);
        assert_eq!(replayed.record.params["n_trees"], 6);
    }

    #[test]
    fn a_failed_run_or_an_undeclared_spec_is_not_replayed() {
        let dir = tempfile::tempdir().unwrap();
        let project = project(dir.path());
        let options = TrainOptions {
            model: "forest".to_owned(),
            ..TrainOptions::default()
        };
        let run = train(&project, &options, &Quiet).unwrap();
        let mut failed = run.record.clone();
        failed.status = RunStatus::Failed;
        let e = replay(&project, &failed, &Quiet).unwrap_err();
        assert!(matches!(e, TrainError::Data { .. }), "{e}");
        let mut other = run.record;
        other.model = "gone".to_owned();
        let e = replay(&project, &other, &Quiet).unwrap_err();
        assert!(matches!(e, TrainError::NoSuchModel { .. }), "{e}");
    }
}
