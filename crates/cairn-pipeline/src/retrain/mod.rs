//! `retrain`: the loop a `[retrain.NAME]` policy declares, for the registered model `NAME`.
//!
//! The steps, in order: **check** (drift of the production version's recent predictions
//! against its training data; its performance where feedback labels arrived, against the
//! figure its run recorded) → **decide** (with `if_needed`: stop when neither triggers) →
//! **data** (`data add` of the configured paths) → **materialize** (the feature views the
//! spec reads) → **train** → **register** → **validate** (the spec's gates, no_regression
//! against production included) → **promote** (to production when the policy is `auto` and
//! every gate passed; otherwise to staging: when the policy is `manual`, and when a gate
//! failed or production changed meanwhile, with what blocked it in the history's reason).
//!
//! A step that fails stops the loop and is in the report (not an error): production is only
//! ever changed by the last step, and only if it still holds the version the check looked
//! at. Errors are for what stops the loop before it starts: no policy, an unreadable lock.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use cairn_core::Project;
use cairn_core::models::Metric;
use cairn_core::registry::Stage;
use cairn_core::retrain::{PromotePolicy, RetrainSpec};
use cairn_registry::RegistryError;
use cairn_validate::GateStatus;
use serde::{Deserialize, Serialize};

use crate::RetrainError;

mod check;

/// What `retrain` is asked.
#[derive(Debug, Clone)]
pub struct RetrainOptions {
    /// The registered model, whose `[retrain.NAME]` policy applies.
    pub model: String,
    /// Stop after the check when neither drift nor a performance drop was found.
    pub if_needed: bool,
    /// Overrides the policy's `promote`.
    pub promote: Option<PromotePolicy>,
    /// Now, in microseconds since 1970-01-01 UTC: the end of the checked window.
    pub now_us: i64,
}

/// The steps of a retrain, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepName {
    Check,
    Decide,
    Data,
    Materialize,
    Train,
    Register,
    Validate,
    Promote,
}

impl StepName {
    pub fn as_str(self) -> &'static str {
        match self {
            StepName::Check => "check",
            StepName::Decide => "decide",
            StepName::Data => "data",
            StepName::Materialize => "materialize",
            StepName::Train => "train",
            StepName::Register => "register",
            StepName::Validate => "validate",
            StepName::Promote => "promote",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Done,
    Skipped,
    Failed,
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Done => "done",
            StepStatus::Skipped => "skipped",
            StepStatus::Failed => "failed",
        }
    }
}

/// One step's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub step: StepName,
    pub status: StepStatus,
    /// What it did, or why it was skipped or failed.
    pub detail: String,
}

/// The drift check of the production version's recent predictions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftFinding {
    pub version: u32,
    /// The predictions compared (logged in the window).
    pub rows: u64,
    pub compared: u64,
    pub drifted: u64,
    pub dataset_drift: bool,
    /// The drifted columns.
    pub columns: Vec<String>,
    /// The drift record's digest (hex).
    pub record: Option<String>,
}

/// The production version's performance on its labelled predictions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerformanceFinding {
    pub version: u32,
    pub metric: Metric,
    /// Labelled predictions in the window.
    pub labelled: u64,
    /// The metric on them.
    pub production: f64,
    /// The figure the version's run recorded on its held-out rows.
    pub baseline: f64,
    pub min_ratio: f64,
    /// Below `baseline × min_ratio` (above `baseline ÷ min_ratio` for rmse and mae).
    pub dropped: bool,
}

/// How the retrain ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RetrainEnd {
    /// Asked only if needed, and neither drift nor a performance drop was found.
    NotNeeded,
    /// The new version is in production.
    Promoted { version: u32 },
    /// The new version passed every gate and waits in staging (the policy is manual).
    Staged { version: u32 },
    /// The training gave the artifact of the production version (`version`): nothing
    /// changed.
    Unchanged { version: u32 },
    /// Retrained and registered, left in staging rather than production: `blocked` says why
    /// (the failed gates, production changed meanwhile).
    NotPromoted { version: u32, blocked: String },
    /// A step failed; production is as it was.
    Failed { step: StepName, message: String },
    /// Asked to stop: abandoned before `before`; production is as it was.
    Stopped { before: StepName },
}

/// The report of one retrain: every step's outcome, the findings of the check, the end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetrainReport {
    pub model: String,
    /// The `[model.SPEC]` trained.
    pub spec: String,
    pub promote: PromotePolicy,
    /// The production version when the retrain started.
    pub production: Option<u32>,
    pub drift: Option<DriftFinding>,
    pub performance: Option<PerformanceFinding>,
    /// Why a retrain was needed (empty: not needed).
    pub reasons: Vec<String>,
    pub steps: Vec<Step>,
    pub end: RetrainEnd,
    /// The training run, once there is one.
    pub run: Option<String>,
}

impl RetrainReport {
    /// The retrain ended with a new version that is not in production because a gate or a
    /// race said no, or with a failed step.
    pub fn failed(&self) -> bool {
        matches!(
            self.end,
            RetrainEnd::NotPromoted { .. } | RetrainEnd::Failed { .. }
        )
    }
}

/// The progress callbacks of a retrain.
pub trait RetrainProgress: cairn_train::TrainProgress + cairn_store::Progress {
    /// A step starts.
    fn step(&self, _step: StepName) {}
    /// Whether to stop before the next step (asked between steps from `data` on; a step
    /// under way is finished).
    fn stop_requested(&self) -> bool {
        false
    }
}

/// No progress reporting.
pub struct QuietRetrain;

impl cairn_train::TrainProgress for QuietRetrain {
    fn phase(&self, _: &str) {}
    fn fit(&self, _: usize, _: usize) {}
}

impl cairn_store::Progress for QuietRetrain {}

impl RetrainProgress for QuietRetrain {}

/// The `[retrain.NAME]` policy of `model`.
pub fn policy(project: &Project, model: &str) -> Result<RetrainSpec, RetrainError> {
    project
        .config()
        .retrain
        .get(model)
        .cloned()
        .ok_or_else(|| RetrainError::NoPolicy {
            model: model.to_owned(),
            declared: project.config().retrain.keys().cloned().collect(),
        })
}

/// Runs the retrain loop of `options.model` by its policy.
pub fn retrain(
    project: &Project,
    options: &RetrainOptions,
    progress: &dyn RetrainProgress,
) -> Result<RetrainReport, RetrainError> {
    let RetrainOptions {
        model,
        if_needed,
        promote,
        now_us,
    } = options;
    let policy = policy(project, model)?;
    let spec = policy.spec.clone().unwrap_or_else(|| model.clone());
    let window = cairn_core::retrain::parse_duration(&policy.window).ok_or_else(|| {
        RetrainError::BadWindow {
            model: model.clone(),
            window: policy.window.clone(),
        }
    })?;
    let production = match cairn_registry::resolve_in(project, &format!("{model}@production")) {
        Ok(r) => Some(r),
        Err(RegistryError::NoSuchVersion { .. } | RegistryError::NoSuchModel { .. }) => None,
        Err(e) => return Err(RetrainError::Registry(Box::new(e))),
    };
    let mut report = RetrainReport {
        model: model.clone(),
        spec: spec.clone(),
        promote: promote.unwrap_or(policy.promote),
        production: production.as_ref().map(|p| p.version),
        drift: None,
        performance: None,
        reasons: Vec::new(),
        steps: Vec::new(),
        end: RetrainEnd::NotNeeded,
        run: None,
    };

    // check
    progress.step(StepName::Check);
    let since = now_us.saturating_sub(i64::try_from(window).unwrap_or(i64::MAX / 2) * 1_000_000);
    match &production {
        None => {
            report
                .reasons
                .push(format!("{model} has no version in production"));
            report.steps.push(skipped(
                StepName::Check,
                "no version in production to check",
            ));
        }
        Some(prod) => match check::check(project, model, &policy, prod, since, progress) {
            Ok((drift, performance, detail)) => {
                if let Some(d) = &drift
                    && d.dataset_drift
                {
                    report.reasons.push(format!(
                        "drift: {} of {} columns drifted ({})",
                        d.drifted,
                        d.compared,
                        d.columns.join(", ")
                    ));
                }
                if let Some(p) = &performance
                    && p.dropped
                {
                    report.reasons.push(format!(
                        "performance: {} {:.4} on {} labelled predictions, recorded {:.4} (min ratio {})",
                        p.metric.as_str(),
                        p.production,
                        p.labelled,
                        p.baseline,
                        p.min_ratio
                    ));
                }
                report.drift = drift;
                report.performance = performance;
                report.steps.push(done(StepName::Check, detail));
            }
            Err(message) => return Ok(fail(report, StepName::Check, message)),
        },
    }

    // decide
    progress.step(StepName::Decide);
    if report.reasons.is_empty() {
        if *if_needed {
            report.steps.push(done(
                StepName::Decide,
                "not needed: no drift, no performance drop",
            ));
            return Ok(report);
        }
        report.steps.push(done(
            StepName::Decide,
            "retrain asked (no drift, no performance drop)",
        ));
    } else {
        report.steps.push(done(
            StepName::Decide,
            format!("needed: {}", report.reasons.join("; ")),
        ));
    }
    let why = if report.reasons.is_empty() {
        "asked".to_owned()
    } else {
        report.reasons.join("; ")
    };

    // data
    if progress.stop_requested() {
        report.end = RetrainEnd::Stopped {
            before: StepName::Data,
        };
        return Ok(report);
    }
    progress.step(StepName::Data);
    if policy.data.is_empty() {
        report
            .steps
            .push(skipped(StepName::Data, "no data configured"));
    } else {
        let added = cairn_data::add(
            project,
            &cairn_data::AddOptions {
                paths: policy.data.iter().map(PathBuf::from).collect(),
                cwd: project.root().to_path_buf(),
            },
            progress,
        );
        match added {
            Ok(outcome) => report.steps.push(done(
                StepName::Data,
                format!("{} path(s) tracked", outcome.entries.len()),
            )),
            Err(e) => return Ok(fail(report, StepName::Data, e.to_string())),
        }
    }

    // materialize
    if progress.stop_requested() {
        report.end = RetrainEnd::Stopped {
            before: StepName::Materialize,
        };
        return Ok(report);
    }
    progress.step(StepName::Materialize);
    let views = views_of(project, &spec);
    if views.is_empty() {
        report.steps.push(skipped(
            StepName::Materialize,
            "the spec reads no feature view",
        ));
    } else {
        let materialized = cairn_feature::materialize(
            project,
            &cairn_feature::MaterializeOptions {
                views: views.iter().cloned().collect(),
                skip_validation: false,
                now: std::time::SystemTime::now(),
                start: None,
                end: None,
                incremental: false,
                memory_budget: None,
            },
            progress,
        );
        match materialized {
            Ok(_) => report.steps.push(done(
                StepName::Materialize,
                format!(
                    "{} view(s): {}",
                    views.len(),
                    views.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
            )),
            Err(e) => return Ok(fail(report, StepName::Materialize, e.to_string())),
        }
    }

    // train
    if progress.stop_requested() {
        report.end = RetrainEnd::Stopped {
            before: StepName::Train,
        };
        return Ok(report);
    }
    progress.step(StepName::Train);
    let trained = cairn_train::train(
        project,
        &cairn_train::TrainOptions {
            model: spec.clone(),
            overrides: Vec::new(),
            tags: BTreeMap::from([("retrain".to_owned(), model.clone())]),
            allow_untracked: false,
            skip_validation: false,
        },
        progress,
    );
    let run = match trained {
        Ok(outcome) => outcome.record,
        Err(e) => return Ok(fail(report, StepName::Train, e.to_string())),
    };
    report.run = Some(run.id.clone());
    let metrics: Vec<String> = run
        .metrics
        .iter()
        .map(|(k, v)| format!("{k} {v:.4}"))
        .collect();
    report.steps.push(done(
        StepName::Train,
        format!("run {}: {}", run.id, metrics.join(", ")),
    ));

    // register
    if progress.stop_requested() {
        report.end = RetrainEnd::Stopped {
            before: StepName::Register,
        };
        return Ok(report);
    }
    progress.step(StepName::Register);
    let registered = cairn_registry::register(
        project,
        &cairn_registry::RegisterOptions {
            run: Some(run.id.clone()),
            name: Some(model.clone()),
            description: Some(format!("retrain {model}: {why}")),
            existing_ok: true,
            ..Default::default()
        },
        progress,
    );
    let registered = match registered {
        Ok(r) => r,
        Err(e) => return Ok(fail(report, StepName::Register, e.to_string())),
    };
    let version = registered.version;
    if registered.existing && Some(version) == report.production {
        report.steps.push(done(
            StepName::Register,
            format!("the artifact is version {version} already, in production: nothing new"),
        ));
        report.end = RetrainEnd::Unchanged { version };
        return Ok(report);
    }
    report.steps.push(done(
        StepName::Register,
        if registered.existing {
            format!("version {version} (the same artifact was registered before)")
        } else {
            format!("version {version}")
        },
    ));

    // validate
    if progress.stop_requested() {
        report.end = RetrainEnd::Stopped {
            before: StepName::Validate,
        };
        return Ok(report);
    }
    progress.step(StepName::Validate);
    let (passed, failed_gates, detail) = match validate(project, model, version) {
        Ok(v) => v,
        Err(message) => return Ok(fail(report, StepName::Validate, message)),
    };
    report.steps.push(Step {
        step: StepName::Validate,
        status: if passed {
            StepStatus::Done
        } else {
            StepStatus::Failed
        },
        detail,
    });

    // promote
    if progress.stop_requested() {
        report.end = RetrainEnd::Stopped {
            before: StepName::Promote,
        };
        return Ok(report);
    }
    progress.step(StepName::Promote);
    if !passed {
        let blocked = format!("gates failed: {}", failed_gates.join(", "));
        return Ok(leave_in_staging(
            project, report, version, blocked, progress,
        ));
    }
    let to = match report.promote {
        PromotePolicy::Auto => Stage::Production,
        PromotePolicy::Manual => Stage::Staging,
    };
    if to == Stage::Production {
        // Another process may have promoted (or rolled back) since the check: the comparison
        // the gates made is then against a version that is no longer in production.
        let now = match cairn_registry::resolve_in(project, &format!("{model}@production")) {
            Ok(r) => Some(r.version),
            Err(RegistryError::NoSuchVersion { .. }) => None,
            Err(e) => return Ok(fail(report, StepName::Promote, e.to_string())),
        };
        if now != report.production {
            let blocked = format!(
                "production changed meanwhile (was {}, now {})",
                shown(report.production),
                shown(now)
            );
            return Ok(leave_in_staging(
                project, report, version, blocked, progress,
            ));
        }
    }
    let promoted = cairn_registry::promote(
        project,
        &cairn_registry::PromoteOptions {
            reference: format!("{model}@{version}"),
            to,
            reason: Some(format!("retrain {model}: {why}")),
            force: false,
            // Checked again under the registry's write lock: no window between the look above
            // and the change.
            expect_production: (to == Stage::Production).then_some(report.production),
        },
        progress,
    );
    match promoted {
        Err(RegistryError::ProductionChanged {
            expected, found, ..
        }) => {
            let blocked = format!(
                "production changed meanwhile (was {}, now {})",
                shown(expected),
                shown(found)
            );
            Ok(leave_in_staging(
                project, report, version, blocked, progress,
            ))
        }
        Ok(p) => {
            report.steps.push(done(
                StepName::Promote,
                format!(
                    "version {version} to {}{}",
                    stage_name(to),
                    p.archived
                        .map(|a| format!(" (version {a} archived)"))
                        .unwrap_or_default()
                ),
            ));
            report.end = match to {
                Stage::Production => RetrainEnd::Promoted { version },
                _ => RetrainEnd::Staged { version },
            };
            Ok(report)
        }
        Err(e) => Ok(fail(report, StepName::Promote, e.to_string())),
    }
}

/// The new version may not go to production (`blocked` says why): it goes to staging, where
/// a person can look at it and promote it by hand, with a history reason that names what
/// blocked it. Production is not touched. A version already in staging stays there; one that
/// cannot be staged (its artifact unreadable, the lock unwritable) fails the step.
fn leave_in_staging(
    project: &Project,
    mut report: RetrainReport,
    version: u32,
    blocked: String,
    progress: &dyn RetrainProgress,
) -> RetrainReport {
    let model = report.model.clone();
    let staged = cairn_registry::promote(
        project,
        &cairn_registry::PromoteOptions {
            reference: format!("{model}@{version}"),
            to: Stage::Staging,
            reason: Some(format!(
                "retrain {model}: not promoted to production: {blocked}"
            )),
            force: false,
            expect_production: None,
        },
        progress,
    );
    let archived = match staged {
        Ok(p) => p.archived,
        Err(RegistryError::AlreadyInStage { .. }) => None,
        Err(e) => {
            return fail(
                report,
                StepName::Promote,
                format!("version {version} not promoted ({blocked}), and not staged: {e}"),
            );
        }
    };
    // Skipped: the promotion to production, which is what the step is for.
    report.steps.push(skipped(
        StepName::Promote,
        format!(
            "version {version} left in staging, not production: {blocked}{}",
            archived
                .map(|a| format!(" (version {a} archived)"))
                .unwrap_or_default()
        ),
    ));
    report.end = RetrainEnd::NotPromoted { version, blocked };
    report
}

fn shown(version: Option<u32>) -> String {
    version.map_or_else(|| "none".to_owned(), |v| format!("version {v}"))
}

fn stage_name(stage: Stage) -> &'static str {
    match stage {
        Stage::Production => "production",
        Stage::Staging => "staging",
        Stage::Archived => "archived",
        Stage::None => "none",
    }
}

fn done(step: StepName, detail: impl Into<String>) -> Step {
    Step {
        step,
        status: StepStatus::Done,
        detail: detail.into(),
    }
}

fn skipped(step: StepName, detail: impl Into<String>) -> Step {
    Step {
        step,
        status: StepStatus::Skipped,
        detail: detail.into(),
    }
}

fn fail(mut report: RetrainReport, step: StepName, message: String) -> RetrainReport {
    report.steps.push(Step {
        step,
        status: StepStatus::Failed,
        detail: message.clone(),
    });
    report.end = RetrainEnd::Failed { step, message };
    report
}

/// The feature views a spec reads: its service's, or its `view:feature` inputs'.
fn views_of(project: &Project, spec: &str) -> BTreeSet<String> {
    let config = project.config();
    let Some(model) = config.model.get(spec) else {
        return BTreeSet::new();
    };
    if model.entities.is_none() {
        return BTreeSet::new();
    }
    let refs: Vec<String> = match &model.service {
        Some(service) => config
            .feature_service
            .get(service)
            .map(|s| s.features.clone())
            .unwrap_or_default(),
        None => model.features.clone().unwrap_or_default(),
    };
    refs.iter()
        .filter_map(|r| cairn_core::features::FeatureRef::parse(r))
        .map(|r| r.view)
        .collect()
}

/// Validates `model@version` as `cairn validate` does (the run's held-out rows, the spec's
/// gates, no_regression against the production version) and records the verdict: whether it
/// passed, the gates that failed, a summary.
fn validate(
    project: &Project,
    model: &str,
    version: u32,
) -> Result<(bool, Vec<String>, String), String> {
    let done = crate::validate::validate_version(
        project,
        &format!("{model}@{version}"),
        crate::validate::ValidationRows::HeldOut,
    )
    .map_err(|e| e.to_string())?;
    let record = &done.validated.record;
    let failed: Vec<String> = record
        .gates
        .iter()
        .filter(|g| g.status == GateStatus::Failed)
        .map(|g| g.gate.clone())
        .collect();
    let detail = format!(
        "{} on {} rows: {} gate(s){}",
        if record.passed { "passed" } else { "failed" },
        record.rows,
        record.gates.len(),
        if failed.is_empty() {
            String::new()
        } else {
            format!(", failed: {}", failed.join(", "))
        }
    );
    Ok((record.passed, failed, detail))
}
