use super::Context;
use crate::CmdResult;
use crate::cli::ModelsShowArgs;
use crate::error::Exit;
use crate::printer::plural;

pub fn run(ctx: &Context<'_>, args: ModelsShowArgs) -> CmdResult {
    let ModelsShowArgs { reference } = args;
    let project = ctx.project()?;
    let p = ctx.printer;
    let outcome = cairn_registry::show(&project, &reference)?;
    p.json("models-show", &outcome)?;
    for (i, v) in outcome.versions.iter().enumerate() {
        if i > 0 {
            p.line("")?;
        }
        super::version_block(p, &outcome.name, &v.entry, &v.aliases)?;
    }
    if outcome.reference.is_none() {
        p.status(format!(
            "{}: {}",
            outcome.name,
            plural(outcome.versions.len() as u64, "version", "versions")
        ));
    }
    Ok(Exit::Ok)
}
