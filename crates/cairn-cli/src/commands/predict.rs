//! `cairn predict NAME@REF --input FILE [-o OUT] [--entities]`: batch scoring through the
//! server's scoring path, with a progress bar in rows.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn_serve::UnknownFields;
use cairn_serve::predict::{PredictOptions, Progress};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Context;
use crate::CmdResult;
use crate::cli::PredictArgs;
use crate::error::{CliError, Exit};
use crate::printer::{GREEN, Printer, paint, plural};

pub fn run(ctx: &Context<'_>, args: PredictArgs) -> CmdResult {
    let PredictArgs {
        reference,
        input,
        output,
        entities,
        ignore_unknown,
        batch_rows,
    } = args;
    let p = ctx.printer;
    if output.is_none() && p.json {
        return Err(CliError::usage(
            "with --json, the predictions need a file: standard output holds the JSON document",
            Some("add -o predictions.csv (or .parquet)"),
        )
        .into());
    }
    let project = Arc::new(ctx.project()?);
    let input = ctx.cwd.join(input);
    let output = output.map(|o| ctx.cwd.join(o));
    let bars = RowBars::new(p);
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    let outcome = cairn_serve::predict(
        &project,
        &PredictOptions {
            reference,
            input,
            output,
            entities,
            unknown: if ignore_unknown {
                UnknownFields::Ignore
            } else {
                UnknownFields::Reject
            },
            batch_rows,
            now: std::time::SystemTime::now(),
        },
        &mut lock,
        &bars,
    );
    drop(lock);
    let outcome = match outcome {
        Err(cairn_serve::PredictError::Stdout(e)) => {
            return Err(if e.kind() == std::io::ErrorKind::BrokenPipe {
                crate::printer::OutputError::BrokenPipe
            } else {
                crate::printer::OutputError::Failed(e)
            }
            .into());
        }
        other => other?,
    };
    p.json("predict", &outcome)?;
    if let Some(out) = &outcome.output {
        let imputed = outcome
            .imputed_rows
            .map(|n| format!(", {} with imputed inputs", plural(n, "row", "rows")))
            .unwrap_or_default();
        p.status(format!(
            "{} {} with {}@{} in {:.2} s{imputed}: {}",
            paint(GREEN.bold(), "scored"),
            plural(outcome.rows, "row", "rows"),
            outcome.model,
            outcome.version,
            outcome.seconds,
            out.display()
        ));
    }
    Ok(Exit::Ok)
}

/// A bar in rows (a spinner when the total is not known), on a terminal only.
struct RowBars {
    enabled: bool,
    bar: Mutex<Option<ProgressBar>>,
}

impl RowBars {
    fn new(printer: &Printer) -> Self {
        Self {
            enabled: printer.progress_enabled(),
            bar: Mutex::new(None),
        }
    }
}

impl Progress for RowBars {
    fn start(&self, total: Option<u64>) {
        if !self.enabled {
            return;
        }
        let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
        let template = if total.is_some() {
            "{prefix:>12.cyan.bold} [{bar:25}] {human_pos}/{human_len} rows {per_sec} ETA {eta}"
        } else {
            "{prefix:>12.cyan.bold} {spinner} {human_pos} rows {per_sec}"
        };
        bar.set_style(
            ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_prefix("scoring");
        bar.enable_steady_tick(Duration::from_millis(200));
        *self.bar.lock().unwrap_or_else(|p| p.into_inner()) = Some(bar);
    }

    fn advance(&self, rows: u64) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            bar.inc(rows);
        }
    }

    fn finish(&self) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(|p| p.into_inner()).take() {
            bar.finish_and_clear();
        }
    }
}
