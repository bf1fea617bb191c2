use super::Context;
use crate::CmdResult;
use crate::cli::RemoteNameArgs;
use crate::error::Exit;

pub fn run(ctx: &Context<'_>, args: RemoteNameArgs) -> CmdResult {
    let RemoteNameArgs { name } = args;
    let project = ctx.project()?;
    project.set_default_remote(&name)?;
    let p = ctx.printer;
    p.json("remote-default", &super::Named { name: &name })?;
    p.line(format!("default remote: {name}"))?;
    Ok(Exit::Ok)
}
