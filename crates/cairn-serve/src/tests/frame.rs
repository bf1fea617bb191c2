//! Tables (cairn predict) through the scoring path.

use polars::prelude::*;
use serde_json::json;

use super::model;
use crate::frame::{Layout, frame_rows};
use crate::schema::UnknownFields;

fn names(frame: &DataFrame) -> Vec<String> {
    frame
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect()
}

#[test]
fn columns_are_read_as_their_inputs() {
    let m = model(true);
    // Digits in the category column are text; ints into a float input are numbers.
    let frame = df!(
        "x1" => [1i64, 2],
        "n" => [Some(3i64), None],
        "plan" => [10i64, 20],
        "flag" => [true, false],
    )
    .unwrap();
    let layout = Layout::of(&names(&frame), &m.schema, None, UnknownFields::Reject).unwrap();
    let rows = frame_rows(&frame, &m.schema, &layout, 0).unwrap();
    assert_eq!(
        rows.row(1),
        &[
            Some(json!(2)),
            Some(json!(null)),
            Some(json!("20")),
            Some(json!(false))
        ]
    );
}

#[test]
fn bad_tables_are_refused_with_the_row_of_the_table() {
    let m = model(true);
    let frame = df!(
        "x1" => [1.0, f64::INFINITY],
        "n" => [1i64, 2],
        "plan" => ["a", "b"],
        "flag" => [true, false],
    )
    .unwrap();
    let layout = Layout::of(&names(&frame), &m.schema, None, UnknownFields::Reject).unwrap();
    // This batch starts at row 100 of the table.
    let e = frame_rows(&frame, &m.schema, &layout, 100).unwrap_err();
    assert_eq!(
        (e.code(), e.field(), e.row()),
        ("non_finite", Some("x1"), Some(101))
    );
    let extra = df!("x1" => [1.0], "id" => [5i64]).unwrap();
    let e = Layout::of(&names(&extra), &m.schema, None, UnknownFields::Reject).unwrap_err();
    assert_eq!((e.code(), e.field()), ("unknown_field", Some("id")));
    Layout::of(&names(&extra), &m.schema, None, UnknownFields::Ignore).unwrap();
    // Entity tables hold join keys only.
    let keys = vec!["user_id".to_owned()];
    let e = Layout::of(
        &names(&extra),
        &m.schema,
        Some(&keys),
        UnknownFields::Ignore,
    )
    .unwrap_err();
    assert_eq!((e.code(), e.field()), ("bad_entity", Some("user_id")));
}

#[test]
fn a_text_column_for_a_number_input_is_refused_at_the_row_that_is_not_a_number() {
    let m = model(true);
    // A CSV column with one word in it is read as text.
    let frame = df!(
        "x1" => ["1.5", "2", " 3 ", "high"],
        "n" => [1i64, 2, 3, 4],
        "plan" => ["free", "pro", "team", "pro"],
        "flag" => [true, false, true, false],
    )
    .unwrap();
    let layout = Layout::of(&names(&frame), &m.schema, None, UnknownFields::Reject).unwrap();
    let rows = frame_rows(&frame, &m.schema, &layout, 40).unwrap();
    assert_eq!(rows.row(0)[0], Some(json!(1.5)));
    assert_eq!(rows.row(1)[0], Some(json!(2)));
    assert_eq!(rows.row(2)[0], Some(json!(3)));
    // The scoring path refuses the word at its row of the table.
    let e = crate::score(&m, &rows).map(|_| ()).unwrap_err().offset(40);
    assert_eq!(
        (e.code(), e.field(), e.row()),
        ("wrong_type", Some("x1"), Some(43))
    );
    // "NaN" and "inf" in text are not finite numbers.
    let frame = df!(
        "x1" => ["1", "NaN"],
        "n" => [1i64, 2],
        "plan" => ["free", "pro"],
        "flag" => [true, false],
    )
    .unwrap();
    let e = frame_rows(&frame, &m.schema, &layout, 0).unwrap_err();
    assert_eq!(
        (e.code(), e.field(), e.row()),
        ("non_finite", Some("x1"), Some(1))
    );
}
