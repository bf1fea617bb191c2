use cairn_data::{FsckOptions, ModelObject};

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
        let needed_by = if c.needed_by.is_empty() {
            String::new()
        } else {
            format!(", needed by {}", c.needed_by.join(", "))
        };
        p.line(format!(
            "{} {}: content hashes to {} ({}){removed}{needed_by}",
            paint(RED, "corrupt"),
            c.digest,
            c.actual,
            c.path.display()
        ))?;
    }
    for i in &outcome.inconsistent {
        let object = match i.object {
            ModelObject::Artifact => "model artifact",
            ModelObject::Record => "run record",
            ModelObject::Validation => "validation record",
        };
        p.line(format!(
            "{} {}@{}: its {object} {} {}",
            paint(RED, "inconsistent"),
            i.model,
            i.version,
            i.digest,
            i.problem
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
        if outcome.corrupt.is_empty() {
            "all intact".to_string()
        } else {
            format!("{} corrupt", outcome.corrupt.len())
        }
    ));
    if !outcome.inconsistent.is_empty() {
        p.status(if outcome.inconsistent.len() == 1 {
            "1 record of a registered model version contradicts cairn.lock".to_owned()
        } else {
            format!(
                "{} records of registered model versions contradict cairn.lock",
                outcome.inconsistent.len()
            )
        });
        p.status("hint: cairn.lock was edited by hand, or the store's objects were replaced: restore cairn.lock from git (`git checkout HEAD -- cairn.lock`)");
    }
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
    if !outcome.corrupt.is_empty() && !remove_corrupt {
        p.status("hint: `cairn data fsck --remove-corrupt` deletes them; then add or pull the data again");
    }
    Ok(if outcome.ok {
        Exit::Ok
    } else {
        Exit::CheckFailed
    })
}
