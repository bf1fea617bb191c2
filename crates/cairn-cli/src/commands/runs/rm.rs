use super::Context;
use crate::CmdResult;
use crate::cli::RunsRmArgs;
use crate::error::Exit;
use crate::printer::plural;

pub fn run(ctx: &Context<'_>, args: RunsRmArgs) -> CmdResult {
    let RunsRmArgs { ids } = args;
    let project = ctx.project()?;
    let p = ctx.printer;
    let outcome = cairn_train::remove_runs(&project, &ids)?;
    p.json("runs-rm", &outcome)?;
    for id in &outcome.removed {
        p.line(format!("removed run {id}"))?;
    }
    p.status(format!(
        "{} removed; their records and artifacts stay in the store until `cairn data gc`",
        plural(outcome.removed.len() as u64, "run", "runs")
    ));
    Ok(Exit::Ok)
}
