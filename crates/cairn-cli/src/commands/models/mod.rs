//! `cairn models list | show | promote | alias | unalias | rollback | history`: the registry in
//! cairn.lock. Each subcommand builds its options, calls cairn-registry and renders the
//! outcome.

mod alias;
mod history;
mod list;
mod promote;
mod rollback;
mod show;
mod unalias;

use cairn_registry::{Action, HistoryEntry, ModelVersion, Stage, Was};
use cairn_store::Digest;

use super::Context;
use crate::CmdResult;
use crate::cli::ModelsCommand;
use crate::printer::{BOLD, DIM, GREEN, Printer, RED, YELLOW, paint};

pub fn run(ctx: &Context<'_>, command: ModelsCommand) -> CmdResult {
    match command {
        ModelsCommand::List => list::run(ctx),
        ModelsCommand::Show(args) => show::run(ctx, args),
        ModelsCommand::Promote(args) => promote::run(ctx, args),
        ModelsCommand::Alias(args) => alias::run(ctx, args),
        ModelsCommand::Unalias(args) => unalias::run(ctx, args),
        ModelsCommand::Rollback(args) => rollback::run(ctx, args),
        ModelsCommand::History(args) => history::run(ctx, args),
    }
}

/// A digest as shown: its first 12 hex digits, all 64 with `-v`.
pub(in crate::commands) fn digest(p: &Printer, d: &Digest) -> String {
    if p.verbose > 0 { d.to_hex() } else { d.short() }
}

/// A stage, colored: production green, staging yellow, archived dimmed.
pub(super) fn stage(s: Stage) -> String {
    match s {
        Stage::Production => paint(GREEN.bold(), s),
        Stage::Staging => paint(YELLOW, s),
        Stage::Archived => paint(DIM, s),
        Stage::None => s.to_string(),
    }
}

/// The metrics on one line, 4 decimals.
pub(in crate::commands) fn metrics(v: &ModelVersion) -> String {
    let shown: Vec<String> = v
        .metrics
        .iter()
        .map(|(k, x)| format!("{k} {x:.4}"))
        .collect();
    shown.join("  ")
}

/// A version as a block of `key  value` lines: the run, lineage, validation.
pub(super) fn version_block(
    p: &Printer,
    name: &str,
    v: &ModelVersion,
    aliases: &[String],
) -> Result<(), crate::printer::OutputError> {
    let mut title = format!(
        "{}  {}",
        paint(BOLD, format!("{name}@{}", v.version)),
        stage(v.stage)
    );
    if !aliases.is_empty() {
        title.push_str(&format!("  {}", aliases.join(", ")));
    }
    p.line(title)?;
    let field = |k: &str, value: String| p.line(format!("  {k:<12}{value}"));
    field("registered", v.registered.clone())?;
    if let Some(d) = &v.description {
        field("description", d.clone())?;
    }
    field(
        "run",
        format!(
            "{}  {}",
            v.run,
            paint(DIM, format!("record {}", digest(p, &v.record)))
        ),
    )?;
    field(
        "artifact",
        format!(
            "{}  {}",
            digest(p, &v.artifact),
            crate::printer::bytes(v.size)
        ),
    )?;
    field("spec", format!("{} ({})", v.spec, v.algorithm))?;
    field(
        "code",
        format!(
            "{}{}",
            v.commit.as_deref().unwrap_or("(no commit)"),
            if v.dirty { " (dirty worktree)" } else { "" }
        ),
    )?;
    for (path, d) in &v.data {
        field("data", format!("{path}  {}", digest(p, d)))?;
    }
    for (view, d) in &v.features {
        field("features", format!("{view}  {}", digest(p, d)))?;
    }
    field("metrics", metrics(v))?;
    let validated = match (v.validated, &v.validation) {
        (Some(verdict), Some(record)) => {
            let text = match verdict {
                cairn_registry::Verdict::Passed => paint(GREEN, "passed"),
                cairn_registry::Verdict::Failed => paint(RED, "failed"),
            };
            format!(
                "{text}  {}",
                paint(DIM, format!("record {}", digest(p, record)))
            )
        }
        _ => "not validated".to_owned(),
    };
    field("validated", validated)
}

/// What a history entry changed, in words: `staging → production, archived 1`.
pub(super) fn change(h: &HistoryEntry) -> String {
    let alias = h.alias.as_deref().unwrap_or("?");
    let mut parts = Vec::new();
    match h.action {
        Action::Register => {}
        Action::Promote | Action::Rollback => {
            if let (Some(from), Some(to)) = (&h.from, &h.to) {
                parts.push(format!("{from} → {to}"));
            }
        }
        Action::Alias => match h.from {
            Some(Was::Version(before)) => parts.push(format!("{alias} (was {before})")),
            _ => parts.push(alias.to_owned()),
        },
        Action::Unalias => parts.push(format!("{alias} removed")),
    }
    if let Some(a) = h.archived {
        parts.push(format!("archived {a}"));
    }
    if h.forced {
        parts.push("forced".to_owned());
    }
    parts.join(", ")
}
