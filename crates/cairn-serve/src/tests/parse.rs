//! Every body shape, and every way a body can be wrong.

use serde_json::{Value, json};

use super::{cairn, mlflow, model};
use crate::error::ScoreError;
use crate::parse::{ParseOptions, Parsed, parse_json};
use crate::rows::Rows;
use crate::schema::UnknownFields;

fn rows(body: &str, options: ParseOptions) -> Rows {
    let m = model(true);
    match parse_json(body.as_bytes(), &m.schema, options) {
        Ok(Parsed::Rows(rows)) => rows,
        other => panic!("{body}: {other:?}"),
    }
}

fn refused(body: &str, options: ParseOptions) -> ScoreError {
    let m = model(true);
    match parse_json(body.as_bytes(), &m.schema, options) {
        Err(e) => e,
        Ok(p) => panic!("{body} was accepted: {p:?}"),
    }
}

/// The rows as name → value, for comparing shapes.
fn named(rows: &Rows) -> Vec<Vec<Option<Value>>> {
    (0..rows.len()).map(|i| rows.row(i).to_vec()).collect()
}

#[test]
fn every_shape_gives_the_same_rows() {
    let expected = rows(
        r#"{"instances": [{"x1": 1.5, "n": 3, "plan": "pro", "flag": true},
                          {"flag": false, "plan": null, "n": 4, "x1": 2}]}"#,
        cairn(),
    );
    assert_eq!(expected.len(), 2);
    assert_eq!(expected.get(0, 0), Some(&json!(1.5)));
    assert_eq!(expected.get(1, 2), Some(&Value::Null));
    let shapes = [
        // Positional rows, in the model's input order.
        r#"{"instances": [[1.5, 3, "pro", true], [2, 4, null, false]]}"#,
        // Columns.
        r#"{"inputs": {"x1": [1.5, 2], "n": [3, 4], "plan": ["pro", null], "flag": [true, false]}}"#,
        // `inputs` as rows.
        r#"{"inputs": [{"x1": 1.5, "n": 3, "plan": "pro", "flag": true}, [2, 4, null, false]]}"#,
        // pandas' split orientation, with its index and columns in another order.
        r#"{"dataframe_split": {"index": [0, 1], "columns": ["flag", "x1", "n", "plan"],
            "data": [[true, 1.5, 3, "pro"], [false, 2, 4, null]]}}"#,
        // pandas' records orientation.
        r#"{"dataframe_records": [{"x1": 1.5, "n": 3, "plan": "pro", "flag": true},
                                  {"x1": 2, "n": 4, "plan": null, "flag": false}]}"#,
    ];
    for body in shapes {
        assert_eq!(named(&rows(body, mlflow())), named(&expected), "{body}");
    }
    // One row of scalars in `inputs`.
    let one = rows(
        r#"{"inputs": {"x1": 1.5, "n": 3, "plan": "pro", "flag": true}}"#,
        cairn(),
    );
    assert_eq!(named(&one), named(&expected)[..1]);
}

#[test]
fn entities_are_join_keys() {
    let m = model(true);
    let parsed = parse_json(
        br#"{"entities": [{"user_id": 1}, {"user_id": 2, "region": "eu"}]}"#,
        &m.schema,
        cairn(),
    )
    .unwrap();
    match parsed {
        Parsed::Entities(e) => {
            assert_eq!(e.len(), 2);
            assert_eq!(e[1]["region"], json!("eu"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unknown_and_repeated_fields_are_named_with_their_row() {
    let e = refused(
        r#"{"instances": [{"x1": 1, "n": 1, "plan": "pro", "flag": true},
                          {"x1": 1, "n": 1, "plan": "pro", "flag": true, "colour": "red"}]}"#,
        cairn(),
    );
    assert_eq!(e.code(), "unknown_field");
    assert_eq!((e.field(), e.row()), (Some("colour"), Some(1)));
    assert!(e.to_string().contains("x1, n, plan, flag"), "{e}");
    // Ignored when the server says so.
    let ignore = ParseOptions {
        unknown: UnknownFields::Ignore,
        ..cairn()
    };
    let r = rows(
        r#"{"instances": [{"x1": 1, "n": 1, "plan": "pro", "flag": true, "colour": "red"}]}"#,
        ignore,
    );
    assert_eq!(r.len(), 1);
    let e = refused(
        r#"{"instances": [{"x1": 1, "x1": 2, "n": 1, "plan": "pro", "flag": true}]}"#,
        cairn(),
    );
    assert_eq!(
        (e.code(), e.field(), e.row()),
        ("duplicate_field", Some("x1"), Some(0))
    );
    let e = refused(
        r#"{"dataframe_split": {"columns": ["x1", "x9"], "data": [[1, 2]]}}"#,
        mlflow(),
    );
    assert_eq!((e.code(), e.field()), ("unknown_field", Some("x9")));
    let e = refused(r#"{"inputs": {"x1": [1], "zz": [2]}}"#, cairn());
    assert_eq!((e.code(), e.field()), ("unknown_field", Some("zz")));
}

#[test]
fn non_finite_numbers_are_named_with_their_row() {
    for (token, shown) in [
        ("NaN", "NaN"),
        ("Infinity", "Infinity"),
        ("-Infinity", "-Infinity"),
    ] {
        let body = format!(
            r#"{{"instances": [{{"x1": 1, "n": 2, "plan": "pro", "flag": true}},
                               {{"x1": 1, "n": {token}, "plan": "NaN", "flag": true}}]}}"#
        );
        let e = refused(&body, cairn());
        assert_eq!(e.code(), "non_finite", "{body}: {e}");
        assert_eq!((e.field(), e.row()), (Some("n"), Some(1)), "{body}");
        assert!(e.to_string().contains(shown), "{e}");
    }
    // In columns too; a "NaN" string is text, not a number (the category input takes it).
    let e = refused(r#"{"inputs": {"x1": [1, NaN], "n": [1, 2]}}"#, cairn());
    assert_eq!((e.field(), e.row()), (Some("x1"), Some(1)));
    let r = rows(
        r#"{"instances": [{"x1": 1, "n": 2, "plan": "NaN", "flag": true}]}"#,
        cairn(),
    );
    assert_eq!(r.get(0, 2), Some(&json!("NaN")));
}

#[test]
fn malformed_and_misshapen_bodies_are_refused() {
    let cases: [(&str, &str); 12] = [
        (r#"{"instances": [{"x1": 1,}]}"#, "malformed"),
        ("", "malformed"),
        ("not json", "malformed"),
        (r#"{"instances": [{"x1": 1}]"#, "malformed"),
        (r#"[{"x1": 1}]"#, "bad_shape"),
        (r#"{"x1": 1}"#, "bad_shape"),
        (r#"{}"#, "bad_shape"),
        (r#"{"instances": [], "inputs": {}}"#, "bad_shape"),
        (r#"{"instances": {"x1": 1}}"#, "bad_shape"),
        (r#"{"instances": [5]}"#, "bad_shape"),
        (r#"{"instances": [[1, 2]]}"#, "wrong_width"),
        (r#"{"inputs": {"x1": [1, 2], "n": [1]}}"#, "ragged_columns"),
    ];
    for (body, code) in cases {
        assert_eq!(refused(body, cairn()).code(), code, "{body}");
    }
    assert!(matches!(
        refused(r#"{"instances": []}"#, cairn()),
        ScoreError::Empty
    ));
    let e = refused(
        r#"{"dataframe_split": {"columns": ["x1", "n"], "data": [[1, 2], [3]]}}"#,
        mlflow(),
    );
    assert_eq!((e.code(), e.row()), ("wrong_width", Some(1)));
}

#[test]
fn mlflow_ignores_other_top_level_keys_and_cairn_refuses_them() {
    let body = r#"{"params": {"a": 1}, "dataframe_records": [{"x1": 1, "n": 2, "plan": "pro", "flag": true}]}"#;
    assert_eq!(rows(body, mlflow()).len(), 1);
    let e = refused(body, cairn());
    assert_eq!(e.code(), "bad_shape");
    assert!(e.to_string().contains("`params`"), "{e}");
}
