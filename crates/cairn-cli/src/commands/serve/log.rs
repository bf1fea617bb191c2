//! The server's stderr: what `cairn serve` reports, as lines for a log.

use std::io::{BufWriter, Stderr, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn_serve::server::{Access, Event, Reporter};

use super::served;

/// The server's stderr: events and access lines, human or JSON lines.
pub(super) struct ServerLog {
    json: bool,
    quiet: bool,
    out: Mutex<BufWriter<Stderr>>,
    dirty: AtomicBool,
    stopped: AtomicBool,
}

impl ServerLog {
    pub(super) fn new(json: bool, quiet: bool) -> Self {
        Self {
            json,
            quiet,
            out: Mutex::new(BufWriter::with_capacity(64 * 1024, std::io::stderr())),
            dirty: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
        }
    }

    /// Flushes buffered access lines every 200 ms.
    pub(super) fn start_flusher(self: &Arc<Self>) -> Option<std::thread::JoinHandle<()>> {
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

    pub(super) fn stop(&self, flusher: Option<std::thread::JoinHandle<()>>) {
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
