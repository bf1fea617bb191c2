//! Deployment gates through the binary: `cairn validate NAME@REF [--data FILE]`, its JSON
//! document (decoded into the documented shapes, docs/formats/validation.md), the verdict in
//! cairn.lock, exit codes 0 / 1 / 2, and bad input that changes nothing.

use std::collections::BTreeMap;

use cairn_e2e::{Project, Rng};
use serde::Deserialize;
use serde::de::DeserializeOwned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ValidateDoc {
    kind: String,
    schema_version: u32,
    digest: String,
    format: u32,
    model: String,
    version: u32,
    artifact: String,
    run: String,
    spec: String,
    data: DataDoc,
    rows: u64,
    started: String,
    duration_s: f64,
    passed: bool,
    gates: Vec<GateDoc>,
}

/// The stored record: the document without `kind`, `schema_version` and `digest`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordDoc {
    format: u32,
    model: String,
    version: u32,
    artifact: String,
    run: String,
    spec: String,
    data: DataDoc,
    rows: u64,
    started: String,
    duration_s: f64,
    passed: bool,
    gates: Vec<GateDoc>,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case", deny_unknown_fields)]
enum DataDoc {
    HeldOut {
        run: String,
        path: String,
        digest: String,
        #[serde(default)]
        features: BTreeMap<String, String>,
    },
    File {
        path: String,
        digest: String,
    },
}

#[derive(Debug, PartialEq, Deserialize)]
struct GateDoc {
    gate: String,
    status: String,
    passed: bool,
    #[serde(default)]
    note: Option<String>,
    #[serde(flatten)]
    figures: FiguresDoc,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum FiguresDoc {
    Schema {
        detail: SchemaDoc,
    },
    Metric {
        threshold: BoundsDoc,
        measured: Option<f64>,
    },
    Fairness {
        threshold: MaxGapDoc,
        measured: Option<f64>,
        detail: FairnessDoc,
    },
    NoRegression {
        threshold: ToleranceDoc,
        measured: Option<f64>,
        #[serde(default)]
        detail: Option<NoRegressionDoc>,
    },
    Determinism {
        measured: IdenticalDoc,
        detail: DeterminismDoc,
    },
    Latency {
        threshold: LatencyDoc,
        measured: LatencyDoc,
        detail: LatencyDetailDoc,
    },
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct SchemaDoc {
    inputs: Vec<InputDoc>,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct InputDoc {
    name: String,
    expected: String,
    found: String,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct BoundsDoc {
    #[serde(default)]
    min: Option<f64>,
    #[serde(default)]
    max: Option<f64>,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct MaxGapDoc {
    max_gap: f64,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct FairnessDoc {
    group: String,
    metric: String,
    overall: Option<f64>,
    groups: Vec<GroupDoc>,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupDoc {
    group: String,
    rows: u64,
    value: Option<f64>,
    gap: Option<f64>,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct ToleranceDoc {
    metric: String,
    tolerance: f64,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoRegressionDoc {
    production_version: u32,
    production_artifact: String,
    candidate: Option<f64>,
    production: Option<f64>,
    higher_is_better: bool,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct IdenticalDoc {
    identical: bool,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeterminismDoc {
    first: String,
    second: String,
    bytes: u64,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct LatencyDoc {
    #[serde(default)]
    p50_ms: Option<f64>,
    #[serde(default)]
    p99_ms: Option<f64>,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct LatencyDetailDoc {
    calls: u64,
    warmup: u64,
    mean_ms: f64,
    max_ms: f64,
}

/// What the tests read of a run (`runs show --json`).
#[derive(Debug, Deserialize)]
struct RunDoc {
    id: String,
    metrics: BTreeMap<String, f64>,
    test_rows: u64,
}

/// What the tests read of the registry (`models show NAME@REF --json`).
#[derive(Debug, Deserialize)]
struct ShowDoc {
    versions: Vec<EntryDoc>,
}

#[derive(Debug, Deserialize)]
struct EntryDoc {
    version: u32,
    #[serde(default)]
    validation: Option<String>,
    #[serde(default)]
    validated: Option<String>,
}

#[track_caller]
fn decode<T: DeserializeOwned>(doc: serde_json::Value) -> T {
    serde_json::from_value(doc.clone())
        .unwrap_or_else(|e| panic!("not the documented JSON ({e}):\n{doc:#}"))
}

/// A seeded table: two numbers, a plan, a region, an id, a binary label that follows the
/// numbers with noise, and a numeric target.
fn table(rows: usize, seed: u64) -> String {
    let mut rng = Rng(seed);
    let unit = |rng: &mut Rng| (rng.next() % 10_000) as f64 / 10_000.0;
    let mut out = String::from("id,x1,x2,plan,region,label,amount\n");
    for i in 0..rows {
        let (x1, x2, noise) = (unit(&mut rng), unit(&mut rng), unit(&mut rng));
        let plan = ["free", "pro", "team"][(rng.next() % 3) as usize];
        let region = ["north", "south", "east"][(rng.next() % 3) as usize];
        let label = if x1 + x2 + 0.3 * noise > 1.15 {
            "yes"
        } else {
            "no"
        };
        let amount = 3.0 * x1 - 2.0 * x2 + noise;
        out.push_str(&format!(
            "{i},{x1},{x2},{plan},{region},{label},{amount:.4}\n"
        ));
    }
    out
}

const SPEC: &str = r#"
[model.churn]
data = "data/train.csv"
target = "label"
exclude = ["id", "region", "amount"]
algorithm = "random_forest_classifier"
params = { n_trees = 10, max_depth = 6 }
seed = 3

[model.churn.columns.plan]
encode = "one_hot"

[model.churn.gates]
accuracy = { min = 0.0 }
balanced_accuracy = { min = 0.0 }
precision = { min = 0.0 }
recall = { min = 0.0 }
f1 = { min = 0.0 }
roc_auc = { min = 0.0 }
log_loss = { max = 30.0 }
latency = { p99_ms = 60000, p50_ms = 60000, calls = 200 }
fairness = { group = "region", metric = "recall", max_gap = 1.0 }
no_regression = { metric = "roc_auc", tolerance = 0.01 }
determinism = true
"#;

/// A project with `data/train.csv` tracked, `spec` appended to cairn.toml, committed.
fn project(spec: &str) -> Project {
    let p = Project::new();
    p.write("data/train.csv", table(600, 1));
    let toml = String::from_utf8(p.read("cairn.toml")).unwrap();
    p.write("cairn.toml", toml + spec);
    p.cairn(&["data", "add", "data/train.csv"]).ok();
    p.commit("data and specs");
    p
}

/// Trains `spec` (with `--set` overrides) and registers the run: its run document.
fn train_and_register(p: &Project, spec: &str, set: &[&str]) -> RunDoc {
    let mut args = vec!["train", spec];
    for s in set {
        args.extend(["--set", s]);
    }
    let run: RunDoc = decode(p.json(&args, 0));
    p.cairn(&["register", &run.id]).ok();
    run
}

fn validate(p: &Project, args: &[&str], code: i32) -> ValidateDoc {
    let mut all = vec!["validate"];
    all.extend(args);
    decode(p.json(&all, code))
}

fn gate<'d>(doc: &'d ValidateDoc, name: &str) -> &'d GateDoc {
    doc.gates
        .iter()
        .find(|g| g.gate == name)
        .unwrap_or_else(|| panic!("no gate {name}: {doc:#?}"))
}

fn metric(doc: &ValidateDoc, name: &str) -> Option<f64> {
    match &gate(doc, name).figures {
        FiguresDoc::Metric { measured, .. } => *measured,
        other => panic!("{name} is not a metric gate: {other:?}"),
    }
}

fn shown(p: &Project, reference: &str) -> EntryDoc {
    let mut doc: ShowDoc = decode(p.json(&["models", "show", reference], 0));
    doc.versions.remove(0)
}

#[test]
fn validate_measures_the_run_s_own_test_metrics_records_the_verdict_and_gates_promotion() {
    let p = project(SPEC);
    let run = train_and_register(&p, "churn", &[]);
    let doc = validate(&p, &["churn@1"], 0);
    assert_eq!((doc.kind.as_str(), doc.schema_version), ("validate", 1));
    assert_eq!(
        (doc.format, doc.model.as_str(), doc.version),
        (1, "churn", 1)
    );
    assert_eq!(
        (doc.run.as_str(), doc.spec.as_str()),
        (run.id.as_str(), "churn")
    );
    assert!(doc.passed && doc.duration_s >= 0.0 && doc.started.ends_with('Z'));
    // The default rows are the run's held-out rows, rebuilt.
    assert_eq!(doc.rows, run.test_rows);
    let DataDoc::HeldOut { run: of, path, .. } = &doc.data else {
        panic!("{:?}", doc.data)
    };
    assert_eq!(
        (of.as_str(), path.as_str()),
        (run.id.as_str(), "data/train.csv")
    );
    // ... so every metric the run recorded is measured again, bit for bit.
    assert!(run.metrics.len() >= 6, "{:?}", run.metrics);
    for (name, value) in &run.metrics {
        assert_eq!(
            metric(&doc, name).map(f64::to_bits),
            Some(value.to_bits()),
            "{name}"
        );
    }
    assert!(metric(&doc, "balanced_accuracy").is_some());
    // Every gate, in the documented order, each with its figures.
    let order: Vec<&str> = doc.gates.iter().map(|g| g.gate.as_str()).collect();
    assert_eq!(
        order,
        [
            "schema",
            "accuracy",
            "balanced_accuracy",
            "precision",
            "recall",
            "f1",
            "roc_auc",
            "log_loss",
            "fairness",
            "no_regression",
            "determinism",
            "latency"
        ]
    );
    let FiguresDoc::Schema { detail } = &gate(&doc, "schema").figures else {
        panic!()
    };
    let inputs: Vec<&str> = detail.inputs.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(inputs, ["x1", "x2", "plan"]);
    let FiguresDoc::Fairness {
        detail, measured, ..
    } = &gate(&doc, "fairness").figures
    else {
        panic!()
    };
    let groups: Vec<&str> = detail.groups.iter().map(|g| g.group.as_str()).collect();
    assert_eq!(groups, ["east", "north", "south"]);
    assert_eq!(detail.overall, Some(run.metrics["recall"]));
    assert_eq!(
        detail.groups.iter().map(|g| g.rows).sum::<u64>(),
        run.test_rows
    );
    let largest = detail
        .groups
        .iter()
        .filter_map(|g| g.gap)
        .fold(0.0, f64::max);
    assert_eq!(*measured, Some(largest));
    let no_regression = gate(&doc, "no_regression");
    assert_eq!(
        (no_regression.status.as_str(), no_regression.passed),
        ("skipped", true)
    );
    assert!(
        no_regression
            .note
            .as_deref()
            .unwrap()
            .contains("no version is in production")
    );
    let FiguresDoc::Determinism { measured, detail } = &gate(&doc, "determinism").figures else {
        panic!()
    };
    assert!(measured.identical && detail.first == detail.second);
    assert_eq!(detail.bytes, run.test_rows * 8 * 3);
    let FiguresDoc::Latency {
        detail, measured, ..
    } = &gate(&doc, "latency").figures
    else {
        panic!()
    };
    assert_eq!(detail.calls, 200);
    assert!(measured.p50_ms.unwrap() <= measured.p99_ms.unwrap());

    // The record is in the store under its digest, and is the document's record.
    let stored: RecordDoc = decode(
        serde_json::from_slice(&std::fs::read(p.object_path(&doc.digest)).unwrap()).unwrap(),
    );
    assert_eq!(stored.gates, doc.gates);
    assert_eq!(
        (stored.artifact, stored.data),
        (doc.artifact.clone(), doc.data)
    );
    assert!(stored.passed && stored.rows == doc.rows && stored.format == 1);
    assert_eq!(
        (&stored.model, stored.version, &stored.run, &stored.spec),
        (&doc.model, doc.version, &doc.run, &doc.spec)
    );
    assert_eq!(
        (&stored.started, stored.duration_s.to_bits()),
        (&doc.started, doc.duration_s.to_bits())
    );
    // cairn.lock points the version at it, with its verdict.
    let entry = shown(&p, "churn@1");
    assert_eq!(entry.version, 1);
    assert_eq!(entry.validation.as_deref(), Some(doc.digest.as_str()));
    assert_eq!(entry.validated.as_deref(), Some("passed"));
    assert!(
        p.git(&["diff", "cairn.lock"])
            .contains(&format!("+validation = \"{}\"", doc.digest))
    );
    p.cairn(&["models", "promote", "churn@1", "--to", "production"])
        .ok();

    // The human table: gate, threshold, measured, result; the fairness table; exit 0.
    p.cairn(&["validate", "churn@1"])
        .ok()
        .stdout_has("validated churn@1  passed")
        .stdout_has("accuracy")
        .stdout_has("fairness: recall by region")
        .stdout_has("this version is the production version");
}

#[test]
fn a_failing_gate_exits_1_and_blocks_production_until_a_version_passes() {
    // A one-tree forest of depth 2 against a tight log loss and a production forest.
    let spec = SPEC.replace("log_loss = { max = 30.0 }", "log_loss = { max = 0.45 }");
    let p = project(&spec);
    train_and_register(&p, "churn", &[]);
    let first = validate(&p, &["churn@1"], 0);
    assert!(first.passed, "{first:#?}");
    p.cairn(&["models", "promote", "churn@1", "--to", "production"])
        .ok();
    train_and_register(&p, "churn", &["n_trees=1", "max_depth=2"]);
    let doc = validate(&p, &["churn@2"], 1);
    assert!(!doc.passed);
    let failed: Vec<&str> = doc
        .gates
        .iter()
        .filter(|g| !g.passed)
        .map(|g| g.gate.as_str())
        .collect();
    assert!(
        failed.contains(&"log_loss") && failed.contains(&"no_regression"),
        "{failed:?}"
    );
    assert!(doc.gates.iter().all(|g| g.passed == (g.status != "failed")));
    // no_regression compared with the production version, on the same rows.
    let FiguresDoc::NoRegression {
        measured,
        detail: Some(detail),
        threshold,
    } = &gate(&doc, "no_regression").figures
    else {
        panic!("{doc:#?}")
    };
    assert_eq!(
        (detail.production_version, threshold.metric.as_str()),
        (1, "roc_auc")
    );
    assert_eq!(detail.production, metric(&first, "roc_auc"));
    assert_eq!(
        *measured,
        Some(detail.candidate.unwrap() - detail.production.unwrap())
    );
    assert_eq!(shown(&p, "churn@2").validated.as_deref(), Some("failed"));
    // Production needs a passing validation of exactly that version.
    p.cairn(&["models", "promote", "churn@2", "--to", "production"])
        .code(2);
    p.cairn(&["validate", "churn@2"])
        .code(1)
        .stdout_has("failed");
    // The thresholds are relaxed in cairn.toml: the same version passes now.
    let toml = String::from_utf8(p.read("cairn.toml")).unwrap();
    p.write(
        "cairn.toml",
        toml.replace("log_loss = { max = 0.45 }", "log_loss = { max = 30 }")
            .replace("tolerance = 0.01", "tolerance = 1"),
    );
    let doc = validate(&p, &["churn@2"], 0);
    assert!(doc.passed);
    p.cairn(&["models", "promote", "churn@2", "--to", "production"])
        .ok();
}

#[test]
fn validate_on_a_table_given_with_data() {
    let p = project(SPEC);
    train_and_register(&p, "churn", &[]);
    p.write("fresh/rows.csv", table(150, 9));
    let doc = validate(&p, &["churn@1", "--data", "fresh/rows.csv"], 0);
    assert_eq!(doc.rows, 150);
    let DataDoc::File { path, digest } = &doc.data else {
        panic!("{:?}", doc.data)
    };
    assert_eq!(path, "fresh/rows.csv");
    assert_eq!(digest.len(), 64);
    // A path is taken from the working directory, as every path argument.
    let doc = decode::<ValidateDoc>(
        p.cairn_in(
            "fresh",
            &["--json", "validate", "churn@1", "--data", "rows.csv"],
        )
        .ok()
        .json(),
    );
    assert_eq!(doc.rows, 150);
}

#[test]
fn held_out_rows_of_an_entity_spec_are_rebuilt_through_the_same_join() {
    let p = Project::new();
    let mut events = String::from("customer_id,ts,spend,visits\n");
    let mut labels = String::from("customer_id,event_timestamp,churned\n");
    let mut rng = Rng(5);
    for c in 0..60 {
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
    p.write("data/events.csv", events);
    p.write("data/labels.csv", &labels);
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

[model.churn_fs]
entities = "data/labels.csv"
features = ["activity:spend", "activity:visits"]
target = "churned"
algorithm = "decision_tree_classifier"
params = { max_depth = 3 }

[model.churn_fs.gates]
accuracy = { min = 0.9 }
f1 = { min = 0.0 }
"#,
    );
    p.cairn(&["data", "add", "data/events.csv", "data/labels.csv"])
        .ok();
    p.cairn(&["feature", "materialize"]).ok();
    let run = train_and_register(&p, "churn_fs", &[]);
    // The entity table changes in the workspace after the run: the pinned one is used.
    p.write("data/labels.csv", labels.replace(",1\n", ",0\n"));
    let doc = validate(&p, &["churn_fs@1"], 0);
    assert_eq!(doc.rows, run.test_rows);
    for name in ["accuracy", "f1"] {
        assert_eq!(
            metric(&doc, name).map(f64::to_bits),
            Some(run.metrics[name].to_bits())
        );
    }
    let DataDoc::HeldOut { features, path, .. } = &doc.data else {
        panic!()
    };
    assert_eq!(path, "data/labels.csv");
    assert!(features.contains_key("activity"), "{features:?}");
}

/// `cairn validate ARGS` is refused with exit 2, naming `needle`, and cairn.lock is unchanged.
#[track_caller]
fn refused(p: &Project, args: &[&str], needle: &str) {
    let before = p.lock_text();
    let mut all = vec!["validate"];
    all.extend(args);
    p.cairn(&all).code(2).stderr_has(needle);
    assert_eq!(p.lock_text(), before, "cairn.lock changed");
}

#[test]
fn bad_input_exits_2_names_the_thing_and_changes_nothing() {
    let p = project(SPEC);
    train_and_register(&p, "churn", &[]);
    let toml = String::from_utf8(p.read("cairn.toml")).unwrap();
    let with_gate = |old: &str, new: &str| {
        assert!(toml.contains(old));
        p.write("cairn.toml", toml.replace(old, new));
    };
    // A gate with an unknown metric name.
    with_gate("f1 = { min = 0.0 }", "f2 = { min = 0.0 }");
    refused(
        &p,
        &["churn@1"],
        "`gates.f2` is neither a gate nor a metric",
    );
    // A metric of the other task.
    with_gate("f1 = { min = 0.0 }", "rmse = { max = 1.0 }");
    refused(
        &p,
        &["churn@1"],
        "`model.churn.gates.rmse`: rmse measures a regressor, and random_forest_classifier is a classifier",
    );
    // Thresholds out of range.
    with_gate("accuracy = { min = 0.0 }", "accuracy = { min = 1.5 }");
    refused(
        &p,
        &["churn@1"],
        "`model.churn.gates.accuracy.min`: 1.5 is outside the range of accuracy, [0, 1]",
    );
    with_gate("p99_ms = 60000", "p99_ms = -5");
    refused(
        &p,
        &["churn@1"],
        "`model.churn.gates.latency.p99_ms`: -5 is not a time",
    );
    p.write("cairn.toml", toml.clone());

    // Data without an input column, or with a wrong type.
    let rows = table(50, 4);
    let without_x2: String = rows
        .lines()
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            format!("{},{}\n", cells[..2].join(","), cells[3..].join(","))
        })
        .collect();
    p.write("check/no_x2.csv", without_x2);
    refused(
        &p,
        &["churn@1", "--data", "check/no_x2.csv"],
        "the validation data cannot be scored by churn@1: input `x2` is missing",
    );
    let text_x1: String = rows
        .lines()
        .enumerate()
        .map(|(i, l)| {
            let mut cells: Vec<String> = l.split(',').map(str::to_owned).collect();
            if i > 0 {
                cells[1] = format!("v{i}");
            }
            cells.join(",") + "\n"
        })
        .collect();
    p.write("check/text_x1.csv", text_x1);
    refused(
        &p,
        &["churn@1", "--data", "check/text_x1.csv"],
        "input `x1`",
    );
    // A group column with a single group.
    let north: String = rows
        .lines()
        .filter(|l| l.starts_with("id,") || l.contains(",north,"))
        .map(|l| format!("{l}\n"))
        .collect();
    p.write("check/north.csv", north);
    refused(
        &p,
        &["churn@1", "--data", "check/north.csv"],
        "`region` holds a single group (north) in the validation data",
    );
    // A version or a model that does not exist; data that is not there.
    refused(&p, &["churn@7"], "no version 7");
    refused(&p, &["nope@1"], "nope");
    refused(
        &p,
        &["churn@1", "--data", "check/missing.csv"],
        "check/missing.csv",
    );
    assert!(shown(&p, "churn@1").validation.is_none());
}

#[test]
fn a_run_without_held_out_rows_needs_data() {
    // A run record that says it held out no rows (no cairn run can, by the split's checks;
    // an older or hand-made record may), stored and pinned in place of the real one.
    let p = project(SPEC);
    let run = train_and_register(&p, "churn", &[]);
    let lock = p.lock_text();
    let record_line = lock
        .lines()
        .find(|l| l.starts_with("record = "))
        .expect("the version pins its run record");
    let digest = record_line
        .trim_start_matches("record = ")
        .trim_matches('"');
    let record = String::from_utf8(std::fs::read(p.object_path(digest)).unwrap()).unwrap();
    let rows = format!("\"test_rows\": {}", run.test_rows);
    assert!(record.contains(&rows), "{record}");
    // Stored as an object by tracking it (the store names it by its digest).
    p.write(
        "hand/record.json",
        record.replace(&rows, "\"test_rows\": 0"),
    );
    p.cairn(&["data", "add", "hand/record.json"]).ok();
    let hand = p.lock_text();
    let hand_digest = hand
        .lines()
        .skip_while(|l| !l.contains("hand/record.json"))
        .find_map(|l| l.strip_prefix("digest = "))
        .expect("the record's digest")
        .trim_matches('"')
        .to_owned();
    p.write("cairn.lock", hand.replace(digest, &hand_digest));
    refused(&p, &["churn@1"], "held out no rows");
    p.cairn(&["validate", "churn@1"])
        .code(2)
        .stderr_has("hint: pass --data FILE");
    p.write("check/rows.csv", table(40, 8));
    let doc = validate(&p, &["churn@1", "--data", "check/rows.csv"], 0);
    assert_eq!(doc.rows, 40);
}
