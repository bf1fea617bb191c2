use super::Context;
use crate::CmdResult;
use crate::cli::PullArgs;
use crate::error::Exit;
use crate::printer::{bytes, plural};
use crate::progress::Bars;

pub fn run(ctx: &Context<'_>, args: PullArgs) -> CmdResult {
    let PullArgs { fetch, force } = args;
    let p = ctx.printer;
    let project = ctx.project()?;
    let options = super::fetch::options(ctx, fetch);
    let outcome = cairn_data::pull(&project, &options, force, &Bars::new(p))?;
    p.json("data-pull", &outcome)?;
    super::fetch::describe_remote(p, &outcome.fetch.remote);
    super::fetch::warn_skipped_runs(p, &outcome.fetch.runs_skipped);
    p.line(format!(
        "fetched {} from {}, wrote {} ({}), removed {}{}{}",
        super::fetch::fetched(&outcome.fetch.downloaded),
        outcome.fetch.remote.name,
        plural(outcome.checkout.files_written, "file", "files"),
        bytes(outcome.checkout.bytes_written),
        plural(outcome.checkout.files_removed, "file", "files"),
        super::fetch::runs_added(&outcome.fetch.runs_added),
        super::fetch::models(&outcome.fetch.models),
    ))?;
    Ok(Exit::Ok)
}
