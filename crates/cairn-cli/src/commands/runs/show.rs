use serde_json::Value;

use super::Context;
use crate::CmdResult;
use crate::cli::{RemoteRuns, RunsShowArgs};
use crate::error::Exit;
use crate::printer::{BOLD, DIM, RED, bytes, paint};

pub fn run(ctx: &Context<'_>, args: RunsShowArgs) -> CmdResult {
    let RunsShowArgs {
        id,
        on: RemoteRuns { remote },
    } = args;
    let project = ctx.project()?;
    let p = ctx.printer;
    let run = match &remote {
        Some(remote) => {
            super::remote_runs_named(p, &project, remote, std::slice::from_ref(&id))?.remove(0)
        }
        None => cairn_train::get_run(&project, &id)?,
    };
    p.json("runs-show", &run)?;
    let field = |k: &str, v: String| p.line(format!("{:<14}{v}", format!("{k}:")));
    field("run", paint(BOLD, &run.id))?;
    field("model", run.model.clone())?;
    field("status", run.status.as_str().to_owned())?;
    if let Some(e) = &run.error {
        field("error", paint(RED, e))?;
    }
    field("algorithm", run.algorithm.clone())?;
    field("started", run.started.clone())?;
    field("duration", format!("{:.2} s", run.duration_s))?;
    field(
        "code",
        format!(
            "{}{}",
            run.code.commit.as_deref().unwrap_or("(no commit)"),
            if run.code.dirty {
                " (dirty worktree)"
            } else {
                ""
            }
        ),
    )?;
    for (path, digest) in &run.data {
        field("data", format!("{path} {digest}"))?;
    }
    for (view, digest) in &run.features {
        field("features", format!("{view} {digest}"))?;
    }
    if run.untracked {
        field("untracked", "yes (--allow-untracked)".to_owned())?;
    }
    field("validation", run.validation.clone())?;
    field("seed", run.seed.to_string())?;
    field("split", run.split.to_string())?;
    field(
        "rows",
        format!("{} train, {} test", run.train_rows, run.test_rows),
    )?;
    if let Some(a) = &run.artifact {
        field(
            "artifact",
            format!("{a} ({})", bytes(run.artifact_size.unwrap_or(0))),
        )?;
    }
    if !run.tags.is_empty() {
        let tags: Vec<String> = run.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        field("tags", tags.join(", "))?;
    }
    p.line(paint(BOLD, "params:"))?;
    for (k, v) in &run.params {
        p.line(format!(
            "  {k:<20}{v}{}",
            if run.param_overridden(k) {
                paint(DIM, "  (--set)")
            } else {
                String::new()
            }
        ))?;
    }
    p.line(paint(BOLD, "metrics:"))?;
    for (k, v) in &run.metrics {
        p.line(format!("  {k:<20}{v:.6}"))?;
    }
    if let Some(report) = &run.report {
        if let Some(Value::Array(rows)) = report.get("confusion") {
            p.line(paint(
                BOLD,
                "confusion (rows: true class, columns: predicted):",
            ))?;
            for row in rows {
                p.line(format!("  {row}"))?;
            }
        }
        if let Some(Value::Array(classes)) = report.get("per_class") {
            p.line(paint(BOLD, "per class:"))?;
            for (i, c) in classes.iter().enumerate() {
                let label = run.labels.as_ref().and_then(|l| l.get(i)).map_or_else(
                    || i.to_string(),
                    |l| l.as_str().map_or_else(|| l.to_string(), str::to_owned),
                );
                let num = |k: &str| c.get(k).and_then(Value::as_f64).unwrap_or(f64::NAN);
                p.line(format!(
                    "  {label:<12} precision {:.4}  recall {:.4}  f1 {:.4}  support {}",
                    num("precision"),
                    num("recall"),
                    num("f1"),
                    c.get("support").map_or_else(String::new, Value::to_string)
                ))?;
            }
        }
    }
    if let Some(b) = run.boosting() {
        p.line(paint(BOLD, "boosting:"))?;
        let kept = if b.early_stopped || b.validation_rows > 0 {
            format!(
                "  iterations          {} kept of {} run (early stopping on {} rows{})",
                b.best_iteration,
                b.iterations_run,
                b.validation_rows,
                b.validation_loss
                    .map_or_else(String::new, |l| format!(", best loss {l:.6}"))
            )
        } else {
            format!("  iterations          {}", b.best_iteration)
        };
        p.line(kept)?;
    }
    if let Some(importances) = run.importances() {
        p.line(paint(BOLD, "feature importances (total gain):"))?;
        let total: f64 = importances.iter().map(|i| i.gain).sum();
        for i in &importances {
            let share = if total > 0.0 { i.gain / total } else { 0.0 };
            p.line(format!(
                "  {:<20}{:.4}  {}",
                i.feature,
                i.gain,
                paint(DIM, format!("{:.1}%", 100.0 * share))
            ))?;
        }
    }
    if !run.phases.is_empty() {
        let phases: Vec<String> = run
            .phases
            .iter()
            .map(|(k, v)| format!("{k} {v:.3} s"))
            .collect();
        p.line(format!(
            "{:<14}{}",
            "phases:",
            paint(DIM, phases.join(", "))
        ))?;
    }
    Ok(Exit::Ok)
}
