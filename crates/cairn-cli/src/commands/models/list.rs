use super::Context;
use crate::CmdResult;
use crate::error::Exit;
use crate::printer::{BOLD, paint, plural};

pub fn run(ctx: &Context<'_>) -> CmdResult {
    let project = ctx.project()?;
    let p = ctx.printer;
    let outcome = cairn_registry::list(&project)?;
    p.json("models-list", &outcome)?;
    if outcome.models.is_empty() {
        p.status("no model is registered; `cairn register RUN` registers a finished run");
        return Ok(Exit::Ok);
    }
    let width = outcome
        .models
        .iter()
        .map(|m| m.name.len())
        .max()
        .unwrap_or(5)
        .max(5);
    p.line(paint(
        BOLD,
        format!(
            "{:<width$}  {:>8}  {:>6}  {:>10}  {:>7}  aliases",
            "model", "versions", "latest", "production", "staging"
        ),
    ))?;
    let number = |n: Option<u32>| n.map_or_else(|| "-".to_owned(), |n| n.to_string());
    for m in &outcome.models {
        let aliases: Vec<String> = m.aliases.iter().map(|(a, v)| format!("{a}={v}")).collect();
        let line = format!(
            "{:<width$}  {:>8}  {:>6}  {:>10}  {:>7}  {}",
            m.name,
            m.versions,
            number(m.latest),
            number(m.production),
            number(m.staging),
            aliases.join(",")
        );
        p.line(line.trim_end())?;
    }
    p.status(plural(outcome.models.len() as u64, "model", "models"));
    Ok(Exit::Ok)
}
