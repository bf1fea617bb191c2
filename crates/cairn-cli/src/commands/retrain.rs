//! `cairn retrain NAME [--if-needed] [--promote auto|manual]`: the `[retrain.NAME]` loop once,
//! its report as a table of steps (or one JSON document), exit 1 when the retrained version
//! is not promoted or a step failed.

use cairn_core::retrain::PromotePolicy;
use cairn_pipeline::{RetrainEnd, RetrainOptions, RetrainReport, StepName, StepStatus};

use super::Context;
use crate::CmdResult;
use crate::cli::{PromoteArg, RetrainArgs};
use crate::error::Exit;
use crate::printer::{BOLD, DIM, GREEN, OutputError, Printer, RED, YELLOW, paint};
use crate::progress::{Bars, TrainBars};

pub fn run(ctx: &Context<'_>, args: RetrainArgs) -> CmdResult {
    let RetrainArgs {
        model,
        if_needed,
        promote,
    } = args;
    let project = ctx.project()?;
    let p = ctx.printer;
    let progress = Progress::new(p);
    let result = cairn_pipeline::retrain(
        &project,
        &RetrainOptions {
            model,
            if_needed,
            promote: promote.map(policy),
            now_us: cairn_core::time::now_micros(),
        },
        &progress,
    );
    progress.train.finish();
    let report = result?;
    p.json("retrain", &report)?;
    render(p, &report)?;
    Ok(exit(&report))
}

pub fn policy(arg: PromoteArg) -> PromotePolicy {
    match arg {
        PromoteArg::Auto => PromotePolicy::Auto,
        PromoteArg::Manual => PromotePolicy::Manual,
    }
}

/// 0 done or not needed; 1 retrained but not promoted, or a step failed.
pub fn exit(report: &RetrainReport) -> Exit {
    if report.failed() {
        Exit::CheckFailed
    } else {
        Exit::Ok
    }
}

/// The bars of the training and of the store's transfers, and each step on stderr.
pub struct Progress<'a> {
    printer: &'a Printer,
    pub train: TrainBars<'a>,
    store: Bars<'a>,
}

impl<'a> Progress<'a> {
    pub fn new(printer: &'a Printer) -> Self {
        Progress {
            printer,
            train: TrainBars::new(printer),
            store: Bars::new(printer),
        }
    }
}

impl cairn_train::TrainProgress for Progress<'_> {
    fn phase(&self, phase: &str) {
        self.train.phase(phase);
    }
    fn fit(&self, done: usize, total: usize) {
        self.train.fit(done, total);
    }
    fn waiting_for_lock(&self, holder: &str) {
        self.printer.waiting_for_lock(holder);
    }
}

impl cairn_store::Progress for Progress<'_> {
    fn start(&self, phase: &str, files: u64, bytes: u64) {
        self.store.start(phase, files, bytes);
    }
    fn advance(&self, files: u64, bytes: u64) {
        self.store.advance(files, bytes);
    }
    fn finish(&self) {
        cairn_store::Progress::finish(&self.store);
    }
    fn waiting_for_lock(&self, holder: &str) {
        self.printer.waiting_for_lock(holder);
    }
}

impl cairn_pipeline::RetrainProgress for Progress<'_> {
    fn step(&self, step: StepName) {
        if self.printer.verbose > 0 {
            self.printer.status(format!("retrain: {}", step.as_str()));
        }
    }
}

/// The end of a retrain in a few words.
pub fn end_text(end: &RetrainEnd) -> String {
    match end {
        RetrainEnd::NotNeeded => "not needed: no drift, no performance drop".to_owned(),
        RetrainEnd::Promoted { version } => format!("version {version} promoted to production"),
        RetrainEnd::Staged { version } => {
            format!("version {version} passed every gate and waits in staging")
        }
        RetrainEnd::Unchanged { version } => {
            format!("the retrained model is version {version} already: nothing changed")
        }
        RetrainEnd::NotPromoted { version, blocked } => {
            format!("version {version} left in staging, not promoted to production: {blocked}")
        }
        RetrainEnd::Failed { step, message } => {
            format!("failed at {}: {message}", step.as_str())
        }
        RetrainEnd::Stopped { before } => {
            format!("stopped before {}: production as it was", before.as_str())
        }
    }
}

fn render(p: &Printer, report: &RetrainReport) -> Result<(), OutputError> {
    p.line(format!(
        "{} {} (spec {}, promote {}, production {})",
        paint(BOLD, "retrain"),
        paint(BOLD, &report.model),
        report.spec,
        report.promote.as_str(),
        report
            .production
            .map_or_else(|| "none".to_owned(), |v| format!("version {v}"))
    ))?;
    let width = report
        .steps
        .iter()
        .map(|s| s.step.as_str().len())
        .max()
        .unwrap_or(0)
        .max(4);
    p.line(paint(
        BOLD,
        format!("  {:<width$}  {:<7}  detail", "step", "result"),
    ))?;
    for step in &report.steps {
        let status = format!("{:<7}", step.status.as_str());
        let status = match step.status {
            StepStatus::Done => paint(GREEN, status),
            StepStatus::Skipped => paint(DIM, status),
            StepStatus::Failed => paint(RED, status),
        };
        p.line(format!(
            "  {:<width$}  {status}  {}",
            step.step.as_str(),
            step.detail
        ))?;
    }
    let end = end_text(&report.end);
    p.line(match &report.end {
        RetrainEnd::NotPromoted { .. } => paint(YELLOW.bold(), end),
        RetrainEnd::Failed { .. } => paint(RED.bold(), end),
        _ => paint(GREEN.bold(), end),
    })?;
    if matches!(
        report.end,
        RetrainEnd::Failed { .. } | RetrainEnd::NotPromoted { .. }
    ) {
        p.status("this retrain did not change production");
    }
    Ok(())
}
