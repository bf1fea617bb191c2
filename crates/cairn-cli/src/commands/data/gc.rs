use cairn_data::GcOptions;

use super::Context;
use crate::CmdResult;
use crate::cli::GcArgs;
use crate::error::Exit;
use crate::printer::{bytes, plural};
use crate::progress::Bars;

pub fn run(ctx: &Context<'_>, args: GcArgs) -> CmdResult {
    let GcArgs {
        all_commits,
        dry_run,
        remote,
        yes,
    } = args;
    let remote = remote.map(|name| (!name.is_empty()).then_some(name));
    // Deleting from a shared remote needs an explicit yes; without it, list only.
    let dry_run = dry_run || (remote.is_some() && !yes);
    let project = ctx.project()?;
    let p = ctx.printer;
    let outcome = cairn_data::gc(
        &project,
        &GcOptions {
            all_commits,
            dry_run,
            remote,
        },
        &Bars::new(p),
    )?;
    p.json("data-gc", &outcome)?;
    if dry_run || p.verbose > 0 {
        for r in &outcome.removed {
            let verb = if dry_run { "would remove" } else { "removed" };
            p.line(format!("{verb} {}  {}", r.digest, bytes(r.size)))?;
        }
    }
    let verb = if dry_run { "would remove" } else { "removed" };
    p.status(format!(
        "{verb} {} ({}); kept {} ({}) referenced by {}{}",
        plural(outcome.removed.len() as u64, "object", "objects"),
        bytes(outcome.removed_bytes),
        plural(outcome.kept as u64, "object", "objects"),
        bytes(outcome.kept_bytes),
        plural(outcome.locks as u64, "lock file", "lock files"),
        super::fetch::models(&outcome.models),
    ));
    if outcome.temp_files_removed > 0 {
        p.status(format!(
            "removed {} left by interrupted {}",
            plural(
                outcome.temp_files_removed as u64,
                "temporary file",
                "temporary files"
            ),
            if outcome.remote.is_some() {
                "uploads"
            } else {
                "commands"
            }
        ));
    }
    if !outcome.unresolved_manifests.is_empty() {
        p.warn(format!(
            "{} nowhere to be read; the files they list could not be identified",
            plural(
                outcome.unresolved_manifests.len() as u64,
                "directory manifest is",
                "directory manifests are"
            )
        ));
    }
    for skipped in &outcome.skipped_locks {
        p.warn(format!(
            "skipped cairn.lock of commit {}: {}",
            skipped.commit, skipped.reason
        ));
    }
    if let Some(info) = &outcome.remote
        && dry_run
        && !yes
        && !outcome.removed.is_empty()
    {
        p.status(format!(
            "hint: nothing was deleted from {}; add `--yes` to delete these objects",
            info.name
        ));
    }
    if !all_commits && !outcome.removed.is_empty() && dry_run {
        p.status("hint: `--all-commits` also keeps the data of every committed cairn.lock");
    }
    Ok(Exit::Ok)
}
