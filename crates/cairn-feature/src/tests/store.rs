//! The online store on its own: replacing a view, the newer-wins upsert, forgetting a view,
//! refusing a newer schema.

use crate::online::{NewRow, NewRows};
use crate::{FeatureError, OnlineStore, ViewInfo};

fn info(rows: u64) -> ViewInfo {
    ViewInfo {
        view: "v".into(),
        rows,
        offline: "0".repeat(64),
        definition: "1".repeat(64),
        ttl_seconds: None,
        materialized_at: 0,
    }
}

fn row(key: i64, event_us: i64, created_us: Option<i64>, value: i64) -> NewRow {
    NewRow {
        key: format!("[{key}]"),
        event_us,
        created_us,
        values: vec![Some(value.to_string())],
    }
}

/// The one feature, `x`.
fn names() -> Vec<String> {
    vec!["x".into()]
}

/// Rows of [`names`].
fn rows<const N: usize>(rows: [NewRow; N]) -> NewRows {
    NewRows {
        names: names(),
        rows: rows.into(),
    }
}

/// The value of `x` for each key, `None` where the key has no row.
fn values(store: &OnlineStore, keys: &[i64]) -> Vec<Option<i64>> {
    let keys: Vec<String> = keys.iter().map(|k| format!("[{k}]")).collect();
    store
        .read("v", &keys)
        .unwrap()
        .into_iter()
        .map(|r| r.map(|r| r.features["x"].as_i64().unwrap()))
        .collect()
}

#[test]
fn an_upsert_never_replaces_a_row_with_an_older_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = OnlineStore::open(dir.path()).unwrap();
    store
        .upsert_rows(
            &info(0),
            &rows([row(1, 10, Some(5), 1), row(2, 10, None, 1)]),
        )
        .unwrap();
    assert_eq!(values(&store, &[1, 2, 3]), [Some(1), Some(1), None]);
    let steps = [
        (row(1, 9, Some(9), 2), 1, "an older event time loses"),
        (
            row(1, 10, Some(4), 3),
            1,
            "the same event time, created earlier, loses",
        ),
        (
            row(1, 10, None, 4),
            1,
            "a missing created time is older than any",
        ),
        (
            row(1, 10, Some(5), 5),
            5,
            "equal times: the newer write wins",
        ),
        (row(1, 11, None, 6), 6, "a newer event time wins"),
    ];
    for (new, want, why) in steps {
        store.upsert_rows(&info(0), &rows([new])).unwrap();
        assert_eq!(values(&store, &[1])[0], Some(want), "{why}");
    }
    // Without created times on either side, the newer write wins too.
    store
        .upsert_rows(&info(0), &rows([row(2, 10, None, 7)]))
        .unwrap();
    assert_eq!(values(&store, &[2]), [Some(7)]);
    store
        .upsert_rows(&info(0), &rows([row(3, 1, None, 8)]))
        .unwrap();
    let view = store.view("v").unwrap().unwrap();
    assert_eq!(view.rows, 3, "counted from the table");
    let read = store.read("v", &["[1]".to_owned()]).unwrap();
    assert_eq!(
        read[0].as_ref().map(|r| (r.event_us, r.created_us)),
        Some((11, None))
    );
}

#[test]
fn a_replaced_view_has_only_its_new_rows_and_a_dropped_one_none() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = OnlineStore::open(dir.path()).unwrap();
    store
        .replace_view(
            &info(2),
            &names(),
            &mut rows([row(1, 1, None, 1), row(2, 1, None, 2)]).batches(),
        )
        .unwrap();
    store
        .replace_view(
            &info(1),
            &names(),
            &mut rows([row(2, 0, None, 3)]).batches(),
        )
        .unwrap();
    assert_eq!(
        values(&store, &[1, 2]),
        [None, Some(3)],
        "older rows replace too"
    );
    assert_eq!(store.views().unwrap(), ["v"]);
    assert_eq!(store.view("v").unwrap().unwrap().rows, 1);
    store.drop_view("v").unwrap();
    assert!(store.views().unwrap().is_empty());
    assert!(store.view("v").unwrap().is_none());
}

#[test]
fn a_store_from_a_newer_cairn_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(OnlineStore::open(dir.path()).unwrap());
    let conn = rusqlite::Connection::open(dir.path().join("online.db")).unwrap();
    conn.pragma_update(None, "user_version", 2).unwrap();
    drop(conn);
    let err = OnlineStore::open(dir.path()).err().unwrap();
    assert!(
        matches!(&err, FeatureError::Online { message, .. } if message.contains("newer cairn")),
        "{err}"
    );
}

#[test]
fn a_damaged_row_is_an_error_naming_the_view() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = OnlineStore::open(dir.path()).unwrap();
    store
        .replace_view(
            &info(1),
            &names(),
            &mut rows([row(1, 1, None, 1)]).batches(),
        )
        .unwrap();
    let conn = rusqlite::Connection::open(dir.path().join("online.db")).unwrap();
    conn.execute(r#"UPDATE "fv:v" SET features = '[1,2]'"#, [])
        .unwrap();
    drop(conn);
    let err = store.read("v", &["[1]".to_owned()]).unwrap_err();
    assert!(
        err.to_string().contains("a row of view v is damaged"),
        "{err}"
    );
}
