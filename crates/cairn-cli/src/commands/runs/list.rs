use cairn_train::{RunList, RunStatus, RunSummary, Selection};

use super::Context;
use crate::CmdResult;
use crate::cli::RunsListArgs;
use crate::error::{CliError, Exit};
use crate::printer::{BOLD, DIM, GREEN, RED, paint, plural};

/// The metrics shown in lists, by task.
const CLASSIFICATION: [&str; 4] = ["accuracy", "f1", "roc_auc", "log_loss"];
const REGRESSION: [&str; 3] = ["rmse", "mae", "r2"];

pub fn run(ctx: &Context<'_>, args: RunsListArgs) -> CmdResult {
    let RunsListArgs {
        model,
        sort,
        asc,
        desc,
        filter,
        limit,
        remote,
    } = args;
    let project = ctx.project()?;
    let p = ctx.printer;
    let conditions = match &filter {
        Some(text) => cairn_train::query::parse_where(text).map_err(|e| {
            CliError::usage(
                format!("--where: {e}"),
                Some("fields are metrics (accuracy, rmse...), params.NAME, tags.NAME, model, status, algorithm"),
            )
        })?,
        None => Vec::new(),
    };
    let selection = Selection {
        model,
        conditions,
        sort,
        ascending: match (asc, desc) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        },
        limit,
    };
    let runs: Vec<RunSummary> = if let Some(remote) = &remote {
        let (info, runs) = super::remote_runs(p, &project, remote, &selection)?;
        if p.json {
            let list = RunList {
                runs: runs.records,
                remote: Some(info.name),
            };
            p.json("runs-list", &list)?;
            return Ok(Exit::Ok);
        }
        p.status(format!("runs on {} ({})", info.name, info.url));
        runs.records.iter().map(RunSummary::of).collect()
    } else if p.json {
        p.json("runs-list", &cairn_train::list_runs(&project, &selection)?)?;
        return Ok(Exit::Ok);
    } else {
        cairn_train::list_summaries(&project, &selection)?.runs
    };
    print_table(p, &runs)?;
    p.status(plural(runs.len() as u64, "run", "runs"));
    Ok(Exit::Ok)
}

/// One line per run, with the main metrics of the tasks among them and the tags.
fn print_table(
    p: &crate::printer::Printer,
    runs: &[RunSummary],
) -> Result<(), crate::printer::OutputError> {
    let any_classification = runs.iter().any(|r| r.metrics.contains_key("accuracy"));
    let any_regression = runs.iter().any(|r| r.metrics.contains_key("rmse"));
    let mut columns: Vec<&str> = Vec::new();
    if any_classification {
        columns.extend(CLASSIFICATION);
    }
    if any_regression {
        columns.extend(REGRESSION);
    }
    let mut header = format!(
        "{:<12}  {:<16}  {:<8}  {:<27}  {:<24}",
        "run", "model", "status", "started", "algorithm"
    );
    for c in &columns {
        header.push_str(&format!("  {c:>9}"));
    }
    p.line(paint(BOLD, header.trim_end()))?;
    for run in runs {
        let status = match run.status {
            RunStatus::Finished => paint(GREEN, format!("{:<8}", "finished")),
            RunStatus::Failed => paint(RED, format!("{:<8}", "failed")),
        };
        let mut line = format!(
            "{:<12}  {:<16}  {status}  {:<27}  {:<24}",
            run.id, run.model, run.started, run.algorithm
        );
        for c in &columns {
            let value = run
                .metrics
                .get(*c)
                .map_or_else(|| "-".to_owned(), |v| format!("{v:.4}"));
            line.push_str(&format!("  {value:>9}"));
        }
        if !run.tags.is_empty() {
            let tags: Vec<String> = run.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
            line.push_str(&format!("  {}", paint(DIM, tags.join(","))));
        }
        p.line(line.trim_end())?;
    }
    Ok(())
}
