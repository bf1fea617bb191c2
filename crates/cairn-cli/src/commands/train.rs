//! `cairn train NAME`.

use std::collections::BTreeMap;

use cairn_train::{TrainOptions, TrainWarning};
use serde_json::Value;

use super::Context;
use crate::CmdResult;
use crate::cli::TrainArgs;
use crate::error::{CliError, Exit};
use crate::printer::{BOLD, DIM, GREEN, bytes, paint};
use crate::progress::TrainBars;

pub fn run(ctx: &Context<'_>, args: TrainArgs) -> CmdResult {
    let TrainArgs {
        model,
        set,
        tags,
        allow_untracked,
        skip_validation,
        register,
        alias,
    } = args;
    let project = ctx.project()?;
    let p = ctx.printer;
    // A bad alias is refused before the training, not after it.
    if let Some(alias) = &alias
        && let Some(problem) = cairn_core::registry::alias_problem(alias)
    {
        return Err(cairn_registry::RegistryError::BadAlias {
            alias: alias.clone(),
            problem,
        }
        .into());
    }
    let overrides = set
        .iter()
        .map(|s| key_value("--set", s))
        .collect::<Result<Vec<_>, _>>()?;
    let tags = tags
        .iter()
        .map(|s| key_value("--tag", s))
        .collect::<Result<BTreeMap<_, _>, _>>()?;
    let bars = TrainBars::new(p);
    let result = cairn_train::train(
        &project,
        &TrainOptions {
            model,
            overrides,
            tags,
            allow_untracked,
            skip_validation,
        },
        &bars,
    );
    bars.finish();
    let outcome = match result {
        Err(cairn_train::TrainError::ValidationFailed { model, report }) => {
            let failed = (*report).clone();
            let e = CliError::from(cairn_train::TrainError::ValidationFailed { model, report });
            return super::data::validate::validation_failed(p, failed, e);
        }
        other => other?,
    };
    for w in &outcome.warnings {
        p.warn(warning_text(w));
    }
    let run = &outcome.record;
    // Registered before anything is printed, so that the JSON document says both.
    let registered = if register {
        Some(cairn_registry::register(
            &project,
            &cairn_registry::RegisterOptions {
                run: Some(run.id.clone()),
                existing_ok: true,
                alias,
                ..Default::default()
            },
            &crate::progress::Bars::new(p),
        )?)
    } else {
        None
    };
    /// The `train` document: the run record, and the registration when asked.
    #[derive(serde::Serialize)]
    struct TrainDoc<'a> {
        #[serde(flatten)]
        run: &'a cairn_train::RunRecord,
        #[serde(skip_serializing_if = "Option::is_none")]
        registered: Option<&'a cairn_registry::Registered>,
    }
    p.json(
        "train",
        &TrainDoc {
            run,
            registered: registered.as_ref(),
        },
    )?;
    p.line(format!(
        "{} {} ({})  run {}",
        paint(GREEN.bold(), "trained"),
        run.model,
        run.algorithm,
        paint(BOLD, &run.id)
    ))?;
    for (path, digest) in &run.data {
        p.line(format!("  data      {path}  {}", paint(DIM, short(digest))))?;
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
            paint(DIM, short(artifact)),
            bytes(size)
        ))?;
    }
    p.line(format!(
        "  code      {}{}",
        run.code.commit.as_deref().map_or("(no commit)", short),
        if run.code.dirty { " (dirty)" } else { "" }
    ))?;
    if let Some(r) = &registered {
        super::register::render(p, r)?;
    }
    let fit = run.phases.get("fit").copied().unwrap_or_default();
    p.status(format!(
        "run {} finished in {:.2} s (fit {:.2} s)",
        run.id, run.duration_s, fit
    ));
    Ok(Exit::Ok)
}

/// `KEY=VALUE` of `--set` and `--tag`.
fn key_value(flag: &str, text: &str) -> Result<(String, String), CliError> {
    match text.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.trim().to_owned())),
        _ => Err(CliError::usage(
            format!("{flag} {text}: expected KEY=VALUE"),
            Some("e.g. --set n_trees=200, --tag team=risk"),
        )),
    }
}

/// The first 12 characters of a digest or commit.
fn short(hex: &str) -> &str {
    hex.get(..12).unwrap_or(hex)
}

/// A warning of a run, with the option that let it go on.
fn warning_text(w: &TrainWarning) -> String {
    match w {
        TrainWarning::DirtyWorktree => w.to_string(),
        TrainWarning::Untracked { .. } => {
            format!("{w}; training anyway (--allow-untracked, recorded)")
        }
        TrainWarning::ValidationSkipped { .. } => {
            format!("{w}; training anyway (--skip-validation, recorded)")
        }
    }
}
