//! `cargo xtask bench runs`: `cairn runs list` over 10,000 runs (the issue's figure: under
//! 200 ms). Also run at the end of `cargo xtask bench train`.
//!
//! A project where cairn trains one small model; then 10,000 copies of that run (new ids,
//! start times, metrics and `n_trees`) are added to its runs index and refs by a Python
//! script (sqlite3 from the standard library), as if 10,000 runs had been trained. Each
//! command is a whole `cairn` process, timed over repeated runs.
//!
//! The binary: `XTASK_CAIRN_BIN` if set, else cairn built with the `bench-lite` profile
//! (cairn's crates, serde, serde_json and SQLite optimised; the rest, polars included, as in
//! dev), because polars is not on this path and a release build takes 40 minutes here.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::util::{Context, Result, cargo_command, describe, median, target_dir, workspace_root};

const RUNS: usize = 10_000;
const TARGET_MS: f64 = 200.0;

const SEED_RUNS: &str = r#"
import datetime, json, os, sqlite3, sys

project, n = sys.argv[1], int(sys.argv[2])
db = sqlite3.connect(os.path.join(project, ".cairn", "cairn.db"))
row = db.execute(
    "SELECT id, model, status, started_us, record, record_digest, artifact FROM runs "
    "ORDER BY started_us DESC LIMIT 1").fetchone()
_, model, status, started, record, record_digest, artifact = row
template = json.loads(record)
refs = os.path.join(project, ".cairn", "runs")
rows = []
for i in range(n):
    r = dict(template)
    rid = "%012x" % (0xB00000000000 + i)
    r["id"] = rid
    r["started_us"] = started - (n - i) * 60_000_000
    r["started"] = datetime.datetime.fromtimestamp(
        r["started_us"] / 1e6, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    r["metrics"] = {k: v - ((i * 7919 + len(k)) % 1000) / 100_000 for k, v in template["metrics"].items()}
    r["params"] = dict(template["params"], n_trees=10 + i % 200)
    summary = {k: r[k] for k in ("format", "id", "model", "status", "started", "duration_s",
                                 "algorithm", "params", "seed", "tags", "metrics") if k in r}
    rows.append((rid, model, status, r["started_us"], json.dumps(r), record_digest, artifact,
                 json.dumps(summary)))
    with open(os.path.join(refs, rid), "w") as f:
        f.write("%s %s\n" % (record_digest, artifact or "-"))
db.executemany(
    "INSERT OR REPLACE INTO runs (id, model, status, started_us, record, record_digest, "
    "artifact, summary) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
db.commit()
print(len(rows))
"#;

/// Builds cairn with the `bench-lite` profile (or takes `XTASK_CAIRN_BIN`).
fn binary() -> Result<PathBuf> {
    if let Some(bin) = std::env::var_os("XTASK_CAIRN_BIN") {
        println!(
            "using {} (from XTASK_CAIRN_BIN)",
            PathBuf::from(&bin).display()
        );
        return Ok(PathBuf::from(bin));
    }
    println!("building cairn with the bench-lite profile");
    let status = cargo_command()
        .args(["build", "--profile", "bench-lite", "-p", "cairn-cli"])
        .current_dir(workspace_root())
        .status()
        .context(|| "cannot run cargo".to_owned())?;
    if !status.success() {
        return Err(format!("building cairn failed ({})", describe(status)).into());
    }
    Ok(target_dir()?.join("bench-lite").join("cairn"))
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
    let cairn = binary()?;
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
    run_ok(
        dir,
        Command::new("python3")
            .args(["-c", SEED_RUNS])
            .arg(dir)
            .arg(RUNS.to_string())
            .stdout(Stdio::null()),
        "seeding runs",
    )?;

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
    // The first command after the seeding reads all the refs once (the directory changed).
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
        "runs: {} runs in the index ({} seeded + 1 trained)",
        RUNS + 1,
        RUNS
    );
    println!(
        "  first `runs list` after seeding (reads {} refs): {:.0} ms",
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
        "median_ms": figures,
        "target_ms": TARGET_MS,
        "binary": cairn.display().to_string(),
    }))
}
