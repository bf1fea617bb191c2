//! `cairn monitor NAME (--every DURATION | --at HH:MM) [--promote auto|manual]
//! [--max-checks N]`: `retrain --if-needed` on a schedule, in this process. One line per check
//! on stderr (one JSON document per check on stdout with `--json`, then the summary); stops
//! on SIGINT or SIGTERM once the check under way is finished.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use cairn_pipeline::{AlertKind, CheckLog, MonitorOptions, RetrainProgress, Schedule};

use super::Context;
use super::retrain::{Progress, end_text, policy};
use crate::CmdResult;
use crate::cli::MonitorArgs;
use crate::error::{CliError, Exit};
use crate::printer::Printer;

pub fn run(ctx: &Context<'_>, args: MonitorArgs) -> CmdResult {
    let MonitorArgs {
        model,
        every,
        at,
        promote,
        max_checks,
    } = args;
    let schedule = match (every, at) {
        (Some(every), _) => Schedule::Every {
            seconds: cairn_core::retrain::parse_duration(&every).ok_or_else(|| {
                CliError::usage(
                    format!("--every {every}: not a duration"),
                    Some("write a whole number and s, m, h or d: 30s, 15m, 1h, 1d"),
                )
            })?,
        },
        (None, Some(at)) => Schedule::parse_at(&at).ok_or_else(|| {
            CliError::usage(
                format!("--at {at}: not a time of day"),
                Some("write HH:MM (UTC), e.g. 02:00"),
            )
        })?,
        (None, None) => {
            return Err(CliError::usage("give --every DURATION or --at HH:MM", None).into());
        }
    };
    if max_checks == Some(0) {
        return Err(CliError::usage("--max-checks must be at least 1", None).into());
    }
    let project = ctx.project()?;
    let p = ctx.printer;
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop)).map_err(|e| CliError {
            message: format!("cannot listen for signals: {e}"),
            hint: None,
            exit: Exit::Internal,
        })?;
    }
    let events = Events {
        printer: p,
        progress: Progress::new(p),
    };
    let summary = cairn_pipeline::monitor(
        &project,
        &MonitorOptions {
            model,
            schedule,
            promote: promote.map(policy),
            max_checks,
        },
        &stop,
        &events,
    )?;
    p.json("monitor", &summary)?;
    p.status(format!(
        "monitor {}: {} check(s), {} failed{}",
        summary.model,
        summary.checks,
        summary.failed,
        if summary.stopped { ", stopped" } else { "" }
    ));
    Ok(Exit::Ok)
}

struct Events<'a> {
    printer: &'a Printer,
    progress: Progress<'a>,
}

impl cairn_pipeline::MonitorEvents for Events<'_> {
    fn checked(&self, log: &CheckLog) {
        self.progress.train.finish();
        let p = self.printer;
        // A reader that went away is noticed at the summary.
        let _ = p.json("monitor_check", log);
        let what = match (&log.report, &log.error) {
            (Some(report), _) => end_text(&report.end),
            (None, Some(error)) => format!("error: {error}"),
            (None, None) => String::new(),
        };
        let alerts: Vec<&str> = log.alerts.iter().map(|a| alert_name(*a)).collect();
        p.status(format!(
            "{} check {}: {what}{}",
            log.at,
            log.check,
            if alerts.is_empty() {
                String::new()
            } else {
                format!(" [alerts: {}]", alerts.join(", "))
            }
        ));
        for n in log.notified.iter().filter(|n| !n.ok) {
            p.warn(format!(
                "the {} notifier failed: {}",
                n.notifier,
                n.message.as_deref().unwrap_or("unknown error")
            ));
        }
    }

    fn progress(&self) -> &dyn RetrainProgress {
        &self.progress
    }
}

fn alert_name(a: AlertKind) -> &'static str {
    match a {
        AlertKind::Drift => "drift",
        AlertKind::PerformanceDrop => "performance drop",
        AlertKind::RetrainFailed => "retrain failed",
        AlertKind::Promoted => "promoted",
    }
}
