//! `cargo xtask bench feature [--quick]`: `cairn feature materialize`, `historical` and
//! `online` on a seeded source, checked against cairn's own targets; the figures the issue
//! quotes for Feast 0.67 are shown beside them as references only (quoted, not measured here).
//!
//! Online reads are timed twice: as whole `cairn feature online` processes, and in-process
//! through `cairn_feature::OnlineReader` (opened once, then read many times, as a model server
//! does) by the release example `crates/cairn-feature/examples/online_latency.rs`, which cargo
//! builds in the release target directory of the benches' examples (`$XTASK_RELEASE_TARGET_DIR`,
//! default `~/.cache/cairn-target-rel`).
//!
//! The source is one CSV file: N entities × T event times (1,000,000 rows in the full run),
//! two float and two int features with 1% nulls each; about 6% of the rows repeat an event time
//! of their entity and are told apart by a `created` column. The entity
//! table has 100,000 (key, time) rows, 5% of them with keys the source does not have. The view
//! has a 30-day ttl, and some entities go quiet for longer than that, so the ttl decides some
//! rows of the join.
//!
//! Every entity's newest event lies in the day before the run's day (midnight UTC), so that
//! online reads are within the ttl; the rest of the data depends only on the seed.
//!
//! The answers are checked against values computed here from the generated data: every row of
//! the historical join (in input order) and every entity of the online reads. A wrong answer
//! is a FAIL in the table, with examples, not an error: the timings are still reported.

use std::io::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

use super::{Bench, Check, Figure, MIB, Measured, SEED, Setup, finish, print_table, report_usage};
use crate::rng::Rng;
use crate::util::{Context, Result, fmt_bytes, fmt_count, fmt_duration};

/// The data's seed: another stream than `bench data`'s.
const DATA_SEED: u64 = SEED ^ 0xFEA7;
pub(super) const DAY: i64 = 86_400;
const TTL: i64 = 30 * DAY;
pub(super) const SOURCE: &str = "data/events.csv";
const ENTITIES: &str = "entities.csv";
pub(super) const VIEW: &str = "customer_stats";
pub(super) const FEATURES: [&str; 4] = ["amount", "score", "clicks", "orders"];
const DEFINITIONS: &str = r#"
[entity.customer]
join_keys = { customer_id = "int" }

[feature_view.customer_stats]
source = "data/events.csv"
entities = ["customer"]
timestamp = "ts"
created = "created"
ttl = "30d"
features = { amount = "float", score = "float", clicks = "int", orders = "int" }
"#;

/// The Feast 0.67 figures the issue quotes (measured there, not in this run): shown beside
/// cairn's figures as references only; no verdict uses them.
const FEAST_START: f64 = 9.6;
const FEAST_MATERIALIZE: f64 = 19.8;
const FEAST_HISTORICAL: f64 = 2.3;
const FEAST_HISTORICAL_RSS: u64 = 366 << 20;
const FEAST_ONLINE_ONE: f64 = 0.000_14;
const FEAST_ONLINE_MANY: f64 = 0.064;
/// The issue's targets for in-process online reads.
/// cairn's own targets (seconds, bytes): absolute limits for the full run, which the quick run
/// is held to as well.
const TARGET_START: f64 = 0.020;
const TARGET_MATERIALIZE: f64 = 3.0;
const TARGET_HISTORICAL: f64 = 1.0;
const TARGET_RSS: u64 = 400 << 20;
const TARGET_ONLINE_ONE: f64 = 50e-6;
const TARGET_ONLINE_MANY: f64 = 5e-3;
/// In-process reads: of one entity (each another), and of `Scale::many` entities.
const INPROCESS_ONE_READS: usize = 10_000;
const INPROCESS_MANY_READS: usize = 200;

/// Timed runs of the long commands (materialize, historical)...
const RUNS: usize = 3;
/// ...unless the first one takes longer than this.
const LONG: Duration = Duration::from_secs(30);
/// Timed runs of the commands that take milliseconds (after one untimed run).
const SHORT_RUNS: usize = 10;

/// How much data to generate.
#[derive(Clone, Copy)]
struct Scale {
    quick: bool,
    entities: usize,
    timestamps: usize,
    entity_rows: usize,
    /// Entities in the larger online read.
    many: usize,
}

impl Scale {
    const FULL: Scale = Scale {
        quick: false,
        entities: 10_000,
        timestamps: 100,
        entity_rows: 100_000,
        many: 1_000,
    };
    const QUICK: Scale = Scale {
        quick: true,
        entities: 1_000,
        timestamps: 100,
        entity_rows: 10_000,
        many: 1_000,
    };
}

/// One row of the source. Ints are kept as floats: every value here is exact in an f64.
#[derive(Clone, Copy)]
pub(super) struct Event {
    pub(super) ts: i64,
    pub(super) created: i64,
    /// [`FEATURES`]' values.
    pub(super) values: [Option<f64>; 4],
}

/// One row of the entity table.
struct EntityRow {
    id: u64,
    t: i64,
}

/// The answer a point-in-time join must give an entity row.
#[derive(Clone, Copy)]
enum Expected<'a> {
    /// The key is not in the source.
    Unknown,
    /// The entity's first event is after the row's time.
    Before,
    /// The latest event at or before the row's time is older than the ttl.
    Expired,
    /// Features from this event.
    Row(&'a Event),
}

impl Expected<'_> {
    fn kind(self) -> &'static str {
        match self {
            Expected::Unknown => "unknown",
            Expected::Before => "before",
            Expected::Expired => "expired",
            Expected::Row(_) => "row",
        }
    }
}

/// What generating the data leaves in memory: counts, and each entity's newest event (for the
/// online reads). The events themselves are gone by then, so that they do not count in the
/// children's peak RSS (see `Bench::run`); the answers of the join are in a file.
struct Generated {
    source_rows: u64,
    source_bytes: u64,
    tie_rows: u64,
    entity_rows: u64,
    entity_bytes: u64,
    unknown: u64,
    before: u64,
    expired: u64,
    expected_nulls: u64,
    latest: Vec<Event>,
}

/// What `--json` printed and how long it took.
pub(super) struct Answer {
    pub(super) measured: Measured,
    pub(super) doc: serde_json::Value,
}

pub(super) fn run(quick: bool) -> Result<()> {
    let scale = if quick { Scale::QUICK } else { Scale::FULL };
    let Setup {
        tmp,
        bench,
        machine,
        source,
        results,
        built,
    } = super::setup("bench-feature.json", scale.quick, true)?;
    let latency_bin = built
        .ok_or("the feature bench's release build is missing")?
        .online_latency;

    // The data: the source, then the entity table and the answers it must get.
    let started = Instant::now();
    let end = super::unix_now() as i64 / DAY * DAY;
    let expected_path = bench.tmp.join("expected.csv");
    let data = generate(scale, end, &bench.proj, &expected_path)?;
    let Generated {
        source_rows,
        source_bytes,
        tie_rows,
        entity_rows,
        entity_bytes,
        unknown,
        before,
        expired,
        expected_nulls,
        ref latest,
    } = data;
    let matched = entity_rows - unknown - before - expired;
    let cells = entity_rows * FEATURES.len() as u64;
    println!(
        "generated {SOURCE} ({} rows = {} entities x {} times, {}; {} rows ({:.1}%) repeat an event \
         time of their entity) and {ENTITIES} ({} rows, {}) in {:.1} s",
        fmt_count(source_rows),
        fmt_count(scale.entities as u64),
        scale.timestamps,
        fmt_bytes(source_bytes),
        fmt_count(tie_rows),
        percent(tie_rows, source_rows),
        fmt_count(entity_rows),
        fmt_bytes(entity_bytes),
        started.elapsed().as_secs_f64()
    );
    println!(
        "entity rows: {} with a feature row, {} unknown keys, {} before the entity's first \
         event, {} past the 30-day ttl; expected null features: {:.1}%",
        fmt_count(matched),
        fmt_count(unknown),
        fmt_count(before),
        fmt_count(expired),
        percent(expected_nulls, cells)
    );
    println!(
        "newest events in the day before {}",
        iso(end).trim_end_matches("T00:00:00")
    );

    // A child's peak RSS includes what this process holds when it spawns the child (see
    // `Bench::run`): a figure at or below this floor says nothing about cairn.
    let floor = own_rss();
    println!(
        "this process's RSS: {} (a floor under every peak RSS below)",
        floor.map_or_else(|| "unknown".to_owned(), fmt_bytes)
    );

    bench.git_init()?;
    fresh_project(&bench)?;
    let source_path = Path::new(SOURCE);
    let entities_path = Path::new(ENTITIES);
    println!();

    // Start-up: the binary alone, then a command that reads the project.
    let mut version = Figure::new();
    let version_cmd = || {
        let mut cmd = Command::new(&bench.cairn);
        cmd.arg("--version");
        bench.run("cairn --version", &mut cmd)
    };
    version_cmd()?;
    for _ in 0..SHORT_RUNS {
        version.push(&version_cmd()?);
    }
    report_usage("cairn --version", &version);

    // Materialize from nothing: a fresh project for every run.
    let mut materialize = Figure::new();
    let mut outcome = serde_json::Value::Null;
    for run in 0..RUNS {
        if run > 0 {
            fresh_project(&bench)?;
        }
        bench.warm(source_path)?;
        let answer = cairn_json(
            &bench,
            "cairn --json feature materialize",
            &["feature", "materialize"],
        )?;
        let view = &answer.doc["views"][0];
        if view["skipped"] != false
            || view["rows"].as_u64() != Some(source_rows)
            || view["entities"].as_u64() != Some(scale.entities as u64)
        {
            return Err(format!(
                "`cairn feature materialize` did not materialize {} rows of {} entities: {}",
                source_rows, scale.entities, answer.doc
            )
            .into());
        }
        materialize.push(&answer.measured);
        outcome = answer.doc;
        if run == 0 && answer.measured.wall > LONG {
            break;
        }
    }
    report_usage("cairn feature materialize", &materialize);
    let offline_bytes = outcome["views"][0]["size"].as_u64().unwrap_or(0);
    let online_db = bench.proj.join(".cairn").join("online.db");
    let online_bytes = ["", "-wal"]
        .iter()
        .filter_map(|suffix| {
            let mut path = online_db.clone().into_os_string();
            path.push(suffix);
            std::fs::metadata(path).ok().map(|m| m.len())
        })
        .sum::<u64>();
    println!(
        "{:<34} offline table {}, online.db {} (with its WAL)",
        "",
        fmt_bytes(offline_bytes),
        fmt_bytes(online_bytes)
    );

    let mut noop = Figure::new();
    for _ in 0..SHORT_RUNS / 2 {
        bench.warm(source_path)?;
        let answer = cairn_json(
            &bench,
            "cairn --json feature materialize",
            &["feature", "materialize"],
        )?;
        if answer.doc["views"][0]["skipped"] != true {
            return Err(format!(
                "a second `cairn feature materialize` computed the view again: {}",
                answer.doc
            )
            .into());
        }
        noop.push(&answer.measured);
    }
    report_usage("cairn feature materialize, again", &noop);

    let mut list = Figure::new();
    for run in 0..=SHORT_RUNS {
        let answer = cairn_json(&bench, "cairn --json feature list", &["feature", "list"])?;
        if answer.doc["views"][0]["online_entities"].as_u64() != Some(scale.entities as u64) {
            return Err(format!(
                "`cairn feature list` does not show the materialized view: {}",
                answer.doc
            )
            .into());
        }
        if run > 0 {
            list.push(&answer.measured);
        }
    }
    report_usage("cairn feature list", &list);

    // What materialize does before it writes anything: read the source, compute the view.
    let mut plan = Figure::new();
    for run in 0..RUNS {
        bench.warm(source_path)?;
        let answer = cairn_json(&bench, "cairn --json feature plan", &["feature", "plan"])?;
        let view = &answer.doc["views"][0];
        if view["action"] != "up to date" || view["rows"].as_u64() != Some(source_rows) {
            return Err(format!("`cairn feature plan` said {}", answer.doc).into());
        }
        plan.push(&answer.measured);
        if run == 0 && answer.measured.wall > LONG {
            break;
        }
    }
    report_usage("cairn feature plan", &plan);

    // The point-in-time join, to Parquet (timed), then once to CSV (checked).
    let features = FEATURES
        .iter()
        .map(|f| format!("{VIEW}:{f}"))
        .collect::<Vec<_>>()
        .join(",");
    let historical_args = |out: &'static str| {
        [
            "feature",
            "historical",
            "--entities",
            ENTITIES,
            "--features",
            features.as_str(),
            "-o",
            out,
        ]
    };
    let mut historical = Figure::new();
    for run in 0..RUNS {
        bench.discard(Path::new("joined.parquet"))?;
        bench.warm(entities_path)?;
        let answer = cairn_json(
            &bench,
            "cairn --json feature historical -o joined.parquet",
            &historical_args("joined.parquet"),
        )?;
        if answer.doc["rows"].as_u64() != Some(entity_rows) {
            return Err(format!(
                "`cairn feature historical` wrote {} rows for {entity_rows} entity rows",
                answer.doc["rows"],
            )
            .into());
        }
        historical.push(&answer.measured);
        if run == 0 && answer.measured.wall > LONG {
            break;
        }
    }
    report_usage("cairn feature historical (Parquet)", &historical);
    bench.warm(entities_path)?;
    let answer = cairn_json(
        &bench,
        "cairn --json feature historical -o joined.csv",
        &historical_args("joined.csv"),
    )?;
    let mut historical_csv = Figure::new();
    historical_csv.push(&answer.measured);
    report_usage("cairn feature historical (CSV)", &historical_csv);
    let joined = check_joined(&bench.proj.join("joined.csv"), &expected_path)?;
    println!(
        "{:<34} {} rows for {} entity rows, {} wrong values, {:.1}% null features \
         (expected {:.1}%)",
        "",
        fmt_count(joined.rows),
        fmt_count(entity_rows),
        fmt_count(joined.wrong),
        percent(joined.nulls, cells),
        percent(expected_nulls, cells)
    );
    for example in &joined.examples {
        println!("{:<34} {example}", "");
    }

    // Online reads of one entity and of many, each a whole cairn process.
    let mut pick = Rng::new(SEED ^ 0x0271_13E5);
    let one = [1 + pick.below(scale.entities as u64)];
    let many = distinct_ids(&mut pick, scale.entities, scale.many);
    let mut online_checks = OnlineCheck::default();
    let mut online = |ids: &[u64]| -> Result<Figure> {
        let mut args = vec!["feature".to_owned(), "online".to_owned()];
        for id in ids {
            args.push("--entity".to_owned());
            args.push(format!("customer_id={id}"));
        }
        args.extend(["--features".to_owned(), features.clone()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let shown = format!(
            "cairn --json feature online ({} --entity)",
            fmt_count(ids.len() as u64)
        );
        let mut figure = Figure::new();
        for run in 0..=SHORT_RUNS {
            let answer = cairn_json(&bench, &shown, &args)?;
            if run == 0 {
                online_checks.add(check_online(&answer.doc, ids, latest));
            } else {
                figure.push(&answer.measured);
            }
        }
        Ok(figure)
    };
    let online_one = online(&one)?;
    report_usage("cairn feature online, 1 entity", &online_one);
    let online_many = online(&many)?;
    report_usage(
        &format!(
            "cairn feature online, {} entities",
            fmt_count(many.len() as u64)
        ),
        &online_many,
    );
    println!(
        "{:<34} {} entities checked, {} wrong answers",
        "",
        fmt_count(online_checks.entities),
        fmt_count(online_checks.wrong)
    );
    for example in &online_checks.examples {
        println!("{:<34} {example}", "");
    }

    // The same reads in-process, through the reader a server opens once.
    let inprocess = inprocess_reads(&bench, &latency_bin, scale, &features, &mut pick, latest)?;
    println!(
        "{:<34} median {:>10}  p99 {:>10}  ({} reads)",
        "in-process online, 1 entity",
        fmt_short(inprocess.one_median),
        fmt_short(inprocess.one_p99),
        fmt_count(INPROCESS_ONE_READS as u64)
    );
    println!(
        "{:<34} median {:>10}  p99 {:>10}  ({} reads)",
        format!("in-process online, {} entities", fmt_count(inprocess.batch)),
        fmt_short(inprocess.many_median),
        fmt_short(inprocess.many_p99),
        fmt_count(INPROCESS_MANY_READS as u64)
    );
    println!(
        "{:<34} reader opened in {}; {} entities checked, {} wrong answers",
        "",
        fmt_short(inprocess.open),
        fmt_count(inprocess.check.entities),
        fmt_count(inprocess.check.wrong)
    );
    for example in &inprocess.check.examples {
        println!("{:<34} {example}", "");
    }

    // Memory follows the view, not the source: with a window of the last 10 days (about a
    // tenth of the rows), materialize still streams the whole CSV file but sorts only the
    // rows it keeps. Last, because it pins the windowed table.
    let start = iso(end - 10 * DAY);
    bench.warm(source_path)?;
    let answer = cairn_json(
        &bench,
        "cairn --json feature materialize --start T",
        &["feature", "materialize", "--start", &start],
    )?;
    let windowed_rows = answer.doc["views"][0]["rows"].as_u64().unwrap_or(0);
    if answer.doc["views"][0]["skipped"] != false
        || windowed_rows == 0
        || windowed_rows >= source_rows
    {
        return Err(format!(
            "`cairn feature materialize --start {start}` did not compute a smaller table: {}",
            answer.doc
        )
        .into());
    }
    let mut windowed = Figure::new();
    windowed.push(&answer.measured);
    report_usage(
        "cairn feature materialize --start (last 10 days)",
        &windowed,
    );
    println!(
        "{:<34} {} of {} rows kept",
        "",
        fmt_count(windowed_rows),
        fmt_count(source_rows)
    );

    // The verdicts.
    let secs = |f: &Figure| f.median().as_secs_f64();
    let with_max = |f: &Figure| {
        format!(
            "{} (max {})",
            fmt_duration(f.median()),
            fmt_duration(f.max())
        )
    };
    let quoted = |s: f64| {
        if s >= 1.0 {
            format!("{s} s")
        } else if s >= 0.01 {
            format!("{:.0} ms", s * 1000.0)
        } else {
            format!("{:.2} ms", s * 1000.0)
        }
    };
    let mib = |bytes: u64| format!("{:.0} MiB", bytes as f64 / MIB);
    let joined_ok = joined.rows == entity_rows && joined.wrong == 0;
    let checks = vec![
        Check {
            id: "start_version",
            value: secs(&version),
            name: "start: cairn --version".to_owned(),
            measured: with_max(&version),
            reference: format!("feast CLI start {} (quoted)", quoted(FEAST_START)),
            ratio: None,
            target: "< 20 ms",
            pass: Some(secs(&version) < TARGET_START),
        },
        Check {
            id: "start_list",
            value: secs(&list),
            name: "start: cairn feature list".to_owned(),
            measured: with_max(&list),
            reference: format!("feast CLI start {} (quoted)", quoted(FEAST_START)),
            ratio: None,
            target: "< 20 ms",
            pass: Some(secs(&list) < TARGET_START),
        },
        Check {
            id: "materialize",
            value: secs(&materialize),
            name: format!("materialize {} rows", fmt_count(source_rows)),
            measured: fmt_duration(materialize.median()),
            reference: format!("feast {} into SQLite (quoted)", quoted(FEAST_MATERIALIZE)),
            ratio: None,
            target: "< 3 s",
            pass: Some(secs(&materialize) < TARGET_MATERIALIZE),
        },
        Check {
            id: "materialize_rss",
            value: materialize.maxrss as f64,
            name: "peak RSS of materialize".to_owned(),
            measured: mib(materialize.maxrss),
            reference: format!("source CSV {}", fmt_bytes(source_bytes)),
            ratio: None,
            target: "< 400 MiB",
            pass: Some(materialize.maxrss < TARGET_RSS),
        },
        Check {
            id: "materialize_window_rss",
            value: windowed.maxrss as f64,
            name: "peak RSS, materialize of the last 10 days".to_owned(),
            measured: format!(
                "{} ({} rows)",
                mib(windowed.maxrss),
                fmt_count(windowed_rows)
            ),
            reference: format!(
                "all {} rows {}",
                fmt_count(source_rows),
                mib(materialize.maxrss)
            ),
            ratio: Some(windowed.maxrss as f64 / materialize.maxrss.max(1) as f64),
            target: "-",
            pass: None,
        },
        Check {
            id: "plan",
            value: secs(&plan),
            name: "plan (read and compute, no writes)".to_owned(),
            measured: fmt_duration(plan.median()),
            reference: format!("materialize {}", fmt_duration(materialize.median())),
            ratio: Some(secs(&plan) / secs(&materialize)),
            target: "-",
            pass: None,
        },
        Check {
            id: "materialize_noop",
            value: secs(&noop),
            name: "materialize again, unchanged".to_owned(),
            measured: with_max(&noop),
            reference: "-".to_owned(),
            ratio: None,
            target: "-",
            pass: None,
        },
        Check {
            id: "historical",
            value: secs(&historical),
            name: format!("historical join, {} rows", fmt_count(entity_rows)),
            measured: fmt_duration(historical.median()),
            reference: format!(
                "feast {} duckdb, 13.7 s file (quoted)",
                quoted(FEAST_HISTORICAL)
            ),
            ratio: None,
            target: "< 1 s",
            pass: Some(secs(&historical) < TARGET_HISTORICAL),
        },
        Check {
            id: "historical_rss",
            value: historical.maxrss as f64,
            name: "peak RSS of the historical join".to_owned(),
            measured: mib(historical.maxrss),
            reference: format!(
                "feast {} duckdb, 2.2 GiB file (quoted)",
                mib(FEAST_HISTORICAL_RSS)
            ),
            ratio: None,
            target: "< 400 MiB",
            pass: Some(historical.maxrss < TARGET_RSS),
        },
        Check {
            id: "historical_correct",
            value: joined.wrong as f64,
            name: "historical rows and values".to_owned(),
            measured: format!(
                "{} rows, {} wrong, {:.1}% null",
                fmt_count(joined.rows),
                fmt_count(joined.wrong),
                percent(joined.nulls, cells)
            ),
            reference: "feast file store lost 21% of rows".to_owned(),
            ratio: None,
            target: "= input, = expected",
            pass: Some(joined_ok),
        },
        Check {
            id: "online_one",
            value: secs(&online_one),
            name: "online, 1 entity (whole CLI run)".to_owned(),
            measured: with_max(&online_one),
            reference: format!("feast {} in-process (quoted)", quoted(FEAST_ONLINE_ONE)),
            ratio: None,
            target: "- (process vs call)",
            pass: None,
        },
        Check {
            id: "online_many",
            value: secs(&online_many),
            name: format!(
                "online, {} entities (whole CLI run)",
                fmt_count(many.len() as u64)
            ),
            measured: with_max(&online_many),
            reference: format!("feast {} in-process (quoted)", quoted(FEAST_ONLINE_MANY)),
            ratio: None,
            target: "- (process vs call)",
            pass: None,
        },
        Check {
            id: "online_inprocess_one",
            value: inprocess.one_median,
            name: "online, 1 entity (in-process)".to_owned(),
            measured: format!(
                "{} (p99 {})",
                fmt_short(inprocess.one_median),
                fmt_short(inprocess.one_p99)
            ),
            reference: format!("feast {} in-process (quoted)", quoted(FEAST_ONLINE_ONE)),
            ratio: None,
            target: "< 50 us",
            pass: Some(inprocess.one_median < TARGET_ONLINE_ONE),
        },
        Check {
            id: "online_inprocess_many",
            value: inprocess.many_median,
            name: format!(
                "online, {} entities (in-process)",
                fmt_count(inprocess.batch)
            ),
            measured: format!(
                "{} (p99 {})",
                fmt_short(inprocess.many_median),
                fmt_short(inprocess.many_p99)
            ),
            reference: format!("feast {} in-process (quoted)", quoted(FEAST_ONLINE_MANY)),
            ratio: None,
            target: "< 5 ms",
            pass: Some(inprocess.many_median < TARGET_ONLINE_MANY),
        },
        Check {
            id: "online_inprocess_correct",
            value: inprocess.check.wrong as f64,
            name: "in-process online answers".to_owned(),
            measured: format!(
                "{} entities, {} wrong",
                fmt_count(inprocess.check.entities),
                fmt_count(inprocess.check.wrong)
            ),
            reference: "-".to_owned(),
            ratio: None,
            target: "= expected",
            pass: Some(inprocess.check.wrong == 0),
        },
        Check {
            id: "online_correct",
            value: online_checks.wrong as f64,
            name: "online answers".to_owned(),
            measured: format!(
                "{} entities, {} wrong",
                fmt_count(online_checks.entities),
                fmt_count(online_checks.wrong)
            ),
            reference: "-".to_owned(),
            ratio: None,
            target: "= expected",
            pass: Some(online_checks.wrong == 0),
        },
    ];

    println!();
    print_table(&checks);
    println!("\n{}", super::summary(&checks));
    let extra = online_many.median().saturating_sub(online_one.median());
    println!(
        "(the whole-process online figures include start-up, reading cairn.toml, opening \
         online.db, the reads and JSON out; the {} more entities cost {} there. The in-process \
         figures are reads on an OnlineReader opened once (one read transaction each, cached \
         statements), answers as `cairn feature online` gives them, not serialised; Feast's are \
         calls into a running Python process.)",
        fmt_count(many.len() as u64 - 1),
        fmt_duration(extra)
    );
    println!(
        "(the Feast figures are quoted from the issue for the full sizes, not measured in this \
         run: references only, no verdict compares with them)"
    );

    let document = json!({
        "kind": "bench-feature",
        "schema_version": 2,
        "quick": scale.quick,
        "machine": machine,
        "source": source,
        "data": {
            "seed": DATA_SEED,
            "entities": scale.entities,
            "timestamps": scale.timestamps,
            "source_rows": source_rows,
            "source_bytes": source_bytes,
            "tie_rows": tie_rows,
            "entity_rows": entity_rows,
            "xtask_rss_bytes": floor,
            "entity_rows_unknown": unknown,
            "entity_rows_before_first_event": before,
            "entity_rows_expired": expired,
            "expected_null_share": expected_nulls as f64 / cells as f64,
            "newest_event_before": iso(end),
            "ttl_days": TTL / DAY,
            "offline_table_bytes": offline_bytes,
            "online_db_bytes": online_bytes,
        },
        "figures": {
            "version": version.json(),
            "list": list.json(),
            "materialize": materialize.json(),
            "materialize_noop": noop.json(),
            "plan": plan.json(),
            "materialize_window": windowed.json(),
            "materialize_window_rows": windowed_rows,
            "historical_parquet": historical.json(),
            "historical_csv": historical_csv.json(),
            "online_one": online_one.json(),
            "online_many": online_many.json(),
            "online_inprocess": inprocess.doc,
        },
        "correctness": {
            "historical_rows": joined.rows,
            "historical_wrong_values": joined.wrong,
            "historical_null_share": joined.nulls as f64 / cells as f64,
            "online_entities_checked": online_checks.entities,
            "online_wrong": online_checks.wrong,
            "online_inprocess_entities_checked": inprocess.check.entities,
            "online_inprocess_wrong": inprocess.check.wrong,
        },
        "feast_quoted": {
            "version": "0.67",
            "cli_start_s": FEAST_START,
            "materialize_s": FEAST_MATERIALIZE,
            "historical_duckdb_s": FEAST_HISTORICAL,
            "historical_duckdb_rss_bytes": FEAST_HISTORICAL_RSS,
            "historical_file_s": 13.7,
            "online_one_s": FEAST_ONLINE_ONE,
            "online_1000_s": FEAST_ONLINE_MANY,
        },
        "targets": {
            "start_s": TARGET_START,
            "materialize_s": TARGET_MATERIALIZE,
            "historical_s": TARGET_HISTORICAL,
            "peak_rss_bytes": TARGET_RSS,
            "online_inprocess_one_s": TARGET_ONLINE_ONE,
            "online_inprocess_1000_s": TARGET_ONLINE_MANY,
        },
        "checks": checks.iter().map(Check::json).collect::<Vec<_>>(),
    });
    finish(tmp, document, &results)
}

/// What the in-process reads measured (seconds) and how their answers checked out.
struct InProcess {
    open: f64,
    one_median: f64,
    one_p99: f64,
    batch: u64,
    many_median: f64,
    many_p99: f64,
    check: OnlineCheck,
    /// The example's document.
    doc: serde_json::Value,
}

/// Runs the example on the materialized project: every known entity, in a seeded order, read
/// one at a time and in batches of `scale.many`. Checks the first batch's answers like the
/// process reads', and that every read found every entity within the ttl.
fn inprocess_reads(
    bench: &Bench,
    bin: &Path,
    scale: Scale,
    features: &str,
    pick: &mut Rng,
    latest: &[Event],
) -> Result<InProcess> {
    let ids = distinct_ids(pick, scale.entities, scale.entities);
    let entities_path = bench.tmp.join("online-entities.jsonl");
    let answers_path = bench.tmp.join("online-answers.json");
    let doc_path = bench.tmp.join("online-latency.json");
    let text: String = ids
        .iter()
        .map(|id| format!("{{\"customer_id\":{id}}}\n"))
        .collect();
    std::fs::write(&entities_path, text)
        .context(|| format!("cannot write {}", entities_path.display()))?;
    let mut cmd = Command::new(bin);
    cmd.arg(&bench.proj)
        .args(["--features", features, "--entities"])
        .arg(&entities_path)
        .args([
            "--one",
            &INPROCESS_ONE_READS.to_string(),
            "--many",
            &INPROCESS_MANY_READS.to_string(),
            "--batch",
            &scale.many.to_string(),
            "--answers",
        ])
        .arg(&answers_path)
        .arg("--out")
        .arg(&doc_path);
    let shown = "online_latency (in-process reads)";
    bench.run(shown, &mut cmd)?;
    let text = std::fs::read_to_string(&doc_path)
        .context(|| format!("cannot read {}", doc_path.display()))?;
    let doc: serde_json::Value =
        serde_json::from_str(&text).context(|| format!("`{shown}` wrote no JSON document"))?;
    let answers = std::fs::read_to_string(&answers_path)
        .context(|| format!("cannot read {}", answers_path.display()))?;
    let answers: serde_json::Value = serde_json::from_str(&answers)
        .context(|| format!("cannot parse {}", answers_path.display()))?;
    let batch = doc["batch"].as_u64().unwrap_or(0);
    let mut check = check_online(&answers, &ids[..batch as usize], latest);
    // Every read found every entity, none past the ttl (each entity's newest event is in the
    // day before the run).
    for part in ["one", "many"] {
        let tally = &doc[part]["answers"];
        let entities = tally["entities"].as_u64().unwrap_or(0);
        let reads = doc[part]["reads"].as_u64().unwrap_or(0);
        let asked = if part == "one" { reads } else { reads * batch };
        if entities != asked
            || tally["found"].as_u64() != Some(asked)
            || tally["missing"] != 0
            || tally["expired"] != 0
        {
            check.wrong += 1;
            check.examples.push(format!(
                "{part}-entity reads: {asked} entities asked for, answers {tally}"
            ));
        }
    }
    let secs = |part: &str, key: &str| doc[part][key].as_f64().unwrap_or(f64::NAN);
    Ok(InProcess {
        open: doc["open_s"].as_f64().unwrap_or(f64::NAN),
        one_median: secs("one", "median_s"),
        one_p99: secs("one", "p99_s"),
        batch,
        many_median: secs("many", "median_s"),
        many_p99: secs("many", "p99_s"),
        check,
        doc,
    })
}

/// "6.4 us" below a millisecond, else as `fmt_duration`.
fn fmt_short(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        "?".to_owned()
    } else if secs < 1e-3 {
        format!("{:.1} us", secs * 1e6)
    } else {
        fmt_duration(Duration::from_secs_f64(secs))
    }
}

/// A just-initialised project with the feature definitions, keeping the data and `.git`.
pub(super) fn fresh_project(bench: &Bench) -> Result<()> {
    bench.fresh_project()?;
    let path = bench.proj.join("cairn.toml");
    let mut config =
        std::fs::read_to_string(&path).context(|| format!("cannot read {}", path.display()))?;
    config.push_str(DEFINITIONS);
    std::fs::write(&path, config).context(|| format!("cannot write {}", path.display()))
}

/// `cairn --json ARGS` in the project, timed; returns the JSON document it printed.
pub(super) fn cairn_json(bench: &Bench, shown: &str, args: &[&str]) -> Result<Answer> {
    let mut cmd = Command::new(&bench.cairn);
    cmd.arg("--json").args(args);
    let measured = bench.run(shown, &mut cmd)?;
    let out = bench.tmp.join("child.stdout");
    let text =
        std::fs::read_to_string(&out).context(|| format!("cannot read {}", out.display()))?;
    let doc = serde_json::from_str(text.lines().last().unwrap_or_default())
        .context(|| format!("`{shown}` printed no JSON document"))?;
    Ok(Answer { measured, doc })
}

/// Generates the source and the entity table into `proj`, and the answers of the join into
/// `expected` (one line per entity row: key, time, kind, the chosen event's times and values).
fn generate(scale: Scale, end: i64, proj: &Path, expected: &Path) -> Result<Generated> {
    let mut rng = Rng::new(DATA_SEED);
    let data_dir = proj.join("data");
    std::fs::create_dir_all(&data_dir)
        .context(|| format!("cannot create {}", data_dir.display()))?;
    // Every event in one allocation, which goes back to the system when it is dropped.
    let mut events = generate_events(scale, end, &mut rng);
    let source_bytes = write_source(&proj.join(SOURCE), &events, scale.entities)?;
    for list in events.chunks_mut(scale.timestamps) {
        list.sort_by_key(|e| (e.ts, e.created));
    }
    let rows = generate_entity_rows(scale, &events, end, &mut rng);
    let entity_bytes = write_entity_rows(&proj.join(ENTITIES), &rows)?;

    let (mut unknown, mut before, mut expired, mut expected_nulls) = (0, 0, 0, 0);
    let mut text = String::with_capacity(rows.len() * 64);
    for row in &rows {
        let answer = match row.id.checked_sub(1).map(|i| i as usize) {
            Some(e) if e < scale.entities => point_in_time(
                &events[e * scale.timestamps..(e + 1) * scale.timestamps],
                row.t,
            ),
            _ => Expected::Unknown,
        };
        text.push_str(&format!("{},{},{}", row.id, row.t, answer.kind()));
        match answer {
            Expected::Row(event) => {
                text.push_str(&format!(",{},{}", event.ts, event.created));
                for value in event.values {
                    text.push(',');
                    match value {
                        // Display prints the shortest text that parses back to the same f64.
                        Some(v) => text.push_str(&v.to_string()),
                        None => expected_nulls += 1,
                    }
                }
            }
            Expected::Unknown | Expected::Before | Expected::Expired => {
                match answer {
                    Expected::Unknown => unknown += 1,
                    Expected::Before => before += 1,
                    _ => expired += 1,
                }
                expected_nulls += FEATURES.len() as u64;
                text.push_str(",,,,,,");
            }
        }
        text.push('\n');
    }
    std::fs::write(expected, text).context(|| format!("cannot write {}", expected.display()))?;
    Ok(Generated {
        source_rows: events.len() as u64,
        source_bytes,
        tie_rows: count_ties(&events, scale.timestamps),
        entity_rows: rows.len() as u64,
        entity_bytes,
        unknown,
        before,
        expired,
        expected_nulls,
        latest: events
            .chunks(scale.timestamps)
            .filter_map(|list| list.last().copied())
            .collect(),
    })
}

/// This bench's source with `timestamps` events for each of `entities` entities (the same
/// generator and seed), written to `path`: the events, entity by entity, and the file's size.
pub(super) fn write_events(
    path: &Path,
    entities: usize,
    timestamps: usize,
    end: i64,
) -> Result<(Vec<Event>, u64)> {
    let scale = Scale {
        quick: false,
        entities,
        timestamps,
        entity_rows: 0,
        many: 0,
    };
    let events = generate_events(scale, end, &mut Rng::new(DATA_SEED));
    let bytes = write_source(path, &events, entities)?;
    Ok((events, bytes))
}

/// Every entity's events, entity by entity, each in time order (ties in no particular order
/// of `created`): the newest in the day before `end`, and gaps between them of 1 hour to 2
/// days, except that 6% of the gaps are zero (a tie, with a different created time) and 0.5%
/// are 31-40 days (longer than the ttl).
fn generate_events(scale: Scale, end: i64, rng: &mut Rng) -> Vec<Event> {
    let per = scale.timestamps;
    let mut all: Vec<Event> = Vec::with_capacity(scale.entities * per);
    let mut ts = vec![0i64; per];
    for _ in 0..scale.entities {
        ts[per - 1] = end - 1 - rng.below(DAY as u64) as i64;
        for k in (0..per - 1).rev() {
            let r = rng.unit();
            let gap = if r < 0.06 {
                0
            } else if r < 0.065 {
                rng.between(31 * DAY as u64, 40 * DAY as u64)
            } else {
                rng.between(3_600, 2 * DAY as u64)
            };
            ts[k] = ts[k + 1] - gap as i64;
        }
        let first = all.len();
        for &t in &ts {
            // Rows that tie on the event time get distinct created times, so that exactly one
            // of them is the latest.
            let mut created = t + rng.below(6 * 3_600) as i64;
            while all[first..]
                .iter()
                .rev()
                .take_while(|e| e.ts == t)
                .any(|e| e.created == created)
            {
                created += 1;
            }
            let values = [
                maybe(rng, |rng| rng.below(1_000_000) as f64 / 100.0),
                maybe(rng, |rng| rng.below(1_000_000) as f64 / 1e6),
                maybe(rng, |rng| rng.below(1_000) as f64),
                maybe(rng, |rng| rng.below(50) as f64),
            ];
            all.push(Event {
                ts: t,
                created,
                values,
            });
        }
    }
    all
}

/// A value, or null one time in a hundred.
fn maybe(rng: &mut Rng, value: impl FnOnce(&mut Rng) -> f64) -> Option<f64> {
    if rng.below(100) == 0 {
        None
    } else {
        Some(value(rng))
    }
}

/// The source CSV: the k-th event of every entity, then the (k+1)-th, and so on (roughly in
/// time order, as a log would be). Returns its size.
fn write_source(path: &Path, events: &[Event], entities: usize) -> Result<u64> {
    let file =
        std::fs::File::create(path).context(|| format!("cannot create {}", path.display()))?;
    let mut out = std::io::BufWriter::with_capacity(super::CHUNK, file);
    let mut line = String::from("customer_id,ts,created,amount,score,clicks,orders\n");
    let mut bytes = 0u64;
    let per = events.len() / entities.max(1);
    for k in 0..per {
        for e in 0..entities {
            let event = &events[e * per + k];
            line.push_str(&(e + 1).to_string());
            line.push(',');
            line.push_str(&iso(event.ts));
            line.push(',');
            line.push_str(&iso(event.created));
            let [amount, score, clicks, orders] = event.values;
            line.push(',');
            if let Some(v) = amount {
                line.push_str(&format!("{v:.2}"));
            }
            line.push(',');
            if let Some(v) = score {
                line.push_str(&format!("{v:.6}"));
            }
            for v in [clicks, orders] {
                line.push(',');
                if let Some(v) = v {
                    line.push_str(&(v as u64).to_string());
                }
            }
            line.push('\n');
            out.write_all(line.as_bytes())
                .context(|| format!("cannot write {}", path.display()))?;
            bytes += line.len() as u64;
            line.clear();
        }
    }
    out.flush()
        .context(|| format!("cannot write {}", path.display()))?;
    Ok(bytes)
}

/// The entity table's rows: 5% unknown keys; the others at one of the entity's event times
/// (one in five, to exercise the inclusive bound and the ties) or at a time between two days
/// before its first event and the end.
fn generate_entity_rows(scale: Scale, events: &[Event], end: i64, rng: &mut Rng) -> Vec<EntityRow> {
    let per = scale.timestamps;
    (0..scale.entity_rows)
        .map(|_| {
            if rng.below(20) == 0 {
                let id = scale.entities as u64 + 1 + rng.below(scale.entities as u64);
                let t = end - rng.below(60 * DAY as u64) as i64;
                return EntityRow { id, t };
            }
            let e = rng.below(scale.entities as u64) as usize;
            let list = &events[e * per..(e + 1) * per];
            let t = if rng.below(5) == 0 {
                list[rng.below(per as u64) as usize].ts
            } else {
                let first = list[0].ts - 2 * DAY;
                first + rng.below((end - first) as u64) as i64
            };
            EntityRow {
                id: e as u64 + 1,
                t,
            }
        })
        .collect()
}

/// The point-in-time answer at `t` from an entity's events sorted by (event time, created):
/// the last event at or before `t` is the one with the largest (event, created).
fn point_in_time(list: &[Event], t: i64) -> Expected<'_> {
    let n = list.partition_point(|event| event.ts <= t);
    if n == 0 {
        Expected::Before
    } else if list[n - 1].ts < t - TTL {
        Expected::Expired
    } else {
        Expected::Row(&list[n - 1])
    }
}

fn write_entity_rows(path: &Path, rows: &[EntityRow]) -> Result<u64> {
    let mut text = String::from("customer_id,event_timestamp,label\n");
    for (i, row) in rows.iter().enumerate() {
        text.push_str(&format!("{},{},{}\n", row.id, iso(row.t), i % 2));
    }
    std::fs::write(path, &text).context(|| format!("cannot write {}", path.display()))?;
    Ok(text.len() as u64)
}

/// Rows whose event time repeats an earlier one of the same entity.
fn count_ties(events: &[Event], per: usize) -> u64 {
    events
        .chunks(per)
        .map(|list| list.windows(2).filter(|w| w[0].ts == w[1].ts).count() as u64)
        .sum()
}

/// `n` distinct known keys (all of them if there are fewer).
pub(super) fn distinct_ids(rng: &mut Rng, entities: usize, n: usize) -> Vec<u64> {
    let mut ids: Vec<u64> = (1..=entities as u64).collect();
    let n = n.min(entities);
    for i in 0..n {
        let j = i + rng.below((entities - i) as u64) as usize;
        ids.swap(i, j);
    }
    ids.truncate(n);
    ids
}

/// This process's resident set size, from /proc.
fn own_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse::<u64>()
        .ok()?;
    Some(kib * 1024)
}

/// What the check of the joined CSV found.
struct Joined {
    rows: u64,
    nulls: u64,
    wrong: u64,
    examples: Vec<String>,
}

/// Compares every row of the historical join's CSV output with the expected answers: the key
/// in input order and the four features (nulls included).
fn check_joined(path: &Path, expected: &Path) -> Result<Joined> {
    let text =
        std::fs::read_to_string(path).context(|| format!("cannot read {}", path.display()))?;
    let answers = std::fs::read_to_string(expected)
        .context(|| format!("cannot read {}", expected.display()))?;
    let mut answers = answers.lines();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let index = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or_else(|| format!("{} has no column `{name}`: {header:?}", path.display()))
    };
    let key = index("customer_id")?;
    let columns = FEATURES
        .iter()
        .map(|f| index(f))
        .collect::<Result<Vec<_>, _>>()?;
    let mut joined = Joined {
        rows: 0,
        nulls: 0,
        wrong: 0,
        examples: Vec::new(),
    };
    let wrong = |joined: &mut Joined, what: String| {
        joined.wrong += 1;
        if joined.examples.len() < 5 {
            joined.examples.push(what);
        }
    };
    let number = |cell: &str| (!cell.is_empty()).then(|| cell.parse::<f64>().unwrap_or(f64::NAN));
    for (i, line) in lines.enumerate() {
        joined.rows += 1;
        let Some(answer) = answers.next() else {
            continue;
        };
        // key, time, kind, event time, created, four values
        let want: Vec<&str> = answer.split(',').collect();
        let [id, t, kind, ts, created] = [0, 1, 2, 3, 4].map(|i| want[i]);
        let at = t.parse::<i64>().map_or_else(|_| t.to_owned(), iso);
        let cells: Vec<&str> = line.split(',').collect();
        if cells.get(key) != Some(&id) {
            wrong(
                &mut joined,
                format!(
                    "output row {}: `{line}`, expected customer {id} at {at}",
                    i + 1
                ),
            );
            continue;
        }
        for (f, &column) in columns.iter().enumerate() {
            let cell = cells.get(column).copied().unwrap_or_default();
            let got = number(cell);
            joined.nulls += u64::from(got.is_none());
            if got != number(want[5 + f]) {
                let why = match kind {
                    "row" => format!(
                        "`{}` (event {}, created {})",
                        want[5 + f],
                        ts.parse::<i64>().map_or_else(|_| ts.to_owned(), iso),
                        created
                            .parse::<i64>()
                            .map_or_else(|_| created.to_owned(), iso)
                    ),
                    "unknown" => "null (unknown key)".to_owned(),
                    "before" => "null (before the first event)".to_owned(),
                    _ => "null (past the ttl)".to_owned(),
                };
                wrong(
                    &mut joined,
                    format!(
                        "output row {}: customer {id} at {at}: {} = `{cell}`, expected {why}",
                        i + 1,
                        FEATURES[f],
                    ),
                );
            }
        }
    }
    Ok(joined)
}

/// What the checks of online answers found, over all reads.
#[derive(Default)]
struct OnlineCheck {
    entities: u64,
    wrong: u64,
    examples: Vec<String>,
}

impl OnlineCheck {
    fn add(&mut self, other: OnlineCheck) {
        self.entities += other.entities;
        self.wrong += other.wrong;
        self.examples.extend(other.examples);
        self.examples.truncate(5);
    }
}

/// Compares an online answer with each entity's newest event (largest event time, then
/// created), null if that is older than the ttl now.
fn check_online(doc: &serde_json::Value, ids: &[u64], latest: &[Event]) -> OnlineCheck {
    let mut check = OnlineCheck::default();
    let now = super::unix_now() as i64;
    let answers = doc["entities"].as_array().map_or(&[][..], Vec::as_slice);
    if answers.len() != ids.len() {
        check.wrong += 1;
        check.examples.push(format!(
            "{} entities in the answer, {} asked for",
            answers.len(),
            ids.len()
        ));
    }
    for (answer, &id) in answers.iter().zip(ids) {
        check.entities += 1;
        let Some(latest) = latest.get(id as usize - 1) else {
            continue;
        };
        let fresh = now - latest.ts <= TTL;
        let mut problems = Vec::new();
        if answer["keys"]["customer_id"].as_u64() != Some(id) {
            problems.push(format!("keys {}", answer["keys"]));
        }
        let time = format!("{}Z", iso(latest.ts));
        if answer["event_times"][VIEW].as_str() != Some(time.as_str()) {
            problems.push(format!(
                "event time {}, expected {time}",
                answer["event_times"][VIEW]
            ));
        }
        for (f, want) in FEATURES.iter().zip(latest.values) {
            let want = want.filter(|_| fresh);
            let value = &answer["features"][f];
            let got = if value.is_null() {
                None
            } else {
                Some(value.as_f64().unwrap_or(f64::NAN))
            };
            if got != want {
                problems.push(format!("{f} = {value}, expected {want:?}"));
            }
        }
        if !problems.is_empty() {
            check.wrong += 1;
            if check.examples.len() < 5 {
                check
                    .examples
                    .push(format!("customer {id}: {}", problems.join("; ")));
            }
        }
    }
    check
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// Seconds since the epoch as an ISO 8601 UTC time without a zone (`2026-11-26T08:30:00`).
pub(super) fn iso(secs: i64) -> String {
    let days = secs.div_euclid(DAY);
    let rem = secs.rem_euclid(DAY);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_times() {
        assert_eq!(iso(0), "1970-01-01T00:00:00");
        assert_eq!(iso(1_795_695_676), "2026-11-26T12:21:16");
        assert_eq!(iso(951_782_400 + 61), "2000-02-29T00:01:01");
    }

    #[test]
    fn point_in_time_answers() {
        let event = |ts, created| Event {
            ts,
            created,
            values: [Some(ts as f64), None, None, None],
        };
        // Sorted by (event, created): the tie at 100 goes to the row created last.
        let list = [event(100, 5), event(100, 7), event(200, 1)];
        let created = |t| match point_in_time(&list, t) {
            Expected::Row(e) => Some((e.ts, e.created)),
            _ => None,
        };
        assert!(matches!(point_in_time(&list, 99), Expected::Before));
        assert_eq!(created(100), Some((100, 7)));
        assert_eq!(created(199), Some((100, 7)));
        assert_eq!(created(200 + TTL), Some((200, 1)));
        assert!(matches!(point_in_time(&list, 201 + TTL), Expected::Expired));
    }

    #[test]
    fn data_is_seeded_with_ties_and_nulls() {
        let scale = Scale {
            quick: true,
            entities: 50,
            timestamps: 100,
            entity_rows: 1_000,
            many: 10,
        };
        let a = generate_events(scale, 100 * 365 * DAY, &mut Rng::new(1));
        let b = generate_events(scale, 100 * 365 * DAY, &mut Rng::new(1));
        assert!(
            a.iter()
                .zip(&b)
                .all(|(x, y)| x.ts == y.ts && x.created == y.created && x.values == y.values)
        );
        let rows = (scale.entities * scale.timestamps) as u64;
        assert_eq!(a.len() as u64, rows);
        let ties = count_ties(&a, scale.timestamps);
        assert!((rows * 4 / 100..rows * 8 / 100).contains(&ties), "{ties}");
        let nulls = a.iter().flat_map(|e| e.values).filter(Option::is_none);
        assert!((100..300).contains(&nulls.count()), "1% of 20,000 values");
    }
}
