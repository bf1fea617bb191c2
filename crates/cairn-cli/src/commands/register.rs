//! `cairn register RUN` and `cairn register --best METRIC --model SPEC`.

use cairn_registry::{BestBy, RegisterOptions};

use super::Context;
use crate::CmdResult;
use crate::cli::RegisterArgs;
use crate::error::Exit;
use crate::printer::{BOLD, GREEN, paint};
use crate::progress::Bars;

pub fn run(ctx: &Context<'_>, args: RegisterArgs) -> CmdResult {
    let RegisterArgs {
        run,
        best,
        model,
        asc,
        name,
        description,
    } = args;
    let project = ctx.project()?;
    let p = ctx.printer;
    let best = match (best, model) {
        (Some(metric), Some(spec)) => Some(BestBy {
            metric,
            spec,
            ascending: asc.then_some(true),
        }),
        _ => None,
    };
    let outcome = cairn_registry::register(
        &project,
        &RegisterOptions {
            run,
            best,
            name,
            description,
        },
        &Bars::new(p),
    )?;
    p.json("register", &outcome)?;
    let reference = format!("{}@{}", outcome.name, outcome.version);
    p.line(format!(
        "{} {}  run {}",
        paint(GREEN.bold(), "registered"),
        paint(BOLD, &reference),
        outcome.entry.run
    ))?;
    if let Some(best) = &outcome.best {
        p.line(format!(
            "  chosen     the best {} ({:.4}) of {} finished runs of {}",
            best.metric, best.value, best.candidates, outcome.entry.spec
        ))?;
    }
    p.line(format!(
        "  artifact   {}  {}",
        super::models::digest(p, &outcome.entry.artifact),
        crate::printer::bytes(outcome.entry.size)
    ))?;
    p.line(format!(
        "  metrics    {}",
        super::models::metrics(&outcome.entry)
    ))?;
    p.status(format!(
        "next: `cairn validate {reference}`, then `cairn models promote {reference} --to staging`; commit cairn.lock to share it"
    ));
    Ok(Exit::Ok)
}
