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
