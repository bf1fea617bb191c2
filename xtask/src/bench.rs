//! `cargo xtask bench AREA [--quick]`: timings of cairn's commands on seeded data, next to
//! references measured in the same run, checked against the project's performance targets.
//!
//! - `harness`: timing a child process (wall, CPU, peak RSS, peak anonymous memory) in the
//!   bench's project; `host`: probes of the machine (load, memory handed back to the host,
//!   compaction, prefaulting); `report`: the verdict table;
//! - one module per area: `data`, `remote`, `feature`, `train`, `runs`, `registry`, `drift`,
//!   `serve`, `scale`.
//!
//! What the figures mean, and why the harness does what it does on this project's machines,
//! is in `docs/benchmarks.md`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;

use crate::util::{Context, Error, Result, cargo_command, describe, target_dir, workspace_root};

mod data;
mod drift;
mod feature;
mod harness;
mod host;
mod registry;
mod remote;
mod report;
mod runs;
mod scale;
mod serve;
mod train;

use data::{Scale, cp_figure, cp_sync_figure, cp_tree_figure, write_big, write_tree};
use harness::{
    Bench, Figure, Measured, SAMPLE_EVERY, count, read_all, require_free_space, sync,
    wait_with_rusage, walk,
};
use host::{
    load_average, machine_info, machine_line, seconds_since_last_run, source_info, unix_now,
};
use report::{Check, print_columns, print_table, report, report_usage, summary};

const AREAS: &str = "data, remote, feature, train, runs, registry, drift, serve, scale";
const SEED: u64 = 0xBE4C_4DA7_A5EE_D001;
const CHUNK: usize = 8 << 20;
const MIB: f64 = (1u64 << 20) as f64;

pub fn run(args: &[String]) -> Result<()> {
    let Some((area, rest)) = args.split_first() else {
        return Err(Error::usage(format!(
            "`cargo xtask bench` needs an area; the areas are: {AREAS}"
        )));
    };
    let mut quick = false;
    let mut s3_fs = false;
    for arg in rest {
        match arg.as_str() {
            "--quick" => quick = true,
            "--s3-fs" if area == "remote" => s3_fs = true,
            other => {
                return Err(Error::usage(format!(
                    "unexpected argument `{other}` for `cargo xtask bench {area}` \
                     (--quick{})",
                    if area == "remote" { ", --s3-fs" } else { "" }
                )));
            }
        }
    }
    let scale = if quick { Scale::QUICK } else { Scale::FULL };
    match area.as_str() {
        "data" => data::run(scale),
        "remote" => {
            if cfg!(debug_assertions) {
                return optimised_self(args);
            }
            remote::run(scale, s3_fs)
        }
        "feature" => feature::run(quick),
        "train" => train::run(quick),
        "runs" => runs::run().map(drop),
        "registry" => registry::run(quick),
        "drift" => drift::run(quick),
        "serve" => serve::run(quick),
        "scale" => scale::run(quick),
        other => Err(Error::usage(format!(
            "unknown bench area `{other}`; the areas are: {AREAS}"
        ))),
    }
}

/// The release binaries the benches run, built by one cargo command.
struct ReleaseBuild {
    cairn: PathBuf,
    train_bench: PathBuf,
    online_latency: PathBuf,
    ceiling: PathBuf,
}

/// Builds `cairn` and the benches' three examples (`train_bench` of cairn-model,
/// `online_latency` of cairn-feature, `ceiling` of cairn-serve) in release mode, in one cargo command, in the release
/// target directory (`$XTASK_RELEASE_TARGET_DIR`, default `~/.cache/cairn-target-rel`).
/// One command means one feature set: building them apart would give polars a different set
/// of features for each, and each would rebuild it (25-40 min here). `cairn` is
/// `$XTASK_CAIRN_BIN` instead, when set.
fn release_build() -> Result<ReleaseBuild> {
    let target = match std::env::var_os("XTASK_RELEASE_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let home = std::env::var_os("HOME")
                .ok_or("HOME is not set; set XTASK_RELEASE_TARGET_DIR to a target directory")?;
            Path::new(&home).join(".cache").join("cairn-target-rel")
        }
    };
    println!(
        "building cairn, train_bench, online_latency and ceiling (release) in {}",
        target.display()
    );
    let status = cargo_command()
        .args([
            "build",
            "--release",
            "-p",
            "cairn-model",
            "--example",
            "train_bench",
            "-p",
            "cairn-feature",
            "--example",
            "online_latency",
            "-p",
            "cairn-serve",
            "--example",
            "ceiling",
            "-p",
            "cairn-cli",
            "--bin",
            "cairn",
        ])
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(workspace_root())
        .status()
        .context(|| "cannot run `cargo build`".to_owned())?;
    if !status.success() {
        return Err(format!("the release build failed ({})", describe(status)).into());
    }
    let release = target.join("release");
    let file = |path: PathBuf| -> Result<PathBuf> {
        if !path.is_file() {
            return Err(format!("cargo built it, but {} is missing", path.display()).into());
        }
        std::path::absolute(&path).context(|| format!("cannot resolve {}", path.display()))
    };
    let exe = std::env::consts::EXE_SUFFIX;
    let cairn = match std::env::var_os("XTASK_CAIRN_BIN") {
        Some(bin) => {
            println!(
                "using {} (from XTASK_CAIRN_BIN)",
                PathBuf::from(&bin).display()
            );
            file(PathBuf::from(bin))?
        }
        None => file(release.join(format!("cairn{exe}")))?,
    };
    Ok(ReleaseBuild {
        cairn,
        train_bench: file(release.join("examples").join(format!("train_bench{exe}")))?,
        online_latency: file(
            release
                .join("examples")
                .join(format!("online_latency{exe}")),
        )?,
        ceiling: file(release.join("examples").join(format!("ceiling{exe}")))?,
    })
}

/// Runs `cargo xtask bench ARGS` again in an optimised xtask: `bench remote` runs the S3
/// server in its own process, and an unoptimised server takes 2-3x as long to answer (measured:
/// pulling 64 MiB took 2.7 s instead of 0.9 s), which would be charged to cairn.
fn optimised_self(args: &[String]) -> Result<()> {
    use std::os::unix::process::CommandExt as _;
    println!("building xtask in release mode: the S3 server of this bench runs inside it");
    let status = cargo_command()
        .args(["build", "--release", "-p", "xtask"])
        .current_dir(workspace_root())
        .status()
        .context(|| "cannot run `cargo build`".to_owned())?;
    if !status.success() {
        return Err(format!("building xtask failed ({})", describe(status)).into());
    }
    let bin = target_dir()?
        .join("release")
        .join(format!("xtask{}", std::env::consts::EXE_SUFFIX));
    let _ = std::io::stdout().flush();
    let err = Command::new(&bin).arg("bench").args(args).exec();
    Err(format!("cannot run {}: {err}", bin.display()).into())
}

/// What every bench starts with: a working directory in the target directory, holding the
/// project; the machine's description, printed; where the results will go.
struct Setup {
    tmp: tempfile::TempDir,
    bench: Bench,
    machine: serde_json::Value,
    /// The commit cairn was built from, and how many files under `crates/` differed from it.
    source: serde_json::Value,
    results: PathBuf,
    /// The release binaries (cairn is also `bench.cairn`); `None` when the bench needs no
    /// example and `XTASK_CAIRN_BIN` names cairn (nothing is built then).
    built: Option<ReleaseBuild>,
}

/// Builds the release binaries (unless `XTASK_CAIRN_BIN` names cairn and the bench needs no
/// example), makes the working directory and prints the header of a bench whose
/// results go to `<target>/<results>`.
fn setup(results: &str, quick: bool, needs_examples: bool) -> Result<Setup> {
    let (cairn, built) = match std::env::var_os("XTASK_CAIRN_BIN") {
        Some(bin) if !needs_examples => {
            let bin = PathBuf::from(bin);
            if !bin.is_file() {
                return Err(format!("XTASK_CAIRN_BIN={} is not a file", bin.display()).into());
            }
            println!("using {} (from XTASK_CAIRN_BIN)", bin.display());
            let bin = std::path::absolute(&bin)
                .context(|| format!("cannot resolve {}", bin.display()))?;
            (bin, None)
        }
        _ => {
            let built = release_build()?;
            (built.cairn.clone(), Some(built))
        }
    };
    let target = target_dir()?;
    std::fs::create_dir_all(&target).context(|| format!("cannot create {}", target.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix("cairn-bench-")
        .tempdir_in(&target)
        .context(|| {
            format!(
                "cannot create a temporary directory in {}",
                target.display()
            )
        })?;
    let proj = tmp.path().join("proj");
    std::fs::create_dir(&proj).context(|| format!("cannot create {}", proj.display()))?;
    let bench = Bench {
        cairn,
        tmp: tmp.path().to_path_buf(),
        proj,
        discarded: std::cell::Cell::new(0),
        prefault: std::cell::Cell::new(0),
    };

    let machine = machine_info(tmp.path());
    println!("\nmachine: {}", machine_line(&machine));
    let source = source_info();
    println!(
        "cairn built from commit {}{}",
        source["commit"].as_str().unwrap_or("unknown"),
        match source["crates_changed"].as_u64() {
            Some(0) => String::new(),
            Some(n) => format!(" with uncommitted changes to {n} file(s) under crates/"),
            None => String::new(),
        }
    );
    println!("working in {}", tmp.path().display());
    if let Some(load) = load_average().filter(|load| *load > 0.5) {
        println!(
            "note: the load average is {load:.2}: other work on this machine's cores will skew \
             the timings"
        );
    }
    if quick {
        println!("quick run: sizes are scaled down; the absolute targets are for the full run");
    }
    // Any bench's clean-up frees many inodes.
    let last = [
        "bench-data.json",
        "bench-remote.json",
        "bench-feature.json",
        "bench-registry.json",
        "bench-drift.json",
        "bench-serve.json",
        "bench-scale.json",
    ]
    .iter()
    .filter_map(|name| seconds_since_last_run(&target.join(name)))
    .min();
    if let Some(ago) = last.filter(|ago| *ago < 300) {
        println!(
            "note: the last bench ended {ago} s ago; for up to 5 minutes after its clean-up freed \
             many inodes, creating files on ext4 without a journal is slower (tree figures suffer)"
        );
    }
    Ok(Setup {
        tmp,
        bench,
        machine,
        source,
        results: target.join(results),
        built,
    })
}

/// Removes the working directory, then writes the results with the time the removal ended.
fn finish(tmp: tempfile::TempDir, mut document: serde_json::Value, results: &Path) -> Result<()> {
    // Clean up before writing the results, so that `finished_unix` is when the deletion ended.
    println!("removing {}", tmp.path().display());
    let _ = std::io::stdout().flush();
    let cleaned = tmp.close();
    document["finished_unix"] = json!(unix_now());
    let text = serde_json::to_string_pretty(&document)
        .context(|| "cannot serialise the results".to_owned())?;
    std::fs::write(results, text + "\n")
        .context(|| format!("cannot write {}", results.display()))?;
    println!("results written to {}", results.display());
    cleaned.context(|| "cannot remove the working directory".to_owned())
}
