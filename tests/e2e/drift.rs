//! `cairn drift`: two tables compared, or a model version's training data (fetched from the
//! store by digest) with current data; the JSON document decoded into the documented shape
//! (docs/formats/drift.md), the record stored and pointed at, the HTML report, exit codes
//! 0 / 1 / 2, and each bad input of the issue.

use cairn_e2e::{Project, Rng};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// The `drift` document: the record, its digest and the report's path.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DriftDoc {
    kind: String,
    schema_version: u32,
    digest: Option<String>,
    report: Option<String>,
    #[serde(flatten)]
    record: RecordDoc,
}

/// The stored record (docs/formats/drift.md).
#[derive(Debug, Deserialize)]
struct RecordDoc {
    format: u32,
    started: String,
    duration_s: f64,
    #[serde(default)]
    model: Option<ModelDoc>,
    #[serde(default)]
    config: Option<String>,
    reference: TableDoc,
    current: TableDoc,
    drift_share: f64,
    compared: u64,
    drifted: u64,
    share: f64,
    dataset_drift: bool,
    columns: Vec<ColumnDoc>,
    #[serde(default)]
    skipped: Vec<SkippedDoc>,
    #[serde(default)]
    new_columns: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelDoc {
    name: String,
    version: u32,
    run: String,
    artifact: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TableDoc {
    source: String,
    /// `training` and `file` tables only.
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    digest: Option<String>,
    #[serde(default)]
    run: Option<String>,
    rows: u64,
    /// `predictions` only.
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    version: Option<u32>,
    #[serde(default)]
    since: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SkippedDoc {
    column: String,
    dtype: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ColumnDoc {
    column: String,
    #[serde(rename = "type")]
    kind: String,
    status: String,
    method: Option<String>,
    chosen: Option<String>,
    score: Option<f64>,
    threshold: Option<f64>,
    drifted: bool,
    #[serde(default)]
    statistic: Option<f64>,
    #[serde(default)]
    scale: Option<f64>,
    #[serde(default)]
    exact: Option<bool>,
    #[serde(default)]
    bins: Option<String>,
    reference: CountsDoc,
    current: CountsDoc,
    #[serde(default)]
    unseen: Option<UnseenDoc>,
    #[serde(default)]
    histogram: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct CountsDoc {
    rows: u64,
    values: u64,
    nulls: u64,
    nan: u64,
    pos_inf: u64,
    neg_inf: u64,
    distinct: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UnseenDoc {
    categories: u64,
    rows: u64,
    examples: Vec<String>,
}

fn decode<T: DeserializeOwned>(doc: serde_json::Value) -> T {
    serde_json::from_value(doc.clone())
        .unwrap_or_else(|e| panic!("not the documented JSON ({e}):\n{doc:#}"))
}

fn drift(p: &Project, args: &[&str], code: i32) -> DriftDoc {
    let mut all = vec!["drift"];
    all.extend(args);
    let doc: DriftDoc = decode(p.json(&all, code));
    assert_eq!((doc.kind.as_str(), doc.schema_version), ("drift", 1));
    assert_eq!(doc.record.format, 1);
    assert!(doc.record.started.ends_with('Z') && doc.record.duration_s >= 0.0);
    doc
}

fn column<'d>(doc: &'d DriftDoc, name: &str) -> &'d ColumnDoc {
    doc.record
        .columns
        .iter()
        .find(|c| c.column == name)
        .unwrap_or_else(|| panic!("no column {name} in {doc:#?}"))
}

/// A seeded table: `x1` uniform on [shift, 1 + shift), `x2` uniform, a plan, a region, an
/// id and a label.
fn table(rows: usize, seed: u64, shift: f64) -> String {
    let mut rng = Rng(seed);
    let unit = |rng: &mut Rng| (rng.next() % 10_000) as f64 / 10_000.0;
    let mut out = String::from("id,x1,x2,plan,region,label\n");
    for i in 0..rows {
        let (x1, x2, noise) = (unit(&mut rng) + shift, unit(&mut rng), unit(&mut rng));
        let plan = ["free", "pro", "team"][(rng.next() % 3) as usize];
        let region = ["north", "south", "east"][(rng.next() % 3) as usize];
        let label = if x1 + x2 + 0.3 * noise > 1.15 {
            "yes"
        } else {
            "no"
        };
        out.push_str(&format!("{i},{x1},{x2},{plan},{region},{label}\n"));
    }
    out
}

const SPEC: &str = r#"
[model.churn]
data = "data/train.csv"
target = "label"
exclude = ["id", "region"]
algorithm = "random_forest_classifier"
params = { n_trees = 5, max_depth = 4 }
seed = 3

[model.churn.columns.plan]
encode = "one_hot"
"#;

/// A project with `data/train.csv` tracked and the churn spec, trained and registered.
fn trained() -> Project {
    let p = Project::new();
    p.write("data/train.csv", table(600, 1, 0.0));
    let toml = String::from_utf8(p.read("cairn.toml")).unwrap();
    p.write("cairn.toml", toml + SPEC);
    p.cairn(&["data", "add", "data/train.csv"]).ok();
    p.commit("data and spec");
    let run = p.json(&["train", "churn"], 0);
    let id = run["id"].as_str().expect("a run id").to_owned();
    p.cairn(&["register", &id]).ok();
    p
}

fn ref_text(p: &Project, rel: &str) -> String {
    String::from_utf8(p.read(rel)).unwrap().trim().to_owned()
}

#[test]
fn two_tables_exit_0_without_drift_and_1_with_it_and_the_check_is_recorded() {
    let p = Project::new();
    p.write("ref.csv", table(800, 1, 0.0));
    p.write("same.csv", table(800, 4, 0.0));
    p.write("moved.csv", table(700, 3, 0.5));

    let doc = drift(&p, &["--reference", "ref.csv", "--current", "same.csv"], 0);
    let r = &doc.record;
    assert!(!r.dataset_drift && r.drifted == 0, "{r:#?}");
    assert_eq!((r.reference.rows, r.current.rows), (800, 800));
    assert_eq!(
        (
            r.reference.source.as_str(),
            r.reference.path.as_deref().unwrap_or("")
        ),
        ("file", "ref.csv")
    );
    assert_eq!(r.reference.digest.as_deref().map(str::len), Some(64));
    let names: Vec<&str> = r.columns.iter().map(|c| c.column.as_str()).collect();
    assert_eq!(names, ["id", "x1", "x2", "plan", "region", "label"]);
    assert_eq!(r.compared, 6);
    assert_eq!(r.drift_share, 0.5);
    // At most 1,000 reference rows: KS for numbers, chi-square for 3 categories, Z for 2.
    let x1 = column(&doc, "x1");
    assert_eq!(
        (x1.kind.as_str(), x1.method.as_deref(), x1.chosen.as_deref()),
        ("numeric", Some("ks"), Some("auto"))
    );
    assert_eq!((x1.threshold, x1.exact), (Some(0.05), Some(true)));
    assert!(x1.statistic.is_some_and(|d| d > 0.0 && d < 1.0));
    assert_eq!(column(&doc, "plan").method.as_deref(), Some("chisquare"));
    assert_eq!(column(&doc, "label").method.as_deref(), Some("z"));
    assert_eq!(column(&doc, "id").score, Some(1.0));

    // The check is stored under its digest and `.cairn/drift/last` names it.
    let digest = doc.digest.clone().expect("recorded in a project");
    assert_eq!(ref_text(&p, ".cairn/drift/last"), digest);
    let stored: RecordDoc =
        serde_json::from_slice(&std::fs::read(p.object_path(&digest)).unwrap()).unwrap();
    assert_eq!(stored.columns.len(), 6);
    assert_eq!(stored.started, doc.record.started);
    // `data gc` keeps the record the ref names.
    p.cairn(&["data", "gc"]).ok();
    assert!(
        p.object_path(&digest).exists(),
        "gc removed the drift record"
    );

    // x1 moved by half its range; with the id and label that follow it, half the columns
    // drift: the dataset drifts.
    let doc = drift(
        &p,
        &[
            "--reference",
            "ref.csv",
            "--current",
            "moved.csv",
            "--report",
            "out/drift.html",
        ],
        1,
    );
    let x1 = column(&doc, "x1");
    assert!(x1.drifted && x1.score.is_some_and(|s| s < 1e-10), "{x1:#?}");
    assert!(!column(&doc, "plan").drifted);
    assert!(doc.record.dataset_drift && doc.record.share >= 0.5);
    assert_ne!(doc.digest, Some(digest));
    assert!(
        doc.report
            .as_deref()
            .is_some_and(|r| r.ends_with("drift.html"))
    );

    // The report: one self-contained file, charts inline, nothing fetched.
    let html = String::from_utf8(p.read("out/drift.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<svg") && html.contains("dataset drift"));
    for column in ["x1", "x2", "plan", "region"] {
        assert!(html.contains(&format!("id=\"col-{column}\"")), "{column}");
    }
    assert!(!html.contains("http"), "a URL in the report");
    assert!(!html.contains("<script") && !html.contains("<link"));

    // The human rendering: the table and the summary.
    p.cairn(&["drift", "--reference", "ref.csv", "--current", "moved.csv"])
        .code(1)
        .stdout_has("dataset drift: 3 of 6 columns drifted")
        .stdout_has("threshold");
}

#[test]
fn outside_a_project_the_check_runs_and_is_not_recorded() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.csv"), table(300, 1, 0.0)).unwrap();
    std::fs::write(dir.path().join("b.csv"), table(300, 2, 0.0)).unwrap();
    let out = std::process::Command::new(cairn_e2e::cairn_bin())
        .args([
            "--json",
            "drift",
            "--reference",
            "a.csv",
            "--current",
            "b.csv",
        ])
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let doc: DriftDoc = decode(serde_json::from_slice(&out.stdout).unwrap());
    assert_eq!(doc.digest, None);
    assert_eq!(doc.record.compared, 6);
}

#[test]
fn a_large_reference_uses_wasserstein_and_jensen_shannon_and_config_overrides_each_column() {
    let p = Project::new();
    p.write("ref.csv", table(3_000, 1, 0.0));
    p.write("cur.csv", table(2_000, 2, 0.05));
    let doc = drift(&p, &["--reference", "ref.csv", "--current", "cur.csv"], 0);
    let x1 = column(&doc, "x1");
    assert_eq!(x1.method.as_deref(), Some("wasserstein"));
    assert_eq!(x1.threshold, Some(0.1));
    // Uniform on [0, 1): the reference std is about 0.289, the shift 0.05 → about 0.17.
    let (w, scale, score) = (x1.statistic.unwrap(), x1.scale.unwrap(), x1.score.unwrap());
    assert!((scale - 0.2887).abs() < 0.01, "{scale}");
    assert!((score - w / scale).abs() < 1e-12);
    assert!(x1.drifted, "{x1:#?}");
    assert_eq!(
        column(&doc, "plan").method.as_deref(),
        Some("jensenshannon")
    );
    assert_eq!(
        column(&doc, "label").method.as_deref(),
        Some("jensenshannon")
    );

    let toml = String::from_utf8(p.read("cairn.toml")).unwrap();
    p.write(
        "cairn.toml",
        toml + r#"
[drift.check]
drift_share = 0.2
ignore = ["id"]

[drift.check.columns.x1]
method = "psi"
threshold = 0.5

[drift.check.columns.plan]
method = "chi2_contingency"
threshold = 0.01
"#,
    );
    let doc = drift(
        &p,
        &[
            "--reference",
            "ref.csv",
            "--current",
            "cur.csv",
            "--config",
            "check",
        ],
        0,
    );
    assert_eq!(doc.record.config.as_deref(), Some("check"));
    assert_eq!(doc.record.drift_share, 0.2);
    assert!(doc.record.columns.iter().all(|c| c.column != "id"));
    let x1 = column(&doc, "x1");
    assert_eq!(
        (x1.method.as_deref(), x1.chosen.as_deref(), x1.threshold),
        (Some("psi"), Some("config"), Some(0.5))
    );
    assert_eq!(x1.bins.as_deref(), Some("deciles"));
    assert!(!x1.drifted);
    let plan = column(&doc, "plan");
    assert_eq!(
        (plan.method.as_deref(), plan.threshold),
        (Some("chi2_contingency"), Some(0.01))
    );

    // A numeric method on a categorical column is refused, naming the key.
    let toml = String::from_utf8(p.read("cairn.toml")).unwrap();
    p.write(
        "cairn.toml",
        toml + "\n[drift.bad.columns.plan]\nmethod = \"ks\"\n",
    );
    p.cairn(&[
        "drift",
        "--reference",
        "ref.csv",
        "--current",
        "cur.csv",
        "--config",
        "bad",
    ])
    .code(2)
    .stderr_has("`drift.bad.columns.plan.method`: ks compares numbers");
    p.cairn(&[
        "drift",
        "--reference",
        "ref.csv",
        "--current",
        "cur.csv",
        "--config",
        "nope",
    ])
    .code(2)
    .stderr_has("cairn.toml declares no `[drift.nope]`");
}

#[test]
fn a_model_version_is_compared_with_the_training_data_it_pins() {
    let p = trained();
    p.write("cur.csv", table(400, 7, 0.6));
    // The workspace copy changes after training: the reference still comes from the store
    // by the digest the run recorded.
    p.write("data/train.csv", table(50, 9, 5.0));
    let doc = drift(&p, &["churn@latest", "--current", "cur.csv"], 0);
    let r = &doc.record;
    let model = r.model.as_ref().expect("the model");
    assert_eq!((model.name.as_str(), model.version), ("churn", 1));
    assert_eq!((model.run.len(), model.artifact.len()), (12, 64));
    assert_eq!(
        (
            r.reference.source.as_str(),
            r.reference.path.as_deref().unwrap_or("")
        ),
        ("training", "data/train.csv")
    );
    assert_eq!(r.reference.run.as_deref(), Some(model.run.as_str()));
    assert_eq!(r.reference.rows, 600);
    // Only the model's inputs are compared: not the id, region or the label.
    let mut names: Vec<&str> = r.columns.iter().map(|c| c.column.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["plan", "x1", "x2"]);
    assert!(column(&doc, "x1").drifted && !column(&doc, "plan").drifted);
    assert!(!r.dataset_drift && r.drifted == 1);
    assert!(r.new_columns.is_empty());
    let digest = doc.digest.clone().unwrap();
    assert_eq!(ref_text(&p, ".cairn/drift/model/churn"), digest);
    assert_eq!(ref_text(&p, ".cairn/drift/last"), digest);

    // With --reference, the model still chooses the columns.
    p.write("ref.csv", table(400, 8, 0.6));
    let doc = drift(
        &p,
        &["churn@1", "--reference", "ref.csv", "--current", "cur.csv"],
        0,
    );
    assert_eq!(doc.record.reference.source, "file");
    assert_eq!(doc.record.compared, 3);

    // `[drift.churn]` applies to the model's checks without --config.
    let toml = String::from_utf8(p.read("cairn.toml")).unwrap();
    p.write("cairn.toml", toml + "\n[drift.churn]\ndrift_share = 0.3\n");
    let doc = drift(&p, &["churn@latest", "--current", "cur.csv"], 1);
    assert_eq!(doc.record.config.as_deref(), Some("churn"));
    assert!(column(&doc, "x1").drifted && doc.record.dataset_drift);
}

#[test]
fn a_model_version_without_recorded_training_data_is_bad_input() {
    let p = trained();
    p.write("cur.csv", table(100, 7, 0.0));
    let lock = String::from_utf8(p.read("cairn.lock")).unwrap();
    let edited: String = lock
        .lines()
        .map(|l| {
            if l.starts_with("data = {") {
                "data = {}"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert_ne!(edited, lock.trim_end());
    p.write("cairn.lock", edited + "\n");
    p.cairn(&["drift", "churn@latest", "--current", "cur.csv"])
        .code(2)
        .stderr_has("recorded no training table, so there is no reference data")
        .stderr_has("hint: compare with a table instead: --reference FILE");
    assert!(!p.exists(".cairn/drift/last"));
}

#[test]
fn bad_input_exits_2_and_records_nothing() {
    let p = Project::new();
    p.write("ref.csv", table(200, 1, 0.0));
    // Different dtypes: x1 holds text in the current data.
    let text = table(200, 2, 0.0);
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    for line in lines.iter_mut().skip(1) {
        let mut cells: Vec<&str> = line.split(',').collect();
        cells[1] = "high";
        *line = cells.join(",");
    }
    p.write("typed.csv", lines.join("\n") + "\n");
    p.cairn(&["drift", "--reference", "ref.csv", "--current", "typed.csv"])
        .code(2)
        .stderr_has(
            "column `x1` holds f64 values in the reference data and str values in the current data",
        )
        .stderr_has("type = \"categorical\"");
    // An empty current table.
    p.write("empty.csv", "id,x1,x2,plan,region,label\n");
    p.cairn(&["drift", "--reference", "ref.csv", "--current", "empty.csv"])
        .code(2)
        .stderr_has("the current data (empty.csv) has no rows");
    // No reference at all, and a file that does not exist.
    p.cairn(&["drift", "--current", "empty.csv"]).code(2);
    p.cairn(&["drift", "--reference", "nope.csv", "--current", "ref.csv"])
        .code(2);
    assert!(!p.exists(".cairn/drift/last"));
}

#[test]
fn missing_columns_nulls_nan_unseen_categories_and_a_constant_reference_are_reported() {
    let p = Project::new();
    let mut reference = String::from("k,const,flag,nulls,gone,city\n");
    let mut current = String::from("k,const,flag,nulls,city,extra\n");
    let mut rng = Rng(5);
    for i in 0..300 {
        let k = (rng.next() % 1000) as f64 / 10.0;
        let city = ["paris", "oslo", "rome"][i % 3];
        reference.push_str(&format!("{k},1.5,{},{},{},{city}\n", i % 2, i % 5, i));
        let k = match i {
            0 => "NaN".to_owned(),
            1 | 2 => "inf".to_owned(),
            3 => "-inf".to_owned(),
            4 => String::new(),
            _ => format!("{}", (rng.next() % 1000) as f64 / 10.0),
        };
        let city = if i % 10 == 0 { "lima" } else { city };
        current.push_str(&format!("{k},1.5,{},,{city},{i}\n", i % 2));
    }
    p.write("ref.csv", reference);
    p.write("cur.csv", current);
    let doc = drift(&p, &["--reference", "ref.csv", "--current", "cur.csv"], 1);
    let r = &doc.record;
    assert_eq!(r.new_columns, ["extra"]);
    // NaN, ±inf and nulls are counted apart, never compared.
    let k = column(&doc, "k");
    assert_eq!(
        k.current,
        CountsDoc {
            rows: 300,
            values: 295,
            nulls: 1,
            nan: 1,
            pos_inf: 2,
            neg_inf: 1,
            distinct: k.current.distinct,
        }
    );
    assert_eq!((k.status.as_str(), k.drifted), ("tested", false));
    // A column missing from the current data is its own finding, and drifts.
    let gone = column(&doc, "gone");
    assert_eq!((gone.status.as_str(), gone.drifted), ("missing", true));
    assert_eq!(gone.method, None);
    // A column without a value in the current data.
    let nulls = column(&doc, "nulls");
    assert_eq!((nulls.status.as_str(), nulls.drifted), ("no_values", true));
    assert_eq!(nulls.current.nulls, 300);
    // A constant reference: both sides constant and equal, so nothing drifts.
    let constant = column(&doc, "const");
    assert_eq!(constant.method.as_deref(), Some("z"));
    assert!(!constant.drifted && constant.score == Some(1.0));
    // A category never seen in the reference.
    let city = column(&doc, "city");
    let unseen = city.unseen.as_ref().expect("unseen categories");
    assert_eq!((unseen.categories, unseen.rows), (1, 30));
    assert_eq!(unseen.examples, ["lima"]);
    assert!(city.drifted && city.score == Some(0.0) && city.statistic.is_none());
    assert_eq!(r.drifted, 3);
    assert_eq!(r.compared, 6);
    assert!(r.skipped.is_empty());
    assert!(k.histogram.is_some() && nulls.note.is_some());
    assert_eq!(k.reference.values, 300);
}

#[test]
fn columns_of_other_types_are_skipped_and_named() {
    let p = Project::new();
    p.write(
        "a.csv",
        "when,x
2026-01-01T00:00:00,1
2026-01-02T00:00:00,2
",
    );
    p.write(
        "b.csv",
        "when,x
2026-01-03T00:00:00,1
2026-01-04T00:00:00,2
",
    );
    let doc = drift(&p, &["--reference", "a.csv", "--current", "b.csv"], 0);
    let skipped: Vec<(&str, &str)> = doc
        .record
        .skipped
        .iter()
        .map(|s| (s.column.as_str(), s.dtype.as_str()))
        .collect();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(skipped[0].0, "when");
    assert!(skipped[0].1.starts_with("datetime"), "{skipped:?}");
    assert_eq!(doc.record.compared, 1);
}

#[test]
fn predictions_need_a_model_and_a_log_with_rows() {
    let p = trained();
    p.write("cur.csv", table(100, 7, 0.0));
    // No server has logged anything yet: the log reads as no rows.
    p.cairn(&["drift", "churn@latest", "--predictions"])
        .code(2)
        .stderr_has("the current data (the prediction log of churn@1) has no rows");
    p.cairn(&[
        "drift",
        "churn@latest",
        "--predictions",
        "--since",
        "2026-12-01",
    ])
    .code(2)
    .stderr_has("the prediction log of churn@1 since 2026-12-01T00:00:00Z");
    p.cairn(&["drift", "churn@1", "--predictions", "--since", "yesterday"])
        .code(2)
        .stderr_has("--since yesterday: not a time");
    // The flags that do not go together.
    p.cairn(&["drift", "--predictions", "--reference", "cur.csv"])
        .code(2);
    p.cairn(&["drift", "churn@1", "--predictions", "--current", "cur.csv"])
        .code(2);
    p.cairn(&[
        "drift",
        "churn@1",
        "--since",
        "2026-12-01",
        "--current",
        "cur.csv",
    ])
    .code(2)
    .stderr_has("it goes with --predictions");
    p.cairn(&["drift", "churn@1"]).code(2);
    assert!(!p.exists(".cairn/drift/last"));
}

/// One HTTP/1.1 POST on 127.0.0.1: the status code.
fn post(port: u16, path: &str, body: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.split_whitespace().nth(1)?.parse().ok()
}

/// The whole loop through the binary: `cairn serve --log-predictions` logs shifted traffic,
/// SIGTERM flushes the log, and `cairn drift NAME@REF --predictions` finds the shift in the
/// inputs and in the predictions.
#[test]
fn drift_on_the_prediction_log_the_server_wrote() {
    let p = trained();
    p.cairn(&[
        "models",
        "promote",
        "churn@1",
        "--to",
        "production",
        "--force",
        "--reason",
        "test",
    ])
    .ok();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = p
        .command(&[
            "serve",
            "churn@production",
            "--port",
            &port.to_string(),
            "--log-predictions",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // x1 moved up by a whole range: most rows now predict "yes".
    let shifted = table(400, 11, 1.0);
    let instances: Vec<String> = shifted
        .lines()
        .skip(1)
        .map(|line| {
            let c: Vec<&str> = line.split(',').collect();
            format!(r#"{{"x1": {}, "x2": {}, "plan": "{}"}}"#, c[1], c[2], c[3])
        })
        .collect();
    let started = std::time::Instant::now();
    let mut answered = 0;
    for chunk in instances.chunks(100) {
        let body = format!(r#"{{"instances": [{}]}}"#, chunk.join(","));
        loop {
            match post(port, "/v1/models/churn/predict", &body) {
                Some(200) => break,
                Some(status) => panic!("the server answered {status}"),
                None => {
                    assert!(
                        started.elapsed() < std::time::Duration::from_secs(60),
                        "the server never answered"
                    );
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
            }
        }
        answered += chunk.len();
    }
    assert_eq!(answered, 400);
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert!(
        server.wait().unwrap().success(),
        "the server did not stop cleanly"
    );

    let doc = drift(&p, &["churn@production", "--predictions"], 1);
    let current = &doc.record.current;
    assert_eq!(
        (
            current.source.as_str(),
            current.model.as_deref(),
            current.version,
            current.rows
        ),
        ("predictions", Some("churn"), Some(1), 400)
    );
    assert_eq!(current.since, None, "no --since");
    assert!(doc.record.dataset_drift);
    assert!(column(&doc, "x1").drifted);
    assert!(!column(&doc, "x2").drifted);
    // The model's outputs are compared too: the reference rows scored by the model against
    // the logged predictions.
    let prediction = doc
        .record
        .columns
        .iter()
        .find(|c| c.column.contains("prediction"))
        .unwrap_or_else(|| panic!("no prediction column in {doc:#?}"));
    assert!(prediction.drifted, "{prediction:#?}");
}
