use super::Context;
use crate::CmdResult;
use crate::error::Exit;
use crate::printer::{DIM, paint, plural};

pub fn run(ctx: &Context<'_>) -> CmdResult {
    let project = ctx.project()?;
    let p = ctx.printer;
    let outcome = cairn_feature::plan(&project)?;
    p.json("feature-plan", &outcome)?;
    for v in &outcome.views {
        p.line(format!(
            "{:<10} {}  {} from {}  {}",
            v.action,
            v.view,
            plural(v.rows, "row", "rows"),
            v.source,
            paint(DIM, v.features.join(", "))
        ))?;
    }
    p.status(format!(
        "{} and {} checked",
        plural(outcome.views.len() as u64, "view", "views"),
        plural(outcome.services.len() as u64, "service", "services")
    ));
    Ok(Exit::Ok)
}
