//! The point-in-time join: exact cells, bounds, ttl, ties, created times, names, time zones.

use polars::prelude::*;

use super::{DEFINITIONS, Fixture, floats, ints, names, time, write_parquet};
use crate::FeatureError;

#[test]
fn every_cell_follows_the_rules() {
    let f = Fixture::new(DEFINITIONS);
    f.materialize(&[]).unwrap();
    let mut options = f.historical_options("entities.csv", &[]);
    options.service = Some("fraud".into());
    let joined = crate::historical_frame(&f.project(), &options).unwrap();
    let frame = &joined.frame;
    assert_eq!(
        names(frame),
        [
            "customer_id",
            "event_timestamp",
            "label",
            "amount",
            "per_item"
        ]
    );
    assert_eq!(joined.feature_columns, ["amount", "per_item"]);
    assert_eq!(
        joined.tables.keys().collect::<Vec<_>>(),
        ["ratio", "stats"],
        "the views read"
    );
    // Input order, duplicates kept, the entity table's columns passed through.
    assert_eq!(ints(frame, "customer_id"), [1, 1, 1, 2, 9, 1].map(Some));
    assert_eq!(ints(frame, "label"), [0, 1, 0, 1, 0, 1].map(Some));
    // 23:00 sees the midnight row; at 2026-01-02 00:00 (inclusive) the tie on event time goes
    // to the row created last (25.0); three days later the 2-day ttl has run out; an hour
    // before customer 2's only row there is nothing; customer 9 has no rows.
    assert_eq!(
        floats(frame, "amount"),
        [Some(10.0), Some(25.0), None, None, None, Some(25.0)]
    );
    // Without a ttl the value is still there on 01-05; without a created column, the tie goes
    // to the row that comes last in the source (25 / 5).
    assert_eq!(
        floats(frame, "per_item"),
        [Some(10.0), Some(5.0), Some(5.0), None, None, Some(5.0)]
    );
}

#[test]
fn created_before_leaves_out_later_backfills() {
    let f = Fixture::new(DEFINITIONS);
    f.materialize(&["stats"]).unwrap();
    let mut options = f.historical_options("entities.csv", &["stats:amount,stats:n"]);
    options.created_before = true;
    options.full_names = true;
    let frame = crate::historical_frame(&f.project(), &options)
        .unwrap()
        .frame;
    // On 01-02 the row created on 01-03 does not exist yet: the other one of 01-02 (20.0).
    assert_eq!(
        floats(&frame, "stats__amount"),
        [Some(10.0), Some(20.0), None, None, None, Some(20.0)]
    );
    assert_eq!(
        ints(&frame, "stats__n"),
        [Some(1), Some(2), None, None, None, Some(2)]
    );
}

#[test]
fn the_ttl_bound_is_inclusive_to_the_microsecond_and_nulls_stay_null() {
    let f = Fixture::new(DEFINITIONS);
    f.materialize(&["stats"]).unwrap();
    // Customer 2's only row is at 2026-01-01T12:00 with no amount; the ttl is 2 days.
    f.write(
        "e.csv",
        "customer_id,event_timestamp\n\
         2,2026-01-01T12:00:00\n\
         2,2026-01-03T12:00:00\n\
         2,2026-01-03T12:00:00.000001\n\
         2,2026-01-01T11:59:59.999999\n",
    );
    let frame = f
        .historical("e.csv", &["stats:amount", "stats:n"])
        .unwrap()
        .frame;
    assert_eq!(ints(&frame, "n"), [Some(4), Some(4), None, None]);
    assert_eq!(
        floats(&frame, "amount"),
        [None; 4],
        "a null in the chosen row stays null: no fallback"
    );
}

#[test]
fn the_created_time_breaks_ties_and_source_order_breaks_the_rest() {
    let f = Fixture::new(DEFINITIONS);
    // Three rows at one event time: created 01-05, 01-03, 01-05 (again). The largest created
    // time wins, and between the two rows created on 01-05, the later one in the source.
    f.write(
        "data/events.csv",
        "customer_id,ts,created,amount,n\n\
         1,2026-01-02T00:00:00,2026-01-05T00:00:00,1.0,1\n\
         1,2026-01-02T00:00:00,2026-01-03T00:00:00,2.0,2\n\
         1,2026-01-02T00:00:00,2026-01-05T00:00:00,3.0,3\n\
         1,2026-01-02T00:00:00,,4.0,4\n",
    );
    f.materialize(&["stats"]).unwrap();
    f.write(
        "e.csv",
        "customer_id,event_timestamp\n1,2026-01-02T00:00:00\n1,2026-01-02T00:00:00\n",
    );
    let frame = f.historical("e.csv", &["stats:n"]).unwrap().frame;
    assert_eq!(ints(&frame, "n"), [Some(3), Some(3)]);
    // With --created-before on 01-04, the rows created on 01-05 do not exist yet, and a row
    // without a created time is left out.
    f.write(
        "e.csv",
        "customer_id,event_timestamp\n1,2026-01-04T00:00:00\n",
    );
    let mut options = f.historical_options("e.csv", &["stats:n"]);
    options.created_before = true;
    let frame = crate::historical_frame(&f.project(), &options)
        .unwrap()
        .frame;
    assert_eq!(ints(&frame, "n"), [Some(2)]);
    // The online store serves the same row as the default join after every event.
    let online = f
        .online_at(&["customer_id=1"], &["stats:n"], "2026-01-02T12:00:00")
        .unwrap();
    assert_eq!(online.entities[0].features["n"], 3);
}

/// Two views sharing a feature name: accepted in a service, joined apart with full names,
/// refused where the unqualified names are made.
#[test]
fn one_feature_name_from_two_views() {
    let definitions = format!(
        "{DEFINITIONS}
[feature_view.doubled]
source = \"data/events.csv\"
entities = [\"customer\"]
timestamp = \"ts\"
sql = \"SELECT customer_id, ts, amount * 2 AS amount FROM source\"
features = {{ amount = \"float\" }}

[feature_service.both]
features = [\"stats:amount\", \"doubled:amount\"]
"
    );
    let f = Fixture::new(&definitions);
    f.materialize(&[]).unwrap();
    let mut options = f.historical_options("entities.csv", &[]);
    options.service = Some("both".into());
    options.full_names = true;
    let frame = crate::historical_frame(&f.project(), &options)
        .unwrap()
        .frame;
    assert_eq!(
        names(&frame),
        [
            "customer_id",
            "event_timestamp",
            "label",
            "stats__amount",
            "doubled__amount"
        ]
    );
    assert_eq!(
        floats(&frame, "stats__amount"),
        [Some(10.0), Some(25.0), None, None, None, Some(25.0)]
    );
    // No ttl, and no created time: the tie goes to the last row in the source.
    assert_eq!(
        floats(&frame, "doubled__amount"),
        [Some(20.0), Some(50.0), Some(50.0), None, None, Some(50.0)]
    );
    options.full_names = false;
    let err = crate::historical_frame(&f.project(), &options).unwrap_err();
    match err {
        FeatureError::NameClash {
            feature,
            first,
            second,
        } => assert_eq!(
            (&*feature, &*first, &*second),
            ("amount", "stats", "doubled")
        ),
        other => panic!("{other}"),
    }
    // The same for explicit references, and for online reads.
    let err = f
        .historical("entities.csv", &["doubled:amount", "stats:amount"])
        .unwrap_err();
    assert!(matches!(err, FeatureError::NameClash { .. }), "{err}");
    let mut online = f.online_options(&["customer_id=1"], &[]);
    online.service = Some("both".into());
    let err = crate::online(&f.project(), &online).unwrap_err();
    assert!(matches!(err, FeatureError::NameClash { .. }), "{err}");
    online.full_names = true;
    online.at = Some(time("2026-01-03T00:00:00"));
    let read = crate::online(&f.project(), &online).unwrap();
    assert_eq!(read.entities[0].features["stats__amount"], 25.0);
    assert_eq!(read.entities[0].features["doubled__amount"], 50.0);
}

#[test]
fn a_feature_named_like_an_entity_column_needs_full_names() {
    let f = Fixture::new(DEFINITIONS);
    f.materialize(&["stats"]).unwrap();
    f.write(
        "e.csv",
        "customer_id,event_timestamp,amount\n1,2026-01-02T00:00:00,7\n",
    );
    let err = f.historical("e.csv", &["stats:amount"]).unwrap_err();
    match &err {
        FeatureError::ColumnTaken { column, .. } => assert_eq!(column, "amount"),
        other => panic!("{other}"),
    }
    let mut options = f.historical_options("e.csv", &["stats:amount"]);
    options.full_names = true;
    let frame = crate::historical_frame(&f.project(), &options)
        .unwrap()
        .frame;
    assert_eq!(floats(&frame, "amount"), [Some(7.0)]);
    assert_eq!(floats(&frame, "stats__amount"), [Some(25.0)]);
}

/// The entity table's columns keep the types they were read with: a time column with a zone
/// keeps it (the comparison is on the instant), in the frame and in the Parquet output.
#[test]
fn a_zoned_time_column_keeps_its_zone() {
    let f = Fixture::new(DEFINITIONS);
    f.materialize(&["stats"]).unwrap();
    // CSV with offsets: 00:00 UTC on 01-02 (the tie, inclusive) and 23:59 UTC on 01-01.
    f.write(
        "e.csv",
        "customer_id,event_timestamp\n1,2026-01-02T01:00:00+01:00\n1,2026-01-01T22:59:00-01:00\n",
    );
    let frame = f.historical("e.csv", &["stats:amount"]).unwrap().frame;
    assert!(
        matches!(
            frame.column("event_timestamp").unwrap().dtype(),
            DataType::Datetime(_, Some(_))
        ),
        "{frame}"
    );
    assert_eq!(floats(&frame, "amount"), [Some(25.0), Some(10.0)]);
    assert_eq!(
        ints(&frame, "event_timestamp"),
        [
            Some(time("2026-01-02T00:00:00")),
            Some(time("2026-01-01T23:59:00"))
        ]
    );

    // Parquet with a named zone, in milliseconds.
    let zone = TimeZone::opt_try_new(Some("Europe/Berlin")).unwrap();
    let dtype = DataType::Datetime(TimeUnit::Milliseconds, zone);
    let at = [time("2026-01-02T00:00:00"), time("2026-01-01T23:59:00")].map(|us| us / 1000);
    let mut entities = df!(
        "customer_id" => [1i64, 1],
        "event_timestamp" => at,
    )
    .unwrap();
    let zoned = entities
        .column("event_timestamp")
        .unwrap()
        .cast(&dtype)
        .unwrap();
    entities.with_column(zoned).unwrap();
    write_parquet(&f.path("e.parquet"), &mut entities);
    let mut options = f.historical_options("e.parquet", &["stats:amount"]);
    let joined = crate::historical_frame(&f.project(), &options).unwrap();
    assert_eq!(
        joined.frame.column("event_timestamp").unwrap().dtype(),
        &dtype
    );
    assert_eq!(ints(&joined.frame, "event_timestamp"), at.map(Some));
    assert_eq!(floats(&joined.frame, "amount"), [Some(25.0), Some(10.0)]);
    // Written and read back: the zone is in the file.
    options.output = f.path("out.parquet");
    let outcome = crate::historical(&f.project(), &options).unwrap();
    assert_eq!(outcome.rows, 2);
    assert_eq!(outcome.views, ["stats"]);
    let written = cairn_core::table::read_table_with_zones(
        &f.path("out.parquet"),
        cairn_core::table::Zones::Keep,
    )
    .unwrap();
    assert_eq!(written.column("event_timestamp").unwrap().dtype(), &dtype);
    assert_eq!(floats(&written, "amount"), [Some(25.0), Some(10.0)]);
}

#[test]
fn dates_are_midnight_utc_and_outputs_are_csv_or_parquet() {
    let f = Fixture::new(DEFINITIONS);
    f.materialize(&["stats"]).unwrap();
    f.write("e.csv", "customer_id,day\n1,2026-01-02\n1,2026-01-01\n");
    let mut options = f.historical_options("e.csv", &["stats:n"]);
    options.timestamp = "day".into();
    options.output = f.path("out.CSV");
    let outcome = crate::historical(&f.project(), &options).unwrap();
    assert_eq!(outcome.columns, ["customer_id", "day", "n"]);
    let text = std::fs::read_to_string(f.path("out.CSV")).unwrap();
    assert_eq!(text, "customer_id,day,n\n1,2026-01-02,5\n1,2026-01-01,1\n");
}
