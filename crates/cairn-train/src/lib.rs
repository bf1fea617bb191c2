//! Training runs: `cairn train NAME` loads the declared data, checks that it is what the lock
//! pins, validates it, splits, fits, evaluates on the held-out rows, stores the model artifact
//! and records the run (an object in the store and a row in `.cairn/cairn.db`). `runs list /
//! show / compare / rm` query the records.
//!
//! Libraries never print: progress goes through [`TrainProgress`].

pub mod query;
pub mod record;
pub mod split;
mod tracked;

use std::collections::BTreeMap;
use std::time::{Instant, SystemTime};

use cairn_core::Project;
use cairn_core::models::{Algorithm, Encode, Impute, ModelSpec};
use cairn_core::runs::{RunRow, RunsDb, RunsError};
use cairn_core::time::{format_micros, now_micros};
use cairn_model::artifact::{Artifact, FORMAT_VERSION, Header, Label, Provenance, Task};
use cairn_model::estimator::{self, Target};
/// See [`cairn_model::linear::panic_is_caught`]: for the CLI's panic hook.
pub use cairn_model::linear::panic_is_caught;
use cairn_model::prep::{self, Encoding, ImputeRule, InputError, InputRule};
use cairn_model::{FitError, Matrix, metrics};
use cairn_store::Digest;
use polars::prelude::*;
use serde_json::Value;

use tracked::check_tracked;

pub use record::{Code, Environment, Fields, RUN_FORMAT, RunRecord, RunStatus, RunSummary};

/// Training rows already joined to feature views (the caller runs the point-in-time join of
/// a spec's `entities` table; this crate does not depend on the feature store).
#[derive(Debug, Clone)]
pub struct PreparedData {
    pub frame: DataFrame,
    /// The feature columns the join added: the model's inputs, in order.
    pub feature_columns: Vec<String>,
    /// View → the digest of the offline table joined.
    pub tables: BTreeMap<String, String>,
}

/// What `cairn train` was asked.
#[derive(Debug, Clone, Default)]
pub struct TrainOptions {
    /// For specs with `entities`: the joined rows.
    pub prepared: Option<PreparedData>,
    pub model: String,
    /// `--set key=value`: `seed`, `split.test_size`, `split.stratify`, `params.NAME` or a bare
    /// param name.
    pub overrides: Vec<(String, String)>,
    pub tags: BTreeMap<String, String>,
    /// Train even if the data is not tracked or differs from the lock (recorded).
    pub allow_untracked: bool,
    /// Train even if the data fails its `[dataset]` expectations (recorded).
    pub skip_validation: bool,
}

/// Progress of a run, for the terminal.
pub trait TrainProgress: Sync {
    /// A phase starts: `load`, `validate`, `split`, `fit`, `evaluate`, `store`.
    fn phase(&self, phase: &str);
    /// Fitting progress (trees built, for forests).
    fn fit(&self, done: usize, total: usize);
    /// Another cairn process holds the project's write lock; the run waits for it.
    fn waiting_for_lock(&self, _holder: &str) {}
}

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

/// No progress reporting.
pub struct Quiet;

impl TrainProgress for Quiet {
    fn phase(&self, _: &str) {}
    fn fit(&self, _: usize, _: usize) {}
}

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("no model `{name}` is declared in cairn.toml{}", list(.declared))]
    NoSuchModel { name: String, declared: Vec<String> },
    /// A spec or an override that cannot work; names the key.
    #[error("{0}")]
    Spec(String),
    #[error("`model.{model}.{key}`: {path} is not tracked, so the run could not be reproduced")]
    Untracked {
        model: String,
        key: &'static str,
        path: String,
    },
    #[error(
        "`model.{model}.{key}`: the workspace copy of {path} differs from what cairn.lock pins ({detail}), so the run could not be reproduced"
    )]
    Modified {
        model: String,
        key: &'static str,
        path: String,
        detail: String,
    },
    #[error(transparent)]
    Table(#[from] cairn_core::table::TableError),
    #[error(transparent)]
    Validation(#[from] cairn_core::validation::ValidationError),
    #[error(
        "model.{model}: its data {} failed validation ({} of {} checks)",
        .report.path,
        .report.checks.iter().filter(|c| !c.passed).count(),
        .report.checks.len()
    )]
    ValidationFailed {
        model: String,
        report: Box<cairn_core::validation::DatasetReport>,
    },
    #[error("model.{model}: {source}")]
    Input { model: String, source: InputError },
    #[error("`model.{model}.params.{name}`: {message}")]
    Param {
        model: String,
        name: String,
        message: String,
    },
    #[error("model.{model}: {message}")]
    Data { model: String, message: String },
    #[error(transparent)]
    Store(#[from] cairn_store::StoreError),
    #[error(transparent)]
    Lock(#[from] cairn_core::LockError),
    #[error(transparent)]
    Runs(#[from] RunsError),
    #[error(transparent)]
    Git(#[from] cairn_core::GitError),
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("run record {id}: {message}")]
    Record { id: String, message: String },
    #[error(
        "run record {id} has format {found}, but this cairn reads format {RUN_FORMAT}: it was written by a newer cairn"
    )]
    NewerRecord { id: String, found: u32 },
}

fn list(declared: &[String]) -> String {
    if declared.is_empty() {
        " (none is: add a `[model.NAME]` table)".to_owned()
    } else {
        format!(" (declared: {})", declared.join(", "))
    }
}

/// What a finished run produced.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    pub record: RunRecord,
    pub record_digest: Digest,
    pub warnings: Vec<String>,
}

/// The spec after `--set` overrides, and the overrides as values.
fn apply_overrides(
    name: &str,
    mut spec: ModelSpec,
    overrides: &[(String, String)],
    services: &BTreeMap<String, cairn_core::features::FeatureServiceSpec>,
) -> Result<(ModelSpec, BTreeMap<String, Value>), TrainError> {
    let mut applied = BTreeMap::new();
    for (key, raw) in overrides {
        let value: toml::Value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(raw.clone()));
        let bad = |what: &str| {
            TrainError::Spec(format!("--set {key}={raw}: `model.{name}.{key}` {what}"))
        };
        match key.as_str() {
            "seed" => {
                spec.seed = value
                    .as_integer()
                    .and_then(|v| u64::try_from(v).ok())
                    .ok_or_else(|| bad("is a whole number ≥ 0"))?;
            }
            "split.test_size" => {
                spec.split.test_size = value
                    .as_float()
                    .or_else(|| value.as_integer().map(|i| i as f64))
                    .ok_or_else(|| bad("is a number between 0 and 1"))?;
            }
            "split.stratify" => {
                spec.split.stratify = Some(value.as_bool().ok_or_else(|| bad("is true or false"))?);
            }
            "target" | "data" | "algorithm" | "features" | "entities" | "service" | "timestamp"
            | "exclude" | "columns" | "split" | "params" => {
                return Err(bad(
                    "cannot be overridden: it changes what the model is; edit cairn.toml",
                ));
            }
            other => {
                let param = other.strip_prefix("params.").unwrap_or(other);
                if param.is_empty() || param.contains('.') || other.starts_with("columns.") {
                    return Err(bad(
                        "is not something --set changes (seed, split.test_size, split.stratify, or a param)",
                    ));
                }
                spec.params.insert(param.to_owned(), value.clone());
            }
        }
        applied.insert(
            key.clone(),
            serde_json::to_value(&value).unwrap_or(Value::Null),
        );
    }
    // The checks cairn.toml got, again for the changed spec.
    let one = BTreeMap::from([(name.to_owned(), spec.clone())]);
    cairn_core::models::check(&one, services)
        .map_err(|e| TrainError::Spec(format!("after --set: {e}")))?;
    Ok((spec, applied))
}

/// The target column as class indices (classification) or numbers (regression).
enum Targets {
    Classes { y: Vec<u32>, labels: Vec<Label> },
    Values(Vec<f64>),
}

fn read_target(
    frame: &DataFrame,
    model: &str,
    target: &str,
    classifier: bool,
) -> Result<Targets, TrainError> {
    let data = |message: String| TrainError::Data {
        model: model.to_owned(),
        message,
    };
    let column = frame
        .column(target)
        .map_err(|_| {
            TrainError::Spec(format!(
                "`model.{model}.target`: the data has no column `{target}` (its columns: {})",
                frame
                    .get_column_names()
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?
        .as_materialized_series()
        .clone();
    let missing = |row: usize| {
        data(format!(
            "the target `{target}` is missing at row {row}: drop or fill such rows before training"
        ))
    };
    let dtype = column.dtype().clone();
    if !classifier {
        if !dtype.is_primitive_numeric() {
            return Err(data(format!(
                "the target `{target}` holds {dtype}, and a regressor predicts numbers"
            )));
        }
        let values = column
            .cast(&DataType::Float64)
            .map_err(|e| data(e.to_string()))?;
        let mut out = Vec::with_capacity(values.len());
        for (i, v) in values
            .f64()
            .map_err(|e| data(e.to_string()))?
            .iter()
            .enumerate()
        {
            match v {
                Some(x) if !x.is_nan() => out.push(x),
                _ => return Err(missing(i + 1)),
            }
        }
        return Ok(Targets::Values(out));
    }
    let raw: Vec<Label> = if dtype == DataType::Boolean {
        column
            .bool()
            .map_err(|e| data(e.to_string()))?
            .iter()
            .enumerate()
            .map(|(i, v)| v.map(Label::Bool).ok_or_else(|| missing(i + 1)))
            .collect::<Result<_, _>>()?
    } else if dtype == DataType::String {
        column
            .str()
            .map_err(|e| data(e.to_string()))?
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.map(|s| Label::Text(s.to_owned()))
                    .ok_or_else(|| missing(i + 1))
            })
            .collect::<Result<_, _>>()?
    } else if dtype.is_primitive_numeric() {
        let values = column
            .cast(&DataType::Float64)
            .map_err(|e| data(e.to_string()))?;
        values
            .f64()
            .map_err(|e| data(e.to_string()))?
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Some(x) if x.is_nan() => Err(missing(i + 1)),
                Some(x) if x.fract() != 0.0 || x.abs() > 9.0e15 => Err(data(format!(
                    "the target `{target}` holds {x} at row {}: a classifier needs labels (whole numbers, booleans or strings); use a regressor for numbers",
                    i + 1
                ))),
                Some(x) => Ok(Label::Int(x as i64)),
                None => Err(missing(i + 1)),
            })
            .collect::<Result<_, _>>()?
    } else {
        return Err(data(format!(
            "the target `{target}` holds {dtype}; a label is a whole number, a boolean or a string"
        )));
    };
    let mut labels = raw.clone();
    labels.sort();
    labels.dedup();
    let y = raw
        .iter()
        .map(|l| labels.binary_search(l).map(|i| i as u32).unwrap_or(0))
        .collect();
    Ok(Targets::Classes { y, labels })
}

/// Trains `options.model` and records the run.
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
    open_index(project)?;
    let (spec, overrides) = apply_overrides(
        &options.model,
        spec,
        &options.overrides,
        &config.feature_service,
    )?;
    if spec.entities.is_some() && options.prepared.is_none() {
        return Err(TrainError::Spec(format!(
            "`model.{}.entities`: the entity table was not joined to its features",
            options.model
        )));
    }
    let started_us = now_micros();
    let clock = Instant::now();
    let id = run_id(&options.model, started_us);
    let git = project.git()?;
    let code = match &git {
        Some(git) => Code {
            commit: git.head_commit()?,
            dirty: git.is_dirty()?,
        },
        None => Code::default(),
    };
    let mut record = RunRecord {
        format: RUN_FORMAT,
        id: id.clone(),
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
    };
    let mut warnings = Vec::new();
    if record.code.dirty {
        warnings.push(
            "the worktree has uncommitted changes: the run records the commit, not your edits"
                .to_owned(),
        );
    }
    let result = run(
        project,
        options,
        &spec,
        &mut record,
        &mut warnings,
        progress,
    );
    let ended = now_micros();
    record.ended = format_micros(ended);
    record.duration_s = clock.elapsed().as_secs_f64();
    match result {
        Ok(()) => {
            record.status = RunStatus::Finished;
            let digest = save_record(project, &record, progress)?;
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
            let _ = save_record(project, &record, progress);
            Err(e)
        }
    }
}

fn run_id(model: &str, started_us: i64) -> String {
    let mut seed = Vec::new();
    seed.extend_from_slice(model.as_bytes());
    seed.extend_from_slice(&started_us.to_le_bytes());
    seed.extend_from_slice(&std::process::id().to_le_bytes());
    Digest::of(&seed).to_hex()[..12].to_owned()
}

/// Records a run: the record object, the objects synced, then the ref (from here on the run
/// exists: gc keeps its objects), then the index row. Under the project's write lock, so that
/// a concurrent `data gc` sees either no run or all of it.
fn save_record(
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

fn input_rule(spec: &ModelSpec, column: &str) -> InputRule {
    let Some(rule) = spec.columns.get(column) else {
        return InputRule::default();
    };
    InputRule {
        dtype: rule.dtype.map(|t| t.as_str().to_owned()),
        impute: rule.impute.map(|i| match i {
            Impute::Mean => ImputeRule::Mean,
            Impute::Median => ImputeRule::Median,
            Impute::MostFrequent => ImputeRule::MostFrequent,
            Impute::Constant => ImputeRule::Constant(
                rule.fill
                    .as_ref()
                    .and_then(|v| serde_json::to_value(v).ok())
                    .unwrap_or(Value::Null),
            ),
        }),
        encode: rule.encode.map(|e| match e {
            Encode::OneHot => Encoding::OneHot,
            Encode::Ordinal => Encoding::Ordinal,
        }),
    }
}

fn timed<T>(record: &mut RunRecord, phase: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    *record.phases.entry(phase.to_owned()).or_default() += start.elapsed().as_secs_f64();
    out
}

fn run(
    project: &Project,
    options: &TrainOptions,
    spec: &ModelSpec,
    record: &mut RunRecord,
    warnings: &mut Vec<String>,
    progress: &dyn TrainProgress,
) -> Result<(), TrainError> {
    let name = options.model.as_str();
    let (key, path) = match (&spec.data, &spec.entities) {
        (Some(p), _) => ("data", p.as_str()),
        (None, Some(p)) => ("entities", p.as_str()),
        (None, None) => unreachable!("checked when cairn.toml is read"),
    };
    let params: BTreeMap<String, Value> = spec
        .params
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::to_value(v).unwrap_or(Value::Null)))
        .collect();
    estimator::check_param_names(spec.algorithm, &params).map_err(|e| fit_error(name, e))?;
    progress.phase("load");
    let digest = timed(record, "load", || {
        match check_tracked(project, name, key, path) {
            Ok(d) => Ok(d),
            Err(e @ (TrainError::Untracked { .. } | TrainError::Modified { .. }))
                if options.allow_untracked =>
            {
                warnings.push(format!(
                    "{e}; training anyway (--allow-untracked, recorded)"
                ));
                Ok(cairn_core::table::content_digest(
                    &project.root().join(path),
                )?)
            }
            Err(e) => Err(e),
        }
    })?;
    record.untracked = !warnings.iter().all(|w| !w.contains("--allow-untracked"));
    record.data.insert(path.to_owned(), digest.to_hex());
    let frame = match &options.prepared {
        Some(prepared) => {
            record.features = prepared.tables.clone();
            prepared.frame.clone()
        }
        None => timed(record, "load", || {
            cairn_core::table::read_table(&project.root().join(path))
        })?,
    };
    if let Some(expectations) = project.config().dataset.get(path) {
        progress.phase("validate");
        let report = timed(record, "validate", || {
            cairn_core::validation::check_frame(&frame, path, expectations, SystemTime::now())
        })?;
        record.validation = if report.passed {
            "passed".to_owned()
        } else if options.skip_validation {
            warnings.push(format!(
                "{path} failed validation; training anyway (--skip-validation, recorded)"
            ));
            "skipped".to_owned()
        } else {
            return Err(TrainError::ValidationFailed {
                model: name.to_owned(),
                report: Box::new(report),
            });
        };
    }

    progress.phase("split");
    let classifier = spec.algorithm.is_classifier();
    let target = read_target(&frame, name, &spec.target, classifier)?;
    let data_err = |message: String| TrainError::Data {
        model: name.to_owned(),
        message,
    };
    if frame.height() == 0 {
        return Err(data_err(format!("{path} has no rows")));
    }
    if let Targets::Classes { labels, .. } = &target
        && labels.len() < 2
    {
        return Err(data_err(format!(
            "the target `{}` has a single class ({}) in {path}: a classifier needs at least two",
            spec.target, labels[0]
        )));
    }
    let (train_rows, test_rows) = timed(record, "split", || -> Result<_, TrainError> {
        let split = &spec.split;
        Ok(match (&split.time_column, &target) {
            (Some(column), _) => {
                let series = frame
                    .column(column)
                    .map_err(|_| {
                        TrainError::Spec(format!(
                            "`model.{name}.split.time_column`: the data has no column `{column}`"
                        ))
                    })?
                    .as_materialized_series();
                let dtype = series.dtype();
                if !(dtype.is_temporal() || dtype.is_integer()) {
                    return Err(TrainError::Spec(format!(
                        "`model.{name}.split.time_column`: `{column}` holds {dtype}; a time split needs dates, datetimes or integers"
                    )));
                }
                let times = series
                    .to_physical_repr()
                    .cast(&DataType::Int64)
                    .map_err(|e| data_err(format!("split.time_column `{column}`: {e}")))?;
                let times: Vec<i64> = times
                    .i64()
                    .map_err(|e| data_err(e.to_string()))?
                    .iter()
                    .enumerate()
                    .map(|(i, t)| {
                        t.ok_or_else(|| {
                            data_err(format!(
                                "split.time_column `{column}` is missing at row {}: every row needs a time for a time split",
                                i + 1
                            ))
                        })
                    })
                    .collect::<Result<_, _>>()?;
                split::by_time(&times, split.test_size)
            }
            (None, Targets::Classes { y, labels }) if split.stratify != Some(false) => {
                split::stratified(y, labels.len(), split.test_size, spec.seed)
            }
            (None, _) => split::random(frame.height(), split.test_size, spec.seed),
        })
    })?;
    if train_rows.is_empty() || test_rows.is_empty() {
        return Err(data_err(format!(
            "the split leaves {} training and {} test rows (of {}, test_size {}): add rows or change `split.test_size`",
            train_rows.len(),
            test_rows.len(),
            if frame.height() == 1 {
                "1 row".to_owned()
            } else {
                format!("{} rows", frame.height())
            },
            spec.split.test_size
        )));
    }
    record.train_rows = train_rows.len() as u64;
    record.test_rows = test_rows.len() as u64;

    // The inputs, in order.
    let columns: Vec<String> = match (&options.prepared, &spec.features) {
        (Some(prepared), _) => prepared.feature_columns.clone(),
        (None, Some(f)) => f.clone(),
        (None, None) => frame
            .get_column_names()
            .iter()
            .map(|c| c.to_string())
            .filter(|c| {
                *c != spec.target
                    && !spec.exclude.contains(c)
                    && spec.split.time_column.as_deref() != Some(c.as_str())
            })
            .collect(),
    };
    if columns.is_empty() {
        return Err(TrainError::Spec(format!(
            "`model.{name}`: no input columns are left (the data holds only the target and excluded columns)"
        )));
    }
    if let Some(missing) = spec.exclude.iter().find(|c| frame.column(c).is_err()) {
        return Err(TrainError::Spec(format!(
            "`model.{name}.exclude`: the data has no column `{missing}`"
        )));
    }
    if let Some(other) = spec
        .columns
        .keys()
        .find(|c| !columns.contains(c) && **c != spec.target)
    {
        return Err(TrainError::Spec(format!(
            "`model.{name}.columns.{other}`: `{other}` is not an input of the model (inputs: {})",
            columns.join(", ")
        )));
    }
    let rules: Vec<(String, InputRule)> = columns
        .iter()
        .map(|c| (c.clone(), input_rule(spec, c)))
        .collect();
    let input_err = |source: InputError| TrainError::Input {
        model: name.to_owned(),
        source,
    };
    let inputs = prep::fit_inputs(&frame, &rules, &train_rows).map_err(input_err)?;
    let x = prep::transform(&frame, &inputs).map_err(input_err)?;
    let (x_train, x_test) = (x.take(&train_rows), x.take(&test_rows));

    progress.phase("fit");
    let report = |done: usize, total: usize| progress.fit(done, total);
    let fit_err = |e: FitError| fit_error(name, e);
    let (task, fitted, resolved, y_test) = match &target {
        Targets::Classes { y, labels } => {
            let y_train: Vec<u32> = train_rows.iter().map(|&i| y[i]).collect();
            let present = {
                let mut seen = vec![false; labels.len()];
                y_train.iter().for_each(|c| seen[*c as usize] = true);
                seen.iter().filter(|s| **s).count()
            };
            if present < 2 {
                return Err(data_err(format!(
                    "the training rows hold a single class of `{}`: a classifier needs at least two",
                    spec.target
                )));
            }
            let (fitted, resolved) = timed(record, "fit", || {
                estimator::fit(
                    spec.algorithm,
                    &params,
                    spec.seed,
                    &x_train,
                    Target::Classes {
                        y: &y_train,
                        n_classes: labels.len(),
                    },
                    &report,
                )
            })
            .map_err(fit_err)?;
            let y_test: Vec<u32> = test_rows.iter().map(|&i| y[i]).collect();
            record.labels = Some(labels.iter().map(Label::to_json).collect());
            (
                Task::Classification {
                    labels: labels.clone(),
                },
                fitted,
                resolved,
                Err(y_test),
            )
        }
        Targets::Values(v) => {
            let y_train: Vec<f64> = train_rows.iter().map(|&i| v[i]).collect();
            let (fitted, resolved) = timed(record, "fit", || {
                estimator::fit(
                    spec.algorithm,
                    &params,
                    spec.seed,
                    &x_train,
                    Target::Values(&y_train),
                    &report,
                )
            })
            .map_err(fit_err)?;
            let y_test: Vec<f64> = test_rows.iter().map(|&i| v[i]).collect();
            (Task::Regression, fitted, resolved, Ok(y_test))
        }
    };
    record.params = resolved.clone();
    let artifact = Artifact {
        header: Header {
            format: FORMAT_VERSION,
            model: name.to_owned(),
            algorithm: spec.algorithm.as_str().to_owned(),
            params: resolved,
            seed: spec.seed,
            target: spec.target.clone(),
            task,
            inputs,
            provenance: Provenance {
                data: record.data.clone(),
                features: record.features.clone(),
                code_commit: record.code.commit.clone(),
                code_dirty: record.code.dirty,
                train_rows: record.train_rows,
                test_rows: record.test_rows,
            },
        },
        fitted,
    };

    progress.phase("evaluate");
    let start = Instant::now();
    evaluate(&artifact, &x_test, &y_test, record)?;
    record
        .phases
        .insert("evaluate".to_owned(), start.elapsed().as_secs_f64());

    progress.phase("store");
    let bytes = artifact.to_bytes();
    let put = timed(record, "store", || project.store()?.put_bytes(&bytes))?;
    record.artifact = Some(put.digest.to_hex());
    record.artifact_size = Some(put.size);
    Ok(())
}

fn fit_error(model: &str, e: FitError) -> TrainError {
    match e {
        FitError::Param { name, message } => TrainError::Param {
            model: model.to_owned(),
            name,
            message,
        },
        FitError::Data(message) => TrainError::Data {
            model: model.to_owned(),
            message,
        },
    }
}

fn evaluate(
    artifact: &Artifact,
    x_test: &Matrix,
    y_test: &Result<Vec<f64>, Vec<u32>>,
    record: &mut RunRecord,
) -> Result<(), TrainError> {
    let predictions = artifact.predict_matrix(x_test);
    let report = match (predictions, y_test) {
        (
            cairn_model::artifact::Predictions::Classes {
                proba, n_classes, ..
            },
            Err(y),
        ) => serde_json::to_value(metrics::classification(y, &proba, n_classes)),
        (cairn_model::artifact::Predictions::Values(pred), Ok(y)) => {
            serde_json::to_value(metrics::regression(y, &pred))
        }
        _ => unreachable!("the task decides both"),
    }
    .map_err(|e| TrainError::Record {
        id: record.id.clone(),
        message: e.to_string(),
    })?;
    let Value::Object(fields) = report else {
        unreachable!("metrics serialize to an object")
    };
    let mut rest = serde_json::Map::new();
    for (k, v) in fields {
        match v.as_f64() {
            Some(x) => {
                record.metrics.insert(k, x);
            }
            None if v.is_null() => {}
            None => {
                rest.insert(k, v);
            }
        }
    }
    if !rest.is_empty() {
        record.report = Some(Value::Object(rest));
    }
    Ok(())
}

/// Reads every run (of `model`), oldest first.
pub fn list_runs(project: &Project, model: Option<&str>) -> Result<Vec<RunRecord>, TrainError> {
    let db = open_index(project)?;
    db.list(model)?
        .into_iter()
        .map(|row| parse_record(&row))
        .collect()
}

/// What `runs list` shows of every run (of `model`), oldest first; cheaper than
/// [`list_runs`].
pub fn list_summaries(
    project: &Project,
    model: Option<&str>,
) -> Result<Vec<RunSummary>, TrainError> {
    let db = open_index(project)?;
    db.list_summaries(model)?
        .into_iter()
        .map(|(id, text)| parse_json(&id, &text, |s: &RunSummary| s.format))
        .collect()
}

/// A run record (or the part of it that `T` holds) from its index row; a record of a newer
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

/// Fails as [`train`] would on a runs index that is newer than this cairn or damaged, or a
/// damaged ref: for work that comes before `train`, like an entity table's feature join.
pub fn check_index(project: &Project) -> Result<(), TrainError> {
    open_index(project).map(drop)
}

/// The runs index, in line with the refs (rebuilt from the records if needed).
fn open_index(project: &Project) -> Result<RunsDb, TrainError> {
    Ok(RunsDb::open_project(
        &project.state_dir(),
        &project.store()?,
    )?)
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

/// One run by id or unique prefix.
pub fn get_run(project: &Project, id: &str) -> Result<RunRecord, TrainError> {
    let db = open_index(project)?;
    parse_record(&db.get(id)?)
}

/// Removes runs from the index. Their records and artifacts stay in the store until
/// `cairn data gc`, which keeps whatever the lock (a registered model) still pins.
pub fn remove_runs(project: &Project, ids: &[String]) -> Result<Vec<String>, TrainError> {
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
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// Declared algorithms, for help texts.
pub fn algorithms() -> impl Iterator<Item = Algorithm> {
    Algorithm::ALL.into_iter()
}
