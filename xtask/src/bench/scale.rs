//! `cargo xtask bench scale [--quick]`: cairn's online store on Redis beside the SQLite one,
//! in the same run, on the same project (issue 20's figures):
//!
//! - entity-keyed requests to `cairn serve` at concurrency 16, the features read from Redis:
//!   at least 0.7 of the requests/s of the same server reading SQLite;
//! - `cairn feature materialize` of 1,000,000 rows (one view, four features) into Redis:
//!   under 4 s; the same into SQLite beside it, as a reference; Redis's memory per entity
//!   (`used_memory` of `INFO memory` after the materialization minus before, over the
//!   entities), shown without a target;
//! - Spark (`[offline] engine = "spark"`): the Spark Connect server's start-up, then the
//!   1,000,000-row materialize (into SQLite, so that only the offline engine differs) and the
//!   100,000-row point-in-time join (`cairn feature historical`, 10,000 with `--quick`), each
//!   beside the same command on polars in the same run, without a target (the issue asks for
//!   the figures, split into start-up and query). The server is pyspark's (installed into
//!   `<target>/spark-venv` like `cargo xtask test-spark` does), `local[2]` on the same two
//!   cores, started by `cairn_test_support::spark`; "not measured" without `java`. Its first
//!   query after start-up is shown apart from the others: it pays the JVM's warm-up.
//! - a view larger than the memory budget: `cairn feature materialize --memory-budget 2GiB` of
//!   50,000,000 rows (1,000,000 entities × 50 events; 5,000,000 under 256 MiB with `--quick`),
//!   which must sort the view on disk: peak anonymous memory (`RssAnon`, sampled) under 2 GiB,
//!   with the peak RSS (`wait4`: it counts the mapped source's pages), the wall time and the
//!   number of sort buckets beside it.
//!
//! The data is the feature bench's generator and view (`super::feature`): one event per entity
//! (1,000,000 entities; 100,000 with `--quick`), two float and two int features with 1% nulls,
//! every event in the day before the run's day, the view `customer_stats` with its 30-day ttl.
//! `labels.csv` gives 20,000 of the entities (5,000 with `--quick`) a label computed from their
//! features, at the run's day; the model `churn` (a depth-6 decision tree, every input imputed
//! by its median) is trained on them through the feature service `scoring` (all four
//! features) and registered as version 1. Redis is a `redis-server` (the Debian package)
//! started by `cairn_test_support::redis` on 127.0.0.1 on a free port, without persistence, in
//! a temporary directory, and killed at the end.
//!
//! Materialize is timed as whole processes (`Bench::run`), three times per store, each from a
//! fresh project (so the view is computed each time) and, for Redis, an empty server
//! (`FLUSHALL`). Then the same view's online rows alone are timed (the offline table pinned in
//! `cairn.lock`, the online store emptied: materialize rebuilds it from the pinned table
//! without computing the view), to tell the store's writes apart from the view's query.
//!
//! The loads: `cairn serve churn@1` (2 workers) with `[online]` on SQLite, then on Redis
//! (only `cairn.toml`'s `[online]` differs), each under one `wrk --latency` run (`-t1 -c16`,
//! 10 s, 3 s with `--quick`, after a 1 s warm-up). Each request asks for one entity picked at
//! random among all of them by the Lua script (`wrk.format` per request, seeded, the same
//! sequence for both stores): `{"entities": [{"customer_id": N}]}`. A load fails the bench if a
//! request failed, or if `/metrics` counts a request answered by imputation because the store
//! could not answer (`cairn_online_store_unavailable_total`): that would be a 200 that never
//! read the store. Before the loads, both servers answer the same 100 entities, and must give
//! the same predictions, probabilities and imputed inputs.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cairn_test_support::redis::RedisServer;
use serde_json::{Value, json};

use super::feature::{self, DAY, FEATURES, SOURCE, VIEW, cairn_json};
use super::registry::{quiet, text};
use super::serve::{Load, SUMMARY, WORKERS, cpu_time, drive, fmt_micros, print_load, request};
use super::{Bench, Check, Figure, SEED, Setup, finish, print_table, report_usage, setup, summary};
use crate::rng::Rng;
use crate::util::{Context, Result, fmt_bytes, fmt_count, fmt_duration, on_path};

const MATERIALIZE_TARGET: Duration = Duration::from_secs(4);
const RATIO_TARGET: f64 = 0.7;
const CONNECTIONS: u32 = 16;
/// Timed materializations per store.
const RUNS: usize = 3;
/// Entities in the answers both servers must agree on.
const SAMPLE: usize = 100;
const LABELS: &str = "labels.csv";
/// The entity table of the historical joins (polars and Spark).
const JOIN_ENTITIES: &str = "join_entities.csv";
const MODEL: &str = "churn";
const PREDICT: &str = "/v1/models/churn/predict";
const UNAVAILABLE: &str = "cairn_online_store_unavailable_total";
/// The labels' and the wrk script's seed: another stream than the feature bench's.
const LABEL_SEED: u64 = SEED ^ 0x5CA1E;

/// The service and the model, after the feature bench's entity and view.
const SPECS: &str = r#"
[feature_service.scoring]
features = ["customer_stats:amount", "customer_stats:score", "customer_stats:clicks", "customer_stats:orders"]

[model.churn]
entities = "labels.csv"
service = "scoring"
target = "churned"
algorithm = "decision_tree_classifier"
params = { max_depth = 6 }

[model.churn.columns.amount]
impute = "median"

[model.churn.columns.score]
impute = "median"

[model.churn.columns.clicks]
impute = "median"

[model.churn.columns.orders]
impute = "median"
"#;

/// Requests one entity picked at random in `1..=ENTITIES` per request (followed by
/// [`SUMMARY`]).
const ENTITY_KEYS: &str = r#"
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
math.randomseed(SEED)
request = function()
  local body = string.format('{"entities": [{"customer_id": %d}]}', math.random(1, ENTITIES))
  return wrk.format(nil, nil, nil, body)
end
"#;

/// How big the data is.
struct Size {
    entities: usize,
    labels: usize,
    /// Entity rows of the historical joins.
    join_rows: usize,
    /// Seconds of each load.
    load: u32,
    /// Events per entity of the view larger than the memory budget.
    large_events: usize,
    /// `--memory-budget` of its materialize.
    large_budget: &'static str,
}

impl Size {
    const FULL: Size = Size {
        entities: 1_000_000,
        labels: 20_000,
        join_rows: 100_000,
        load: 10,
        large_events: 50,
        large_budget: "2GiB",
    };
    const QUICK: Size = Size {
        entities: 100_000,
        labels: 5_000,
        join_rows: 10_000,
        load: 3,
        large_events: 50,
        large_budget: "256MiB",
    };
}

/// The peak anonymous memory `cairn feature materialize` of the large view may reach (full
/// run). Anonymous, not RSS: polars maps the source file, whose pages count in RSS but are
/// the page cache's, which the kernel takes back under pressure (3.3 GiB of RSS for a 3.3 GiB
/// CSV source whose view held 1.0 GiB), as `bench data` measures `data add`.
const LARGE_MEMORY_TARGET: u64 = 2 << 30;

/// The Redis server of the bench, and `redis-cli` to talk to it.
struct Redis {
    server: RedisServer,
    cli: PathBuf,
}

impl Redis {
    /// `redis-cli -p PORT ARGS`: its output, or an error with what it said.
    fn cli(&self, args: &[&str]) -> Result<String> {
        let out = Command::new(&self.cli)
            .args(["-h", "127.0.0.1", "-p", &self.server.port().to_string()])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .context(|| format!("cannot run {}", self.cli.display()))?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() || stdout.starts_with("ERR") {
            return Err(format!(
                "`redis-cli {}` failed ({}): {}{}",
                args.join(" "),
                crate::util::describe(out.status),
                stdout.trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            )
            .into());
        }
        Ok(stdout)
    }

    fn flush(&self) -> Result<()> {
        self.cli(&["FLUSHALL"]).map(drop)
    }

    fn used_memory(&self) -> Result<u64> {
        let info = self.cli(&["INFO", "memory"])?;
        used_memory(&info).ok_or_else(|| format!("no used_memory in INFO memory: {info}").into())
    }

    fn keys(&self) -> Result<u64> {
        let out = self.cli(&["DBSIZE"])?;
        out.trim()
            .parse()
            .map_err(|_| format!("DBSIZE answered `{}`", out.trim()).into())
    }
}

/// One store's materializations from nothing.
struct Materialized {
    figure: Figure,
    /// Redis only: `used_memory` after minus before, per run.
    memory: Vec<u64>,
}

pub(super) fn run(quick: bool) -> Result<()> {
    let size = if quick { Size::QUICK } else { Size::FULL };
    let mut missing = Vec::new();
    let mut find = |name: &'static str| {
        let found = on_path(name);
        if found.is_none() {
            missing.push(name);
        }
        found
    };
    let (wrk, server, cli) = (find("wrk"), find("redis-server"), find("redis-cli"));
    let (Some(wrk), Some(_), Some(cli)) = (wrk, server, cli) else {
        return Err(format!(
            "`cargo xtask bench scale` needs {} on PATH; install the Debian packages wrk and \
             redis-server (`apt-get install wrk redis-server`)",
            missing.join(" and ")
        )
        .into());
    };
    let Setup {
        tmp,
        bench,
        machine,
        source,
        results,
        built: _,
    } = setup("bench-scale.json", quick, false)?;
    let server = RedisServer::launch()?;
    let redis = Redis { server, cli };
    let url = redis.server.url();
    let version = Command::new("redis-server")
        .arg("--version")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_default();
    println!("redis: {version}, at {url} (no persistence)");

    // The data: the feature bench's source with one event per entity, and the labels.
    let started = Instant::now();
    let end = super::unix_now() as i64 / DAY * DAY;
    let data = bench.proj.join("data");
    std::fs::create_dir_all(&data).context(|| format!("cannot create {}", data.display()))?;
    let (events, source_bytes) =
        feature::write_events(&bench.proj.join(SOURCE), size.entities, 1, end)?;
    let mut rng = Rng::new(LABEL_SEED);
    let labelled = feature::distinct_ids(&mut rng, size.entities, size.labels);
    let positives = write_labels(&bench.proj.join(LABELS), &labelled, &events, end)?;
    let sample: Vec<u64> = labelled.iter().copied().take(SAMPLE).collect();
    let joined = feature::distinct_ids(&mut rng, size.entities, size.join_rows);
    write_labels(&bench.proj.join(JOIN_ENTITIES), &joined, &events, end)?;
    drop(events);
    println!(
        "generated {SOURCE} ({} rows: one event for each of {} entities, 4 features; {}) and \
         {LABELS} ({} rows, {:.0}% positive) in {:.1} s",
        fmt_count(size.entities as u64),
        fmt_count(size.entities as u64),
        fmt_bytes(source_bytes),
        fmt_count(size.labels as u64),
        positives as f64 * 100.0 / size.labels as f64,
        started.elapsed().as_secs_f64()
    );
    bench.git_init()?;
    println!();

    // Materialize from nothing, into each store.
    let sqlite = materialize_from_nothing(&bench, None, &size)?;
    report_usage("materialize into SQLite", &sqlite.figure);
    let on_redis = materialize_from_nothing(&bench, Some(&redis), &size)?;
    report_usage("materialize into Redis", &on_redis.figure);
    let used = median_bytes(&on_redis.memory);
    let per_entity = used as f64 / size.entities as f64;
    let keys = redis.keys()?;
    println!(
        "{:<34} Redis used_memory +{} ({:.0} B per entity; runs: {}); {} keys",
        "",
        fmt_bytes(used),
        per_entity,
        on_redis
            .memory
            .iter()
            .map(|b| fmt_bytes(*b))
            .collect::<Vec<_>>()
            .join(", "),
        fmt_count(keys)
    );
    if keys < size.entities as u64 {
        return Err(format!(
            "Redis holds {keys} keys after materializing {} entities",
            size.entities
        )
        .into());
    }

    // The model, on the project as it is now (on Redis).
    quiet(&bench, &["data", "add", LABELS])?;
    let (took, out) = quiet(&bench, &["--json", "train", MODEL])?;
    let trained: Value = serde_json::from_slice(&out)
        .context(|| "`cairn --json train churn` printed no JSON document".to_owned())?;
    let run = text(&trained, "id")?;
    quiet(&bench, &["register", &run, "--name", MODEL])?;
    println!(
        "\ntrained `{MODEL}` (decision tree, depth 6, {} labelled entities) in {}: run {run}, \
         registered as {MODEL}@1; accuracy {:.3}",
        fmt_count(size.labels as u64),
        fmt_duration(took),
        trained["metrics"]["accuracy"].as_f64().unwrap_or(f64::NAN)
    );

    // The online rows alone, from the pinned offline table: Redis, then SQLite.
    println!();
    let only_redis = online_rows_only(&bench, Some(&redis), &size)?;
    report_usage("online rows only, Redis", &only_redis);
    set_store(&bench, None)?;
    let only_sqlite = online_rows_only(&bench, None, &size)?;
    report_usage("online rows only, SQLite", &only_sqlite);

    // The loads: the same server, model and requests, on SQLite then on Redis.
    println!(
        "\nloads: wrk -t1 -c{CONNECTIONS} -d{}s --latency after a 1 s warm-up, one entity per \
         request picked at random among {} (server: {WORKERS} workers)",
        size.load,
        fmt_count(size.entities as u64)
    );
    let script = bench.tmp.join("entities.lua");
    std::fs::write(&script, entity_script(size.entities, LABEL_SEED))
        .context(|| format!("cannot write {}", script.display()))?;
    let sample_body = entities_body(&sample);
    let mut loads = Vec::new();
    let mut answers = Vec::new();
    let mut redis_cpu = Duration::ZERO;
    for (name, store) in [("sqlite", None), ("redis", Some(url.as_str()))] {
        set_store(&bench, store)?;
        let (server, ready) = super::serve::start_cairn(
            &bench,
            &format!("{MODEL}@1"),
            PREDICT,
            &bench.tmp.join(format!("serve-{name}.stderr")),
        )?;
        let (status, body) = request(server.port, "POST", PREDICT, Some(&sample_body))?;
        let answer: Value = serde_json::from_str(&body)
            .context(|| format!("{name}: the answer to {SAMPLE} entities is not JSON: {body}"))?;
        check_answer(status, &answer, SAMPLE).map_err(|e| format!("{name}: {}", e.message))?;
        let redis_before = match store {
            Some(_) => Some(redis_pid_cpu(&redis)?),
            None => None,
        };
        let load = drive(&wrk, &script, &server, name, 1, CONNECTIONS, size.load)?;
        if let Some(before) = redis_before {
            redis_cpu = redis_pid_cpu(&redis)?.saturating_sub(before);
        }
        let (_, metrics) = request(server.port, "GET", "/metrics", None)?;
        match metric(&metrics, UNAVAILABLE) {
            Some(0.0) => {}
            other => {
                return Err(format!(
                    "{name}: {UNAVAILABLE} is {other:?} after the load: requests were answered \
                     without reading the online store"
                )
                .into());
            }
        }
        println!("  {name}: ready {} after the spawn", fmt_duration(ready));
        print_load(&load);
        loads.push(load);
        answers.push(answer);
    }
    println!(
        "  redis-server's CPU during the Redis load: {:.2} cores",
        redis_cpu.as_secs_f64() / loads[1].seconds
    );
    let same = ["predictions", "probabilities", "imputed"]
        .iter()
        .all(|key| answers[0][key] == answers[1][key]);
    if !same {
        return Err(format!(
            "the same {SAMPLE} entities got different answers from SQLite and Redis:\n{}\n{}",
            answers[0], answers[1]
        )
        .into());
    }
    println!("  both stores gave the same answers for {SAMPLE} entities");

    // The offline engine on Spark, beside polars (last: the server takes 2 GB and two cores).
    println!();
    let spark = spark_figures(&bench, &size, &sqlite.figure)?;

    // A view larger than the memory budget (last: it replaces the source).
    println!();
    let large = larger_than_memory(&bench, &size)?;

    let (lite, red) = (&loads[0], &loads[1]);
    let ratio = red.rps() / lite.rps();
    let n = fmt_count(size.entities as u64);
    let (mat_sqlite, mat_redis) = (sqlite.figure.median(), on_redis.figure.median());
    let (only_s, only_r) = (only_sqlite.median(), only_redis.median());
    let checks = vec![
        Check {
            id: "redis_c16_rps",
            value: red.rps(),
            name: format!("entity-keyed requests/s on Redis, {CONNECTIONS} connections"),
            measured: format!(
                "{} (p99 {})",
                fmt_count(red.rps() as u64),
                fmt_micros(red.p99)
            ),
            reference: format!(
                "SQLite {} (p99 {})",
                fmt_count(lite.rps() as u64),
                fmt_micros(lite.p99)
            ),
            ratio: Some(ratio),
            target: ">= 0.7 x SQLite",
            pass: Some(ratio >= RATIO_TARGET),
        },
        Check {
            id: "materialize_redis",
            value: mat_redis.as_secs_f64(),
            name: format!("materialize {n} rows into Redis (1 view, 4 features)"),
            measured: fmt_duration(mat_redis),
            reference: format!("SQLite {}", fmt_duration(mat_sqlite)),
            ratio: Some(mat_redis.as_secs_f64() / mat_sqlite.as_secs_f64()),
            target: "< 4 s",
            pass: Some(mat_redis < MATERIALIZE_TARGET),
        },
        Check {
            id: "online_rows_redis",
            value: only_r.as_secs_f64(),
            name: format!("online rows only (offline table pinned), {n} entities, Redis"),
            measured: fmt_duration(only_r),
            reference: format!("SQLite {}", fmt_duration(only_s)),
            ratio: Some(only_r.as_secs_f64() / only_s.as_secs_f64()),
            target: "-",
            pass: None,
        },
        Check {
            id: "redis_bytes_per_entity",
            value: per_entity,
            name: "Redis memory per entity (used_memory delta / entities)".to_owned(),
            measured: format!("{per_entity:.0} B"),
            reference: format!("+{} for {n} entities", fmt_bytes(used)),
            ratio: None,
            target: "-",
            pass: None,
        },
    ];
    let mut checks = checks;
    checks.extend(spark.checks(size.join_rows, &n));
    checks.push(large.check(&size, quick));
    println!();
    print_table(&checks);
    println!("\n{}", summary(&checks));
    if quick {
        println!("(quick run: a smaller view and shorter loads; the targets are for the full run)");
    }

    let document = json!({
        "kind": "bench-scale",
        "schema_version": 1,
        "quick": quick,
        "machine": machine,
        "source": source,
        "redis": { "version": version },
        "data": {
            "entities": size.entities,
            "source_bytes": source_bytes,
            "features": FEATURES,
            "labels": size.labels,
        },
        "materialize": {
            "sqlite": sqlite.figure.json(),
            "redis": on_redis.figure.json(),
            "redis_used_memory_bytes": on_redis.memory,
            "redis_bytes_per_entity": per_entity,
            "redis_keys": keys,
        },
        "online_rows_only": { "sqlite": only_sqlite.json(), "redis": only_redis.json() },
        "model": { "run": run, "train_wall_s": took.as_secs_f64(), "metrics": trained["metrics"] },
        "load": {
            "tool": "wrk",
            "threads": 1,
            "connections": CONNECTIONS,
            "duration_s": size.load,
            "warmup_s": 1,
            "server_workers": WORKERS,
            "keys": "one entity per request, uniformly random over all entities",
        },
        "loads": loads.iter().map(Load::json).collect::<Vec<_>>(),
        "redis_cpu_s_during_load": redis_cpu.as_secs_f64(),
        "spark": spark.json(),
        "larger_than_memory": large.json(&size),
        "checks": checks.iter().map(Check::json).collect::<Vec<_>>(),
    });
    drop(redis);
    finish(tmp, document, &results)
}

/// The Spark part of the run: what was measured, or why nothing was.
enum Spark {
    NotMeasured(String),
    Measured(Box<SparkRuns>),
}

struct SparkRuns {
    version: String,
    /// Spawn to the server accepting connections.
    startup: Duration,
    /// The materializations on Spark: the first one after start-up, then the others.
    first: Figure,
    materialize: Figure,
    /// The same materialization on polars (the SQLite runs above).
    polars_materialize: Duration,
    first_join: Figure,
    historical: Figure,
    polars_historical: Figure,
}

impl Spark {
    fn checks(&self, join_rows: usize, n: &str) -> Vec<Check> {
        let Spark::Measured(runs) = self else {
            let why = match self {
                Spark::NotMeasured(why) => why.clone(),
                Spark::Measured(_) => String::new(),
            };
            return vec![Check {
                id: "spark",
                value: f64::NAN,
                name: "Spark: start-up, materialize, historical join".to_owned(),
                measured: "not measured".to_owned(),
                reference: why,
                ratio: None,
                target: "-",
                pass: None,
            }];
        };
        let SparkRuns {
            startup,
            first,
            materialize,
            polars_materialize,
            first_join,
            historical,
            polars_historical,
            ..
        } = runs.as_ref();
        let rows = fmt_count(join_rows as u64);
        let (m, p) = (materialize.median(), *polars_materialize);
        let (h, ph) = (historical.median(), polars_historical.median());
        vec![
            Check {
                id: "spark_startup",
                value: startup.as_secs_f64(),
                name: "Spark Connect server start-up (spawn to listening)".to_owned(),
                measured: fmt_duration(*startup),
                reference: "local[2] on the same 2 cores".to_owned(),
                ratio: None,
                target: "-",
                pass: None,
            },
            Check {
                id: "materialize_spark",
                value: m.as_secs_f64(),
                name: format!("materialize {n} rows, offline engine Spark (into SQLite)"),
                measured: format!(
                    "{} (first after start-up {})",
                    fmt_duration(m),
                    fmt_duration(first.median())
                ),
                reference: format!("polars {}", fmt_duration(p)),
                ratio: Some(m.as_secs_f64() / p.as_secs_f64()),
                target: "-",
                pass: None,
            },
            Check {
                id: "historical_spark",
                value: h.as_secs_f64(),
                name: format!("historical join, {rows} entity rows, Spark"),
                measured: format!(
                    "{} (first after start-up {})",
                    fmt_duration(h),
                    fmt_duration(first_join.median())
                ),
                reference: format!("polars {}", fmt_duration(ph)),
                ratio: Some(h.as_secs_f64() / ph.as_secs_f64()),
                target: "-",
                pass: None,
            },
        ]
    }

    fn json(&self) -> Value {
        match self {
            Spark::NotMeasured(why) => json!({ "measured": false, "why": why }),
            Spark::Measured(runs) => json!({
                "measured": true,
                "pyspark": runs.version,
                "master": "local[2]",
                "startup_s": runs.startup.as_secs_f64(),
                "materialize_first": runs.first.json(),
                "materialize": runs.materialize.json(),
                "polars_materialize_s": runs.polars_materialize.as_secs_f64(),
                "historical_first": runs.first_join.json(),
                "historical": runs.historical.json(),
                "polars_historical": runs.polars_historical.json(),
            }),
        }
    }
}

/// The historical join of [`JOIN_ENTITIES`] with every feature of the view, to Parquet,
/// timed; checks that it wrote one row per entity row.
fn historical(bench: &Bench, size: &Size, shown: &str) -> Result<super::Measured> {
    let features = FEATURES
        .iter()
        .map(|f| format!("{VIEW}:{f}"))
        .collect::<Vec<_>>()
        .join(",");
    bench.discard(Path::new("joined.parquet"))?;
    bench.warm(Path::new(JOIN_ENTITIES))?;
    let answer = cairn_json(
        bench,
        shown,
        &[
            "feature",
            "historical",
            "--entities",
            JOIN_ENTITIES,
            "--features",
            &features,
            "-o",
            "joined.parquet",
        ],
    )?;
    if answer.doc["rows"].as_u64() != Some(size.join_rows as u64) {
        return Err(format!(
            "`{shown}` wrote {} rows for {} entity rows",
            answer.doc["rows"], size.join_rows
        )
        .into());
    }
    Ok(answer.measured)
}

/// Spark's start-up, then [`RUNS`] materializations (each from a fresh project) and
/// historical joins on it, with the polars joins beside them; "not measured" without java.
fn spark_figures(bench: &Bench, size: &Size, polars_runs: &Figure) -> Result<Spark> {
    if on_path("java").is_none() {
        let why = "java is not installed (apt-get install openjdk-17-jre-headless)";
        println!("spark: not measured: {why}");
        return Ok(Spark::NotMeasured(why.to_owned()));
    }
    let venv = crate::spark::venv()?;
    // The polars joins first, on the project as the SQLite runs left it.
    configure(bench, None)?;
    quiet(bench, &["feature", "materialize"])?;
    let mut polars_historical = Figure::new();
    for _ in 0..RUNS {
        polars_historical.push(&historical(
            bench,
            size,
            "cairn --json feature historical (polars)",
        )?);
    }
    report_usage("historical join, polars", &polars_historical);

    let server = cairn_test_support::spark::SparkServer::launch(&venv)
        .map_err(|missing| format!("the Spark Connect server cannot start: {missing}"))?;
    let startup = server.started_in();
    println!(
        "spark: pyspark {} Connect server (local[2]) listening at {} after {}",
        cairn_test_support::spark::PYSPARK_VERSION,
        server.remote(),
        fmt_duration(startup)
    );
    let offline = format!(
        "\n[offline]\nengine = \"spark\"\nremote = \"{}\"\n",
        server.remote()
    );
    let (mut first, mut materialize) = (Figure::new(), Figure::new());
    for run in 0..RUNS {
        configure(bench, None)?;
        let path = bench.proj.join("cairn.toml");
        let mut config =
            std::fs::read_to_string(&path).context(|| format!("cannot read {}", path.display()))?;
        config.push_str(&offline);
        std::fs::write(&path, config).context(|| format!("cannot write {}", path.display()))?;
        bench.warm(Path::new(SOURCE))?;
        let answer = cairn_json(
            bench,
            "cairn --json feature materialize (Spark)",
            &["feature", "materialize"],
        )?;
        check_materialized(&answer.doc, size.entities, false)?;
        if run == 0 {
            first.push(&answer.measured);
        } else {
            materialize.push(&answer.measured);
        }
    }
    report_usage("materialize on Spark, first", &first);
    report_usage("materialize on Spark", &materialize);
    let (mut first_join, mut joins) = (Figure::new(), Figure::new());
    for run in 0..=RUNS {
        let measured = historical(bench, size, "cairn --json feature historical (Spark)")?;
        if run == 0 {
            first_join.push(&measured);
        } else {
            joins.push(&measured);
        }
    }
    report_usage("historical join on Spark, first", &first_join);
    report_usage("historical join on Spark", &joins);
    drop(server);
    Ok(Spark::Measured(Box::new(SparkRuns {
        version: cairn_test_support::spark::PYSPARK_VERSION.to_owned(),
        startup,
        first,
        materialize,
        polars_materialize: polars_runs.median(),
        first_join,
        historical: joins,
        polars_historical,
    })))
}

/// The materialize of a view larger than its memory budget.
struct Large {
    rows: u64,
    source_bytes: u64,
    table_bytes: u64,
    buckets: u64,
    measured: super::Measured,
}

impl Large {
    /// The verdict is for the full run only.
    fn check(&self, size: &Size, quick: bool) -> Check {
        let m = &self.measured;
        Check {
            id: "materialize_large_anon",
            value: m.anon_peak.map_or(f64::NAN, |b| b as f64),
            name: format!(
                "materialize {} rows with --memory-budget {}: peak anonymous memory",
                fmt_count(self.rows),
                size.large_budget
            ),
            measured: format!(
                "{} (RSS {} with the mapped source; {}, {} buckets)",
                m.anon_peak.map_or("?".to_owned(), fmt_bytes),
                fmt_bytes(m.maxrss),
                fmt_duration(m.wall),
                self.buckets
            ),
            reference: format!(
                "source {} CSV, table {}",
                fmt_bytes(self.source_bytes),
                fmt_bytes(self.table_bytes)
            ),
            ratio: None,
            target: "< 2 GiB",
            pass: (!quick).then_some(m.anon_peak.is_some_and(|bytes| bytes < LARGE_MEMORY_TARGET)),
        }
    }

    fn json(&self, size: &Size) -> Value {
        json!({
            "rows": self.rows,
            "memory_budget": size.large_budget,
            "source_bytes": self.source_bytes,
            "table_bytes": self.table_bytes,
            "sort_buckets": self.buckets,
            "wall_s": self.measured.wall.as_secs_f64(),
            "cpu_s": self.measured.cpu.as_secs_f64(),
            "max_rss_bytes": self.measured.maxrss,
            "anon_peak_bytes": self.measured.anon_peak,
        })
    }
}

/// A fresh project whose source has `large_events` events for each entity (50 M rows in the
/// full run, interleaved: every entity's first event, then every second one…), materialized
/// once into SQLite with `--memory-budget`: the view must be sorted on disk, and its peak RSS
/// stay under the target.
fn larger_than_memory(bench: &Bench, size: &Size) -> Result<Large> {
    configure(bench, None)?;
    let started = Instant::now();
    let end = super::unix_now() as i64 / DAY * DAY;
    let (events, source_bytes) = feature::write_events(
        &bench.proj.join(SOURCE),
        size.entities,
        size.large_events,
        end,
    )?;
    let rows = events.len() as u64;
    drop(events);
    println!(
        "generated {SOURCE} ({} rows: {} events for each of {} entities; {}) in {:.1} s",
        fmt_count(rows),
        size.large_events,
        fmt_count(size.entities as u64),
        fmt_bytes(source_bytes),
        started.elapsed().as_secs_f64()
    );
    let shown = format!(
        "cairn --json feature materialize --memory-budget {}",
        size.large_budget
    );
    let answer = cairn_json(
        bench,
        &shown,
        &[
            "feature",
            "materialize",
            "--memory-budget",
            size.large_budget,
        ],
    )?;
    let view = &answer.doc["views"][0];
    let table_rows = view["rows"].as_u64().unwrap_or(0);
    let buckets = view["sort_buckets"].as_u64().unwrap_or(0);
    if table_rows != rows || view["entities"].as_u64() != Some(size.entities as u64) {
        return Err(format!(
            "`{shown}` pinned {table_rows} rows for {} entities: expected {rows} rows for {}",
            view["entities"], size.entities
        )
        .into());
    }
    if buckets < 2 {
        return Err(format!(
            "`{shown}` sorted the view in memory ({buckets} buckets): the budget does not bind"
        )
        .into());
    }
    let m = &answer.measured;
    println!(
        "materialize {} rows, --memory-budget {}: {} ({} CPU), peak RSS {} (anonymous {}), {} \
         sort buckets, table {}",
        fmt_count(rows),
        size.large_budget,
        fmt_duration(m.wall),
        fmt_duration(m.cpu),
        fmt_bytes(m.maxrss),
        m.anon_peak.map_or("?".to_owned(), fmt_bytes),
        buckets,
        fmt_bytes(view["size"].as_u64().unwrap_or(0))
    );
    Ok(Large {
        rows,
        source_bytes,
        table_bytes: view["size"].as_u64().unwrap_or(0),
        buckets,
        measured: answer.measured,
    })
}

/// [`RUNS`] materializations from a fresh project on `redis` (emptied first), or on SQLite:
/// each computes the view and writes every entity's row.
fn materialize_from_nothing(
    bench: &Bench,
    redis: Option<&Redis>,
    size: &Size,
) -> Result<Materialized> {
    let url = redis.map(|r| r.server.url());
    let mut done = Materialized {
        figure: Figure::new(),
        memory: Vec::new(),
    };
    for _ in 0..RUNS {
        configure(bench, url.as_deref())?;
        let before = match redis {
            Some(redis) => {
                redis.flush()?;
                Some(redis.used_memory()?)
            }
            None => None,
        };
        bench.warm(Path::new(SOURCE))?;
        let answer = cairn_json(
            bench,
            "cairn --json feature materialize",
            &["feature", "materialize"],
        )?;
        check_materialized(&answer.doc, size.entities, false)?;
        if let (Some(redis), Some(before)) = (redis, before) {
            done.memory
                .push(redis.used_memory()?.saturating_sub(before));
        }
        done.figure.push(&answer.measured);
    }
    Ok(done)
}

/// [`RUNS`] materializations with the offline table pinned and the online store emptied
/// (`redis`, or `.cairn/online.db`): the online rows alone.
fn online_rows_only(bench: &Bench, redis: Option<&Redis>, size: &Size) -> Result<Figure> {
    let mut figure = Figure::new();
    for _ in 0..RUNS {
        match redis {
            Some(redis) => redis.flush()?,
            None => {
                for name in ["online.db", "online.db-wal", "online.db-shm"] {
                    bench.discard(&Path::new(".cairn").join(name))?;
                }
            }
        }
        let answer = cairn_json(
            bench,
            "cairn --json feature materialize",
            &["feature", "materialize"],
        )?;
        check_materialized(&answer.doc, size.entities, true)?;
        figure.push(&answer.measured);
    }
    Ok(figure)
}

/// The outcome of `cairn --json feature materialize` says it wrote every entity's row of the
/// one view, computing the view (`skipped` false) or from the pinned table (`skipped` true).
fn check_materialized(doc: &Value, entities: usize, skipped: bool) -> Result<()> {
    let view = &doc["views"][0];
    if view["view"] != VIEW
        || view["skipped"] != skipped
        || view["rows"].as_u64() != Some(entities as u64)
        || view["entities"].as_u64() != Some(entities as u64)
    {
        return Err(format!(
            "`cairn feature materialize` should have written {entities} rows of {VIEW} \
             ({}): {doc}",
            if skipped {
                "from the pinned table"
            } else {
                "computing the view"
            }
        )
        .into());
    }
    Ok(())
}

/// A fresh project with the feature bench's definitions, the service and the model, on
/// `store` (a `redis://` URL) or SQLite.
fn configure(bench: &Bench, store: Option<&str>) -> Result<()> {
    feature::fresh_project(bench)?;
    let path = bench.proj.join("cairn.toml");
    let mut config =
        std::fs::read_to_string(&path).context(|| format!("cannot read {}", path.display()))?;
    config.push_str(SPECS);
    std::fs::write(&path, with_store(&config, store))
        .context(|| format!("cannot write {}", path.display()))
}

/// Points the project's `[online]` at `store` (a `redis://` URL), or at SQLite (no section).
fn set_store(bench: &Bench, store: Option<&str>) -> Result<()> {
    let path = bench.proj.join("cairn.toml");
    let config =
        std::fs::read_to_string(&path).context(|| format!("cannot read {}", path.display()))?;
    std::fs::write(&path, with_store(&config, store))
        .context(|| format!("cannot write {}", path.display()))
}

/// `config` with its `[online]` section (which this bench always writes last) replaced by
/// one for `store`, or removed.
fn with_store(config: &str, store: Option<&str>) -> String {
    let base = config
        .find("\n[online]\n")
        .map_or(config, |at| &config[..at]);
    match store {
        Some(url) => format!("{base}\n[online]\nstore = \"{url}\"\n"),
        None => base.to_owned(),
    }
}

/// The labels of `ids`: `churned` from the entity's own features (few orders or a small
/// amount; a null counts as 0), at `end`, after every event. Returns how many are 1.
fn write_labels(path: &Path, ids: &[u64], events: &[feature::Event], end: i64) -> Result<u64> {
    let at = feature::iso(end);
    let mut text = String::from("customer_id,event_timestamp,churned\n");
    let mut positives = 0;
    for &id in ids {
        let event = id
            .checked_sub(1)
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| events.get(i))
            .ok_or_else(|| format!("entity {id} has no event"))?;
        let label = churned(event);
        positives += u64::from(label);
        text.push_str(&format!("{id},{at},{}\n", u8::from(label)));
    }
    std::fs::write(path, text).context(|| format!("cannot write {}", path.display()))?;
    Ok(positives)
}

/// Few orders (under 10 of 0-49) or a small amount (under 1,000 of 0-10,000).
fn churned(event: &feature::Event) -> bool {
    let [amount, _, _, orders] = event.values;
    orders.unwrap_or(0.0) < 10.0 || amount.unwrap_or(0.0) < 1_000.0
}

/// The wrk script that posts one random entity of `1..=entities` per request.
fn entity_script(entities: usize, seed: u64) -> String {
    // Lua's numbers are doubles: a seed under 2^31 is one exactly.
    ENTITY_KEYS
        .replace("SEED", &(seed % (1 << 31)).to_string())
        .replace("ENTITIES", &entities.to_string())
        + SUMMARY
}

/// `{"entities": [{"customer_id": ID}, ...]}`.
fn entities_body(ids: &[u64]) -> String {
    let entities: Vec<Value> = ids.iter().map(|id| json!({ "customer_id": id })).collect();
    json!({ "entities": entities }).to_string()
}

/// A 200 with a prediction for each of `n` entities, read from the store (no
/// `online_store_unavailable`).
fn check_answer(status: u16, answer: &Value, n: usize) -> Result<()> {
    let predictions = answer["predictions"].as_array().map_or(0, Vec::len);
    if status != 200 || predictions != n || !answer["online_store_unavailable"].is_null() {
        return Err(format!(
            "{n} entities should get {n} predictions read from the online store; got {status}: \
             {answer}"
        )
        .into());
    }
    Ok(())
}

/// The value of a metric without labels in Prometheus's text format.
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

/// `used_memory` of `INFO memory`, in bytes.
fn used_memory(info: &str) -> Option<u64> {
    info.lines()
        .find_map(|line| line.strip_prefix("used_memory:"))
        .and_then(|value| value.trim().parse().ok())
}

fn redis_pid_cpu(redis: &Redis) -> Result<Duration> {
    let pid = redis.server.pid().ok_or("redis-server is not running")?;
    cpu_time(pid)
}

/// The middle value (the upper of the two middle ones for an even count); 0 for none.
fn median_bytes(values: &[u64]) -> u64 {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    sorted.get(sorted.len() / 2).copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_online_section_is_replaced_or_removed() {
        let base = "[project]\nname = \"x\"\n";
        let redis = with_store(base, Some("redis://127.0.0.1:7/0"));
        assert_eq!(
            redis,
            "[project]\nname = \"x\"\n\n[online]\nstore = \"redis://127.0.0.1:7/0\"\n"
        );
        assert_eq!(with_store(&redis, None), base);
        assert_eq!(
            with_store(&redis, Some("redis://h:8/1")),
            with_store(base, Some("redis://h:8/1"))
        );
        assert_eq!(with_store(base, None), base);
    }

    #[test]
    fn info_metrics_and_answers_are_read() {
        let info = "# Memory\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\n";
        assert_eq!(used_memory(info), Some(1_048_576));
        assert_eq!(used_memory("used_memory_human:1.00M\n"), None);
        let metrics = "# HELP cairn_online_store_unavailable_total x\n\
                       # TYPE cairn_online_store_unavailable_total counter\n\
                       cairn_online_store_unavailable_total 3\n\
                       cairn_online_store_unavailable_total_extra 9\n";
        assert_eq!(metric(metrics, UNAVAILABLE), Some(3.0));
        assert_eq!(metric("", UNAVAILABLE), None);
        let ok = json!({ "predictions": [1, 0], "online_store_unavailable": null });
        assert!(check_answer(200, &ok, 2).is_ok());
        assert!(check_answer(200, &ok, 3).is_err());
        assert!(check_answer(400, &ok, 2).is_err());
        let imputed = json!({ "predictions": [1, 0], "online_store_unavailable": "timeout" });
        assert!(check_answer(200, &imputed, 2).is_err());
    }

    #[test]
    fn requests_name_random_entities_and_the_script_reports() {
        let script = entity_script(1_000_000, LABEL_SEED);
        assert!(script.contains("math.random(1, 1000000)"));
        assert!(script.contains(&format!("math.randomseed({})", LABEL_SEED % (1 << 31))));
        assert!(script.ends_with(SUMMARY));
        assert_eq!(
            entities_body(&[3, 70]),
            r#"{"entities":[{"customer_id":3},{"customer_id":70}]}"#
        );
    }

    #[test]
    fn labels_follow_the_features() {
        let event = |amount, orders| feature::Event {
            ts: 0,
            created: 0,
            values: [amount, Some(0.5), Some(3.0), orders],
        };
        assert!(churned(&event(Some(5_000.0), Some(2.0))));
        assert!(churned(&event(Some(500.0), Some(30.0))));
        assert!(churned(&event(None, Some(30.0))));
        assert!(!churned(&event(Some(5_000.0), Some(30.0))));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("labels.csv");
        let events = [event(Some(5_000.0), Some(30.0)), event(Some(1.0), None)];
        assert_eq!(write_labels(&path, &[2, 1], &events, 0).unwrap(), 1);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "customer_id,event_timestamp,churned\n\
             2,1970-01-01T00:00:00,1\n1,1970-01-01T00:00:00,0\n"
        );
        assert!(write_labels(&path, &[3], &events, 0).is_err());
        assert_eq!(median_bytes(&[5, 1, 3]), 3);
    }
}
