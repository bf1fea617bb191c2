use cairn_feature::{FeatureError, MaterializeOptions};

use super::{Context, time_arg};
use crate::CmdResult;
use crate::cli::MaterializeArgs;
use crate::error::{CliError, Exit};
use crate::printer::{DIM, bytes, paint, plural};
use crate::progress::Bars;

pub fn run(ctx: &Context<'_>, args: MaterializeArgs) -> CmdResult {
    let MaterializeArgs {
        views,
        skip_validation,
        start,
        end,
        incremental,
        memory_budget,
    } = args;
    let project = ctx.project()?;
    let p = ctx.printer;
    let start = time_arg("start", start.as_deref())?;
    let end = time_arg("end", end.as_deref())?;
    if let (Some(s), Some(e)) = (start, end)
        && s >= e
    {
        return Err(CliError::usage(
            "--start must be before --end (the window is [start, end))",
            None,
        )
        .into());
    }
    let result = cairn_feature::materialize(
        &project,
        &MaterializeOptions {
            views,
            skip_validation,
            now: std::time::SystemTime::now(),
            start,
            end,
            incremental,
            memory_budget,
        },
        &Bars::new(p),
    );
    let outcome = match result {
        Err(FeatureError::ValidationFailed { view, report }) => {
            let failed = (*report).clone();
            let e = CliError::from(FeatureError::ValidationFailed { view, report });
            return super::super::data::validate::validation_failed(p, failed, e);
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
            } + &if v.sort_buckets > 0 {
                format!("  (sorted on disk in {} buckets)", v.sort_buckets)
            } else {
                String::new()
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
