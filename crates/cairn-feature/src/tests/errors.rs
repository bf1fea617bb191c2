//! Errors: unknown names, views not materialized or changed since, bad entities and entity
//! tables. Every message says what is wrong without naming a command-line flag.

use super::{DEFINITIONS, Fixture};
use crate::FeatureError;

/// A message of the library: no flag in it (the CLI adds those to its hints).
#[track_caller]
fn says(err: &FeatureError, needle: &str) {
    let text = err.to_string();
    assert!(text.contains(needle), "{text:?} lacks {needle:?}");
    assert!(
        !text.contains("--"),
        "a library message names a flag: {text}"
    );
}

#[test]
fn unknown_views_services_features_and_references() {
    let f = Fixture::new(DEFINITIONS);
    let err = f.materialize(&["stats", "nope"]).unwrap_err();
    match &err {
        FeatureError::UnknownView { name, declared } => {
            assert_eq!((name.as_str(), declared.as_str()), ("nope", "ratio, stats"));
        }
        other => panic!("{other}"),
    }
    assert!(
        f.lock().feature.is_empty(),
        "checked before anything is done"
    );
    f.materialize(&[]).unwrap();
    let cases: [(&[&str], Option<&str>, &str); 6] = [
        (&["nope:x"], None, "no feature view `nope`"),
        (
            &["stats:label"],
            None,
            "has no feature `label` (it has: amount, n)",
        ),
        (&["amount"], None, "`amount` is not a feature reference"),
        (&["stats:a:b"], None, "is not a feature reference"),
        (&[" , "], None, "no features requested"),
        (
            &[],
            Some("nope"),
            "no feature service `nope` is declared in cairn.toml (declared: fraud)",
        ),
    ];
    for (features, service, message) in cases {
        let mut options = f.historical_options("entities.csv", features);
        options.service = service.map(str::to_owned);
        let err = crate::historical_frame(&f.project(), &options).unwrap_err();
        says(&err, message);
        let mut online = f.online_options(&["customer_id=1"], features);
        online.service = service.map(str::to_owned);
        let err = crate::online(&f.project(), &online).unwrap_err();
        says(&err, message);
    }
}

#[test]
fn views_not_materialized_or_changed_since() {
    let f = Fixture::new(DEFINITIONS);
    let err = f.historical("entities.csv", &["stats:amount"]).unwrap_err();
    assert!(
        matches!(&err, FeatureError::NotMaterialized { view } if view == "stats"),
        "{err}"
    );
    let err = f
        .online_at(&["customer_id=1"], &["stats:amount"], "2026-01-02")
        .unwrap_err();
    assert!(matches!(err, FeatureError::NotMaterialized { .. }), "{err}");
    assert!(
        !f.path(".cairn/online.db").exists(),
        "reading does not create the online store"
    );
    f.materialize(&["stats"]).unwrap();
    let err = f
        .historical("entities.csv", &["ratio:per_item"])
        .unwrap_err();
    assert!(
        matches!(&err, FeatureError::NotMaterialized { view } if view == "ratio"),
        "{err}"
    );
    let err = f
        .online_at(&["customer_id=1"], &["ratio:per_item"], "2026-01-02")
        .unwrap_err();
    assert!(
        matches!(&err, FeatureError::NotMaterialized { view } if view == "ratio"),
        "{err}"
    );
    f.define(&DEFINITIONS.replace("ttl = \"2d\"", "ttl = \"3d\""));
    let err = f.historical("entities.csv", &["stats:amount"]).unwrap_err();
    assert!(
        matches!(&err, FeatureError::Stale { view } if view == "stats"),
        "{err}"
    );
    says(&err, "changed in cairn.toml since it was last materialized");
    let err = f
        .online_at(&["customer_id=1"], &["stats:amount"], "2026-01-02")
        .unwrap_err();
    assert!(matches!(err, FeatureError::Stale { .. }), "{err}");
}

#[test]
fn bad_entities_name_the_entity_and_the_reason() {
    let f = Fixture::new(DEFINITIONS);
    f.materialize(&[]).unwrap();
    let cases = [
        (
            "customer_id=abc",
            "`customer_id` is an int key; `abc` is not an integer",
        ),
        (
            "merchant=1",
            "`merchant` is not a join key (the keys are: customer_id)",
        ),
        ("customer_id", "`customer_id` is not key=value"),
        ("customer_id=1,x", "`x` is not key=value"),
    ];
    for (text, reason) in cases {
        let err = f
            .online_at(&["customer_id=2", text], &["stats:n"], "2026-01-02")
            .unwrap_err();
        match &err {
            FeatureError::BadEntity { text: t, reason: r } => {
                assert_eq!((t.as_str(), r.as_str()), (text, reason));
            }
            other => panic!("{other}"),
        }
        says(&err, &format!("entity {text}: {reason}"));
    }
}

#[test]
fn entity_tables_without_the_columns_a_join_needs() {
    let f = Fixture::new(DEFINITIONS);
    f.materialize(&[]).unwrap();
    let mut options = f.historical_options("entities.csv", &["stats:amount"]);
    options.timestamp = "when".into();
    let err = crate::historical_frame(&f.project(), &options).unwrap_err();
    match &err {
        FeatureError::NoTimeColumn {
            column, columns, ..
        } => {
            assert_eq!(column, "when");
            assert_eq!(columns, "customer_id, event_timestamp, label");
        }
        other => panic!("{other}"),
    }
    says(&err, "no time column `when`");
    f.write("e.csv", "client,event_timestamp\n1,2026-01-02T00:00:00\n");
    let err = f.historical("e.csv", &["stats:amount"]).unwrap_err();
    assert!(
        matches!(&err, FeatureError::NoJoinKey { view, key, .. } if view == "stats" && key == "customer_id"),
        "{err}"
    );
    says(
        &err,
        "view `stats` joins on `customer_id`, which the entity table lacks",
    );
    f.write("e.csv", "customer_id,event_timestamp\n1,yesterday\n");
    let err = f.historical("e.csv", &["stats:amount"]).unwrap_err();
    assert!(matches!(err, FeatureError::Entities { .. }), "{err}");
    says(&err, "not a date or datetime");
    let err = f.historical("missing.csv", &["stats:amount"]).unwrap_err();
    assert!(matches!(err, FeatureError::Table(_)), "{err}");
    // An output into a directory that does not exist is found before the join.
    let mut options = f.historical_options("entities.csv", &["stats:amount"]);
    options.output = f.path("no/such/dir/o.csv");
    let err = crate::historical(&f.project(), &options).unwrap_err();
    assert!(matches!(err, FeatureError::OutputDirectory { .. }), "{err}");
}
