use cairn_data::{AddOptions, Change};

use super::Context;
use crate::CmdResult;
use crate::cli::AddArgs;
use crate::error::Exit;
use crate::printer::{DIM, GREEN, YELLOW, bytes, paint, plural};
use crate::progress::Bars;

pub fn run(ctx: &Context<'_>, args: AddArgs) -> CmdResult {
    let AddArgs { paths } = args;
    let project = ctx.project()?;
    let p = ctx.printer;
    let bars = Bars::new(p);
    let outcome = cairn_data::add(
        &project,
        &AddOptions {
            paths,
            cwd: ctx.cwd.clone(),
        },
        &bars,
    )?;
    p.json("data-add", &outcome)?;
    for e in &outcome.entries {
        let verb = match e.change {
            Change::Added => paint(GREEN, "added    "),
            Change::Updated => paint(YELLOW, "updated  "),
            Change::Unchanged => paint(DIM, "unchanged"),
        };
        let digest = if p.verbose > 0 {
            e.digest.to_hex()
        } else {
            e.digest.short()
        };
        p.line(format!(
            "{verb} {}  ({}, {})  {}",
            e.path,
            bytes(e.size),
            plural(e.files, "file", "files"),
            paint(DIM, digest)
        ))?;
    }
    let new_objects: u64 = outcome.entries.iter().map(|e| e.new_objects).sum();
    let new_bytes: u64 = outcome.entries.iter().map(|e| e.new_bytes).sum();
    p.status(format!(
        "stored {} ({})",
        plural(new_objects, "new object", "new objects"),
        bytes(new_bytes)
    ));
    if outcome.lock_written {
        p.status("hint: commit cairn.lock (and .gitignore) to pin this version");
    }
    Ok(Exit::Ok)
}
