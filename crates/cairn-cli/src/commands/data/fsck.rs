use cairn_data::FsckOptions;

use super::Context;
use crate::CmdResult;
use crate::cli::FsckArgs;
use crate::error::Exit;
use crate::printer::{RED, YELLOW, bytes, paint, plural};
use crate::progress::Bars;

pub fn run(ctx: &Context<'_>, args: FsckArgs) -> CmdResult {
    let FsckArgs { remove_corrupt } = args;
    let project = ctx.project()?;
    let p = ctx.printer;
    let outcome = cairn_data::fsck(&project, &FsckOptions { remove_corrupt }, &Bars::new(p))?;
    p.json("data-fsck", &outcome)?;
    for c in &outcome.corrupt {
        let removed = if c.removed { " (removed)" } else { "" };
        p.line(format!(
            "{} {}: content hashes to {} ({}){removed}",
            paint(RED, "corrupt"),
            c.digest,
            c.actual,
            c.path.display()
        ))?;
    }
    for s in &outcome.strays {
        p.line(format!(
            "{} {} is not an object",
            paint(YELLOW, "stray  "),
            s.display()
        ))?;
    }
    for m in &outcome.missing {
        p.line(format!(
            "{} {} ({})",
            paint(YELLOW, "missing"),
            m.digest,
            m.path
        ))?;
    }
    p.status(format!(
        "checked {} ({}): {}",
        plural(outcome.checked as u64, "object", "objects"),
        bytes(outcome.bytes),
        if outcome.ok {
            "all intact".to_string()
        } else {
            format!("{} corrupt", outcome.corrupt.len())
        }
    ));
    if !outcome.missing.is_empty() {
        p.status(format!(
            "{} that cairn.lock needs {} not in the local store",
            plural(outcome.missing.len() as u64, "object", "objects"),
            if outcome.missing.len() == 1 {
                "is"
            } else {
                "are"
            }
        ));
    }
    if !outcome.ok && !remove_corrupt {
        p.status("hint: `cairn data fsck --remove-corrupt` deletes them; then add or pull the data again");
    }
    Ok(if outcome.ok {
        Exit::Ok
    } else {
        Exit::CheckFailed
    })
}
