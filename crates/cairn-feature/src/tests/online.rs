//! Online reads: the latest row per entity, the ttl against the clock or a given moment, rows
//! newer than that moment, and the reader a model server keeps open.

use cairn_core::time::system_time;
use serde_json::{Value, json};
use std::collections::BTreeMap;

use super::{DEFINITIONS, Fixture, time};
use crate::{EntityFeatures, FeatureError, OnlineReader};

fn entity(id: Value) -> BTreeMap<String, Value> {
    BTreeMap::from([("customer_id".to_owned(), id)])
}

fn json_of(entities: &[EntityFeatures]) -> String {
    serde_json::to_string(entities).unwrap()
}

#[test]
fn the_ttl_is_measured_against_the_clock() {
    let f = Fixture::new(DEFINITIONS);
    f.materialize(&[]).unwrap();
    let read = |now: &str| {
        let mut options = f.online_options(
            &["customer_id=1", "customer_id=7"],
            &["stats:amount", "stats:n", "ratio:per_item"],
        );
        options.now = system_time(time(now));
        crate::online(&f.project(), &options).unwrap()
    };
    // A day after customer 1's latest row (01-02, created 01-03: 25.0 and 5).
    let fresh = read("2026-01-03T00:00:00");
    assert_eq!(fresh.at, None);
    let one = &fresh.entities[0];
    assert_eq!(one.keys["customer_id"], 1);
    assert_eq!(
        (&one.features["amount"], &one.features["n"]),
        (&json!(25.0), &json!(5))
    );
    assert_eq!(one.features["per_item"], 5.0);
    assert_eq!(one.event_times["stats"], "2026-01-02T00:00:00Z");
    assert!(one.expired.is_empty() && one.missing.is_empty());
    assert_eq!(fresh.entities[1].missing, ["stats", "ratio"]);
    assert!(fresh.entities[1].event_times.is_empty());
    // Exactly two days later: still served; a microsecond more: expired, its features null,
    // its event time still given. The view without a ttl never expires.
    let edge = read("2026-01-04T00:00:00");
    assert_eq!(edge.entities[0].features["n"], 5);
    let expired = read("2026-01-04T00:00:00.000001");
    let one = &expired.entities[0];
    assert_eq!(one.expired, ["stats"]);
    assert_eq!(
        (&one.features["amount"], &one.features["n"]),
        (&Value::Null, &Value::Null)
    );
    assert_eq!(one.event_times["stats"], "2026-01-02T00:00:00Z");
    assert_eq!(one.features["per_item"], 5.0);
}

#[test]
fn a_past_moment_is_served_with_at() {
    let f = Fixture::new(DEFINITIONS);
    f.materialize(&[]).unwrap();
    let features = ["stats:amount", "stats:n"];
    let entities = ["customer_id=1", "customer_id=2"];
    // Customer 2's only row is at 2026-01-01T12:00 (inclusive); customer 1's latest row is
    // at 01-02, after the moment: the value then is unknown, so the view is missing.
    let before = f
        .online_at(&entities, &features, "2026-01-01T12:00:00")
        .unwrap();
    assert_eq!(before.at.as_deref(), Some("2026-01-01T12:00:00Z"));
    let (one, two) = (&before.entities[0], &before.entities[1]);
    assert_eq!(one.missing, ["stats"]);
    assert!(
        one.event_times.is_empty(),
        "no row is served, so no event time"
    );
    assert_eq!(one.features["n"], Value::Null);
    assert_eq!(two.features["n"], 4);
    assert_eq!(two.event_times["stats"], "2026-01-01T12:00:00Z");
    // The ttl counts from `at`, whatever the clock says.
    let mut options = f.online_options(&entities, &features);
    options.now = system_time(time("2026-01-02T00:00:00"));
    options.at = Some(time("2026-01-03T12:00:00.000001"));
    let later = crate::online(&f.project(), &options).unwrap();
    assert_eq!(later.entities[0].features["n"], 5);
    assert_eq!(later.entities[1].expired, ["stats"]);
    assert!(later.entities[1].missing.is_empty());
    options.at = Some(time("2026-01-03T12:00:00"));
    let edge = crate::online(&f.project(), &options).unwrap();
    assert_eq!(edge.entities[1].features["n"], 4);
}

#[test]
fn a_reader_answers_as_the_command_does_read_after_read() {
    let f = Fixture::new(DEFINITIONS);
    f.write(
        "data/events.csv",
        "customer_id,ts,created,amount,n\n1,2026-01-01T00:00:00,,10.5,1\n\
         1,2026-01-02T00:00:00,,,2\n2,2026-01-01T00:00:00,,3.0,7\n",
    );
    f.materialize(&[]).unwrap();
    let p = f.project();
    let features = vec!["stats:n,stats:amount".to_owned()];
    let reader = OnlineReader::open(&p, &features, None, false).unwrap();
    assert_eq!(reader.names(), ["n", "amount"]);
    assert_eq!(
        reader.join_keys().keys().collect::<Vec<_>>(),
        ["customer_id"]
    );
    let now = system_time(time("2026-01-02T12:00:00"));
    let asked = [entity(json!(2)), entity(json!(9)), entity(json!(1))];
    let got = reader.read(&asked, now).unwrap();
    let mut options = f.online_options(
        &["customer_id=2", "customer_id=9", "customer_id=1"],
        &["stats:n,stats:amount"],
    );
    options.now = now;
    let want = crate::online(&p, &options).unwrap();
    assert_eq!(json_of(&got), json_of(&want.entities));
    assert_eq!(got[0].features["n"], 7);
    assert_eq!(got[0].features["amount"], 3.0);
    assert_eq!(got[1].missing, ["stats"]);
    assert_eq!(got[2].features["amount"], Value::Null);
    assert_eq!(got[2].event_times["stats"], "2026-01-02T00:00:00Z");
    // As of a moment, the same as the command with `at`.
    let at = time("2026-01-01T06:00:00");
    let got_at = reader.read_at(&asked, at).unwrap();
    options.at = Some(at);
    let want_at = crate::online(&p, &options).unwrap();
    assert_eq!(json_of(&got_at), json_of(&want_at.entities));
    assert_eq!(got_at[2].missing, ["stats"]);
    // Again, and one at a time.
    for (entity, want) in asked.iter().zip(&got) {
        let again = reader.read(std::slice::from_ref(entity), now).unwrap();
        assert_eq!(json_of(&again), json_of(std::slice::from_ref(want)));
    }
    // Keys of the wrong type or name, or missing.
    for bad in [
        entity(json!("2")),
        entity(json!(2.5)),
        BTreeMap::from([("merchant".to_owned(), json!(1))]),
    ] {
        let err = reader.read(&[bad], now).unwrap_err();
        assert!(matches!(err, FeatureError::BadEntity { .. }), "{err}");
    }
    let err = reader.read(&[BTreeMap::new()], now).unwrap_err();
    assert!(err.to_string().contains("needs the join key"), "{err}");
    // The store changes under an open reader: new rows are seen; a new definition makes the
    // reader's stale.
    f.write(
        "data/events.csv",
        "customer_id,ts,created,amount,n\n9,2026-01-03T00:00:00,,1.0,1\n",
    );
    f.materialize(&[]).unwrap();
    let got = reader.read(&asked, now).unwrap();
    assert_eq!(got[1].features["n"], 1);
    assert_eq!(got[0].missing, ["stats"]);
    f.define(&DEFINITIONS.replace("n = \"int\"", "n = \"float\""));
    f.materialize(&[]).unwrap();
    let err = reader.read(&asked, now).unwrap_err();
    assert!(matches!(err, FeatureError::Stale { .. }), "{err}");
}

#[test]
fn several_keys_and_several_views_in_one_request() {
    let f = Fixture::new(
        r#"
[entity.customer]
join_keys = { customer_id = "int" }
[entity.merchant]
join_keys = { merchant = "string" }
[feature_view.pair]
source = "data/pairs.csv"
entities = ["customer", "merchant"]
timestamp = "ts"
features = { spend = "float" }
[feature_view.merchant]
source = "data/merchants.csv"
entities = ["merchant"]
timestamp = "ts"
features = { risk = "float" }
"#,
    );
    f.write(
        "data/pairs.csv",
        "customer_id,merchant,ts,spend\n1,a,2026-01-01T00:00:00,5\n1,b,2026-01-01T00:00:00,7\n\
         2,a,2026-01-01T00:00:00,9\n",
    );
    f.write(
        "data/merchants.csv",
        "merchant,ts,risk\na,2026-01-01T00:00:00,0.1\nb,2026-01-01T00:00:00,0.9\n",
    );
    f.materialize(&[]).unwrap();
    let features = ["pair:spend,merchant:risk"];
    let read = f
        .online_at(
            &["customer_id=1, merchant=a", "merchant=b,customer_id=2"],
            &features,
            "2026-01-02",
        )
        .unwrap();
    let (first, second) = (&read.entities[0], &read.entities[1]);
    assert_eq!(first.keys["merchant"], "a");
    assert_eq!(
        (&first.features["spend"], &first.features["risk"]),
        (&json!(5.0), &json!(0.1))
    );
    assert_eq!(second.missing, ["pair"]);
    assert_eq!(second.features["risk"], 0.9);
    let err = f
        .online_at(&["customer_id=1"], &["pair:spend"], "2026-01-02")
        .unwrap_err();
    match err {
        FeatureError::BadEntity { text, reason } => {
            assert_eq!(text, "customer_id=1");
            assert_eq!(reason, "view `pair` needs the join key `merchant`");
        }
        other => panic!("{other}"),
    }
    // Historical joins see the same rows.
    f.write(
        "e.csv",
        "customer_id,merchant,event_timestamp\n1,b,2026-01-02T00:00:00\n2,b,2026-01-02T00:00:00\n",
    );
    let frame = f.historical("e.csv", &features).unwrap().frame;
    assert_eq!(super::floats(&frame, "spend"), [Some(7.0), None]);
    assert_eq!(super::floats(&frame, "risk"), [Some(0.9), Some(0.9)]);
}
