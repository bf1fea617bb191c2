use super::Context;
use crate::CmdResult;
use crate::cli::ModelsUnaliasArgs;
use crate::error::Exit;
use crate::printer::{BOLD, paint};
use crate::progress::Bars;

pub fn run(ctx: &Context<'_>, args: ModelsUnaliasArgs) -> CmdResult {
    let ModelsUnaliasArgs { name, alias } = args;
    let project = ctx.project()?;
    let p = ctx.printer;
    let outcome = cairn_registry::unalias(&project, &name, &alias, &Bars::new(p))?;
    p.json("models-unalias", &outcome)?;
    p.line(format!(
        "removed {} (it named {}@{})",
        paint(BOLD, format!("{}@{}", outcome.name, outcome.alias)),
        outcome.name,
        outcome.version
    ))?;
    Ok(Exit::Ok)
}
