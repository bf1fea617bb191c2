//! The public API on real projects in temporary directories: training, the untracked and
//! validation decisions, listing, selecting, comparing and removing runs, records read back
//! exactly, and runs read from a remote's listing.
#![allow(clippy::disallowed_methods)] // test fixtures are written with std::fs

use std::collections::BTreeMap;

use cairn_core::runs::{RunRef, RunsError};
use cairn_core::{DataEntry, EntryKind, InitOptions, Project};
use cairn_store::{Digest, RelPath};
use serde_json::Value;

use crate::query::parse_where;
use crate::*;

/// A seeded table: two numbers and a label that follows their sum.
fn table(rows: usize, seed: u64) -> String {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    let mut unit = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) % 10_000) as f64 / 10_000.0
    };
    let mut out = String::from("x1,x2,label\n");
    for _ in 0..rows {
        let (x1, x2) = (unit(), unit());
        let label = if x1 + x2 > 1.0 { "yes" } else { "no" };
        out.push_str(&format!("{x1},{x2},{label}\n"));
    }
    out
}

const SPEC: &str = r#"
[model.tree]
data = "data/t.csv"
target = "label"
algorithm = "decision_tree_classifier"
params = { max_depth = 3 }
seed = 1
"#;

/// A project (no git) with `data/t.csv` tracked in its lock and `config` appended to its
/// cairn.toml.
struct Fixture {
    _dir: tempfile::TempDir,
    root: std::path::PathBuf,
}

impl Fixture {
    fn new(config: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        Project::init(&root, &InitOptions { no_git: true }).unwrap();
        let toml = std::fs::read_to_string(root.join("cairn.toml")).unwrap();
        std::fs::write(root.join("cairn.toml"), toml + config).unwrap();
        let f = Fixture { _dir: dir, root };
        f.track("data/t.csv", &table(60, 1));
        f
    }

    fn project(&self) -> Project {
        Project::discover(&self.root).unwrap()
    }

    fn write(&self, path: &str, text: &str) {
        let full = self.root.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, text).unwrap();
    }

    /// Writes `path`, stores it, and pins it in the lock (what `data add` does for a file).
    fn track(&self, path: &str, text: &str) {
        self.write(path, text);
        let project = self.project();
        let store = project.store().unwrap();
        let put = store.put_bytes(text.as_bytes()).unwrap();
        store.sync().unwrap();
        let mut lock = project.read_lock().unwrap();
        lock.data.insert(
            RelPath::new(path).unwrap(),
            DataEntry {
                kind: EntryKind::File,
                digest: put.digest,
                size: put.size,
                files: 0,
                executable: false,
            },
        );
        project.write_lock(&lock, &store).unwrap();
    }

    fn train(&self, options: TrainOptions) -> Result<TrainOutcome, TrainError> {
        train(&self.project(), &options, &Quiet)
    }
}

fn options(model: &str, overrides: &[(&str, &str)]) -> TrainOptions {
    TrainOptions {
        model: model.to_owned(),
        overrides: overrides
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..TrainOptions::default()
    }
}

fn everything() -> Selection {
    Selection::default()
}

#[test]
fn a_run_is_recorded_with_metrics_provenance_and_its_artifact() {
    let f = Fixture::new(SPEC);
    let mut opts = options("tree", &[]);
    opts.tags = BTreeMap::from([("team".to_owned(), "risk".to_owned())]);
    let outcome = f.train(opts).unwrap();
    let run = &outcome.record;
    assert_eq!(run.status, RunStatus::Finished);
    assert_eq!((run.train_rows, run.test_rows), (48, 12));
    assert_eq!(run.params["max_depth"], Value::from(3));
    assert!(run.metrics["accuracy"] > 0.5, "{:?}", run.metrics);
    assert_eq!(
        run.labels,
        Some(vec![Value::from("no"), Value::from("yes")])
    );
    assert!(!run.untracked);
    assert_eq!(run.validation, "none");
    assert!(outcome.warnings.is_empty(), "{:?}", outcome.warnings);
    assert_eq!(run.code, Code::default(), "no git: no commit");
    let project = f.project();
    let lock = project.read_lock().unwrap();
    let pinned = &lock.data[&RelPath::new("data/t.csv").unwrap()].digest;
    assert_eq!(run.data["data/t.csv"], pinned.to_hex());
    let store = project.store().unwrap();
    let artifact: Digest = run.artifact.as_deref().unwrap().parse().unwrap();
    assert!(store.contains(&artifact));
    assert!(store.contains(&outcome.record_digest));
    // What was recorded is what the index gives back.
    assert_eq!(get_run(&project, &run.id[..6]).unwrap(), *run);
    // The same data, spec and seed: the same artifact.
    let again = f.train(options("tree", &[])).unwrap().record;
    assert_ne!(again.id, run.id);
    assert_eq!(again.artifact, run.artifact);
}

#[test]
fn untracked_or_modified_data_is_refused_unless_allowed_and_the_decision_is_recorded() {
    let f = Fixture::new(&format!(
        "{SPEC}\n[model.loose]\ndata = \"loose.csv\"\ntarget = \"label\"\nalgorithm = \"gaussian_nb\"\n"
    ));
    f.write("loose.csv", &table(40, 2));
    match f.train(options("loose", &[])) {
        Err(TrainError::Untracked { path, key, .. }) => {
            assert_eq!((path.as_str(), key), ("loose.csv", "data"));
        }
        other => panic!("{other:?}"),
    }
    let mut allowed = options("loose", &[]);
    allowed.allow_untracked = true;
    let outcome = f.train(allowed.clone()).unwrap();
    assert!(outcome.record.untracked);
    match outcome.warnings.as_slice() {
        [TrainWarning::Untracked { path, reason }] => {
            assert_eq!(path, "loose.csv");
            assert!(reason.contains("is not tracked"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    for w in &outcome.warnings {
        assert!(
            !w.to_string().contains("--"),
            "a library names no flag: {w}"
        );
    }

    // A tracked table edited afterwards.
    f.write("data/t.csv", &table(60, 3));
    match f.train(options("tree", &[])) {
        Err(TrainError::Modified { .. }) => {}
        other => panic!("{other:?}"),
    }
    let mut allowed = options("tree", &[]);
    allowed.allow_untracked = true;
    let run = f.train(allowed).unwrap().record;
    assert!(run.untracked);
    // The workspace content's digest, not the lock's.
    let project = f.project();
    let lock = project.read_lock().unwrap();
    let pinned = &lock.data[&RelPath::new("data/t.csv").unwrap()].digest;
    assert_ne!(run.data["data/t.csv"], pinned.to_hex());

    // Tracked and unchanged: not untracked, however it is allowed.
    let g = Fixture::new(SPEC);
    let mut allowed = options("tree", &[]);
    allowed.allow_untracked = true;
    let outcome = g.train(allowed).unwrap();
    assert!(!outcome.record.untracked);
    assert!(outcome.warnings.is_empty());
}

#[test]
fn the_data_check_is_the_one_data_status_makes() {
    // A tracked table replaced by a symbolic link to the same bytes: `data add` would refuse
    // the link, so it is not what the lock pins, though the bytes are equal.
    let f = Fixture::new(SPEC);
    let same = std::fs::read(f.root.join("data/t.csv")).unwrap();
    std::fs::write(f.root.join("elsewhere.csv"), &same).unwrap();
    std::fs::remove_file(f.root.join("data/t.csv")).unwrap();
    std::os::unix::fs::symlink(f.root.join("elsewhere.csv"), f.root.join("data/t.csv")).unwrap();
    match f.train(options("tree", &[])) {
        Err(TrainError::Modified { detail, .. }) => {
            assert!(detail.contains("symbolic link"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    // Allowed, the run reads through the link and says so.
    let mut allowed = options("tree", &[]);
    allowed.allow_untracked = true;
    assert!(f.train(allowed).unwrap().record.untracked);

    // A tracked table that is missing.
    let g = Fixture::new(SPEC);
    std::fs::remove_file(g.root.join("data/t.csv")).unwrap();
    match g.train(options("tree", &[])) {
        Err(TrainError::Modified { detail, .. }) => {
            assert!(detail.contains("is missing"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn failed_validation_stops_the_run_unless_skipped() {
    let f = Fixture::new(&format!(
        "{SPEC}\n[dataset.\"data/t.csv\"]\nrows = {{ min = 1000 }}\n"
    ));
    match f.train(options("tree", &[])) {
        Err(TrainError::ValidationFailed { model, report }) => {
            assert_eq!(model, "tree");
            assert!(!report.passed);
        }
        other => panic!("{other:?}"),
    }
    let mut skip = options("tree", &[]);
    skip.skip_validation = true;
    let outcome = f.train(skip).unwrap();
    assert_eq!(outcome.record.validation, "skipped");
    assert_eq!(
        outcome.warnings,
        [TrainWarning::ValidationSkipped {
            path: "data/t.csv".to_owned()
        }]
    );
    // The refused run is recorded, failed, with the phases it went through.
    let failed = list_runs(
        &f.project(),
        &Selection {
            conditions: parse_where("status=failed").unwrap(),
            ..everything()
        },
    )
    .unwrap()
    .runs;
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0]
            .error
            .as_deref()
            .unwrap()
            .contains("failed validation")
    );
    assert!(failed[0].phases.contains_key("validate"));
    assert_eq!(failed[0].artifact, None);
}

#[test]
fn what_stops_a_run_before_it_starts_is_not_recorded() {
    let f = Fixture::new(SPEC);
    assert!(matches!(
        f.train(options("nope", &[])),
        Err(TrainError::NoSuchModel { .. })
    ));
    assert!(matches!(
        f.train(options("tree", &[("data", "x.csv")])),
        Err(TrainError::Override {
            problem: OverrideProblem::Fixed,
            ..
        })
    ));
    assert!(
        list_runs(&f.project(), &everything())
            .unwrap()
            .runs
            .is_empty()
    );
    // A failure after the start is.
    let e = f
        .train(options("tree", &[("max_depth", "-4")]))
        .unwrap_err();
    assert!(matches!(e, TrainError::Param { .. }), "{e:?}");
    let runs = list_runs(&f.project(), &everything()).unwrap().runs;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, RunStatus::Failed);
    assert_eq!(runs[0].overrides["max_depth"], Value::from(-4));
}

#[test]
fn runs_are_listed_selected_compared_and_removed() {
    let f = Fixture::new(SPEC);
    let shallow = f
        .train(options("tree", &[("max_depth", "1")]))
        .unwrap()
        .record;
    let deep = f
        .train(options("tree", &[("max_depth", "4")]))
        .unwrap()
        .record;
    let project = f.project();
    let ids = |runs: &[RunRecord]| runs.iter().map(|r| r.id.clone()).collect::<Vec<_>>();

    let all = list_runs(&project, &everything()).unwrap();
    assert_eq!(
        ids(&all.runs),
        [shallow.id.clone(), deep.id.clone()],
        "oldest first"
    );
    assert_eq!(all.remote, None);
    let picked = |selection: Selection| ids(&list_runs(&project, &selection).unwrap().runs);
    assert_eq!(
        picked(Selection {
            conditions: parse_where("params.max_depth>=4").unwrap(),
            ..everything()
        }),
        [deep.id.as_str()]
    );
    assert_eq!(
        picked(Selection {
            sort: Some("params.max_depth".into()),
            ..everything()
        }),
        [deep.id.clone(), shallow.id.clone()],
        "largest first"
    );
    assert_eq!(
        picked(Selection {
            sort: Some("params.max_depth".into()),
            ascending: Some(true),
            limit: Some(1),
            ..everything()
        }),
        [shallow.id.as_str()]
    );
    assert!(
        picked(Selection {
            model: Some("other".into()),
            ..everything()
        })
        .is_empty()
    );
    // Summaries select the same runs.
    let summaries = list_summaries(
        &project,
        &Selection {
            conditions: parse_where("params.max_depth<4").unwrap(),
            ..everything()
        },
    )
    .unwrap();
    assert_eq!(summaries.runs, [RunSummary::of(&shallow)]);

    let both = get_runs(&project, &[deep.id[..5].to_owned(), shallow.id.clone()]).unwrap();
    assert_eq!(ids(&both), [deep.id.clone(), shallow.id.clone()]);
    let comparison = compare(&both);
    assert_eq!(comparison.runs, ids(&both));
    let row = |field: &str| {
        comparison
            .rows
            .iter()
            .find(|r| r.field == field)
            .unwrap_or_else(|| panic!("no row {field}"))
    };
    assert!(row("params.max_depth").differs);
    assert_eq!(
        row("params.max_depth").values,
        [Some(Value::from(4)), Some(Value::from(1))]
    );
    assert!(!row("model").differs);
    assert_eq!(comparison.rows[0].field, "model");

    let removed = remove_runs(&project, &[shallow.id[..6].to_owned()]).unwrap();
    assert_eq!(removed.removed, [shallow.id.as_str()]);
    assert!(matches!(
        get_run(&project, &shallow.id),
        Err(TrainError::Runs(RunsError::NotFound(_)))
    ));
    assert_eq!(
        ids(&list_runs(&project, &everything()).unwrap().runs),
        [deep.id.as_str()]
    );
    assert!(!project.state_dir().join("runs").join(&shallow.id).exists());
    // An unknown id removes nothing.
    assert!(remove_runs(&project, &[deep.id.clone(), "ffff0000".into()]).is_err());
    assert_eq!(list_runs(&project, &everything()).unwrap().runs.len(), 1);
}

/// A record's JSON text as a cairn of format `format` might write it, with `extra` fields.
fn record_text(id: &str, started: &str, accuracy: &str, format: u32, extra: &str) -> String {
    format!(
        r#"{{
  "format": {format},
  "id": "{id}",
  "model": "m",
  "status": "finished",
  "started": "{started}",
  "ended": "{started}",
  "started_us": 0,
  "duration_s": 0.5,
  "algorithm": "gaussian_nb",
  "params": {{}},
  "seed": 0,
  "split": {{"test_size": 0.2}},
  "metrics": {{"accuracy": {accuracy}, "log_loss": 0.25}},
  "report": {{"per_class": [{{"f1": 0.9462811935342091}}]}},
  "phases": {{}},
  "code": {{"commit": null, "dirty": false}},
  "data": {{}},
  "untracked": false,
  "validation": "none",
  "environment": {{"cairn": "9.9.9", "os": "linux", "arch": "x86_64"}}{extra}
}}"#
    )
}

fn record(id: &str, started: &str, accuracy: &str) -> RunRecord {
    parse_run_record(id, record_text(id, started, accuracy, 1, "").as_bytes()).unwrap()
}

/// `differs` compares values: two runs whose accuracy differs in the fifth decimal show the
/// same text but differ, and the better one is the best.
#[test]
fn compare_decides_differences_on_values_not_on_their_text() {
    let runs = [
        record("aaaa0001", "2026-01-01T00:00:00Z", "0.912341"),
        record("aaaa0002", "2026-01-01T00:00:01Z", "0.912344"),
    ];
    let comparison = compare(&runs);
    let accuracy = comparison
        .rows
        .iter()
        .find(|r| r.field == "accuracy")
        .unwrap();
    assert_eq!(accuracy.shown, ["0.9123", "0.9123"]);
    assert!(accuracy.differs);
    assert_eq!(accuracy.best, Some(1));
    let log_loss = comparison
        .rows
        .iter()
        .find(|r| r.field == "log_loss")
        .unwrap();
    assert!(!log_loss.differs);
    assert_eq!(log_loss.best, None);
    // Smaller is better for a loss.
    let mut worse = runs.clone();
    worse[1].metrics.insert("log_loss".into(), 0.3);
    let comparison = compare(&worse);
    let log_loss = comparison
        .rows
        .iter()
        .find(|r| r.field == "log_loss")
        .unwrap();
    assert_eq!(log_loss.best, Some(0));
    // The JSON document has the documented fields, and no others.
    let doc = serde_json::to_value(&comparison).unwrap();
    let row = doc["rows"].as_array().unwrap()[0].as_object().unwrap();
    let mut keys: Vec<&str> = row.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["differs", "field", "shown", "values"]);
}

/// A record read back and printed as JSON carries its numbers exactly (serde_json's
/// `float_roundtrip`): from a record object, and through the runs index.
#[test]
fn recorded_numbers_are_printed_exactly() {
    const EXACT: &str = "0.9462811935342091";
    let text = record_text("bbbb0001", "2026-01-01T00:00:00Z", EXACT, 1, "");
    let parsed = parse_run_record("bbbb0001", text.as_bytes()).unwrap();
    let printed = serde_json::to_string(&parsed).unwrap();
    assert!(
        printed.contains(&format!("\"accuracy\":{EXACT}")),
        "{printed}"
    );
    assert!(printed.contains(&format!("\"f1\":{EXACT}")), "{printed}");

    // The same record as a run of this machine: its object and ref, indexed on open.
    let f = Fixture::new("");
    let project = f.project();
    let store = project.store().unwrap();
    let put = store.put_bytes(text.as_bytes()).unwrap();
    store.sync().unwrap();
    cairn_core::runs::write_ref(
        &project.state_dir(),
        &RunRef {
            id: "bbbb0001".into(),
            record: put.digest.to_hex(),
            artifact: None,
        },
    )
    .unwrap();
    let listed = list_runs(&project, &everything()).unwrap();
    let printed = serde_json::to_string(&listed).unwrap();
    assert!(
        printed.contains(&format!("\"accuracy\":{EXACT}")),
        "{printed}"
    );
    let shown = serde_json::to_string(&get_run(&project, "bbbb").unwrap()).unwrap();
    assert!(shown.contains(&format!("\"accuracy\":{EXACT}")), "{shown}");
    let summaries = list_summaries(&project, &everything()).unwrap();
    assert_eq!(summaries.runs[0].metrics["accuracy"].to_string(), EXACT);
}

#[test]
fn a_record_of_a_newer_cairn_is_read_when_its_format_is_known_and_refused_otherwise() {
    let newer_fields = r#",
  "registered": {"version": 3},
  "gpu": "none""#;
    let text = record_text("cccc0001", "2026-01-01T00:00:00Z", "0.5", 1, newer_fields);
    let run = parse_run_record("cccc0001", text.as_bytes()).unwrap();
    assert_eq!(run.environment.cairn, "9.9.9");
    assert_eq!(run.metrics["accuracy"], 0.5);
    let text = record_text("cccc0002", "2026-01-01T00:00:00Z", "0.5", 2, "");
    match parse_run_record("cccc0002", text.as_bytes()) {
        Err(TrainError::NewerRecord { id, found }) => {
            assert_eq!((id.as_str(), found), ("cccc0002", 2));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        parse_run_record("cccc0003", b"{\"id\": 1}"),
        Err(TrainError::Record { .. })
    ));
}

#[test]
fn runs_on_a_remote_are_parsed_selected_and_the_unusable_ones_set_aside() {
    let digest = |n: u8| Digest::of(&[n]);
    let listed = vec![
        ListedRun {
            id: "dddd0002".into(),
            record: digest(2),
            json: Ok(record_text("dddd0002", "2026-01-02T00:00:00Z", "0.7", 1, "").into_bytes()),
        },
        ListedRun {
            id: "dddd0001".into(),
            record: digest(1),
            json: Ok(record_text("dddd0001", "2026-01-01T00:00:00Z", "0.9", 1, "").into_bytes()),
        },
        ListedRun {
            id: "dddd0003".into(),
            record: digest(3),
            json: Err("is not on the remote".into()),
        },
        ListedRun {
            id: "dddd0004".into(),
            record: digest(4),
            json: Ok(b"x1,x2,label\n".to_vec()),
        },
        ListedRun {
            id: "dddd0005".into(),
            record: digest(5),
            json: Ok(record_text("dddd0005", "2026-01-01T00:00:00Z", "0.9", 2, "").into_bytes()),
        },
    ];
    let runs = remote_runs(listed.clone(), &everything());
    let ids: Vec<&str> = runs.records.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["dddd0001", "dddd0002"], "oldest first");
    let skipped: Vec<(&str, Digest)> = runs
        .skipped
        .iter()
        .map(|s| (s.id.as_str(), s.record))
        .collect();
    assert_eq!(
        skipped,
        [
            ("dddd0003", digest(3)),
            ("dddd0004", digest(4)),
            ("dddd0005", digest(5))
        ]
    );
    assert_eq!(
        runs.skipped[0].reason,
        SkipReason::Unreadable("is not on the remote".into())
    );
    assert_eq!(runs.skipped[0].reason.to_string(), "is not on the remote");
    assert!(matches!(runs.skipped[1].reason, SkipReason::Unusable(_)));
    let newer = runs.skipped[2].reason.to_string();
    assert!(
        newer.starts_with("cannot be used (") && newer.contains("newer cairn"),
        "{newer}"
    );

    // Selected as this machine's runs are.
    let best = remote_runs(
        listed.clone(),
        &Selection {
            sort: Some("accuracy".into()),
            limit: Some(1),
            ..everything()
        },
    );
    assert_eq!(best.records[0].id, "dddd0001");
    assert_eq!(best.skipped.len(), 3, "warned about whatever the selection");
    assert!(
        remote_runs(
            listed,
            &Selection {
                model: Some("other".into()),
                ..everything()
            }
        )
        .records
        .is_empty()
    );

    // By id or unique prefix, in the order asked.
    let named = runs
        .named(&["dddd0002".to_owned(), "dddd0001".to_owned()])
        .unwrap();
    assert_eq!(named[0].id, "dddd0002");
    assert!(matches!(
        runs.named(&["dddd".to_owned()]),
        Err(RunsError::Ambiguous { .. })
    ));
    assert!(matches!(
        runs.named(&["dddd0003".to_owned()]),
        Err(RunsError::NotFound(_))
    ));
}

#[test]
fn an_entity_spec_is_joined_before_the_run_and_a_failed_join_is_not_recorded() {
    let f = Fixture::new(
        "\n[model.joined]\nentities = \"data/t.csv\"\nfeatures = [\"nope:x\"]\ntarget = \"label\"\nalgorithm = \"gaussian_nb\"\n",
    );
    match f.train(options("joined", &[])) {
        Err(TrainError::Feature(_)) => {}
        other => panic!("{other:?}"),
    }
    assert!(
        list_runs(&f.project(), &everything())
            .unwrap()
            .runs
            .is_empty()
    );
    assert_eq!(
        cairn_core::models::DEFAULT_ENTITY_TIMESTAMP,
        "event_timestamp"
    );
}

/// The model of a run, read back from the store.
fn artifact_of(project: &Project, run: &RunRecord) -> cairn_model::artifact::Artifact {
    let digest: Digest = run.artifact.as_deref().unwrap().parse().unwrap();
    let bytes = project.store().unwrap().read(&digest).unwrap();
    cairn_model::artifact::Artifact::from_bytes(&bytes).unwrap()
}

/// The metrics of `artifact` on rebuilt held-out rows, computed as the evaluation step does.
fn metrics_on(
    artifact: &cairn_model::artifact::Artifact,
    held: &HeldOut,
    target: &str,
) -> BTreeMap<String, f64> {
    use cairn_model::artifact::{Label, Predictions};
    let column = held.frame.column(target).unwrap().as_materialized_series();
    let report = match artifact.predict_frame(&held.frame).unwrap() {
        Predictions::Classes {
            proba, n_classes, ..
        } => {
            let labels = artifact.labels().unwrap();
            let y: Vec<u32> = column
                .str()
                .unwrap()
                .iter()
                .map(|v| {
                    let label = Label::Text(v.unwrap().to_owned());
                    labels.iter().position(|l| *l == label).unwrap() as u32
                })
                .collect();
            serde_json::to_value(cairn_model::metrics::classification(&y, &proba, n_classes))
        }
        Predictions::Values(predicted) => {
            let y: Vec<f64> = column.f64().unwrap().iter().map(Option::unwrap).collect();
            serde_json::to_value(cairn_model::metrics::regression(&y, &predicted))
        }
    }
    .unwrap();
    report
        .as_object()
        .unwrap()
        .iter()
        .filter_map(|(k, v)| v.as_f64().map(|x| (k.clone(), x)))
        .collect()
}

#[test]
fn held_out_rows_are_rebuilt_exactly_from_the_workspace_or_the_store() {
    let spec = format!(
        "{SPEC}\n[model.line]\ndata = \"data/t.csv\"\ntarget = \"x2\"\nfeatures = [\"x1\"]\nalgorithm = \"ridge_regression\"\nseed = 9\nsplit = {{ test_size = 0.3 }}\n"
    );
    let f = Fixture::new(&spec);
    let project = f.project();
    for (model, target, test_rows) in [("tree", "label", 12), ("line", "x2", 18)] {
        let run = f.train(options(model, &[])).unwrap().record;
        let artifact = artifact_of(&project, &run);
        let held = held_out(&project, &run, target).unwrap();
        assert_eq!(held.frame.height(), test_rows, "{model}");
        assert_eq!(held.rows.len(), test_rows);
        assert!(!held.from_store);
        assert_eq!(
            (held.path.as_str(), &held.digest),
            ("data/t.csv", &run.data["data/t.csv"])
        );
        // Every column of the table is there, the target included.
        assert_eq!(held.frame.width(), 3);
        // The metrics on the rebuilt rows are the recorded ones, bit for bit.
        let measured = metrics_on(&artifact, &held, target);
        assert!(!run.metrics.is_empty());
        for (name, value) in &run.metrics {
            assert_eq!(measured[name].to_bits(), value.to_bits(), "{model} {name}");
        }
    }
    // The spec's split changes after the run: the run's split is what counts.
    let run = f
        .train(options("tree", &[("split.test_size", "0.25")]))
        .unwrap()
        .record;
    let before = held_out(&project, &run, "label").unwrap();
    assert_eq!(before.frame.height(), 15);
    // The workspace copy changes after the run: the rows come from the store.
    f.write("data/t.csv", &table(80, 2));
    let after = held_out(&f.project(), &run, "label").unwrap();
    assert!(after.from_store);
    assert!(after.frame.equals_missing(&before.frame));
    assert_eq!(after.rows, before.rows);
    // Gone from the store as well: refused, naming the table.
    let digest: Digest = run.data["data/t.csv"].parse().unwrap();
    project.store().unwrap().remove(&digest).unwrap();
    let e = held_out(&f.project(), &run, "label").unwrap_err();
    assert!(
        e.to_string().contains("neither the workspace copy")
            && e.to_string().contains("data/t.csv"),
        "{e}"
    );
    // Nothing is left behind in .cairn/tmp.
    let tmp = project.store().unwrap().tmp_dir().to_path_buf();
    let left: Vec<_> = std::fs::read_dir(tmp)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".table"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn held_out_rows_of_a_failed_run_or_of_a_run_without_them_are_refused() {
    let f = Fixture::new(SPEC);
    let project = f.project();
    let mut run = f.train(options("tree", &[])).unwrap().record;
    run.test_rows = 0;
    let e = held_out(&project, &run, "label").unwrap_err();
    assert!(e.to_string().contains("held out no rows"), "{e}");
    run.test_rows = 12;
    run.status = RunStatus::Failed;
    let e = held_out(&project, &run, "label").unwrap_err();
    assert!(e.to_string().contains("failed"), "{e}");
    run.status = RunStatus::Finished;
    run.model = "gone".into();
    assert!(matches!(
        held_out(&project, &run, "label"),
        Err(TrainError::NoSuchModel { .. })
    ));
}
