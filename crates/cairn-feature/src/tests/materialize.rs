//! Materialize: the offline table pinned in the lock, the online rows, what is skipped,
//! incremental runs, windows, validation first, views no longer declared.

use super::{DEFINITIONS, EVENTS, Fixture, floats, time};
use crate::{FeatureError, OnlineStore};

#[test]
fn a_full_run_pins_tables_and_fills_the_online_store() {
    let f = Fixture::new(DEFINITIONS);
    let first = f.materialize(&[]).unwrap();
    let views: Vec<&str> = first.views.iter().map(|v| v.view.as_str()).collect();
    assert_eq!(views, ["ratio", "stats"], "in name order");
    assert!(first.removed.is_empty());
    let stats = &first.views[1];
    assert!(!stats.skipped);
    assert_eq!((stats.rows, stats.entities), (4, 2));
    assert_eq!(stats.end.as_deref(), Some("2026-01-02T00:00:00Z"));
    assert_eq!(stats.validation, None);
    let lock = f.lock();
    let entry = &lock.feature["stats"];
    assert_eq!(
        (entry.digest, entry.size, entry.rows),
        (stats.digest, stats.size, 4)
    );
    assert!(!entry.incremental && entry.window_start.is_none());
    assert!(f.project().store().unwrap().has(&entry.digest, entry.size));
    // The online store: the latest row of each entity, from that table.
    let store = OnlineStore::open(&f.project().state_dir()).unwrap();
    let info = store.view("stats").unwrap().unwrap();
    assert_eq!(
        (info.rows, info.offline.as_str()),
        (2, &*entry.digest.to_hex())
    );
    assert_eq!(info.ttl_seconds, Some(2 * 86_400));
    let rows = store
        .read(
            "stats",
            &["[1]".to_owned(), "[2]".to_owned(), "[3]".to_owned()],
        )
        .unwrap();
    let one = rows[0].as_ref().unwrap();
    assert_eq!(one.event_us, time("2026-01-02"));
    assert_eq!(one.created_us, Some(time("2026-01-03")));
    assert_eq!(
        serde_json::Value::Object(one.features.clone()),
        serde_json::json!({"amount": 25.0, "n": 5})
    );
    assert_eq!(
        rows[1].as_ref().unwrap().features["amount"],
        serde_json::Value::Null
    );
    assert!(rows[2].is_none());
}

#[test]
fn an_unchanged_view_is_skipped_and_its_online_rows_rebuilt_from_the_table() {
    let f = Fixture::new(DEFINITIONS);
    f.materialize(&[]).unwrap();
    let lock = std::fs::read_to_string(f.path("cairn.lock")).unwrap();
    let again = f.materialize(&[]).unwrap();
    assert!(again.views.iter().all(|v| v.skipped));
    assert_eq!(std::fs::read_to_string(f.path("cairn.lock")).unwrap(), lock);
    // Without the online store, the rows come back from the pinned table: still skipped.
    for name in ["online.db", "online.db-wal", "online.db-shm"] {
        let _ = std::fs::remove_file(f.path(".cairn").join(name));
    }
    let rebuilt = f.materialize(&[]).unwrap();
    assert!(rebuilt.views.iter().all(|v| v.skipped));
    assert_eq!(rebuilt.views[1].entities, 2);
    let read = f
        .online_at(&["customer_id=1"], &["stats:n"], "2026-01-03")
        .unwrap();
    assert_eq!(read.entities[0].features["n"], 5);
    // A new source row, or a changed definition: computed again.
    f.write(
        "data/events.csv",
        &format!("{EVENTS}3,2026-01-03T00:00:00,2026-01-03T00:00:00,7.0,1\n"),
    );
    let changed = f.materialize(&["stats"]).unwrap();
    assert!(!changed.views[0].skipped);
    assert_eq!(changed.views[0].entities, 3);
    f.define(&DEFINITIONS.replace("ttl = \"2d\"", "ttl = \"3d\""));
    assert!(!f.materialize(&["stats"]).unwrap().views[0].skipped);
}

#[test]
fn incremental_appends_newer_events_to_the_table_a_full_run_makes() {
    let f = Fixture::new(DEFINITIONS);
    f.materialize(&["stats"]).unwrap();
    let mut events = EVENTS.to_owned();
    events.push_str("1,2026-01-04T00:00:00,2026-01-04T00:00:00,40.0,8\n");
    // A late event (older than the table's newest): not appended.
    events.push_str("2,2026-01-01T18:00:00,2026-01-05T00:00:00,9.0,1\n");
    f.write("data/events.csv", &events);
    let incremental = |f: &Fixture| f.materialize_with(&["stats"], |o| o.incremental = true);
    let appended = incremental(&f).unwrap();
    let view = &appended.views[0];
    assert_eq!((view.rows, view.entities), (5, 2));
    assert_eq!(view.end.as_deref(), Some("2026-01-04T00:00:00Z"));
    assert!(f.lock().feature["stats"].incremental);
    f.write(
        "e.csv",
        "customer_id,event_timestamp\n1,2026-01-04T12:00:00\n2,2026-01-02T00:00:00\n",
    );
    let frame = f
        .historical("e.csv", &["stats:amount", "stats:n"])
        .unwrap()
        .frame;
    assert_eq!(floats(&frame, "amount"), [Some(40.0), None]);
    let read = |entity: &str, at: &str| {
        let read = f.online_at(&[entity], &["stats:n"], at).unwrap();
        read.entities[0].features["n"].clone()
    };
    assert_eq!(read("customer_id=1", "2026-01-04"), 8);
    assert_eq!(
        read("customer_id=2", "2026-01-02"),
        4,
        "the late event is not there"
    );
    // A full run after an incremental one computes the view whole, late event included; on
    // a source with only newer events, both give the same table.
    let full = f.materialize(&["stats"]).unwrap();
    assert!(!full.views[0].skipped);
    assert_eq!(full.views[0].rows, 6);
    assert!(!f.lock().feature["stats"].incremental);
    let g = Fixture::new(DEFINITIONS);
    g.materialize(&["stats"]).unwrap();
    let newer = format!("{EVENTS}1,2026-01-04T00:00:00,2026-01-04T00:00:00,40.0,8\n");
    g.write("data/events.csv", &newer);
    let appended = incremental(&g).unwrap().views[0].digest;
    let h = Fixture::new(DEFINITIONS);
    h.write("data/events.csv", &newer);
    assert_eq!(h.materialize(&["stats"]).unwrap().views[0].digest, appended);
}

#[test]
fn incremental_refuses_a_changed_definition_or_a_windowed_table() {
    let f = Fixture::new(DEFINITIONS);
    f.materialize(&["stats"]).unwrap();
    f.define(&DEFINITIONS.replace("ttl = \"2d\"", "ttl = \"4d\""));
    let err = f
        .materialize_with(&["stats"], |o| o.incremental = true)
        .unwrap_err();
    assert!(
        matches!(&err, FeatureError::IncrementalAfterChange { view } if view == "stats"),
        "{err}"
    );
    f.define(DEFINITIONS);
    f.materialize_with(&["stats"], |o| o.start = Some(time("2026-01-02")))
        .unwrap();
    let err = f
        .materialize_with(&["stats"], |o| o.incremental = true)
        .unwrap_err();
    assert!(
        matches!(err, FeatureError::IncrementalAfterChange { .. }),
        "{err}"
    );
}

#[test]
fn a_window_keeps_the_events_from_start_to_before_end() {
    let f = Fixture::new(DEFINITIONS);
    let windowed = f
        .materialize_with(&["stats"], |o| {
            o.start = Some(time("2026-01-01T12:00:00"));
            o.end = Some(time("2026-01-02"));
        })
        .unwrap();
    assert_eq!((windowed.views[0].rows, windowed.views[0].entities), (1, 1));
    let entry = &f.lock().feature["stats"];
    assert_eq!(entry.window_start.as_deref(), Some("2026-01-01T12:00:00Z"));
    assert_eq!(entry.window_end.as_deref(), Some("2026-01-02T00:00:00Z"));
    // The same window again is unchanged; no window computes the whole table.
    let same = f
        .materialize_with(&["stats"], |o| {
            o.start = Some(time("2026-01-01T12:00:00"));
            o.end = Some(time("2026-01-02"));
        })
        .unwrap();
    assert!(same.views[0].skipped);
    let whole = f.materialize(&["stats"]).unwrap();
    assert_eq!((whole.views[0].skipped, whole.views[0].rows), (false, 4));
    // A window without events: an empty table without an end.
    let empty = f
        .materialize_with(&["stats"], |o| o.start = Some(time("2027-01-01")))
        .unwrap();
    assert_eq!(
        (empty.views[0].rows, empty.views[0].end.as_deref()),
        (0, None)
    );
}

#[test]
fn a_source_is_validated_first() {
    let f = Fixture::new(&format!(
        "{DEFINITIONS}\n[dataset.\"data/events.csv\".columns.amount]\nnot_null = true\n"
    ));
    let err = f.materialize(&["stats"]).unwrap_err();
    match &err {
        FeatureError::ValidationFailed { view, report } => {
            assert_eq!(view, "stats");
            assert!(!report.passed);
            let failed: Vec<&str> = report
                .checks
                .iter()
                .filter(|c| !c.passed)
                .map(|c| c.check)
                .collect();
            assert_eq!(failed, ["not_null"]);
        }
        other => panic!("{other}"),
    }
    assert!(f.lock().feature.is_empty(), "nothing is pinned");
    let skipped = f
        .materialize_with(&["stats"], |o| o.skip_validation = true)
        .unwrap();
    assert_eq!(skipped.views[0].validation.as_deref(), Some("skipped"));
    assert_eq!(
        f.lock().feature["stats"].validation.as_deref(),
        Some("skipped")
    );
    f.write("data/events.csv", &EVENTS.replace(",,4", ",1.0,4"));
    let passed = f.materialize(&["stats"]).unwrap();
    assert_eq!(passed.views[0].validation.as_deref(), Some("passed"));
}

#[test]
fn a_view_no_longer_declared_is_forgotten_by_a_run_over_every_view() {
    let f = Fixture::new(DEFINITIONS);
    f.materialize(&[]).unwrap();
    let without = DEFINITIONS
        .replace(", \"ratio:per_item\"]", "]")
        .replace(
            "[feature_view.ratio]\nsource = \"data/events.csv\"\nentities = [\"customer\"]\n\
             timestamp = \"ts\"\nsql = \"SELECT customer_id, ts, amount / n AS per_item FROM source\"\n\
             features = { per_item = \"float\" }\n",
            "",
        );
    assert!(!without.contains("feature_view.ratio"));
    f.define(&without);
    // Naming views forgets nothing.
    assert!(f.materialize(&["stats"]).unwrap().removed.is_empty());
    assert!(f.lock().feature.contains_key("ratio"));
    let all = f.materialize(&[]).unwrap();
    assert_eq!(all.removed, ["ratio"]);
    assert!(!f.lock().feature.contains_key("ratio"));
    let store = OnlineStore::open(&f.project().state_dir()).unwrap();
    assert_eq!(store.views().unwrap(), ["stats"]);
}

#[test]
fn rows_without_a_time_or_a_key_are_left_out_and_an_empty_source_is_an_empty_view() {
    let f = Fixture::new(DEFINITIONS);
    f.write(
        "data/events.csv",
        &format!(
            "{EVENTS}3,,2026-01-01T00:00:00,1.0,1\n,2026-01-01T00:00:00,2026-01-01T00:00:00,1.0,1\n"
        ),
    );
    let view = &f.materialize(&["stats"]).unwrap().views[0];
    assert_eq!((view.rows, view.entities), (4, 2));
    f.write("data/events.csv", "customer_id,ts,created,amount,n\n");
    let empty = f.materialize(&[]).unwrap();
    assert!(empty.views.iter().all(|v| v.rows == 0 && v.entities == 0));
}

/// `rows` events of 300 customers (a third of them customer 7's) on 60 distinct times, so
/// that times tie, with a tenth of the created times and a fiftieth of the amounts missing.
/// Deterministic (xorshift).
fn many_events(rows: usize) -> String {
    let mut text = String::from("customer_id,ts,created,amount,n\n");
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..rows {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let customer = if x.is_multiple_of(3) { 7 } else { x % 300 };
        let day = 1 + (x >> 8) % 20;
        let hour = (x >> 16) % 3;
        let created = if (x >> 24).is_multiple_of(10) {
            String::new()
        } else {
            format!("2026-02-{:02}T00:00:00", 1 + (x >> 28) % 5)
        };
        let amount = if (x >> 32).is_multiple_of(50) {
            String::new()
        } else {
            format!("{}.5", (x >> 36) % 1000)
        };
        text.push_str(&format!(
            "{customer},2026-01-{day:02}T{hour:02}:00:00,{created},{amount},{i}\n"
        ));
    }
    text
}

#[test]
fn a_view_sorted_on_disk_in_buckets_is_byte_for_byte_the_view_sorted_in_memory() {
    let events = many_events(20_000);
    let spilled = Fixture::new(DEFINITIONS);
    let in_memory = Fixture::new(DEFINITIONS);
    for f in [&spilled, &in_memory] {
        f.write("data/events.csv", &events);
    }
    // 1 MiB: buckets of 170 KiB, about a sixth of the view; customer 7 alone is a third of it, so
    // its rows are cut by event and created time (missing created times included).
    let small = |o: &mut crate::MaterializeOptions| o.memory_budget = Some(1 << 20);
    let a = spilled.materialize_with(&["stats"], small).unwrap();
    let b = in_memory.materialize(&["stats"]).unwrap();
    assert!(a.views[0].sort_buckets >= 4, "{:?}", a.views[0]);
    assert_eq!(
        b.views[0].sort_buckets, 0,
        "a quarter of the machine holds it"
    );
    assert_eq!(a.views[0].rows, 20_000);
    assert_eq!(
        (a.views[0].digest, a.views[0].entities),
        (b.views[0].digest, b.views[0].entities)
    );
    // The temporary files are gone.
    let store = spilled.project().store().unwrap();
    let left: Vec<_> = std::fs::read_dir(store.tmp_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // An incremental run sorts the pinned table and the new rows the same way.
    let newer = format!(
        "{events}7,2026-01-25T00:00:00,,1.0,1\n7,2026-01-25T00:00:00,2026-01-24T00:00:00,2.0,2\n"
    );
    for f in [&spilled, &in_memory] {
        f.write("data/events.csv", &newer);
    }
    let a = spilled
        .materialize_with(&["stats"], |o| {
            small(o);
            o.incremental = true;
        })
        .unwrap();
    let b = in_memory
        .materialize_with(&["stats"], |o| o.incremental = true)
        .unwrap();
    assert!(a.views[0].sort_buckets >= 4, "{:?}", a.views[0]);
    assert_eq!(a.views[0].rows, 20_002);
    assert_eq!(a.views[0].digest, b.views[0].digest);
    // What the online store serves for the heavy customer: its newest event, the row created
    // later of the two that tie.
    let read = spilled.online_at(&["customer_id=7"], &["stats:amount"], "2026-01-26");
    assert_eq!(read.unwrap().entities[0].features["amount"], 2.0);
}
