use cairn_data::CheckoutOptions;

use super::Context;
use crate::CmdResult;
use crate::cli::CheckoutArgs;
use crate::error::Exit;
use crate::printer::{bytes, plural};
use crate::progress::Bars;

pub fn run(ctx: &Context<'_>, args: CheckoutArgs) -> CmdResult {
    let CheckoutArgs { paths, rev, force } = args;
    let project = ctx.project()?;
    let p = ctx.printer;
    let bars = Bars::new(p);
    let options = CheckoutOptions {
        paths,
        cwd: ctx.cwd.clone(),
        rev,
        force,
    };
    let outcome = cairn_data::checkout(&project, &options, &bars)?;
    p.json("data-checkout", &outcome)?;
    for e in &outcome.entries {
        p.line(format!(
            "{}: {} written, {} removed, {} unchanged",
            e.path, e.written, e.removed, e.unchanged
        ))?;
    }
    let source = match &outcome.rev {
        Some(rev) => format!("cairn.lock at {rev}"),
        None => "cairn.lock".to_string(),
    };
    p.status(format!(
        "checked out {} from {source}: {} ({}) written, {} removed",
        plural(outcome.entries.len() as u64, "path", "paths"),
        plural(outcome.files_written, "file", "files"),
        bytes(outcome.bytes_written),
        plural(outcome.files_removed, "file", "files"),
    ));
    Ok(Exit::Ok)
}
