use super::Context;
use crate::CmdResult;
use crate::error::Exit;
use crate::printer::{DIM, bytes, paint, plural};

pub fn run(ctx: &Context<'_>) -> CmdResult {
    let project = ctx.project()?;
    let p = ctx.printer;
    let outcome = cairn_feature::list(&project)?;
    p.json("feature-list", &outcome)?;
    for v in &outcome.views {
        let keys: Vec<String> = v
            .join_keys
            .iter()
            .map(|(k, t)| format!("{k}: {t}"))
            .collect();
        p.line(format!(
            "{}  from {}  keys {}{}",
            v.view,
            v.source,
            keys.join(", "),
            v.ttl
                .as_deref()
                .map(|t| format!("  ttl {t}"))
                .unwrap_or_default()
        ))?;
        for (f, t) in &v.features {
            p.line(format!("  {f}: {t}"))?;
        }
        match &v.offline {
            Some(e) => p.line(paint(
                DIM,
                format!(
                    "  offline {} ({}, {}), newest {}; online {} at {}",
                    e.digest.short(),
                    plural(e.rows, "row", "rows"),
                    bytes(e.size),
                    e.end.as_deref().unwrap_or("-"),
                    v.online_entities
                        .map_or("-".to_owned(), |n| plural(n, "entity", "entities")),
                    v.materialized_at.as_deref().unwrap_or("-"),
                ),
            ))?,
            None => p.line(paint(DIM, "  not materialized"))?,
        }
    }
    Ok(Exit::Ok)
}
