use super::Context;
use crate::CmdResult;
use crate::cli::RemoteNameArgs;
use crate::error::Exit;

pub fn run(ctx: &Context<'_>, args: RemoteNameArgs) -> CmdResult {
    let RemoteNameArgs { name } = args;
    let project = ctx.project()?;
    project.remove_remote(&name)?;
    let p = ctx.printer;
    p.json("remote-remove", &super::Named { name: &name })?;
    p.line(format!("removed remote {name} (its data was not touched)"))?;
    Ok(Exit::Ok)
}
