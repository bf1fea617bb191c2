//! `cairn lineage NAME@REF`: the tree, Mermaid and DOT drawings of a version trained on an
//! entity table joined to a feature view, validated and promoted, exact; its JSON document.

use std::collections::BTreeMap;

use cairn_e2e::{Project, Rng};
use serde::Deserialize;

use crate::docs::{Document, ErrorDoc, json};

/// The `lineage` document (docs/guide/reproduce.md#cairn-lineage), unknown fields refused.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LineageDoc {
    kind: String,
    schema_version: u32,
    model: String,
    version: u32,
    artifact: String,
    stage: String,
    validated: Option<String>,
    data: Vec<DataDoc>,
    features: Vec<FeatureDoc>,
    run: RunDoc,
    history: Vec<HistoryDoc>,
    drift: Option<serde_json::Value>,
}

impl Document for LineageDoc {
    const KIND: &'static str = "lineage";
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DataDoc {
    path: String,
    digest: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeatureDoc {
    view: String,
    digest: String,
    source: Option<DataDoc>,
    validation: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunDoc {
    id: String,
    record: String,
    spec: String,
    algorithm: String,
    commit: Option<String>,
    dirty: bool,
    seed: Option<u64>,
    params: BTreeMap<String, serde_json::Value>,
    validation: Option<String>,
}

#[derive(Debug, Deserialize)]
struct HistoryDoc {
    at: String,
    actor: String,
    action: String,
    version: u32,
}

#[derive(Debug, Deserialize)]
struct TrainDoc {
    id: String,
}

impl Document for TrainDoc {
    const KIND: &'static str = "train";
}

/// A seeded project: an entity table, a feature view over events, a spec over both with
/// expectations on the labels; `churn@1` trained, registered, validated, promoted.
fn project() -> (Project, String) {
    let p = Project::new();
    p.git(&["config", "user.name", "Ann"]);
    p.git(&["config", "user.email", "ann@example.com"]);
    let mut events = String::from("customer_id,ts,spend\n");
    let mut labels = String::from("customer_id,event_timestamp,churned\n");
    let mut rng = Rng(9);
    for c in 0..30 {
        for day in 1..=3 {
            let spend = (rng.next() % 1000) as f64 / 10.0;
            events.push_str(&format!("{c},2026-01-0{day}T00:00:00,{spend}\n"));
            labels.push_str(&format!(
                "{c},2026-01-0{day}T12:00:00,{}\n",
                u8::from(spend < 50.0)
            ));
        }
    }
    p.write("data/events.csv", events);
    p.write("data/labels.csv", labels);
    let mut config = String::from_utf8(p.read("cairn.toml")).unwrap();
    config.push_str(
        r#"
[entity.customer]
join_keys = { customer_id = "int" }

[feature_view.activity]
source = "data/events.csv"
entities = ["customer"]
timestamp = "ts"
features = { spend = "float" }

[dataset."data/events.csv"]
rows = { min = 10 }

[dataset."data/labels.csv"]
rows = { min = 10 }

[model.churn]
entities = "data/labels.csv"
features = ["activity:spend"]
target = "churned"
algorithm = "decision_tree_classifier"
params = { max_depth = 2 }
seed = 3
"#,
    );
    p.write("cairn.toml", config);
    p.cairn(&["data", "add", "data/events.csv", "data/labels.csv"])
        .ok();
    p.cairn(&["feature", "materialize"]).ok();
    p.commit("data, features, spec");
    let run: TrainDoc = json(&p, &["train", "churn"], 0);
    p.cairn(&["register", &run.id]).ok();
    p.cairn(&["validate", "churn@1"]).ok();
    p.cairn(&["models", "promote", "churn@1", "--to", "production"])
        .ok();
    (p, run.id)
}

fn short(hex: &str) -> &str {
    &hex[..12]
}

#[test]
fn lineage_draws_a_version_from_raw_data_to_its_stages() {
    let (p, run) = project();
    let doc: LineageDoc = json(&p, &["lineage", "churn@1"], 0);
    assert_eq!((doc.kind.as_str(), doc.schema_version), ("lineage", 1));
    assert_eq!((doc.model.as_str(), doc.version), ("churn", 1));
    assert_eq!(doc.stage, "production");
    assert_eq!(doc.validated.as_deref(), Some("passed"));
    assert_eq!(doc.run.id, run);
    assert_eq!(doc.run.record.len(), 64);
    assert_eq!(
        (doc.run.spec.as_str(), doc.run.algorithm.as_str()),
        ("churn", "decision_tree_classifier")
    );
    assert_eq!(doc.run.seed, Some(3));
    assert_eq!(doc.run.params["max_depth"], 2);
    assert_eq!(doc.run.validation.as_deref(), Some("passed"));
    assert!(!doc.run.dirty);
    let commit = doc.run.commit.clone().expect("a commit");
    assert_eq!(commit, p.git(&["rev-parse", "HEAD"]).trim());
    assert_eq!(doc.data.len(), 1);
    assert_eq!(doc.data[0].path, "data/labels.csv");
    let feature = &doc.features[0];
    assert_eq!(feature.view, "activity");
    let source = feature.source.as_ref().expect("the lock pins this table");
    assert_eq!(source.path, "data/events.csv");
    assert_eq!(feature.validation.as_deref(), Some("passed"));
    assert!(doc.drift.is_none());
    let actions: Vec<(&str, u32)> = doc
        .history
        .iter()
        .map(|h| (h.action.as_str(), h.version))
        .collect();
    assert_eq!(actions, [("register", 1), ("promote", 1)]);
    let actor = &doc.history[0].actor;
    assert_eq!(actor, "Ann <ann@example.com>");

    let params =
        "max_bins=255 max_depth=2 max_features=\"all\" min_samples_leaf=1 min_samples_split=2";
    let (artifact, labels, table, events, c) = (
        short(&doc.artifact),
        short(&doc.data[0].digest),
        short(&feature.digest),
        short(&source.digest),
        short(&commit),
    );
    let (at0, at1) = (&doc.history[0].at, &doc.history[1].at);
    let tree = p.cairn(&["lineage", "churn@1"]);
    tree.ok();
    assert_eq!(
        tree.stdout,
        format!(
            "\
churn@1  artifact {artifact}  stage production  validation passed
├── run {run}  churn (decision_tree_classifier)  seed 3  commit {c}
│   ├── params {params}
│   ├── data data/labels.csv  {labels}
│   │   └── data validation: passed
│   └── feature table activity  {table}
│       └── source data/events.csv  {events}  validation: passed
├── history
│   ├── {at0} register by Ann <ann@example.com>
│   └── {at1} promote none -> production by Ann <ann@example.com>
└── drift: not checked
"
        )
    );
    let mermaid = p.cairn(&["lineage", "churn@1", "--format", "mermaid"]);
    mermaid.ok();
    assert_eq!(
        mermaid.stdout,
        format!(
            "\
flowchart LR
    s0[\"source data/events.csv  {events}\"]
    f0[\"feature table activity  {table}\"]
    d0[\"data data/labels.csv  {labels}\"]
    run[\"run {run}  churn (decision_tree_classifier)  seed 3  commit {c}\"]
    version[\"churn@1  artifact {artifact}  stage production  validation passed\"]
    h0[\"{at0} register by Ann #lt;ann@example.com#gt;\"]
    h1[\"{at1} promote none -#gt; production by Ann #lt;ann@example.com#gt;\"]
    drift[\"drift: not checked\"]
    s0 -->|validation: passed| f0
    f0 --> run
    d0 -->|validation: passed| run
    run --> version
    version --> h0
    h0 --> h1
    version --> drift
"
        )
    );
    let dot = p.cairn(&["lineage", "churn@1", "--format", "dot"]);
    dot.ok();
    assert_eq!(
        dot.stdout,
        format!(
            "\
digraph lineage {{
    rankdir=LR;
    node [shape=box];
    s0 [label=\"source data/events.csv  {events}\"];
    f0 [label=\"feature table activity  {table}\"];
    d0 [label=\"data data/labels.csv  {labels}\"];
    run [label=\"run {run}  churn (decision_tree_classifier)  seed 3  commit {c}\"];
    version [label=\"churn@1  artifact {artifact}  stage production  validation passed\"];
    h0 [label=\"{at0} register by Ann <ann@example.com>\"];
    h1 [label=\"{at1} promote none -> production by Ann <ann@example.com>\"];
    drift [label=\"drift: not checked\"];
    s0 -> f0 [label=\"validation: passed\"];
    f0 -> run;
    d0 -> run [label=\"validation: passed\"];
    run -> version;
    version -> h0;
    h0 -> h1;
    version -> drift;
}}
"
        )
    );

    // After the view is materialized from other events, the lock pins another table: the
    // version's table has no known source any more, and says so.
    let mut other = String::from("customer_id,ts,spend\n");
    for c in 0..12 {
        other.push_str(&format!("{c},2026-01-01T00:00:00,5\n"));
    }
    p.write("data/events.csv", other);
    p.cairn(&["data", "add", "data/events.csv"]).ok();
    p.cairn(&["feature", "materialize"]).ok();
    p.cairn(&["lineage", "churn@1"])
        .ok()
        .stdout_has("source: unknown (cairn.lock pins another table now)");

    let bad: ErrorDoc = json(&p, &["lineage", "churn@7"], 2);
    assert!(bad.message.contains("churn"), "{}", bad.message);
}
