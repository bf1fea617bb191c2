//! `cairn reproduce NAME@REF [--workdir DIR]`: the version rebuilt from what it pins, the new
//! artifact's digest compared with the pinned one.

use cairn_pipeline::{InputSource, ReproduceOptions, ReproduceOutcome};

use super::Context;
use crate::CmdResult;
use crate::cli::ReproduceArgs;
use crate::error::Exit;
use crate::printer::{BOLD, DIM, GREEN, OutputError, Printer, RED, paint};
use crate::progress::TrainBars;

pub fn run(ctx: &Context<'_>, args: ReproduceArgs) -> CmdResult {
    let ReproduceArgs { reference, workdir } = args;
    let project = ctx.project()?;
    let p = ctx.printer;
    let bars = TrainBars::new(p);
    let result = cairn_pipeline::reproduce(
        &project,
        &ReproduceOptions {
            reference,
            workdir: workdir.map(|d| ctx.cwd.join(d)),
        },
        &bars,
    );
    bars.finish();
    let outcome = result?;
    for w in &outcome.warnings {
        p.warn(w);
    }
    p.json("reproduce", &outcome)?;
    render(p, &outcome, ctx.printer.verbose > 0)?;
    if outcome.kept {
        p.status(format!(
            "the rebuild is in {} (its checkout, inputs, lock and a store with the rebuilt artifact)",
            outcome.workdir.display()
        ));
    }
    Ok(if outcome.reproduced {
        Exit::Ok
    } else {
        Exit::CheckFailed
    })
}

/// A digest or commit id cut to 12 characters (unless `full`); any other text as it is.
fn short(text: &str, full: bool) -> &str {
    let id = matches!(text.len(), 40 | 64) && text.bytes().all(|b| b.is_ascii_hexdigit());
    if id && !full { &text[..12] } else { text }
}

fn render(p: &Printer, o: &ReproduceOutcome, full: bool) -> Result<(), OutputError> {
    p.line(format!(
        "{} {}@{} (run {}, spec {})",
        paint(BOLD, "rebuilt"),
        o.model,
        o.version,
        o.run,
        o.spec
    ))?;
    for input in &o.inputs {
        let from = match &input.from {
            InputSource::Git => "git".to_owned(),
            InputSource::LocalStore => "local store".to_owned(),
            InputSource::Remote { remote } => format!("fetched from remote {remote}"),
        };
        p.line(format!(
            "  {:<13} {}  {}  {}",
            input.kind.as_str(),
            input.name,
            paint(DIM, short(&input.digest, full)),
            paint(DIM, format!("({from})"))
        ))?;
    }
    p.line(format!(
        "  {:<13} pinned {}  rebuilt {}",
        "artifact",
        short(&o.pinned.to_hex(), full),
        short(&o.rebuilt.to_hex(), full)
    ))?;
    if o.reproduced {
        p.line(format!("reproduced: {}", paint(GREEN.bold(), "yes")))?;
    } else {
        p.line(format!("reproduced: {}", paint(RED.bold(), "no")))?;
    }
    // Identical bytes may still come from another cairn or platform: said, too.
    {
        let width = o
            .differences
            .iter()
            .map(|d| d.what.chars().count())
            .max()
            .unwrap_or(0)
            .max(13);
        for d in &o.differences {
            p.line(format!(
                "  {:<width$} pinned {}  rebuilt {}",
                d.what,
                short(&d.pinned, full),
                short(&d.rebuilt, full)
            ))?;
        }
    }
    Ok(())
}
