//! The gates on models fitted here, on frames built here: each measure checked against the
//! metric computed independently on the same rows, each verdict against its threshold, each
//! bad input refused naming the thing, and the record read back exactly.
#![allow(clippy::disallowed_methods)] // test fixtures are written with std::fs

use std::collections::BTreeMap;
use std::time::Duration;

use cairn_core::models::{
    Algorithm, Bounds, FairnessGate, Gates, LatencyGate, Metric, NoRegressionGate,
};
use cairn_model::artifact::{Artifact, FORMAT_VERSION, Header, Label, Provenance, Task};
use cairn_model::estimator::{Target, fit};
use cairn_model::metrics;
use cairn_model::prep::{Encoding, InputRule, fit_inputs, transform};
use cairn_store::Digest;
use polars::prelude::*;

use crate::latency::{judge, percentile};
use crate::*;

/// A seeded frame: two numbers, a category, a region (a group column that is not an input),
/// a binary label that follows the numbers with noise, and a numeric target.
fn frame(rows: usize, seed: u64) -> DataFrame {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(7);
    let mut unit = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) % 10_000) as f64 / 10_000.0
    };
    let (mut x1, mut x2, mut plan, mut region, mut label, mut amount) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for i in 0..rows {
        let (a, b, noise) = (unit(), unit(), unit());
        x1.push(a);
        x2.push(b);
        plan.push(["free", "pro", "team"][i % 3]);
        region.push(["north", "south"][(i / 2) % 2]);
        label.push(if a + b + 0.4 * noise > 1.2 {
            "yes"
        } else {
            "no"
        });
        amount.push(3.0 * a - 2.0 * b + noise);
    }
    df!("x1" => x1, "x2" => x2, "plan" => plan, "region" => region, "label" => label, "amount" => amount)
        .unwrap()
}

/// A model of `algorithm` fitted on `frame` (inputs x1, x2, plan one-hot).
fn model(algorithm: Algorithm, frame: &DataFrame, params: &[(&str, i64)]) -> Artifact {
    let rules = vec![
        ("x1".to_owned(), InputRule::default()),
        ("x2".to_owned(), InputRule::default()),
        (
            "plan".to_owned(),
            InputRule {
                encode: Some(Encoding::OneHot),
                ..InputRule::default()
            },
        ),
    ];
    let rows: Vec<usize> = (0..frame.height()).collect();
    let inputs = fit_inputs(frame, &rules, &rows).unwrap();
    let x = transform(frame, &inputs).unwrap();
    let params: BTreeMap<String, serde_json::Value> = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).into()))
        .collect();
    let (target, task, classes, values);
    if algorithm.is_classifier() {
        classes = frame
            .column("label")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|v| u32::from(v == Some("yes")))
            .collect::<Vec<u32>>();
        target = "label";
        task = Task::Classification {
            labels: vec![Label::Text("no".into()), Label::Text("yes".into())],
        };
        let (fitted, params) = fit(
            algorithm,
            &params,
            3,
            &x,
            Target::Classes {
                y: &classes,
                n_classes: 2,
            },
            &|_, _| {},
        )
        .unwrap();
        return artifact(algorithm, target, task, inputs, fitted, params);
    }
    values = frame
        .column("amount")
        .unwrap()
        .f64()
        .unwrap()
        .iter()
        .map(Option::unwrap)
        .collect::<Vec<f64>>();
    let (fitted, params) = fit(
        algorithm,
        &params,
        3,
        &x,
        Target::Values(&values),
        &|_, _| {},
    )
    .unwrap();
    artifact(
        algorithm,
        "amount",
        Task::Regression,
        inputs,
        fitted,
        params,
    )
}

fn artifact(
    algorithm: Algorithm,
    target: &str,
    task: Task,
    inputs: Vec<cairn_model::prep::Input>,
    fitted: cairn_model::estimator::Fitted,
    params: BTreeMap<String, serde_json::Value>,
) -> Artifact {
    Artifact {
        header: Header {
            format: FORMAT_VERSION,
            model: "churn".into(),
            algorithm: algorithm.as_str().into(),
            params,
            seed: 3,
            target: target.into(),
            task,
            inputs,
            provenance: Provenance::default(),
        },
        fitted,
    }
}

fn held_out(frame: DataFrame) -> Data {
    Data::HeldOut {
        frame,
        run: "r1".into(),
        path: "data/t.csv".into(),
        digest: "ab".repeat(32),
        features: BTreeMap::new(),
    }
}

fn options<'a>(artifact: &'a Artifact, gates: &'a Gates, data: Data) -> ValidateOptions<'a> {
    ValidateOptions {
        model: "churn",
        version: 2,
        artifact,
        artifact_digest: Digest::of(&artifact.to_bytes()),
        run: "r1",
        spec: "churn",
        gates,
        data,
        production: Production::None,
    }
}

fn gate<'r>(record: &'r ValidationRecord, name: &str) -> &'r GateResult {
    record
        .gates
        .iter()
        .find(|g| g.gate == name)
        .unwrap_or_else(|| panic!("no gate {name} in {:?}", record.gates))
}

fn measured(result: &GateResult) -> Option<f64> {
    match &result.figures {
        Figures::Metric { measured, .. }
        | Figures::Fairness { measured, .. }
        | Figures::NoRegression { measured, .. } => *measured,
        other => panic!("no single measure: {other:?}"),
    }
}

/// The classifier's metrics on `rows` of `frame`, computed independently of the crate.
fn expected(artifact: &Artifact, frame: &DataFrame) -> metrics::ClassificationMetrics {
    let y: Vec<u32> = frame
        .column("label")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|v| u32::from(v == Some("yes")))
        .collect();
    let cairn_model::artifact::Predictions::Classes { proba, .. } =
        artifact.predict_frame(frame).unwrap()
    else {
        panic!("a classifier")
    };
    metrics::classification(&y, &proba, 2)
}

fn bounds(min: Option<f64>, max: Option<f64>) -> Bounds {
    Bounds { min, max }
}

#[test]
fn metric_gates_measure_what_the_metrics_say_and_judge_inclusively() {
    let train = frame(300, 1);
    let rows = frame(120, 2);
    let clf = model(
        Algorithm::DecisionTreeClassifier,
        &train,
        &[("max_depth", 3)],
    );
    let truth = expected(&clf, &rows);
    let mut gates = Gates::default();
    for metric in Metric::of_task(true) {
        let value = truth.get(metric).unwrap_or_else(|| match metric {
            Metric::BalancedAccuracy => truth.balanced_accuracy(),
            _ => panic!("{metric}"),
        });
        // Exactly at the threshold passes.
        let b = if metric.higher_is_better() {
            bounds(Some(value), None)
        } else {
            bounds(None, Some(value))
        };
        gates.metrics.insert(metric, b);
    }
    let record = run_gates(options(&clf, &gates, held_out(rows.clone()))).unwrap();
    assert!(record.passed, "{:#?}", record.gates);
    assert_eq!(record.rows, 120);
    for metric in Metric::of_task(true) {
        let g = gate(&record, metric.as_str());
        assert_eq!(
            measured(g).unwrap().to_bits(),
            truth.get(metric).unwrap().to_bits(),
            "{metric}"
        );
        assert_eq!(g.status, GateStatus::Passed);
    }
    // A hair above what it measures: that gate fails, the others pass, the record says so.
    let accuracy = truth.accuracy;
    gates
        .metrics
        .insert(Metric::Accuracy, bounds(Some(accuracy + 1e-9), None));
    gates
        .metrics
        .insert(Metric::LogLoss, bounds(None, Some(truth.log_loss - 1e-9)));
    let record = run_gates(options(&clf, &gates, held_out(rows))).unwrap();
    assert!(!record.passed);
    let failed: Vec<&str> = record.failed().map(|g| g.gate.as_str()).collect();
    assert_eq!(failed, ["accuracy", "log_loss"]);
    let g = gate(&record, "accuracy");
    assert!(!g.passed && g.status == GateStatus::Failed);
    // The order of the record: schema first, then the metrics in catalogue order.
    let order: Vec<&str> = record.gates.iter().map(|g| g.gate.as_str()).collect();
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
            "log_loss"
        ]
    );
}

#[test]
fn regression_gates_and_an_undefined_roc_auc() {
    let train = frame(200, 3);
    let rows = frame(80, 4);
    let reg = model(Algorithm::LinearRegression, &train, &[]);
    let mut gates = Gates::default();
    gates.metrics.insert(Metric::R2, bounds(Some(0.5), None));
    gates.metrics.insert(Metric::Rmse, bounds(None, Some(1e-6)));
    let record = run_gates(options(&reg, &gates, held_out(rows.clone()))).unwrap();
    let cairn_model::artifact::Predictions::Values(p) = reg.predict_frame(&rows).unwrap() else {
        panic!("a regressor")
    };
    let t: Vec<f64> = rows
        .column("amount")
        .unwrap()
        .f64()
        .unwrap()
        .iter()
        .map(Option::unwrap)
        .collect();
    let m = metrics::regression(&t, &p);
    assert_eq!(measured(gate(&record, "r2")), Some(m.r2));
    assert_eq!(measured(gate(&record, "rmse")), Some(m.rmse));
    assert!(gate(&record, "r2").passed && !gate(&record, "rmse").passed);

    // Rows of one class only: ROC-AUC is not defined; its gate fails, saying why.
    let clf = model(Algorithm::GaussianNb, &train, &[]);
    let only_no = rows
        .clone()
        .lazy()
        .filter(col("label").eq(lit("no")))
        .collect()
        .unwrap();
    let mut gates = Gates::default();
    gates
        .metrics
        .insert(Metric::RocAuc, bounds(Some(0.5), None));
    let record = run_gates(options(&clf, &gates, held_out(only_no))).unwrap();
    let g = gate(&record, "roc_auc");
    assert_eq!((measured(g), g.passed), (None, false));
    assert!(g.note.as_deref().unwrap().contains("not defined"), "{g:?}");
}

#[test]
fn a_gate_of_the_other_task_is_refused() {
    let train = frame(100, 5);
    let clf = model(Algorithm::GaussianNb, &train, &[]);
    let mut gates = Gates::default();
    gates.metrics.insert(Metric::Mae, bounds(None, Some(1.0)));
    let e = run_gates(options(&clf, &gates, held_out(train.clone()))).unwrap_err();
    assert_eq!(
        e.to_string(),
        "`model.churn.gates.mae`: mae measures a regressor, and churn@2 is a classifier"
    );
    let gates = Gates {
        no_regression: Some(NoRegressionGate {
            metric: Metric::R2,
            tolerance: 0.1,
        }),
        ..Gates::default()
    };
    let e = run_gates(options(&clf, &gates, held_out(train))).unwrap_err();
    assert!(e.to_string().contains("gates.no_regression.metric"), "{e}");
}

#[test]
fn data_that_cannot_be_scored_is_refused_naming_the_column() {
    let train = frame(100, 6);
    let clf = model(Algorithm::GaussianNb, &train, &[]);
    let gates = Gates::default();
    let run = |f: DataFrame| run_gates(options(&clf, &gates, held_out(f)));
    // A missing input.
    let e = run(train.clone().drop("x2").unwrap()).unwrap_err();
    assert!(matches!(&e, ValidateError::Input { source, .. } if source.column() == "x2"));
    assert_eq!(
        e.to_string(),
        "the validation data cannot be scored by churn@2: input `x2` is missing"
    );
    // A wrong type: text where the model takes numbers.
    let mut wrong = train.clone();
    wrong
        .with_column(Column::new("x1".into(), vec!["a"; 100]))
        .unwrap();
    let e = run(wrong).unwrap_err();
    assert!(
        matches!(&e, ValidateError::Input { source, .. } if source.column() == "x1"),
        "{e}"
    );
    // No target; a label the model does not know; a missing label.
    let e = run(train.clone().drop("label").unwrap()).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("the validation data has no target column `label`"),
        "{e}"
    );
    let mut unknown = train.clone();
    let labels: Vec<&str> = (0..100)
        .map(|i| if i == 7 { "maybe" } else { "no" })
        .collect();
    unknown
        .with_column(Column::new("label".into(), labels))
        .unwrap();
    let e = run(unknown).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the target `label` holds maybe at row 8, a label the model does not know (its labels: no, yes)"
    );
    let mut missing = train.clone();
    let labels: Vec<Option<&str>> = (0..100).map(|i| (i != 3).then_some("no")).collect();
    missing
        .with_column(Column::new("label".into(), labels))
        .unwrap();
    assert!(
        run(missing)
            .unwrap_err()
            .to_string()
            .contains("missing at row 4")
    );
    // No rows.
    let e = run(train.clear()).unwrap_err();
    assert!(matches!(e, ValidateError::NoRows { .. }), "{e}");
    // The schema gate, when the data is usable, lists the inputs as found.
    let record = run(train).unwrap();
    let Figures::Schema { detail } = &gate(&record, "schema").figures else {
        panic!()
    };
    let found: Vec<(&str, &str)> = detail
        .inputs
        .iter()
        .map(|i| (i.name.as_str(), i.found.as_str()))
        .collect();
    assert_eq!(found, [("x1", "f64"), ("x2", "f64"), ("plan", "str")]);
}

#[test]
fn fairness_compares_each_group_with_all_rows() {
    let train = frame(300, 7);
    let rows = frame(160, 8);
    let clf = model(
        Algorithm::DecisionTreeClassifier,
        &train,
        &[("max_depth", 2)],
    );
    let mut gates = Gates {
        fairness: Some(FairnessGate {
            group: "region".into(),
            metric: Metric::Recall,
            max_gap: 1.0,
        }),
        ..Gates::default()
    };
    let record = run_gates(options(&clf, &gates, held_out(rows.clone()))).unwrap();
    let g = gate(&record, "fairness");
    let Figures::Fairness {
        detail, measured, ..
    } = &g.figures
    else {
        panic!()
    };
    let overall = expected(&clf, &rows).recall;
    assert_eq!(detail.overall, Some(overall));
    assert_eq!(
        detail
            .groups
            .iter()
            .map(|r| r.group.as_str())
            .collect::<Vec<_>>(),
        ["north", "south"]
    );
    let mut largest: f64 = 0.0;
    for row in &detail.groups {
        let part = rows
            .clone()
            .lazy()
            .filter(col("region").eq(lit(row.group.as_str())))
            .collect()
            .unwrap();
        let value = expected(&clf, &part).recall;
        assert_eq!(row.rows, part.height() as u64);
        assert_eq!(row.value, Some(value), "{}", row.group);
        assert_eq!(row.gap, Some((value - overall).abs()));
        largest = largest.max((value - overall).abs());
    }
    assert_eq!(*measured, Some(largest));
    assert!(g.passed);
    // A max gap below the largest gap fails.
    gates.fairness.as_mut().unwrap().max_gap = largest / 2.0;
    let record = run_gates(options(&clf, &gates, held_out(rows.clone()))).unwrap();
    assert_eq!(largest > 0.0, !gate(&record, "fairness").passed);
    // A group column that is missing, or holds one group: refused.
    gates.fairness.as_mut().unwrap().group = "country".into();
    let e = run_gates(options(&clf, &gates, held_out(rows.clone()))).unwrap_err();
    assert!(
        e.to_string().starts_with(
            "`model.churn.gates.fairness.group`: the validation data has no column `country`"
        ),
        "{e}"
    );
    gates.fairness.as_mut().unwrap().group = "region".into();
    let north = rows
        .lazy()
        .filter(col("region").eq(lit("north")))
        .collect()
        .unwrap();
    let e = run_gates(options(&clf, &gates, held_out(north))).unwrap_err();
    assert_eq!(
        e.to_string(),
        "`model.churn.gates.fairness.group`: `region` holds a single group (north) in the validation data, and fairness compares groups"
    );
}

#[test]
fn no_regression_compares_with_production_in_the_metric_s_direction() {
    let train = frame(300, 9);
    let rows = frame(200, 10);
    let good = model(
        Algorithm::DecisionTreeClassifier,
        &train,
        &[("max_depth", 4)],
    );
    let weak = model(
        Algorithm::DecisionTreeClassifier,
        &train,
        &[("max_depth", 1)],
    );
    let (g_m, w_m) = (expected(&good, &rows), expected(&weak, &rows));
    assert!(
        g_m.accuracy > w_m.accuracy,
        "the fixture needs a weaker model"
    );
    let mut gates = Gates {
        no_regression: Some(NoRegressionGate {
            metric: Metric::Accuracy,
            tolerance: 0.0,
        }),
        ..Gates::default()
    };
    let weak_digest = Digest::of(&weak.to_bytes());
    let against = |candidate: &Artifact, production: Production<'_>, gates: &Gates| {
        let mut o = options(candidate, gates, held_out(rows.clone()));
        o.production = production;
        run_gates(o).unwrap()
    };
    let champion = Production::Version {
        version: 1,
        artifact_digest: weak_digest,
        artifact: &weak,
    };
    // Better than production: passes, by the difference.
    let record = against(&good, champion, &gates);
    let g = gate(&record, "no_regression");
    assert!(g.passed && g.status == GateStatus::Passed);
    assert_eq!(measured(g), Some(g_m.accuracy - w_m.accuracy));
    let Figures::NoRegression {
        detail: Some(detail),
        ..
    } = &g.figures
    else {
        panic!()
    };
    assert_eq!(
        (detail.production_version, detail.production_artifact),
        (1, weak_digest)
    );
    assert_eq!(
        (detail.candidate, detail.production),
        (Some(g_m.accuracy), Some(w_m.accuracy))
    );
    // Worse than production: fails, unless the tolerance covers the difference.
    let good_digest = Digest::of(&good.to_bytes());
    let champion = Production::Version {
        version: 1,
        artifact_digest: good_digest,
        artifact: &good,
    };
    assert!(!gate(&against(&weak, champion, &gates), "no_regression").passed);
    gates.no_regression.as_mut().unwrap().tolerance = g_m.accuracy - w_m.accuracy;
    assert!(gate(&against(&weak, champion, &gates), "no_regression").passed);
    // A loss is better smaller: the weak model's larger log loss is a regression.
    gates.no_regression = Some(NoRegressionGate {
        metric: Metric::LogLoss,
        tolerance: 0.0,
    });
    let (lower, higher, lower_digest) = if g_m.log_loss < w_m.log_loss {
        (&good, &weak, good_digest)
    } else {
        (&weak, &good, weak_digest)
    };
    let lower_in_production = Production::Version {
        version: 1,
        artifact_digest: lower_digest,
        artifact: lower,
    };
    let record = against(higher, lower_in_production, &gates);
    let g = gate(&record, "no_regression");
    assert!(!g.passed && measured(g).unwrap() > 0.0, "{g:?}");
    // Nothing in production, or this version is production: skipped (and passed), saying so.
    for production in [Production::None, Production::This] {
        let record = against(&weak, production, &gates);
        let g = gate(&record, "no_regression");
        assert_eq!((g.status, g.passed), (GateStatus::Skipped, true));
        assert!(g.note.is_some());
        assert!(record.passed);
    }
    // A production version that cannot score the rows: skipped, saying why.
    let other_rows = rows.clone().drop("plan").unwrap();
    let mut only_numbers = model(Algorithm::GaussianNb, &train, &[]);
    only_numbers.header.inputs.truncate(2);
    let only_numbers = {
        // Refit on the two numbers so that the artifact is consistent.
        let x = transform(&train, &only_numbers.header.inputs).unwrap();
        let y: Vec<u32> = train
            .column("label")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|v| u32::from(v == Some("yes")))
            .collect();
        let (fitted, params) = fit(
            Algorithm::GaussianNb,
            &BTreeMap::new(),
            1,
            &x,
            Target::Classes {
                y: &y,
                n_classes: 2,
            },
            &|_, _| {},
        )
        .unwrap();
        artifact(
            Algorithm::GaussianNb,
            "label",
            only_numbers.header.task.clone(),
            only_numbers.header.inputs.clone(),
            fitted,
            params,
        )
    };
    let mut o = options(&only_numbers, &gates, held_out(other_rows));
    o.production = Production::Version {
        version: 1,
        artifact_digest: good_digest,
        artifact: &good,
    };
    let record = run_gates(o).unwrap();
    let g = gate(&record, "no_regression");
    assert_eq!(g.status, GateStatus::Skipped);
    assert!(g.note.as_deref().unwrap().contains("`plan`"), "{g:?}");
}

#[test]
fn determinism_and_latency_are_recorded() {
    let train = frame(200, 11);
    let rows = frame(50, 12);
    let forest = model(Algorithm::RandomForestClassifier, &train, &[("n_trees", 5)]);
    let gates = Gates {
        determinism: true,
        latency: Some(LatencyGate {
            p50_ms: Some(60_000.0),
            p99_ms: Some(60_000.0),
            calls: 120,
        }),
        ..Gates::default()
    };
    let record = run_gates(options(&forest, &gates, held_out(rows))).unwrap();
    let g = gate(&record, "determinism");
    let Figures::Determinism { measured, detail } = &g.figures else {
        panic!()
    };
    assert!(measured.identical && g.passed);
    assert_eq!(detail.first, detail.second);
    assert_eq!(detail.bytes, 50 * 8 * 3);
    let g = gate(&record, "latency");
    let Figures::Latency {
        measured, detail, ..
    } = &g.figures
    else {
        panic!()
    };
    assert_eq!((detail.calls, detail.warmup), (120, 100));
    assert!(measured.p50_ms <= measured.p99_ms && measured.p99_ms <= detail.max_ms);
    assert!(g.passed, "{g:?}");
    let order: Vec<&str> = record.gates.iter().map(|g| g.gate.as_str()).collect();
    assert_eq!(order, ["schema", "determinism", "latency"]);
}

#[test]
fn latency_percentiles_interpolate_and_thresholds_are_inclusive() {
    // numpy.percentile([1, 2, 3, 4], [50, 99]) = [2.5, 3.97]
    assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 0.5), 2.5);
    assert!((percentile(&[1.0, 2.0, 3.0, 4.0], 0.99) - 3.97).abs() < 1e-12);
    assert_eq!(percentile(&[7.0], 0.99), 7.0);
    assert_eq!(percentile(&[], 0.5), 0.0);
    let times: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
    let gate = |p50: Option<f64>, p99: Option<f64>| LatencyGate {
        p50_ms: p50,
        p99_ms: p99,
        calls: 100,
    };
    let r = judge(&gate(Some(50.5), Some(99.01)), 0, &times);
    let Figures::Latency { measured, .. } = &r.figures else {
        panic!()
    };
    assert!((measured.p50_ms - 50.5).abs() < 1e-9 && (measured.p99_ms - 99.01).abs() < 1e-9);
    assert!(judge(&gate(Some(50.6), None), 0, &times).passed);
    assert!(!judge(&gate(Some(50.4), None), 0, &times).passed);
    assert!(!judge(&gate(None, Some(98.0)), 0, &times).passed);
}

#[test]
fn a_table_file_is_read_and_recorded_with_its_digest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rows.csv");
    let mut rows = frame(60, 13);
    let mut bytes = Vec::new();
    CsvWriter::new(&mut bytes).finish(&mut rows).unwrap();
    std::fs::write(&path, &bytes).unwrap();
    let clf = model(Algorithm::GaussianNb, &frame(100, 14), &[]);
    let mut gates = Gates::default();
    gates
        .metrics
        .insert(Metric::Accuracy, bounds(Some(0.0), None));
    let data = Data::File {
        path: path.clone(),
        shown: "rows.csv".into(),
    };
    let record = run_gates(options(&clf, &gates, data)).unwrap();
    assert_eq!(
        record.data,
        DataSource::File {
            path: "rows.csv".into(),
            digest: cairn_core::table::content_digest(&path).unwrap().to_hex()
        }
    );
    let read_back = cairn_core::table::read_table(&path).unwrap();
    assert_eq!(
        measured(gate(&record, "accuracy")),
        Some(expected(&clf, &read_back).accuracy)
    );
    // A file that is not there: the table's error.
    let data = Data::File {
        path: dir.path().join("nope.csv"),
        shown: "nope.csv".into(),
    };
    let e = run_gates(options(&clf, &gates, data)).unwrap_err();
    assert!(matches!(e, ValidateError::Table(_)), "{e}");
}

#[test]
fn the_record_is_stored_read_back_exactly_and_a_newer_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    cairn_core::Project::init(dir.path(), &cairn_core::InitOptions { no_git: true }).unwrap();
    let project = cairn_core::Project::discover(dir.path()).unwrap();
    let store = project.store().unwrap();
    let train = frame(150, 15);
    let clf = model(
        Algorithm::DecisionTreeClassifier,
        &train,
        &[("max_depth", 3)],
    );
    let gates = Gates {
        metrics: BTreeMap::from([(Metric::F1, bounds(Some(0.1), Some(1.0)))]),
        latency: Some(LatencyGate {
            p50_ms: None,
            p99_ms: Some(10_000.0),
            calls: 5,
        }),
        fairness: Some(FairnessGate {
            group: "plan".into(),
            metric: Metric::Accuracy,
            max_gap: 0.5,
        }),
        no_regression: Some(NoRegressionGate {
            metric: Metric::RocAuc,
            tolerance: 0.01,
        }),
        determinism: true,
    };
    let validated = validate(&store, options(&clf, &gates, held_out(frame(90, 16)))).unwrap();
    let back = read_record(&store, &validated.digest).unwrap();
    assert_eq!(back, validated.record);
    assert_eq!(Digest::of(&back.to_bytes()), validated.digest);
    // What the registry reads of it.
    let json: serde_json::Value =
        serde_json::from_slice(&store.read(&validated.digest).unwrap()).unwrap();
    assert_eq!(json["format"], 1);
    assert_eq!(json["model"], "churn");
    assert_eq!(json["version"], 2);
    assert_eq!(json["artifact"], validated.record.artifact.to_hex());
    assert_eq!(json["passed"], validated.record.passed);
    assert_eq!(json["gates"][1]["kind"], "metric");
    assert_eq!(json["gates"][1]["threshold"]["min"], 0.1);
    assert_eq!(json["data"]["source"], "held_out");
    // A newer format is refused; damage is named.
    let newer =
        String::from_utf8(back.to_bytes())
            .unwrap()
            .replacen("\"format\": 1", "\"format\": 2", 1);
    let digest = Digest::of(newer.as_bytes());
    let e = ValidationRecord::from_bytes(&digest, newer.as_bytes()).unwrap_err();
    assert!(
        matches!(e, ValidateError::NewerRecord { found: 2, .. }),
        "{e}"
    );
    let e = ValidationRecord::from_bytes(&digest, b"{\"format\": 1}").unwrap_err();
    assert!(e.to_string().contains("is not a validation record"), "{e}");
}
