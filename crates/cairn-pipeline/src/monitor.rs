//! `monitor`: [`crate::retrain`](fn@crate::retrain) with `if_needed`, on a schedule, in this process, until
//! asked to stop; and the alerts of each check sent to the policy's notifiers (a webhook
//! that gets the alert as a JSON POST, a command that gets it on its stdin).
//!
//! A check that fails (an error before the retrain's first step, or a failed step) is logged
//! and alerted; the next check runs at its time. A notifier that fails is logged and never
//! stops the loop. A stop request is seen while waiting, and between the steps of a check
//! under way, which is then abandoned (its report ends `stopped`); the step under way is
//! finished first. Every write of the registry is atomic, so even a killed process leaves
//! production as it was or as promoted.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use cairn_core::Project;
use cairn_core::retrain::{PromotePolicy, RetrainSpec};
use cairn_core::time::{format_micros, now_micros};
use serde::{Deserialize, Serialize};

use crate::RetrainError;
use crate::retrain::{RetrainEnd, RetrainOptions, RetrainProgress, RetrainReport};

/// When the checks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Schedule {
    /// Now, then every `seconds`.
    Every { seconds: u64 },
    /// Every day at this time (UTC).
    At { hour: u32, minute: u32 },
}

impl Schedule {
    /// `HH:MM` (UTC), as `--at` takes it.
    pub fn parse_at(text: &str) -> Option<Schedule> {
        let (h, m) = text.trim().split_once(':')?;
        let (hour, minute): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        (h.len() == 2 && m.len() == 2 && hour < 24 && minute < 60)
            .then_some(Schedule::At { hour, minute })
    }

    /// How long to wait, from `now_us`, for the next check; `first`: no check ran yet.
    pub fn wait(&self, now_us: i64, first: bool) -> Duration {
        match *self {
            Schedule::Every { seconds } => {
                if first {
                    Duration::ZERO
                } else {
                    Duration::from_secs(seconds)
                }
            }
            Schedule::At { hour, minute } => {
                const DAY_US: i64 = 86_400_000_000;
                let target = (i64::from(hour) * 3_600 + i64::from(minute) * 60) * 1_000_000;
                let of_day = now_us.rem_euclid(DAY_US);
                let mut wait = target - of_day;
                if wait <= 0 {
                    wait += DAY_US;
                }
                Duration::from_micros(u64::try_from(wait).unwrap_or(0))
            }
        }
    }
}

/// What `monitor` is asked.
#[derive(Debug, Clone)]
pub struct MonitorOptions {
    pub model: String,
    pub schedule: Schedule,
    /// Overrides the policy's `promote`.
    pub promote: Option<PromotePolicy>,
    /// Stop after this many checks (`None`: until stopped).
    pub max_checks: Option<u64>,
}

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    Drift,
    PerformanceDrop,
    RetrainFailed,
    Promoted,
}

/// The document a notifier gets: the alerts of one check and its report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub model: String,
    pub at: String,
    pub alerts: Vec<AlertKind>,
    /// The retrain's report (`None` when it stopped before its first step: see `error`).
    pub report: Option<RetrainReport>,
    pub error: Option<String>,
}

/// One notifier's delivery of an alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notified {
    /// `webhook` or `command`.
    pub notifier: String,
    pub ok: bool,
    /// Why it failed.
    pub message: Option<String>,
}

/// One check of the loop, as it is logged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckLog {
    /// 1 for the first check.
    pub check: u64,
    pub at: String,
    pub alerts: Vec<AlertKind>,
    pub report: Option<RetrainReport>,
    /// The error that stopped the retrain before its first step.
    pub error: Option<String>,
    pub notified: Vec<Notified>,
}

/// The loop's end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorSummary {
    pub model: String,
    pub checks: u64,
    /// Checks whose retrain failed (a step, or before the first).
    pub failed: u64,
    /// Stopped by a request (rather than after `max_checks`).
    pub stopped: bool,
}

/// What the loop tells its caller.
pub trait MonitorEvents {
    /// A check is done (logged, alerts sent).
    fn checked(&self, log: &CheckLog);
    /// The progress of each retrain.
    fn progress(&self) -> &dyn RetrainProgress;
}

/// Runs the loop until `stop` is set or `max_checks` checks ran. Errors only for what makes
/// every check fail (no policy).
pub fn monitor(
    project: &Project,
    options: &MonitorOptions,
    stop: &AtomicBool,
    events: &dyn MonitorEvents,
) -> Result<MonitorSummary, RetrainError> {
    let MonitorOptions {
        model,
        schedule,
        promote,
        max_checks,
    } = options;
    let policy = crate::retrain::policy(project, model)?;
    let mut summary = MonitorSummary {
        model: model.clone(),
        checks: 0,
        failed: 0,
        stopped: false,
    };
    loop {
        if max_checks.is_some_and(|max| summary.checks >= max) {
            return Ok(summary);
        }
        let wait = schedule.wait(now_micros(), summary.checks == 0);
        if !sleep(wait, stop) {
            summary.stopped = true;
            return Ok(summary);
        }
        summary.checks += 1;
        let now_us = now_micros();
        let result = crate::retrain::retrain(
            project,
            &RetrainOptions {
                model: model.clone(),
                if_needed: true,
                promote: *promote,
                now_us,
            },
            &Stoppable {
                inner: events.progress(),
                stop,
            },
        );
        let (report, error) = match result {
            Ok(report) => (Some(report), None),
            Err(e) => (None, Some(e.to_string())),
        };
        let alerts = alerts_of(report.as_ref(), error.is_some());
        if report.as_ref().is_none_or(RetrainReport::failed) {
            summary.failed += 1;
        }
        let mut log = CheckLog {
            check: summary.checks,
            at: format_micros(now_us),
            alerts: alerts.clone(),
            report,
            error,
            notified: Vec::new(),
        };
        if !alerts.is_empty() {
            let alert = Alert {
                model: model.clone(),
                at: log.at.clone(),
                alerts,
                report: log.report.clone(),
                error: log.error.clone(),
            };
            log.notified = notify(&policy, &alert);
        }
        events.checked(&log);
    }
}

/// The caller's progress, and the stop flag asked between the retrain's steps.
struct Stoppable<'a> {
    inner: &'a dyn RetrainProgress,
    stop: &'a AtomicBool,
}

impl cairn_train::TrainProgress for Stoppable<'_> {
    fn phase(&self, phase: &str) {
        self.inner.phase(phase);
    }
    fn fit(&self, done: usize, total: usize) {
        self.inner.fit(done, total);
    }
    fn waiting_for_lock(&self, holder: &str) {
        cairn_train::TrainProgress::waiting_for_lock(self.inner, holder);
    }
}

impl cairn_store::Progress for Stoppable<'_> {
    fn start(&self, phase: &str, files: u64, bytes: u64) {
        self.inner.start(phase, files, bytes);
    }
    fn advance(&self, files: u64, bytes: u64) {
        self.inner.advance(files, bytes);
    }
    fn finish(&self) {
        cairn_store::Progress::finish(self.inner);
    }
    fn waiting_for_lock(&self, holder: &str) {
        cairn_store::Progress::waiting_for_lock(self.inner, holder);
    }
}

impl RetrainProgress for Stoppable<'_> {
    fn step(&self, step: crate::StepName) {
        self.inner.step(step);
    }
    fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::SeqCst) || self.inner.stop_requested()
    }
}

/// Sleeps `wait` in short slices; `false` when `stop` was set meanwhile.
fn sleep(wait: Duration, stop: &AtomicBool) -> bool {
    const SLICE: Duration = Duration::from_millis(50);
    let mut left = wait;
    loop {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        if left.is_zero() {
            return true;
        }
        let step = left.min(SLICE);
        std::thread::sleep(step);
        left -= step;
    }
}

/// The alerts of a check.
pub fn alerts_of(report: Option<&RetrainReport>, errored: bool) -> Vec<AlertKind> {
    let mut alerts = Vec::new();
    let Some(report) = report else {
        if errored {
            alerts.push(AlertKind::RetrainFailed);
        }
        return alerts;
    };
    if report.drift.as_ref().is_some_and(|d| d.dataset_drift) {
        alerts.push(AlertKind::Drift);
    }
    if report.performance.as_ref().is_some_and(|p| p.dropped) {
        alerts.push(AlertKind::PerformanceDrop);
    }
    if report.failed() {
        alerts.push(AlertKind::RetrainFailed);
    }
    if matches!(report.end, RetrainEnd::Promoted { .. }) {
        alerts.push(AlertKind::Promoted);
    }
    alerts
}

/// Sends `alert` to every notifier of `policy`: what each delivery gave.
pub fn notify(policy: &RetrainSpec, alert: &Alert) -> Vec<Notified> {
    let body = match serde_json::to_vec(alert) {
        Ok(body) => body,
        Err(e) => {
            return vec![Notified {
                notifier: "alert".to_owned(),
                ok: false,
                message: Some(e.to_string()),
            }];
        }
    };
    let mut out = Vec::new();
    if let Some(url) = &policy.webhook {
        let result = post(url, &body);
        out.push(Notified {
            notifier: "webhook".to_owned(),
            ok: result.is_ok(),
            message: result.err(),
        });
    }
    if !policy.command.is_empty() {
        let result = run_command(&policy.command, &body);
        out.push(Notified {
            notifier: "command".to_owned(),
            ok: result.is_ok(),
            message: result.err(),
        });
    }
    out
}

const NOTIFY_TIMEOUT: Duration = Duration::from_secs(10);

/// POSTs `body` as JSON to an `http://host[:port]/path` URL; a 2xx answer is success.
fn post(url: &str, body: &[u8]) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url}: only http:// URLs are supported"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let address = if authority.contains(':') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let io = |e: std::io::Error| format!("{url}: {e}");
    let socket = address
        .to_socket_addrs()
        .map_err(io)?
        .next()
        .ok_or_else(|| format!("{url}: the host has no address"))?;
    let mut stream = TcpStream::connect_timeout(&socket, NOTIFY_TIMEOUT).map_err(io)?;
    stream.set_read_timeout(Some(NOTIFY_TIMEOUT)).map_err(io)?;
    stream.set_write_timeout(Some(NOTIFY_TIMEOUT)).map_err(io)?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nUser-Agent: cairn\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).map_err(io)?;
    stream.write_all(body).map_err(io)?;
    stream.flush().map_err(io)?;
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    // The status line is enough.
    while !answer.contains(&b'\n') {
        let n = stream.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&answer);
    let status = line
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| format!("{url}: not an HTTP answer"))?;
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(format!("{url}: answered {status}"))
    }
}

/// Runs `command` with `body` on its stdin; success is exit status 0.
fn run_command(command: &[String], body: &[u8]) -> Result<(), String> {
    let (program, args) = command
        .split_first()
        .ok_or_else(|| "the command is empty".to_owned())?;
    let shown = command.join(" ");
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{shown}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A command that does not read its input is not a failure.
        let _ = stdin.write_all(body);
    }
    let output = child
        .wait_with_output()
        .map_err(|e| format!("{shown}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(format!(
            "{shown}: {}{}",
            output.status,
            stderr
                .lines()
                .last()
                .map(|l| format!(": {l}"))
                .unwrap_or_default()
        ))
    }
}
