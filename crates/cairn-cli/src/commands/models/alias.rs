use super::Context;
use crate::CmdResult;
use crate::cli::ModelsAliasArgs;
use crate::error::Exit;
use crate::printer::{BOLD, paint};
use crate::progress::Bars;

pub fn run(ctx: &Context<'_>, args: ModelsAliasArgs) -> CmdResult {
    let ModelsAliasArgs { reference, alias } = args;
    let project = ctx.project()?;
    let p = ctx.printer;
    let outcome = cairn_registry::alias(&project, &reference, &alias, &Bars::new(p))?;
    p.json("models-alias", &outcome)?;
    let mut line = format!(
        "{} → {}@{}",
        paint(BOLD, format!("{}@{}", outcome.name, outcome.alias)),
        outcome.name,
        outcome.version
    );
    if let Some(previous) = outcome.previous {
        line.push_str(&format!(" (was {}@{previous})", outcome.name));
    }
    p.line(line)?;
    Ok(Exit::Ok)
}
