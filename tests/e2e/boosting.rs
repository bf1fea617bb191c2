//! Gradient-boosted trees through the binary: `cairn train` of `gradient_boosting_classifier`
//! and `gradient_boosting_regressor` (missing inputs without `impute`, early stopping), `runs
//! show` with the chosen iteration and the feature importances, `register`, `validate`, the
//! artifact read back by cairn-model's reader, and params out of range refused with exit 2.

use std::collections::BTreeMap;

use cairn_e2e::{Project, Rng};
use cairn_model::artifact::Artifact;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The run record as `runs show --json` prints it (docs/formats/run.md), the parts this test
/// reads.
#[derive(Debug, Deserialize)]
struct RunDoc {
    id: String,
    status: String,
    algorithm: String,
    params: BTreeMap<String, Value>,
    metrics: BTreeMap<String, f64>,
    report: Option<ReportDoc>,
    artifact: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ReportDoc {
    feature_importances: Vec<ImportanceDoc>,
    boosting: BoostingDoc,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportanceDoc {
    feature: String,
    gain: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BoostingDoc {
    iterations_run: usize,
    best_iteration: usize,
    early_stopped: bool,
    validation_rows: usize,
    #[serde(default)]
    validation_loss: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct ValidateDoc {
    kind: String,
    passed: bool,
}

#[track_caller]
fn decode<T: DeserializeOwned>(doc: Value) -> T {
    serde_json::from_value(doc.clone())
        .unwrap_or_else(|e| panic!("not the documented JSON ({e}):\n{doc:#}"))
}

/// A seeded table: two informative numbers (`x2` empty on every 7th row), a noise column, a
/// plan, a binary label and a numeric target.
fn table(rows: usize, seed: u64) -> String {
    let mut rng = Rng(seed);
    let unit = |rng: &mut Rng| (rng.next() % 10_000) as f64 / 10_000.0;
    let mut out = String::from("id,x1,x2,noise,plan,label,amount\n");
    for i in 0..rows {
        let (x1, x2, noise) = (unit(&mut rng), unit(&mut rng), unit(&mut rng));
        let plan = ["free", "pro", "team"][(rng.next() % 3) as usize];
        let label = if x1 + x2 + 0.2 * noise > 1.1 {
            "yes"
        } else {
            "no"
        };
        let amount = 3.0 * x1 - 2.0 * x2 + 0.1 * noise;
        let shown_x2 = if i % 7 == 3 {
            String::new()
        } else {
            x2.to_string()
        };
        out.push_str(&format!(
            "{i},{x1},{shown_x2},{noise},{plan},{label},{amount:.4}\n"
        ));
    }
    out
}

const SPECS: &str = r#"
[model.churn]
data = "data/train.csv"
target = "label"
exclude = ["id", "amount"]
algorithm = "gradient_boosting_classifier"
params = { n_iterations = 200, num_leaves = 8, learning_rate = 0.2, min_samples_leaf = 5, early_stopping = { rounds = 10, share = 0.2 } }
seed = 3

[model.churn.columns.plan]
encode = "one_hot"

[model.churn.gates]
accuracy = { min = 0.8 }
roc_auc = { min = 0.85 }
determinism = true

[model.spend]
data = "data/train.csv"
target = "amount"
exclude = ["id", "label"]
algorithm = "gradient_boosting_regressor"
params = { n_iterations = 60, num_leaves = 8, min_samples_leaf = 5, loss = "absolute_error" }
seed = 3

[model.spend.columns.plan]
encode = "ordinal"

[model.spend.gates]
r2 = { min = 0.8 }
"#;

fn project() -> Project {
    let p = Project::new();
    p.write("data/train.csv", table(600, 1));
    let toml = String::from_utf8(p.read("cairn.toml")).unwrap();
    p.write("cairn.toml", toml + SPECS);
    p.cairn(&["data", "add", "data/train.csv"]).ok();
    p.commit("data and specs");
    p
}

#[test]
fn boosted_models_train_record_register_and_validate() {
    let p = project();

    // The classifier: missing x2 values reach the model (no `impute`), early stopping chooses
    // the iteration.
    let trained: RunDoc = decode(p.json(&["train", "churn"], 0));
    assert_eq!(trained.status, "finished");
    assert_eq!(trained.algorithm, "gradient_boosting_classifier");
    assert_eq!(
        trained.params["early_stopping"],
        serde_json::json!({ "rounds": 10, "share": 0.2 })
    );
    assert_eq!(trained.params["num_leaves"], Value::from(8));
    assert!(trained.metrics["accuracy"] > 0.85, "{:?}", trained.metrics);

    let shown: RunDoc = decode(p.json(&["runs", "show", &trained.id], 0));
    let report = shown.report.expect("a boosted run reports its fit");
    let b = &report.boosting;
    // 600 rows, 20% held out for the test: 480 training rows, 20% of them to stop on.
    assert_eq!(b.validation_rows, 96);
    assert!(b.best_iteration >= 1 && b.best_iteration <= b.iterations_run);
    assert!(b.validation_loss.is_some());
    if b.early_stopped {
        assert_eq!(b.iterations_run, b.best_iteration + 10);
    }
    let features: Vec<&str> = report
        .feature_importances
        .iter()
        .map(|i| i.feature.as_str())
        .collect();
    assert_eq!(features.len(), 4, "{features:?}");
    assert!(
        features[..2].contains(&"x1") && features[..2].contains(&"x2"),
        "the informative inputs gain most: {:?}",
        report.feature_importances
    );
    assert!(report.feature_importances.iter().all(|i| i.gain >= 0.0));

    let text = p.cairn(&["runs", "show", &trained.id]).ok().stdout.clone();
    assert!(text.contains("feature importances (total gain):"), "{text}");
    assert!(
        text.contains(&format!(
            "{} kept of {} run",
            b.best_iteration, b.iterations_run
        )),
        "{text}"
    );

    // The artifact: format 2, read by cairn-model's reader; a row with x2 missing is scored.
    let digest = trained.artifact.expect("an artifact");
    let artifact = Artifact::from_bytes(&std::fs::read(p.object_path(&digest)).unwrap()).unwrap();
    assert_eq!(artifact.header.format, 2);
    let row: BTreeMap<&str, Value> = [
        ("x1", Value::from(0.9)),
        ("x2", Value::Null),
        ("noise", Value::from(0.5)),
        ("plan", Value::from("pro")),
    ]
    .into_iter()
    .collect();
    let prediction = artifact
        .predict_row(|name| row.get(name), &mut Vec::new())
        .unwrap();
    assert_eq!(prediction.probabilities.map(|p| p.len()), Some(2));

    p.cairn(&["register", &trained.id]).ok();
    let validated: ValidateDoc = decode(p.json(&["validate", "churn@1"], 0));
    assert_eq!(validated.kind, "validate");
    assert!(validated.passed);

    // The regressor, absolute error.
    let spend: RunDoc = decode(p.json(&["train", "spend"], 0));
    assert_eq!(spend.params["loss"], Value::from("absolute_error"));
    let shown: RunDoc = decode(p.json(&["runs", "show", &spend.id], 0));
    let b = shown
        .report
        .expect("a boosted run reports its fit")
        .boosting;
    assert_eq!(
        (b.best_iteration, b.iterations_run, b.validation_rows),
        (60, 60, 0)
    );
    p.cairn(&["register", &spend.id]).ok();
    let validated: ValidateDoc = decode(p.json(&["validate", "spend@1"], 0));
    assert!(validated.passed);
}

#[test]
fn params_out_of_range_exit_2_and_name_the_param() {
    let p = project();
    for (set, name) in [
        ("learning_rate=0", "learning_rate"),
        ("num_leaves=1", "num_leaves"),
        ("subsample=1.5", "subsample"),
        ("subsample=0", "subsample"),
    ] {
        p.cairn(&["train", "churn", "--set", set])
            .code(2)
            .stderr_has(name);
    }
    // Early stopping on too few rows: a tiny table.
    p.write("data/train.csv", table(12, 2));
    p.cairn(&["data", "add", "data/train.csv"]).ok();
    p.commit("a tiny table");
    p.cairn(&[
        "train",
        "churn",
        "--set",
        "early_stopping={ rounds = 5, share = 0.05 }",
    ])
    .code(2)
    .stderr_has("early_stopping.share");
}

/// Targets a boosted model cannot learn: a class only in the test rows (the newest rows, by a
/// time split on `id`), a single class in the training rows, a missing regression target.
#[test]
fn bad_targets_exit_2_and_name_the_target() {
    let mut rng = Rng(7);
    let mut csv = String::from("id,x1,tier,flag,amount\n");
    for i in 0..200 {
        let x1 = (rng.next() % 1000) as f64 / 1000.0;
        let tier = if i >= 190 {
            "gold"
        } else if x1 > 0.5 {
            "pro"
        } else {
            "free"
        };
        let flag = if i >= 160 { "b" } else { "a" };
        let amount = if i == 5 {
            String::new()
        } else {
            format!("{:.3}", 2.0 * x1)
        };
        csv.push_str(&format!("{i},{x1},{tier},{flag},{amount}\n"));
    }
    let p = Project::new();
    p.write("data/t.csv", csv);
    let specs = r#"
[model.tiers]
data = "data/t.csv"
target = "tier"
features = ["x1"]
algorithm = "gradient_boosting_classifier"
split = { test_size = 0.2, time_column = "id" }

[model.flags]
data = "data/t.csv"
target = "flag"
features = ["x1"]
algorithm = "gradient_boosting_classifier"
split = { test_size = 0.2, time_column = "id" }

[model.amounts]
data = "data/t.csv"
target = "amount"
features = ["x1"]
algorithm = "gradient_boosting_regressor"
"#;
    let toml = String::from_utf8(p.read("cairn.toml")).unwrap();
    p.write("cairn.toml", toml + specs);
    p.cairn(&["data", "add", "data/t.csv"]).ok();
    p.commit("data and specs");
    p.cairn(&["train", "tiers"])
        .code(2)
        .stderr_has("the class `gold` of `tier` has no training rows");
    p.cairn(&["train", "flags"])
        .code(2)
        .stderr_has("single class of `flag`");
    p.cairn(&["train", "amounts"])
        .code(2)
        .stderr_has("the target `amount` is missing at row 6");
}
