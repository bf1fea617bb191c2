use cairn_data::{EntryState, StatusOptions};

use super::Context;
use crate::CmdResult;
use crate::cli::StatusArgs;
use crate::error::Exit;
use crate::printer::{DIM, GREEN, RED, YELLOW, paint, plural};

/// Without -v, at most this many files are listed per kind of change.
const LIST_LIMIT: usize = 20;

pub fn run(ctx: &Context<'_>, args: StatusArgs) -> CmdResult {
    let StatusArgs {
        paths,
        check,
        remote,
    } = args;
    let remote = remote.map(|name| (!name.is_empty()).then_some(name));
    let project = ctx.project()?;
    let p = ctx.printer;
    let outcome = cairn_data::status(
        &project,
        &StatusOptions {
            paths,
            cwd: ctx.cwd.clone(),
            remote,
        },
    )?;
    p.json("data-status", &outcome)?;
    for e in &outcome.entries {
        let state = match e.state {
            EntryState::Unchanged => paint(DIM, "unchanged   "),
            EntryState::Modified => paint(YELLOW, "modified    "),
            EntryState::Missing => paint(RED, "missing     "),
            EntryState::NotInStore => paint(RED, "not in store"),
        };
        let on_remote = match (&e.remote, &outcome.remote) {
            (Some(r), Some(info)) if r.unknown => {
                format!("  [{}: unknown, the manifest is missing]", info.name)
            }
            (Some(r), Some(info)) if r.missing == 0 => {
                format!("  [{}: {}]", info.name, paint(GREEN, "pushed"))
            }
            (Some(r), Some(info)) => format!(
                "  [{}: {}]",
                info.name,
                paint(
                    RED,
                    format!("{} of {} objects missing", r.missing, r.missing + r.present)
                )
            ),
            _ => String::new(),
        };
        p.line(format!("{state} {}{on_remote}", e.path))?;
        for (label, style, files) in [
            ("modified:", YELLOW, &e.modified),
            ("new:     ", GREEN, &e.added),
            ("deleted: ", RED, &e.removed),
        ] {
            let limit = if p.verbose > 0 {
                usize::MAX
            } else {
                LIST_LIMIT
            };
            for f in files.iter().take(limit) {
                p.line(format!("    {} {f}", paint(style, label)))?;
            }
            if files.len() > limit {
                p.line(format!(
                    "    {} … and {} more (-v lists all)",
                    paint(style, label),
                    files.len() - limit
                ))?;
            }
        }
    }
    if outcome.entries.is_empty() {
        p.status("nothing is tracked; `cairn data add PATH` starts tracking data");
    } else if outcome.clean {
        p.status("the workspace matches cairn.lock");
    } else {
        let differing = outcome
            .entries
            .iter()
            .filter(|e| e.state != EntryState::Unchanged)
            .count() as u64;
        p.status(format!(
            "{} from cairn.lock; `cairn data add` records the workspace, `cairn data checkout` restores the lock",
            plural(differing, "path differs", "paths differ")
        ));
    }
    for f in &outcome.features {
        if let Some(info) = &outcome.remote {
            let state = if f.remote.missing == 0 {
                paint(GREEN, "pushed")
            } else {
                paint(RED, "missing")
            };
            p.line(format!(
                "{} feature:{}  [{}: {state}]",
                paint(DIM, "feature     "),
                f.view,
                info.name
            ))?;
        }
    }
    for m in &outcome.models {
        if let Some(info) = &outcome.remote {
            let state = if m.remote.missing == 0 {
                paint(GREEN, "pushed")
            } else {
                paint(
                    RED,
                    format!(
                        "{} of {} objects missing",
                        m.remote.missing,
                        m.remote.missing + m.remote.present
                    ),
                )
            };
            p.line(format!(
                "{} model:{}@{}  [{}: {state}]",
                paint(DIM, "model       "),
                m.model,
                m.version,
                info.name
            ))?;
        }
    }
    let unpushed = outcome
        .entries
        .iter()
        .filter_map(|e| e.remote)
        .chain(outcome.features.iter().map(|f| f.remote))
        .chain(outcome.models.iter().map(|m| m.remote))
        .any(|r| r.missing > 0 || r.unknown);
    if unpushed && let Some(info) = &outcome.remote {
        p.status(format!(
            "some data is not on {}; `cairn data push` uploads it",
            info.name
        ));
    }
    Ok(if check && (!outcome.clean || unpushed) {
        Exit::CheckFailed
    } else {
        Exit::Ok
    })
}
