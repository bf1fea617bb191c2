//! Training runs: `train` loads the declared data (joined to its features for a spec over an
//! entity table), checks that it is what the lock pins and that it meets its expectations,
//! splits, fits, evaluates on the held-out rows, stores the model artifact and records the
//! run (an object in the store, a ref and a row in `.cairn/cairn.db`). Listing, showing,
//! comparing and removing runs query the records, this machine's or a remote's.
//!
//! Each step of a run is a module: `overrides`, `join`, `load` (load and check), [`split`],
//! `target`, `fit`, `evaluate`, `store`, and `runs` (record; public as [`record_run`](fn@record_run), for
//! tools that record runs `train` did not make). [`held_out`](fn@held_out) rebuilds a finished
//! run's test rows with the load, join and split steps (for validation). Libraries never print: progress
//! goes through [`TrainProgress`], warnings come back as [`TrainWarning`]s.

mod compare;
mod error;
mod evaluate;
mod fit;
mod held_out;
mod join;
mod load;
mod overrides;
pub mod query;
pub mod record;
mod record_run;
mod remote;
mod replay;
mod runs;
pub mod split;
mod store;
mod target;
mod tracked;
mod warning;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::time::Instant;

use cairn_core::Project;
use cairn_core::models::{Algorithm, ModelSpec};
use cairn_core::time::{format_micros, now_micros};
/// See [`cairn_model::guard::panic_is_caught`]: for the CLI's panic hook.
pub use cairn_model::guard::panic_is_caught;
use cairn_store::Digest;
use serde_json::Value;

pub use compare::{ComparedField, Comparison, compare};
pub use error::{OverrideProblem, TrainError};
pub use held_out::{HeldOut, held_out};
pub use query::{RunList, Selection};
pub use record::{Code, Environment, Fields, RUN_FORMAT, RunRecord, RunStatus, RunSummary};
pub use record_run::{record_run, record_runs};
pub use remote::{ListedRun, RemoteRuns, SkipReason, SkippedRun, remote_runs};
pub use replay::{Replayed, replay};
pub use runs::{
    RemovedRuns, check_index, get_run, get_runs, list_runs, list_summaries, parse_run_record,
    remove_runs,
};
pub use warning::TrainWarning;

/// What `train` is asked.
#[derive(Debug, Clone, Default)]
pub struct TrainOptions {
    /// The spec to train: `[model.NAME]`.
    pub model: String,
    /// Overrides of the spec for this run, as `(key, value)`: `seed`, `split.test_size`,
    /// `split.stratify`, `params.NAME` or a bare param name; the value is read as TOML, or
    /// taken as text. Recorded.
    pub overrides: Vec<(String, String)>,
    pub tags: BTreeMap<String, String>,
    /// Train even if the data is not tracked or differs from the lock (recorded).
    pub allow_untracked: bool,
    /// Train even if the data fails its `[dataset]` expectations (recorded).
    pub skip_validation: bool,
}

/// Progress of a run, for the terminal.
pub trait TrainProgress: Sync {
    /// A phase starts: `join` (before the run, for a spec over an entity table), `load`,
    /// `validate`, `split`, `fit`, `evaluate`, `store`.
    fn phase(&self, phase: &str);
    /// Fitting progress (trees built, for forests).
    fn fit(&self, done: usize, total: usize);
    /// Another cairn process holds the project's write lock; the run waits for it.
    fn waiting_for_lock(&self, _holder: &str) {}
}

/// No progress reporting.
pub struct Quiet;

impl TrainProgress for Quiet {
    fn phase(&self, _: &str) {}
    fn fit(&self, _: usize, _: usize) {}
}

/// What a finished run produced.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    pub record: RunRecord,
    pub record_digest: Digest,
    pub warnings: Vec<TrainWarning>,
}

/// Trains `options.model` and records the run.
///
/// What stops `train` before a run starts is not recorded: an unknown model, a runs index or
/// run ref that cannot be read, an override that cannot be applied, and, for a spec over an
/// entity table, a join to its feature views that fails. Any later failure is recorded as a
/// failed run, then returned.
pub fn train(
    project: &Project,
    options: &TrainOptions,
    progress: &dyn TrainProgress,
) -> Result<TrainOutcome, TrainError> {
    let config = project.config();
    let spec =
        config
            .model
            .get(&options.model)
            .cloned()
            .ok_or_else(|| TrainError::NoSuchModel {
                name: options.model.clone(),
                declared: config.model.keys().cloned().collect(),
            })?;
    // The index first: a newer or damaged one stops the run before any work.
    check_index(project)?;
    let (spec, overrides) = overrides::apply(
        &options.model,
        spec,
        &options.overrides,
        &config.feature_service,
    )?;
    let joined = match &spec.entities {
        Some(entities) => {
            progress.phase("join");
            Some(join::entity_features(project, entities, &spec)?)
        }
        None => None,
    };
    let clock = Instant::now();
    let mut record = start_record(project, options, &spec, overrides)?;
    let mut warnings = Vec::new();
    if record.code.dirty {
        warnings.push(TrainWarning::DirtyWorktree);
    }
    let result = run(
        project,
        options,
        &spec,
        joined,
        &mut record,
        &mut warnings,
        progress,
    );
    record.ended = format_micros(now_micros());
    record.duration_s = clock.elapsed().as_secs_f64();
    match result {
        Ok(()) => {
            record.status = RunStatus::Finished;
            let digest = runs::save(project, &record, progress)?;
            Ok(TrainOutcome {
                record,
                record_digest: digest,
                warnings,
            })
        }
        Err(e) => {
            record.error = Some(e.to_string());
            // A failed run is recorded as such; if even that fails, the training error is
            // what the user needs to see.
            let _ = runs::save(project, &record, progress);
            Err(e)
        }
    }
}

/// The record of a run that starts now: failed until it finishes.
fn start_record(
    project: &Project,
    options: &TrainOptions,
    spec: &ModelSpec,
    overrides: BTreeMap<String, Value>,
) -> Result<RunRecord, TrainError> {
    let started_us = now_micros();
    let code = match project.git()? {
        Some(git) => Code {
            commit: git.head_commit()?,
            dirty: git.is_dirty()?,
        },
        None => Code::default(),
    };
    Ok(RunRecord {
        format: RUN_FORMAT,
        id: run_id(&options.model, started_us),
        model: options.model.clone(),
        status: RunStatus::Failed,
        error: None,
        started: format_micros(started_us),
        ended: String::new(),
        started_us,
        duration_s: 0.0,
        algorithm: spec.algorithm.as_str().to_owned(),
        params: BTreeMap::new(),
        overrides,
        seed: spec.seed,
        split: serde_json::to_value(&spec.split).unwrap_or(Value::Null),
        tags: options.tags.clone(),
        metrics: BTreeMap::new(),
        labels: None,
        report: None,
        phases: BTreeMap::new(),
        code,
        data: BTreeMap::new(),
        features: BTreeMap::new(),
        untracked: false,
        validation: "none".to_owned(),
        artifact: None,
        artifact_size: None,
        train_rows: 0,
        test_rows: 0,
        environment: Environment::current(),
    })
}

fn run_id(model: &str, started_us: i64) -> String {
    let mut seed = Vec::new();
    seed.extend_from_slice(model.as_bytes());
    seed.extend_from_slice(&started_us.to_le_bytes());
    seed.extend_from_slice(&std::process::id().to_le_bytes());
    Digest::of(&seed).to_hex()[..12].to_owned()
}

/// The run, step by step, filling `record` as it goes (what a failed run got to stays in it).
fn run(
    project: &Project,
    options: &TrainOptions,
    spec: &ModelSpec,
    joined: Option<join::Joined>,
    record: &mut RunRecord,
    warnings: &mut Vec<TrainWarning>,
    progress: &dyn TrainProgress,
) -> Result<(), TrainError> {
    let name = options.model.as_str();
    let (key, path) = match (&spec.data, &spec.entities) {
        (Some(p), _) => ("data", p.as_str()),
        (None, Some(p)) => ("entities", p.as_str()),
        (None, None) => {
            return Err(TrainError::Spec(format!(
                "`model.{name}`: say what to train on: `data` or `entities`"
            )));
        }
    };
    let params = fit::params(name, spec)?;

    // Load: the data must be what the lock pins (unless allowed), then it is read.
    progress.phase("load");
    let pinned = timed(&mut record.phases, "load", || {
        load::pin(project, name, key, path, options.allow_untracked)
    })?;
    record
        .data
        .insert(path.to_owned(), pinned.digest().to_hex());
    if let load::Pinned::Untracked { warning, .. } = pinned {
        record.untracked = true;
        warnings.push(warning);
    }
    let (frame, joined_columns) = match joined {
        Some(joined) => {
            record.features = joined.tables;
            (joined.frame, Some(joined.feature_columns))
        }
        None => {
            let frame = timed(&mut record.phases, "load", || load::read(project, path))?;
            (frame, None)
        }
    };

    // Check: the data's declared expectations.
    if let Some(expectations) = project.config().dataset.get(path) {
        progress.phase("validate");
        let checked = timed(&mut record.phases, "validate", || {
            load::check(&frame, name, path, expectations, options.skip_validation)
        })?;
        record.validation = match checked {
            load::Checked::Passed => "passed".to_owned(),
            load::Checked::Skipped(warning) => {
                warnings.push(warning);
                "skipped".to_owned()
            }
        };
    }

    // Split: the target, then training and test rows, then the inputs prepared on them.
    progress.phase("split");
    let target = target::read_checked(&frame, name, spec, path)?;
    let rows = timed(&mut record.phases, "split", || {
        split::rows(&frame, name, spec, &target)
    })?;
    record.train_rows = rows.train.len() as u64;
    record.test_rows = rows.test.len() as u64;
    let inputs = fit::inputs(&frame, name, spec, joined_columns, &rows)?;

    // Fit.
    progress.phase("fit");
    let (fit, truth) = fit::fit(
        name,
        spec,
        &params,
        &target,
        &rows,
        &inputs.train,
        &mut record.phases,
        progress,
    )?;
    record.params = fit.params.clone();
    record.labels = fit.labels();
    let artifact = store::artifact(name, spec, fit, inputs.inputs, record);

    // Evaluate on the test rows.
    progress.phase("evaluate");
    let evaluation = timed(&mut record.phases, "evaluate", || {
        evaluate::evaluate(&artifact, &inputs.test, &truth, &record.id)
    })?;
    record.metrics = evaluation.metrics;
    record.report = evaluation.report;

    // Store the artifact (the record step follows, in `train`).
    progress.phase("store");
    let put = timed(&mut record.phases, "store", || {
        store::put(project, &artifact)
    })?;
    record.artifact = Some(put.digest.to_hex());
    record.artifact_size = Some(put.size);
    Ok(())
}

/// Runs `f`, adding the seconds it takes to `phases[phase]`.
pub(crate) fn timed<T>(
    phases: &mut BTreeMap<String, f64>,
    phase: &str,
    f: impl FnOnce() -> T,
) -> T {
    let start = Instant::now();
    let out = f();
    *phases.entry(phase.to_owned()).or_default() += start.elapsed().as_secs_f64();
    out
}

/// Declared algorithms, for help texts.
pub fn algorithms() -> impl Iterator<Item = Algorithm> {
    Algorithm::ALL.into_iter()
}
