//! `cairn status`: the whole project on one screen — data, feature views, models and stages,
//! the remote only when asked — its `--check` exit code and its JSON document. (The data-only
//! `cairn data status` is tested in `status.rs`.)

use cairn_e2e::{Project, Rng};
use serde::Deserialize;

use crate::docs::{Document, json};

/// The `status` document (docs/guide/reproduce.md#cairn-status), unknown fields refused at the
/// levels this command adds (the `data` part is the data status document).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusDoc {
    kind: String,
    schema_version: u32,
    data: DataPart,
    features: Vec<ViewDoc>,
    models: Vec<ModelDoc>,
    remote: RemoteDoc,
    in_sync: bool,
}

impl Document for StatusDoc {
    const KIND: &'static str = "status";
}

#[derive(Debug, Deserialize)]
struct DataPart {
    clean: bool,
    entries: Vec<EntryDoc>,
}

#[derive(Debug, Deserialize)]
struct EntryDoc {
    path: String,
    state: String,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct ViewDoc {
    view: String,
    state: String,
    #[serde(default)]
    definition: Option<bool>,
    #[serde(default)]
    source: Option<bool>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct ModelDoc {
    name: String,
    versions: usize,
    latest: Option<u32>,
    production: Option<StagedDoc>,
    staging: Option<StagedDoc>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct StagedDoc {
    version: u32,
    validated: Option<String>,
    drift: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct RemoteDoc {
    state: String,
    #[serde(default)]
    default: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    missing: Option<u64>,
    #[serde(default)]
    unknown: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct TrainDoc {
    id: String,
}

impl Document for TrainDoc {
    const KIND: &'static str = "train";
}

fn view(name: &str, state: &str) -> ViewDoc {
    ViewDoc {
        view: name.to_owned(),
        state: state.to_owned(),
        definition: None,
        source: None,
        message: None,
    }
}

fn changed(name: &str, definition: bool, source: bool) -> ViewDoc {
    ViewDoc {
        definition: Some(definition),
        source: Some(source),
        ..view(name, "changed")
    }
}

fn events(seed: u64) -> String {
    let mut rng = Rng(seed);
    let mut out = String::from("customer_id,ts,spend\n");
    for c in 0..20 {
        out.push_str(&format!(
            "{c},2026-01-01T00:00:00,{}\n",
            (rng.next() % 1000) as f64 / 10.0
        ));
    }
    out
}

/// Two tracked tables, two views (one materialized), a model with a validated version in
/// production and another in staging.
fn project() -> Project {
    let p = Project::new();
    p.write("data/events.csv", events(1));
    let mut table = String::from("x1,x2,label\n");
    let mut rng = Rng(3);
    for _ in 0..80 {
        let (a, b) = (rng.next() % 100, rng.next() % 100);
        table.push_str(&format!("{a},{b},{}\n", u8::from(a + b > 100)));
    }
    p.write("data/train.csv", table);
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

[model.churn]
data = "data/train.csv"
target = "label"
algorithm = "decision_tree_classifier"
params = { max_depth = 2 }
"#,
    );
    p.write("cairn.toml", config);
    p.cairn(&["data", "add", "data/events.csv", "data/train.csv"])
        .ok();
    p.cairn(&["feature", "materialize"]).ok();
    for depth in ["max_depth=2", "max_depth=3"] {
        let run: TrainDoc = json(&p, &["train", "churn", "--set", depth], 0);
        p.cairn(&["register", &run.id]).ok();
    }
    p.cairn(&["validate", "churn@1"]).ok();
    p.cairn(&["models", "promote", "churn@1", "--to", "production"])
        .ok();
    p.cairn(&["models", "promote", "churn@2", "--to", "staging"])
        .ok();
    p
}

#[test]
fn status_shows_data_features_models_and_the_remote_when_asked() {
    let p = project();
    let doc: StatusDoc = json(&p, &["status"], 0);
    assert_eq!((doc.kind.as_str(), doc.schema_version), ("status", 1));
    assert!(doc.in_sync && doc.data.clean, "{doc:?}");
    let paths: Vec<(&str, &str)> = doc
        .data
        .entries
        .iter()
        .map(|e| (e.path.as_str(), e.state.as_str()))
        .collect();
    assert_eq!(
        paths,
        [
            ("data/events.csv", "unchanged"),
            ("data/train.csv", "unchanged")
        ]
    );
    assert_eq!(doc.features, [view("activity", "up_to_date")]);
    assert_eq!(
        doc.models,
        [ModelDoc {
            name: "churn".to_owned(),
            versions: 2,
            latest: Some(2),
            production: Some(StagedDoc {
                version: 1,
                validated: Some("passed".to_owned()),
                drift: None,
            }),
            staging: Some(StagedDoc {
                version: 2,
                validated: None,
                drift: None,
            }),
        }]
    );
    assert_eq!(doc.remote.state, "no_remote");
    p.cairn(&["status", "--check"])
        .ok()
        .stderr_has("everything matches cairn.lock");
    let out = p.cairn(&["status"]);
    out.ok();
    for line in [
        "features\n  up to date        activity\n",
        "  churn  production 1 (validation passed, drift not checked)  staging 2 (not validated, drift not checked)",
        "remote\n  no remote configured\n",
    ] {
        assert!(out.stdout.contains(line), "{line:?} in:\n{}", out.stdout);
    }

    // A remote: not asked unless --remote; asked, it lacks what was never pushed.
    let remote = tempfile::tempdir().unwrap();
    p.cairn(&["remote", "add", "shared", remote.path().to_str().unwrap()])
        .ok();
    let doc: StatusDoc = json(&p, &["status"], 0);
    assert_eq!(
        doc.remote,
        RemoteDoc {
            state: "not_checked".to_owned(),
            default: Some("shared".to_owned()),
            name: None,
            url: None,
            missing: None,
            unknown: None,
        }
    );
    assert!(doc.in_sync);
    p.cairn(&["status"])
        .ok()
        .stdout_has("shared: not checked (--remote asks it)");
    let doc: StatusDoc = json(&p, &["status", "--remote", "--check"], 1);
    assert_eq!(doc.remote.state, "checked");
    assert_eq!(doc.remote.name.as_deref(), Some("shared"));
    assert!(doc.remote.missing.unwrap() > 0, "{doc:?}");
    assert!(!doc.in_sync);
    p.cairn(&["data", "push"]).ok();
    let doc: StatusDoc = json(&p, &["status", "--remote", "--check"], 0);
    assert_eq!(
        (doc.remote.missing, doc.remote.unknown),
        (Some(0), Some(false))
    );
    p.cairn(&["status", "--remote"])
        .ok()
        .stdout_has("shared: has every pinned object");

    // The data changes, a view's definition changes, a view is declared and not materialized:
    // each is out of sync, and --check says so.
    p.write("data/train.csv", "x1,x2,label\n1,2,0\n");
    let mut config = String::from_utf8(p.read("cairn.toml")).unwrap();
    config = config.replace(
        "features = { spend = \"float\" }",
        "features = { spend = \"float\" }\nttl = \"7d\"",
    );
    config.push_str(
        r#"
[feature_view.recent]
source = "data/events.csv"
entities = ["customer"]
timestamp = "ts"
features = { spend = "float" }
"#,
    );
    p.write("cairn.toml", config);
    let doc: StatusDoc = json(&p, &["status"], 0);
    assert!(!doc.in_sync && !doc.data.clean);
    assert_eq!(doc.data.entries[1].state, "modified");
    assert_eq!(
        doc.features,
        [
            changed("activity", true, false),
            view("recent", "not_materialized")
        ]
    );
    let out = p.cairn(&["status", "--check"]);
    out.code(1);
    for line in [
        "  modified      data/train.csv\n",
        "  changed           activity  (definition changed)\n",
        "  not materialized  recent\n",
    ] {
        assert!(out.stdout.contains(line), "{line:?} in:\n{}", out.stdout);
    }
    assert!(out.stderr.contains("out of sync"), "{}", out.stderr);

    // The source's content changes too.
    p.write("data/events.csv", events(2));
    let doc: StatusDoc = json(&p, &["status"], 0);
    assert_eq!(doc.features[0], changed("activity", true, true));
}
