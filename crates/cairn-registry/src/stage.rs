//! Stages: promoting a version (one version per model in staging and in production; the one
//! it replaces is archived) and rolling production back.

use cairn_core::Project;
use cairn_core::registry::{Action, HistoryEntry, ModelEntry, Stage, Was};
use cairn_store::Progress;
use serde::Serialize;

use crate::RegistryError;
use crate::artifact::verified_bytes;
use crate::error::NoRollback;
use crate::reference::{ModelRef, find, model, model_name};
use crate::validation::check_passed;
use crate::write::change;

/// What to promote, and where.
#[derive(Debug, Clone)]
pub struct PromoteOptions {
    /// `NAME@REF` (a bare `NAME` is `NAME@production`).
    pub reference: String,
    /// `staging`, `production` or `archived`.
    pub to: Stage,
    /// Recorded in the history.
    pub reason: Option<String>,
    /// Promote to production without a passing validation; needs a reason, and is recorded.
    pub force: bool,
    /// Refuse unless the model's production version is this one (`Some(None)`: none) when
    /// the lock is changed — under the write lock, so that an automated promotion does not
    /// replace a version someone promoted after it looked.
    pub expect_production: Option<Option<u32>>,
}

/// What [`promote`] changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Promoted {
    pub name: String,
    pub version: u32,
    pub from: Stage,
    pub to: Stage,
    /// The version that held the stage before, now archived.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archived: Option<u32>,
    /// Promoted to production without a passing validation.
    pub forced: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The history entry written.
    pub entry: HistoryEntry,
}

/// Moves a version to a stage. Staging and production hold one version each: the version
/// there before is archived. A version goes to staging or production only if its artifact is
/// intact and its run record names it; to production only with a passing validation record
/// for exactly that version and artifact, unless `force` (with a reason).
pub fn promote(
    project: &Project,
    options: &PromoteOptions,
    progress: &dyn Progress,
) -> Result<Promoted, RegistryError> {
    let reason = reason(options.reason.as_deref());
    if options.force && reason.is_none() {
        return Err(RegistryError::ForceWithoutReason);
    }
    if options.to == Stage::None {
        return Err(RegistryError::NoneStage);
    }
    let reference = ModelRef::parse(&options.reference)?;
    let name = reference.name.clone();
    change(project, progress, |lock, store, stamp| {
        let entry = model(lock, &name)?;
        if let Some(expected) = options.expect_production {
            let found = entry.in_stage(Stage::Production).map(|v| v.version);
            if found != expected {
                return Err(RegistryError::ProductionChanged {
                    name: name.clone(),
                    expected,
                    found,
                });
            }
        }
        let version = find(&name, entry, &reference.at)?.clone();
        if version.stage == options.to {
            return Err(RegistryError::AlreadyInStage {
                name: name.clone(),
                version: version.version,
                stage: options.to,
            });
        }
        if options.to != Stage::Archived {
            verified_bytes(store, &name, &version)?;
        }
        let mut forced = false;
        if options.to == Stage::Production
            && let Err(why) = check_passed(store, &name, &version)
        {
            if !options.force {
                return Err(RegistryError::NotValidated {
                    name: name.clone(),
                    version: version.version,
                    why,
                });
            }
            forced = true;
        }
        let entry = lock
            .model
            .get_mut(&name)
            .ok_or_else(|| RegistryError::NoSuchModel {
                name: name.clone(),
                models: Vec::new(),
            })?;
        let archived = move_to(entry, version.version, options.to);
        let history = HistoryEntry {
            from: Some(Was::Stage(version.stage)),
            to: Some(Was::Stage(options.to)),
            reason: reason.clone(),
            forced,
            archived,
            ..stamp.entry(Action::Promote, version.version)
        };
        entry.history.push(history.clone());
        Ok(Promoted {
            name: name.clone(),
            version: version.version,
            from: version.stage,
            to: options.to,
            archived,
            forced,
            reason: reason.clone(),
            entry: history,
        })
    })
}

/// What [`rollback`] changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RolledBack {
    pub name: String,
    /// The version in production again.
    pub version: u32,
    /// Its stage before.
    pub from: Stage,
    /// The version that was in production, now archived.
    pub archived: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Whether the restored version went to production forced the last time it got there,
    /// rather than with a passing validation.
    pub was_forced: bool,
    /// The history entry written.
    pub entry: HistoryEntry,
}

/// Puts back in production the version that was there before the current one, as the history
/// tells (promotions push onto a stack, rollbacks pop it, so repeated rollbacks walk further
/// back); the current one is archived. No validation is needed: the version passed it, or was
/// forced, when it went to production before ([`RolledBack::was_forced`] says which).
pub fn rollback(
    project: &Project,
    name: &str,
    reason: Option<&str>,
    progress: &dyn Progress,
) -> Result<RolledBack, RegistryError> {
    let reason = self::reason(reason);
    let name = model_name(name)?;
    let name = name.as_str();
    change(project, progress, |lock, store, stamp| {
        let entry = model(lock, name)?;
        let no = |why| RegistryError::NoRollback {
            name: name.to_owned(),
            why,
        };
        let current = entry
            .in_stage(Stage::Production)
            .ok_or_else(|| no(NoRollback::NoProduction))?
            .version;
        let mut stack = production_stack(entry);
        while stack.last() == Some(&current) {
            stack.pop();
        }
        let previous = *stack
            .last()
            .ok_or_else(|| no(NoRollback::NoPrevious { current }))?;
        let restored = entry
            .version(previous)
            .ok_or_else(|| no(NoRollback::Gone { current, previous }))?
            .clone();
        verified_bytes(store, name, &restored)?;
        let was_forced = entry
            .history
            .iter()
            .rev()
            .find(|h| h.version == previous && h.to == Some(Was::Stage(Stage::Production)))
            .is_some_and(|h| h.forced);
        let entry = lock
            .model
            .get_mut(name)
            .ok_or_else(|| RegistryError::NoSuchModel {
                name: name.to_owned(),
                models: Vec::new(),
            })?;
        move_to(entry, previous, Stage::Production);
        let history = HistoryEntry {
            from: Some(Was::Stage(restored.stage)),
            to: Some(Was::Stage(Stage::Production)),
            reason: reason.clone(),
            archived: Some(current),
            ..stamp.entry(Action::Rollback, previous)
        };
        entry.history.push(history.clone());
        Ok(RolledBack {
            name: name.to_owned(),
            version: previous,
            from: restored.stage,
            archived: current,
            reason: reason.clone(),
            was_forced,
            entry: history,
        })
    })
}

/// The versions production held, as a stack: a promotion to production pushes, a rollback pops
/// the version it replaced (and pushes the one it restored, if that is not on top).
fn production_stack(entry: &ModelEntry) -> Vec<u32> {
    let mut stack = Vec::new();
    for h in &entry.history {
        if h.to != Some(Was::Stage(Stage::Production)) {
            continue;
        }
        match h.action {
            Action::Rollback => {
                if let Some(replaced) = h.archived {
                    while stack.last() == Some(&replaced) {
                        stack.pop();
                    }
                }
                if stack.last() != Some(&h.version) {
                    stack.push(h.version);
                }
            }
            _ => stack.push(h.version),
        }
    }
    stack
}

/// Moves `version` to `stage`, archiving the version that held it (for a single stage);
/// returns that version.
fn move_to(entry: &mut ModelEntry, version: u32, stage: Stage) -> Option<u32> {
    let mut archived = None;
    if stage.is_single() {
        for v in &mut entry.versions {
            if v.stage == stage && v.version != version {
                v.stage = Stage::Archived;
                archived = Some(v.version);
            }
        }
    }
    if let Some(v) = entry.version_mut(version) {
        v.stage = stage;
    }
    archived
}

/// A reason with its blanks trimmed; an empty one is none.
pub(crate) fn reason(reason: Option<&str>) -> Option<String> {
    reason
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
}
