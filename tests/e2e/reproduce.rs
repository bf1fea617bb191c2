//! `cairn reproduce NAME@REF`: a registered version rebuilt bit for bit after the data and the
//! code changed; a tampered pin named as the difference (exit 1); a missing input named by its
//! digest (exit 2); inputs fetched from the default remote; nothing of the user's changed.

use std::path::PathBuf;

use cairn_e2e::{Project, Rng};
use serde::Deserialize;

use crate::docs::{Document, ErrorDoc, json};

/// The `reproduce` document (docs/guide/reproduce.md#json-output), unknown fields refused.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Reproduced {
    kind: String,
    schema_version: u32,
    model: String,
    version: u32,
    run: String,
    spec: String,
    commit: String,
    workdir: PathBuf,
    kept: bool,
    inputs: Vec<Input>,
    pinned: String,
    rebuilt: String,
    reproduced: bool,
    differences: Vec<Difference>,
    warnings: Vec<String>,
}

impl Document for Reproduced {
    const KIND: &'static str = "reproduce";
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    kind: String,
    name: String,
    digest: String,
    from: String,
    #[serde(default)]
    remote: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Difference {
    what: String,
    pinned: String,
    rebuilt: String,
}

#[derive(Debug, Deserialize)]
struct RunDoc {
    id: String,
    artifact: String,
}

impl Document for RunDoc {
    const KIND: &'static str = "train";
}

/// A seeded table: two numbers and a label that follows their sum, with noise.
fn table(rows: usize, seed: u64) -> String {
    let mut rng = Rng(seed);
    let unit = |rng: &mut Rng| (rng.next() % 10_000) as f64 / 10_000.0;
    let mut out = String::from("x1,x2,label\n");
    for _ in 0..rows {
        let (x1, x2) = (unit(&mut rng), unit(&mut rng));
        let noise = unit(&mut rng) * 0.3;
        let label = if x1 + x2 + noise > 1.15 { "yes" } else { "no" };
        out.push_str(&format!("{x1},{x2},{label}\n"));
    }
    out
}

const SPEC: &str = r#"
[model.churn]
data = "data/train.csv"
target = "label"
algorithm = "random_forest_classifier"
params = { n_trees = 5, max_depth = 4 }
seed = 11
"#;

fn append_config(p: &Project, text: &str) {
    let mut config = String::from_utf8(p.read("cairn.toml")).unwrap();
    config.push_str(text);
    p.write("cairn.toml", config);
}

/// A committed project with `churn@1` registered from a run with an override, then the data
/// and the code changed and committed.
fn changed_project() -> (Project, RunDoc, String) {
    let p = Project::new();
    p.git(&["config", "user.name", "Ann"]);
    p.git(&["config", "user.email", "ann@example.com"]);
    p.write("data/train.csv", table(400, 1));
    append_config(&p, SPEC);
    p.cairn(&["data", "add", "data/train.csv"]).ok();
    p.commit("data and spec");
    let run: RunDoc = json(&p, &["train", "churn", "--set", "min_samples_leaf=2"], 0);
    p.cairn(&["register", &run.id]).ok();
    p.commit("register churn@1");
    let first_data = data_digest(&p);
    // New data, new code.
    p.write("data/train.csv", table(500, 2));
    p.cairn(&["data", "add", "data/train.csv"]).ok();
    let config = String::from_utf8(p.read("cairn.toml"))
        .unwrap()
        .replace("max_depth = 4", "max_depth = 2")
        .replace("seed = 11", "seed = 12");
    p.write("cairn.toml", config);
    p.commit("new data, shallower trees");
    (p, run, first_data)
}

/// The digest `[data."data/train.csv"]` pins now.
fn data_digest(p: &Project) -> String {
    let lock = p.lock_text();
    let at = lock.find("[data.\"data/train.csv\"]").expect("tracked");
    let rest = &lock[at..];
    let start = rest.find("digest = \"").expect("digest") + "digest = \"".len();
    rest[start..start + 64].to_owned()
}

/// What reproduce must leave alone: the lock, the git status and index, the runs, `.cairn/tmp`.
fn user_state(p: &Project) -> (String, String, String, String, usize) {
    let runs = p.json(&["runs", "list"], 0);
    let tmp = std::fs::read_dir(p.path(".cairn/tmp"))
        .map(|d| d.count())
        .unwrap_or(0);
    (
        p.lock_text(),
        p.git(&["status", "--porcelain", "--ignored"]),
        p.git(&["ls-files", "-s"]),
        runs["runs"].to_string(),
        tmp,
    )
}

#[test]
fn a_version_is_rebuilt_bit_for_bit_after_its_data_and_code_changed() {
    let (p, run, first_data) = changed_project();
    let before = user_state(&p);

    let doc: Reproduced = json(&p, &["reproduce", "churn@1"], 0);
    assert_eq!((doc.kind.as_str(), doc.schema_version), ("reproduce", 1));
    assert!(doc.reproduced, "{doc:?}");
    assert_eq!(doc.pinned, run.artifact);
    assert_eq!(doc.rebuilt, run.artifact);
    assert!(doc.differences.is_empty(), "{doc:?}");
    assert!(doc.warnings.is_empty(), "{doc:?}");
    assert_eq!(
        (doc.model.as_str(), doc.version, doc.spec.as_str()),
        ("churn", 1, "churn")
    );
    assert_eq!(doc.run, run.id);
    assert!(!doc.kept);
    assert!(!doc.workdir.exists(), "the temporary directory is removed");
    let first_commit = p.git(&["rev-parse", "HEAD~2"]).trim().to_owned();
    assert_eq!(doc.commit, first_commit);
    let kinds: Vec<(&str, &str, &str)> = doc
        .inputs
        .iter()
        .map(|i| (i.kind.as_str(), i.name.as_str(), i.from.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("run_record", run.id.as_str(), "local_store"),
            ("code", "commit", "git"),
            ("data", "data/train.csv", "local_store"),
        ]
    );
    assert_eq!(doc.inputs[1].digest, first_commit);
    assert_eq!(doc.inputs[2].digest, first_data);
    assert!(doc.inputs.iter().all(|i| i.remote.is_none()));
    assert_eq!(user_state(&p), before, "reproduce changed the user's state");

    // The human output says what was rebuilt, then the verdict.
    let out = p.cairn(&["reproduce", "churn@1"]);
    out.ok();
    assert!(out.stdout.contains("rebuilt churn@1"), "{}", out.stdout);
    assert!(out.stdout.contains(&first_data[..12]), "{}", out.stdout);
    assert!(
        out.stdout.trim_end().ends_with("reproduced: yes"),
        "{}",
        out.stdout
    );

    // --workdir keeps the rebuild: the commit's code (the old spec) and the old data.
    let dir = tempfile::tempdir().unwrap();
    let workdir = dir.path().join("rebuild");
    let doc: Reproduced = json(
        &p,
        &[
            "reproduce",
            "churn@1",
            "--workdir",
            workdir.to_str().unwrap(),
        ],
        0,
    );
    assert!(doc.kept && doc.reproduced);
    let config = std::fs::read_to_string(workdir.join("cairn.toml")).unwrap();
    assert!(config.contains("max_depth = 4") && config.contains("seed = 11"));
    assert_eq!(
        std::fs::read_to_string(workdir.join("data/train.csv")).unwrap(),
        table(400, 1)
    );
    let artifact = workdir.join(format!(
        ".cairn/objects/{}/{}",
        &run.artifact[..2],
        &run.artifact[2..]
    ));
    assert!(
        artifact.exists(),
        "the rebuilt artifact is in the rebuild's store"
    );
    // A directory that is not empty is refused.
    let refused: ErrorDoc = json(
        &p,
        &[
            "reproduce",
            "churn@1",
            "--workdir",
            workdir.to_str().unwrap(),
        ],
        2,
    );
    assert!(refused.message.contains("not empty"), "{}", refused.message);
    assert_eq!(user_state(&p), before);
}

#[test]
fn a_tampered_pin_is_named_and_a_missing_object_is_named_by_its_digest() {
    let (p, _run, first_data) = changed_project();
    let new_data = data_digest(&p);
    assert_ne!(first_data, new_data);

    // The version's lock entry now pins the new data: the rebuild differs, and says where.
    let lock = p.lock_text();
    let tampered = lock.replace(
        &format!("data = {{ \"data/train.csv\" = \"{first_data}\" }}"),
        &format!("data = {{ \"data/train.csv\" = \"{new_data}\" }}"),
    );
    assert_ne!(tampered, lock, "the version's data pin is in the lock");
    p.write("cairn.lock", &tampered);
    let doc: Reproduced = json(&p, &["reproduce", "churn@1"], 1);
    assert!(!doc.reproduced);
    assert_ne!(doc.rebuilt, doc.pinned);
    let what: Vec<&str> = doc.differences.iter().map(|d| d.what.as_str()).collect();
    assert_eq!(what[0], "artifact");
    assert!(what.contains(&"data data/train.csv"), "{what:?}");
    let data = &doc.differences[what
        .iter()
        .position(|w| *w == "data data/train.csv")
        .unwrap()];
    assert_eq!(
        (data.pinned.as_str(), data.rebuilt.as_str()),
        (first_data.as_str(), new_data.as_str())
    );
    let out = p.cairn(&["reproduce", "churn@1"]);
    out.code(1);
    assert!(out.stdout.contains("reproduced: no"), "{}", out.stdout);
    assert!(out.stdout.contains("data data/train.csv"), "{}", out.stdout);
    p.write("cairn.lock", &lock);

    // The old data's object is gone and no remote is configured: exit 2, naming it.
    std::fs::remove_file(p.object_path(&first_data)).unwrap();
    let missing: ErrorDoc = json(&p, &["reproduce", "churn@1"], 2);
    assert_eq!(missing.exit_code, 2);
    assert!(missing.message.contains(&first_data), "{}", missing.message);
    assert!(
        missing.message.contains("data/train.csv"),
        "{}",
        missing.message
    );
    assert!(
        missing.message.contains("no remote is configured"),
        "{}",
        missing.message
    );
    p.cairn(&["reproduce", "churn@1"])
        .code(2)
        .stderr_has(&first_data)
        .stderr_has("hint:");
}

#[test]
fn a_feature_model_is_rebuilt_with_inputs_fetched_from_the_remote() {
    let p = Project::new();
    p.git(&["config", "user.name", "Ann"]);
    p.git(&["config", "user.email", "ann@example.com"]);
    let mut events = String::from("customer_id,ts,spend,visits\n");
    let mut labels = String::from("customer_id,event_timestamp,churned\n");
    let mut rng = Rng(5);
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
    append_config(
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
    p.cairn(&["feature", "materialize"]).ok();
    p.commit("data, features, spec");
    let run: RunDoc = json(&p, &["train", "churn_fs"], 0);
    p.cairn(&["register", &run.id]).ok();
    p.commit("register");
    let remote = tempfile::tempdir().unwrap();
    p.cairn(&["remote", "add", "shared", remote.path().to_str().unwrap()])
        .ok();
    p.cairn(&["data", "push", "--all-commits"]).ok();
    let pinned = p.lock_text();
    let table = {
        let at = pinned.find("[feature.activity]").expect("a table");
        let rest = &pinned[at..];
        let start = rest.find("digest = \"").unwrap() + "digest = \"".len();
        rest[start..start + 64].to_owned()
    };
    // The events change and the view is materialized again: a new table is pinned.
    p.write("data/events.csv", events.replace(",1\n", ",2\n"));
    p.cairn(&["data", "add", "data/events.csv"]).ok();
    p.cairn(&["feature", "materialize"]).ok();
    p.commit("new events");
    assert!(!p.lock_text().contains(&format!("digest = \"{table}\"")));

    // The old table is gone from the local store: it comes from the remote, verified.
    std::fs::remove_file(p.object_path(&table)).unwrap();
    let doc: Reproduced = json(&p, &["reproduce", "churn_fs@1"], 0);
    assert!(doc.reproduced, "{doc:?}");
    assert_eq!(doc.rebuilt, run.artifact);
    let feature = doc
        .inputs
        .iter()
        .find(|i| i.kind == "feature")
        .expect("the feature table is an input");
    assert_eq!(
        (feature.name.as_str(), feature.digest.as_str()),
        ("activity", table.as_str())
    );
    assert_eq!(
        (feature.from.as_str(), feature.remote.as_deref()),
        ("remote", Some("shared"))
    );
    assert!(
        !p.object_path(&table).exists(),
        "nothing is fetched into the user's store"
    );
    p.cairn(&["reproduce", "churn_fs@1"])
        .ok()
        .stdout_has("fetched from remote shared");

    // Gone from the remote too: exit 2, naming the table and the remote asked.
    let on_remote = remote
        .path()
        .join(format!("objects/{}/{}", &table[..2], &table[2..]));
    std::fs::remove_file(on_remote).unwrap();
    let missing: ErrorDoc = json(&p, &["reproduce", "churn_fs@1"], 2);
    assert!(missing.message.contains(&table), "{}", missing.message);
    assert!(
        missing.message.contains("feature table activity"),
        "{}",
        missing.message
    );
    assert!(
        missing.message.contains("remote `shared`"),
        "{}",
        missing.message
    );
}
