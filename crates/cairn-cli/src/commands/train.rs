//! `cairn train NAME` and `cairn runs list | show | compare | rm`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

use cairn_train::{RunRecord, TrainOptions};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;

use super::Context;
use crate::CmdResult;
use crate::cli::{RunsCommand, RunsCompareArgs, RunsListArgs, RunsRmArgs, RunsShowArgs, TrainArgs};
use crate::error::{CliError, Exit};
use crate::printer::{BOLD, DIM, GREEN, RED, YELLOW, bytes, paint, plural};

/// Phases on a spinner, trees on a bar; stderr, terminals only.
struct TrainBars {
    enabled: bool,
    quiet: bool,
    bar: Mutex<Option<ProgressBar>>,
}

impl TrainBars {
    fn finish(&self) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(|p| p.into_inner()).take() {
            bar.finish_and_clear();
        }
    }
}

impl cairn_train::TrainProgress for TrainBars {
    fn phase(&self, phase: &str) {
        if !self.enabled {
            return;
        }
        let mut state = self.bar.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(bar) = state.take() {
            bar.finish_and_clear();
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{prefix:>12.cyan.bold} {spinner} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(phase.to_owned());
        bar.enable_steady_tick(Duration::from_millis(120));
        *state = Some(bar);
    }

    fn waiting_for_lock(&self, holder: &str) {
        if !self.quiet {
            #[allow(clippy::print_stderr)]
            {
                eprintln!(
                    "waiting for {holder} to release the project's write lock (.cairn/lock)…"
                );
            }
        }
    }

    fn fit(&self, done: usize, total: usize) {
        if !self.enabled || total <= 1 {
            return;
        }
        let state = self.bar.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(bar) = state.as_ref() {
            if bar.length() != Some(total as u64) {
                bar.set_length(total as u64);
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix:>12.cyan.bold} [{bar:25}] {pos}/{len} trees {elapsed} ETA {eta}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
            }
            bar.set_position(done as u64);
        }
    }
}

fn key_value(flag: &str, text: &str) -> Result<(String, String), CliError> {
    match text.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.trim().to_owned())),
        _ => Err(CliError::usage(
            format!("{flag} {text}: expected KEY=VALUE"),
            Some("e.g. --set n_trees=200, --tag team=risk"),
        )),
    }
}

/// The metrics shown in lists, by task.
const CLASSIFICATION: [&str; 4] = ["accuracy", "f1", "roc_auc", "log_loss"];
const REGRESSION: [&str; 3] = ["rmse", "mae", "r2"];

fn metric_text(metrics: &BTreeMap<String, f64>, name: &str) -> String {
    metrics
        .get(name)
        .map_or_else(|| "-".to_owned(), |v| format!("{v:.4}"))
}

pub fn train(ctx: &Context<'_>, args: TrainArgs) -> CmdResult {
    let project = ctx.project()?;
    let p = ctx.printer;
    let overrides = args
        .set
        .iter()
        .map(|s| key_value("--set", s))
        .collect::<Result<Vec<_>, _>>()?;
    let tags = args
        .tags
        .iter()
        .map(|s| key_value("--tag", s))
        .collect::<Result<BTreeMap<_, _>, _>>()?;
    let bars = TrainBars {
        enabled: p.progress_enabled(),
        quiet: p.quiet,
        bar: Mutex::new(None),
    };
    // A spec over an entity table: the point-in-time join to its feature views first, by the
    // feature store (the same code as `cairn feature historical`).
    let prepared = match project.config().model.get(&args.model) {
        Some(spec) if spec.entities.is_some() => {
            let entities = spec.entities.as_deref().unwrap_or_default();
            // What would stop `train` stops it before the join.
            cairn_train::check_index(&project)?;
            cairn_train::TrainProgress::phase(&bars, "join");
            let joined = cairn_feature::historical_frame(
                &project,
                &cairn_feature::HistoricalOptions {
                    entities: project.root().join(entities),
                    timestamp: spec
                        .timestamp
                        .clone()
                        .unwrap_or_else(|| "event_timestamp".to_owned()),
                    features: spec.features.clone().unwrap_or_default(),
                    service: spec.service.clone(),
                    full_names: false,
                    created_before: false,
                    output: std::path::PathBuf::new(),
                },
            )?;
            Some(cairn_train::PreparedData {
                frame: joined.frame,
                feature_columns: joined.feature_columns,
                tables: joined
                    .tables
                    .into_iter()
                    .map(|(view, digest)| (view, digest.to_hex()))
                    .collect(),
            })
        }
        _ => None,
    };
    let result = cairn_train::train(
        &project,
        &TrainOptions {
            prepared,
            model: args.model,
            overrides,
            tags,
            allow_untracked: args.allow_untracked,
            skip_validation: args.skip_validation,
        },
        &bars,
    );
    bars.finish();
    let outcome = match result {
        Err(cairn_train::TrainError::ValidationFailed { model, report }) => {
            p.json(
                "data-validate",
                &serde_json::json!({ "passed": false, "datasets": [&report] }),
            )?;
            super::data::validate::print_dataset(p, &report)?;
            let e = CliError::from(cairn_train::TrainError::ValidationFailed { model, report });
            return Ok(crate::error::report_after_outcome(p, e));
        }
        other => other?,
    };
    for w in &outcome.warnings {
        p.warn(w);
    }
    let run = &outcome.record;
    p.json("train", run)?;
    p.line(format!(
        "{} {} ({})  run {}",
        paint(GREEN.bold(), "trained"),
        run.model,
        run.algorithm,
        paint(BOLD, &run.id)
    ))?;
    for (path, digest) in &run.data {
        p.line(format!("  data      {path}  {}", paint(DIM, &digest[..12])))?;
    }
    p.line(format!(
        "  rows      {} train, {} test",
        run.train_rows, run.test_rows
    ))?;
    let metrics: Vec<String> = run
        .metrics
        .iter()
        .map(|(k, v)| format!("{k} {v:.4}"))
        .collect();
    p.line(format!("  metrics   {}", metrics.join("  ")))?;
    if let Some(Value::Array(rows)) = run.report.as_ref().and_then(|r| r.get("confusion")) {
        let cells: Vec<String> = rows.iter().map(Value::to_string).collect();
        p.line(format!("  confusion {}", paint(DIM, cells.join(" "))))?;
    }
    if let (Some(artifact), Some(size)) = (&run.artifact, run.artifact_size) {
        p.line(format!(
            "  artifact  {} ({})",
            paint(DIM, &artifact[..12]),
            bytes(size)
        ))?;
    }
    p.line(format!(
        "  code      {}{}",
        run.code
            .commit
            .as_deref()
            .map_or("(no commit)", |c| &c[..c.len().min(12)]),
        if run.code.dirty { " (dirty)" } else { "" }
    ))?;
    let fit = run.phases.get("fit").copied().unwrap_or_default();
    p.status(format!(
        "run {} finished in {:.2} s (fit {:.2} s)",
        run.id, run.duration_s, fit
    ));
    Ok(Exit::Ok)
}

pub fn runs(ctx: &Context<'_>, command: RunsCommand) -> CmdResult {
    match command {
        RunsCommand::List(args) => list(ctx, args),
        RunsCommand::Show(args) => show(ctx, args),
        RunsCommand::Compare(args) => compare(ctx, args),
        RunsCommand::Rm(args) => rm(ctx, args),
    }
}

fn list(ctx: &Context<'_>, args: RunsListArgs) -> CmdResult {
    let project = ctx.project()?;
    let p = ctx.printer;
    let conditions = match &args.filter {
        Some(text) => cairn_train::query::parse_where(text).map_err(|e| {
            CliError::usage(
                format!("--where: {e}"),
                Some("fields are metrics (accuracy, rmse...), params.NAME, tags.NAME, model, status, algorithm"),
            )
        })?,
        None => Vec::new(),
    };
    let ascending = if args.asc {
        Some(true)
    } else if args.desc {
        Some(false)
    } else {
        None
    };
    // Filter, sort and cut: the same for whole records (JSON) and summaries (the table).
    fn select<T: cairn_train::Fields>(
        runs: Vec<T>,
        conditions: &[cairn_train::query::Condition],
        args: &RunsListArgs,
        ascending: Option<bool>,
    ) -> Vec<T> {
        let mut runs: Vec<T> = runs
            .into_iter()
            .filter(|r| cairn_train::query::matches(r, conditions))
            .collect();
        if let Some(field) = &args.sort {
            cairn_train::query::sort(&mut runs, field, ascending);
        }
        if let Some(n) = args.limit {
            runs.truncate(n);
        }
        runs
    }
    let runs = if let Some(remote) = &args.remote {
        let (info, records) = remote_records(p, &project, remote, args.model.as_deref())?;
        let runs = select(records, &conditions, &args, ascending);
        if p.json {
            p.json(
                "runs-list",
                &serde_json::json!({ "runs": runs, "remote": info.name }),
            )?;
            return Ok(Exit::Ok);
        }
        p.status(format!("runs on {} ({})", info.name, info.url));
        runs.iter().map(cairn_train::RunSummary::of).collect()
    } else if p.json {
        let runs = cairn_train::list_runs(&project, args.model.as_deref())?;
        let runs = select(runs, &conditions, &args, ascending);
        p.json("runs-list", &serde_json::json!({ "runs": runs }))?;
        return Ok(Exit::Ok);
    } else {
        let runs = cairn_train::list_summaries(&project, args.model.as_deref())?;
        select(runs, &conditions, &args, ascending)
    };
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
    for run in &runs {
        let status = match run.status {
            cairn_train::RunStatus::Finished => paint(GREEN, format!("{:<8}", "finished")),
            cairn_train::RunStatus::Failed => paint(RED, format!("{:<8}", "failed")),
        };
        let mut line = format!(
            "{:<12}  {:<16}  {status}  {:<27}  {:<24}",
            run.id, run.model, run.started, run.algorithm
        );
        for c in &columns {
            line.push_str(&format!("  {:>9}", metric_text(&run.metrics, c)));
        }
        if !run.tags.is_empty() {
            let tags: Vec<String> = run.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
            line.push_str(&format!("  {}", paint(DIM, tags.join(","))));
        }
        p.line(line.trim_end())?;
    }
    p.status(plural(runs.len() as u64, "run", "runs"));
    Ok(Exit::Ok)
}

/// The records of the runs on a remote (`""`: the default one; of `model`), oldest first, with
/// a warning for each one that cannot be read (missing, damaged, or written by a newer cairn).
fn remote_records(
    p: &crate::printer::Printer,
    project: &cairn_core::Project,
    remote: &str,
    model: Option<&str>,
) -> Result<(cairn_data::RemoteInfo, Vec<cairn_train::RunRecord>), CliError> {
    let remote = (!remote.is_empty()).then_some(remote);
    let listed = cairn_data::list_remote_runs(project, remote)?;
    let mut records = Vec::new();
    for run in listed.runs {
        let parsed = run.json.and_then(|json| {
            cairn_train::parse_run_record(&run.id, &json)
                .map_err(|e| format!("cannot be used ({e})"))
        });
        match parsed {
            Ok(record) if model.is_none_or(|m| record.model == m) => records.push(record),
            Ok(_) => {}
            Err(reason) => p.warn(format!(
                "run {} on {} not listed: its record {} {reason}",
                run.id, listed.remote.name, run.record
            )),
        }
    }
    records.sort_by(|a, b| a.started.cmp(&b.started).then_with(|| a.id.cmp(&b.id)));
    Ok((listed.remote, records))
}

/// The records of the runs on a remote (`""`: the default one) that `ids` name, in that order;
/// an id that names none of them (or several) is an error, as for local runs.
fn remote_runs_named(
    p: &crate::printer::Printer,
    project: &cairn_core::Project,
    remote: &str,
    ids: &[String],
) -> Result<Vec<RunRecord>, CliError> {
    let (info, records) = remote_records(p, project, remote, None)?;
    let known: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
    ids.iter()
        .map(|id| {
            let at = cairn_core::runs::resolve_id(&known, id).map_err(|e| {
                let hint = format!("`cairn runs list --remote {}` shows them", info.name);
                CliError::usage(format!("{e} on {}", info.name), Some(&hint))
            })?;
            Ok(records[at].clone())
        })
        .collect()
}

fn show(ctx: &Context<'_>, args: RunsShowArgs) -> CmdResult {
    let project = ctx.project()?;
    let p = ctx.printer;
    let run = match &args.on.remote {
        Some(remote) => {
            remote_runs_named(p, &project, remote, std::slice::from_ref(&args.id))?.remove(0)
        }
        None => cairn_train::get_run(&project, &args.id)?,
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
        let overridden =
            run.overrides.contains_key(k) || run.overrides.contains_key(&format!("params.{k}"));
        p.line(format!(
            "  {k:<20}{v}{}",
            if overridden {
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

fn compare(ctx: &Context<'_>, args: RunsCompareArgs) -> CmdResult {
    let project = ctx.project()?;
    let p = ctx.printer;
    let runs = match &args.on.remote {
        Some(remote) => remote_runs_named(p, &project, remote, &args.ids)?,
        None => args
            .ids
            .iter()
            .map(|id| cairn_train::get_run(&project, id))
            .collect::<Result<Vec<_>, _>>()?,
    };
    // Rows: identity, then every param and metric any run has.
    let mut rows: Vec<String> = ["model", "algorithm", "status", "seed", "started"]
        .map(str::to_owned)
        .to_vec();
    let params: BTreeSet<&String> = runs.iter().flat_map(|r| r.params.keys()).collect();
    rows.extend(params.iter().map(|k| format!("params.{k}")));
    let metrics: BTreeSet<&String> = runs.iter().flat_map(|r| r.metrics.keys()).collect();
    rows.extend(metrics.iter().map(|k| (*k).clone()));
    let tags: BTreeSet<&String> = runs.iter().flat_map(|r| r.tags.keys()).collect();
    rows.extend(tags.iter().map(|k| format!("tags.{k}")));
    let cell = |r: &RunRecord, field: &str| -> String {
        match r.field(field) {
            None => "-".to_owned(),
            Some(Value::String(s)) => s,
            Some(Value::Number(n)) if metrics.contains(&field.to_owned()) => {
                format!("{:.4}", n.as_f64().unwrap_or(f64::NAN))
            }
            Some(v) => v.to_string(),
        }
    };
    let table: Vec<(String, Vec<String>, bool)> = rows
        .iter()
        .map(|row| {
            let cells: Vec<String> = runs.iter().map(|r| cell(r, row)).collect();
            let differs = cells.iter().any(|c| *c != cells[0]);
            (row.clone(), cells, differs)
        })
        .collect();
    if p.json {
        let doc = serde_json::json!({
            "runs": runs.iter().map(|r| &r.id).collect::<Vec<_>>(),
            "rows": table.iter().map(|(name, cells, differs)| serde_json::json!({
                "field": name, "values": runs.iter().map(|r| r.field(name)).collect::<Vec<_>>(),
                "differs": differs, "shown": cells,
            })).collect::<Vec<_>>(),
        });
        p.json("runs-compare", &doc)?;
        return Ok(Exit::Ok);
    }
    let width = table
        .iter()
        .map(|(n, _, _)| n.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let col = runs
        .iter()
        .map(|r| r.id.len())
        .chain(table.iter().flat_map(|(_, c, _)| c.iter().map(String::len)))
        .max()
        .unwrap_or(12)
        .min(40);
    let mut header = format!("{:<width$}", "field");
    for r in &runs {
        header.push_str(&format!("  {:<col$}", r.id));
    }
    p.line(paint(BOLD, header.trim_end()))?;
    for (name, cells, differs) in &table {
        let best = if *differs && metrics.contains(name) {
            best_of(&runs, name)
        } else {
            None
        };
        let mut line = format!("{name:<width$}");
        for (i, c) in cells.iter().enumerate() {
            // The last column is not padded: no trailing spaces inside the colors.
            let text = if i + 1 == cells.len() {
                c.clone()
            } else {
                format!("{c:<col$}")
            };
            line.push_str("  ");
            line.push_str(&if best == Some(i) {
                paint(GREEN.bold(), text)
            } else if *differs {
                paint(YELLOW, text)
            } else {
                text
            });
        }
        p.line(line.trim_end())?;
    }
    p.status(format!(
        "{} compared; differences in yellow, the best value of a metric in green",
        plural(runs.len() as u64, "run", "runs")
    ));
    Ok(Exit::Ok)
}

fn best_of(runs: &[RunRecord], metric: &str) -> Option<usize> {
    let smaller = cairn_train::query::smaller_is_better(metric);
    runs.iter()
        .enumerate()
        .filter_map(|(i, r)| r.metrics.get(metric).map(|v| (i, *v)))
        .filter(|(_, v)| !v.is_nan())
        .reduce(|a, b| {
            let better = if smaller { b.1 < a.1 } else { b.1 > a.1 };
            if better { b } else { a }
        })
        .map(|(i, _)| i)
}

fn rm(ctx: &Context<'_>, args: RunsRmArgs) -> CmdResult {
    let project = ctx.project()?;
    let p = ctx.printer;
    let removed = cairn_train::remove_runs(&project, &args.ids)?;
    p.json("runs-rm", &serde_json::json!({ "removed": removed }))?;
    for id in &removed {
        p.line(format!("removed run {id}"))?;
    }
    p.status(format!(
        "{} removed; their records and artifacts stay in the store until `cairn data gc`",
        plural(removed.len() as u64, "run", "runs")
    ));
    Ok(Exit::Ok)
}
