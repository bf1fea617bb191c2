//! `cargo xtask bench data [--quick]`: wall-clock timings of `cairn data` on seeded data, next to
//! `cp` on the same disk, checked against the project's performance targets. The other areas
//! (`remote`, `feature`, `train`) are in the submodules and share the machinery here.

use std::cell::Cell;
use std::fs::File;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::rng::Rng;
use crate::util::{
    Context, Error, Result, build_cairn, cargo_command, describe, fmt_bytes, fmt_count,
    fmt_duration, median, on_path, target_dir, workspace_root,
};

mod feature;
mod remote;
mod runs;
mod train;

const AREAS: &str = "data, remote, feature, train, runs";
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
        "data" => data(scale),
        "remote" => {
            if cfg!(debug_assertions) {
                return optimised_self(args);
            }
            remote::run(scale, s3_fs)
        }
        "feature" => feature::run(quick),
        "train" => train::run(quick),
        "runs" => runs::run().map(drop),
        other => Err(Error::usage(format!(
            "unknown bench area `{other}`; the areas are: {AREAS}"
        ))),
    }
}

/// Builds `example` of `package` in release mode, in the release target directory
/// (`$XTASK_RELEASE_TARGET_DIR`, default `~/.cache/cairn-target-rel`, where polars is already
/// built), and returns the binary's absolute path.
fn build_release_example(package: &str, example: &str) -> Result<PathBuf> {
    let target = match std::env::var_os("XTASK_RELEASE_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let home = std::env::var_os("HOME")
                .ok_or("HOME is not set; set XTASK_RELEASE_TARGET_DIR to a target directory")?;
            Path::new(&home).join(".cache").join("cairn-target-rel")
        }
    };
    println!(
        "building {package}'s example {example} (release) in {}",
        target.display()
    );
    let status = cargo_command()
        .args(["build", "--release", "-p", package, "--example", example])
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(workspace_root())
        .status()
        .context(|| "cannot run `cargo build`".to_owned())?;
    if !status.success() {
        return Err(format!("building {example} failed ({})", describe(status)).into());
    }
    let bin = target
        .join("release")
        .join("examples")
        .join(format!("{example}{}", std::env::consts::EXE_SUFFIX));
    if !bin.is_file() {
        return Err(format!("cargo built {example} but {} is missing", bin.display()).into());
    }
    std::path::absolute(&bin).context(|| format!("cannot resolve {}", bin.display()))
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

/// How much data to generate.
#[derive(Clone, Copy)]
struct Scale {
    quick: bool,
    big_bytes: u64,
    top_dirs: usize,
    sub_dirs: usize,
    files_per_dir: usize,
}

impl Scale {
    const FULL: Scale = Scale {
        quick: false,
        big_bytes: 1 << 30,
        top_dirs: 20,
        sub_dirs: 10,
        files_per_dir: 100,
    };
    const QUICK: Scale = Scale {
        quick: true,
        big_bytes: 64 << 20,
        top_dirs: 20,
        sub_dirs: 10,
        files_per_dir: 10,
    };
}

/// One timed child process.
struct Measured {
    wall: Duration,
    /// The child's own peak resident set size, in bytes.
    maxrss: u64,
    /// The child's own CPU time (user + system), and the system part of it.
    cpu: Duration,
    sys: Duration,
    /// This process's CPU time while the child ran: the work of any server it runs for the
    /// child (`bench remote`'s S3 server).
    host_cpu: Duration,
    /// Direct compactions the kernel counted while the child ran (`compact_stall` in
    /// `/proc/vmstat`, machine-wide): a process that allocates page cache when memory is
    /// fragmented compacts it first, which can add seconds to a run (see docs/benchmarks.md).
    compact_stalls: u64,
    /// Free memory the guest handed back to its host while the child ran, in KiB (free page
    /// reporting, `reported_kib` of the `page_reporting` module; 0 where the kernel does not
    /// count it). Memory handed back costs a fault in the host the next time it is used, so
    /// a run that writes into it is slower (see docs/benchmarks.md).
    reported_kib: u64,
}

/// Repeated timings of one command.
struct Figure {
    samples: Vec<Duration>,
    maxrss: u64,
    cpu: Vec<Duration>,
    sys: Vec<Duration>,
    host_cpu: Vec<Duration>,
    compact_stalls: Vec<u64>,
    reported_kib: Vec<u64>,
}

impl Figure {
    fn new() -> Self {
        Figure {
            samples: Vec::new(),
            maxrss: 0,
            cpu: Vec::new(),
            sys: Vec::new(),
            host_cpu: Vec::new(),
            compact_stalls: Vec::new(),
            reported_kib: Vec::new(),
        }
    }

    fn push(&mut self, m: &Measured) {
        self.samples.push(m.wall);
        self.maxrss = self.maxrss.max(m.maxrss);
        self.cpu.push(m.cpu);
        self.sys.push(m.sys);
        self.host_cpu.push(m.host_cpu);
        self.compact_stalls.push(m.compact_stalls);
        self.reported_kib.push(m.reported_kib);
    }

    fn median(&self) -> Duration {
        median(&self.samples)
    }

    fn max(&self) -> Duration {
        self.samples.iter().copied().max().unwrap_or_default()
    }

    fn json(&self) -> serde_json::Value {
        json!({
            "samples_s": self.samples.iter().map(Duration::as_secs_f64).collect::<Vec<_>>(),
            "median_s": self.median().as_secs_f64(),
            "max_s": self.max().as_secs_f64(),
            "max_rss_bytes": self.maxrss,
            "cpu_median_s": median(&self.cpu).as_secs_f64(),
            "sys_median_s": median(&self.sys).as_secs_f64(),
            "host_cpu_median_s": median(&self.host_cpu).as_secs_f64(),
            "compact_stalls": self.compact_stalls,
            "host_reported_kib": self.reported_kib,
        })
    }
}

/// Where the benchmark runs: `tmp/proj` holds the data and the cairn project; `tmp` holds the
/// captured output of the children.
struct Bench {
    cairn: PathBuf,
    tmp: PathBuf,
    proj: PathBuf,
    /// How many paths `discard` has moved to the trash.
    discarded: Cell<u32>,
    /// Bytes of memory to fault in and free again right before each timed run (0: none); see
    /// [`prefault_memory`].
    prefault: Cell<u64>,
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
}

/// Builds cairn (release), makes the working directory and prints the header of a bench whose
/// results go to `<target>/<results>`.
fn setup(results: &str, quick: bool) -> Result<Setup> {
    let cairn = build_cairn(true)?;
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
        discarded: Cell::new(0),
        prefault: Cell::new(0),
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
    let last = ["bench-data.json", "bench-remote.json", "bench-feature.json"]
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

fn data(scale: Scale) -> Result<()> {
    let Setup {
        tmp,
        bench,
        machine,
        source,
        results,
    } = setup("bench-data.json", scale.quick)?;

    // The data.
    let mut rng = Rng::new(SEED);
    let started = Instant::now();
    write_big(&bench.proj.join("big.bin"), scale.big_bytes, &mut rng)?;
    let (tree_files, tree_bytes) = write_tree(&bench.proj.join("tree"), scale, &mut rng)?;
    println!(
        "generated big.bin ({}) and tree/ ({} files, {}) in {:.1} s",
        fmt_bytes(scale.big_bytes),
        fmt_count(tree_files),
        fmt_bytes(tree_bytes),
        started.elapsed().as_secs_f64()
    );
    bench.git_init()?;
    let (big, tree) = (Path::new("big.bin"), Path::new("tree"));

    // Before each timed run the input is read once, so that every run starts from a warm page
    // cache (this machine pages out file data that was not touched for a minute); outputs are
    // got out of the way between runs as `Bench::discard` explains.
    println!();
    let cp_big = cp_figure(&bench, big)?;
    let cp_sync_big = cp_sync_figure(&bench, big)?;
    let cp_tree = cp_tree_figure(&bench, tree)?;

    let b3sum = match on_path("b3sum") {
        Some(b3sum) => {
            let mut figure = Figure::new();
            for _ in 0..3 {
                bench.warm(big)?;
                figure.push(&bench.run("b3sum big.bin", Command::new(&b3sum).arg(big))?);
            }
            report("b3sum big.bin", &figure);
            Some(figure)
        }
        None => {
            println!("{:<34} skipped (b3sum is not on PATH)", "b3sum big.bin");
            None
        }
    };

    let mut add_big = Figure::new();
    for _ in 0..3 {
        bench.fresh_project()?;
        bench.warm(big)?;
        add_big.push(&bench.cairn(&["data", "add", "big.bin"])?);
    }
    report("cairn data add big.bin", &add_big);

    let mut add_tree = Figure::new();
    for _ in 0..3 {
        bench.fresh_project()?;
        bench.warm(tree)?;
        add_tree.push(&bench.cairn(&["data", "add", "tree"])?);
    }
    report("cairn data add tree", &add_tree);

    bench.cairn(&["data", "status", "tree"])?;
    let mut status = Figure::new();
    for _ in 0..10 {
        status.push(&bench.cairn(&["data", "status", "tree"])?);
    }
    report("cairn data status tree", &status);

    let mut checkout = Figure::new();
    for _ in 0..3 {
        bench.discard(tree)?;
        checkout.push(&bench.cairn(&["data", "checkout", "tree"])?);
        let (files, bytes) = count(&bench.proj.join(tree))?;
        if (files, bytes) != (tree_files, tree_bytes) {
            return Err(format!(
                "`cairn data checkout tree` restored {} files ({}), expected {} ({})",
                fmt_count(files),
                fmt_bytes(bytes),
                fmt_count(tree_files),
                fmt_bytes(tree_bytes)
            )
            .into());
        }
    }
    report("cairn data checkout tree", &checkout);

    let mut readd = Figure::new();
    for _ in 0..3 {
        bench.warm(tree)?;
        readd.push(&bench.cairn(&["data", "add", "tree"])?);
    }
    report("cairn data add tree (unchanged)", &readd);

    // The verdicts.
    let ratio = |a: &Figure, b: &Figure| a.median().as_secs_f64() / b.median().as_secs_f64();
    let secs = |f: &Figure| f.median().as_secs_f64();
    let beyond = add_big.maxrss as i64 - scale.big_bytes as i64;
    let mut checks = vec![
        Check {
            id: "add_big",
            value: secs(&add_big),
            name: format!("add big.bin ({})", fmt_bytes(scale.big_bytes)),
            measured: fmt_duration(add_big.median()),
            reference: format!("cp {}", fmt_duration(cp_big.median())),
            ratio: Some(ratio(&add_big, &cp_big)),
            target: "<= 1.3x cp, < 1.5 s",
            pass: Some(ratio(&add_big, &cp_big) <= 1.3 && secs(&add_big) < 1.5),
        },
        Check {
            id: "add_big_durable",
            value: secs(&add_big),
            name: format!(
                "add big.bin vs durable copy ({})",
                fmt_bytes(scale.big_bytes)
            ),
            measured: fmt_duration(add_big.median()),
            reference: format!("cp+sync {}", fmt_duration(cp_sync_big.median())),
            ratio: Some(ratio(&add_big, &cp_sync_big)),
            target: "<= 1.3x cp+sync",
            pass: Some(ratio(&add_big, &cp_sync_big) <= 1.3),
        },
        Check {
            id: "add_tree",
            value: secs(&add_tree),
            name: format!("add tree ({} files)", fmt_count(tree_files)),
            measured: fmt_duration(add_tree.median()),
            reference: format!("cp -r {}", fmt_duration(cp_tree.median())),
            ratio: Some(ratio(&add_tree, &cp_tree)),
            target: "<= 1.5x cp -r, < 2 s",
            pass: Some(ratio(&add_tree, &cp_tree) <= 1.5 && secs(&add_tree) < 2.0),
        },
        Check {
            id: "status_tree",
            value: secs(&status),
            name: "status tree, unchanged".to_owned(),
            measured: format!(
                "{} (max {})",
                fmt_duration(status.median()),
                fmt_duration(status.max())
            ),
            reference: "-".to_owned(),
            ratio: None,
            target: "< 50 ms",
            pass: Some(secs(&status) < 0.050),
        },
        Check {
            id: "checkout_tree",
            value: secs(&checkout),
            name: "checkout tree (after rm -rf)".to_owned(),
            measured: fmt_duration(checkout.median()),
            reference: format!("cp -r {}", fmt_duration(cp_tree.median())),
            ratio: Some(ratio(&checkout, &cp_tree)),
            target: "<= 1.5x cp -r",
            pass: Some(ratio(&checkout, &cp_tree) <= 1.5),
        },
        Check {
            id: "readd_tree",
            value: secs(&readd),
            name: "re-add tree, unchanged".to_owned(),
            measured: fmt_duration(readd.median()),
            reference: format!("cp -r {}", fmt_duration(cp_tree.median())),
            ratio: Some(ratio(&readd, &cp_tree)),
            target: "-",
            pass: None,
        },
        Check {
            id: "rss_beyond_file",
            value: beyond as f64,
            name: "peak RSS of add big.bin".to_owned(),
            measured: format!(
                "{:.0} MiB, {:+.0} MiB beyond file",
                add_big.maxrss as f64 / MIB,
                beyond as f64 / MIB
            ),
            reference: "-".to_owned(),
            ratio: None,
            target: "< 100 MiB beyond file",
            pass: Some(beyond < 100 << 20),
        },
    ];
    if let Some(b3sum) = &b3sum {
        checks.push(Check {
            id: "add_big_vs_b3sum",
            value: secs(&add_big),
            name: "add big.bin vs b3sum".to_owned(),
            measured: fmt_duration(add_big.median()),
            reference: format!("b3sum {}", fmt_duration(b3sum.median())),
            ratio: Some(ratio(&add_big, b3sum)),
            target: "-",
            pass: None,
        });
    }

    println!();
    print_table(&checks);
    let judged: Vec<bool> = checks.iter().filter_map(|check| check.pass).collect();
    let passed = judged.iter().filter(|pass| **pass).count();
    println!("\ntargets met: {passed} of {}", judged.len());
    if beyond < 0 {
        println!(
            "(peak RSS is below the file size: the file was never wholly resident, so \
             \"beyond\" is negative and the whole RSS is at most what cairn used)"
        );
    }

    let figures = json!({
        "cp_big": cp_big.json(),
        "cp_tree": cp_tree.json(),
        "b3sum_big": b3sum.as_ref().map(Figure::json),
        "add_big": add_big.json(),
        "add_tree": add_tree.json(),
        "status_tree": status.json(),
        "checkout_tree": checkout.json(),
        "readd_tree": readd.json(),
    });
    let document = json!({
        "kind": "bench-data",
        "schema_version": 1,
        "quick": scale.quick,
        "machine": machine,
        "source": source,
        "data": {
            "seed": SEED,
            "big_bytes": scale.big_bytes,
            "tree_files": tree_files,
            "tree_bytes": tree_bytes,
        },
        "figures": figures,
        "peak_rss_add_big_bytes": add_big.maxrss,
        "peak_rss_beyond_file_bytes": beyond,
        "checks": checks.iter().map(Check::json).collect::<Vec<_>>(),
    });

    finish(tmp, document, &results)
}

/// `cp big.bin copy.bin` in the project: four runs, the first of which is not counted.
fn cp_figure(bench: &Bench, big: &Path) -> Result<Figure> {
    let mut cp_big = Figure::new();
    for run in 0..4 {
        bench.warm(big)?;
        let measured = bench.run(
            "cp big.bin copy.bin",
            Command::new("cp").arg(big).arg("copy.bin"),
        )?;
        if run > 0 {
            cp_big.push(&measured);
        }
        bench.discard(Path::new("copy.bin"))?;
    }
    report("cp big.bin copy.bin", &cp_big);
    Ok(cp_big)
}

/// `cp big.bin copy.bin && sync`: cairn makes the objects it stores durable (one syncfs
/// before the lock is replaced, or after a fetch); plain `cp` does not. A durable copy is the
/// like-for-like reference.
fn cp_sync_figure(bench: &Bench, big: &Path) -> Result<Figure> {
    let mut cp_sync_big = Figure::new();
    for _ in 0..3 {
        bench.warm(big)?;
        let measured = bench.run(
            "cp big.bin copy.bin && sync",
            Command::new("sh")
                .arg("-c")
                .arg("cp big.bin copy.bin && sync"),
        )?;
        cp_sync_big.push(&measured);
        bench.discard(Path::new("copy.bin"))?;
    }
    report("cp big.bin copy.bin && sync", &cp_sync_big);
    Ok(cp_sync_big)
}

/// `cp -r tree tree-copy` in the project: four runs, the first of which is not counted.
fn cp_tree_figure(bench: &Bench, tree: &Path) -> Result<Figure> {
    let mut cp_tree = Figure::new();
    for run in 0..4 {
        bench.warm(tree)?;
        let measured = bench.run(
            "cp -r tree tree-copy",
            Command::new("cp").arg("-r").arg(tree).arg("tree-copy"),
        )?;
        if run > 0 {
            cp_tree.push(&measured);
        }
        bench.discard(Path::new("tree-copy"))?;
    }
    report("cp -r tree tree-copy", &cp_tree);
    Ok(cp_tree)
}

struct Check {
    /// A stable key for the JSON.
    id: &'static str,
    /// The measured value in seconds, or in bytes for memory.
    value: f64,
    name: String,
    measured: String,
    reference: String,
    ratio: Option<f64>,
    target: &'static str,
    /// `None` for a figure without a target.
    pass: Option<bool>,
}

impl Check {
    fn json(&self) -> serde_json::Value {
        json!({
            "id": self.id,
            "value": self.value,
            "name": self.name,
            "measured": self.measured,
            "reference": self.reference,
            "ratio": self.ratio,
            "target": self.target,
            "pass": self.pass,
        })
    }
}

fn print_table(checks: &[Check]) {
    let header = [
        "figure",
        "measured",
        "reference",
        "ratio",
        "target",
        "result",
    ];
    let rows: Vec<[String; 6]> = checks
        .iter()
        .map(|check| {
            [
                check.name.clone(),
                check.measured.clone(),
                check.reference.clone(),
                check.ratio.map_or_else(
                    || "-".to_owned(),
                    |r| {
                        if r < 0.01 {
                            format!("{r:.4}x")
                        } else {
                            format!("{r:.2}x")
                        }
                    },
                ),
                check.target.to_owned(),
                match check.pass {
                    Some(true) => "PASS".to_owned(),
                    Some(false) => "FAIL".to_owned(),
                    None => "-".to_owned(),
                },
            ]
        })
        .collect();
    print_columns(header, &rows);
}

/// Prints rows as columns padded to their widest cell (in characters), under a header and a
/// rule.
fn print_columns<const N: usize>(header: [&str; N], rows: &[[String; N]]) {
    let mut widths = header.map(|h| h.chars().count());
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; N]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| {
                let pad = width - cell.chars().count();
                format!("{cell}{}", " ".repeat(pad))
            })
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header);
    line(
        widths
            .map(|width| "-".repeat(width))
            .each_ref()
            .map(String::as_str),
    );
    for row in rows {
        line(row.each_ref().map(String::as_str));
    }
}

fn report(what: &str, figure: &Figure) {
    let samples: Vec<String> = figure.samples.iter().map(|d| fmt_duration(*d)).collect();
    let mut line = format!("{what:<34} median {:>10}", fmt_duration(figure.median()));
    if figure.samples.len() > 3 {
        line.push_str(&format!("  max {:>10}", fmt_duration(figure.max())));
    }
    line.push_str(&format!("  ({})", samples.join(", ")));
    let compacted = figure.compact_stalls.iter().filter(|n| **n > 0).count();
    if compacted > 0 {
        line.push_str(&format!(
            "  [direct compaction in {compacted} of {} runs]",
            figure.samples.len()
        ));
    }
    let reported: Vec<u64> = figure.reported_kib.iter().map(|kib| kib / 1024).collect();
    if reported.iter().any(|mib| *mib > 0) {
        let each: Vec<String> = reported.iter().map(u64::to_string).collect();
        line.push_str(&format!(
            "  [MiB handed back to the host per run: {}]",
            each.join(", ")
        ));
    }
    println!("{line}");
}

impl Bench {
    /// `cairn -q ARGS` in the project, timed; its output is shown only if it fails.
    fn cairn(&self, args: &[&str]) -> Result<Measured> {
        let mut cmd = Command::new(&self.cairn);
        cmd.arg("-q").args(args);
        self.run(&format!("cairn -q {}", args.join(" ")), &mut cmd)
    }

    /// Runs a command (in the project, unless it has a directory of its own) after `sync`, timing it from spawn to exit and reading its
    /// own resource usage with `wait4`. Its output goes to files, shown only if it fails.
    fn run(&self, shown: &str, cmd: &mut Command) -> Result<Measured> {
        let out_path = self.tmp.join("child.stdout");
        let err_path = self.tmp.join("child.stderr");
        let out =
            File::create(&out_path).context(|| format!("cannot create {}", out_path.display()))?;
        let err =
            File::create(&err_path).context(|| format!("cannot create {}", err_path.display()))?;
        if cmd.get_current_dir().is_none() {
            cmd.current_dir(&self.proj);
        }
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        sync();
        prefault_memory(self.prefault.get());
        reset_peak_rss();
        let host_before = own_cpu();
        let stalls_before = compact_stalls();
        let reported_before = reported_kib();
        let start = Instant::now();
        let child = cmd.spawn().context(|| format!("cannot run `{shown}`"))?;
        let (status, maxrss, cpu, sys) =
            wait_with_rusage(child).context(|| format!("waiting for `{shown}`"))?;
        let wall = start.elapsed();
        let host_cpu = own_cpu().saturating_sub(host_before);
        let compact_stalls = compact_stalls().saturating_sub(stalls_before);
        let reported_kib = reported_kib().saturating_sub(reported_before);
        if !status.success() {
            let _ = std::io::stdout().flush();
            for (name, path) in [("stdout", &out_path), ("stderr", &err_path)] {
                let text = std::fs::read_to_string(path).unwrap_or_default();
                if !text.trim().is_empty() {
                    eprintln!("--- {name} of `{shown}`:\n{}", text.trim_end());
                }
            }
            return Err(format!("`{shown}` failed ({})", describe(status)).into());
        }
        Ok(Measured {
            wall,
            maxrss,
            cpu,
            sys,
            host_cpu,
            compact_stalls,
            reported_kib,
        })
    }

    fn git_init(&self) -> Result<()> {
        let mut cmd = Command::new("git");
        cmd.args(["init", "-q", "-b", "main"]);
        self.run("git init", &mut cmd).map(drop)
    }

    /// Turns the project back into a just-initialised one, keeping the data and `.git`.
    fn fresh_project(&self) -> Result<()> {
        for name in [".cairn", "cairn.toml", "cairn.lock", ".gitignore"] {
            self.discard(Path::new(name))?;
        }
        self.cairn(&["init"]).map(drop)
    }

    /// Gets a file or directory of the project out of the way, if it exists: deletes it, unless
    /// it is a directory of many files, which is moved to `tmp/trash` (deleted at the end).
    ///
    /// Two properties of this project's machines (ext4 without a journal, in a VM) decide this:
    /// - ext4 without a journal skips recently freed inodes when it allocates new ones, at a
    ///   cost that grows with their number, so creating 20,000 files within minutes of deleting
    ///   20,000 others can take ten times as long as usual, and varies wildly;
    /// - page cache in memory that the VM has not touched lately costs 2–3 s of system time per
    ///   GiB to fill, so a big file is deleted to let the next run reuse its pages, as the run
    ///   it is compared with did.
    fn discard(&self, rel: &Path) -> Result<()> {
        let path = self.proj.join(rel);
        let meta = match std::fs::symlink_metadata(&path) {
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            result => result.context(|| format!("cannot stat {}", path.display()))?,
        };
        let removed = if !meta.is_dir() {
            std::fs::remove_file(&path)
        } else if walk(&path)?.len() < 1000 {
            std::fs::remove_dir_all(&path)
        } else {
            let trash = self.tmp.join("trash");
            std::fs::create_dir_all(&trash)
                .context(|| format!("cannot create {}", trash.display()))?;
            let n = self.discarded.get() + 1;
            self.discarded.set(n);
            let to = trash.join(n.to_string());
            return std::fs::rename(&path, &to)
                .context(|| format!("cannot move {} to {}", path.display(), to.display()));
        };
        removed.context(|| format!("cannot remove {}", path.display()))
    }

    /// Reads a file, or every file under a directory, of the project.
    fn warm(&self, rel: &Path) -> Result<()> {
        let path = self.proj.join(rel);
        if path.is_dir() {
            for file in walk(&path)? {
                read_all(&file)?;
            }
            Ok(())
        } else {
            read_all(&path)
        }
    }
}

/// Waits for `child` with `wait4`, which also returns the child's own resource usage (unlike
/// `getrusage(RUSAGE_CHILDREN)`, which only reports the largest child so far): its peak RSS in
/// bytes, its CPU time and the system part of that.
#[allow(unsafe_code)]
fn wait_with_rusage(child: Child) -> std::io::Result<(ExitStatus, u64, Duration, Duration)> {
    use std::os::unix::process::ExitStatusExt;
    let pid = libc::pid_t::try_from(child.id()).map_err(std::io::Error::other)?;
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is a plain C struct of integers, for which all-zero is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `pid` is our own child, not yet reaped (we never call `Child::wait`); the
        // pointers are to live locals of the right types.
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if reaped == pid {
            break;
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    // Linux reports ru_maxrss in KiB.
    let maxrss = u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024;
    let sys = duration(usage.ru_stime);
    let cpu = duration(usage.ru_utime) + sys;
    Ok((ExitStatus::from_raw(status), maxrss, cpu, sys))
}

/// Lowers this process's peak RSS to its current RSS. Linux counts the peak RSS of the memory a
/// child had before its `exec` in the child's own peak: with `posix_spawn` (what `Command`
/// uses) that memory is this process's, so without the reset a child's peak RSS could never be
/// below the largest this process ever was (a bench that generated 100 MiB of data would
/// report 100 MiB for `cairn --version`). What this process holds at the spawn still counts.
fn reset_peak_rss() {
    // "5" resets the peak to the current RSS (Linux 4.0+); without it the figures are only
    // less exact.
    let _ = std::fs::OpenOptions::new()
        .write(true)
        .open("/proc/self/clear_refs")
        .and_then(|mut file| file.write_all(b"5"));
}

/// The CPU time (user + system) of this process, all threads, so far.
#[allow(unsafe_code)]
fn own_cpu() -> Duration {
    // SAFETY: as in `wait_with_rusage`.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF is valid and the pointer is to a live local of the right type.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return Duration::ZERO;
    }
    duration(usage.ru_utime) + duration(usage.ru_stime)
}

fn duration(tv: libc::timeval) -> Duration {
    let secs = u64::try_from(tv.tv_sec).unwrap_or(0);
    let micros = u32::try_from(tv.tv_usec).unwrap_or(0);
    Duration::from_secs(secs) + Duration::from_micros(u64::from(micros))
}

/// Flushes dirty pages so that one measurement does not pay for the writes of the one before.
#[allow(unsafe_code)]
fn sync() {
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() }
}

/// One file of incompressible pseudo-random bytes, written in 8 MiB chunks.
fn write_big(path: &Path, size: u64, rng: &mut Rng) -> Result<()> {
    let mut file = File::create(path).context(|| format!("cannot create {}", path.display()))?;
    let mut buf = vec![0u8; CHUNK];
    let mut left = size;
    while left > 0 {
        let n = left.min(CHUNK as u64) as usize;
        rng.fill(&mut buf[..n]);
        file.write_all(&buf[..n])
            .context(|| format!("cannot write {}", path.display()))?;
        left -= n as u64;
    }
    Ok(())
}

/// `top/sub/file` folders of files of 1–16 KiB. Returns the number of files and their bytes.
fn write_tree(root: &Path, scale: Scale, rng: &mut Rng) -> Result<(u64, u64)> {
    let mut buf = vec![0u8; 16 << 10];
    let (mut files, mut bytes) = (0, 0);
    for top in 0..scale.top_dirs {
        for sub in 0..scale.sub_dirs {
            let dir = root.join(format!("d{top:02}")).join(format!("s{sub}"));
            std::fs::create_dir_all(&dir).context(|| format!("cannot create {}", dir.display()))?;
            for i in 0..scale.files_per_dir {
                let size = rng.between(1 << 10, 16 << 10) as usize;
                rng.fill(&mut buf[..size]);
                let path = dir.join(format!("f{i:03}.bin"));
                std::fs::write(&path, &buf[..size])
                    .context(|| format!("cannot write {}", path.display()))?;
                files += 1;
                bytes += size as u64;
            }
        }
    }
    Ok((files, bytes))
}

fn read_all(path: &Path) -> Result<()> {
    let mut file = File::open(path).context(|| format!("cannot open {}", path.display()))?;
    let mut buf = vec![0u8; CHUNK];
    while file
        .read(&mut buf)
        .context(|| format!("cannot read {}", path.display()))?
        > 0
    {}
    Ok(())
}

/// Every file under `root`, recursively.
fn walk(root: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries =
            std::fs::read_dir(&dir).context(|| format!("cannot list {}", dir.display()))?;
        for entry in entries {
            let entry = entry.context(|| format!("cannot list {}", dir.display()))?;
            let kind = entry
                .file_type()
                .context(|| format!("cannot stat {}", entry.path().display()))?;
            if kind.is_dir() {
                dirs.push(entry.path());
            } else {
                files.push(entry.path());
            }
        }
    }
    Ok(files)
}

/// The number of files under `root` and their total size.
fn count(root: &Path) -> Result<(u64, u64)> {
    if !root.exists() {
        return Ok((0, 0));
    }
    let mut bytes = 0;
    let files = walk(root)?;
    for file in &files {
        bytes += std::fs::metadata(file)
            .context(|| format!("cannot stat {}", file.display()))?
            .len();
    }
    Ok((files.len() as u64, bytes))
}

fn machine_info(dir: &Path) -> serde_json::Value {
    let nproc = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let uname = command_line("uname", &["-sr"]).unwrap_or_else(|| "unknown".to_owned());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("MemTotal:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse::<u64>().ok())
                .map(|kib| kib * 1024)
        });
    let dir = dir.to_string_lossy();
    let filesystem = command_line("stat", &["-f", "-c", "%T", &dir]);
    json!({
        "nproc": nproc,
        "uname": uname,
        "cpu": cpu,
        "memory_bytes": memory,
        "filesystem": filesystem,
    })
}

/// Fails, before any data is generated, when the file system of `dir` has less than `need`
/// bytes free: a bench that runs out of space half way wastes its first minutes and leaves
/// the disk full.
#[allow(unsafe_code)]
fn require_free_space(dir: &Path, need: u64, why: &str) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| format!("{} contains a NUL byte", dir.display()))?;
    // SAFETY: `statvfs` is a plain C struct of integers, for which all-zero is a valid value;
    // the pointers are to a NUL-terminated string and a local, both live for the call.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut stat) } != 0 {
        // Unknown: the bench will tell soon enough.
        return Ok(());
    }
    let free = stat.f_bavail.saturating_mul(stat.f_frsize);
    if free < need {
        return Err(format!(
            "{} has {} free; this bench needs about {} ({why}). Free some space, or set \
             CARGO_TARGET_DIR to a directory on a larger file system",
            dir.display(),
            fmt_bytes(free),
            fmt_bytes(need)
        )
        .into());
    }
    Ok(())
}

/// The kernel's count of direct compactions so far (`compact_stall` in `/proc/vmstat`); 0 where
/// it cannot be read.
fn compact_stalls() -> u64 {
    std::fs::read_to_string("/proc/vmstat")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|line| line.strip_prefix("compact_stall "))
                .and_then(|n| n.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Faults in `bytes` of anonymous memory and frees it again, so that the page cache the next
/// timed run fills comes from memory the host backs. This VM hands free memory back to its
/// host (free page reporting); the first touch of such memory costs a fault in the host, about
/// 1-3 s per GiB here against 0.1 s for memory touched before, and which process gets it
/// depends on the order of frees before it. Freed pages are handed back slowly (tens of MiB
/// in seconds) and the kernel allocates pages not yet handed back first, so the run that
/// follows (`cp` or cairn alike) writes into memory that behaves as on a machine of its own.
#[allow(unsafe_code)]
fn prefault_memory(bytes: u64) {
    let Ok(len) = usize::try_from(bytes) else {
        return;
    };
    if len == 0 {
        return;
    }
    // SAFETY: a private anonymous mapping of `len` bytes, written only inside its bounds and
    // unmapped before returning; a failed mapping is skipped.
    unsafe {
        let ptr = libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if ptr == libc::MAP_FAILED {
            return;
        }
        let bytes = ptr.cast::<u8>();
        for offset in (0..len).step_by(4096) {
            std::ptr::write_volatile(bytes.add(offset), 1);
        }
        libc::munmap(ptr, len);
    }
}

/// How much free memory this guest has reported to its host so far, in KiB (free page
/// reporting, as the VMs this is measured on have it); 0 where the kernel does not count it.
fn reported_kib() -> u64 {
    std::fs::read_to_string("/sys/module/page_reporting/parameters/reported_kib")
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(0)
}

/// The 1-minute load average.
fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The commit the workspace is at, and how many files under `crates/` differ from it (other
/// work in progress is measured too).
fn source_info() -> serde_json::Value {
    let root = workspace_root();
    let root = root.to_string_lossy();
    let commit = command_line("git", &["-C", &root, "rev-parse", "--short", "HEAD"]);
    let changed = Command::new("git")
        .args(["-C", &root, "status", "--porcelain", "--", "crates"])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).lines().count());
    json!({ "commit": commit, "crates_changed": changed, "load_average_at_start": load_average() })
}

fn machine_line(machine: &serde_json::Value) -> String {
    let text = |key: &str| machine[key].as_str().unwrap_or("unknown").to_owned();
    let memory = machine["memory_bytes"]
        .as_u64()
        .map_or_else(|| "?".to_owned(), fmt_bytes);
    format!(
        "{} cores ({}), {memory} memory, {}, filesystem {}",
        machine["nproc"],
        text("cpu"),
        text("uname"),
        text("filesystem")
    )
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// How long ago the previous bench (whose results are in `path`) ended.
fn seconds_since_last_run(path: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    let previous: serde_json::Value = serde_json::from_str(&text).ok()?;
    let finished = previous.get("finished_unix")?.as_u64()?;
    unix_now().checked_sub(finished)
}

/// The first line a command prints, if it runs and succeeds.
fn command_line(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .next()
        .map(|line| line.trim().to_owned())
}
