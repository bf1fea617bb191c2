//! `cairn serve [NAME@REF ...]`: builds the server's options, runs it, and writes what it
//! reports to stderr: the address, readiness, reloads, warnings, and one access line per
//! request (JSON lines with `--json`), without colors: a server's stderr goes to a log.
//! Access lines are buffered and flushed every 200 ms (and on every other event), so that
//! logging does not cost a write per request.

use std::sync::Arc;
use std::time::Duration;

use cairn_serve::UnknownFields;
use cairn_serve::server::{Canary, LogSettings, Reporter, ServeOptions, ServeOutcome, ServedModel};

mod log;

use log::ServerLog;

use super::Context;
use crate::CmdResult;
use crate::cli::ServeArgs;
use crate::error::{CliError, Exit};
use crate::printer::{GREEN, paint, plural};

pub fn run(ctx: &Context<'_>, args: ServeArgs) -> CmdResult {
    let ServeArgs {
        models,
        host,
        port,
        workers,
        canaries,
        log_predictions,
        token_env,
        max_body,
        ignore_unknown,
        no_watch,
    } = args;
    let p = ctx.printer;
    let canaries = canaries
        .iter()
        .map(|c| Canary::parse(c))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            CliError::usage(
                format!("--canary: {e}"),
                Some("give it as NAME@REF=PERCENT, such as churn@staging=10"),
            )
        })?;
    let token = match &token_env {
        None => None,
        Some(var) => {
            match ctx.settings.var(var) {
                Some(token) if !token.is_empty() => Some(token.to_owned()),
                _ => {
                    return Err(CliError::usage(
                    format!("--token-env {var}: the environment variable {var} is not set (or empty)"),
                    Some("export the token in that variable before starting the server"),
                )
                .into());
                }
            }
        }
    };
    let max_body_bytes = usize::try_from(max_body.as_u64())
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            CliError::usage(
                format!("--max-body {max_body}: not a usable size"),
                Some("give bytes, or a number with KiB or MiB: 4MiB"),
            )
        })?;
    let project = ctx.project()?;
    let options = ServeOptions {
        models,
        canaries,
        host,
        port,
        workers: workers.unwrap_or(0),
        max_body_bytes,
        body_timeout: Duration::from_secs(30),
        unknown: if ignore_unknown {
            UnknownFields::Ignore
        } else {
            UnknownFields::Reject
        },
        token,
        log: log_predictions.then(LogSettings::default),
        watch_lock: !no_watch,
        poll: Duration::from_secs(1),
    };
    let log = Arc::new(ServerLog::new(p.json, p.quiet));
    let flusher = log.start_flusher();
    let result =
        cairn_serve::server::serve(project, &options, Arc::clone(&log) as Arc<dyn Reporter>);
    log.stop(flusher);
    let outcome = result?;
    let mut exit = Exit::Ok;
    for summary in &outcome.logs {
        if let Some(e) = &summary.error {
            p.warn(format!("the prediction log of {}: {e}", summary.model));
            exit = Exit::Internal;
        }
    }
    p.json("serve", &outcome)?;
    render(ctx, &outcome)?;
    Ok(exit)
}

fn render(ctx: &Context<'_>, outcome: &ServeOutcome) -> Result<(), crate::printer::OutputError> {
    let p = ctx.printer;
    p.line(format!(
        "{} after {:.1} s: {} answered on {}",
        paint(GREEN.bold(), "stopped"),
        outcome.uptime_seconds,
        plural(outcome.requests, "request", "requests"),
        outcome.address
    ))?;
    for model in &outcome.models {
        p.line(format!("  {}", served(model)))?;
    }
    for log in &outcome.logs {
        p.line(format!(
            "  prediction log {}: {} written, {} dropped, {} ({})",
            log.model,
            plural(log.stats.predictions.written_rows, "row", "rows"),
            log.stats.predictions.dropped_rows,
            plural(log.stats.predictions.segments, "segment", "segments"),
            log.directory.display()
        ))?;
    }
    Ok(())
}

/// `churn@3 (production)` and its canary.
pub(super) fn served(model: &ServedModel) -> String {
    let mut text = format!("{}@{} ({})", model.name, model.version, model.stage);
    if let Some(c) = &model.canary {
        text.push_str(&format!(
            ", canary {}@{} ({}) {}%",
            model.name, c.version, c.stage, c.percent
        ));
    }
    text
}
