//! `cairn serve [NAME@REF ...]`: builds the server's options, runs it, and writes what it
//! reports to stderr: the address, readiness, reloads, warnings, and one access line per
//! request (JSON lines with `--json`), without colors: a server's stderr goes to a log.
//! Access lines are buffered and flushed every 200 ms (and on every other event), so that
//! logging does not cost a write per request.

use std::io::{BufWriter, Stderr, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn_serve::UnknownFields;
use cairn_serve::server::{
    Access, Canary, Event, LogSettings, Reporter, ServeOptions, ServeOutcome, ServedModel,
};

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
    let max_body_bytes = parse_size(&max_body).ok_or_else(|| {
        CliError::usage(
            format!("--max-body {max_body}: not a size"),
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
fn served(model: &ServedModel) -> String {
    let mut text = format!("{}@{} ({})", model.name, model.version, model.stage);
    if let Some(c) = &model.canary {
        text.push_str(&format!(
            ", canary {}@{} ({}) {}%",
            model.name, c.version, c.stage, c.percent
        ));
    }
    text
}

/// `4194304`, `512KiB`, `4MiB`, `4M`.
fn parse_size(text: &str) -> Option<usize> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let n: usize = number.parse().ok()?;
    let factor = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1024,
        "m" | "mb" | "mib" => 1024 * 1024,
        "g" | "gb" | "gib" => 1024 * 1024 * 1024,
        _ => return None,
    };
    n.checked_mul(factor).filter(|n| *n > 0)
}

/// The server's stderr: events and access lines, human or JSON lines.
struct ServerLog {
    json: bool,
    quiet: bool,
    out: Mutex<BufWriter<Stderr>>,
    dirty: AtomicBool,
    stopped: AtomicBool,
}

impl ServerLog {
    fn new(json: bool, quiet: bool) -> Self {
        Self {
            json,
            quiet,
            out: Mutex::new(BufWriter::with_capacity(64 * 1024, std::io::stderr())),
            dirty: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
        }
    }

    /// Flushes buffered access lines every 200 ms.
    fn start_flusher(self: &Arc<Self>) -> Option<std::thread::JoinHandle<()>> {
        let log = Arc::clone(self);
        std::thread::Builder::new()
            .name("cairn-log-flush".into())
            .spawn(move || {
                while !log.stopped.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(200));
                    if log.dirty.swap(false, Ordering::Relaxed) {
                        let _ = log.out.lock().unwrap_or_else(|p| p.into_inner()).flush();
                    }
                }
            })
            .ok()
    }

    fn stop(&self, flusher: Option<std::thread::JoinHandle<()>>) {
        self.stopped.store(true, Ordering::Relaxed);
        if let Some(f) = flusher {
            let _ = f.join();
        }
        let _ = self.out.lock().unwrap_or_else(|p| p.into_inner()).flush();
    }

    fn line(&self, text: &str, flush: bool) {
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        let _ = out.write_all(text.as_bytes());
        let _ = out.write_all(b"\n");
        if flush {
            let _ = out.flush();
        } else {
            self.dirty.store(true, Ordering::Relaxed);
        }
    }

    /// Warnings are shown even in quiet mode.
    fn is_warning(event: &Event) -> bool {
        matches!(
            event,
            Event::ReloadFailed { .. } | Event::LogTrouble { .. } | Event::Panicked { .. }
        )
    }
}

fn now() -> String {
    cairn_core::time::format_micros(cairn_core::time::now_micros())
}

impl Reporter for ServerLog {
    fn event(&self, event: &Event) {
        if self.quiet && !Self::is_warning(event) {
            return;
        }
        if self.json {
            #[derive(serde::Serialize)]
            struct Line<'a> {
                ts: String,
                #[serde(flatten)]
                event: &'a Event,
            }
            let text = serde_json::to_string(&Line { ts: now(), event }).unwrap_or_default();
            self.line(&text, true);
            return;
        }
        let text = match event {
            Event::Listening { address } => format!("listening on http://{address}"),
            Event::Ready { models, seconds } => format!(
                "ready in {seconds:.2} s: {}",
                models.iter().map(served).collect::<Vec<_>>().join("; ")
            ),
            Event::Swapped(swap) => format!(
                "reloaded {}{}: {} -> {}",
                swap.model,
                if swap.canary { " (canary)" } else { "" },
                swap.from
                    .map_or_else(|| "none".to_owned(), |v| v.to_string()),
                swap.to
            ),
            Event::ReloadFailed { reason } => {
                format!("warning: reload: {reason} (still serving what was loaded)")
            }
            Event::LogTrouble {
                model,
                dropped_rows,
                write_errors,
                last_error,
            } => format!(
                "warning: the prediction log of {model} dropped {dropped_rows} rows and had {write_errors} write errors{}",
                last_error
                    .as_deref()
                    .map(|e| format!(" (last: {e})"))
                    .unwrap_or_default()
            ),
            Event::Panicked {
                request_id,
                message,
            } => format!(
                "error: request {request_id} failed inside the server (answered 500): {message}"
            ),
            Event::Stopping { signal } => {
                format!("{signal}: stopping (finishing the requests in flight)")
            }
        };
        self.line(&text, true);
    }

    fn access(&self, access: &Access<'_>) {
        if self.quiet {
            return;
        }
        let text = if self.json {
            #[derive(serde::Serialize)]
            struct Line<'a> {
                ts: String,
                event: &'static str,
                #[serde(flatten)]
                access: &'a Access<'a>,
            }
            serde_json::to_string(&Line {
                ts: now(),
                event: "access",
                access,
            })
            .unwrap_or_default()
        } else {
            let model = match (access.model, access.version) {
                (Some(m), Some(v)) => format!(" {m}@{v}"),
                _ => String::new(),
            };
            let error = access.error.map(|e| format!(" {e}")).unwrap_or_default();
            format!(
                "{} {} {} {}{model} rows={} {:.3}ms id={}{error}",
                now(),
                access.status,
                access.method,
                access.path,
                access.rows,
                access.micros as f64 / 1000.0,
                access.request_id
            )
        };
        self.line(&text, false);
    }
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_are_bytes_or_binary_units() {
        assert_eq!(parse_size("4MiB"), Some(4 * 1024 * 1024));
        assert_eq!(parse_size("512KiB"), Some(512 * 1024));
        assert_eq!(parse_size("1000"), Some(1000));
        assert_eq!(parse_size("2m"), Some(2 * 1024 * 1024));
        assert_eq!(parse_size("0"), None);
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size("4 TiB"), None);
    }
}
