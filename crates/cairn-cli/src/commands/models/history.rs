use super::Context;
use crate::CmdResult;
use crate::cli::ModelsHistoryArgs;
use crate::error::Exit;
use crate::printer::{BOLD, paint, plural};

pub fn run(ctx: &Context<'_>, args: ModelsHistoryArgs) -> CmdResult {
    let ModelsHistoryArgs { name } = args;
    let project = ctx.project()?;
    let p = ctx.printer;
    let outcome = cairn_registry::history(&project, &name)?;
    p.json("models-history", &outcome)?;
    let entries = &outcome.history;
    let actor = entries
        .iter()
        .map(|h| h.actor.chars().count())
        .max()
        .unwrap_or(5)
        .max(5);
    let changes: Vec<String> = entries.iter().map(super::change).collect();
    let change = changes
        .iter()
        .map(|c| c.chars().count())
        .max()
        .unwrap_or(6)
        .max(6);
    p.line(paint(
        BOLD,
        format!(
            "{:<20}  {:<actor$}  {:<8}  {:>7}  {:<change$}  reason",
            "at", "actor", "action", "version", "change"
        ),
    ))?;
    for (h, c) in entries.iter().zip(&changes) {
        let line = format!(
            "{:<20}  {:<actor$}  {:<8}  {:>7}  {:<change$}  {}",
            h.at,
            h.actor,
            h.action.as_str(),
            h.version,
            c,
            h.reason.as_deref().unwrap_or("")
        );
        p.line(line.trim_end())?;
    }
    p.status(format!(
        "{}: {}",
        outcome.name,
        plural(entries.len() as u64, "change", "changes")
    ));
    Ok(Exit::Ok)
}
