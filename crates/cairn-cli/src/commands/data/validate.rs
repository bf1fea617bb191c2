use cairn_data::ValidateOptions;

use super::Context;
use crate::CmdResult;
use crate::cli::ValidateArgs;
use crate::error::Exit;
use crate::printer::{DIM, GREEN, RED, paint, plural};

pub fn run(ctx: &Context<'_>, args: ValidateArgs) -> CmdResult {
    let ValidateArgs { paths } = args;
    let project = ctx.project()?;
    let p = ctx.printer;
    let outcome = cairn_data::validate(
        &project,
        &ValidateOptions {
            paths,
            cwd: ctx.cwd.clone(),
            now: std::time::SystemTime::now(),
        },
    )?;
    p.json("data-validate", &outcome)?;
    for dataset in &outcome.datasets {
        print_dataset(p, dataset)?;
    }
    let failed: usize = outcome
        .datasets
        .iter()
        .map(|d| d.checks.iter().filter(|c| !c.passed).count())
        .sum();
    let total: usize = outcome.datasets.iter().map(|d| d.checks.len()).sum();
    if failed == 0 {
        p.status(format!(
            "{} passed in {}",
            plural(total as u64, "check", "checks"),
            plural(outcome.datasets.len() as u64, "dataset", "datasets")
        ));
        Ok(Exit::Ok)
    } else {
        p.status(format!(
            "{} of {} failed",
            plural(failed as u64, "check", "checks"),
            total
        ));
        Ok(Exit::CheckFailed)
    }
}

/// A command stopped by data that failed its expectations (`train`, `feature materialize`):
/// the validation report is the outcome (the one JSON document, as from `data validate`, or
/// the checks in human form) and `e` goes to stderr only.
pub(crate) fn validation_failed(
    p: &crate::printer::Printer,
    report: cairn_data::DatasetReport,
    e: crate::error::CliError,
) -> CmdResult {
    let outcome = cairn_data::ValidateOutcome {
        passed: false,
        datasets: vec![report],
    };
    p.json("data-validate", &outcome)?;
    for dataset in &outcome.datasets {
        print_dataset(p, dataset)?;
    }
    Ok(crate::error::report_after_outcome(p, e))
}

/// One dataset's checks, a line each, with the example rows of failed ones.
pub(crate) fn print_dataset(
    p: &crate::printer::Printer,
    dataset: &cairn_data::DatasetReport,
) -> Result<(), crate::printer::OutputError> {
    p.line(format!(
        "{}  {}",
        dataset.path,
        paint(DIM, plural(dataset.rows, "row", "rows"))
    ))?;
    for check in &dataset.checks {
        let mark = if check.passed {
            paint(GREEN, "ok  ")
        } else {
            paint(RED, "FAIL")
        };
        let what = format!(
            "{}  {}: {}",
            check.column.as_deref().unwrap_or("(table)"),
            check.check,
            check.expected
        );
        let mut line = format!("  {mark} {what}");
        if check.failing > 0 && !check.passed {
            line.push_str(&format!(
                " — {}",
                plural(check.failing, "failing row", "failing rows")
            ));
        }
        if let Some(observed) = &check.observed
            && (!check.passed || p.verbose > 0)
        {
            line.push_str(&format!(" — found {observed}"));
        }
        p.line(line)?;
        for example in &check.examples {
            p.line(format!(
                "         {}",
                paint(DIM, format!("row {}: {}", example.row, example.value))
            ))?;
        }
    }
    Ok(())
}
