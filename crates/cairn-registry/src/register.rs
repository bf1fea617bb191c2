//! Registering a finished run as a new version of a model.

use std::collections::BTreeMap;

use cairn_core::Project;
use cairn_core::names::valid_name;
use cairn_core::registry::{Action, HistoryEntry, ModelVersion, Stage, Was, alias_problem};
use cairn_core::runs::RunsDb;
use cairn_store::{Digest, Progress, Store};
use cairn_train::{RunRecord, RunStatus, Selection};
use serde::Serialize;

use crate::write::change;
use crate::{Aliased, RegistryError};

/// What to register.
#[derive(Debug, Clone, Default)]
pub struct RegisterOptions {
    /// A run id, or a unique prefix of one (at least 4 characters).
    pub run: Option<String>,
    /// Or: the best finished run of a spec by a metric.
    pub best: Option<BestBy>,
    /// The model name; by default the run's spec name.
    pub name: Option<String>,
    pub description: Option<String>,
    /// When the artifact is already a version of the model: that version is the outcome
    /// (`existing`), instead of an error. For pipelines that register whatever they trained,
    /// where an unchanged commit trains the same bytes again.
    pub existing_ok: bool,
    /// Also point this alias at the version (in the same change of the lock), so that the
    /// steps after it can name the version without knowing its number.
    pub alias: Option<String>,
}

/// The best finished run of `spec` by `metric`.
#[derive(Debug, Clone)]
pub struct BestBy {
    pub metric: String,
    pub spec: String,
    /// Smallest first (`true`) or largest first (`false`); by default the largest, or the
    /// smallest for the metrics where smaller is better (rmse, mae, log_loss), as `runs list
    /// --sort` orders them.
    pub ascending: Option<bool>,
}

/// What [`register`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Registered {
    pub name: String,
    pub version: u32,
    /// How the run was chosen, with `best`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub best: Option<Best>,
    /// The new version's entry in the lock (or the existing one's).
    pub entry: ModelVersion,
    /// The artifact was already this version (with `existing_ok`): nothing was written.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub existing: bool,
    /// The alias pointed at the version, when asked (and when it did not point there yet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aliased: Option<Aliased>,
}

/// The run that `best` chose.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Best {
    pub metric: String,
    pub value: f64,
    /// The finished runs of the spec that were compared.
    pub candidates: usize,
}

/// Registers a finished run's model artifact as the next version of a model (named after the
/// run's spec unless `name` is given). The same artifact is never registered twice under one
/// name. The run's record and artifact are read from the store and verified first.
pub fn register(
    project: &Project,
    options: &RegisterOptions,
    progress: &dyn Progress,
) -> Result<Registered, RegistryError> {
    if let Some(name) = &options.name
        && !valid_name(name)
    {
        return Err(RegistryError::BadName { name: name.clone() });
    }
    if let Some(alias) = &options.alias
        && let Some(problem) = alias_problem(alias)
    {
        return Err(RegistryError::BadAlias {
            alias: alias.clone(),
            problem,
        });
    }
    let (run, record, best) = match (&options.run, &options.best) {
        (Some(id), None) => {
            let (run, record) = run_by_id(project, id)?;
            (run, record, None)
        }
        (None, Some(by)) => best_run(project, by)?,
        _ => return Err(RegistryError::WhichRun),
    };
    if run.status != RunStatus::Finished {
        return Err(RegistryError::RunNotFinished {
            id: run.id.clone(),
            status: run.status.as_str().to_owned(),
            error: run.error.clone(),
        });
    }
    let name = options.name.clone().unwrap_or_else(|| run.model.clone());
    if !valid_name(&name) {
        return Err(RegistryError::BadName { name });
    }
    let store = project.store()?;
    let entry = version_of(&store, &run, record, options.description.clone())?;
    if options.existing_ok {
        let lock = project.read_lock()?;
        if let Some(existing) = lock
            .model
            .get(&name)
            .and_then(|m| m.versions.iter().find(|v| v.artifact == entry.artifact))
        {
            let version = existing.version;
            let entry = existing.clone();
            let aliased = match &options.alias {
                Some(alias) if lock.model[&name].aliases.get(alias) != Some(&version) => Some(
                    crate::alias(project, &format!("{name}@{version}"), alias, progress)?,
                ),
                _ => None,
            };
            return Ok(Registered {
                name,
                version,
                best,
                entry,
                existing: true,
                aliased,
            });
        }
    }
    change(project, progress, |lock, _, stamp| {
        let model = lock.model.entry(name.clone()).or_default();
        if let Some(existing) = model.versions.iter().find(|v| v.artifact == entry.artifact) {
            return Err(RegistryError::AlreadyRegistered {
                name: name.clone(),
                version: existing.version,
                run: run.id.clone(),
                artifact: entry.artifact,
            });
        }
        let version = model.next_version();
        let entry = ModelVersion {
            version,
            registered: stamp.at.clone(),
            ..entry
        };
        model.versions.push(entry.clone());
        model.history.push(stamp.entry(Action::Register, version));
        let aliased = options.alias.as_ref().map(|alias| {
            let previous = model.aliases.insert(alias.clone(), version);
            let history = HistoryEntry {
                from: previous.map(Was::Version),
                alias: Some(alias.clone()),
                ..stamp.entry(Action::Alias, version)
            };
            model.history.push(history.clone());
            Aliased {
                name: name.clone(),
                alias: alias.clone(),
                version,
                previous,
                entry: history,
            }
        });
        Ok(Registered {
            name: name.clone(),
            version,
            best,
            entry,
            existing: false,
            aliased,
        })
    })
}

/// A run by id or prefix, with its record's digest. The record is read from the store
/// (verified), not from the index: what is pinned is what the object says.
fn run_by_id(project: &Project, id: &str) -> Result<(RunRecord, Digest), RegistryError> {
    let store = project.store()?;
    let index = RunsDb::open_project(&project.state_dir(), &store)?;
    let row = index.get(id)?;
    let record = digest(&row.id, "record", &row.record_digest)?;
    let bytes = store.read(&record).map_err(|source| RegistryError::Store {
        context: Some(format!("run {}: its record", row.id)),
        source,
    })?;
    let run = cairn_train::parse_run_record(&row.id, &bytes)?;
    Ok((run, record))
}

/// The best finished run of a spec by a metric, as `runs list --sort` orders them.
fn best_run(
    project: &Project,
    by: &BestBy,
) -> Result<(RunRecord, Digest, Option<Best>), RegistryError> {
    let selection = Selection {
        model: Some(by.spec.clone()),
        sort: Some(by.metric.clone()),
        ascending: by.ascending,
        ..Selection::default()
    };
    // The sort is stable: filtering after it keeps the order.
    let runs: Vec<RunRecord> = cairn_train::list_runs(project, &selection)?
        .runs
        .into_iter()
        .filter(|r| r.status == RunStatus::Finished)
        .collect();
    let Some(first) = runs.first() else {
        return Err(RegistryError::NoFinishedRun {
            spec: by.spec.clone(),
        });
    };
    // Runs without the metric sort last: the first has it if any does.
    let Some(value) = first.metrics.get(&by.metric).copied() else {
        let mut available: Vec<String> = runs
            .iter()
            .flat_map(|r| r.metrics.keys().cloned())
            .collect();
        available.sort();
        available.dedup();
        return Err(RegistryError::NoSuchMetric {
            spec: by.spec.clone(),
            metric: by.metric.clone(),
            available,
        });
    };
    let best = Best {
        metric: by.metric.clone(),
        value,
        candidates: runs.len(),
    };
    let (run, record) = run_by_id(project, &first.id)?;
    Ok((run, record, Some(best)))
}

fn digest(id: &str, what: &str, hex: &str) -> Result<Digest, RegistryError> {
    hex.parse().map_err(|_| {
        RegistryError::Train(cairn_train::TrainError::Record {
            id: id.to_owned(),
            message: format!("its {what} digest `{hex}` is not a digest"),
        })
    })
}

/// The entry of a version for `run` (numbered and dated by the caller), after checking that
/// its artifact is in the store and intact.
fn version_of(
    store: &Store,
    run: &RunRecord,
    record: Digest,
    description: Option<String>,
) -> Result<ModelVersion, RegistryError> {
    let artifact = run
        .artifact
        .as_deref()
        .ok_or_else(|| RegistryError::RunNotFinished {
            id: run.id.clone(),
            status: "has no model artifact".to_owned(),
            error: None,
        })?;
    let artifact = digest(&run.id, "artifact", artifact)?;
    let size = store
        .verify(&artifact)
        .map_err(|source| RegistryError::Store {
            context: Some(format!("run {}: its model artifact", run.id)),
            source,
        })?;
    let digests = |map: &BTreeMap<String, String>, what: &str| {
        map.iter()
            .map(|(k, v)| Ok((k.clone(), digest(&run.id, what, v)?)))
            .collect::<Result<BTreeMap<_, _>, RegistryError>>()
    };
    Ok(ModelVersion {
        version: 0,
        stage: Stage::None,
        registered: String::new(),
        description,
        run: run.id.clone(),
        record,
        artifact,
        size,
        spec: run.model.clone(),
        algorithm: run.algorithm.clone(),
        commit: run.code.commit.clone(),
        dirty: run.code.dirty,
        data: digests(&run.data, "data")?,
        features: digests(&run.features, "feature table")?,
        metrics: run
            .metrics
            .iter()
            .filter(|(_, v)| v.is_finite())
            .map(|(k, v)| (k.clone(), *v))
            .collect(),
        validation: None,
        validated: None,
    })
}
