//! Scoring: the same predictions whatever the body's shape, one row or many, and the same as
//! the model's batch transform (training's preprocessing) gives; schema errors name the
//! field and the row.

use cairn_model::artifact::Predictions;
use polars::prelude::*;

use super::{cairn, mlflow, model, table};
use crate::csv::parse_csv;
use crate::error::ScoreError;
use crate::frame::{Layout, frame_rows};
use crate::parse::{Parsed, parse_json};
use crate::schema::UnknownFields;
use crate::score::{Scored, score};

/// The table's rows as a JSON `instances` body (nulls as null).
fn instances(frame: &DataFrame) -> String {
    let mut rows = Vec::new();
    for i in 0..frame.height() {
        let mut row = serde_json::Map::new();
        for column in frame.columns() {
            let value = match column.get(i).unwrap() {
                AnyValue::Null => serde_json::Value::Null,
                AnyValue::Int64(x) => x.into(),
                AnyValue::Float64(x) => x.into(),
                AnyValue::Boolean(b) => b.into(),
                AnyValue::String(s) => s.into(),
                AnyValue::StringOwned(s) => s.as_str().into(),
                other => panic!("{other:?}"),
            };
            row.insert(column.name().to_string(), value);
        }
        rows.push(serde_json::Value::Object(row));
    }
    serde_json::json!({ "instances": rows }).to_string()
}

fn scored(body: &str, classifier: bool) -> Result<Scored, ScoreError> {
    let m = model(classifier);
    match parse_json(body.as_bytes(), &m.schema, cairn())? {
        Parsed::Rows(rows) => score(&m, &rows),
        Parsed::Entities(_) => panic!("entities"),
    }
}

#[test]
fn requests_score_as_the_batch_transform_does() {
    for classifier in [true, false] {
        let m = model(classifier);
        let frame = table(40);
        let expected = m.artifact.predict_frame(&frame).unwrap();
        let batch = scored(&instances(&frame), classifier).unwrap();
        match (&expected, &batch) {
            (
                Predictions::Classes { class, proba, .. },
                Scored::Classes {
                    class: c, proba: p, ..
                },
            ) => {
                assert_eq!(class, c);
                assert_eq!(proba, p);
            }
            (Predictions::Values(v), Scored::Values(w)) => assert_eq!(v, w),
            other => panic!("{other:?}"),
        }
        // One row at a time (the single-row path) gives the same answers.
        for i in [0, 3, 5, 39] {
            let one = scored(&instances(&frame.slice(i as i64, 1)), classifier).unwrap();
            match (&batch, &one) {
                (Scored::Classes { class, .. }, Scored::Classes { class: c, .. }) => {
                    assert_eq!(class[i], c[0], "row {i}");
                    assert_eq!(batch.proba(i), one.proba(0), "row {i}");
                }
                (Scored::Values(v), Scored::Values(w)) => assert_eq!(v[i], w[0], "row {i}"),
                other => panic!("{other:?}"),
            }
        }
        // A table (cairn predict) scores the same.
        let names: Vec<String> = frame
            .get_column_names()
            .iter()
            .map(|n| n.to_string())
            .collect();
        let layout = Layout::of(&names, &m.schema, None, UnknownFields::Reject).unwrap();
        let rows = frame_rows(&frame, &m.schema, &layout, 0).unwrap();
        assert_eq!(score(&m, &rows).unwrap(), batch);
    }
}

#[test]
fn csv_and_mlflow_shapes_score_the_same() {
    let m = model(true);
    let json = r#"{"instances": [{"x1": 7.5, "n": 3, "plan": "pro", "flag": true},
                                  {"x1": 0.5, "n": null, "plan": null, "flag": false}]}"#;
    let expected = scored(json, true).unwrap();
    let csv = parse_csv(
        b"x1,n,plan,flag\n7.5,3,pro,true\n0.5,,,false\n",
        &m.schema,
        UnknownFields::Reject,
    )
    .unwrap();
    assert_eq!(score(&m, &csv).unwrap(), expected);
    let split = r#"{"dataframe_split": {"columns": ["x1", "n", "plan", "flag"],
                    "data": [[7.5, 3, "pro", true], [0.5, null, null, false]]}}"#;
    let Parsed::Rows(rows) = parse_json(split.as_bytes(), &m.schema, mlflow()).unwrap() else {
        panic!("rows");
    };
    assert_eq!(score(&m, &rows).unwrap(), expected);
}

#[test]
fn schema_errors_name_the_field_and_the_row() {
    let row = |x1: &str, n: &str, plan: &str, flag: &str| {
        format!(r#"{{"x1": {x1}, "n": {n}, "plan": {plan}, "flag": {flag}}}"#)
    };
    let good = row("1.0", "2", "\"pro\"", "true");
    let cases = [
        // A missing input (in the second row).
        (
            format!(r#"{{"instances": [{good}, {{"x1": 1, "plan": "pro", "flag": true}}]}}"#),
            "missing_field",
            "n",
            1,
        ),
        (
            format!(
                r#"{{"instances": [{}]}}"#,
                row("\"1.0\"", "2", "\"pro\"", "true")
            ),
            "wrong_type",
            "x1",
            0,
        ),
        // An int input refuses a fraction; a bool input refuses a number.
        (
            format!(
                r#"{{"instances": [{good}, {}]}}"#,
                row("1", "2.5", "\"pro\"", "true")
            ),
            "wrong_type",
            "n",
            1,
        ),
        (
            format!(r#"{{"instances": [{}]}}"#, row("1", "2", "\"pro\"", "1")),
            "wrong_type",
            "flag",
            0,
        ),
        (
            format!(r#"{{"instances": [{}]}}"#, row("1", "2", "3", "true")),
            "wrong_type",
            "plan",
            0,
        ),
        // A null where no imputation is declared.
        (
            format!(
                r#"{{"instances": [{good}, {good}, {}]}}"#,
                row("null", "2", "\"pro\"", "true")
            ),
            "null",
            "x1",
            2,
        ),
        (
            format!(
                r#"{{"instances": [{}]}}"#,
                row("[1]", "2", "\"pro\"", "true")
            ),
            "wrong_type",
            "x1",
            0,
        ),
    ];
    for (body, code, field, at) in cases {
        let e = scored(&body, true).unwrap_err();
        assert_eq!(
            (e.code(), e.field(), e.row()),
            (code, Some(field), Some(at)),
            "{body}: {e}"
        );
        assert!(e.to_string().contains(&format!("row {at}")), "{e}");
    }
    // Nulls are imputed where the model declares how; an unseen category is not an error.
    scored(
        &format!(r#"{{"instances": [{}]}}"#, row("1", "null", "null", "true")),
        true,
    )
    .unwrap();
    scored(
        &format!(
            r#"{{"instances": [{}]}}"#,
            row("1", "2", "\"enterprise\"", "false")
        ),
        true,
    )
    .unwrap();
}

#[test]
fn a_huge_batch_is_scored_as_one_batch() {
    let frame = table(20_000);
    let scored = scored(&instances(&frame), false).unwrap();
    assert_eq!(scored.len(), 20_000);
}
