//! `cairn feature plan | materialize | historical | online | list`.

use cairn_feature::{HistoricalOptions, MaterializeOptions, OnlineOptions};

use super::Context;
use crate::CmdResult;
use crate::cli::{FeatureCommand, HistoricalArgs, MaterializeArgs, OnlineArgs};
use crate::error::Exit;
use crate::printer::{DIM, bytes, paint, plural};
use crate::progress::Bars;

pub fn run(ctx: &Context<'_>, command: FeatureCommand) -> CmdResult {
    match command {
        FeatureCommand::Plan => plan(ctx),
        FeatureCommand::Materialize(args) => materialize(ctx, args),
        FeatureCommand::Historical(args) => historical(ctx, args),
        FeatureCommand::Online(args) => online(ctx, args),
        FeatureCommand::List => list(ctx),
    }
}

fn plan(ctx: &Context<'_>) -> CmdResult {
    let project = ctx.project()?;
    let p = ctx.printer;
    let outcome = cairn_feature::plan(&project)?;
    p.json("feature-plan", &outcome)?;
    for v in &outcome.views {
        p.line(format!(
            "{:<10} {}  {} from {}  {}",
            v.action,
            v.view,
            plural(v.rows, "row", "rows"),
            v.source,
            paint(DIM, v.features.join(", "))
        ))?;
    }
    p.status(format!(
        "{} and {} checked",
        plural(outcome.views.len() as u64, "view", "views"),
        plural(outcome.services.len() as u64, "service", "services")
    ));
    Ok(Exit::Ok)
}

fn materialize(ctx: &Context<'_>, args: MaterializeArgs) -> CmdResult {
    let project = ctx.project()?;
    let p = ctx.printer;
    let time = |flag: &str, text: &Option<String>| -> Result<Option<i64>, crate::error::CliError> {
        match text {
            None => Ok(None),
            Some(t) => cairn_feature::parse_time(t).map(Some).ok_or_else(|| {
                crate::error::CliError::usage(
                    format!("--{flag} {t}: not a time"),
                    Some("write YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS (UTC)"),
                )
            }),
        }
    };
    let start = time("start", &args.start)?;
    let end = time("end", &args.end)?;
    if let (Some(s), Some(e)) = (start, end)
        && s >= e
    {
        return Err(crate::error::CliError::usage(
            "--start must be before --end (the window is [start, end))",
            None,
        )
        .into());
    }
    let result = cairn_feature::materialize(
        &project,
        &MaterializeOptions {
            views: args.views,
            skip_validation: args.skip_validation,
            now: std::time::SystemTime::now(),
            start,
            end,
            incremental: args.incremental,
        },
        &Bars::new(p),
    );
    let outcome = match result {
        Err(cairn_feature::FeatureError::ValidationFailed { view, report }) => {
            // The report is the answer (the one JSON document); the error goes to stderr.
            p.json(
                "data-validate",
                &serde_json::json!({ "passed": false, "datasets": [&report] }),
            )?;
            super::data::validate::print_dataset(p, &report)?;
            let e = cairn_feature::FeatureError::ValidationFailed { view, report };
            return Ok(crate::error::report_after_outcome(
                p,
                crate::error::CliError {
                    message: e.to_string(),
                    hint: Some(
                        "fix the data (`cairn data validate` shows the checks), or pass --skip-validation, which is recorded in cairn.lock"
                            .into(),
                    ),
                    exit: Exit::CheckFailed,
                },
            ));
        }
        other => other?,
    };
    p.json("feature-materialize", &outcome)?;
    for v in &outcome.views {
        let what = if v.skipped {
            "unchanged"
        } else {
            "materialized"
        };
        p.line(
            format!(
                "{what:<12} {}  {} ({}), {} online, newest {}  {}",
                v.view,
                plural(v.rows, "row", "rows"),
                bytes(v.size),
                plural(v.entities, "entity", "entities"),
                v.end.as_deref().unwrap_or("-"),
                paint(DIM, v.digest.short())
            ) + if v.validation.as_deref() == Some("skipped") {
                "  (validation skipped)"
            } else {
                ""
            },
        )?;
    }
    for view in &outcome.removed {
        p.line(format!(
            "{:<12} {view}  no longer declared in cairn.toml: unpinned, online rows dropped",
            "removed"
        ))?;
    }
    if outcome.views.iter().any(|v| !v.skipped) || !outcome.removed.is_empty() {
        p.status("hint: commit cairn.lock to pin the feature tables");
    }
    Ok(Exit::Ok)
}

fn historical(ctx: &Context<'_>, args: HistoricalArgs) -> CmdResult {
    let project = ctx.project()?;
    let p = ctx.printer;
    let outcome = cairn_feature::historical(
        &project,
        &HistoricalOptions {
            entities: ctx.cwd.join(&args.entities),
            timestamp: args.timestamp,
            features: args.features,
            service: args.service,
            full_names: args.full_names,
            created_before: args.created_before,
            output: ctx.cwd.join(&args.output),
        },
    )?;
    p.json("feature-historical", &outcome)?;
    p.status(format!(
        "wrote {} ({}) to {}",
        plural(outcome.rows, "row", "rows"),
        outcome.columns.join(", "),
        args.output.display()
    ));
    Ok(Exit::Ok)
}

fn online(ctx: &Context<'_>, args: OnlineArgs) -> CmdResult {
    let project = ctx.project()?;
    let p = ctx.printer;
    let outcome = cairn_feature::online(
        &project,
        &OnlineOptions {
            entities: args.entities,
            features: args.features,
            service: args.service,
            full_names: args.full_names,
            now: std::time::SystemTime::now(),
        },
    )?;
    p.json("feature-online", &outcome)?;
    // The answer is JSON either way: one document, entities in the order given.
    let doc = serde_json::to_string_pretty(&outcome.entities).unwrap_or_default();
    p.line(doc)?;
    Ok(Exit::Ok)
}

fn list(ctx: &Context<'_>) -> CmdResult {
    let project = ctx.project()?;
    let p = ctx.printer;
    let views = cairn_feature::list(&project)?;
    p.json("feature-list", &serde_json::json!({ "views": &views }))?;
    for v in &views {
        let keys: Vec<String> = v
            .join_keys
            .iter()
            .map(|(k, t)| format!("{k}: {t}"))
            .collect();
        p.line(format!(
            "{}  from {}  keys {}{}",
            v.view,
            v.source,
            keys.join(", "),
            v.ttl
                .as_deref()
                .map(|t| format!("  ttl {t}"))
                .unwrap_or_default()
        ))?;
        for (f, t) in &v.features {
            p.line(format!("  {f}: {t}"))?;
        }
        match &v.offline {
            Some(e) => p.line(paint(
                DIM,
                format!(
                    "  offline {} ({}, {}), newest {}; online {} at {}",
                    e.digest.short(),
                    plural(e.rows, "row", "rows"),
                    bytes(e.size),
                    e.end.as_deref().unwrap_or("-"),
                    v.online_entities
                        .map_or("-".to_owned(), |n| plural(n, "entity", "entities")),
                    v.materialized_at.as_deref().unwrap_or("-"),
                ),
            ))?,
            None => p.line(paint(DIM, "  not materialized"))?,
        }
    }
    Ok(Exit::Ok)
}
