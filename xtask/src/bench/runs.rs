//! `cargo xtask bench runs`: `cairn runs list` over 10,000 runs (the figure: under
//! 200 ms). Also run at the end of `cargo xtask bench train`.
//!
//! A project where `cairn train` trains one small model; then 10,000 copies of that run (new
//! ids, start times, metrics and `n_trees`) are recorded by cairn's own run-recording code
//! (`crates/cairn-test-support/examples/record_runs.rs`: the record objects, refs and index
//! rows with their summaries, written by cairn-core, cairn-store and cairn-train), as if
//! 10,000 runs had been trained. Each command is a whole `cairn` process, timed over
//! repeated runs.
//!
//! The binaries: cairn and `record_runs`, built together with the `bench-lite` profile
//! (cairn's crates, serde, serde_json and SQLite optimised; the rest, polars included, as in
//! dev), because polars is not on this path and a release build takes 40 minutes here.
//! `XTASK_CAIRN_BIN` replaces the cairn binary (`record_runs` is still built).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::util::{Context, Result, cargo_command, describe, median, target_dir, workspace_root};

const RUNS: usize = 10_000;
const TARGET_MS: f64 = 200.0;

/// Builds cairn and `record_runs` with the `bench-lite` profile, in one cargo command (one
/// feature set, so neither build invalidates the other's dependencies); returns their paths,
/// cairn's replaced by `XTASK_CAIRN_BIN` when that is set.
fn binaries() -> Result<(PathBuf, PathBuf)> {
    println!("building cairn and record_runs with the bench-lite profile");
    let status = cargo_command()
        .args([
            "build",
            "--profile",
            "bench-lite",
            "-p",
            "cairn-cli",
            "--bin",
            "cairn",
            "-p",
            "cairn-test-support",
            "--features",
            "cairn-test-support/runs",
            "--example",
            "record_runs",
        ])
        .current_dir(workspace_root())
        .status()
        .context(|| "cannot run cargo".to_owned())?;
    if !status.success() {
        return Err(format!(
            "building cairn and record_runs failed ({})",
            describe(status)
        )
        .into());
    }
    let dir = target_dir()?.join("bench-lite");
    let record = dir.join("examples").join("record_runs");
    let cairn = match std::env::var_os("XTASK_CAIRN_BIN") {
        Some(bin) => {
            println!(
                "using {} (from XTASK_CAIRN_BIN)",
                PathBuf::from(&bin).display()
            );
            PathBuf::from(bin)
        }
        None => dir.join("cairn"),
    };
    Ok((cairn, record))
}

/// How many runs `cairn --json runs list` lists.
fn cairn_count(cairn: &Path, dir: &Path) -> Result<usize> {
    let out = Command::new(cairn)
        .args(["--json", "runs", "list"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .context(|| "cannot run cairn runs list".to_owned())?;
    if !out.status.success() {
        return Err(format!(
            "cairn --json runs list failed ({}): {}",
            describe(out.status),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .context(|| "cairn --json runs list printed no JSON document".to_owned())?;
    doc["runs"]
        .as_array()
        .map(Vec::len)
        .ok_or_else(|| format!("no \"runs\" list in `cairn --json runs list`: {doc}").into())
}

fn run_ok(dir: &Path, cmd: &mut Command, shown: &str) -> Result<Duration> {
    let start = Instant::now();
    let out = cmd
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .context(|| format!("cannot run {shown}"))?;
    let took = start.elapsed();
    if !out.status.success() {
        return Err(format!(
            "{shown} failed ({}): {}",
            describe(out.status),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(took)
}

pub(super) fn run() -> Result<serde_json::Value> {
    let (cairn, record_runs) = binaries()?;
    let target = target_dir()?;
    let tmp = tempfile::Builder::new()
        .prefix("cairn-bench-runs-")
        .tempdir_in(&target)
        .context(|| format!("cannot create a directory in {}", target.display()))?;
    let dir = tmp.path();
    let git = |args: &[&str]| {
        let mut cmd = Command::new("git");
        cmd.args([
            "-c",
            "user.name=cairn bench",
            "-c",
            "user.email=bench@cairn.invalid",
        ])
        .args(args);
        cmd
    };
    run_ok(
        dir,
        git(&["init", "-q", "-b", "main"]).stdout(Stdio::null()),
        "git init",
    )?;
    run_ok(dir, Command::new(&cairn).arg("init"), "cairn init")?;
    let mut rng = crate::rng::Rng::new(super::SEED ^ 0x5EED_F005);
    let mut csv = String::from("a,b,c,label\n");
    for _ in 0..2_000 {
        let (a, b, c) = (rng.unit(), rng.unit(), rng.unit());
        csv.push_str(&format!("{a:.5},{b:.5},{c:.5},{}\n", u8::from(a + b > 1.0)));
    }
    std::fs::write(dir.join("t.csv"), csv).context(|| "cannot write t.csv".to_owned())?;
    let mut config = std::fs::read_to_string(dir.join("cairn.toml"))
        .context(|| "cannot read cairn.toml".to_owned())?;
    config.push_str(
        "\n[model.bench]\ndata = \"t.csv\"\ntarget = \"label\"\nalgorithm = \"random_forest_classifier\"\nparams = { n_trees = 10 }\n",
    );
    std::fs::write(dir.join("cairn.toml"), config)
        .context(|| "cannot write cairn.toml".to_owned())?;
    run_ok(
        dir,
        Command::new(&cairn).args(["data", "add", "t.csv"]),
        "cairn data add",
    )?;
    run_ok(dir, git(&["add", "-A"]).stdout(Stdio::null()), "git add")?;
    run_ok(
        dir,
        git(&["commit", "-q", "-m", "bench"]).stdout(Stdio::null()),
        "git commit",
    )?;
    run_ok(
        dir,
        Command::new(&cairn).args(["train", "bench"]),
        "cairn train",
    )?;
    let recording = run_ok(
        dir,
        Command::new(&record_runs)
            .arg(dir)
            .arg(RUNS.to_string())
            .stdout(Stdio::null()),
        "record_runs",
    )?;
    let indexed = cairn_count(&cairn, dir)?;
    if indexed != RUNS + 1 {
        return Err(format!(
            "after record_runs, `cairn runs list --json` lists {indexed} runs, not {}",
            RUNS + 1
        )
        .into());
    }

    let time = |args: &[&str], n: usize| -> Result<Vec<Duration>> {
        (0..n)
            .map(|_| {
                run_ok(
                    dir,
                    Command::new(&cairn).args(args).stdout(Stdio::null()),
                    &format!("cairn {}", args.join(" ")),
                )
            })
            .collect()
    };
    // The first command after the recording reads all the refs once (the directory changed).
    let first = time(&["runs", "list"], 1)?[0];
    let cases: [(&str, &[&str]); 4] = [
        ("runs list", &["runs", "list"]),
        ("runs list --json", &["--json", "runs", "list"]),
        (
            "runs list --where 'accuracy>0.9' --sort roc_auc --limit 10",
            &[
                "runs",
                "list",
                "--where",
                "accuracy>0.9",
                "--sort",
                "roc_auc",
                "--limit",
                "10",
            ],
        ),
        ("runs show ID", &["runs", "show", "b00000000042"]),
    ];
    println!();
    println!(
        "runs: {} runs in the index (1 trained by `cairn train`, {} recorded by record_runs \
         through cairn's library in {:.1} s)",
        RUNS + 1,
        RUNS,
        recording.as_secs_f64()
    );
    println!(
        "  first `runs list` after recording (reads {} refs): {:.0} ms",
        RUNS + 1,
        first.as_secs_f64() * 1e3
    );
    let mut figures = serde_json::Map::new();
    for (name, args) in cases {
        let samples = time(args, 10)?;
        let ms = median(&samples).as_secs_f64() * 1e3;
        let verdict = if name == "runs list" {
            if ms < TARGET_MS {
                "  ✓ (< 200 ms)"
            } else {
                "  ✗ (target < 200 ms)"
            }
        } else {
            ""
        };
        println!("  {name:<62} {ms:>7.1} ms (median of 10){verdict}");
        figures.insert(name.to_owned(), json!(ms));
    }
    Ok(json!({
        "runs": RUNS + 1,
        "first_list_ms": first.as_secs_f64() * 1e3,
        "record_runs_s": recording.as_secs_f64(),
        "median_ms": figures,
        "target_ms": TARGET_MS,
        "binary": cairn.display().to_string(),
    }))
}
