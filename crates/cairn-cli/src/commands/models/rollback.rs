use super::Context;
use crate::CmdResult;
use crate::cli::ModelsRollbackArgs;
use crate::error::Exit;
use crate::printer::{BOLD, YELLOW, paint};
use crate::progress::Bars;

pub fn run(ctx: &Context<'_>, args: ModelsRollbackArgs) -> CmdResult {
    let ModelsRollbackArgs { name, reason } = args;
    let project = ctx.project()?;
    let p = ctx.printer;
    let outcome = cairn_registry::rollback(&project, &name, reason.as_deref(), &Bars::new(p))?;
    p.json("models-rollback", &outcome)?;
    p.line(format!(
        "rolled back {}: {} is in production again ({} → production); {}@{} is archived",
        outcome.name,
        paint(BOLD, format!("{}@{}", outcome.name, outcome.version)),
        super::stage(outcome.from),
        outcome.name,
        outcome.archived
    ))?;
    if outcome.was_forced {
        p.line(paint(
            YELLOW,
            format!(
                "  note: {}@{} went to production forced, without a passing validation, the last time",
                outcome.name, outcome.version
            ),
        ))?;
    }
    p.status("recorded in cairn.lock; commit it to share the change");
    Ok(Exit::Ok)
}
