//! Plan and list.

use super::{DEFINITIONS, Fixture};
use crate::FeatureError;

#[test]
fn plan_says_what_materialize_would_do() {
    let f = Fixture::new(DEFINITIONS);
    let plan = crate::plan(&f.project()).unwrap();
    assert_eq!(plan.services, ["fraud"]);
    let views: Vec<(&str, u64, &str)> = plan
        .views
        .iter()
        .map(|v| (v.view.as_str(), v.rows, v.action))
        .collect();
    assert_eq!(views, [("ratio", 4, "compute"), ("stats", 4, "compute")]);
    assert_eq!(plan.views[1].features, ["amount", "n"]);
    assert!(f.lock().feature.is_empty(), "plan writes nothing");
    f.materialize(&[]).unwrap();
    let plan = crate::plan(&f.project()).unwrap();
    assert!(plan.views.iter().all(|v| v.action == "up to date"));
    // A windowed table is not what a plain materialize makes.
    f.materialize_with(&["stats"], |o| o.end = Some(super::time("2026-01-02")))
        .unwrap();
    assert_eq!(
        crate::plan(&f.project()).unwrap().views[1].action,
        "compute"
    );
}

#[test]
fn plan_names_the_view_the_column_and_the_reason() {
    let cases = [
        (
            DEFINITIONS.replace(
                "timestamp = \"ts\"\ncreated",
                "timestamp = \"when\"\ncreated",
            ),
            "stats",
            "when",
            "the timestamp column is not in the source",
        ),
        (
            DEFINITIONS.replace("amount = \"float\", n", "amount = \"int\", n"),
            "stats",
            "amount",
            "which is not int",
        ),
        (
            DEFINITIONS.replace("created = \"created\"", "created = \"customer_id\""),
            "stats",
            "customer_id",
            "not a date or datetime",
        ),
        (
            DEFINITIONS.replace("AS per_item FROM source", "AS per_item FROM nowhere"),
            "ratio",
            "sql",
            "",
        ),
    ];
    for (definitions, view, column, reason) in cases {
        let f = Fixture::new(&definitions);
        let err = crate::plan(&f.project()).unwrap_err();
        match &err {
            FeatureError::View {
                view: v,
                column: c,
                reason: r,
            } => {
                assert_eq!((v.as_str(), c.as_str()), (view, column), "{err}");
                assert!(r.contains(reason), "{err}");
            }
            other => panic!("{other}"),
        }
        // materialize stops the same way, and pins nothing of the failing view.
        let err = f.materialize(&[]).unwrap_err();
        assert!(matches!(err, FeatureError::View { .. }), "{err}");
        assert!(!f.lock().feature.contains_key(view));
    }
}

#[test]
fn list_shows_declarations_and_what_was_materialized() {
    let f = Fixture::new(DEFINITIONS);
    let listed = crate::list(&f.project()).unwrap();
    assert_eq!(listed.views.len(), 2);
    let stats = &listed.views[1];
    assert_eq!(stats.view, "stats");
    assert_eq!(stats.join_keys, [("customer_id".to_owned(), "int")]);
    assert_eq!(stats.features["n"], "int");
    assert_eq!(stats.ttl.as_deref(), Some("2d"));
    assert!(stats.offline.is_none() && stats.online_entities.is_none());
    assert!(
        !f.path(".cairn/online.db").exists(),
        "list does not create the online store"
    );
    f.materialize(&[]).unwrap();
    let listed = crate::list(&f.project()).unwrap();
    let stats = &listed.views[1];
    assert_eq!(stats.online_entities, Some(2));
    assert_eq!(stats.offline.as_ref().map(|e| e.rows), Some(4));
    assert!(stats.materialized_at.is_some());
    let json = serde_json::to_value(&listed).unwrap();
    assert_eq!(json["views"][1]["features"]["amount"], "float");
}
