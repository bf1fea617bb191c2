mod add;
mod checkout;
mod diff;
mod fetch;
mod fsck;
mod gc;
mod ls;
mod pull;
mod push;
mod status;
pub(crate) mod validate;

use super::Context;
use crate::CmdResult;
use crate::cli::DataCommand;

pub fn run(ctx: &Context<'_>, command: DataCommand) -> CmdResult {
    match command {
        DataCommand::Add(args) => add::run(ctx, args),
        DataCommand::Status(args) => status::run(ctx, args),
        DataCommand::Checkout(args) => checkout::run(ctx, args),
        DataCommand::Ls(args) => ls::run(ctx, args),
        DataCommand::Diff(args) => diff::run(ctx, args),
        DataCommand::Gc(args) => gc::run(ctx, args),
        DataCommand::Push(args) => push::run(ctx, args),
        DataCommand::Fetch(args) => fetch::run(ctx, args),
        DataCommand::Pull(args) => pull::run(ctx, args),
        DataCommand::Fsck(args) => fsck::run(ctx, args),
        DataCommand::Validate(args) => validate::run(ctx, args),
    }
}
