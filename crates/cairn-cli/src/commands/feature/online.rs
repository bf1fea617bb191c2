use cairn_feature::OnlineOptions;

use super::{Context, time_arg};
use crate::CmdResult;
use crate::cli::OnlineArgs;
use crate::error::Exit;

pub fn run(ctx: &Context<'_>, args: OnlineArgs) -> CmdResult {
    let OnlineArgs {
        entities,
        features,
        service,
        full_names,
        at,
    } = args;
    let project = ctx.project()?;
    let p = ctx.printer;
    let at = time_arg("at", at.as_deref())?;
    let outcome = cairn_feature::online(
        &project,
        &OnlineOptions {
            entities,
            features,
            service,
            full_names,
            now: std::time::SystemTime::now(),
            at,
        },
    )?;
    p.json("feature-online", &outcome)?;
    // The answer is JSON either way: one document, entities in the order given.
    let doc = serde_json::to_string_pretty(&outcome.entities).unwrap_or_default();
    p.line(doc)?;
    Ok(Exit::Ok)
}
