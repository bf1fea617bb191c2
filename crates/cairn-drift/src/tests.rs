//! The check on small tables written by the tests: method choice, scores against values
//! computed by hand or with numpy/scipy, counts kept apart, the record's round trip and the
//! report.

#![allow(clippy::disallowed_methods)]
use std::path::Path;

use cairn_core::drift::{ColumnDrift, ColumnType, DriftSpec, Method};

use crate::record::{ColumnStatus, DRIFT_FORMAT, DriftRecord};
use crate::{DriftError, Table, auto_method, compare, report};

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
    let record = compare(
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
}

#[test]
fn a_constant_reference_divides_by_the_smallest_scale_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let reference = file(dir.path(), "r.csv", "x\n5\n5\n5\n");
    let current = file(dir.path(), "c.csv", "x\n5\n6\n7\n");
    let record = compare(
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
    let record = compare(
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
    let err = compare(r(), file(dir.path(), "c.csv", "x,c\n"), None, None, None).unwrap_err();
    assert!(matches!(err, DriftError::NoRows { .. }), "{err}");
    let err = compare(
        r(),
        file(dir.path(), "c.csv", "x,c\na,1\n"),
        None,
        None,
        None,
    )
    .unwrap_err();
    assert!(matches!(err, DriftError::TypeMismatch { .. }), "{err}");
    let err = compare(r(), r(), spec(&[("c", Method::Ks, None)]), None, None).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("`drift.t.columns.c.method`: ks compares numbers"),
        "{err}"
    );
    let err = compare(r(), r(), spec(&[("nope", Method::Z, None)]), None, None).unwrap_err();
    assert!(matches!(err, DriftError::NotInReference { .. }), "{err}");
    let err = compare(r(), r(), None, None, Some(vec!["w".to_owned()])).unwrap_err();
    assert!(
        err.to_string().contains("the model takes it as an input"),
        "{err}"
    );
}

#[test]
fn the_record_round_trips_and_a_newer_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let record = compare(
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
            let record = compare(
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
