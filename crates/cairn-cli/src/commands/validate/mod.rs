//! `cairn validate NAME@REF [--data FILE]`: the version is resolved in the registry, its
//! rows rebuilt (the run's held-out rows) or read (`--data`), its spec's gates run, the record
//! stored and pointed at by the version in cairn.lock.

use cairn_pipeline::{ValidationRows, VersionValidation};

mod render;

use render::render;

use super::Context;
use crate::CmdResult;
use crate::cli::ModelValidateArgs;
use crate::error::Exit;

pub fn run(ctx: &Context<'_>, args: ModelValidateArgs) -> CmdResult {
    let ModelValidateArgs { reference, data } = args;
    let project = ctx.project()?;
    let p = ctx.printer;
    let rows = match data {
        Some(path) => ValidationRows::File {
            path: ctx.cwd.join(&path),
            shown: path.display().to_string(),
        },
        None => ValidationRows::HeldOut,
    };
    let VersionValidation {
        resolved,
        gates,
        validated,
    } = cairn_pipeline::validate_version(&project, &reference, rows)?;
    let name_version = format!("{}@{}", resolved.name, resolved.version);
    p.json("validate", &validated)?;
    render(p, &name_version, &validated)?;
    if gates.is_empty() {
        p.warn(format!(
            "`[model.{}.gates]` declares no gate: only the schema was checked",
            resolved.entry.spec
        ));
    }
    p.status(format!(
        "validation record {} recorded for {name_version} in cairn.lock; commit it to share the verdict",
        validated.digest.short()
    ));
    Ok(if validated.record.passed {
        Exit::Ok
    } else {
        Exit::CheckFailed
    })
}
