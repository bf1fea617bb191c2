mod add;
mod default;
mod list;
mod remove;

use serde::Serialize;

use super::Context;
use crate::CmdResult;
use crate::cli::RemoteCommand;

/// The JSON outcome of `remote remove` and `remote default`: the remote concerned.
#[derive(Serialize)]
struct Named<'a> {
    name: &'a str,
}

pub fn run(ctx: &Context<'_>, command: RemoteCommand) -> CmdResult {
    match command {
        RemoteCommand::Add(args) => add::run(ctx, args),
        RemoteCommand::List(args) => list::run(ctx, args),
        RemoteCommand::Remove(args) => remove::run(ctx, args),
        RemoteCommand::Default(args) => default::run(ctx, args),
    }
}
