use cairn_registry::{PromoteOptions, Stage};

use super::Context;
use crate::CmdResult;
use crate::cli::{ModelsPromoteArgs, StageArg};
use crate::error::Exit;
use crate::printer::{BOLD, YELLOW, paint};
use crate::progress::Bars;

pub fn run(ctx: &Context<'_>, args: ModelsPromoteArgs) -> CmdResult {
    let ModelsPromoteArgs {
        reference,
        to,
        reason,
        force,
    } = args;
    let project = ctx.project()?;
    let p = ctx.printer;
    let to = match to {
        StageArg::Staging => Stage::Staging,
        StageArg::Production => Stage::Production,
        StageArg::Archived => Stage::Archived,
    };
    let outcome = cairn_registry::promote(
        &project,
        &PromoteOptions {
            reference,
            to,
            reason,
            force,
            expect_production: None,
        },
        &Bars::new(p),
    )?;
    p.json("models-promote", &outcome)?;
    let mut line = format!(
        "promoted {}: {} → {}",
        paint(BOLD, format!("{}@{}", outcome.name, outcome.version)),
        super::stage(outcome.from),
        super::stage(outcome.to)
    );
    if let Some(archived) = outcome.archived {
        line.push_str(&format!(" (archived {}@{archived})", outcome.name));
    }
    p.line(line)?;
    if outcome.forced {
        p.line(paint(
            YELLOW,
            format!(
                "  forced without a passing validation: {}",
                outcome.reason.as_deref().unwrap_or_default()
            ),
        ))?;
    }
    p.status("recorded in cairn.lock; commit it to share the change");
    Ok(Exit::Ok)
}
