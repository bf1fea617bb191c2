//! `cairn drift [NAME@REF] (--current FILE | --predictions [--since T]) [--reference FILE]
//! [--config NAME] [--report FILE]`: the reference (a file, or the training data the model
//! version pins) and the current data (a file, or the version's prediction log: inputs and
//! predictions) compared column by column; the check recorded in the project's store when
//! there is a project; exit 1 on dataset drift.

use cairn_core::Project;
use cairn_drift::record::{ColumnResult, ColumnStatus, ModelChecked};
use cairn_drift::{Checked, DriftOptions, LoggedPredictions, Table, Training};

use super::Context;
use crate::CmdResult;
use crate::cli::DriftArgs;
use crate::error::{CliError, Exit};
use crate::printer::{BOLD, DIM, GREEN, OutputError, Printer, RED, YELLOW, paint, plural};
use crate::progress::Bars;

pub fn run(ctx: &Context<'_>, args: DriftArgs) -> CmdResult {
    let DriftArgs {
        model,
        current,
        predictions,
        since,
        reference,
        config,
        report,
    } = args;
    let since = match &since {
        None => None,
        Some(_) if !predictions => {
            return Err(CliError::usage(
                "--since selects rows of the prediction log: it goes with --predictions",
                None,
            )
            .into());
        }
        Some(t) => Some(cairn_core::time::parse_time(t).ok_or_else(|| {
            CliError::usage(
                format!("--since {t}: not a time"),
                Some("write YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS (UTC)"),
            )
        })?),
    };
    let p = ctx.printer;
    let file = |path: std::path::PathBuf| Table::File {
        shown: path.display().to_string(),
        path: ctx.cwd.join(&path),
    };
    // A project is needed for a model reference or a `[drift.NAME]`; otherwise the check
    // runs on the two files alone and is recorded only inside a project.
    let project: Option<Project> = if model.is_some() || config.is_some() {
        Some(ctx.project()?)
    } else {
        Project::discover(&ctx.cwd)
            .ok()
            .map(|p| p.with_remote_env(ctx.settings.remote_env.clone()))
    };
    let mut model_checked = None;
    let mut columns = None;
    let mut artifact = None;
    let mut current_table = current.map(file);
    let reference_table = match (&model, &project) {
        (Some(reference_arg), Some(project)) => {
            let resolved = cairn_registry::resolve_in(project, reference_arg)?;
            let loaded = cairn_registry::load_artifact(project, &resolved)?;
            let entry = &resolved.entry;
            columns = Some(
                loaded
                    .header
                    .inputs
                    .iter()
                    .map(|i| i.name.clone())
                    .collect::<Vec<_>>(),
            );
            model_checked = Some(ModelChecked {
                name: resolved.name.clone(),
                version: resolved.version,
                run: entry.run.clone(),
                artifact: entry.artifact,
            });
            if predictions {
                current_table = Some(Table::Predictions(LoggedPredictions {
                    dir: project.state_dir().join("predictions").join(&resolved.name),
                    model: resolved.name.clone(),
                    version: resolved.version,
                    since,
                }));
            }
            artifact = Some(loaded);
            match reference {
                Some(path) => file(path),
                None => Table::Training(Training {
                    store: project.store().map_err(cairn_drift::DriftError::from)?,
                    root: project.root().to_path_buf(),
                    model: resolved.name.clone(),
                    version: resolved.version,
                    run: entry.run.clone(),
                    data: entry.data.clone(),
                    features: entry.features.clone(),
                }),
            }
        }
        _ => match reference {
            Some(path) => file(path),
            None => {
                return Err(CliError::usage(
                    "nothing to compare with: give a model version (NAME@REF) or --reference FILE",
                    None,
                )
                .into());
            }
        },
    };
    let config_name = config.or_else(|| {
        model_checked
            .as_ref()
            .map(|m| m.name.clone())
            .filter(|name| {
                project
                    .as_ref()
                    .is_some_and(|p| p.config().drift.contains_key(name))
            })
    });
    let config = match (&config_name, &project) {
        (Some(name), Some(project)) => {
            let spec = project.config().drift.get(name).cloned().ok_or_else(|| {
                CliError::usage(
                    format!("cairn.toml declares no `[drift.{name}]`"),
                    Some("declare it (docs/formats/config.md#drift), or leave out --config to use the defaults"),
                )
            })?;
            Some((name.clone(), spec))
        }
        _ => None,
    };
    let Some(current_table) = current_table else {
        return Err(CliError::usage(
            "nothing to check: give --current FILE or --predictions",
            None,
        )
        .into());
    };
    let bars = Bars::new(p);
    let checked = cairn_drift::check(DriftOptions {
        reference: reference_table,
        current: current_table,
        config,
        model: model_checked,
        columns,
        predict_with: if predictions { artifact.as_ref() } else { None },
        record_in: project
            .as_ref()
            .map(|p| (p, &bars as &dyn cairn_store::Progress)),
        report: report.map(|path| ctx.cwd.join(path)),
    })?;
    p.json("drift", &checked)?;
    render(p, &checked)?;
    if let Some(path) = &checked.report {
        p.status(format!("report written to {}", path.display()));
    }
    match &checked.digest {
        Some(digest) => p.status(format!("drift record {} stored", digest.short())),
        None => p.status("not in a cairn project: the check is not recorded"),
    }
    Ok(if checked.record.dataset_drift {
        Exit::CheckFailed
    } else {
        Exit::Ok
    })
}

fn render(p: &Printer, checked: &Checked) -> Result<(), OutputError> {
    let record = &checked.record;
    let rows: Vec<[String; 7]> = record.columns.iter().map(row).collect();
    let headers = [
        "column",
        "type",
        "method",
        "score",
        "threshold",
        "drifted",
        "null/NaN/inf",
    ];
    let widths: Vec<usize> = (0..headers.len())
        .map(|k| {
            rows.iter()
                .map(|r| r[k].chars().count())
                .chain([headers[k].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: [&str; 7]| {
        let mut out = String::from(" ");
        for (k, cell) in cells.iter().enumerate() {
            out.push_str(&format!(" {:<w$}", cell, w = widths[k]));
        }
        out.trim_end().to_owned()
    };
    p.line(paint(BOLD, line(headers)))?;
    for (cells, column) in rows.iter().zip(&record.columns) {
        let text = line([
            &cells[0], &cells[1], &cells[2], &cells[3], &cells[4], &cells[5], &cells[6],
        ]);
        p.line(if column.drifted {
            paint(RED, text)
        } else {
            text
        })?;
    }
    for column in &record.columns {
        if let Some(unseen) = &column.unseen {
            p.line(format!(
                "  {} {} never seen in the reference, in {} (e.g. {})",
                paint(DIM, format!("{}:", column.column)),
                plural(unseen.categories, "category", "categories"),
                plural(unseen.rows, "row", "rows"),
                unseen.examples.join(", ")
            ))?;
        }
        if let Some(note) = &column.note {
            p.line(format!(
                "  {} {note}",
                paint(DIM, format!("{}:", column.column))
            ))?;
        }
    }
    if !record.new_columns.is_empty() {
        p.line(format!(
            "  {} {}",
            paint(DIM, "only in the current data (not compared):"),
            record.new_columns.join(", ")
        ))?;
    }
    for skipped in &record.skipped {
        p.line(format!(
            "  {} {} ({})",
            paint(DIM, "not compared (type):"),
            skipped.column,
            skipped.dtype
        ))?;
    }
    let verdict = if record.dataset_drift {
        paint(RED.bold(), "dataset drift")
    } else {
        paint(GREEN.bold(), "no dataset drift")
    };
    let model = record
        .model
        .as_ref()
        .map(|m| format!("{}@{}: ", m.name, m.version))
        .unwrap_or_default();
    p.line(format!(
        "{model}{verdict}: {} of {} columns drifted (share {:.3}, threshold {}); reference {} rows, current {} rows",
        record.drifted,
        record.compared,
        record.share,
        record.drift_share,
        record.reference.rows,
        record.current.rows
    ))?;
    if record
        .columns
        .iter()
        .any(|c| c.status != ColumnStatus::Tested)
    {
        p.line(paint(
            YELLOW,
            "  some columns could not be tested: see their notes",
        ))?;
    }
    Ok(())
}

fn row(c: &ColumnResult) -> [String; 7] {
    let special = |n: &cairn_drift::record::Counts| n.nulls + n.nan + n.pos_inf + n.neg_inf;
    [
        c.column.clone(),
        c.kind.as_str().to_owned(),
        c.method
            .map_or_else(|| c.status.as_str().to_owned(), |m| m.to_string()),
        number(c.score),
        number(c.threshold),
        if c.drifted { "yes" } else { "no" }.to_owned(),
        format!("{} / {}", special(&c.reference), special(&c.current)),
    ]
}

fn number(x: Option<f64>) -> String {
    match x {
        None => "-".to_owned(),
        Some(v) if v != 0.0 && v.abs() < 1e-4 => format!("{v:.3e}"),
        Some(v) => format!("{v:.4}"),
    }
}
