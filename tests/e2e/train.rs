//! Training and tracking: `cairn train`, `cairn runs list | show | compare | rm`.

use std::collections::BTreeMap;

use cairn_e2e::{Project, Rng};
use cairn_model::artifact::{Artifact, Label, Task};
use cairn_model::prep::InputKind;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The documented JSON of the run commands (docs/guide/train.md#json-output), decoded so that a
/// renamed or missing field fails the test.
#[derive(Debug, Deserialize)]
struct RunDoc {
    id: String,
    model: String,
    status: String,
    #[serde(default)]
    error: Option<String>,
    params: BTreeMap<String, Value>,
    #[serde(default)]
    overrides: BTreeMap<String, Value>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    metrics: BTreeMap<String, f64>,
    #[serde(default)]
    artifact: Option<String>,
    untracked: bool,
    validation: String,
}

#[derive(Debug, Deserialize)]
struct RunsListDoc {
    kind: String,
    runs: Vec<RunDoc>,
    #[serde(default)]
    remote: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CompareDoc {
    kind: String,
    schema_version: u32,
    runs: Vec<String>,
    rows: Vec<ComparedRow>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ComparedRow {
    field: String,
    values: Vec<Option<Value>>,
    differs: bool,
    shown: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RemovedDoc {
    kind: String,
    schema_version: u32,
    removed: Vec<String>,
}

/// The `data-validate` report that a refused `train` prints.
#[derive(Debug, Deserialize)]
struct ValidateDoc {
    kind: String,
    passed: bool,
    datasets: Vec<DatasetDoc>,
}

#[derive(Debug, Deserialize)]
struct DatasetDoc {
    path: String,
    checks: Vec<CheckDoc>,
}

#[derive(Debug, Deserialize)]
struct CheckDoc {
    check: String,
    passed: bool,
}

#[track_caller]
fn decode<T: DeserializeOwned>(doc: Value) -> T {
    serde_json::from_value(doc.clone())
        .unwrap_or_else(|e| panic!("not the documented JSON ({e}):\n{doc:#}"))
}

/// A seeded table: two informative numbers, a category, an int with gaps, a binary label, a
/// three-class label and a numeric target.
fn table(rows: usize, seed: u64) -> String {
    let mut rng = Rng(seed);
    let mut out = String::from("id,x1,x2,plan,age,label,tier,amount\n");
    let unit = |rng: &mut Rng| (rng.next() % 10_000) as f64 / 10_000.0;
    for i in 0..rows {
        let (x1, x2) = (unit(&mut rng), unit(&mut rng));
        let plan = ["free", "pro", "team"][(rng.next() % 3) as usize];
        let age = if i % 17 == 3 {
            String::new()
        } else {
            (20 + rng.next() % 50).to_string()
        };
        let noise = unit(&mut rng) * 0.3;
        let label = if x1 + x2 + noise > 1.15 { "yes" } else { "no" };
        let tier = ((x1 * 2.99) as u32).to_string();
        let amount = 3.0 * x1 - 2.0 * x2 + if plan == "pro" { 1.0 } else { 0.0 } + noise;
        out.push_str(&format!(
            "{i},{x1},{x2},{plan},{age},{label},{tier},{amount:.4}\n"
        ));
    }
    out
}

const SPECS: &str = r#"
[model.churn]
data = "data/train.csv"
target = "label"
exclude = ["id", "tier", "amount"]
algorithm = "random_forest_classifier"
params = { n_trees = 20, max_depth = 6 }
seed = 7

[model.churn.columns.plan]
encode = "one_hot"

[model.churn.columns.age]
impute = "median"
"#;

fn project() -> Project {
    let p = Project::new();
    p.write("data/train.csv", table(400, 1));
    let mut config = String::from_utf8(p.read("cairn.toml")).unwrap();
    config.push_str(SPECS);
    p.write("cairn.toml", config);
    p.cairn(&["data", "add", "data/train.csv"]).ok();
    p.commit("data and specs");
    p
}

/// A directory remote `shared` (the default), everything pushed to it, and the config committed.
fn push_to_new_remote(p: &Project) -> tempfile::TempDir {
    let remote = tempfile::tempdir().unwrap();
    p.cairn(&["remote", "add", "shared", remote.path().to_str().unwrap()])
        .ok();
    p.cairn(&["data", "push"]).ok();
    p.commit("remote");
    remote
}

fn add_spec(p: &Project, spec: &str) {
    let mut config = String::from_utf8(p.read("cairn.toml")).unwrap();
    config.push_str(spec);
    p.write("cairn.toml", config);
}

#[test]
fn a_run_is_recorded_with_metrics_provenance_and_an_artifact_in_the_store() {
    let p = project();
    let run = p.json(&["train", "churn", "--tag", "team=risk"], 0);
    assert_eq!(run["status"], "finished");
    assert_eq!(run["model"], "churn");
    assert_eq!(run["algorithm"], "random_forest_classifier");
    assert_eq!(run["params"]["n_trees"], 20);
    assert_eq!(
        run["params"]["max_features"], "sqrt",
        "defaults are recorded"
    );
    assert_eq!(run["tags"]["team"], "risk");
    assert_eq!(run["train_rows"], 320);
    assert_eq!(run["test_rows"], 80);
    let accuracy = run["metrics"]["accuracy"].as_f64().unwrap();
    assert!(accuracy > 0.75, "the label is learnable: {accuracy}");
    for m in ["precision", "recall", "f1", "roc_auc", "log_loss"] {
        assert!(run["metrics"][m].is_number(), "{m} in {run}");
    }
    let confusion = &run["report"]["confusion"];
    let total: u64 = confusion
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap())
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(total, 80);
    // Provenance: the data digest is the lock's, the commit is HEAD, the tree is clean.
    let lock = p.lock_text();
    let digest = run["data"]["data/train.csv"].as_str().unwrap();
    assert!(lock.contains(digest), "{digest} not in\n{lock}");
    assert_eq!(
        run["code"]["commit"].as_str().unwrap(),
        p.git(&["rev-parse", "HEAD"]).trim()
    );
    assert_eq!(run["code"]["dirty"], false);
    assert_eq!(run["environment"]["os"], std::env::consts::OS);
    // The artifact is an object: a CAIRNMDL file whose JSON header names the inputs.
    let artifact = run["artifact"].as_str().unwrap();
    let bytes = std::fs::read(p.object_path(artifact)).unwrap();
    let header = Artifact::read_header(&bytes).expect("the artifact's header");
    let inputs: Vec<&str> = header.inputs.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(inputs, ["x1", "x2", "plan", "age"]);
    match &header.inputs[2].kind {
        InputKind::Category { categories, .. } => assert_eq!(categories, &["free", "pro", "team"]),
        other => panic!("plan is read as {other:?}"),
    }
    assert_eq!(
        header.task,
        Task::Classification {
            labels: vec![Label::Text("no".into()), Label::Text("yes".into())]
        }
    );
    // The run record is an object too.
    let listed = p.json(&["runs", "list"], 0);
    assert_eq!(listed["runs"].as_array().unwrap().len(), 1);
    let mut shown = p.json(&["runs", "show", &run["id"].as_str().unwrap()[..6]], 0);
    let mut run = run;
    shown.as_object_mut().unwrap().remove("kind");
    run.as_object_mut().unwrap().remove("kind");
    assert_eq!(shown, run);
}

#[test]
fn the_same_data_spec_and_seed_give_the_same_artifact_digest() {
    let p = project();
    let a = p.json(&["train", "churn"], 0);
    let b = p.json(&["train", "churn"], 0);
    assert_ne!(a["id"], b["id"]);
    assert_eq!(a["artifact"], b["artifact"]);
    assert_eq!(a["metrics"], b["metrics"]);
    let c = p.json(&["train", "churn", "--set", "seed=8"], 0);
    assert_ne!(a["artifact"], c["artifact"], "another seed, another forest");
    assert_eq!(c["overrides"]["seed"], 8);
    assert_eq!(c["seed"], 8);
}

#[test]
fn every_algorithm_trains_from_a_spec_and_reproduces() {
    let p = project();
    let specs = [
        ("rfc", "random_forest_classifier", "label", "n_trees = 5"),
        ("rfr", "random_forest_regressor", "amount", "n_trees = 5"),
        ("dtc", "decision_tree_classifier", "tier", "max_depth = 4"),
        ("dtr", "decision_tree_regressor", "amount", "max_depth = 4"),
        ("lr", "logistic_regression", "tier", "alpha = 0.1"),
        ("lin", "linear_regression", "amount", ""),
        ("ridge", "ridge_regression", "amount", "alpha = 0.5"),
        ("knnc", "knn_classifier", "label", "k = 7"),
        (
            "knnr",
            "knn_regressor",
            "amount",
            "k = 3, weights = \"distance\"",
        ),
        ("nb", "gaussian_nb", "label", ""),
    ];
    let mut text = String::new();
    for (name, algorithm, target, params) in specs {
        text.push_str(&format!(
            "\n[model.{name}]\ndata = \"data/train.csv\"\ntarget = \"{target}\"\nfeatures = [\"x1\", \"x2\", \"plan\"]\nalgorithm = \"{algorithm}\"\nparams = {{ {params} }}\n[model.{name}.columns.plan]\nencode = \"ordinal\"\n"
        ));
    }
    add_spec(&p, &text);
    for (name, algorithm, target, _) in specs {
        let a = p.json(&["train", name], 0);
        let b = p.json(&["train", name], 0);
        assert_eq!(a["artifact"], b["artifact"], "{name}: not reproducible");
        let metrics = &a["metrics"];
        if target == "amount" {
            let r2 = metrics["r2"].as_f64().unwrap();
            assert!(r2 > 0.5, "{algorithm}: r2 {r2}");
            assert!(metrics["rmse"].as_f64().unwrap() > 0.0);
        } else {
            let acc = metrics["accuracy"].as_f64().unwrap();
            assert!(acc > 0.6, "{algorithm}: accuracy {acc}");
            if target == "tier" {
                assert_eq!(a["report"]["confusion"].as_array().unwrap().len(), 3);
            }
        }
    }
}

#[test]
fn runs_are_listed_filtered_sorted_compared_and_removed() {
    let p = project();
    let mut ids = Vec::new();
    for depth in ["2", "6"] {
        let run: RunDoc = decode(p.json(
            &["train", "churn", "--set", &format!("max_depth={depth}")],
            0,
        ));
        ids.push(run.id);
    }
    let list = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["runs", "list"];
        all.extend_from_slice(args);
        let doc: RunsListDoc = decode(p.json(&all, 0));
        assert_eq!(doc.kind, "runs-list");
        assert_eq!(doc.remote, None);
        doc.runs.into_iter().map(|r| r.id).collect()
    };
    assert_eq!(list(&["--model", "churn"]), ids);
    assert_eq!(list(&["--where", "params.max_depth>=6"]), [ids[1].clone()]);
    assert!(list(&["--where", "accuracy>1.5"]).is_empty());
    assert_eq!(
        list(&["--sort", "params.max_depth"]),
        [ids[1].clone(), ids[0].clone()],
        "largest first"
    );
    assert_eq!(
        list(&["--sort", "params.max_depth", "--asc", "--limit", "1"]),
        [ids[0].clone()]
    );
    p.cairn(&["runs", "list", "--where", "accuracy"])
        .code(2)
        .stderr_has("--where: `accuracy`: expected NAME OP VALUE");

    let compared: CompareDoc = decode(p.json(&["runs", "compare", &ids[0], &ids[1]], 0));
    assert_eq!(
        (compared.kind.as_str(), compared.schema_version),
        ("runs-compare", 1)
    );
    assert_eq!(compared.runs, ids);
    let row = |field: &str| {
        compared
            .rows
            .iter()
            .find(|r| r.field == field)
            .unwrap_or_else(|| panic!("no row {field}: {compared:#?}"))
    };
    let depth = row("params.max_depth");
    assert!(depth.differs);
    assert_eq!(depth.values, [Some(Value::from(2)), Some(Value::from(6))]);
    assert_eq!(depth.shown, ["2", "6"]);
    let trees = row("params.n_trees");
    assert!(!trees.differs);
    let accuracy = row("accuracy");
    assert!(accuracy.shown.iter().all(|s| s.len() == "0.0000".len()));
    p.cairn(&["runs", "compare", &ids[0], &ids[1]])
        .ok()
        .stdout_has("max_depth");

    // Removing a run drops it from the index; gc then removes its artifact, not the other's.
    let first: RunDoc = decode(p.json(&["runs", "show", &ids[0]], 0));
    let second: RunDoc = decode(p.json(&["runs", "show", &ids[1]], 0));
    let removed: RemovedDoc = decode(p.json(&["runs", "rm", &ids[0][..6]], 0));
    assert_eq!(
        (removed.kind.as_str(), removed.schema_version),
        ("runs-rm", 1)
    );
    assert_eq!(removed.removed, [ids[0].clone()]);
    p.cairn(&["runs", "show", &ids[0]]).code(2);
    p.cairn(&["data", "gc"]).ok();
    assert!(!p.object_path(first.artifact.as_deref().unwrap()).exists());
    assert!(p.object_path(second.artifact.as_deref().unwrap()).exists());
}

#[test]
fn untracked_or_modified_training_data_is_refused_unless_allowed() {
    let p = project();
    add_spec(
        &p,
        "\n[model.loose]\ndata = \"loose.csv\"\ntarget = \"label\"\nfeatures = [\"x1\", \"x2\"]\nalgorithm = \"gaussian_nb\"\n",
    );
    p.write("loose.csv", table(50, 2));
    p.cairn(&["train", "loose"])
        .code(2)
        .stderr_has("`model.loose.data`: loose.csv is not tracked")
        .stderr_has("--allow-untracked");
    let run = p.cairn(&["--json", "train", "loose", "--allow-untracked"]);
    run.ok()
        .stderr_has("warning: `model.loose.data`: loose.csv is not tracked, so the run could not be reproduced; training anyway (--allow-untracked, recorded)");
    let run: RunDoc = decode(run.json());
    assert!(run.untracked);

    // The tracked table edited after `data add`.
    p.write("data/train.csv", table(400, 3));
    p.cairn(&["train", "churn"])
        .code(2)
        .stderr_has("differs from what cairn.lock pins");
    let run: RunDoc = decode(p.json(&["train", "churn", "--allow-untracked"], 0));
    assert!(run.untracked);
    // Tracked and unchanged: allowed, but not untracked.
    p.cairn(&["data", "add", "data/train.csv"]).ok();
    let run: RunDoc = decode(p.json(&["train", "churn", "--allow-untracked"], 0));
    assert!(!run.untracked);
}

#[test]
fn bad_specs_and_bad_data_fail_with_the_key_and_a_failed_run() {
    let p = project();
    p.write(
        "data/bad.csv",
        "x,y,n,one,cls\n1,2.5,abc,1,a\n2,,3,1,b\n3,1.0,4,1,a\n4,2.0,5,1,b\n5,3.0,6,1,a\n",
    );
    p.write("data/one.csv", "x,y\n1,2.5\n");
    p.cairn(&["data", "add", "data/bad.csv", "data/one.csv"])
        .ok();
    add_spec(
        &p,
        r#"
[model.no_target]
data = "data/bad.csv"
target = "nope"
algorithm = "gaussian_nb"

[model.text_numbers]
data = "data/bad.csv"
target = "cls"
features = ["x", "n"]
algorithm = "gaussian_nb"
[model.text_numbers.columns.n]
type = "float"

[model.nan]
data = "data/bad.csv"
target = "cls"
features = ["x", "y"]
algorithm = "gaussian_nb"

[model.single]
data = "data/bad.csv"
target = "one"
features = ["x"]
algorithm = "decision_tree_classifier"

[model.empty]
data = "data/one.csv"
target = "y"
features = ["x"]
algorithm = "knn_regressor"

[model.bad_param]
data = "data/bad.csv"
target = "cls"
features = ["x"]
algorithm = "knn_classifier"
params = { k = 0 }

[model.unknown_param]
data = "data/bad.csv"
target = "cls"
features = ["x"]
algorithm = "ridge_regression"
params = { n_trees = 3 }
"#,
    );
    p.commit("bad data");
    p.cairn(&["train", "no_target"])
        .code(2)
        .stderr_has("`model.no_target.target`: the data has no column `nope`");
    p.cairn(&["train", "text_numbers"])
        .code(2)
        .stderr_has("input `n`: declared float, but it holds text (row 1: \"abc\")");
    p.cairn(&["train", "nan"])
        .code(2)
        .stderr_has("input `y` has a missing value (null or NaN) at row 2")
        .stderr_has("impute");
    p.cairn(&["train", "single"])
        .code(2)
        .stderr_has("single class (1)");
    p.cairn(&["train", "empty"])
        .code(2)
        .stderr_has("the split leaves 0 training and 1 test rows");
    p.cairn(&["train", "bad_param"])
        .code(2)
        .stderr_has("`model.bad_param.params.k`");
    p.cairn(&["train", "unknown_param"])
        .code(2)
        .stderr_has("`model.unknown_param.params.n_trees`")
        .stderr_has("alpha, solver");
    p.cairn(&["train", "nope"])
        .code(2)
        .stderr_has("no model `nope` is declared");
    p.cairn(&["train", "churn", "--set", "split.test_size=2"])
        .code(2)
        .stderr_has("error: after --set: `model.churn.split.test_size`: 2 is not between 0 and 1");
    // Each failure after the spec was read is a failed run with its error; nothing else.
    let failed: RunsListDoc = decode(p.json(&["runs", "list", "--where", "status=failed"], 0));
    assert_eq!(failed.runs.len(), 7, "{failed:#?}");
    assert!(
        failed
            .runs
            .iter()
            .all(|r| r.status == "failed" && r.artifact.is_none() && r.error.is_some())
    );
    let ok: RunsListDoc = decode(p.json(&["runs", "list", "--where", "status=finished"], 0));
    assert!(ok.runs.is_empty());
    // A malformed spec is refused when cairn.toml is read.
    add_spec(
        &p,
        "\n[model.broken]\ndata = \"data/bad.csv\"\ntarget = \"cls\"\nalgorithm = \"svm\"\n",
    );
    p.cairn(&["train", "churn"]).code(2).stderr_has("svm");
}

#[test]
fn a_dirty_worktree_is_recorded_and_warned_about() {
    let p = project();
    p.write("train.py", "print('edited')\n");
    p.git(&["add", "train.py"]);
    let run = p.cairn(&["--json", "train", "churn"]);
    run.code(0).stderr_has("uncommitted changes");
    assert_eq!(run.json()["code"]["dirty"], true);
}

#[test]
fn validation_failures_stop_training_unless_skipped() {
    let p = project();
    add_spec(
        &p,
        "\n[dataset.\"data/train.csv\"]\nrows = { min = 1000 }\n",
    );
    p.cairn(&["train", "churn"])
        .code(1)
        .stderr_has("failed validation")
        .stdout_has("FAIL");
    // With --json, the one document is the validation report; the error goes to stderr.
    let refused = p.cairn(&["--json", "train", "churn"]);
    refused.code(1).stderr_has("--skip-validation");
    let report: ValidateDoc = decode(refused.json());
    assert_eq!(report.kind, "data-validate");
    assert!(!report.passed);
    assert_eq!(report.datasets.len(), 1);
    assert_eq!(report.datasets[0].path, "data/train.csv");
    assert!(
        report.datasets[0]
            .checks
            .iter()
            .any(|c| c.check == "rows" && !c.passed),
        "{report:#?}"
    );
    let run = p.cairn(&["--json", "train", "churn", "--skip-validation"]);
    run.ok().stderr_has(
        "warning: data/train.csv failed validation; training anyway (--skip-validation, recorded)",
    );
    let run: RunDoc = decode(run.json());
    assert_eq!(run.validation, "skipped");
    assert_eq!(run.status, "finished");
}

#[test]
fn a_model_trains_on_features_joined_point_in_time_from_an_entity_table() {
    let p = Project::new();
    // Each customer's spend changes over time; the label follows the spend *at the time*.
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
    p.write("data/labels.csv", labels);
    add_spec(
        &p,
        r#"
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
"#,
    );
    p.cairn(&["data", "add", "data/events.csv", "data/labels.csv"])
        .ok();
    // The runs index and refs are checked before the join: a damaged ref is named first.
    p.write(".cairn/runs/damaged-ref", "garbage\n");
    p.cairn(&["train", "churn_fs"])
        .code(2)
        .stderr_has(".cairn/runs/damaged-ref");
    std::fs::remove_file(p.path(".cairn/runs/damaged-ref")).unwrap();
    p.cairn(&["train", "churn_fs"])
        .code(2)
        .stderr_has("materialize");
    p.cairn(&["feature", "materialize"]).ok();
    let run = p.json(&["train", "churn_fs"], 0);
    // The label is a function of the spend at the row's time: a depth-3 tree learns it.
    assert!(run["metrics"]["accuracy"].as_f64().unwrap() > 0.95, "{run}");
    assert!(run["features"]["activity"].is_string(), "{run}");
    assert!(run["data"]["data/labels.csv"].is_string());
    let artifact = run["artifact"].as_str().unwrap();
    let bytes = std::fs::read(p.object_path(artifact)).unwrap();
    let header = Artifact::read_header(&bytes).expect("the artifact's header");
    let inputs: Vec<&str> = header.inputs.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(inputs[..2], ["spend", "visits"]);
    assert_eq!(
        header
            .provenance
            .features
            .get("activity")
            .map(String::as_str),
        run["features"]["activity"].as_str()
    );
}

#[test]
fn data_push_shares_run_records_and_model_artifacts() {
    let p = project();
    let run = p.json(&["train", "churn"], 0);
    let remote = tempfile::tempdir().unwrap();
    p.cairn(&["remote", "add", "shared", remote.path().to_str().unwrap()])
        .ok();
    p.cairn(&["data", "push"]).ok();
    let on_remote = |digest: &str| {
        remote
            .path()
            .join(format!("objects/{}/{}", &digest[..2], &digest[2..]))
            .exists()
    };
    assert!(on_remote(run["artifact"].as_str().unwrap()));
    let listed = p.json(&["runs", "list"], 0);
    assert_eq!(listed["runs"][0]["id"], run["id"]);
    // The record itself: the object whose content is the run's JSON.
    let record_on_remote = std::fs::read_dir(remote.path().join("objects"))
        .unwrap()
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
        .any(|f| {
            std::fs::read(f.unwrap().path())
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .is_some_and(|v| v["id"] == run["id"])
        });
    assert!(record_on_remote, "the run record was not pushed");
    // The run's ref goes too: a teammate's `gc --remote` keeps what it names.
    let id = run["id"].as_str().unwrap();
    assert!(remote.path().join(format!("runs/{id}")).exists());
    p.commit("remote");
    let clone = p.clone_repo();
    clone.cairn(&["data", "gc", "--remote", "--yes"]).ok();
    assert!(on_remote(run["artifact"].as_str().unwrap()));
}

/// A teammate's `data pull` brings the runs pushed from another machine: records, model
/// artifacts and refs, so that `runs list` and `runs show` work there too. A run whose objects
/// are not all on the remote is not recorded.
#[test]
fn data_pull_brings_the_runs_other_machines_pushed() {
    let p = project();
    let first = p.json(&["train", "churn"], 0);
    let remote = push_to_new_remote(&p);

    let clone = p.clone_repo();
    assert_eq!(
        clone.json(&["runs", "list"], 0)["runs"],
        serde_json::json!([])
    );
    let pulled = clone.json(&["data", "pull"], 0);
    assert_eq!(
        pulled["fetch"]["runs_added"],
        serde_json::json!([first["id"]])
    );
    let listed = clone.json(&["runs", "list"], 0);
    assert_eq!(listed["runs"][0]["id"], first["id"]);
    let id = first["id"].as_str().unwrap();
    let shown = clone.json(&["runs", "show", id], 0);
    assert_eq!(shown["artifact"], first["artifact"]);
    let artifact = first["artifact"].as_str().unwrap();
    assert!(clone.object_path(artifact).exists());
    // Nothing new the second time.
    let again = clone.json(&["data", "fetch"], 0);
    assert_eq!(again["runs_added"], serde_json::json!([]));

    // A second run whose artifact the remote lost: the pull warns about it and does not
    // record it, but the data is not held back by it.
    let second = p.json(&["train", "churn"], 0);
    p.cairn(&["data", "push"]).ok();
    let lost = second["artifact"].as_str().unwrap();
    std::fs::remove_file(
        remote
            .path()
            .join(format!("objects/{}/{}", &lost[..2], &lost[2..])),
    )
    .unwrap();
    std::fs::remove_file(clone.path("data/train.csv")).unwrap();
    clone
        .cairn(&["data", "pull"])
        .ok()
        .stderr_has(second["id"].as_str().unwrap())
        .stderr_has(lost)
        .stderr_has("not on the remote");
    assert!(clone.exists("data/train.csv"), "the data was checked out");
    let listed = clone.json(&["runs", "list"], 0);
    assert_eq!(listed["runs"].as_array().unwrap().len(), 1);
    let fetched = clone.json(&["data", "fetch"], 0);
    assert_eq!(fetched["runs_skipped"][0]["id"], second["id"]);
    assert_eq!(fetched["runs_skipped"][0]["digest"], second["artifact"]);
}

/// `runs list --remote` shows the runs pushed to a remote, read from there: a teammate sees
/// them (filtered and sorted as local runs are) before fetching anything, and a record that is
/// damaged or gone on the remote is named in a warning while the others are listed.
#[test]
fn runs_list_remote_reads_the_pushed_runs_without_fetching_them() {
    let p = project();
    let first = p.json(&["train", "churn", "--tag", "team=risk"], 0);
    let second = p.json(&["train", "churn", "--set", "max_depth=3"], 0);
    let remote = push_to_new_remote(&p);

    let clone = p.clone_repo();
    let listed: RunsListDoc = decode(clone.json(&["runs", "list", "--remote"], 0));
    assert_eq!(listed.kind, "runs-list");
    assert_eq!(listed.remote.as_deref(), Some("shared"));
    let ids: Vec<&str> = listed.runs.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            first["id"].as_str().unwrap(),
            second["id"].as_str().unwrap()
        ],
        "oldest first"
    );
    let first_metrics: BTreeMap<String, f64> = decode(first["metrics"].clone());
    assert_eq!(listed.runs[0].metrics, first_metrics, "exactly");
    assert_eq!(listed.runs[0].model, "churn");
    assert_eq!(listed.runs[0].tags["team"], "risk");
    assert_eq!(listed.runs[1].overrides["max_depth"], 3);
    let deep: RunsListDoc = decode(clone.json(
        &[
            "runs",
            "list",
            "--remote",
            "shared",
            "--where",
            "params.max_depth<=3",
        ],
        0,
    ));
    assert_eq!(deep.runs.len(), 1);
    assert_eq!(deep.runs[0].id, second["id"].as_str().unwrap());
    assert_eq!(deep.runs[0].params["max_depth"], 3);
    let other: RunsListDoc = decode(clone.json(
        &["runs", "list", "--remote", "shared", "--model", "other"],
        0,
    ));
    assert!(other.runs.is_empty());
    // The table, as for local runs.
    clone
        .cairn(&["runs", "list", "--remote"])
        .ok()
        .stdout_has(first["id"].as_str().unwrap())
        .stdout_has(second["id"].as_str().unwrap())
        .stdout_has("accuracy");
    // Nothing was fetched: no run here, no object in the store.
    assert_eq!(
        clone.json(&["runs", "list"], 0)["runs"],
        serde_json::json!([])
    );
    let record_of = |run: &serde_json::Value| -> String {
        let id = run["id"].as_str().unwrap();
        let line = String::from_utf8(p.read(&format!(".cairn/runs/{id}"))).unwrap();
        line.split_whitespace().next().unwrap().to_owned()
    };
    // One run, and runs side by side, by id prefix, from the remote.
    let first_id = first["id"].as_str().unwrap();
    let shown = clone.json(&["runs", "show", "--remote=shared", &first_id[..6]], 0);
    assert_eq!(shown["id"], first["id"]);
    assert_eq!(shown["metrics"], first["metrics"]);
    assert_eq!(shown["artifact"], first["artifact"]);
    let second_id = second["id"].as_str().unwrap();
    let compared: CompareDoc =
        decode(clone.json(&["runs", "compare", "--remote", first_id, second_id], 0));
    assert_eq!(compared.runs, [first_id, second_id]);
    clone
        .cairn(&["runs", "show", "--remote=shared", "zzzz"])
        .code(2)
        .stderr_has("no run `zzzz` on shared")
        .stderr_has("runs list --remote shared");
    let (first_record, second_record) = (record_of(&first), record_of(&second));
    assert!(!clone.object_path(&first_record).exists());
    assert!(!clone.object_path(&second_record).exists());

    // A damaged record on the remote is named, by run and digest; the other run is listed.
    let on_remote = |digest: &str| {
        remote
            .path()
            .join(format!("objects/{}/{}", &digest[..2], &digest[2..]))
    };
    let damaged = on_remote(&first_record);
    let mut perms = std::fs::metadata(&damaged).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&damaged, perms).unwrap();
    std::fs::write(&damaged, b"{\"id\": \"not the record\"}").unwrap();
    let run = clone.cairn(&["--json", "runs", "list", "--remote"]);
    run.ok()
        .stderr_has(first["id"].as_str().unwrap())
        .stderr_has(&first_record)
        .stderr_has("hashes to");
    let listed = run.json();
    assert_eq!(listed["runs"].as_array().unwrap().len(), 1);
    assert_eq!(listed["runs"][0]["id"], second["id"]);
    // A ref naming an object that is not a run record (the data file).
    let lock = String::from_utf8(p.read("cairn.lock")).unwrap();
    let data_digest = lock
        .lines()
        .find_map(|l| l.strip_prefix("digest = \""))
        .and_then(|d| d.strip_suffix('"'))
        .unwrap();
    std::fs::write(
        remote.path().join("runs/0000feedbeef"),
        format!("{data_digest} -\n"),
    )
    .unwrap();
    clone
        .cairn(&["runs", "list", "--remote"])
        .ok()
        .stderr_has("run 0000feedbeef on shared not listed")
        .stderr_has("cannot be used")
        .stdout_has(second["id"].as_str().unwrap());
    // A record the remote lost.
    std::fs::remove_file(on_remote(&second_record)).unwrap();
    clone
        .cairn(&["runs", "list", "--remote"])
        .ok()
        .stderr_has(second["id"].as_str().unwrap())
        .stderr_has("not on the remote");
    // A remote that is not configured: a usage error.
    clone
        .cairn(&["runs", "list", "--remote", "nowhere"])
        .code(2)
        .stderr_has("nowhere");
}

/// The same from an S3 server: the records come over the S3 protocol, and a run this machine
/// already has is read from its own store.
#[test]
fn runs_list_remote_reads_runs_from_s3() {
    let s3 = cairn_e2e::s3::S3Server::start();
    s3.create_bucket("cairn-runs");
    let p = project();
    let run = p.json(&["train", "churn"], 0);
    p.cairn(&[
        "remote",
        "add",
        "origin",
        "s3://cairn-runs/team",
        "--endpoint",
        &s3.endpoint(),
        "--region",
        s3.region(),
        "--allow-http",
        "--path-style",
    ])
    .ok();
    let env = s3.env();
    p.cairn_env(&["data", "push"], &env).ok();
    p.commit("remote");
    let clone = p.clone_repo();
    let listed = clone.cairn_env(&["--json", "runs", "list", "--remote", "origin"], &env);
    listed.ok();
    assert_eq!(listed.json()["runs"][0]["id"], run["id"]);
    assert_eq!(listed.json()["runs"][0]["metrics"], run["metrics"]);
    let shown = clone.cairn_env(
        &[
            "--json",
            "runs",
            "show",
            "--remote=origin",
            run["id"].as_str().unwrap(),
        ],
        &env,
    );
    shown.ok();
    assert_eq!(shown.json()["metrics"], run["metrics"]);
    // In the project that trained it, the record comes from the local store.
    let here = p.cairn_env(&["--json", "runs", "list", "--remote"], &env);
    here.ok();
    assert_eq!(here.json()["runs"][0]["id"], run["id"]);
    // Wrong credentials: the listing fails with the remote's error, not an empty list.
    let wrong: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| match k.as_str() {
            "AWS_SECRET_ACCESS_KEY" => (k.clone(), "wrong-secret".to_owned()),
            _ => (k.clone(), v.clone()),
        })
        .collect();
    clone
        .cairn_env(&["runs", "list", "--remote"], &wrong)
        .code(2)
        .stderr_has("access denied");
}

#[test]
fn the_runs_index_is_rebuilt_from_the_refs_and_gc_never_loses_a_run() {
    let p = project();
    let run = p.json(&["train", "churn"], 0);
    let id = run["id"].as_str().unwrap();
    assert!(p.exists(&format!(".cairn/runs/{id}")));
    // The index is a cache: deleted, it comes back from .cairn/runs/ and the records.
    std::fs::remove_file(p.path(".cairn/cairn.db")).unwrap();
    let _ = std::fs::remove_file(p.path(".cairn/cairn.db-wal"));
    let _ = std::fs::remove_file(p.path(".cairn/cairn.db-shm"));
    p.cairn(&["data", "gc"]).ok();
    assert!(p.object_path(run["artifact"].as_str().unwrap()).exists());
    let shown = p.json(&["runs", "show", id], 0);
    assert_eq!(shown["metrics"], run["metrics"]);
    assert_eq!(shown["artifact"], run["artifact"]);
    // A lost ref comes back from the index before gc could miss the run.
    std::fs::remove_file(p.path(&format!(".cairn/runs/{id}"))).unwrap();
    p.cairn(&["runs", "list"]).ok();
    assert!(p.exists(&format!(".cairn/runs/{id}")));
    p.cairn(&["data", "gc"]).ok();
    assert!(p.object_path(run["artifact"].as_str().unwrap()).exists());
    // A damaged ref is named.
    p.write(&format!(".cairn/runs/{id}"), "garbage\n");
    p.cairn(&["runs", "list"])
        .code(2)
        .stderr_has(&format!(".cairn/runs/{id}"));
}

#[test]
fn split_and_override_mistakes_are_named() {
    let p = project();
    add_spec(
        &p,
        r#"
[model.by_plan]
data = "data/train.csv"
target = "label"
features = ["x1"]
algorithm = "gaussian_nb"
split = { time_column = "plan" }
"#,
    );
    p.cairn(&["train", "by_plan"])
        .code(2)
        .stderr_has("`model.by_plan.split.time_column`: `plan` holds str");
    p.cairn(&["train", "churn", "--set", "entities=x.csv"])
        .code(2)
        .stderr_has("error: --set entities=x.csv: `model.churn.entities` cannot be overridden");
    p.cairn(&["train", "churn", "--set", "columns.plan.encode=ordinal"])
        .code(2)
        .stderr_has("is not something --set changes");
    p.cairn(&["train", "churn", "--set", "nonsense"])
        .code(2)
        .stderr_has("expected KEY=VALUE");
    p.cairn(&["runs", "show", "ab"])
        .code(2)
        .stderr_has("at least 4 characters");
    // The first value that is not a number is the one quoted.
    p.write("data/late.csv", "x,cls\n1,a\n2,b\nn/a,a\n4,b\n5,a\n6,b\n");
    p.cairn(&["data", "add", "data/late.csv"]).ok();
    add_spec(
        &p,
        "\n[model.late]\ndata = \"data/late.csv\"\ntarget = \"cls\"\nalgorithm = \"gaussian_nb\"\n[model.late.columns.x]\ntype = \"float\"\n",
    );
    p.cairn(&["train", "late"])
        .code(2)
        .stderr_has("row 3: \"n/a\"");
}
