use cairn_core::{InitOptions, Project};

use super::Context;
use crate::CmdResult;
use crate::cli::InitArgs;
use crate::error::Exit;
use crate::printer::{BOLD, paint};

pub fn run(ctx: &Context<'_>, args: InitArgs) -> CmdResult {
    let InitArgs { no_git } = args;
    let outcome = Project::init(&ctx.cwd, &InitOptions { no_git })?;
    let p = ctx.printer;
    p.json("init", &outcome)?;
    p.line(format!(
        "Initialized a cairn project in {}",
        paint(BOLD, outcome.root.display())
    ))?;
    for created in &outcome.created {
        p.line(format!("  created {created}"))?;
    }
    if outcome.git {
        p.status("hint: commit cairn.toml, cairn.lock and .gitignore; then track data with `cairn data add PATH`");
    } else {
        p.status("hint: track data with `cairn data add PATH`");
    }
    Ok(Exit::Ok)
}
