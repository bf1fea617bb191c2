mod add;
mod default;
mod list;
mod remove;

use super::Context;
use crate::CmdResult;
use crate::cli::RemoteCommand;

pub fn run(ctx: &Context<'_>, command: RemoteCommand) -> CmdResult {
    match command {
        RemoteCommand::Add(args) => add::run(ctx, args),
        RemoteCommand::List(args) => list::run(ctx, args),
        RemoteCommand::Remove(args) => remove::run(ctx, args),
        RemoteCommand::Default(args) => default::run(ctx, args),
    }
}
