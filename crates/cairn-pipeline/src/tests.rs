//! The lineage's three drawings, exact, on a lineage built here; the status of a project
//! built here (sources that cannot be read, views no longer declared).

use std::collections::BTreeMap;

use cairn_core::registry::{Action, HistoryEntry, Stage, Verdict, Was};
use cairn_store::Digest;
use serde_json::Value;

use crate::{DataNode, FeatureNode, Lineage, RunNode, SourceNode};

fn digest(seed: &str) -> Digest {
    Digest::of(seed.as_bytes())
}

fn entry(at: &str, action: Action, from: Option<Was>, to: Option<Was>) -> HistoryEntry {
    HistoryEntry {
        at: at.to_owned(),
        actor: "Ann <ann@example.com>".to_owned(),
        action,
        version: 2,
        from,
        to,
        alias: None,
        reason: None,
        forced: false,
        archived: None,
    }
}

fn lineage() -> Lineage {
    Lineage {
        model: "churn".to_owned(),
        version: 2,
        artifact: digest("artifact"),
        stage: Stage::Production,
        validated: Some(Verdict::Passed),
        data: vec![DataNode {
            path: "data/labels.csv".to_owned(),
            digest: digest("labels").to_hex(),
        }],
        features: vec![FeatureNode {
            view: "activity".to_owned(),
            digest: digest("table").to_hex(),
            source: Some(SourceNode {
                path: "data/events.csv".to_owned(),
                digest: digest("events"),
            }),
            validation: Some("passed".to_owned()),
        }],
        run: RunNode {
            id: "0123456789ab".to_owned(),
            record: digest("record"),
            spec: "churn".to_owned(),
            algorithm: "decision_tree_classifier".to_owned(),
            commit: Some("89abcdef0123456789abcdef0123456789abcdef".to_owned()),
            dirty: false,
            seed: Some(7),
            params: BTreeMap::from([
                ("max_depth".to_owned(), Value::from(3)),
                ("criterion".to_owned(), Value::from("gini")),
            ]),
            validation: Some("passed".to_owned()),
        },
        history: vec![
            entry("2026-12-01T10:00:00Z", Action::Register, None, None),
            entry(
                "2026-12-01T11:00:00Z",
                Action::Promote,
                Some(Was::Stage(Stage::None)),
                Some(Was::Stage(Stage::Staging)),
            ),
            entry(
                "2026-12-02T09:30:00Z",
                Action::Promote,
                Some(Was::Stage(Stage::Staging)),
                Some(Was::Stage(Stage::Production)),
            ),
        ],
        drift: None,
    }
}

fn short(seed: &str) -> String {
    digest(seed).to_hex()[..12].to_owned()
}

/// The expected text, with `{name}` replaced by the short digest of `name`.
fn expect(template: &str) -> String {
    let mut out = template.to_owned();
    for seed in ["artifact", "labels", "table", "events"] {
        out = out.replace(&format!("{{{seed}}}"), &short(seed));
    }
    out
}

#[test]
fn lineage_tree_is_exact() {
    let want = expect(
        "\
churn@2  artifact {artifact}  stage production  validation passed
├── run 0123456789ab  churn (decision_tree_classifier)  seed 7  commit 89abcdef0123
│   ├── params criterion=\"gini\" max_depth=3
│   ├── data data/labels.csv  {labels}
│   │   └── data validation: passed
│   └── feature table activity  {table}
│       └── source data/events.csv  {events}  validation: passed
├── history
│   ├── 2026-12-01T10:00:00Z register by Ann <ann@example.com>
│   ├── 2026-12-01T11:00:00Z promote none -> staging by Ann <ann@example.com>
│   └── 2026-12-02T09:30:00Z promote staging -> production by Ann <ann@example.com>
└── drift: not checked
",
    );
    assert_eq!(lineage().tree(), want);
}

#[test]
fn lineage_mermaid_is_exact() {
    let want = expect(
        "\
flowchart LR
    s0[\"source data/events.csv  {events}\"]
    f0[\"feature table activity  {table}\"]
    d0[\"data data/labels.csv  {labels}\"]
    run[\"run 0123456789ab  churn (decision_tree_classifier)  seed 7  commit 89abcdef0123\"]
    version[\"churn@2  artifact {artifact}  stage production  validation passed\"]
    h0[\"2026-12-01T10:00:00Z register by Ann #lt;ann@example.com#gt;\"]
    h1[\"2026-12-01T11:00:00Z promote none -#gt; staging by Ann #lt;ann@example.com#gt;\"]
    h2[\"2026-12-02T09:30:00Z promote staging -#gt; production by Ann #lt;ann@example.com#gt;\"]
    drift[\"drift: not checked\"]
    s0 -->|validation: passed| f0
    f0 --> run
    d0 -->|validation: passed| run
    run --> version
    version --> h0
    h0 --> h1
    h1 --> h2
    version --> drift
",
    );
    assert_eq!(lineage().mermaid(), want);
}

#[test]
fn lineage_dot_is_exact() {
    let want = expect(
        "\
digraph lineage {
    rankdir=LR;
    node [shape=box];
    s0 [label=\"source data/events.csv  {events}\"];
    f0 [label=\"feature table activity  {table}\"];
    d0 [label=\"data data/labels.csv  {labels}\"];
    run [label=\"run 0123456789ab  churn (decision_tree_classifier)  seed 7  commit 89abcdef0123\"];
    version [label=\"churn@2  artifact {artifact}  stage production  validation passed\"];
    h0 [label=\"2026-12-01T10:00:00Z register by Ann <ann@example.com>\"];
    h1 [label=\"2026-12-01T11:00:00Z promote none -> staging by Ann <ann@example.com>\"];
    h2 [label=\"2026-12-02T09:30:00Z promote staging -> production by Ann <ann@example.com>\"];
    drift [label=\"drift: not checked\"];
    s0 -> f0 [label=\"validation: passed\"];
    f0 -> run;
    d0 -> run [label=\"validation: passed\"];
    run -> version;
    version -> h0;
    h0 -> h1;
    h1 -> h2;
    version -> drift;
}
",
    );
    assert_eq!(lineage().dot(), want);
}

#[test]
fn lineage_without_record_or_source_says_so_and_quotes_labels() {
    let mut l = lineage();
    l.run.seed = None;
    l.run.params.clear();
    l.run.validation = None;
    l.run.commit = None;
    l.run.dirty = true;
    l.features[0].source = None;
    l.history.clear();
    l.data[0].path = "data/a \"b\".csv".to_owned();
    let tree = l.tree();
    assert!(
        tree.contains("data validation: unknown (the run record is not in the store)"),
        "{tree}"
    );
    assert!(
        tree.contains("source: unknown (cairn.lock pins another table now)"),
        "{tree}"
    );
    assert!(tree.contains("no commit (uncommitted changes)"), "{tree}");
    assert!(tree.contains("├── history\n│   └── (none)\n"), "{tree}");
    assert!(
        l.dot().contains(r#"label="data data/a \"b\".csv"#),
        "{}",
        l.dot()
    );
    assert!(
        l.mermaid().contains("data/a #quot;b#quot;.csv"),
        "{}",
        l.mermaid()
    );
}

#[test]
#[allow(clippy::disallowed_methods)] // the fixture is written with std::fs
fn status_names_unreadable_sources_and_undeclared_views() {
    use cairn_core::{FeatureEntry, InitOptions, Project};

    use crate::{RemoteCheck, StatusOptions, ViewState, ViewStatus};

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    Project::init(root, &InitOptions { no_git: true }).unwrap();
    let toml = std::fs::read_to_string(root.join("cairn.toml")).unwrap();
    std::fs::write(
        root.join("cairn.toml"),
        toml + r#"
[entity.customer]
join_keys = { customer_id = "int" }

[feature_view.activity]
source = "data/events.csv"
entities = ["customer"]
timestamp = "ts"
features = { spend = "float" }
"#,
    )
    .unwrap();
    let project = Project::discover(root).unwrap();
    let store = project.store().unwrap();
    let table = FeatureEntry {
        digest: digest("table"),
        size: 1,
        rows: 1,
        definition: digest("definition"),
        source: digest("source"),
        end: None,
        window_start: None,
        window_end: None,
        incremental: false,
        validation: None,
    };
    let mut lock = project.read_lock().unwrap();
    lock.feature.insert("activity".to_owned(), table.clone());
    lock.feature.insert("old".to_owned(), table);
    project.write_lock(&lock, &store).unwrap();

    let status = crate::status(
        &project,
        &StatusOptions {
            cwd: root.to_path_buf(),
            remote: None,
        },
    )
    .unwrap();
    assert!(!status.in_sync);
    assert!(status.data.clean);
    assert_eq!(status.remote, RemoteCheck::NoRemote);
    assert_eq!(status.features.len(), 2);
    assert!(
        matches!(&status.features[0].state, ViewState::SourceUnreadable { message } if message.contains("data/events.csv")),
        "{:?}",
        status.features[0]
    );
    assert_eq!(
        status.features[1],
        ViewStatus {
            view: "old".to_owned(),
            state: ViewState::Undeclared,
        }
    );
    assert!(status.models.is_empty());
}
