//! `cairn feature plan | materialize | historical | online | list`: each builds the library's
//! options, calls it and renders its outcome.

mod historical;
mod list;
mod materialize;
mod online;
mod plan;

use super::Context;
use crate::CmdResult;
use crate::cli::FeatureCommand;
use crate::error::CliError;

pub fn run(ctx: &Context<'_>, command: FeatureCommand) -> CmdResult {
    match command {
        FeatureCommand::Plan => plan::run(ctx),
        FeatureCommand::Materialize(args) => materialize::run(ctx, args),
        FeatureCommand::Historical(args) => historical::run(ctx, args),
        FeatureCommand::Online(args) => online::run(ctx, args),
        FeatureCommand::List => list::run(ctx),
    }
}

/// A time option (`--start`, `--end`, `--at`) as UTC microseconds.
fn time_arg(flag: &str, text: Option<&str>) -> Result<Option<i64>, CliError> {
    match text {
        None => Ok(None),
        Some(t) => cairn_core::time::parse_time(t).map(Some).ok_or_else(|| {
            CliError::usage(
                format!("--{flag} {t}: not a time"),
                Some("write YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS (UTC)"),
            )
        }),
    }
}
