//! `cairn status [--check] [--remote [NAME]]`: the whole project on one screen.

use cairn_data::EntryState;
use cairn_pipeline::{ProjectStatus, RemoteCheck, StagedVersion, StatusOptions, ViewState};

use super::Context;
use crate::CmdResult;
use crate::cli::ProjectStatusArgs;
use crate::error::Exit;
use crate::printer::{BOLD, DIM, GREEN, OutputError, Printer, RED, YELLOW, paint, plural};

pub fn run(ctx: &Context<'_>, args: ProjectStatusArgs) -> CmdResult {
    let ProjectStatusArgs { check, remote } = args;
    let remote = remote.map(|name| (!name.is_empty()).then_some(name));
    let project = ctx.project()?;
    let p = ctx.printer;
    let outcome = cairn_pipeline::status(
        &project,
        &StatusOptions {
            cwd: ctx.cwd.clone(),
            remote,
        },
    )?;
    p.json("status", &outcome)?;
    render(p, &outcome)?;
    if outcome.in_sync {
        p.status("everything matches cairn.lock");
    } else {
        p.status(
            "out of sync: `cairn data add` or `cairn data checkout` for data, `cairn feature materialize` for views, `cairn data push` for the remote",
        );
    }
    Ok(if check && !outcome.in_sync {
        Exit::CheckFailed
    } else {
        Exit::Ok
    })
}

fn render(p: &Printer, s: &ProjectStatus) -> Result<(), OutputError> {
    p.line(paint(BOLD, "data"))?;
    if s.data.entries.is_empty() {
        p.line(paint(DIM, "  nothing tracked"))?;
    }
    let changed: Vec<_> = s
        .data
        .entries
        .iter()
        .filter(|e| e.state != EntryState::Unchanged)
        .collect();
    for e in &changed {
        let state = match e.state {
            EntryState::Unchanged => paint(DIM, "unchanged   "),
            EntryState::Modified => paint(YELLOW, "modified    "),
            EntryState::Missing => paint(RED, "missing     "),
            EntryState::NotInStore => paint(RED, "not in store"),
        };
        p.line(format!("  {state}  {}", e.path))?;
    }
    let unchanged = (s.data.entries.len() - changed.len()) as u64;
    if unchanged > 0 {
        p.line(format!(
            "  {}  {}",
            paint(DIM, "unchanged   "),
            plural(unchanged, "path", "paths")
        ))?;
    }

    p.line(paint(BOLD, "features"))?;
    if s.features.is_empty() {
        p.line(paint(DIM, "  no feature view declared"))?;
    }
    for v in &s.features {
        let state = match &v.state {
            ViewState::UpToDate => paint(DIM, "up to date      "),
            ViewState::Changed { definition, source } => {
                let what = match (definition, source) {
                    (true, true) => "definition and source changed",
                    (true, false) => "definition changed",
                    _ => "source changed",
                };
                p.line(format!(
                    "  {}  {}  ({what})",
                    paint(YELLOW, "changed         "),
                    v.view
                ))?;
                continue;
            }
            ViewState::NotMaterialized => paint(YELLOW, "not materialized"),
            ViewState::SourceUnreadable { message } => {
                p.line(format!(
                    "  {}  {}  ({message})",
                    paint(RED, "source unread   "),
                    v.view
                ))?;
                continue;
            }
            ViewState::Undeclared => paint(YELLOW, "not declared    "),
        };
        p.line(format!("  {state}  {}", v.view))?;
    }

    p.line(paint(BOLD, "models"))?;
    if s.models.is_empty() {
        p.line(paint(DIM, "  none registered"))?;
    }
    for m in &s.models {
        let stage = |label: &str, v: &Option<StagedVersion>| match v {
            None => format!("{label} -"),
            Some(v) => {
                let validated = match v.validated {
                    Some(cairn_core::registry::Verdict::Passed) => {
                        paint(GREEN, "validation passed")
                    }
                    Some(cairn_core::registry::Verdict::Failed) => paint(RED, "validation failed"),
                    None => paint(YELLOW, "not validated"),
                };
                let drift = match &v.drift {
                    None => "drift not checked".to_owned(),
                    Some(d) if d.dataset_drift => paint(RED, d.summary()),
                    Some(d) => d.summary(),
                };
                format!("{label} {} ({validated}, {drift})", v.version)
            }
        };
        p.line(format!(
            "  {}  {}  {}  {}",
            m.name,
            stage("production", &m.production),
            stage("staging", &m.staging),
            paint(
                DIM,
                format!(
                    "{}, latest {}",
                    plural(m.versions as u64, "version", "versions"),
                    m.latest.map_or_else(|| "-".to_owned(), |v| v.to_string())
                )
            )
        ))?;
    }

    p.line(paint(BOLD, "remote"))?;
    let line = match &s.remote {
        RemoteCheck::NoRemote => paint(DIM, "no remote configured"),
        RemoteCheck::NotChecked {
            default: Some(name),
        } => paint(DIM, format!("{name}: not checked (--remote asks it)")),
        RemoteCheck::NotChecked { default: None } => paint(
            DIM,
            "not checked (no default remote; --remote NAME asks one)",
        ),
        RemoteCheck::Checked {
            name,
            missing,
            unknown,
            ..
        } => {
            if *missing == 0 && !*unknown {
                format!("{name}: {}", paint(GREEN, "has every pinned object"))
            } else if *unknown {
                format!(
                    "{name}: {} (and a directory's files are unknown: its manifest is missing)",
                    paint(
                        RED,
                        format!("{} not pushed", plural(*missing, "object", "objects"))
                    )
                )
            } else {
                format!(
                    "{name}: {}",
                    paint(
                        RED,
                        format!("{} not pushed", plural(*missing, "object", "objects"))
                    )
                )
            }
        }
    };
    p.line(format!("  {line}"))?;
    Ok(())
}
