//! The check on small tables written by the tests: method choice, scores against values
//! computed by hand or with numpy/scipy, counts kept apart, the record's round trip and the
//! report.

#![allow(clippy::disallowed_methods)]
use std::path::Path;

use cairn_core::drift::{ColumnDrift, ColumnType, DriftSpec, Method};

use crate::record::{ColumnStatus, DRIFT_FORMAT, DriftRecord};
use crate::{DriftError, Table, auto_method, compare, report};

/// [`compare`] without prediction drift.
fn check_files(
    reference: Table,
    current: Table,
    config: Option<(String, DriftSpec)>,
    model: Option<crate::record::ModelChecked>,
    columns: Option<Vec<String>>,
) -> Result<DriftRecord, DriftError> {
    compare(reference, current, config, model, columns, None)
}

fn file(dir: &Path, name: &str, text: &str) -> Table {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    Table::File {
        path,
        shown: name.to_owned(),
    }
}

fn csv(header: &str, rows: impl IntoIterator<Item = String>) -> String {
    let mut out = format!("{header}\n");
    for row in rows {
        out.push_str(&row);
        out.push('\n');
    }
    out
}

fn spec(columns: &[(&str, Method, Option<f64>)]) -> Option<(String, DriftSpec)> {
    let mut spec = DriftSpec::default();
    for (name, method, threshold) in columns {
        spec.columns.insert(
            (*name).to_owned(),
            ColumnDrift {
                kind: None,
                method: Some(*method),
                threshold: *threshold,
            },
        );
    }
    Some(("t".to_owned(), spec))
}

#[test]
fn the_automatic_choice_is_evidently_s() {
    use ColumnType::{Categorical as C, Numeric as N};
    for (kind, rows, distinct, method) in [
        (N, 1_000, 6, Method::Ks),
        (N, 1_000, 5, Method::Chisquare),
        (N, 1_000, 2, Method::Z),
        (C, 1_000, 40, Method::Chisquare),
        (C, 10, 2, Method::Z),
        (N, 1_001, 6, Method::Wasserstein),
        (N, 1_001, 5, Method::Jensenshannon),
        (N, 1_001, 2, Method::Jensenshannon),
        (C, 1_001, 2, Method::Jensenshannon),
    ] {
        assert_eq!(
            auto_method(kind, rows, distinct),
            method,
            "{kind:?} {rows} {distinct}"
        );
    }
}

/// Evidently decides on the reference's rows, nulls included: 1,200 rows of which 900 hold a
/// value is a large reference (distances), not a small one (p-value tests).
#[test]
fn the_automatic_choice_counts_reference_rows_not_values() {
    let dir = tempfile::tempdir().unwrap();
    let table = |shift: u64| {
        csv(
            "x,c",
            (0..1_200u64).map(move |i| {
                let x = if i < 300 {
                    String::new()
                } else {
                    ((i * 7919 + shift) % 1000).to_string()
                };
                let c = if i < 300 {
                    ""
                } else {
                    ["a", "b", "c"][(i % 3) as usize]
                };
                format!("{x},{c}")
            }),
        )
    };
    let record = check_files(
        file(dir.path(), "r.csv", &table(0)),
        file(dir.path(), "c.csv", &table(13)),
        None,
        None,
        None,
    )
    .unwrap();
    let methods: Vec<_> = record.columns.iter().map(|c| c.method).collect();
    assert_eq!(
        methods,
        [Some(Method::Wasserstein), Some(Method::Jensenshannon)]
    );
    assert_eq!(record.columns[0].reference.values, 900);
    assert_eq!(record.columns[0].reference.nulls, 300);
}

#[test]
fn psi_over_reference_deciles_and_normalised_wasserstein_match_hand_computed_values() {
    let dir = tempfile::tempdir().unwrap();
    let reference = file(
        dir.path(),
        "r.csv",
        &csv("x,y", (1..=100).map(|i| format!("{i},{i}"))),
    );
    let current = file(
        dir.path(),
        "c.csv",
        &csv("x,y", (51..=150).map(|i| format!("{i},{i}"))),
    );
    let record = check_files(
        reference,
        current,
        spec(&[
            ("x", Method::Psi, Some(0.2)),
            ("y", Method::Wasserstein, None),
        ]),
        None,
        None,
    )
    .unwrap();
    let x = &record.columns[0];
    assert_eq!(x.bins.as_deref(), Some("deciles"));
    // Reference deciles 10.9, 20.8, …, 90.1 (np.quantile): the reference has 10% in each
    // bin; the current data none in the first five (0 → 0.0001), 10% in the next four and
    // 60% in the last:
    // python3 -c "import math; print(repr(5*0.0999*math.log(1000)+(0.1-0.6)*math.log(0.1/0.6)))"
    let expected = 4.346303496465604;
    assert!((x.score.unwrap() - expected).abs() < 1e-9 * expected);
    assert!(x.drifted && x.threshold == Some(0.2));
    // scipy.stats.wasserstein_distance(arange(1, 101), arange(51, 151)) = 50.0; np.std of
    // the reference (ddof 0) = 28.86607004772212.
    let y = &record.columns[1];
    assert_eq!(y.statistic, Some(50.0));
    let scale = 28.86607004772212;
    assert!((y.scale.unwrap() - scale).abs() < 1e-12);
    assert!((y.score.unwrap() - 50.0 / scale).abs() < 1e-12);
    assert_eq!((record.compared, record.drifted), (2, 2));
    assert!(record.dataset_drift);
    // The report's bins: from the smallest to the largest value, inner edges between the
    // 1st and 99th percentiles (1.99 and 149.01), every value in one bin.
    let Some(crate::record::Histogram::Bins {
        edges,
        reference,
        current,
    }) = &x.histogram
    else {
        panic!("{x:?}")
    };
    assert_eq!((edges.len(), edges[0], edges[20]), (21, 1.0, 150.0));
    assert!((edges[1] - (1.99 + (149.01 - 1.99) / 20.0)).abs() < 1e-9);
    assert_eq!(reference.iter().sum::<u64>(), 100);
    assert_eq!(current.iter().sum::<u64>(), 100);
}

#[test]
fn an_outlier_does_not_squash_the_report_s_bins() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = csv("x", (0..200).map(|i| format!("{}", i % 100)));
    text.push_str("1000000000\n");
    let record = check_files(
        file(dir.path(), "r.csv", &text),
        file(dir.path(), "c.csv", &text),
        None,
        None,
        None,
    )
    .unwrap();
    let Some(crate::record::Histogram::Bins { reference, .. }) = &record.columns[0].histogram
    else {
        panic!("{record:?}")
    };
    assert!(
        reference.iter().filter(|&&n| n > 0).count() >= 15,
        "{reference:?}"
    );
}

#[test]
fn a_constant_reference_divides_by_the_smallest_scale_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let reference = file(dir.path(), "r.csv", "x\n5\n5\n5\n");
    let current = file(dir.path(), "c.csv", "x\n5\n6\n7\n");
    let record = check_files(
        reference,
        current,
        spec(&[("x", Method::Wasserstein, None)]),
        None,
        None,
    )
    .unwrap();
    let x = &record.columns[0];
    // scipy.stats.wasserstein_distance([5, 5, 5], [5, 6, 7]) = 1.0, over 0.001.
    assert_eq!((x.statistic, x.scale), (Some(1.0), Some(0.001)));
    assert!((x.score.unwrap() - 1000.0).abs() < 1e-9);
    assert!(x.note.as_deref().is_some_and(|n| n.contains("constant")));
}

#[test]
fn nan_infinities_and_nulls_are_counted_apart_and_not_compared() {
    let dir = tempfile::tempdir().unwrap();
    let reference = file(dir.path(), "r.csv", "x,c\n1,a\n2,b\n3,a\n4,b\n");
    let current = file(
        dir.path(),
        "c.csv",
        "x,c\n1,a\nNaN,b\ninf,\n-inf,a\n,b\n2,z\n3,a\n4,b\n",
    );
    let record = check_files(
        reference,
        current,
        spec(&[("x", Method::Ks, None)]),
        None,
        None,
    )
    .unwrap();
    let x = &record.columns[0];
    assert_eq!((x.current.rows, x.current.values, x.current.nan), (8, 4, 1));
    assert_eq!(
        (x.current.pos_inf, x.current.neg_inf, x.current.nulls),
        (1, 1, 1)
    );
    // The finite values 1, 2, 3, 4 on both sides: the same sample.
    assert_eq!((x.statistic, x.score), (Some(0.0), Some(1.0)));
    let c = &record.columns[1];
    assert_eq!(
        (c.current.nulls, c.current.values, c.current.distinct),
        (1, 7, 3)
    );
    let unseen = c.unseen.as_ref().unwrap();
    assert_eq!((unseen.categories, unseen.rows), (1, 1));
    assert_eq!(c.method, Some(Method::Chisquare));
    assert_eq!(c.score, Some(0.0));
    assert_eq!(c.statistic, None);
}

#[test]
fn bad_input_is_refused_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let r = || file(dir.path(), "r.csv", "x,c\n1,a\n2,b\n");
    let err = check_files(r(), file(dir.path(), "c.csv", "x,c\n"), None, None, None).unwrap_err();
    assert!(matches!(err, DriftError::NoRows { .. }), "{err}");
    let err = check_files(
        r(),
        file(dir.path(), "c.csv", "x,c\na,1\n"),
        None,
        None,
        None,
    )
    .unwrap_err();
    assert!(matches!(err, DriftError::TypeMismatch { .. }), "{err}");
    let err = check_files(r(), r(), spec(&[("c", Method::Ks, None)]), None, None).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("`drift.t.columns.c.method`: ks compares numbers"),
        "{err}"
    );
    let err = check_files(r(), r(), spec(&[("nope", Method::Z, None)]), None, None).unwrap_err();
    assert!(matches!(err, DriftError::NotInReference { .. }), "{err}");
    let err = check_files(r(), r(), None, None, Some(vec!["w".to_owned()])).unwrap_err();
    assert!(
        err.to_string().contains("the model takes it as an input"),
        "{err}"
    );
}

#[test]
fn the_record_round_trips_and_a_newer_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let record = check_files(
        file(dir.path(), "r.csv", "x,c\n1,a\n2,b\n3,a\n"),
        file(dir.path(), "c.csv", "x,c\n1,a\n5,b\n"),
        None,
        None,
        None,
    )
    .unwrap();
    let bytes = record.to_bytes();
    let digest = cairn_store::Digest::of(&bytes);
    assert_eq!(DriftRecord::from_bytes(&digest, &bytes).unwrap(), record);
    let newer = String::from_utf8(bytes).unwrap().replacen(
        &format!("\"format\": {DRIFT_FORMAT}"),
        "\"format\": 9",
        1,
    );
    let err = DriftRecord::from_bytes(&digest, newer.as_bytes()).unwrap_err();
    assert!(
        matches!(err, DriftError::NewerRecord { found: 9, .. }),
        "{err}"
    );
}

#[test]
fn the_report_is_self_contained_and_its_size_does_not_grow_with_the_rows() {
    let dir = tempfile::tempdir().unwrap();
    let table = |rows: u64, shift: u64| {
        csv(
            "x,c",
            (0..rows).map(move |i| {
                format!(
                    "{},{}",
                    (i * 7919 + shift) % 1000,
                    ["a", "b", "<c>"][(i % 3) as usize]
                )
            }),
        )
    };
    let sizes: Vec<usize> = [300u64, 30_000]
        .iter()
        .map(|&rows| {
            let record = check_files(
                file(dir.path(), "r.csv", &table(rows, 0)),
                file(dir.path(), "c.csv", &table(rows, 500)),
                None,
                None,
                None,
            )
            .unwrap();
            let path = dir.path().join("out").join("report.html");
            report::write(&record, &path).unwrap();
            let html = std::fs::read_to_string(&path).unwrap();
            assert!(!html.contains("http") && !html.contains("<script"));
            assert_eq!(html.matches("<svg").count(), 2);
            assert!(html.contains("&lt;c&gt;") && !html.contains("<c>"));
            assert!(
                record
                    .columns
                    .iter()
                    .all(|c| c.status == ColumnStatus::Tested)
            );
            html.len()
        })
        .collect();
    assert!(sizes[1] < 20_000, "{sizes:?}");
    assert!(sizes[1].abs_diff(sizes[0]) < 1_000, "{sizes:?}");
}

/// A classifier on `x1` (a number) and `plan` (a category): "yes" when x1 > 5.
fn classifier(frame: &polars::prelude::DataFrame) -> cairn_model::artifact::Artifact {
    use cairn_model::artifact::{FORMAT_VERSION, Header, Label, Provenance, Task};
    use cairn_model::estimator::{Target, fit};
    use cairn_model::prep::{Encoding, InputRule, fit_inputs, transform};
    let rules = vec![
        ("x1".to_owned(), InputRule::default()),
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
    let x1 = frame.column("x1").unwrap().f64().unwrap().clone();
    let y: Vec<u32> = x1.into_no_null_iter().map(|v| u32::from(v > 5.0)).collect();
    let algorithm = cairn_core::models::Algorithm::DecisionTreeClassifier;
    let (fitted, params) = fit(
        algorithm,
        &std::collections::BTreeMap::new(),
        3,
        &x,
        Target::Classes {
            y: &y,
            n_classes: 2,
        },
        &|_, _| {},
    )
    .unwrap();
    cairn_model::artifact::Artifact {
        header: Header {
            format: FORMAT_VERSION,
            model: "m".into(),
            algorithm: algorithm.as_str().into(),
            params,
            seed: 3,
            target: "y".into(),
            task: Task::Classification {
                labels: vec![Label::Text("no".into()), Label::Text("yes".into())],
            },
            inputs,
            provenance: Provenance::default(),
        },
        fitted,
    }
}

#[test]
fn the_prediction_log_is_compared_inputs_and_predictions_with_the_model_s_predictions_on_the_reference()
 {
    use std::sync::Arc;

    use cairn_predlog::{Column, LogOptions, Predicted, PredictionBatch, PredictionLog, Values};

    let dir = tempfile::tempdir().unwrap();
    // Reference: x1 over 0..10 (half "yes"), plans in turn.
    let plans = ["free", "pro", "team"];
    let reference_text = csv(
        "x1,plan,y",
        (0..300).map(|i| {
            let x1 = f64::from(i % 100) / 10.0;
            format!(
                "{x1},{},{}",
                plans[i as usize % 3],
                if x1 > 5.0 { "yes" } else { "no" }
            )
        }),
    );
    let reference = file(dir.path(), "r.csv", &reference_text);
    let frame = cairn_core::table::read_table(&dir.path().join("r.csv")).unwrap();
    let artifact = classifier(&frame);

    // The log: version 2 answered 200 rows with x1 moved up by 4 (mostly "yes"), in two
    // requests an hour apart; version 1 rows are not read.
    let log_dir = dir.path().join("predictions").join("m");
    let log = PredictionLog::open(&log_dir, &LogOptions::default()).unwrap();
    let labels: Arc<[String]> = Arc::from(vec!["no".to_owned(), "yes".to_owned()]);
    let hour = 3_600_000_000i64;
    for (request, version, ts) in [(0, 2, hour), (1, 2, 2 * hour), (2, 1, 2 * hour)] {
        let x1: Vec<f64> = (0..100).map(|i| 4.0 + f64::from(i) / 10.0).collect();
        let class: Vec<usize> = x1.iter().map(|&v| usize::from(v > 5.0)).collect();
        let mut plan: Vec<Option<String>> =
            (0..100).map(|i| Some(plans[i % 3].to_owned())).collect();
        plan[0] = None;
        log.log(PredictionBatch {
            request_id: format!("r{request}"),
            ts_us: ts,
            version,
            digest: Arc::from("d"),
            inputs: vec![
                Column {
                    name: Arc::from("x1"),
                    values: Values::Number(x1.into_iter().map(Some).collect()),
                },
                Column {
                    name: Arc::from("plan"),
                    values: Values::Text(plan),
                },
            ],
            imputed: Vec::new(),
            prediction: Predicted::Classes {
                labels: labels.clone(),
                class,
                proba: None,
            },
        })
        .unwrap();
    }
    log.close().unwrap();

    let logged = |since: Option<i64>| {
        Table::Predictions(crate::LoggedPredictions {
            dir: log_dir.clone(),
            model: "m".into(),
            version: 2,
            since,
        })
    };
    let record = compare(reference, logged(None), None, None, None, Some(&artifact)).unwrap();
    let names: Vec<&str> = record.columns.iter().map(|c| c.column.as_str()).collect();
    assert_eq!(names, ["x1", "plan", "prediction"]);
    assert_eq!((record.reference.rows, record.current.rows), (300, 200));
    let x1 = &record.columns[0];
    assert_eq!(x1.method, Some(Method::Ks));
    assert!(x1.drifted);
    let plan = &record.columns[1];
    assert_eq!((plan.current.nulls, plan.current.values), (2, 198));
    // Predictions: the model's on the reference rows ("yes" for x1 > 5: 147 of 300) against
    // the logged ones (178 of 200), as categories; the shift is detected.
    let prediction = &record.columns[2];
    assert_eq!(prediction.kind, ColumnType::Categorical);
    assert_eq!(prediction.method, Some(Method::Z));
    assert!(prediction.drifted);
    let Some(crate::record::Histogram::Values {
        labels,
        reference,
        current,
        ..
    }) = &prediction.histogram
    else {
        panic!("{prediction:?}")
    };
    assert_eq!(labels, &["yes", "no"]);
    assert_eq!(
        (reference.as_slice(), current.as_slice()),
        (&[147, 153][..], &[178, 22][..])
    );
    assert!(matches!(
        &record.current.source,
        crate::record::DataSource::Predictions { model, version: 2, since: None } if model == "m"
    ));

    // Since a time: only the second request.
    let record = compare(
        file(dir.path(), "r.csv", &reference_text),
        logged(Some(2 * hour)),
        None,
        None,
        None,
        Some(&artifact),
    )
    .unwrap();
    assert_eq!(record.current.rows, 100);
    // Nothing logged since then: no rows, refused.
    let err = compare(
        file(dir.path(), "r.csv", &reference_text),
        logged(Some(3 * hour)),
        None,
        None,
        None,
        Some(&artifact),
    )
    .unwrap_err();
    assert!(matches!(err, DriftError::NoRows { .. }), "{err}");
}

#[test]
fn a_check_recorded_in_a_project_is_the_last_one_and_its_model_s() {
    use cairn_core::{InitOptions, Project};
    let dir = tempfile::tempdir().unwrap();
    Project::init(dir.path(), &InitOptions { no_git: true }).unwrap();
    let project = Project::discover(dir.path()).unwrap();
    assert!(crate::last_check(&project, None).unwrap().is_none());
    let table = |name: &str| file(dir.path(), name, "x\n1\n2\n3\n");
    let mut checked = Vec::new();
    for model in [None, Some("churn")] {
        let done = crate::check(crate::DriftOptions {
            reference: table("r.csv"),
            current: table("c.csv"),
            config: None,
            model: model.map(|name| crate::record::ModelChecked {
                name: name.to_owned(),
                version: 1,
                run: "0123456789ab".to_owned(),
                artifact: cairn_store::Digest::of(b"artifact"),
            }),
            columns: None,
            predict_with: None,
            record_in: Some((&project, &cairn_store::NoProgress)),
            report: None,
        })
        .unwrap();
        checked.push((done.digest.unwrap(), done.record));
    }
    let (last_digest, last) = crate::last_check(&project, None).unwrap().unwrap();
    assert_eq!((last_digest, &last), (checked[1].0, &checked[1].1));
    let (model_digest, _) = crate::last_check(&project, Some("churn")).unwrap().unwrap();
    assert_eq!(model_digest, checked[1].0);
    assert!(
        crate::last_check(&project, Some("fraud"))
            .unwrap()
            .is_none()
    );
    assert_eq!(
        cairn_core::drift::read_refs(&project.state_dir()).unwrap(),
        vec![checked[1].0]
    );
}
