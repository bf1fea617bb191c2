//! `text/csv` bodies.

use serde_json::{Value, json};

use super::model;
use crate::csv::parse_csv;
use crate::schema::UnknownFields;

#[test]
fn csv_rows_are_typed_by_their_inputs() {
    let m = model(true);
    let body = "flag,x1,n,plan\r\ntrue,1.5,3,pro\r\nFalse,2,,\"te,am\"\r\n";
    let rows = parse_csv(body.as_bytes(), &m.schema, UnknownFields::Reject).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows.row(0),
        &[
            Some(json!(1.5)),
            Some(json!(3)),
            Some(json!("pro")),
            Some(json!(true))
        ]
    );
    assert_eq!(
        rows.row(1),
        &[
            Some(json!(2)),
            Some(Value::Null),
            Some(json!("te,am")),
            Some(json!(false))
        ]
    );
}

#[test]
fn pandas_index_quotes_and_blank_lines() {
    let m = model(true);
    // `df.to_csv()`: an unnamed index column first; a quote inside a quoted field is doubled.
    let body = ",x1,n,plan,flag\n0,1,2,\"say \"\"hi\"\"\",True\n\n1,3,4,pro,False\n";
    let rows = parse_csv(body.as_bytes(), &m.schema, UnknownFields::Reject).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows.get(0, 2), Some(&json!("say \"hi\"")));
    // A category input keeps digits as text.
    let body = "x1,n,plan,flag\n1,2,007,true\n";
    let rows = parse_csv(body.as_bytes(), &m.schema, UnknownFields::Reject).unwrap();
    assert_eq!(rows.get(0, 2), Some(&json!("007")));
}

#[test]
fn bad_csv_is_refused_with_field_and_row() {
    let m = model(true);
    let parse = |body: &str| parse_csv(body.as_bytes(), &m.schema, UnknownFields::Reject);
    let e = parse("x1,n,plan,flag\n1,2,pro,true\n1,nan,pro,true\n").unwrap_err();
    assert_eq!(
        (e.code(), e.field(), e.row()),
        ("non_finite", Some("n"), Some(1))
    );
    let e = parse("x1,n,plan,flag\n1,inf,pro,true\n").unwrap_err();
    assert_eq!(e.code(), "non_finite");
    let e = parse("x1,n,plan,flag,extra\n1,2,pro,true,9\n").unwrap_err();
    assert_eq!((e.code(), e.field()), ("unknown_field", Some("extra")));
    let e = parse("x1,n,plan,flag\n1,2,pro\n").unwrap_err();
    assert_eq!((e.code(), e.row()), ("wrong_width", Some(0)));
    let e = parse("x1,n,plan,flag\n1,2,\"pro,true\n").unwrap_err();
    assert_eq!(e.code(), "malformed");
    assert_eq!(parse("x1,n,plan,flag\n").unwrap_err().code(), "no_rows");
    assert_eq!(parse("").unwrap_err().code(), "no_rows");
    let ignored = parse_csv(
        b"x1,n,plan,flag,extra\n1,2,pro,true,9\n",
        &m.schema,
        UnknownFields::Ignore,
    )
    .unwrap();
    assert_eq!(ignored.len(), 1);
}
