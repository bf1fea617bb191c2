//! `cairn register RUN` and `cairn register --best METRIC --model SPEC`.

use cairn_registry::{BestBy, RegisterOptions, Registered};

use super::Context;
use crate::CmdResult;
use crate::cli::RegisterArgs;
use crate::error::Exit;
use crate::printer::{BOLD, GREEN, OutputError, Printer, paint};
use crate::progress::Bars;

pub fn run(ctx: &Context<'_>, args: RegisterArgs) -> CmdResult {
    let RegisterArgs {
        run,
        best,
        model,
        asc,
        name,
        description,
        if_new,
        alias,
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
            existing_ok: if_new,
            alias,
        },
        &Bars::new(p),
    )?;
    p.json("register", &outcome)?;
    render(p, &outcome)?;
    Ok(Exit::Ok)
}

/// The lines of a registration (also after `train --register`).
pub fn render(p: &Printer, outcome: &Registered) -> Result<(), OutputError> {
    let reference = format!("{}@{}", outcome.name, outcome.version);
    if outcome.existing {
        p.line(format!(
            "{} {}  run {} (the same artifact: nothing registered)",
            paint(GREEN.bold(), "already registered"),
            paint(BOLD, &reference),
            outcome.entry.run
        ))?;
        aliased(p, outcome)?;
        return Ok(());
    }
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
    aliased(p, outcome)?;
    p.status(format!(
        "next: `cairn validate {reference}`, then `cairn models promote {reference} --to staging`; commit cairn.lock to share it"
    ));
    Ok(())
}

fn aliased(p: &Printer, outcome: &Registered) -> Result<(), OutputError> {
    if let Some(a) = &outcome.aliased {
        let was = a
            .previous
            .map(|v| format!(" (was {}@{v})", a.name))
            .unwrap_or_default();
        p.line(format!(
            "  alias      {} → {}@{}{was}",
            paint(BOLD, format!("{}@{}", a.name, a.alias)),
            a.name,
            a.version
        ))?;
    }
    Ok(())
}
