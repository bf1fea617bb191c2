//! The feature store: `cairn feature plan | materialize | historical | online | list`. The
//! JSON documents are decoded into structs that mirror docs/guide/features.md#json-output,
//! with unknown fields refused, so that a renamed or added field fails here.

use std::collections::BTreeMap;

use cairn_e2e::{Project, Run};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// A document's kind, as the printer wraps every outcome.
trait Document: DeserializeOwned {
    const KIND: &'static str;
}

#[derive(Deserialize)]
struct Envelope {
    kind: String,
    schema_version: u32,
}

/// Decodes stdout as one document of kind `T::KIND`, schema version 1.
#[track_caller]
fn decode<T: Document>(run: &Run) -> T {
    let envelope: Envelope = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", run.stdout, run.stderr));
    assert_eq!(
        (envelope.kind.as_str(), envelope.schema_version),
        (T::KIND, 1)
    );
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

/// Runs `cairn --json ARGS`, expects exit 0 and decodes the document.
#[track_caller]
fn json<T: Document>(p: &Project, args: &[&str]) -> T {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let run = p.cairn(&all);
    run.ok();
    decode(&run)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Materialized {
    #[serde(rename = "kind")]
    _kind: String,
    #[serde(rename = "schema_version")]
    _schema_version: u32,
    views: Vec<MaterializedView>,
    #[serde(default)]
    removed: Option<Vec<String>>,
}

impl Document for Materialized {
    const KIND: &'static str = "feature-materialize";
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MaterializedView {
    view: String,
    skipped: bool,
    rows: u64,
    entities: u64,
    digest: String,
    #[serde(rename = "size")]
    _size: u64,
    end: Option<String>,
    validation: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Historical {
    #[serde(rename = "kind")]
    _kind: String,
    #[serde(rename = "schema_version")]
    _schema_version: u32,
    rows: u64,
    columns: Vec<String>,
    views: Vec<String>,
    output: std::path::PathBuf,
}

impl Document for Historical {
    const KIND: &'static str = "feature-historical";
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Online {
    #[serde(rename = "kind")]
    _kind: String,
    #[serde(rename = "schema_version")]
    _schema_version: u32,
    entities: Vec<OnlineEntity>,
    at: Option<String>,
}

impl Document for Online {
    const KIND: &'static str = "feature-online";
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OnlineEntity {
    keys: BTreeMap<String, Value>,
    features: BTreeMap<String, Value>,
    event_times: BTreeMap<String, String>,
    #[serde(default)]
    expired: Vec<String>,
    #[serde(default)]
    missing: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Plan {
    #[serde(rename = "kind")]
    _kind: String,
    #[serde(rename = "schema_version")]
    _schema_version: u32,
    views: Vec<PlannedView>,
    services: Vec<String>,
}

impl Document for Plan {
    const KIND: &'static str = "feature-plan";
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlannedView {
    view: String,
    #[serde(rename = "source")]
    _source: String,
    rows: u64,
    features: Vec<String>,
    action: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Listed {
    #[serde(rename = "kind")]
    _kind: String,
    #[serde(rename = "schema_version")]
    _schema_version: u32,
    views: Vec<ListedView>,
}

impl Document for Listed {
    const KIND: &'static str = "feature-list";
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListedView {
    view: String,
    source: String,
    entities: Vec<String>,
    join_keys: Vec<(String, String)>,
    features: BTreeMap<String, String>,
    ttl: Option<String>,
    #[serde(rename = "definition")]
    _definition: String,
    /// The view's `[feature.VIEW]` lock entry (docs/formats/lock.md).
    offline: Option<LockEntry>,
    materialized_at: Option<String>,
    online_entities: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct LockEntry {
    digest: String,
    rows: u64,
    window_start: Option<String>,
}

/// A failed validation: `materialize` prints the report as its one document.
#[derive(Debug, Deserialize)]
struct Validated {
    passed: bool,
    datasets: Vec<Value>,
}

impl Document for Validated {
    const KIND: &'static str = "data-validate";
}

/// The parts of `data status --remote` and `data push` documents these tests read
/// (docs/guide/data.md, docs/guide/remotes.md).
#[derive(Debug, Deserialize)]
struct Status {
    entries: Vec<StatusEntry>,
    features: Vec<StatusEntry>,
}

impl Document for Status {
    const KIND: &'static str = "data-status";
}

#[derive(Debug, Deserialize)]
struct StatusEntry {
    remote: RemoteState,
}

#[derive(Debug, Deserialize)]
struct RemoteState {
    missing: u64,
}

#[derive(Debug, Deserialize)]
struct Pushed {
    needed: u64,
    uploaded: Uploaded,
}

impl Document for Pushed {
    const KIND: &'static str = "data-push";
}

#[derive(Debug, Deserialize)]
struct Uploaded {
    objects: u64,
}

const EVENTS: &str = "\
customer_id,ts,created,amount,n
1,2026-01-01T00:00:00,2026-01-01T00:00:00,10.0,1
1,2026-01-02T00:00:00,2026-01-02T00:00:00,20.0,2
1,2026-01-02T00:00:00,2026-01-03T00:00:00,25.0,5
2,2026-01-01T12:00:00,2026-01-01T12:00:00,,4
";

const DEFINITIONS: &str = r#"
[entity.customer]
join_keys = { customer_id = "int" }

[feature_view.stats]
source = "data/events.csv"
entities = ["customer"]
timestamp = "ts"
created = "created"
ttl = "2d"
features = { amount = "float", n = "int" }

[feature_view.ratio]
source = "data/events.csv"
entities = ["customer"]
timestamp = "ts"
sql = "SELECT customer_id, ts, amount / n AS per_item FROM source"
features = { per_item = "float" }

[feature_service.fraud]
features = ["stats:amount", "ratio:per_item"]
"#;

/// Entity rows: before, at and long after the events, an unknown customer, a duplicate.
const ENTITIES: &str = "\
customer_id,event_timestamp,label
1,2026-01-01T23:00:00,0
1,2026-01-02T00:00:00,1
1,2026-01-05T00:00:00,0
2,2026-01-01T11:00:00,1
9,2026-01-02T00:00:00,0
1,2026-01-02T00:00:00,1
";

fn project(definitions: &str) -> Project {
    let p = Project::new();
    p.write("data/events.csv", EVENTS);
    p.write("entities.csv", ENTITIES);
    let mut config = String::from_utf8(p.read("cairn.toml")).unwrap();
    config.push_str(definitions);
    p.write("cairn.toml", config);
    p
}

/// A CSV file's rows as strings (header first).
fn csv(p: &Project, rel: &str) -> Vec<Vec<String>> {
    String::from_utf8(p.read(rel))
        .unwrap()
        .lines()
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect()
}

fn column(table: &[Vec<String>], name: &str) -> Vec<String> {
    let i = table[0]
        .iter()
        .position(|c| c == name)
        .unwrap_or_else(|| panic!("no {name} in {:?}", table[0]));
    table[1..].iter().map(|r| r[i].clone()).collect()
}

#[test]
fn point_in_time_joins_follow_the_documented_rules() {
    let p = project(DEFINITIONS);
    p.cairn(&["feature", "materialize"]).ok();
    let doc: Historical = json(
        &p,
        &[
            "feature",
            "historical",
            "--entities",
            "entities.csv",
            "--service",
            "fraud",
            "-o",
            "out.csv",
        ],
    );
    assert_eq!(doc.rows, 6);
    assert_eq!(doc.views, ["ratio", "stats"]);
    assert_eq!(doc.output, p.root().canonicalize().unwrap().join("out.csv"));
    let out = csv(&p, "out.csv");
    assert_eq!(out[0], doc.columns);
    assert_eq!(
        out[0],
        [
            "customer_id",
            "event_timestamp",
            "label",
            "amount",
            "per_item"
        ]
    );
    // Input order, duplicates kept, extra columns passed through.
    assert_eq!(column(&out, "customer_id"), ["1", "1", "1", "2", "9", "1"]);
    assert_eq!(column(&out, "label"), ["0", "1", "0", "1", "0", "1"]);
    // 23:00 sees the midnight row; at 2026-01-02 00:00 (inclusive) the tie on event time
    // goes to the row created last (25.0); three days later the 2-day ttl has run out; an
    // event one hour before customer 2's only row sees nothing; customer 9 has no rows.
    assert_eq!(column(&out, "amount"), ["10.0", "25.0", "", "", "", "25.0"]);
    // The view without ttl still answers on 2026-01-05; without a created column, the tie
    // goes to the row that comes last in the source (25 / 5).
    assert_eq!(
        column(&out, "per_item"),
        ["10.0", "5.0", "5.0", "", "", "5.0"]
    );

    // With --created-before, the row created on 2026-01-03 does not exist yet on 01-02.
    p.cairn(&[
        "feature",
        "historical",
        "--entities",
        "entities.csv",
        "--features",
        "stats:amount,stats:n",
        "--created-before",
        "--full-names",
        "-o",
        "strict.csv",
    ])
    .ok();
    let strict = csv(&p, "strict.csv");
    assert_eq!(
        column(&strict, "stats__amount"),
        ["10.0", "20.0", "", "", "", "20.0"]
    );
    assert_eq!(column(&strict, "stats__n"), ["1", "2", "", "", "", "2"]);
}

#[test]
fn a_null_in_the_chosen_row_stays_null() {
    let p = project(DEFINITIONS);
    p.write(
        "entities.csv",
        "customer_id,event_timestamp\n2,2026-01-02T00:00:00\n",
    );
    p.cairn(&["feature", "materialize", "stats"]).ok();
    p.cairn(&[
        "feature",
        "historical",
        "--entities",
        "entities.csv",
        "--features",
        "stats:amount,stats:n",
        "-o",
        "o.csv",
    ])
    .ok();
    let out = csv(&p, "o.csv");
    assert_eq!(column(&out, "amount"), [""], "no fallback to an older row");
    assert_eq!(column(&out, "n"), ["4"]);
}

#[test]
fn materialize_pins_tables_skips_what_is_unchanged_and_gc_keeps_them() {
    let p = project(DEFINITIONS);
    let first: Materialized = json(&p, &["feature", "materialize"]);
    assert_eq!(first.views.len(), 2);
    assert!(first.views.iter().all(|v| !v.skipped));
    assert_eq!(first.removed, None);
    let stats = first.views.iter().find(|v| v.view == "stats").unwrap();
    assert_eq!((stats.rows, stats.entities), (4, 2));
    assert_eq!(stats.end.as_deref(), Some("2026-01-02T00:00:00Z"));
    assert_eq!(stats.validation, None);
    let lock = p.lock_text();
    assert!(
        lock.contains("[feature.stats]") && lock.contains("[feature.ratio]"),
        "{lock}"
    );

    let again: Materialized = json(&p, &["feature", "materialize"]);
    assert!(again.views.iter().all(|v| v.skipped));
    assert_eq!(p.lock_text(), lock);

    // A new source row: both views are computed again.
    let mut events = EVENTS.to_owned();
    events.push_str("3,2026-01-03T00:00:00,2026-01-03T00:00:00,7.0,1\n");
    p.write("data/events.csv", events);
    let changed: Materialized = json(&p, &["feature", "materialize", "stats"]);
    assert!(!changed.views[0].skipped);
    assert_eq!(changed.views[0].entities, 3);
    // A changed definition (ttl) too.
    let config = String::from_utf8(p.read("cairn.toml"))
        .unwrap()
        .replace("ttl = \"2d\"", "ttl = \"3d\"");
    p.write("cairn.toml", config);
    let recomputed: Materialized = json(&p, &["feature", "materialize", "stats"]);
    assert!(!recomputed.views[0].skipped);

    // The offline tables are objects the lock pins: gc keeps them.
    p.cairn(&["data", "gc"]).ok();
    p.cairn(&[
        "feature",
        "historical",
        "--entities",
        "entities.csv",
        "--service",
        "fraud",
        "-o",
        "o.parquet",
    ])
    .ok();
    assert!(p.exists("o.parquet"));
    let list: Listed = json(&p, &["feature", "list"]);
    assert_eq!(list.views.len(), 2);
    let stats = &list.views[1];
    assert_eq!(stats.view, "stats");
    assert_eq!(stats.source, "data/events.csv");
    assert_eq!(stats.entities, ["customer"]);
    assert_eq!(
        stats.join_keys,
        [("customer_id".to_owned(), "int".to_owned())]
    );
    assert_eq!(stats.ttl.as_deref(), Some("3d"));
    assert_eq!(stats.online_entities, Some(3));
    assert!(stats.materialized_at.is_some());
    assert_eq!(stats.features["n"], "int");
    let offline = stats.offline.as_ref().unwrap();
    assert_eq!(offline.rows, 5);
    assert_eq!(offline.digest, recomputed.views[0].digest);
    assert_eq!(offline.window_start, None);
}

#[test]
fn online_reads_enforce_ttl_and_say_what_is_missing() {
    let p = project(DEFINITIONS);
    p.cairn(&["feature", "materialize"]).ok();
    let doc: Online = json(
        &p,
        &[
            "feature",
            "online",
            "--entity",
            "customer_id=1",
            "--entity",
            "customer_id=7",
            "--service",
            "fraud",
        ],
    );
    let entities = &doc.entities;
    assert_eq!(entities.len(), 2);
    assert_eq!(doc.at, None);
    // The events are from January 2026 and stats has a 2-day ttl: expired, so null.
    assert_eq!(entities[0].keys["customer_id"], 1);
    assert_eq!(entities[0].features["amount"], Value::Null);
    assert_eq!(entities[0].expired, ["stats"]);
    assert_eq!(entities[0].features["per_item"], 5.0);
    assert_eq!(entities[0].event_times["ratio"], "2026-01-02T00:00:00Z");
    assert_eq!(entities[1].missing, ["stats", "ratio"]);
    // Without a ttl nothing expires.
    let config = String::from_utf8(p.read("cairn.toml"))
        .unwrap()
        .replace("ttl = \"2d\"\n", "");
    p.write("cairn.toml", config);
    p.cairn(&["feature", "materialize"]).ok();
    let doc: Online = json(
        &p,
        &[
            "feature",
            "online",
            "--entity",
            "customer_id=1",
            "--features",
            "stats:amount,stats:n",
        ],
    );
    assert_eq!(doc.entities[0].features["amount"], 25.0);
    assert_eq!(doc.entities[0].features["n"], 5);
    // Bad entities are usage errors.
    p.cairn(&[
        "feature",
        "online",
        "--entity",
        "customer_id=abc",
        "--service",
        "fraud",
    ])
    .code(2)
    .stderr_has(
        "error: entity customer_id=abc: `customer_id` is an int key; `abc` is not an integer",
    )
    .stderr_has("hint: give each entity as --entity key=value");
    p.cairn(&[
        "feature",
        "online",
        "--entity",
        "merchant=1",
        "--service",
        "fraud",
    ])
    .code(2)
    .stderr_has("not a join key");
}

#[test]
fn several_keys_and_several_views_in_one_request() {
    let p = Project::new();
    p.write(
        "data/pairs.csv",
        "customer_id,merchant,ts,spend\n1,a,2026-01-01T00:00:00,5\n1,b,2026-01-01T00:00:00,7\n2,a,2026-01-01T00:00:00,9\n",
    );
    p.write(
        "data/merchants.csv",
        "merchant,ts,risk\na,2026-01-01T00:00:00,0.1\nb,2026-01-01T00:00:00,0.9\n",
    );
    let mut config = String::from_utf8(p.read("cairn.toml")).unwrap();
    config.push_str(
        r#"
[entity.customer]
join_keys = { customer_id = "int" }
[entity.merchant]
join_keys = { merchant = "string" }
[feature_view.pair]
source = "data/pairs.csv"
entities = ["customer", "merchant"]
timestamp = "ts"
features = { spend = "float" }
[feature_view.merchant]
source = "data/merchants.csv"
entities = ["merchant"]
timestamp = "ts"
features = { risk = "float" }
"#,
    );
    p.write("cairn.toml", config);
    p.write(
        "e.csv",
        "customer_id,merchant,event_timestamp\n1,b,2026-01-02T00:00:00\n2,b,2026-01-02T00:00:00\n",
    );
    p.cairn(&["feature", "materialize"]).ok();
    p.cairn(&[
        "feature",
        "historical",
        "--entities",
        "e.csv",
        "--features",
        "pair:spend,merchant:risk",
        "-o",
        "o.csv",
    ])
    .ok();
    let out = csv(&p, "o.csv");
    assert_eq!(column(&out, "spend"), ["7.0", ""]);
    assert_eq!(column(&out, "risk"), ["0.9", "0.9"]);
    let doc: Online = json(
        &p,
        &[
            "feature",
            "online",
            "--entity",
            "customer_id=1,merchant=a",
            "--features",
            "pair:spend,merchant:risk",
        ],
    );
    assert_eq!(doc.entities[0].features["spend"], 5.0);
    assert_eq!(doc.entities[0].features["risk"], 0.1);
    p.cairn(&[
        "feature",
        "online",
        "--entity",
        "customer_id=1",
        "--features",
        "pair:spend",
    ])
    .code(2)
    .stderr_has("needs the join key `merchant`");
}

#[test]
fn plan_names_the_view_the_column_and_the_reason() {
    let cases = [
        (
            DEFINITIONS.replace(
                "timestamp = \"ts\"\ncreated",
                "timestamp = \"when\"\ncreated",
            ),
            "`when`",
        ),
        (
            DEFINITIONS.replace(
                "features = { amount = \"float\", n = \"int\" }",
                "features = { amount = \"int\", n = \"int\" }",
            ),
            "which is not int",
        ),
        (
            DEFINITIONS.replace("created = \"created\"", "created = \"customer_id\""),
            "not a date or datetime",
        ),
        (
            DEFINITIONS.replace("AS per_item FROM source", "AS per_item FROM nowhere"),
            "feature_view.ratio",
        ),
        (
            DEFINITIONS.replace(
                "join_keys = { customer_id = \"int\" }",
                "join_keys = { client = \"int\" }",
            ),
            "`client`",
        ),
    ];
    for (definitions, expected) in cases {
        let p = project(&definitions);
        p.cairn(&["feature", "plan"])
            .code(2)
            .stderr_has(expected)
            .stderr_has("feature_view.");
        p.cairn(&["feature", "materialize"])
            .code(2)
            .stderr_has(expected);
        // Views are pinned one by one (ratio, then stats): the failing one never is.
        let lock = p.lock_text();
        assert!(!lock.contains("[feature.stats]"), "{lock}");
        if expected == "feature_view.ratio" {
            assert!(!lock.contains("[feature."), "{lock}");
        }
    }
    let p = project(DEFINITIONS);
    let plan: Plan = json(&p, &["feature", "plan"]);
    assert_eq!(plan.services, ["fraud"]);
    assert_eq!(
        (plan.views[0].view.as_str(), plan.views[0].rows),
        ("ratio", 4)
    );
    assert_eq!(plan.views[1].features, ["amount", "n"]);
    assert_eq!(plan.views[0].action, "compute");
    p.cairn(&["feature", "materialize"]).ok();
    let plan: Plan = json(&p, &["feature", "plan"]);
    assert!(plan.views.iter().all(|v| v.action == "up to date"));
}

#[test]
fn declarations_are_checked_when_cairn_toml_is_read() {
    let cases = [
        (
            DEFINITIONS.replace(
                "entities = [\"customer\"]\ntimestamp = \"ts\"\ncreated",
                "entities = [\"client\"]\ntimestamp = \"ts\"\ncreated",
            ),
            "no entity `client`",
        ),
        (
            DEFINITIONS.replace("\"ratio:per_item\"]", "\"ratio:nope\"]"),
            "has no feature `nope`",
        ),
        (
            DEFINITIONS.replace("ttl = \"2d\"", "ttl = \"soon\""),
            "feature_view.stats.ttl",
        ),
        (
            DEFINITIONS.replace("customer_id = \"int\"", "customer_id = \"float\""),
            "a join key is",
        ),
        (
            DEFINITIONS.replace(
                "\"ratio:per_item\"]",
                "\"ratio:per_item\", \"ratio:per_item\"]",
            ),
            "is listed twice",
        ),
    ];
    for (definitions, expected) in cases {
        let p = project(&definitions);
        p.cairn(&["feature", "list"]).code(2).stderr_has(expected);
    }
    // Asking for a view that was never materialized, or two features with one name.
    let p = project(DEFINITIONS);
    p.cairn(&[
        "feature",
        "online",
        "--entity",
        "customer_id=1",
        "--service",
        "fraud",
    ])
    .code(2)
    .stderr_has("has not been materialized");
    assert!(
        !p.exists(".cairn/online.db"),
        "reading does not create the online store"
    );
    p.cairn(&[
        "feature",
        "historical",
        "--entities",
        "entities.csv",
        "--service",
        "fraud",
        "-o",
        "o.csv",
    ])
    .code(2)
    .stderr_has("has not been materialized")
    .stderr_has("cairn feature materialize");
    p.cairn(&["feature", "materialize"]).ok();
    p.cairn(&[
        "feature",
        "historical",
        "--entities",
        "entities.csv",
        "--features",
        "stats:amount",
        "--timestamp",
        "when",
        "-o",
        "o.csv",
    ])
    .code(2)
    .stderr_has("no time column `when` (it has: customer_id, event_timestamp, label)\n")
    .stderr_has("hint: name the entity table's time column with --timestamp");
    p.cairn(&[
        "feature",
        "historical",
        "--entities",
        "entities.csv",
        "--features",
        "stats:label",
        "-o",
        "o.csv",
    ])
    .code(2)
    .stderr_has("has no feature `label`");
}

/// A source with declared expectations is validated before a view is built from it: a
/// failure stops materialize with the report (exit 1, nothing pinned); --skip-validation goes
/// on and says so in cairn.lock.
#[test]
fn materialize_validates_the_source_first() {
    let p = project(&format!(
        "{DEFINITIONS}\n[dataset.\"data/events.csv\".columns.amount]\nnot_null = true\n"
    ));
    let run = p.cairn(&["feature", "materialize", "stats"]);
    run.code(1)
        .stdout_has("FAIL amount  not_null")
        .stdout_has("row 4: null")
        .stderr_has("feature_view.stats: its source data/events.csv failed validation")
        .stderr_has("--skip-validation");
    assert!(!p.lock_text().contains("[feature."), "nothing is pinned");
    let doc: Materialized = json(
        &p,
        &["feature", "materialize", "stats", "--skip-validation"],
    );
    assert_eq!(doc.views[0].validation.as_deref(), Some("skipped"));
    assert!(
        p.lock_text().contains("validation = \"skipped\""),
        "{}",
        p.lock_text()
    );
    // Fixed data passes, and the lock says so.
    p.write("data/events.csv", EVENTS.replace(",,4", ",1.0,4"));
    let doc: Materialized = json(&p, &["feature", "materialize", "stats"]);
    assert_eq!(doc.views[0].validation.as_deref(), Some("passed"));
    assert!(p.lock_text().contains("validation = \"passed\""));
}

/// Feature tables travel with `data push`/`pull`: a fresh clone answers historical joins from
/// the pinned tables, and materialize rebuilds its online store from them without computing.
#[test]
fn feature_tables_travel_with_push_and_pull() {
    let remote = tempfile::tempdir().unwrap();
    let p = project(DEFINITIONS);
    p.cairn(&["data", "add", "data/events.csv"]).ok();
    p.cairn(&["remote", "add", "shared", remote.path().to_str().unwrap()])
        .ok();
    p.cairn(&["feature", "materialize"]).ok();
    // The data alone on the remote: status --remote says the feature tables are missing.
    p.cairn(&["data", "push", "data/events.csv"]).ok();
    let status = p.cairn(&["--json", "data", "status", "--remote", "--check"]);
    status.code(1);
    let doc: Status = decode(&status);
    assert_eq!(doc.entries[0].remote.missing, 0);
    assert_eq!(doc.features.len(), 2);
    assert!(doc.features.iter().all(|f| f.remote.missing == 1));
    let pushed: Pushed = json(&p, &["data", "push"]);
    assert_eq!(pushed.needed, 3, "the events and two feature tables");
    assert_eq!(pushed.uploaded.objects, 2);
    p.cairn(&["data", "status", "--remote", "--check"])
        .ok()
        .stdout_has("feature:stats");
    p.commit("features");

    let clone = p.clone_repo();
    clone.cairn(&["data", "pull"]).ok();
    clone.write("entities.csv", ENTITIES);
    clone
        .cairn(&[
            "feature",
            "historical",
            "--entities",
            "entities.csv",
            "--service",
            "fraud",
            "-o",
            "o.csv",
        ])
        .ok();
    assert_eq!(csv(&clone, "o.csv"), {
        p.cairn(&[
            "feature",
            "historical",
            "--entities",
            "entities.csv",
            "--service",
            "fraud",
            "-o",
            "o.csv",
        ])
        .ok();
        csv(&p, "o.csv")
    });
    let rebuilt: Materialized = json(&clone, &["feature", "materialize"]);
    assert!(rebuilt.views.iter().all(|v| v.skipped));
    assert_eq!(
        clone.lock_text(),
        p.lock_text(),
        "nothing was computed again"
    );
    let doc: Online = json(
        &clone,
        &[
            "feature",
            "online",
            "--entity",
            "customer_id=1",
            "--features",
            "ratio:per_item",
        ],
    );
    assert_eq!(doc.entities[0].features["per_item"], 5.0);
}

/// Rows that tie on (event time, created) go to the one that comes last in the source, in
/// historical joins exactly as in the online store, however many entity rows ask.
#[test]
fn ties_are_broken_the_same_way_offline_and_online() {
    let p = Project::new();
    let mut events = String::from("customer_id,ts,amount\n");
    let mut entities = String::from("customer_id,event_timestamp\n");
    for c in 0..60 {
        for j in 0..3 {
            events.push_str(&format!("{c},2026-01-01T00:00:00,{}\n", c * 10 + j));
        }
        for _ in 0..5 {
            entities.push_str(&format!("{c},2026-01-02T00:00:00\n"));
        }
    }
    p.write("data/events.csv", events);
    p.write("entities.csv", entities);
    let mut config = String::from_utf8(p.read("cairn.toml")).unwrap();
    config.push_str(
        "\n[entity.customer]\njoin_keys = { customer_id = \"int\" }\n\
         [feature_view.v]\nsource = \"data/events.csv\"\nentities = [\"customer\"]\n\
         timestamp = \"ts\"\nfeatures = { amount = \"int\" }\n",
    );
    p.write("cairn.toml", config);
    p.cairn(&["feature", "materialize"]).ok();
    p.cairn(&[
        "feature",
        "historical",
        "--entities",
        "entities.csv",
        "--features",
        "v:amount",
        "-o",
        "o.csv",
    ])
    .ok();
    let out = csv(&p, "o.csv");
    let expected: Vec<String> = (0..60)
        .flat_map(|c| std::iter::repeat_n((c * 10 + 2).to_string(), 5))
        .collect();
    assert_eq!(column(&out, "amount"), expected);
    let doc: Online = json(
        &p,
        &[
            "feature",
            "online",
            "--entity",
            "customer_id=7",
            "--features",
            "v:amount",
        ],
    );
    assert_eq!(doc.entities[0].features["amount"], 72);
}

#[test]
fn incremental_appends_newer_events_and_windows_limit_the_table() {
    let p = project(DEFINITIONS);
    p.cairn(&["feature", "materialize", "stats"]).ok();
    // Newer events: only they are appended; the online row of customer 1 moves forward.
    let mut events = EVENTS.to_owned();
    events.push_str("1,2026-01-04T00:00:00,2026-01-04T00:00:00,40.0,8\n");
    p.write("data/events.csv", &events);
    let doc: Materialized = json(&p, &["feature", "materialize", "stats", "--incremental"]);
    assert_eq!(doc.views[0].rows, 5);
    assert_eq!(doc.views[0].end.as_deref(), Some("2026-01-04T00:00:00Z"));
    p.write(
        "e.csv",
        "customer_id,event_timestamp\n1,2026-01-04T12:00:00\n1,2026-01-02T00:00:00\n",
    );
    p.cairn(&[
        "feature",
        "historical",
        "--entities",
        "e.csv",
        "--features",
        "stats:amount",
        "-o",
        "o.csv",
    ])
    .ok();
    assert_eq!(column(&csv(&p, "o.csv"), "amount"), ["40.0", "25.0"]);
    // The same table as a full materialize computes.
    let incremental = p.lock_text();
    let config = String::from_utf8(p.read("cairn.toml")).unwrap();
    p.write("cairn.toml", config.replace("ttl = \"2d\"", "ttl = \"4d\""));
    p.cairn(&["feature", "materialize", "stats", "--incremental"])
        .code(2)
        .stderr_has("definition changed")
        .stderr_has("without --incremental");
    p.write("cairn.toml", config);
    p.cairn(&["feature", "materialize", "stats"]).ok();
    let digest = |lock: &str| {
        lock.lines()
            .skip_while(|l| *l != "[feature.stats]")
            .find(|l| l.starts_with("digest"))
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        digest(&p.lock_text()),
        digest(&incremental),
        "appending gives the full table"
    );

    // A window keeps only the events in [start, end).
    let doc: Materialized = json(
        &p,
        &[
            "feature",
            "materialize",
            "stats",
            "--start",
            "2026-01-02",
            "--end",
            "2026-01-04",
        ],
    );
    assert_eq!(doc.views[0].rows, 2);
    let lock = p.lock_text();
    assert!(
        lock.contains("window_start = \"2026-01-02T00:00:00Z\""),
        "{lock}"
    );
    p.cairn(&["feature", "materialize", "stats", "--start", "yesterday"])
        .code(2)
        .stderr_has("not a time");
    p.cairn(&["feature", "materialize", "stats", "--start", "2026-11-31"])
        .code(2)
        .stderr_has("not a time");
    p.cairn(&[
        "feature",
        "materialize",
        "stats",
        "--start",
        "2026-01-04",
        "--end",
        "2026-01-02",
    ])
    .code(2)
    .stderr_has("--start must be before --end");
    // A windowed table is not extended: the rows outside the window are missing from it.
    p.cairn(&["feature", "materialize", "stats", "--incremental"])
        .code(2)
        .stderr_has("limited to a window");
    let plan: Plan = json(&p, &["feature", "plan"]);
    assert_eq!(
        plan.views[1].action, "compute",
        "a windowed table is not what a plain materialize makes"
    );
}

/// A late event (older than the newest one already materialized) is not appended by
/// --incremental; the next plain materialize computes the view again and includes it.
#[test]
fn a_plain_materialize_after_incremental_picks_up_late_events() {
    let p = project(DEFINITIONS);
    p.cairn(&["feature", "materialize", "stats"]).ok();
    let mut events = EVENTS.to_owned();
    events.push_str(
        "1,2026-01-04T00:00:00,2026-01-04T00:00:00,40.0,8
",
    );
    p.write("data/events.csv", &events);
    let appended: Materialized = json(&p, &["feature", "materialize", "stats", "--incremental"]);
    assert_eq!(appended.views[0].rows, 5);
    events.push_str(
        "2,2026-01-01T18:00:00,2026-01-05T00:00:00,9.0,1
",
    );
    p.write("data/events.csv", &events);
    let late: Materialized = json(&p, &["feature", "materialize", "stats", "--incremental"]);
    assert_eq!(
        late.views[0].rows, 5,
        "older than the table's newest event: not appended"
    );
    assert!(p.lock_text().contains("incremental = true"));
    let full: Materialized = json(&p, &["feature", "materialize", "stats"]);
    assert!(!full.views[0].skipped);
    assert_eq!(full.views[0].rows, 6);
    assert!(!p.lock_text().contains("incremental = true"));
    let again: Materialized = json(&p, &["feature", "materialize", "stats"]);
    assert!(again.views[0].skipped);
}

#[test]
fn stale_views_reserved_names_rows_without_time_and_bad_outputs() {
    let p = project(DEFINITIONS);
    p.cairn(&["feature", "materialize"]).ok();
    let config = String::from_utf8(p.read("cairn.toml")).unwrap();
    p.write("cairn.toml", config.replace("ttl = \"2d\"", "ttl = \"3d\""));
    p.cairn(&[
        "feature",
        "historical",
        "--entities",
        "entities.csv",
        "--features",
        "stats:amount",
        "-o",
        "o.csv",
    ])
    .code(2)
    .stderr_has("changed in cairn.toml since it was last materialized")
    .stderr_has("cairn feature materialize stats");
    p.cairn(&[
        "feature",
        "online",
        "--entity",
        "customer_id=1",
        "--features",
        "stats:amount",
    ])
    .code(2)
    .stderr_has("changed in cairn.toml");
    p.write("cairn.toml", &config);
    // A feature may not take the name of the time column.
    let q = project(&DEFINITIONS.replace("per_item = \"float\"", "event_timestamp = \"float\""));
    q.cairn(&["feature", "list"])
        .code(2)
        .stderr_has("the name cairn gives");
    // Rows without an event time or a key are left out.
    let mut events = EVENTS.to_owned();
    events
        .push_str("3,,2026-01-01T00:00:00,1.0,1\n,2026-01-01T00:00:00,2026-01-01T00:00:00,1.0,1\n");
    p.write("data/events.csv", events);
    let doc: Materialized = json(&p, &["feature", "materialize", "stats"]);
    assert_eq!((doc.views[0].rows, doc.views[0].entities), (4, 2));
    // An output in a directory that does not exist is a usage error.
    p.cairn(&[
        "feature",
        "historical",
        "--entities",
        "entities.csv",
        "--features",
        "stats:amount",
        "-o",
        "no/such/dir/o.csv",
    ])
    .code(2)
    .stderr_has("no/such/dir");
    // A failed validation prints one JSON document: the report.
    let mut config = String::from_utf8(p.read("cairn.toml")).unwrap();
    config.push_str("\n[dataset.\"data/events.csv\".columns.amount]\nnot_null = true\n");
    p.write("cairn.toml", config);
    p.write("data/events.csv", EVENTS.replace("20.0", "21.0"));
    let run = p.cairn(&["--json", "feature", "materialize", "stats"]);
    run.code(1).stderr_has("failed validation");
    assert_eq!(run.stdout.trim().lines().count(), 1, "{}", run.stdout);
    let report: Validated = decode(&run);
    assert!(!report.passed);
    assert_eq!(report.datasets.len(), 1);
}

/// The two ways of joining (one sort and a fill for the default, a join and a filter with
/// --created-before) give the same answer when `created` equals the event time, on random
/// data with many ties, keys without rows, times before any row and a ttl; and both match a
/// brute-force computation of the rules.
#[test]
fn both_join_strategies_agree_with_the_rules_on_random_data() {
    let mut rng = cairn_e2e::Rng(99);
    let day = |d: u64, h: u64| format!("2026-01-{:02}T{:02}:00:00", 1 + d, h);
    let mut events = String::from("k,ts,created,v\n");
    let mut rows: Vec<(u64, u64, i64)> = Vec::new(); // (key, hour index, value), in source order
    for i in 0..400 {
        let k = rng.next() % 25;
        let t = rng.next() % 72; // three days of hours; many ties
        let v = i as i64;
        let at = day(t / 24, t % 24);
        events.push_str(&format!("{k},{at},{at},{v}\n"));
        rows.push((k, t, v));
    }
    let mut entities = String::from("k,event_timestamp\n");
    let mut asks: Vec<(u64, u64)> = Vec::new();
    for _ in 0..300 {
        let k = rng.next() % 30; // keys 25..29 have no rows
        let t = rng.next() % 80;
        entities.push_str(&format!("{k},{}\n", day(t / 24, t % 24)));
        asks.push((k, t));
    }
    let p = Project::new();
    p.write("data/e.csv", events);
    p.write("ask.csv", entities);
    let mut config = String::from_utf8(p.read("cairn.toml")).unwrap();
    config.push_str(
        "\n[entity.e]\njoin_keys = { k = \"int\" }\n[feature_view.v]\nsource = \"data/e.csv\"\n\
         entities = [\"e\"]\ntimestamp = \"ts\"\ncreated = \"created\"\nttl = \"10h\"\n\
         features = { v = \"int\" }\n",
    );
    p.write("cairn.toml", config);
    p.cairn(&["feature", "materialize"]).ok();
    p.cairn(&[
        "feature",
        "historical",
        "--entities",
        "ask.csv",
        "--features",
        "v:v",
        "-o",
        "a.csv",
    ])
    .ok();
    p.cairn(&[
        "feature",
        "historical",
        "--entities",
        "ask.csv",
        "--features",
        "v:v",
        "--created-before",
        "-o",
        "b.csv",
    ])
    .ok();
    let a = column(&csv(&p, "a.csv"), "v");
    let b = column(&csv(&p, "b.csv"), "v");
    assert_eq!(a, b);
    // The rules, by brute force: rows of the key with t - 10h <= ts <= t; the latest ts wins,
    // then (created being equal) the one last in the source.
    let expected: Vec<String> = asks
        .iter()
        .map(|&(k, t)| {
            rows.iter()
                .filter(|(rk, rt, _)| *rk == k && *rt <= t && *rt + 10 >= t)
                .fold(None::<(u64, i64)>, |best, &(_, rt, v)| match best {
                    Some((bt, _)) if bt > rt => best,
                    _ => Some((rt, v)),
                })
                .map_or(String::new(), |(_, v)| v.to_string())
        })
        .collect();
    assert_eq!(a, expected);
}

/// A Parquet source written by pandas/pyarrow with zoned nanosecond timestamps (one before
/// 1970): event times are the same instants, in microseconds.
#[test]
fn nanosecond_zoned_timestamps_from_other_writers() {
    let p = Project::new();
    std::fs::create_dir_all(p.path("data")).unwrap();
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../crates/cairn-core/tests/fixtures/events_ns.parquet"),
        p.path("data/events.parquet"),
    )
    .unwrap();
    let mut config = String::from_utf8(p.read("cairn.toml")).unwrap();
    config.push_str(
        "\n[entity.c]\njoin_keys = { customer_id = \"int\" }\n[feature_view.v]\n\
         source = \"data/events.parquet\"\nentities = [\"c\"]\ntimestamp = \"ts\"\n\
         features = { amount = \"float\" }\n",
    );
    p.write("cairn.toml", config);
    let doc: Materialized = json(&p, &["feature", "materialize"]);
    assert_eq!(doc.views[0].end.as_deref(), Some("2026-01-02T00:00:00Z"));
    let doc: Online = json(
        &p,
        &[
            "feature",
            "online",
            "--entity",
            "customer_id=2",
            "--entity",
            "customer_id=1",
            "--features",
            "v:amount",
        ],
    );
    assert_eq!(
        doc.entities[0].event_times["v"],
        "1969-12-31T23:59:59.999999Z"
    );
    assert_eq!(doc.entities[1].features["amount"], 3.5);
    p.write(
        "e.csv",
        "customer_id,event_timestamp\n1,2026-01-01T12:00:00.123456\n1,2026-01-01T12:00:00.123455\n",
    );
    p.cairn(&[
        "feature",
        "historical",
        "--entities",
        "e.csv",
        "--features",
        "v:amount",
        "-o",
        "o.csv",
    ])
    .ok();
    assert_eq!(
        column(&csv(&p, "o.csv"), "amount"),
        ["1.5", ""],
        "inclusive to the microsecond"
    );
}

/// A view removed from cairn.toml is forgotten by the next `materialize` over every view: its
/// lock entry and online rows go, and gc can then drop its table.
#[test]
fn a_removed_view_is_forgotten() {
    let p = project(DEFINITIONS);
    let first: Materialized = json(&p, &["feature", "materialize"]);
    let ratio_table = first.views[0].digest.clone();
    assert_eq!(first.views[0].view, "ratio");
    let without = DEFINITIONS
        .replace(", \"ratio:per_item\"]", "]")
        .replace(
            "[feature_view.ratio]\nsource = \"data/events.csv\"\nentities = [\"customer\"]\ntimestamp = \"ts\"\nsql = \"SELECT customer_id, ts, amount / n AS per_item FROM source\"\nfeatures = { per_item = \"float\" }\n",
            "",
        );
    assert!(!without.contains("feature_view.ratio"), "{without}");
    let mut config = String::from_utf8(p.read("cairn.toml")).unwrap();
    config = config.replace(DEFINITIONS, &without);
    p.write("cairn.toml", config);
    // Naming views forgets nothing.
    let named: Materialized = json(&p, &["feature", "materialize", "stats"]);
    assert_eq!(named.removed, None);
    assert!(p.lock_text().contains("[feature.ratio]"));
    let doc: Materialized = json(&p, &["feature", "materialize"]);
    assert_eq!(doc.removed, Some(vec!["ratio".to_owned()]));
    assert!(!p.lock_text().contains("[feature.ratio]"));
    let tables = std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(sorted(r[0] for r in c.execute(\"select name from sqlite_master where type='table'\")))",
        ])
        .arg(p.path(".cairn/online.db"))
        .output()
        .unwrap();
    let tables = String::from_utf8_lossy(&tables.stdout).to_string();
    assert!(
        tables.contains("fv:stats") && !tables.contains("fv:ratio"),
        "{tables}"
    );
    assert!(p.object_path(&ratio_table).exists());
    p.cairn(&["data", "gc"]).ok();
    assert!(
        !p.object_path(&ratio_table).exists(),
        "gc drops the unpinned table"
    );
}

/// A source with a header and no rows (or a column without a value) has no types to check:
/// its columns take the declared ones, and the view is empty, with or without SQL.
#[test]
fn an_empty_source_gives_an_empty_view() {
    let p = project(DEFINITIONS);
    p.write("data/events.csv", "customer_id,ts,created,amount,n\n");
    let doc: Materialized = json(&p, &["feature", "materialize", "stats"]);
    assert_eq!((doc.views[0].rows, doc.views[0].entities), (0, 0));
    assert_eq!(doc.views[0].end, None);
    p.cairn(&[
        "feature",
        "historical",
        "--entities",
        "entities.csv",
        "--features",
        "stats:amount",
        "-o",
        "o.csv",
    ])
    .ok();
    assert_eq!(
        column(&csv(&p, "o.csv"), "amount"),
        ["", "", "", "", "", ""]
    );
    // The view with SQL (`amount / n` over text columns) is empty too.
    let doc: Materialized = json(&p, &["feature", "materialize", "ratio"]);
    assert_eq!(doc.views[0].rows, 0);
    // A column with no value at all in a non-empty source is typed as declared too.
    p.write(
        "data/events.csv",
        "customer_id,ts,created,amount,n\n1,2026-01-01T00:00:00,2026-01-01T00:00:00,,\n",
    );
    let doc: Materialized = json(&p, &["feature", "materialize", "stats"]);
    assert_eq!(doc.views[0].rows, 1);
}

/// A directory source whose files disagree on a column's type, with a value below the first
/// 10,000 rows of one file that does not fit the type guessed from those rows: materialize
/// (which scans the source and streams the view into the store) gives every row, the latest
/// value per entity, and the same table bytes on one thread as on two.
#[test]
fn a_streamed_source_gives_the_same_table_on_any_number_of_threads() {
    let definitions = r#"
[entity.customer]
join_keys = { customer_id = "int" }

[feature_view.spend]
source = "data/events"
entities = ["customer"]
timestamp = "ts"
features = { amount = "float", n = "int" }
"#;
    // Part a: whole-number amounts for 10,500 rows, then one with a fraction (the guess from
    // the first 10,000 rows is an integer column). Part b: fractional amounts. Part c: the
    // amount column is empty (guessed as text).
    let mut a = String::from("customer_id,ts,amount,n\n");
    let mut expected_last = std::collections::BTreeMap::new();
    let mut rows = 0;
    for i in 0..10_501u64 {
        let customer = i % 97;
        let amount = if i == 10_500 {
            "2.5".to_owned()
        } else {
            (i % 13).to_string()
        };
        let ts = format!("2026-01-01T00:00:00.{:06}", i);
        a.push_str(&format!("{customer},{ts},{amount},{}\n", i % 5));
        expected_last.insert(customer, amount.parse::<f64>().unwrap());
        rows += 1;
    }
    let mut b = String::from("customer_id,ts,amount,n\n");
    for i in 0..3_000u64 {
        let customer = 100 + i % 50;
        b.push_str(&format!(
            "{customer},2026-01-02T00:00:{:02}.{:06},{}.25,{}\n",
            i / 1_000,
            i,
            i % 7,
            i % 3
        ));
        expected_last.insert(customer, (i % 7) as f64 + 0.25);
        rows += 1;
    }
    let c = "customer_id,ts,amount,n\n500,2026-01-03T00:00:00,,1\n";
    rows += 1;
    let digests: Vec<String> = ["1", "2"]
        .iter()
        .map(|threads| {
            let p = project(definitions);
            p.write("data/events/a.csv", &a);
            p.write("data/events/b.csv", &b);
            p.write("data/events/c.csv", c);
            let env = [("POLARS_MAX_THREADS".to_owned(), (*threads).to_owned())];
            let run = p.cairn_env(&["--json", "feature", "materialize"], &env);
            run.ok();
            let doc: Materialized = decode(&run);
            let view = &doc.views[0];
            assert_eq!(view.rows, rows, "{doc:?}");
            assert_eq!(view.entities, 97 + 50 + 1, "{doc:?}");
            let online: Online = json(
                &p,
                &[
                    "feature",
                    "online",
                    "--entity",
                    "customer_id=24",
                    "--entity",
                    "customer_id=42",
                    "--entity",
                    "customer_id=120",
                    "--entity",
                    "customer_id=500",
                    "--features",
                    "spend:amount",
                ],
            );
            let amounts: Vec<Value> = online
                .entities
                .iter()
                .map(|e| e.features["amount"].clone())
                .collect();
            assert_eq!(
                amounts,
                [
                    // The value that did not fit the guess from the first rows.
                    serde_json::json!(2.5),
                    serde_json::json!(expected_last[&42]),
                    serde_json::json!(expected_last[&120]),
                    Value::Null
                ],
                "{online:?}"
            );
            view.digest.clone()
        })
        .collect();
    assert_eq!(
        digests[0], digests[1],
        "the table depends on the thread count"
    );
}

/// A malformed source is an error naming the file, whether or not the view reads the broken
/// column; nothing is pinned.
#[test]
fn a_malformed_source_names_the_file_and_pins_nothing() {
    let p = project(DEFINITIONS);
    p.write(
        "data/events.csv",
        "customer_id,ts,created,amount,n\n1,2026-01-01T00:00:00,2026-01-01T00:00:00,1.0,1,7,8\n",
    );
    p.cairn(&["feature", "materialize", "stats"])
        .code(2)
        .stderr_has("data/events.csv");
    assert!(!p.lock_text().contains("[feature"), "{}", p.lock_text());
}

/// Two views may share a feature name: a service may list both; `historical` and `online`
/// name them apart with `--full-names` and refuse them without it, as `train` does (it names
/// the model's inputs by feature).
#[test]
fn one_feature_name_from_two_views_is_asked_for_with_full_names() {
    let p = project(&format!(
        "{DEFINITIONS}
[feature_view.doubled]
source = \"data/events.csv\"
entities = [\"customer\"]
timestamp = \"ts\"
sql = \"SELECT customer_id, ts, amount * 2 AS amount FROM source\"
features = {{ amount = \"float\" }}

[feature_service.both]
features = [\"stats:amount\", \"doubled:amount\"]

[model.both]
entities = \"entities.csv\"
service = \"both\"
target = \"label\"
algorithm = \"gaussian_nb\"
"
    ));
    p.cairn(&["feature", "materialize"]).ok();
    let historical = |extra: &[&str]| {
        let mut args = vec![
            "--json",
            "feature",
            "historical",
            "--entities",
            "entities.csv",
            "--service",
            "both",
            "-o",
            "o.csv",
        ];
        args.extend_from_slice(extra);
        p.cairn(&args)
    };
    historical(&[])
        .code(2)
        .stderr_has("error: feature `amount` comes from both `stats` and `doubled`")
        .stderr_has("hint: pass --full-names");
    let run = historical(&["--full-names"]);
    run.ok();
    let doc: Historical = decode(&run);
    assert_eq!(
        doc.columns,
        [
            "customer_id",
            "event_timestamp",
            "label",
            "stats__amount",
            "doubled__amount"
        ]
    );
    let out = csv(&p, "o.csv");
    assert_eq!(
        column(&out, "stats__amount"),
        ["10.0", "25.0", "", "", "", "25.0"]
    );
    assert_eq!(
        column(&out, "doubled__amount"),
        ["20.0", "50.0", "50.0", "", "", "50.0"]
    );
    let online = |extra: &[&str]| {
        let mut args = vec![
            "--json",
            "feature",
            "online",
            "--entity",
            "customer_id=1",
            "--service",
            "both",
            "--at",
            "2026-01-03",
        ];
        args.extend_from_slice(extra);
        p.cairn(&args)
    };
    online(&[]).code(2).stderr_has("comes from both");
    let run = online(&["--full-names"]);
    run.ok();
    let doc: Online = decode(&run);
    assert_eq!(doc.entities[0].features["stats__amount"], 25.0);
    assert_eq!(doc.entities[0].features["doubled__amount"], 50.0);
    p.cairn(&["train", "both"])
        .code(2)
        .stderr_has("comes from both");
    // A feature named like a column of the entity table needs full names too.
    p.write(
        "e.csv",
        "customer_id,event_timestamp,amount\n1,2026-01-02T00:00:00,7\n",
    );
    p.cairn(&[
        "feature",
        "historical",
        "--entities",
        "e.csv",
        "--features",
        "stats:amount",
        "-o",
        "e.out.csv",
    ])
    .code(2)
    .stderr_has("the entity table already has a column `amount`")
    .stderr_has("hint: rename the entity table's column, or pass --full-names");
}

/// `online --at TIME` serves a past moment: the ttl counts from it, and a row newer than it
/// is missing (the store keeps only the latest row).
#[test]
fn online_reads_as_of_a_past_moment() {
    let p = project(DEFINITIONS);
    p.cairn(&["feature", "materialize"]).ok();
    let at = |time: &str| -> Online {
        json(
            &p,
            &[
                "feature",
                "online",
                "--entity",
                "customer_id=1",
                "--entity",
                "customer_id=2",
                "--features",
                "stats:n",
                "--at",
                time,
            ],
        )
    };
    let doc = at("2026-01-01T12:00:00");
    assert_eq!(doc.at.as_deref(), Some("2026-01-01T12:00:00Z"));
    assert_eq!(doc.entities[0].missing, ["stats"]);
    assert!(doc.entities[0].event_times.is_empty());
    assert_eq!(doc.entities[1].features["n"], 4);
    let doc = at("2026-01-03T12:00:00Z");
    assert_eq!(doc.entities[0].features["n"], 5);
    assert_eq!(doc.entities[1].features["n"], 4, "exactly the ttl: served");
    let doc = at("2026-01-03 12:00:01");
    assert_eq!(doc.entities[1].expired, ["stats"]);
    assert_eq!(doc.entities[1].features["n"], Value::Null);
    // The human output is the same JSON array.
    let run = p.cairn(&[
        "feature",
        "online",
        "--entity",
        "customer_id=1",
        "--features",
        "stats:n",
        "--at",
        "2026-01-03",
    ]);
    run.ok();
    let entities: Vec<OnlineEntity> = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(entities[0].features["n"], 5);
    p.cairn(&[
        "feature",
        "online",
        "--entity",
        "customer_id=1",
        "--features",
        "stats:n",
        "--at",
        "2026-01-03T12:00:00+01:00",
    ])
    .code(2)
    .stderr_has("error: --at 2026-01-03T12:00:00+01:00: not a time")
    .stderr_has("hint: write YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS (UTC)");
}

/// An entity table whose time column has a zone: rows are compared on the instant, and the
/// column is passed through (the library's tests check that its type keeps the zone).
#[test]
fn a_zoned_entity_table_is_joined_on_the_instant() {
    let p = project(DEFINITIONS);
    p.cairn(&["feature", "materialize", "stats"]).ok();
    // 00:00 UTC on 01-02 (the tie, inclusive) and 23:59 UTC on 01-01.
    p.write(
        "zoned.csv",
        "customer_id,event_timestamp\n1,2026-01-02T01:00:00+01:00\n1,2026-01-01T22:59:00-01:00\n",
    );
    for out in ["zoned.out.csv", "zoned.out.parquet"] {
        let doc: Historical = json(
            &p,
            &[
                "feature",
                "historical",
                "--entities",
                "zoned.csv",
                "--features",
                "stats:amount",
                "-o",
                out,
            ],
        );
        assert_eq!(doc.rows, 2);
        assert_eq!(doc.columns, ["customer_id", "event_timestamp", "amount"]);
    }
    let out = csv(&p, "zoned.out.csv");
    assert_eq!(column(&out, "amount"), ["25.0", "10.0"]);
    assert_eq!(
        column(&out, "event_timestamp"),
        ["2026-01-02T00:00:00.000000", "2026-01-01T23:59:00.000000"],
        "CSV shows the instants in UTC"
    );
    // The Parquet output is an entity table like any other: joined again, the same answer.
    p.cairn(&[
        "feature",
        "historical",
        "--entities",
        "zoned.out.parquet",
        "--features",
        "stats:n",
        "-o",
        "again.csv",
    ])
    .ok();
    assert_eq!(column(&csv(&p, "again.csv"), "n"), ["5", "1"]);
}
