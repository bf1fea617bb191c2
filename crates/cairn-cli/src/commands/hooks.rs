//! `cairn hooks staged|config`: the checks `.pre-commit-hooks.yaml` runs. Each exits 1 when
//! it finds a problem, so that the commit stops.

use bytesize::ByteSize;
use cairn_data::{StagedOptions, StagedProblem};
use serde::Serialize;

use super::Context;
use crate::CmdResult;
use crate::cli::{HooksCommand, HooksStagedArgs};
use crate::error::Exit;
use crate::printer::{RED, paint, plural};

pub fn run(ctx: &Context<'_>, cmd: HooksCommand) -> CmdResult {
    match cmd {
        HooksCommand::Staged(args) => staged(ctx, args),
        HooksCommand::Config => config(ctx),
    }
}

fn staged(ctx: &Context<'_>, args: HooksStagedArgs) -> CmdResult {
    let HooksStagedArgs { files, max_size } = args;
    let project = ctx.project()?;
    let p = ctx.printer;
    let outcome = cairn_data::staged(
        &project,
        &StagedOptions {
            paths: files,
            cwd: ctx.cwd.clone(),
            max_bytes: max_size.as_u64(),
        },
    )?;
    p.json("hooks-staged", &outcome)?;
    for finding in &outcome.findings {
        let why = match &finding.problem {
            StagedProblem::Tracked { inside: false, .. } => {
                "is tracked by cairn (cairn.lock)".to_owned()
            }
            StagedProblem::Tracked { tracked, .. } => {
                format!("is inside {tracked}, which cairn tracks (cairn.lock)")
            }
            StagedProblem::State => "is inside .cairn/, cairn's store".to_owned(),
            // In the limit's units (500KB by default), so that the two compare at a glance.
            StagedProblem::Large { bytes: size } => format!(
                "is {} (more than {}); track it with `cairn data add`",
                ByteSize::b(*size).display().si(),
                ByteSize::b(outcome.max_bytes).display().si()
            ),
        };
        p.line(format!("{} {why}", paint(RED, &finding.path)))?;
    }
    if outcome.clean {
        p.status(format!(
            "{} checked: none is cairn's to keep",
            plural(outcome.checked as u64, "file", "files")
        ));
        Ok(Exit::Ok)
    } else {
        p.status(format!(
            "{} of {} should not go into git: unstage {} (`git restore --staged FILE`); \
             cairn keeps data in its store (`cairn data add`, `cairn data push`)",
            outcome.findings.len(),
            plural(outcome.checked as u64, "file", "files"),
            if outcome.findings.len() == 1 {
                "it"
            } else {
                "them"
            }
        ));
        Ok(Exit::CheckFailed)
    }
}

/// The `hooks-config` JSON document.
#[derive(Serialize)]
struct ConfigOutcome {
    config: String,
    lock: String,
    tracked: usize,
    models: usize,
    feature_views: usize,
}

fn config(ctx: &Context<'_>) -> CmdResult {
    // Opening the project parses and checks cairn.toml; reading the lock parses cairn.lock
    // and checks it against itself (overlaps, versions, stages). Errors exit 2.
    let project = ctx.project()?;
    let lock = project.read_lock().map_err(cairn_data::DataError::from)?;
    let p = ctx.printer;
    let outcome = ConfigOutcome {
        config: "cairn.toml".to_owned(),
        lock: "cairn.lock".to_owned(),
        tracked: lock.data.len(),
        models: lock.model.len(),
        feature_views: project.config().feature_view.len(),
    };
    p.json("hooks-config", &outcome)?;
    p.status(format!(
        "cairn.toml and cairn.lock are valid ({}, {}, {})",
        plural(outcome.tracked as u64, "tracked path", "tracked paths"),
        plural(
            outcome.feature_views as u64,
            "feature view",
            "feature views"
        ),
        plural(
            outcome.models as u64,
            "registered model",
            "registered models"
        ),
    ));
    Ok(Exit::Ok)
}
