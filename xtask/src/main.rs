//! Project automation for cairn, run as `cargo xtask <task>`.
//!
//! - `cargo xtask test`: the whole workspace's tests.
//! - `cargo xtask test-spark`: the tests of the offline engine on Spark, against a Spark
//!   Connect server from pyspark (installed into `<target>/spark-venv` when missing).
//! - `cargo xtask gen [--out DIR]`: the command reference, completions and man pages.
//! - `cargo xtask demo [--tmp]`: a scripted walk through the lifecycle on seeded data (data,
//!   features, training, the registry and its gates, remotes).
//! - `cargo xtask bench data [--quick]`: timings of the data commands against `cp`.
//! - `cargo xtask bench remote [--quick] [--s3-fs]`: timings of push and pull against a local-directory
//!   remote and an in-process S3 server.
//! - `cargo xtask bench feature [--quick]`: timings of the feature store's commands on a seeded
//!   source against cairn's own targets (Feast figures quoted from its issue as references).
//! - `cargo xtask bench train [--quick]`: cairn's random forest and logistic regression against
//!   scikit-learn's on the same seeded table, fitted in the same run; `cairn train` as a whole
//!   process.
//! - `cargo xtask bench runs`: `cairn runs list` over 10,000 runs recorded by cairn's own code
//!   (also run by `bench train`).
//! - `cargo xtask bench registry [--quick]`: `cairn models list` over 1,000 versions of 50
//!   models, and `cairn validate` of the training bench's forest on its held-out rows.
//! - `cargo xtask bench drift [--quick]`: `cairn drift` of two seeded Parquet tables with
//!   injected drift at 100,000 and 1,000,000 rows each side, Evidently and scipy as references.
//! - `cargo xtask bench serve [--quick]`: `cairn serve` under wrk beside a bare-axum ceiling.
//! - `cargo xtask bench scale [--quick]`: the online store on Redis beside SQLite (entity-keyed
//!   requests to `cairn serve`, materialize of 1,000,000 rows, Redis memory per entity), and
//!   the offline engine on Spark beside polars (start-up, materialize, historical join).
//!
//! This is a developer tool: it prints directly and writes files without the atomic helper.
#![allow(clippy::print_stdout, clippy::print_stderr, clippy::disallowed_methods)]

mod bench;
mod demo;
mod generate;
mod rng;
mod spark;
mod util;

use std::process::ExitCode;

use util::{Error, Result};

const USAGE: &str = "\
usage: cargo xtask <task> [options]

tasks:
  test [ARGS...]          run `cargo test --workspace` (extra ARGS are passed on)
  test-spark [ARGS...]    the tests of the offline engine on Spark against a real Spark
                          Connect server on 127.0.0.1 (installs pyspark in
                          <target>/spark-venv if missing; needs java 17)
  demo [--tmp]            walk through the whole lifecycle (data, features, training,
                          registry and gates, serving, drift, retraining, reproduce,
                          remotes) in a git repository generated in
                          examples/fraud-detection/ and kept to explore; --tmp runs it
                          in a temporary directory removed afterwards
  bench data [--quick]    time `cairn data` commands on seeded data against cp, and the
                          peak anonymous memory of adding the big file;
                          --quick uses 64 MiB and 2,000 files instead of 1 GiB and 20,000
  bench remote [--quick] [--s3-fs]
                          time `cairn data push/pull` against a local directory and an S3
                          server on loopback, next to cp (runs in a release build of xtask);
                          --quick also shrinks the CSV file from 200 MiB to 20 MiB;
                          --s3-fs serves S3 from s3s-fs on disk instead of memory
  bench feature [--quick] time `cairn feature` materialize, historical, online and list on a
                          seeded source of 1,000,000 rows and 100,000 entity rows against
                          cairn's own targets (Feast figures quoted from the issue are shown
                          as references only); --quick uses 100,000 rows and 10,000 entity
                          rows
  bench train [--quick]   fit cairn's random forest (100 trees, depth 10) and logistic
                          regression, and scikit-learn's, on a seeded 200,000 x 20
                          classification table, in the same run; compare fit time, accuracy,
                          predict latency; time `cairn train` as a whole process (installs
                          scikit-learn in <target>/bench-venv if missing), then
                          `bench runs`; --quick uses 20,000 rows
  bench runs              time `cairn runs list` over 10,000 runs recorded by cairn's own
                          code (the release cairn of the other benches; the record_runs
                          example in the dev profile; XTASK_CAIRN_BIN replaces cairn)
  bench registry [--quick]
                          time `cairn models list/show/history` over 1,000 versions of 50
                          models registered by `cairn register` from 20 real runs, and
                          `cairn validate` of the training bench's 100-tree forest on its
                          40,000 held-out rows, against cairn's own targets; --quick uses
                          100 versions of 10 models and a 20,000-row table
  bench drift [--quick]   time `cairn drift --report` on seeded reference and current
                          Parquet tables (20 numeric, 5 categorical columns and a
                          prediction; drift injected into 5) at 100,000 and 1,000,000 rows
                          each side, check the drifted columns, and run Evidently and a
                          scipy script on the same files when installable (in
                          <target>/bench-venv); --quick uses 5,000 and 50,000 rows
  bench serve [--quick]   load `cairn serve` with wrk (single rows and 100-row batches at
                          1, 16 and 64 connections) beside a bare-axum ceiling on the same
                          model; ready time, memory beyond the model; --quick uses a
                          20,000-row table and 3 s loads
  bench scale [--quick]   the online store on Redis beside SQLite, on one project: entity-
                          keyed requests to `cairn serve` at 16 connections (wrk, random
                          keys), `cairn feature materialize` of 1,000,000 rows into each,
                          Redis memory per entity (starts redis-server on a free port;
                          needs wrk and redis-server); then Spark's start-up, the
                          materialize and a 100,000-row historical join on Spark beside
                          polars (installs pyspark in <target>/spark-venv; not measured
                          without java); --quick uses 100,000 entities, a 10,000-row
                          join and 3 s loads

  gen [--out DIR]         write docs/reference/cli.md (the command reference), and shell
                          completions and man pages into DIR (default dist/)

  s3-server [BUCKET...]   run the benchmark's S3 server (objects in memory) on 127.0.0.1
                          with the given buckets, print its environment, serve until
                          stdin closes (for trying cairn against S3 by hand)

environment:
  XTASK_CAIRN_BIN=PATH    use this cairn binary for demo and bench instead of building one
  XTASK_RELEASE_TARGET_DIR=DIR
                          where the benches build cairn and the train_bench and
                          online_latency examples in release mode, in one cargo command
                          (default ~/.cache/cairn-target-rel)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match util::check_checkout(&args) {
        Ok(None) => {}
        Ok(Some(code)) => return ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(err) => {
            eprintln!("error: {}", err.message);
            return ExitCode::from(u8::try_from(err.code).unwrap_or(1));
        }
    }
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if !err.message.is_empty() {
                eprintln!("error: {}", err.message);
            }
            ExitCode::from(u8::try_from(err.code).unwrap_or(1))
        }
    }
}

fn run(args: &[String]) -> Result<()> {
    let Some((task, rest)) = args.split_first() else {
        eprint!("{USAGE}");
        return Err(Error::usage(String::new()));
    };
    match task.as_str() {
        "test" => util::cargo_test(rest),
        "test-spark" => spark::test(rest),
        "demo" => {
            let mut temporary = false;
            for arg in rest {
                match arg.as_str() {
                    "--tmp" => temporary = true,
                    other => return Err(unexpected("demo", other)),
                }
            }
            demo::run(temporary)
        }
        "bench" => bench::run(rest),
        "gen" => match rest {
            [] => generate::run(None),
            [flag, dir] if flag == "--out" => generate::run(Some(dir.into())),
            [other, ..] => Err(unexpected("gen", other)),
        },
        "s3-server" => s3_server(rest),
        "-h" | "--help" | "help" => {
            print!("{USAGE}");
            Ok(())
        }
        other => {
            eprint!("{USAGE}");
            Err(Error::usage(format!("unknown task `{other}`")))
        }
    }
}

/// `cargo xtask s3-server`: the in-memory S3 server of the benchmark, until stdin closes.
fn s3_server(buckets: &[String]) -> Result<()> {
    let server = cairn_test_support::s3::S3Server::start_in_memory();
    for bucket in buckets {
        server.create_bucket(bucket);
    }
    for (key, value) in server.env() {
        println!("export {key}={value}");
    }
    println!("# serving until stdin closes (Ctrl-D)");
    let _ = std::io::Write::flush(&mut std::io::stdout());
    let mut sink = Vec::new();
    let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
    Ok(())
}

fn unexpected(task: &str, arg: &str) -> Error {
    eprint!("{USAGE}");
    Error::usage(format!(
        "unexpected argument `{arg}` for `cargo xtask {task}`"
    ))
}
