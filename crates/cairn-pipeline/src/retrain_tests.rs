//! `retrain` and `monitor` on a project built here: a production version, a prediction log
//! written through cairn_predlog's writer with drift injected and feedback labels, and new
//! training data that is better, worse, or broken; a race with another writer; the monitor
//! on a one-second schedule alerting a webhook receiver on 127.0.0.1.
#![allow(clippy::disallowed_methods)] // the fixture is written with std::fs

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use cairn_core::registry::Stage;
use cairn_core::retrain::PromotePolicy;
use cairn_core::time::now_micros;
use cairn_core::{InitOptions, Project};
use cairn_predlog::{
    Column, Feedback, FeedbackBatch, FeedbackLabel, LogOptions, Predicted, PredictionBatch,
    PredictionLog, Values,
};

use crate::{
    Alert, AlertKind, CheckLog, MonitorEvents, MonitorOptions, QuietRetrain, RetrainEnd,
    RetrainOptions, RetrainProgress, Schedule, StepName, StepStatus,
};

/// A seeded generator (xorshift) of numbers in [0, 1).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// How the target is made from the inputs.
#[derive(Clone, Copy)]
enum Concept {
    /// x1 in [-1, 1], y = x1 > 0.
    Old,
    /// x1 in [1, 3] (shifted), y = x2 > 0.
    New,
    /// y at random: nothing to learn.
    Noise,
    /// No target column: training fails.
    NoTarget,
}

fn rows(concept: Concept, n: usize, seed: u64) -> Vec<(f64, f64, i64)> {
    let mut rng = Rng(seed);
    (0..n)
        .map(|_| {
            let x2 = rng.next() * 2.0 - 1.0;
            let (x1, y) = match concept {
                Concept::Old | Concept::NoTarget => {
                    let x1 = rng.next() * 2.0 - 1.0;
                    (x1, i64::from(x1 > 0.0))
                }
                Concept::New => (rng.next() * 2.0 + 1.0, i64::from(x2 > 0.0)),
                Concept::Noise => (rng.next() * 2.0 - 1.0, i64::from(rng.next() < 0.5)),
            };
            (x1, x2, y)
        })
        .collect()
}

fn write_data(root: &Path, concept: Concept, seed: u64) {
    let mut csv = String::from(if matches!(concept, Concept::NoTarget) {
        "x1,x2\n"
    } else {
        "x1,x2,y\n"
    });
    for (x1, x2, y) in rows(concept, 400, seed) {
        if matches!(concept, Concept::NoTarget) {
            csv.push_str(&format!("{x1},{x2}\n"));
        } else {
            csv.push_str(&format!("{x1},{x2},{y}\n"));
        }
    }
    std::fs::create_dir_all(root.join("data")).unwrap();
    std::fs::write(root.join("data/train.csv"), csv).unwrap();
}

/// A project whose `churn` model has version 1 (the old concept) in production.
fn project(extra: &str) -> (tempfile::TempDir, Project) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    Project::init(root, &InitOptions { no_git: true }).unwrap();
    let toml = std::fs::read_to_string(root.join("cairn.toml")).unwrap();
    std::fs::write(
        root.join("cairn.toml"),
        toml + r#"
[model.churn]
data = "data/train.csv"
target = "y"
algorithm = "decision_tree_classifier"
seed = 7

[model.churn.gates]
accuracy = { min = 0.8 }
no_regression = { metric = "accuracy", tolerance = 0.0 }

[retrain.churn]
data = ["data/train.csv"]
promote = "auto"
"# + extra,
    )
    .unwrap();
    write_data(root, Concept::Old, 1);
    let project = Project::discover(root).unwrap();
    let report = crate::retrain(&project, &options(false), &QuietRetrain).unwrap();
    assert_eq!(
        report.end,
        RetrainEnd::Promoted { version: 1 },
        "{report:#?}"
    );
    (dir, project)
}

fn options(if_needed: bool) -> RetrainOptions {
    RetrainOptions {
        model: "churn".to_owned(),
        if_needed,
        promote: None,
        now_us: now_micros(),
    }
}

fn production(project: &Project) -> Option<u32> {
    cairn_registry::resolve_in(project, "churn@production")
        .ok()
        .map(|r| r.version)
}

/// Logs `n` predictions of version 1 on inputs of `concept` an hour ago, as version 1 answers
/// them (x1 > 0), and their true labels.
fn log_predictions(project: &Project, concept: Concept, n: usize) {
    let entry = cairn_registry::resolve_in(project, "churn@1")
        .unwrap()
        .entry;
    let dir = project.state_dir().join("predictions").join("churn");
    let log = PredictionLog::open(&dir, &LogOptions::default()).unwrap();
    let ts = now_micros() - 3_600_000_000;
    let labels: Arc<[String]> = Arc::from(vec!["0".to_owned(), "1".to_owned()]);
    let data = rows(concept, n, 99);
    log.log(PredictionBatch {
        request_id: "r1".to_owned(),
        ts_us: ts,
        version: 1,
        digest: Arc::from(entry.artifact.to_hex()),
        inputs: vec![
            Column {
                name: Arc::from("x1"),
                values: Values::Number(data.iter().map(|r| Some(r.0)).collect()),
            },
            Column {
                name: Arc::from("x2"),
                values: Values::Number(data.iter().map(|r| Some(r.1)).collect()),
            },
        ],
        imputed: Vec::new(),
        prediction: Predicted::Classes {
            labels,
            class: data.iter().map(|r| usize::from(r.0 > 0.0)).collect(),
            proba: None,
        },
    })
    .unwrap();
    log.feedback(FeedbackBatch {
        ts_us: ts + 1,
        records: data
            .iter()
            .enumerate()
            .map(|(i, r)| Feedback {
                request_id: "r1".to_owned(),
                row: u32::try_from(i).unwrap(),
                label: FeedbackLabel::Text(r.2.to_string()),
            })
            .collect(),
    })
    .unwrap();
    log.close().unwrap();
}

#[test]
fn retrain_promotes_a_better_model_when_drift_was_injected() {
    let (dir, project) = project("");
    log_predictions(&project, Concept::New, 300);
    write_data(dir.path(), Concept::New, 2);
    let report = crate::retrain(&project, &options(true), &QuietRetrain).unwrap();
    let drift = report.drift.as_ref().expect("a drift check");
    assert!(drift.dataset_drift, "{drift:?}");
    assert!(drift.columns.contains(&"x1".to_owned()), "{drift:?}");
    let performance = report.performance.as_ref().expect("labels were logged");
    assert!(performance.dropped, "{performance:?}");
    assert!(performance.production < 0.7, "{performance:?}");
    assert_eq!(
        report.end,
        RetrainEnd::Promoted { version: 2 },
        "{report:#?}"
    );
    let names: Vec<StepName> = report.steps.iter().map(|s| s.step).collect();
    assert_eq!(
        names,
        [
            StepName::Check,
            StepName::Decide,
            StepName::Data,
            StepName::Materialize,
            StepName::Train,
            StepName::Register,
            StepName::Validate,
            StepName::Promote
        ]
    );
    assert_eq!(production(&project), Some(2));
    // The audit trail names the retrain.
    let history = cairn_registry::history(&project, "churn").unwrap();
    let promoted = history.history.last().unwrap();
    assert!(
        promoted
            .reason
            .as_deref()
            .is_some_and(|r| r.starts_with("retrain churn: drift")),
        "{promoted:?}"
    );
    // The JSON document decodes into the report.
    let json = serde_json::to_string(&report).unwrap();
    assert_eq!(
        serde_json::from_str::<crate::RetrainReport>(&json).unwrap(),
        report
    );
}

#[test]
fn retrain_if_needed_stops_without_drift_or_drop() {
    let (_dir, project) = project("");
    log_predictions(&project, Concept::Old, 300);
    let report = crate::retrain(&project, &options(true), &QuietRetrain).unwrap();
    assert_eq!(report.end, RetrainEnd::NotNeeded, "{report:#?}");
    assert!(!report.drift.as_ref().unwrap().dataset_drift);
    assert!(!report.performance.as_ref().unwrap().dropped);
    assert_eq!(report.steps.len(), 2);
    assert_eq!(production(&project), Some(1));
}

#[test]
fn retrain_keeps_production_when_the_new_model_is_worse() {
    let (dir, project) = project("");
    write_data(dir.path(), Concept::Noise, 3);
    let report = crate::retrain(&project, &options(false), &QuietRetrain).unwrap();
    let RetrainEnd::NotPromoted { version, blocked } = &report.end else {
        panic!("{report:#?}");
    };
    assert_eq!(*version, 2);
    assert!(blocked.contains("accuracy"), "{blocked}");
    assert!(report.failed());
    let validate = report
        .steps
        .iter()
        .find(|s| s.step == StepName::Validate)
        .unwrap();
    assert_eq!(validate.status, StepStatus::Failed);
    assert_eq!(production(&project), Some(1));
    // Left in staging, the history saying which gates blocked it.
    let v2 = cairn_registry::resolve_in(&project, "churn@2").unwrap();
    assert_eq!(v2.entry.stage, Stage::Staging);
    let reason = last_reason(&project, 2);
    assert!(
        reason.contains("not promoted to production") && reason.contains("accuracy"),
        "{reason}"
    );
    let promote = report
        .steps
        .iter()
        .find(|s| s.step == StepName::Promote)
        .unwrap();
    assert!(promote.detail.contains("left in staging"), "{promote:?}");
}

/// The reason of the last history entry of `churn@version`.
fn last_reason(project: &Project, version: u32) -> String {
    cairn_registry::history(project, "churn")
        .unwrap()
        .history
        .iter()
        .rev()
        .find(|h| h.version == version)
        .and_then(|h| h.reason.clone())
        .unwrap_or_default()
}

#[test]
fn a_failed_training_leaves_production_as_it_was() {
    let (dir, project) = project("");
    write_data(dir.path(), Concept::NoTarget, 4);
    let report = crate::retrain(&project, &options(false), &QuietRetrain).unwrap();
    assert!(
        matches!(
            &report.end,
            RetrainEnd::Failed {
                step: StepName::Train,
                ..
            }
        ),
        "{report:#?}"
    );
    assert_eq!(production(&project), Some(1));
    assert!(cairn_registry::resolve_in(&project, "churn@2").is_err());
}

/// Another writer archives the production version while the retrain trains.
struct Racing<'a> {
    project: &'a Project,
}

impl cairn_train::TrainProgress for Racing<'_> {
    fn phase(&self, _: &str) {}
    fn fit(&self, _: usize, _: usize) {}
}

impl cairn_store::Progress for Racing<'_> {}

impl RetrainProgress for Racing<'_> {
    fn step(&self, step: StepName) {
        if step == StepName::Register {
            cairn_registry::promote(
                self.project,
                &cairn_registry::PromoteOptions {
                    reference: "churn@1".to_owned(),
                    to: Stage::Archived,
                    reason: Some("another process".to_owned()),
                    force: false,
                    expect_production: None,
                },
                &cairn_store::NoProgress,
            )
            .unwrap();
        }
    }
}

#[test]
fn a_race_with_another_writer_does_not_promote() {
    let (dir, project) = project("");
    write_data(dir.path(), Concept::Old, 5);
    let report = crate::retrain(&project, &options(false), &Racing { project: &project }).unwrap();
    let RetrainEnd::NotPromoted {
        version: 2,
        blocked,
    } = &report.end
    else {
        panic!("{report:#?}");
    };
    assert!(blocked.contains("production changed"), "{blocked}");
    // As the other writer left it: nothing in production, version 2 in staging.
    assert_eq!(production(&project), None);
    let v2 = cairn_registry::resolve_in(&project, "churn@2").unwrap();
    assert_eq!(v2.entry.stage, Stage::Staging);
    assert!(
        last_reason(&project, 2).contains("production changed"),
        "{}",
        last_reason(&project, 2)
    );
}

#[test]
fn manual_policy_stages_the_version() {
    let (dir, project) = project("");
    write_data(dir.path(), Concept::Old, 6);
    let mut o = options(false);
    o.promote = Some(PromotePolicy::Manual);
    let report = crate::retrain(&project, &o, &QuietRetrain).unwrap();
    assert_eq!(report.end, RetrainEnd::Staged { version: 2 }, "{report:#?}");
    assert_eq!(production(&project), Some(1));
    let v2 = cairn_registry::resolve_in(&project, "churn@2").unwrap();
    assert_eq!(v2.entry.stage, Stage::Staging);
}

/// A webhook receiver on 127.0.0.1: the bodies it got, answering `status`.
fn receiver(status: u16) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let got = Arc::clone(&bodies);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line == "\r\n" || line.is_empty() {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0u8; length];
            reader.read_exact(&mut body).unwrap();
            got.lock().unwrap().push(String::from_utf8(body).unwrap());
            let _ = write!(stream, "HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n");
        }
    });
    (url, bodies)
}

struct Collect(Mutex<Vec<CheckLog>>);

impl MonitorEvents for Collect {
    fn checked(&self, log: &CheckLog) {
        self.0.lock().unwrap().push(log.clone());
    }
    fn progress(&self) -> &dyn RetrainProgress {
        &QuietRetrain
    }
}

#[test]
fn monitor_runs_on_a_schedule_and_alerts_the_webhook() {
    let (url, bodies) = receiver(200);
    let (dir, project) = project(&format!("webhook = \"{url}\"\ncommand = [\"false\"]\n"));
    log_predictions(&project, Concept::New, 300);
    write_data(dir.path(), Concept::New, 2);
    let events = Collect(Mutex::new(Vec::new()));
    let summary = crate::monitor(
        &project,
        &MonitorOptions {
            model: "churn".to_owned(),
            schedule: Schedule::Every { seconds: 1 },
            promote: None,
            max_checks: Some(2),
        },
        &AtomicBool::new(false),
        &events,
    )
    .unwrap();
    assert_eq!(summary.checks, 2);
    assert!(!summary.stopped);
    let logs = events.0.into_inner().unwrap();
    assert_eq!(logs.len(), 2);
    // The first check found drift and a drop, retrained and promoted version 2.
    assert_eq!(
        logs[0].alerts,
        [
            AlertKind::Drift,
            AlertKind::PerformanceDrop,
            AlertKind::Promoted
        ]
    );
    // The webhook got it; the command failed, which was logged and did not stop the loop.
    assert_eq!(logs[0].notified.len(), 2);
    assert!(logs[0].notified[0].ok, "{:?}", logs[0].notified);
    assert!(!logs[0].notified[1].ok);
    // Version 2 has no predictions logged: the second check needs nothing.
    assert_eq!(logs[1].report.as_ref().unwrap().end, RetrainEnd::NotNeeded);
    assert!(logs[1].alerts.is_empty());
    let bodies = bodies.lock().unwrap();
    assert_eq!(bodies.len(), 1);
    let alert: Alert = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(alert.model, "churn");
    assert_eq!(
        alert.report.unwrap().end,
        RetrainEnd::Promoted { version: 2 }
    );
}

#[test]
fn monitor_stops_when_asked_and_survives_a_failing_webhook() {
    let (url, _bodies) = receiver(500);
    let (dir, project) = project(&format!("webhook = \"{url}\"\n"));
    write_data(dir.path(), Concept::NoTarget, 4);
    let stop = AtomicBool::new(false);
    struct StopAfterOne<'a>(&'a AtomicBool, Mutex<Vec<CheckLog>>);
    impl MonitorEvents for StopAfterOne<'_> {
        fn checked(&self, log: &CheckLog) {
            self.1.lock().unwrap().push(log.clone());
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        fn progress(&self) -> &dyn RetrainProgress {
            &QuietRetrain
        }
    }
    let events = StopAfterOne(&stop, Mutex::new(Vec::new()));
    // Nothing in production: the first check retrains, and the training fails.
    cairn_registry::promote(
        &project,
        &cairn_registry::PromoteOptions {
            reference: "churn@1".to_owned(),
            to: Stage::Archived,
            reason: None,
            force: false,
            expect_production: None,
        },
        &cairn_store::NoProgress,
    )
    .unwrap();
    let summary = crate::monitor(
        &project,
        &MonitorOptions {
            model: "churn".to_owned(),
            schedule: Schedule::Every { seconds: 3600 },
            promote: None,
            max_checks: None,
        },
        &stop,
        &events,
    )
    .unwrap();
    assert!(summary.stopped);
    assert_eq!((summary.checks, summary.failed), (1, 1));
    let logs = events.1.into_inner().unwrap();
    assert_eq!(logs[0].alerts, [AlertKind::RetrainFailed]);
    assert!(!logs[0].notified[0].ok);
    assert!(
        logs[0].notified[0]
            .message
            .as_deref()
            .is_some_and(|m| m.contains("500")),
        "{:?}",
        logs[0].notified
    );
}

#[test]
fn schedules() {
    assert_eq!(
        Schedule::parse_at("02:00"),
        Some(Schedule::At { hour: 2, minute: 0 })
    );
    assert_eq!(Schedule::parse_at("24:00"), None);
    assert_eq!(Schedule::parse_at("2:00"), None);
    let at = Schedule::At { hour: 2, minute: 0 };
    // 01:00 UTC → one hour; 03:00 → 23 hours.
    assert_eq!(at.wait(3_600_000_000, false).as_secs(), 3_600);
    assert_eq!(at.wait(3 * 3_600_000_000, true).as_secs(), 23 * 3_600);
    let every = Schedule::Every { seconds: 5 };
    assert_eq!(every.wait(0, true).as_secs(), 0);
    assert_eq!(every.wait(0, false).as_secs(), 5);
}

/// Asks to stop once the training step started.
struct StopAfterTrain(AtomicBool);

impl cairn_train::TrainProgress for StopAfterTrain {
    fn phase(&self, _: &str) {}
    fn fit(&self, _: usize, _: usize) {}
}

impl cairn_store::Progress for StopAfterTrain {}

impl RetrainProgress for StopAfterTrain {
    fn step(&self, step: StepName) {
        if step == StepName::Train {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }
    fn stop_requested(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[test]
fn a_stop_request_abandons_the_retrain_between_steps() {
    let (dir, project) = project("");
    write_data(dir.path(), Concept::Old, 8);
    let report = crate::retrain(
        &project,
        &options(false),
        &StopAfterTrain(AtomicBool::new(false)),
    )
    .unwrap();
    assert_eq!(
        report.end,
        RetrainEnd::Stopped {
            before: StepName::Register
        },
        "{report:#?}"
    );
    // The step under way (training) was finished; nothing was registered after it.
    assert!(report.run.is_some());
    assert_eq!(report.steps.last().unwrap().step, StepName::Train);
    assert!(cairn_registry::resolve_in(&project, "churn@2").is_err());
    assert_eq!(production(&project), Some(1));
}

#[test]
fn a_regressor_whose_production_rmse_grew_is_retrained() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    Project::init(root, &InitOptions { no_git: true }).unwrap();
    let toml = std::fs::read_to_string(root.join("cairn.toml")).unwrap();
    std::fs::write(
        root.join("cairn.toml"),
        toml + r#"
[model.price]
data = "data/train.csv"
target = "y"
algorithm = "linear_regression"

[retrain.price]
promote = "auto"
min_ratio = 0.5
"#,
    )
    .unwrap();
    let mut rng = Rng(21);
    let mut csv = String::from("x1,x2,y\n");
    for _ in 0..300 {
        let (x1, x2, e) = (rng.next(), rng.next(), rng.next() * 0.1);
        csv.push_str(&format!("{x1},{x2},{}\n", 2.0 * x1 - x2 + e));
    }
    std::fs::create_dir_all(root.join("data")).unwrap();
    std::fs::write(root.join("data/train.csv"), csv).unwrap();
    let project = Project::discover(root).unwrap();
    cairn_data::add(
        &project,
        &cairn_data::AddOptions {
            paths: vec!["data/train.csv".into()],
            cwd: root.to_path_buf(),
        },
        &cairn_store::NoProgress,
    )
    .unwrap();
    let mut o = options(false);
    o.model = "price".to_owned();
    let first = crate::retrain(&project, &o, &QuietRetrain).unwrap();
    assert_eq!(first.end, RetrainEnd::Promoted { version: 1 }, "{first:#?}");
    let entry = cairn_registry::resolve_in(&project, "price@1")
        .unwrap()
        .entry;
    // The same inputs as in training, answered well; the true values arrive 3 higher.
    let dir = project.state_dir().join("predictions").join("price");
    let log = PredictionLog::open(&dir, &LogOptions::default()).unwrap();
    let ts = now_micros() - 60_000_000;
    let xs: Vec<(f64, f64)> = (0..200).map(|_| (rng.next(), rng.next())).collect();
    log.log(PredictionBatch {
        request_id: "r".to_owned(),
        ts_us: ts,
        version: 1,
        digest: Arc::from(entry.artifact.to_hex()),
        inputs: vec![
            Column {
                name: Arc::from("x1"),
                values: Values::Number(xs.iter().map(|x| Some(x.0)).collect()),
            },
            Column {
                name: Arc::from("x2"),
                values: Values::Number(xs.iter().map(|x| Some(x.1)).collect()),
            },
        ],
        imputed: Vec::new(),
        prediction: Predicted::Values(xs.iter().map(|x| 2.0 * x.0 - x.1).collect()),
    })
    .unwrap();
    log.feedback(FeedbackBatch {
        ts_us: ts + 1,
        records: xs
            .iter()
            .enumerate()
            .map(|(i, x)| Feedback {
                request_id: "r".to_owned(),
                row: u32::try_from(i).unwrap(),
                label: FeedbackLabel::Number(2.0 * x.0 - x.1 + 3.0),
            })
            .collect(),
    })
    .unwrap();
    log.close().unwrap();
    o.if_needed = true;
    let report = crate::retrain(&project, &o, &QuietRetrain).unwrap();
    let performance = report.performance.as_ref().expect("labels were logged");
    assert_eq!(performance.metric, cairn_core::models::Metric::Rmse);
    assert_eq!(performance.labelled, 200);
    assert!(
        (performance.production - 3.0).abs() < 1e-9,
        "{performance:?}"
    );
    assert!(performance.dropped, "{performance:?}");
    assert!(
        report
            .reasons
            .iter()
            .any(|r| r.starts_with("performance: rmse")),
        "{report:#?}"
    );
    assert_ne!(report.end, RetrainEnd::NotNeeded);
}

#[test]
fn a_command_notifier_gets_the_alert_with_its_report_on_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("alert.json");
    let policy = cairn_core::retrain::RetrainSpec {
        command: vec![
            "sh".to_owned(),
            "-c".to_owned(),
            format!("cat > '{}'", out.display()),
        ],
        ..Default::default()
    };
    let report = crate::RetrainReport {
        model: "churn".to_owned(),
        spec: "churn".to_owned(),
        promote: PromotePolicy::Auto,
        production: Some(1),
        drift: None,
        performance: None,
        reasons: vec!["asked".to_owned()],
        steps: Vec::new(),
        end: RetrainEnd::NotPromoted {
            version: 2,
            blocked: "gates failed: accuracy".to_owned(),
        },
        run: None,
    };
    let alert = Alert {
        model: "churn".to_owned(),
        at: "2026-12-06T00:00:00Z".to_owned(),
        alerts: crate::alerts_of(Some(&report), false),
        report: Some(report.clone()),
        error: None,
    };
    assert_eq!(alert.alerts, [AlertKind::RetrainFailed]);
    let delivered = crate::notify(&policy, &alert);
    assert_eq!(delivered.len(), 1);
    assert!(delivered[0].ok, "{delivered:?}");
    let got: Alert = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(got.report, Some(report));
    assert_eq!(got.alerts, alert.alerts);
}
