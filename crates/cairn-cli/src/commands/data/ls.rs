use cairn_data::LsOptions;

use super::Context;
use crate::CmdResult;
use crate::cli::LsArgs;
use crate::error::Exit;
use crate::printer::{DIM, RED, bytes, paint, plural};

pub fn run(ctx: &Context<'_>, args: LsArgs) -> CmdResult {
    let LsArgs { paths } = args;
    let project = ctx.project()?;
    let p = ctx.printer;
    let outcome = cairn_data::ls(
        &project,
        &LsOptions {
            paths,
            cwd: ctx.cwd.clone(),
        },
    )?;
    p.json("data-ls", &outcome)?;
    for e in &outcome.entries {
        let digest = if p.verbose > 0 {
            e.digest.to_hex()
        } else {
            e.digest.short()
        };
        let kind = match e.kind {
            cairn_core::EntryKind::File => "file",
            cairn_core::EntryKind::Dir => "dir ",
        };
        let missing = if e.in_store {
            String::new()
        } else {
            format!("  {}", paint(RED, "(not in the local store)"))
        };
        p.line(format!(
            "{kind}  {:>10}  {:>8}  {}  {}{missing}",
            bytes(e.size),
            plural(e.files, "file", "files"),
            paint(DIM, digest),
            e.path
        ))?;
    }
    p.status(format!(
        "{} tracked, {} in {}",
        plural(outcome.entries.len() as u64, "path", "paths"),
        bytes(outcome.total_size),
        plural(outcome.total_files, "file", "files")
    ));
    Ok(Exit::Ok)
}
