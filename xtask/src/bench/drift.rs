//! `cargo xtask bench drift [--quick]`: `cairn drift` from two files, as whole processes of
//! the release build (issue 17's figures):
//!
//! - at 100,000 rows each side, under 1 s;
//! - at 1,000,000 rows each side, under 8 s and under 1 GiB of peak RSS, report included;
//! - the HTML report under 2 MB at any size.
//!
//! The tables are seeded (`generate`): 20 numeric columns `n00`–`n19` (normal, each with its
//! own mean and standard deviation), 5 categorical columns `c0`–`c4` (3 to 7 levels, uniform)
//! and a `prediction` column (a logistic score of `n00`–`n02`). The current table is drawn
//! like the reference, with drift injected into 5 columns: the means of `n00`–`n02` shifted by
//! 0.5 of their standard deviation, and 30% of the rows of `c0` and `c1` moved to their level
//! `a`; the prediction drifts with its inputs. Both are written as CSV, then as Parquet by
//! pyarrow in the bench's virtual environment (`<target>/bench-venv`, made and filled when
//! missing); without pyarrow the bench times the CSV files and says so.
//!
//! Each size: a fresh project (`git init`, `cairn init`), then `cairn --json drift
//! --reference ref --current cur --report drift.html`, once to warm up and 3 times timed; the
//! median wall time, the largest peak RSS (`wait4`), the report's size. The run fails unless
//! the drifted columns are exactly the 5 injected and the prediction. References on the same
//! files, one run each, when installable into the venv: a scipy-only script computing the
//! same statistics (normalised Wasserstein, Jensen–Shannon distance), and Evidently 0.7's
//! data drift preset with its HTML report; "not measured" otherwise.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use super::{Bench, Check, Figure, Measured, Setup, finish, print_table, report_usage, setup};
use crate::rng::Rng;
use crate::util::{Context, Result, describe, fmt_bytes, fmt_count, fmt_duration, target_dir};

const SMALL_TARGET: Duration = Duration::from_secs(1);
const LARGE_TARGET: Duration = Duration::from_secs(8);
const LARGE_RSS_TARGET: u64 = 1 << 30;
const REPORT_TARGET: u64 = 2_000_000;
const REPEATS: usize = 3;
const SEED: u64 = 0xD81F_7BE4_C400_0017;

const NUMERIC: usize = 20;
const CATEGORICAL: usize = 5;
/// The columns drift is injected into, and the prediction that follows them.
const DRIFTED: [&str; 6] = ["c0", "c1", "n00", "n01", "n02", "prediction"];

/// The sizes (rows on each side): the two of the issue, or smaller ones with `--quick` (still
/// above 1,000 rows, where the automatic selection uses the same methods).
const FULL: [usize; 2] = [100_000, 1_000_000];
const QUICK: [usize; 2] = [5_000, 50_000];

/// Converts CSV files to Parquet (argv: pairs of paths).
const TO_PARQUET: &str = r#"
import sys
import pyarrow.csv as pc
import pyarrow.parquet as pq
args = sys.argv[1:]
for src, dst in zip(args[0::2], args[1::2]):
    pq.write_table(pc.read_csv(src), dst)
"#;

/// The same statistics as cairn's automatic selection above 1,000 rows, with scipy only:
/// Wasserstein-1 over the reference standard deviation (drift at >= 0.1) for numbers,
/// Jensen-Shannon distance (base e, as Evidently) over the union of categories for text.
/// Prints the drifted columns as JSON.
const SCIPY: &str = r#"
import json, sys
import numpy as np
import pyarrow.parquet as pq
import pyarrow.csv as pc
from scipy.stats import wasserstein_distance
from scipy.spatial.distance import jensenshannon
def read(path):
    return pq.read_table(path) if path.endswith(".parquet") else pc.read_csv(path)
ref, cur = read(sys.argv[1]), read(sys.argv[2])
drifted = []
for name in ref.column_names:
    r = ref.column(name).to_numpy(zero_copy_only=False)
    c = cur.column(name).to_numpy(zero_copy_only=False)
    if r.dtype.kind == "f":
        sd = np.std(r, ddof=1)
        score = wasserstein_distance(r, c) / sd
    else:
        cats = sorted(set(r) | set(c))
        rc = np.array([np.sum(r == k) for k in cats], dtype=float)
        cc = np.array([np.sum(c == k) for k in cats], dtype=float)
        score = jensenshannon(rc / rc.sum(), cc / cc.sum())
    if score >= 0.1:
        drifted.append(name)
print(json.dumps({"drifted": sorted(drifted)}))
"#;

/// Evidently's data drift preset with its HTML report (argv: reference, current, report).
const EVIDENTLY: &str = r#"
import sys
import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset
def read(path):
    return pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path)
ref, cur = read(sys.argv[1]), read(sys.argv[2])
Report([DataDriftPreset()]).run(cur, ref).save_html(sys.argv[3])
"#;

pub(super) fn run(quick: bool) -> Result<()> {
    let sizes = if quick { QUICK } else { FULL };
    let Setup {
        tmp,
        bench,
        machine,
        source,
        results,
        built: _,
    } = setup("bench-drift.json", quick, false)?;
    let python = venv(&target_dir()?);
    bench.git_init()?;
    let mut checks = Vec::new();
    let mut figures = Vec::new();
    for rows in sizes {
        println!("\n{} rows each side", fmt_count(rows as u64));
        let (reference, current, format) = tables(&bench, python.as_deref(), rows)?;
        bench.fresh_project()?;
        let args = [
            "--json",
            "drift",
            "--reference",
            reference.as_str(),
            "--current",
            current.as_str(),
            "--report",
            "drift.html",
        ];
        bench.cairn(&args)?;
        let load_before = super::load_average();
        let mut figure = Figure::new();
        for _ in 0..REPEATS {
            figure.push(&bench.cairn(&args)?);
        }
        let load_after = super::load_average();
        report_usage(&format!("cairn drift ({format})"), &figure);
        let record = child_json(&bench)?;
        // Wall time is only a verdict on a quiet machine: the load says how quiet it was, and
        // the record's own duration (reading and comparing, without process start, report
        // and record) says how much of the wall time the comparison took.
        let shown =
            |load: Option<f64>| load.map_or_else(|| "unknown".to_owned(), |l| format!("{l:.2}"));
        println!(
            "  load average {} before the timed runs, {} after; the last run's record: {:.3} s reading and comparing",
            shown(load_before),
            shown(load_after),
            record["duration_s"].as_f64().unwrap_or(f64::NAN)
        );
        let drifted = check_drifted(&record)?;
        let report_bytes = std::fs::metadata(bench.proj.join("drift.html"))
            .context(|| "cannot stat drift.html".to_owned())?
            .len();
        println!(
            "  drifted: {} (as injected); report {}",
            drifted.join(", "),
            fmt_bytes(report_bytes)
        );
        let scipy = reference_run(
            &bench,
            python.as_deref(),
            "scipy",
            SCIPY,
            &[&reference, &current],
        )?;
        if let Some(m) = &scipy {
            let out = child_json(&bench)?;
            if out["drifted"] != json!(DRIFTED) {
                println!("  note: the scipy script found {} drifted", out["drifted"]);
            }
            println!(
                "  scipy reference: {} ({} CPU, peak RSS {})",
                fmt_duration(m.wall),
                fmt_duration(m.cpu),
                fmt_bytes(m.maxrss)
            );
        }
        let evidently = reference_run(
            &bench,
            python.as_deref(),
            "evidently",
            EVIDENTLY,
            &[&reference, &current, "evidently.html"],
        )?;
        if let Some(m) = &evidently {
            println!(
                "  Evidently reference: {} ({} CPU, peak RSS {})",
                fmt_duration(m.wall),
                fmt_duration(m.cpu),
                fmt_bytes(m.maxrss)
            );
        }
        let large = rows >= 1_000_000 || (quick && rows == sizes[1]);
        checks.extend(size_checks(
            rows,
            large,
            &figure,
            report_bytes,
            scipy.as_ref(),
            evidently.as_ref(),
        ));
        figures.push(json!({
            "rows": rows,
            "format": format,
            "drift": figure.json(),
            "report_bytes": report_bytes,
            "drifted": drifted,
            "record_duration_s": record["duration_s"],
            "load_average": [load_before, load_after],
            "scipy": scipy.as_ref().map(measured_json),
            "evidently": evidently.as_ref().map(measured_json),
        }));
        for name in [&reference, &current, "drift.html", "evidently.html"] {
            bench.discard(Path::new(name))?;
        }
    }
    println!();
    print_table(&checks);
    println!("\n{}", super::summary(&checks));
    if quick {
        println!("(quick run: the targets are for the full sizes)");
    }
    let document = json!({
        "kind": "bench-drift",
        "schema_version": 1,
        "quick": quick,
        "machine": machine,
        "source": source,
        "sizes": figures,
        "checks": checks.iter().map(Check::json).collect::<Vec<_>>(),
    });
    finish(tmp, document, &results)
}

/// The verdicts of one size: wall time (and peak RSS at the large size) and the report's
/// size; the references' times beside cairn's, without a verdict.
fn size_checks(
    rows: usize,
    large: bool,
    figure: &Figure,
    report_bytes: u64,
    scipy: Option<&Measured>,
    evidently: Option<&Measured>,
) -> Vec<Check> {
    let n = fmt_count(rows as u64);
    let median = figure.median();
    let reference = |m: Option<&Measured>, who: &str| match m {
        Some(m) => format!("{who} {}", fmt_duration(m.wall)),
        None => format!("{who}: not measured"),
    };
    let (target, limit, id) = if large {
        ("< 8 s", LARGE_TARGET, "drift_large")
    } else {
        ("< 1 s", SMALL_TARGET, "drift_small")
    };
    let mut checks = vec![Check {
        id,
        value: median.as_secs_f64(),
        name: format!("`cairn drift`, {n} rows each side, report included"),
        measured: fmt_duration(median),
        reference: format!(
            "{}; {}",
            reference(scipy, "scipy"),
            reference(evidently, "Evidently")
        ),
        ratio: evidently.map(|m| median.as_secs_f64() / m.wall.as_secs_f64()),
        target,
        pass: Some(median < limit),
    }];
    if large {
        checks.push(Check {
            id: "drift_large_rss",
            value: figure.maxrss as f64,
            name: format!("peak RSS of `cairn drift`, {n} rows"),
            measured: fmt_bytes(figure.maxrss),
            reference: evidently.map_or_else(
                || "Evidently: not measured".to_owned(),
                |m| format!("Evidently {}", fmt_bytes(m.maxrss)),
            ),
            ratio: None,
            target: "< 1 GiB",
            pass: Some(figure.maxrss < LARGE_RSS_TARGET),
        });
    }
    checks.push(Check {
        id: if large {
            "report_large"
        } else {
            "report_small"
        },
        value: report_bytes as f64,
        name: format!("HTML report, {n} rows"),
        measured: fmt_bytes(report_bytes),
        reference: "-".to_owned(),
        ratio: None,
        target: "< 2 MB",
        pass: Some(report_bytes < REPORT_TARGET),
    });
    checks
}

fn measured_json(m: &Measured) -> Value {
    json!({
        "wall_s": m.wall.as_secs_f64(),
        "cpu_s": m.cpu.as_secs_f64(),
        "max_rss_bytes": m.maxrss,
    })
}

/// One run of a reference script in the venv, timed as cairn is; `None` (not measured) when
/// there is no venv, its packages cannot be imported, or the script fails.
fn reference_run(
    bench: &Bench,
    python: Option<&Path>,
    who: &str,
    script: &str,
    args: &[&str],
) -> Result<Option<Measured>> {
    let Some(python) = python else {
        println!("  {who} reference: not measured (no virtual environment)");
        return Ok(None);
    };
    let module = if who == "evidently" {
        "evidently"
    } else {
        "scipy"
    };
    if !importable(python, module) && !install(python, who) {
        println!("  {who} reference: not measured (it could not be installed)");
        return Ok(None);
    }
    let mut cmd = Command::new(python);
    cmd.arg("-c").arg(script).args(args);
    match bench.run(&format!("{who} reference"), &mut cmd) {
        Ok(m) => Ok(Some(m)),
        Err(e) => {
            println!("  {who} reference: not measured ({})", e.message);
            Ok(None)
        }
    }
}

/// Installs a reference's packages into the venv; whether it worked.
fn install(python: &Path, who: &str) -> bool {
    let packages: &[&str] = if who == "evidently" {
        &["evidently==0.7.*", "pandas<3"]
    } else {
        &["scipy"]
    };
    println!("  installing {} into the bench venv", packages.join(" "));
    let ok = Command::new(python)
        .args(["-m", "pip", "install", "--quiet"])
        .args(packages)
        .status()
        .is_ok_and(|s| s.success());
    ok && importable(
        python,
        if who == "evidently" {
            "evidently"
        } else {
            "scipy"
        },
    )
}

fn importable(python: &Path, module: &str) -> bool {
    Command::new(python)
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The venv's python with pyarrow and numpy, made when missing; `None` when it cannot be made.
fn venv(target: &Path) -> Option<PathBuf> {
    let venv = target.join("bench-venv");
    let python = venv.join("bin").join("python");
    if python.is_file() && importable(&python, "pyarrow, numpy") {
        return Some(python);
    }
    println!("preparing {} (pyarrow, numpy)", venv.display());
    if !python.is_file() {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .is_ok_and(|s| s.success());
        if !made {
            println!("note: cannot make a virtual environment: the tables stay CSV");
            return None;
        }
    }
    let installed = Command::new(&python)
        .args(["-m", "pip", "install", "--quiet", "pyarrow", "numpy"])
        .status()
        .is_ok_and(|s| s.success());
    if installed && importable(&python, "pyarrow, numpy") {
        Some(python)
    } else {
        println!("note: pyarrow could not be installed: the tables stay CSV");
        None
    }
}

/// Writes the reference and current tables of `rows` rows into the project: Parquet when the
/// venv has pyarrow, CSV otherwise. Returns their names and the format.
fn tables(
    bench: &Bench,
    python: Option<&Path>,
    rows: usize,
) -> Result<(String, String, &'static str)> {
    let started = std::time::Instant::now();
    let (ref_csv, cur_csv) = ("ref.csv", "cur.csv");
    generate(&bench.proj.join(ref_csv), rows, false, SEED)?;
    generate(&bench.proj.join(cur_csv), rows, true, SEED ^ 0x5EED)?;
    let Some(python) = python else {
        println!(
            "  generated {ref_csv} and {cur_csv} in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        return Ok((ref_csv.to_owned(), cur_csv.to_owned(), "CSV"));
    };
    let status = Command::new(python)
        .arg("-c")
        .arg(TO_PARQUET)
        .args([ref_csv, "ref.parquet", cur_csv, "cur.parquet"])
        .current_dir(&bench.proj)
        .status()
        .context(|| "cannot run the venv's python".to_owned())?;
    if !status.success() {
        return Err(format!(
            "converting the tables to Parquet failed ({})",
            describe(status)
        )
        .into());
    }
    bench.discard(Path::new(ref_csv))?;
    bench.discard(Path::new(cur_csv))?;
    let size = |name: &str| std::fs::metadata(bench.proj.join(name)).map_or(0, |m| m.len());
    println!(
        "  generated ref.parquet ({}) and cur.parquet ({}) in {:.1} s",
        fmt_bytes(size("ref.parquet")),
        fmt_bytes(size("cur.parquet")),
        started.elapsed().as_secs_f64()
    );
    Ok((
        "ref.parquet".to_owned(),
        "cur.parquet".to_owned(),
        "Parquet",
    ))
}

/// The mean and standard deviation of numeric column `i`.
fn numeric_shape(i: usize) -> (f64, f64) {
    (i as f64 * 3.0 - 10.0, 1.0 + i as f64 / 4.0)
}

/// The levels of categorical column `i`: `a`, `b`, ... (3 to 7 of them).
fn levels(i: usize) -> usize {
    3 + i
}

/// One table as CSV: the reference, or (`drifted`) the current table with drift injected.
fn generate(path: &Path, rows: usize, drifted: bool, seed: u64) -> Result<()> {
    use std::io::Write as _;
    let file =
        std::fs::File::create(path).context(|| format!("cannot create {}", path.display()))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut header: Vec<String> = (0..NUMERIC).map(|i| format!("n{i:02}")).collect();
    header.extend((0..CATEGORICAL).map(|i| format!("c{i}")));
    header.push("prediction".to_owned());
    let mut text = header.join(",");
    text.push('\n');
    let mut rng = Rng::new(seed);
    let letters = b"abcdefg";
    for _ in 0..rows {
        let mut score = 0.0;
        for i in 0..NUMERIC {
            let (mean, sd) = numeric_shape(i);
            let z = rng.normal() + if drifted && i < 3 { 0.5 } else { 0.0 };
            if i < 3 {
                score += z;
            }
            text.push_str(&format!("{:.6},", mean + sd * z));
        }
        for i in 0..CATEGORICAL {
            let level = if drifted && i < 2 && rng.unit() < 0.3 {
                0
            } else {
                rng.below(levels(i) as u64) as usize
            };
            text.push(letters[level] as char);
            text.push(',');
        }
        let prediction = 1.0 / (1.0 + (-score / 3f64.sqrt()).exp());
        text.push_str(&format!("{prediction:.6}\n"));
        if text.len() > 1 << 20 {
            out.write_all(text.as_bytes())
                .context(|| format!("cannot write {}", path.display()))?;
            text.clear();
        }
    }
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context(|| format!("cannot write {}", path.display()))
}

/// The JSON document the last command timed by the harness printed.
fn child_json(bench: &Bench) -> Result<Value> {
    let path = bench.tmp.join("child.stdout");
    let bytes = std::fs::read(&path).context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_slice(&bytes).context(|| format!("{} holds no JSON document", path.display()))
}

/// The drifted columns of a drift record, which must be exactly the injected ones and the
/// prediction.
fn check_drifted(record: &Value) -> Result<Vec<String>> {
    let columns = record["columns"]
        .as_array()
        .ok_or_else(|| format!("no `columns` in the drift record: {record}"))?;
    if columns.len() != NUMERIC + CATEGORICAL + 1 {
        return Err(format!(
            "the drift record compares {} columns, expected {}",
            columns.len(),
            NUMERIC + CATEGORICAL + 1
        )
        .into());
    }
    let mut drifted: Vec<String> = columns
        .iter()
        .filter(|c| c["drifted"] == json!(true))
        .filter_map(|c| c["column"].as_str().map(str::to_owned))
        .collect();
    drifted.sort();
    if drifted != DRIFTED {
        return Err(format!(
            "`cairn drift` found drift in [{}], but it was injected into [{}]",
            drifted.join(", "),
            DRIFTED.join(", ")
        )
        .into());
    }
    Ok(drifted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(drifted: &[&str]) -> Value {
        let mut names: Vec<String> = (0..NUMERIC).map(|i| format!("n{i:02}")).collect();
        names.extend((0..CATEGORICAL).map(|i| format!("c{i}")));
        names.push("prediction".to_owned());
        let columns: Vec<Value> = names
            .iter()
            .map(|n| json!({ "column": n, "drifted": drifted.contains(&n.as_str()) }))
            .collect();
        json!({ "columns": columns })
    }

    #[test]
    fn the_run_fails_unless_exactly_the_injected_columns_drift() {
        assert_eq!(check_drifted(&record(&DRIFTED)).unwrap(), DRIFTED);
        assert!(check_drifted(&record(&DRIFTED[..5])).is_err());
        assert!(
            check_drifted(&record(&[
                "c0",
                "c1",
                "n00",
                "n01",
                "n02",
                "n03",
                "prediction"
            ]))
            .is_err()
        );
        assert!(check_drifted(&json!({ "columns": [] })).is_err());
    }

    #[test]
    fn the_tables_have_the_declared_columns_and_drift() {
        let dir = tempfile::tempdir().unwrap();
        let (r, c) = (dir.path().join("r.csv"), dir.path().join("c.csv"));
        generate(&r, 4_000, false, 1).unwrap();
        generate(&c, 4_000, true, 2).unwrap();
        let mean = |path: &Path, col: usize| -> f64 {
            let text = std::fs::read_to_string(path).unwrap();
            let mut lines = text.lines();
            let header = lines.next().unwrap();
            assert_eq!(header.split(',').count(), NUMERIC + CATEGORICAL + 1);
            let values: Vec<f64> = lines
                .map(|l| l.split(',').nth(col).unwrap().parse().unwrap())
                .collect();
            values.iter().sum::<f64>() / values.len() as f64
        };
        let (m0, sd0) = numeric_shape(0);
        let shift = (mean(&c, 0) - mean(&r, 0)) / sd0;
        assert!((shift - 0.5).abs() < 0.1, "{shift} (mean {m0})");
        let (_, sd5) = numeric_shape(5);
        assert!(((mean(&c, 5) - mean(&r, 5)) / sd5).abs() < 0.1);
    }
}
