use cairn_feature::HistoricalOptions;

use super::Context;
use crate::CmdResult;
use crate::cli::HistoricalArgs;
use crate::error::Exit;
use crate::printer::plural;

pub fn run(ctx: &Context<'_>, args: HistoricalArgs) -> CmdResult {
    let HistoricalArgs {
        entities,
        timestamp,
        features,
        service,
        full_names,
        created_before,
        output,
    } = args;
    let project = ctx.project()?;
    let p = ctx.printer;
    let outcome = cairn_feature::historical(
        &project,
        &HistoricalOptions {
            entities: ctx.cwd.join(&entities),
            timestamp,
            features,
            service,
            full_names,
            created_before,
            output: ctx.cwd.join(&output),
        },
    )?;
    p.json("feature-historical", &outcome)?;
    p.status(format!(
        "wrote {} ({}) to {}",
        plural(outcome.rows, "row", "rows"),
        outcome.columns.join(", "),
        output.display()
    ));
    Ok(Exit::Ok)
}
