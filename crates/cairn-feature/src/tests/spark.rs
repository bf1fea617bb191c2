//! The offline engine on Spark against a real Spark Connect server (pyspark's, on 127.0.0.1,
//! started once for this test binary). They run only when `CAIRN_SPARK_VENV` names the
//! virtual environment that holds pyspark, as `cargo xtask test-spark` does after installing
//! it: the everyday `cargo test` skips them with a message, so that the server's start does
//! not slow it (and `test-spark` reuses its build). With the variable set, a missing pyspark
//! or Java is a skip too, except under `CI=true`, where it fails.
//!
//! The same `cairn.toml` with `[offline] engine = "spark"` must give the same answers as
//! polars: the same offline tables, byte for byte (the same digests in `cairn.lock`), and the
//! same point-in-time joins, cell for cell.

use std::path::PathBuf;
use std::sync::OnceLock;

use cairn_core::rng::Rng;
use cairn_test_support::spark::SparkServer;

use super::Fixture;
use crate::FeatureError;

static SERVER: OnceLock<Option<SparkServer>> = OnceLock::new();

/// The server's `sc://` address, or `None` when the tests are skipped.
#[allow(
    clippy::print_stderr,
    reason = "a test helper: the skip must show in the test's output"
)]
fn remote() -> Option<String> {
    SERVER
        .get_or_init(|| match std::env::var_os("CAIRN_SPARK_VENV") {
            Some(venv) => Some(SparkServer::start(&PathBuf::from(venv))),
            None => {
                eprintln!("skipped: the Spark tests run with `cargo xtask test-spark`");
                None
            }
        })
        .as_ref()
        .map(SparkServer::remote)
}

/// Ties on the event time within a customer (with and without a created time), null
/// features, null created times, rows without an event time or a key (left out), every
/// declared type; rows split over two files of a directory source so that ties cross files.
fn events(seed: u64, rows: usize) -> (String, String) {
    let mut rng = Rng::new(seed);
    let header = "customer_id,ts,created,amount,n,segment,active,day,seen\n";
    let (mut first, mut second) = (header.to_owned(), header.to_owned());
    let segments = ["a", "b", "c, \"quoted\"", "d"];
    for i in 0..rows {
        let customer = if rng.below(50) == 0 {
            String::new()
        } else {
            (1 + rng.below(40)).to_string()
        };
        // Hours over ten days: many ties.
        let hour = rng.below(240);
        let ts = if rng.below(60) == 0 {
            String::new()
        } else {
            format!("2026-01-{:02}T{:02}:00:00", 1 + hour / 24, hour % 24)
        };
        let created = match rng.below(5) {
            0 => String::new(),
            k => format!(
                "2026-01-{:02}T{:02}:30:00",
                1 + hour / 24,
                (hour % 24 + k) % 24
            ),
        };
        let amount = if rng.below(8) == 0 {
            String::new()
        } else {
            format!("{}.{:02}", rng.below(500), rng.below(100))
        };
        let n = rng.below(9);
        let segment = match rng.below(5) {
            4 => String::new(),
            k => format!("\"{}\"", segments[k].replace('"', "\"\"")),
        };
        let active = if rng.below(2) == 0 { "true" } else { "false" };
        let day = format!("2025-12-{:02}", 1 + rng.below(28));
        let seen = if rng.below(4) == 0 {
            String::new()
        } else {
            format!(
                "2025-11-{:02} {:02}:{:02}:{:02}.{:06}",
                1 + rng.below(28),
                rng.below(24),
                rng.below(60),
                rng.below(60),
                rng.below(1_000_000)
            )
        };
        let line =
            format!("{customer},{ts},{created},{amount},{n},{segment},{active},{day},{seen}\n");
        if i % 3 == 0 {
            second.push_str(&line);
        } else {
            first.push_str(&line);
        }
    }
    (first, second)
}

/// Views over one file and over a directory: no SQL; a narrow SQL (the source's order is
/// kept, ties with no created time go to the later source row); an aggregate.
fn definitions(offline: &str) -> String {
    format!(
        r#"
{offline}
[entity.customer]
join_keys = {{ customer_id = "int" }}

[feature_view.stats]
source = "data/parts"
entities = ["customer"]
timestamp = "ts"
created = "created"
ttl = "2d"
features = {{ amount = "float", n = "int", segment = "string", active = "bool", day = "date", seen = "datetime" }}

[feature_view.ratio]
source = "data/parts/a.csv"
entities = ["customer"]
timestamp = "ts"
sql = "SELECT customer_id, ts, amount / n AS per_item, upper(segment) AS seg, n * 2 AS twice FROM source WHERE n > 0 AND segment IS NOT NULL"
features = {{ per_item = "float", seg = "string", twice = "int" }}

[feature_view.totals]
source = "data/parts"
entities = ["customer"]
timestamp = "ts"
ttl = "20d"
sql = "SELECT customer_id, day AS ts, count(*) AS events, sum(n) AS items, max(amount) AS top FROM source WHERE customer_id IS NOT NULL GROUP BY customer_id, day"
features = {{ events = "int", items = "int", top = "float" }}
"#
    )
}

fn spark_table(remote: &str) -> String {
    format!("[offline]\nengine = \"spark\"\nremote = \"{remote}\"\n")
}

/// Two projects with the same data: one on polars, one on Spark.
fn pair(remote: &str) -> (Fixture, Fixture) {
    let (a, b) = events(7, 3_000);
    let polars = Fixture::new(&definitions(""));
    let spark = Fixture::new(&definitions(&spark_table(remote)));
    for f in [&polars, &spark] {
        f.write("data/parts/a.csv", &a);
        f.write("data/parts/b.csv", &b);
    }
    (polars, spark)
}

#[test]
fn materialize_on_spark_pins_the_same_tables_as_polars() {
    let Some(remote) = remote() else { return };
    let (polars, spark) = pair(&remote);
    let on_polars = polars.materialize(&[]).unwrap();
    let on_spark = spark.materialize(&[]).unwrap();
    for (p, s) in on_polars.views.iter().zip(&on_spark.views) {
        assert_eq!(p.view, s.view);
        assert!(p.rows > 10, "{}: {} rows", p.view, p.rows);
        assert_eq!(p.rows, s.rows, "{}", p.view);
        assert_eq!(p.entities, s.entities, "{}", p.view);
        assert_eq!(p.end, s.end, "{}", p.view);
        assert_eq!(p.digest, s.digest, "{}: the offline tables differ", p.view);
    }
    assert_eq!(on_polars.views.len(), 3);
    // The lock entries are the same, field for field.
    let (lp, ls) = (polars.lock(), spark.lock());
    for (view, entry) in &lp.feature {
        let other = &ls.feature[view];
        assert_eq!(
            (
                &entry.digest,
                entry.size,
                entry.rows,
                &entry.definition,
                &entry.source
            ),
            (
                &other.digest,
                other.size,
                other.rows,
                &other.definition,
                &other.source
            ),
            "{view}"
        );
    }
}

/// The entity rows of a join: ties with the features' times, rows whose values expired, rows
/// before any feature row, unknown customers, a null key and a null time, duplicates.
fn entity_rows(seed: u64, rows: usize) -> String {
    let mut rng = Rng::new(seed);
    let mut text = "customer_id,event_timestamp,label\n".to_owned();
    for _ in 0..rows {
        let customer = match rng.below(30) {
            0 => String::new(),
            1 => "99".to_owned(),
            _ => (1 + rng.below(40)).to_string(),
        };
        let hour = rng.below(300);
        let minute = [0, 0, 0, 30, 59][rng.below(5)];
        let ts = if rng.below(40) == 0 {
            String::new()
        } else {
            format!(
                "2026-01-{:02}T{:02}:{minute:02}:00",
                1 + hour / 24,
                hour % 24
            )
        };
        text.push_str(&format!("{customer},{ts},{}\n", rng.below(2)));
    }
    text
}

#[test]
fn historical_on_spark_agrees_with_polars_cell_for_cell() {
    let Some(remote) = remote() else { return };
    let (polars, spark) = pair(&remote);
    polars.materialize(&[]).unwrap();
    spark.materialize(&[]).unwrap();
    let entities = entity_rows(11, 2_000);
    polars.write("e.csv", &entities);
    spark.write("e.csv", &entities);
    let features = [
        "stats:amount,stats:n,stats:segment,stats:active,stats:day,stats:seen",
        "ratio:per_item,ratio:seg,ratio:twice",
        "totals:events,totals:items,totals:top",
    ];
    for created_before in [false, true] {
        let join = |f: &Fixture| {
            let mut options = f.historical_options("e.csv", &features);
            options.created_before = created_before;
            options.full_names = true;
            crate::historical_frame(&f.project(), &options).unwrap()
        };
        let (p, s) = (join(&polars), join(&spark));
        assert_eq!(p.tables, s.tables);
        assert_eq!(p.frame.height(), 2_000);
        assert_eq!(p.frame.schema(), s.frame.schema());
        // Something was found and something was not, for each feature.
        for name in &p.feature_columns {
            let nulls = p.frame.column(name).unwrap().null_count();
            assert!(nulls > 0 && nulls < 2_000, "{name}: {nulls} nulls");
        }
        for name in p.frame.get_column_names() {
            let (a, b) = (p.frame.column(name).unwrap(), s.frame.column(name).unwrap());
            let differ: Vec<usize> = (0..a.len())
                .filter(|&i| a.get(i).unwrap() != b.get(i).unwrap())
                .collect();
            assert!(
                differ.is_empty(),
                "created_before={created_before}: `{name}` differs in {} rows, first row {}: polars {:?}, spark {:?}",
                differ.len(),
                differ[0],
                a.get(differ[0]).unwrap(),
                b.get(differ[0]).unwrap()
            );
        }
        assert!(p.frame.equals_missing(&s.frame));
    }
}

#[test]
fn spark_errors_name_the_server_or_the_view() {
    let Some(remote) = remote() else { return };
    // Nothing listens on a port just released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let nobody = format!("sc://127.0.0.1:{port}");
    let f = Fixture::new(&definitions(&spark_table(&nobody)));
    let (a, b) = events(3, 50);
    f.write("data/parts/a.csv", &a);
    f.write("data/parts/b.csv", &b);
    match f.materialize(&["stats"]) {
        Err(FeatureError::SparkUnreachable { remote, .. }) => assert_eq!(remote, nobody),
        other => panic!("{other:?}"),
    }
    assert!(f.lock().feature.is_empty(), "nothing pinned");
    // A query Spark refuses: its message, with the view's name.
    f.define(&format!(
        "{}\n[feature_view.broken]\nsource = \"data/parts/a.csv\"\nentities = [\"customer\"]\ntimestamp = \"ts\"\nsql = \"SELECT customer_id, ts, no_such_column AS x FROM source\"\nfeatures = {{ x = \"int\" }}\n",
        definitions(&spark_table(&remote))
    ));
    match f.materialize(&["broken"]) {
        Err(e @ FeatureError::Spark { .. }) => {
            let text = e.to_string();
            assert!(text.starts_with("feature_view.broken: Spark: "), "{text}");
            assert!(text.contains("no_such_column"), "{text}");
        }
        other => panic!("{other:?}"),
    }
    assert!(f.lock().feature.is_empty(), "nothing pinned");
    // A declared type the column does not have, as polars says it.
    f.define(&format!(
        "{}\n[feature_view.mistyped]\nsource = \"data/parts/a.csv\"\nentities = [\"customer\"]\ntimestamp = \"ts\"\nfeatures = {{ segment = \"int\" }}\n",
        definitions(&spark_table(&remote))
    ));
    match f.materialize(&["mistyped"]) {
        Err(FeatureError::View {
            view,
            column,
            reason,
        }) => {
            assert_eq!((view.as_str(), column.as_str()), ("mistyped", "segment"));
            assert!(reason.contains("which is not int (declared)"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

/// The Parquet writer cuts a table into row groups by the batches it receives: a view of
/// 1,000,000 rows (ten row groups from polars' sort; eight from a frame handed to the writer
/// as it is) must still be the same file on both engines.
#[test]
fn a_view_of_several_row_groups_pins_the_same_table() {
    let Some(remote) = remote() else { return };
    let mut rng = Rng::new(5);
    let mut text = "customer_id,ts,spend\n".to_owned();
    for _ in 0..1_000_000 {
        text.push_str(&format!(
            "{},2026-01-{:02}T{:02}:{:02}:00,{}.{:02}\n",
            rng.below(100_000),
            1 + rng.below(28),
            rng.below(24),
            rng.below(60),
            rng.below(1000),
            rng.below(100)
        ));
    }
    let view = |offline: &str| {
        format!(
            "{offline}\n[entity.customer]\njoin_keys = {{ customer_id = \"int\" }}\n\n\
             [feature_view.spend]\nsource = \"data/big.csv\"\nentities = [\"customer\"]\n\
             timestamp = \"ts\"\nfeatures = {{ spend = \"float\" }}\n"
        )
    };
    let polars = Fixture::new(&view(""));
    let spark = Fixture::new(&view(&spark_table(&remote)));
    for f in [&polars, &spark] {
        f.write("data/big.csv", &text);
    }
    let p = polars.materialize(&[]).unwrap();
    let s = spark.materialize(&[]).unwrap();
    assert_eq!(p.views[0].rows, 1_000_000);
    assert_eq!(
        p.views[0].digest, s.views[0].digest,
        "the offline tables differ"
    );
}
