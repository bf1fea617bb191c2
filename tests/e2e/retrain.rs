//! `cairn retrain` and `cairn monitor` through the binary: the report decoded from JSON, the
//! exit codes (0 done or not needed, 1 not promoted or a step failed, 2 bad input), production
//! kept when the new model is worse or training fails, and the monitor on a one-second
//! schedule alerting a webhook receiver on 127.0.0.1, then stopping on SIGTERM. (Drift
//! injected into a prediction log is tested in cairn-pipeline, whose tests write the log
//! through cairn_predlog's writer.)

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use cairn_e2e::{Project, Rng};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportDoc {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    schema_version: Option<u32>,
    model: String,
    spec: String,
    promote: String,
    production: Option<u32>,
    drift: Option<serde_json::Value>,
    performance: Option<serde_json::Value>,
    reasons: Vec<String>,
    steps: Vec<StepDoc>,
    end: EndDoc,
    run: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepDoc {
    step: String,
    status: String,
    detail: String,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(tag = "state", rename_all = "snake_case", deny_unknown_fields)]
enum EndDoc {
    NotNeeded,
    Promoted { version: u32 },
    Staged { version: u32 },
    Unchanged { version: u32 },
    NotPromoted { version: u32, blocked: String },
    Failed { step: String, message: String },
    Stopped { before: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckDoc {
    kind: String,
    schema_version: u32,
    check: u64,
    at: String,
    alerts: Vec<String>,
    report: Option<ReportDoc>,
    error: Option<String>,
    notified: Vec<NotifiedDoc>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NotifiedDoc {
    notifier: String,
    ok: bool,
    message: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SummaryDoc {
    kind: String,
    schema_version: u32,
    model: String,
    checks: u64,
    failed: u64,
    stopped: bool,
}

/// 400 rows: `x1`, `x2` uniform on [0, 1); `y` is `x1 > 0.5`, or random with `noise`.
fn table(seed: u64, noise: bool) -> String {
    let mut rng = Rng(seed);
    let mut unit = || (rng.next() % 10_000) as f64 / 10_000.0;
    let mut out = String::from("x1,x2,y\n");
    for _ in 0..400 {
        let (x1, x2, r) = (unit(), unit(), unit());
        let y = if noise { r < 0.5 } else { x1 > 0.5 };
        out.push_str(&format!("{x1},{x2},{}\n", u8::from(y)));
    }
    out
}

fn project(policy: &str) -> Project {
    let p = Project::new();
    p.write("data/train.csv", table(1, false));
    let toml = String::from_utf8(p.read("cairn.toml")).unwrap();
    p.write(
        "cairn.toml",
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
"# + policy,
    );
    p.cairn(&["data", "add", "data/train.csv"]).ok();
    p.commit("data and spec");
    p
}

fn retrain(p: &Project, args: &[&str], code: i32) -> ReportDoc {
    let mut all = vec!["retrain", "churn"];
    all.extend(args);
    let doc = p.json(&all, code);
    let report: ReportDoc = serde_json::from_value(doc.clone())
        .unwrap_or_else(|e| panic!("not the documented JSON ({e}):\n{doc:#}"));
    assert_eq!(
        (report.kind.as_deref(), report.schema_version),
        (Some("retrain"), Some(1))
    );
    report
}

/// The production version, from `models show churn@production`.
fn production(p: &Project) -> Option<u64> {
    let out = p
        .command(&["--json", "models", "show", "churn@production"])
        .output()
        .unwrap();
    if out.status.code() != Some(0) {
        return None;
    }
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["versions"][0]["version"].as_u64()
}

#[test]
fn retrain_promotes_then_keeps_production_when_the_new_model_is_worse() {
    let p = project("promote = \"auto\"\n");
    // Nothing in production: a retrain is needed, trains version 1 and promotes it.
    let first = retrain(&p, &["--if-needed"], 0);
    assert_eq!(first.end, EndDoc::Promoted { version: 1 }, "{first:#?}");
    assert_eq!(
        (first.model.as_str(), first.spec.as_str()),
        ("churn", "churn")
    );
    assert_eq!(first.promote, "auto");
    assert_eq!(first.production, None);
    assert!(first.reasons[0].contains("no version in production"));
    let steps: Vec<(&str, &str)> = first
        .steps
        .iter()
        .map(|s| (s.step.as_str(), s.status.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            ("check", "skipped"),
            ("decide", "done"),
            ("data", "done"),
            ("materialize", "skipped"),
            ("train", "done"),
            ("register", "done"),
            ("validate", "done"),
            ("promote", "done")
        ]
    );
    assert!(first.run.is_some() && first.drift.is_none() && first.performance.is_none());
    assert!(first.steps.iter().all(|s| !s.detail.is_empty()));
    let history = p.json(&["models", "history", "churn"], 0);
    assert!(
        history.to_string().contains("retrain churn: "),
        "the promotion's reason names the retrain: {history}"
    );

    // With production and no logged predictions, nothing says a retrain is needed.
    let again = retrain(&p, &["--if-needed"], 0);
    assert_eq!(again.end, EndDoc::NotNeeded);
    assert_eq!(again.production, Some(1));
    p.cairn(&["retrain", "churn", "--if-needed"])
        .ok()
        .stdout_has("not needed");

    // A worse model (random labels): trained and registered, left in staging; exit 1.
    p.write("data/train.csv", table(2, true));
    let worse = retrain(&p, &[], 1);
    match &worse.end {
        EndDoc::NotPromoted {
            version: 2,
            blocked,
        } => {
            assert!(blocked.contains("accuracy"), "{blocked}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(production(&p), Some(1));
    let staged = p.json(&["models", "show", "churn@staging"], 0);
    assert_eq!(
        staged["versions"][0]["version"].as_u64(),
        Some(2),
        "{staged}"
    );
    let history = p.json(&["models", "history", "churn"], 0).to_string();
    assert!(
        history.contains("not promoted to production: gates failed: accuracy"),
        "the staging's reason names the failed gate: {history}"
    );
    p.cairn(&["retrain", "churn"])
        .code(1)
        .stderr_has("this retrain did not change production");
}

#[test]
fn a_failed_training_exits_1_and_leaves_production() {
    let p = project("promote = \"auto\"\n");
    retrain(&p, &[], 0);
    p.write("data/train.csv", "x1,x2\n0.1,0.2\n0.3,0.4\n");
    let failed = retrain(&p, &[], 1);
    assert!(
        matches!(&failed.end, EndDoc::Failed { step, .. } if step == "train"),
        "{failed:#?}"
    );
    assert_eq!(production(&p), Some(1));
}

#[test]
fn manual_policy_stages_and_bad_input_exits_2() {
    let p = project("");
    let staged = retrain(&p, &[], 0);
    assert_eq!(staged.promote, "manual");
    assert_eq!(staged.end, EndDoc::Staged { version: 1 });
    assert_eq!(production(&p), None);
    p.cairn(&["retrain", "other"])
        .code(2)
        .stderr_has("no retraining policy for other");
    p.cairn(&["monitor", "churn", "--every", "1w"])
        .code(2)
        .stderr_has("not a duration");
    p.cairn(&["monitor", "churn", "--at", "25:00"]).code(2);
    p.cairn(&["monitor", "churn"]).code(2);
    let toml = String::from_utf8(p.read("cairn.toml")).unwrap();
    p.write("cairn.toml", toml + "min_ratio = 2.0\n");
    p.cairn(&["retrain", "churn"])
        .code(2)
        .stderr_has("retrain.churn.min_ratio");
}

/// A webhook receiver on 127.0.0.1: the bodies it got.
fn receiver() -> (String, Arc<Mutex<Vec<String>>>) {
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
            let _ = write!(stream, "HTTP/1.1 204 No Content\r\n\r\n");
        }
    });
    (url, bodies)
}

#[test]
fn monitor_runs_on_a_schedule_and_alerts_the_webhook() {
    let (url, bodies) = receiver();
    let p = project(&format!(
        "promote = \"auto\"\nwebhook = \"{url}\"\ncommand = [\"sh\", \"-c\", \"exit 3\"]\n"
    ));
    let out = p
        .command(&[
            "--json",
            "monitor",
            "churn",
            "--every",
            "1s",
            "--max-checks",
            "2",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    let checks: Vec<CheckDoc> = lines[..2]
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let summary: SummaryDoc = serde_json::from_str(lines[2]).unwrap();
    assert_eq!(
        (summary.kind.as_str(), summary.schema_version),
        ("monitor", 1)
    );
    assert_eq!(summary.model, "churn");
    assert_eq!(
        (summary.checks, summary.failed, summary.stopped),
        (2, 0, false)
    );
    // First check: nothing in production, so retrained and promoted; the webhook was told,
    // the failing command was logged and did not stop the loop.
    let first = &checks[0];
    assert_eq!(
        (first.kind.as_str(), first.schema_version),
        ("monitor_check", 1)
    );
    assert_eq!(first.check, 1);
    assert!(first.at.ends_with('Z') && first.error.is_none());
    assert_eq!(first.alerts, ["promoted"]);
    assert_eq!(
        first.report.as_ref().unwrap().end,
        EndDoc::Promoted { version: 1 }
    );
    assert_eq!(first.notified.len(), 2);
    assert!(first.notified[0].notifier == "webhook" && first.notified[0].ok);
    assert!(first.notified[1].notifier == "command" && !first.notified[1].ok);
    assert!(first.notified[1].message.is_some());
    assert!(stderr.contains("the command notifier failed"), "{stderr}");
    // Second check: not needed, no alert.
    assert_eq!(checks[1].report.as_ref().unwrap().end, EndDoc::NotNeeded);
    assert!(checks[1].alerts.is_empty() && checks[1].notified.is_empty());
    let bodies = bodies.lock().unwrap();
    assert_eq!(bodies.len(), 1);
    let alert: serde_json::Value = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(alert["model"], "churn");
    assert_eq!(alert["alerts"][0], "promoted");
    assert_eq!(alert["report"]["end"]["state"], "promoted");
    assert_eq!(production(&p), Some(1));
}

#[test]
fn monitor_stops_on_sigterm_after_a_check() {
    let p = project("");
    let mut child = p
        .command(&["monitor", "churn", "--every", "1h"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(line.contains("check 1:"), "{line}");
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert_eq!(status.code(), Some(0), "{rest}");
    assert!(rest.contains("1 check(s), 0 failed, stopped"), "{rest}");
    // The lock is whole: the registry reads it.
    p.cairn(&["models", "show", "churn"]).ok();
}

#[test]
fn the_last_drift_check_shows_in_status_lineage_and_models_show() {
    let p = project("promote = \"auto\"\n");
    retrain(&p, &[], 0);
    p.cairn(&["lineage", "churn@1"])
        .ok()
        .stdout_has("drift: not checked");
    // Current data shifted: x1 on [2, 3).
    let shifted: String = table(5, false)
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                format!("{l}\n")
            } else {
                let (x1, rest) = l.split_once(',').unwrap();
                format!("{},{rest}\n", x1.parse::<f64>().unwrap() + 2.0)
            }
        })
        .collect();
    p.write("current.csv", shifted);
    p.cairn(&["drift", "churn@1", "--current", "current.csv"])
        .code(1);
    let status = p.json(&["status"], 0);
    let drift = &status["models"][0]["production"]["drift"];
    assert_eq!(drift["version"], 1, "{status:#}");
    assert_eq!(drift["dataset_drift"], true, "{status:#}");
    assert!(drift["record"].as_str().is_some_and(|r| r.len() == 64));
    p.cairn(&["status"])
        .stdout_has("dataset drift (1 of 2 columns)");
    p.cairn(&["lineage", "churn@1"])
        .ok()
        .stdout_has("drift: dataset drift (1 of 2 columns) on ");
    let shown = p.json(&["models", "show", "churn"], 0);
    assert_eq!(shown["last_drift"]["version"], 1, "{shown:#}");
    p.cairn(&["models", "show", "churn"])
        .ok()
        .stdout_has("last drift check: churn@1: dataset drift");
}

#[test]
fn a_spec_over_a_feature_service_is_materialized_again_before_training() {
    let p = Project::new();
    let mut rng = Rng(11);
    let mut events = String::from("customer_id,ts,spend,visits\n");
    let mut labels = String::from("customer_id,event_timestamp,churned\n");
    for c in 0..40 {
        for day in 1..=4 {
            let spend = (rng.next() % 1000) as f64 / 10.0;
            events.push_str(&format!(
                "{c},2026-01-0{day}T00:00:00,{spend},{}\n",
                rng.next() % 9
            ));
            labels.push_str(&format!(
                "{c},2026-01-0{day}T12:00:00,{}\n",
                u8::from(spend < 50.0)
            ));
        }
    }
    p.write("data/events.csv", &events);
    p.write("data/labels.csv", labels);
    let toml = String::from_utf8(p.read("cairn.toml")).unwrap();
    p.write(
        "cairn.toml",
        toml + r#"
[entity.customer]
join_keys = { customer_id = "int" }

[feature_view.activity]
source = "data/events.csv"
entities = ["customer"]
timestamp = "ts"
features = { spend = "float", visits = "int" }

[feature_service.churn]
features = ["activity:spend", "activity:visits"]

[model.churn_fs]
entities = "data/labels.csv"
service = "churn"
target = "churned"
algorithm = "decision_tree_classifier"
params = { max_depth = 3 }

[retrain.churn_fs]
data = ["data/events.csv", "data/labels.csv"]
"#,
    );
    p.cairn(&["data", "add", "data/events.csv", "data/labels.csv"])
        .ok();
    p.commit("data and spec");
    let table = |p: &Project| {
        let lock = p.lock_text();
        let at = lock.find("[feature.activity]").expect("a table");
        let rest = &lock[at..];
        let start = rest.find("digest = \"").unwrap() + "digest = \"".len();
        rest[start..start + 64].to_owned()
    };
    let doc = p.json(&["retrain", "churn_fs"], 0);
    let first: ReportDoc = serde_json::from_value(doc.clone()).unwrap();
    assert_eq!(first.end, EndDoc::Staged { version: 1 }, "{doc:#}");
    let materialize = first
        .steps
        .iter()
        .find(|s| s.step == "materialize")
        .unwrap();
    assert_eq!(materialize.status, "done");
    assert!(materialize.detail.contains("activity"), "{materialize:?}");
    let before = table(&p);
    // New events: the view is materialized again and the new table pinned.
    p.write("data/events.csv", events.replace(",1\n", ",2\n"));
    let doc = p.json(&["retrain", "churn_fs"], 0);
    let second: ReportDoc = serde_json::from_value(doc.clone()).unwrap();
    assert!(
        matches!(
            second.end,
            EndDoc::Staged { version: 2 } | EndDoc::Unchanged { .. }
        ),
        "{doc:#}"
    );
    assert_ne!(table(&p), before);
}
