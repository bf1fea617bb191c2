//! The gradient-boosting part of `cargo xtask bench train`: cairn's booster against LightGBM
//! and XGBoost on the same table and split, in the same run.
//!
//! cairn: `train_bench DATA OUT --algorithm gbm --iterations N --leaves L` at 100 × 31 and
//! 500 × 63 (learning rate 0.1, LightGBM's other defaults). The peers: `xtask/peers/boosting.py`
//! (which documents its settings), run by `$XTASK_PYTHON` when set, else by
//! `<target dir>/bench-venv/bin/python` when LightGBM or XGBoost imports there; otherwise
//! every comparison with them is "not measured" and the command to install them is printed.
//! The verdicts are issue 19's: accuracy at least LightGBM's and ROC-AUC within 0.002 of it at
//! both sizes, fit time at most LightGBM's (2 threads; each side fits [`FITS`] times, and
//! the median fit's figures are compared), one-row predict under 10 µs, 100,000
//! rows scored under 0.2 s, and the artifact under 5 MB at 500 × 63.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use super::{Measured, num, run_json, with_usage};
use crate::util::{Result, fmt_bytes};

/// The sizes measured: iterations × leaves.
const SIZES: [(usize, usize); 2] = [(100, 31), (500, 63)];
/// Fits per size and side: the fit figures are the median fit's, since one fit on a shared
/// machine can be off by 10% either way.
const FITS: usize = 3;
const TARGET_AUC_GAP: f64 = 0.002;
const TARGET_LATENCY_US: f64 = 10.0;
const TARGET_BATCH_S: f64 = 0.2;
const TARGET_ARTIFACT_BYTES: u64 = 5_000_000;
const SCRIPT: &str = include_str!("../../../peers/boosting.py");
const INSTALL: &str = "python3 -m venv <target dir>/bench-venv && <target dir>/bench-venv/bin/pip \
                       install numpy scikit-learn lightgbm xgboost-cpu (or set XTASK_PYTHON)";

/// Runs both sizes on both sides, prints the side-by-side table and returns the run's JSON
/// part (figures and checks).
pub(super) fn run(example: &Path, csv: &Path, dir: &Path, target: &Path) -> Result<Value> {
    let mut cairn = Vec::new();
    for (iterations, leaves) in SIZES {
        println!(
            "fitting cairn's gradient boosting ({iterations} iterations x {leaves} leaves, \
             {FITS} times)..."
        );
        let out = dir.join(format!("cairn-gbm-{iterations}x{leaves}.json"));
        let mut fits = Vec::with_capacity(FITS);
        for _ in 0..FITS {
            fits.push(run_json(
                "train_bench --algorithm gbm",
                Command::new(example)
                    .arg(csv)
                    .arg(&out)
                    .args(["--algorithm", "gbm", "--iterations"])
                    .arg(iterations.to_string())
                    .arg("--leaves")
                    .arg(leaves.to_string()),
                &out,
            )?);
        }
        let (measured, walls) = median_fit(fits);
        let walls: Vec<String> = walls.iter().map(|w| format!("{w:.2} s")).collect();
        println!(
            "  fit {:.2} s wall (median; all: {}), {:.2} s CPU; accuracy {:.5}",
            num(&measured.doc, "fit_wall_s"),
            walls.join(", "),
            num(&measured.doc, "fit_cpu_s"),
            num(&measured.doc, "accuracy")
        );
        cairn.push(measured);
    }

    println!("fitting LightGBM and XGBoost (n_jobs=2) at the same sizes...");
    let peers = match python(target) {
        Ok(python) => {
            let script = dir.join("boosting.py");
            write_file(&script, SCRIPT)?;
            let sizes: Vec<String> = SIZES.iter().map(|(i, l)| format!("{i}x{l}")).collect();
            let measured = run_json(
                "xtask/peers/boosting.py",
                Command::new(&python).arg(&script).arg(csv).args(&sizes),
                &dir.join("boosting.json"),
            )?;
            let versions = &measured.doc["versions"];
            println!(
                "  LightGBM {}, XGBoost {}",
                versions["lightgbm"].as_str().unwrap_or("not installed"),
                versions["xgboost"].as_str().unwrap_or("not installed")
            );
            Some(measured)
        }
        Err(err) => {
            println!(
                "  not measured ({}); to measure them: {INSTALL}",
                err.message
            );
            None
        }
    };

    let rows = rows(&cairn, peers.as_ref());
    println!();
    let header = ["figure", "cairn", "LightGBM", "XGBoost", "target", "result"];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|row| {
            [
                row.figure.clone(),
                row.cells[0].clone(),
                row.cells[1].clone(),
                row.cells[2].clone(),
                row.target.clone(),
                match row.verdict() {
                    "met" => "✓".to_owned(),
                    "not met" => "✗".to_owned(),
                    other => other.to_owned(),
                },
            ]
        })
        .collect();
    super::super::print_columns(header, &cells);
    println!(
        "(LightGBM and XGBoost from Python with n_jobs=2; their one-row figure includes \
         Python's call overhead. Artifacts: cairn's postcard bytes, LightGBM's text model, \
         XGBoost's UBJSON.)"
    );

    Ok(json!({
        "cairn": cairn
            .iter()
            .zip(SIZES)
            .map(|(m, (iterations, leaves))| json!({
                "iterations": iterations,
                "leaves": leaves,
                "run": with_usage(m),
            }))
            .collect::<Vec<_>>(),
        "peers": peers.as_ref().map(with_usage),
        "checks": rows.iter().map(Row::json).collect::<Vec<_>>(),
    }))
}

/// Of several runs of one fit, the run whose fit wall time is the median, with every run's
/// fit wall time added to its figures as `fit_wall_samples_s` (in the order they ran) and
/// their number as `fits`; and those wall times.
fn median_fit(mut fits: Vec<Measured>) -> (Measured, Vec<f64>) {
    let walls: Vec<f64> = fits.iter().map(|m| num(&m.doc, "fit_wall_s")).collect();
    let count = fits.len();
    fits.sort_by(|a, b| num(&a.doc, "fit_wall_s").total_cmp(&num(&b.doc, "fit_wall_s")));
    let mut median = fits.swap_remove(count / 2);
    median.doc["fit_wall_samples_s"] = json!(walls);
    median.doc["fits"] = json!(count);
    (median, walls)
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    use crate::util::Context;
    std::fs::write(path, text).context(|| format!("cannot write {}", path.display()))
}

/// `$XTASK_PYTHON`, else the bench's virtual environment, if numpy, scikit-learn and LightGBM
/// or XGBoost import there.
fn python(target: &Path) -> Result<PathBuf> {
    let (python, from) = match std::env::var_os("XTASK_PYTHON") {
        Some(python) => (PathBuf::from(python), "XTASK_PYTHON"),
        None => (
            target.join("bench-venv").join("bin").join("python"),
            "the bench's virtual environment",
        ),
    };
    let imports = |modules: &str| {
        Command::new(&python)
            .args(["-c", &format!("import {modules}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    };
    if !imports("numpy, sklearn") {
        return Err(format!(
            "{} ({from}) cannot import numpy and scikit-learn",
            python.display()
        )
        .into());
    }
    if !imports("lightgbm") && !imports("xgboost") {
        return Err(format!(
            "{} ({from}) has neither LightGBM nor XGBoost",
            python.display()
        )
        .into());
    }
    Ok(python)
}

/// One line of the table: cairn's, LightGBM's and XGBoost's figure, the target and whether
/// it is met (`None`: no target, or a side did not measure it).
struct Row {
    id: String,
    figure: String,
    cells: [String; 3],
    target: String,
    pass: Option<bool>,
}

impl Row {
    fn verdict(&self) -> &'static str {
        match self.pass {
            Some(true) => "met",
            Some(false) => "not met",
            None if self.target == "-" => "-",
            None => "not measured",
        }
    }

    fn json(&self) -> Value {
        json!({
            "id": self.id,
            "figure": self.figure,
            "cairn": self.cells[0],
            "lightgbm": self.cells[1],
            "xgboost": self.cells[2],
            "target": self.target,
            "pass": self.pass,
            "verdict": match self.verdict() { "-" => "no target", v => v },
        })
    }
}

fn rows(cairn: &[Measured], peers: Option<&Measured>) -> Vec<Row> {
    let mut rows = Vec::new();
    for (s, ((iterations, leaves), c)) in SIZES.iter().zip(cairn).enumerate() {
        let c = &c.doc;
        let run = peers.map(|p| &p.doc["runs"][s]);
        let lgb = run.map(|r| &r["lightgbm"]).filter(|v| !v.is_null());
        let xgb = run.map(|r| &r["xgboost"]).filter(|v| !v.is_null());
        let size = format!("{iterations} x {leaves}");
        let cells = |key: &str, f: &dyn Fn(f64) -> String| {
            let show = |doc: Option<&Value>| {
                doc.map_or_else(|| "not measured".to_owned(), |d| f(num(d, key)))
            };
            [f(num(c, key)), show(lgb), show(xgb)]
        };
        let against =
            |key: &str, ok: &dyn Fn(f64, f64) -> bool| lgb.map(|l| ok(num(c, key), num(l, key)));
        let five = |v: f64| format!("{v:.5}");
        let secs = |v: f64| format!("{v:.2} s");
        let secs3 = |v: f64| format!("{v:.3} s");
        let micros = |v: f64| {
            if v >= 1000.0 {
                format!("{:.2} ms", v / 1000.0)
            } else {
                format!("{v:.1} µs")
            }
        };
        let id = |name: &str| format!("gbm_{iterations}x{leaves}_{name}");
        rows.push(Row {
            id: id("accuracy"),
            figure: format!("{size}: accuracy, last 20%"),
            cells: cells("accuracy", &five),
            target: ">= LightGBM".to_owned(),
            pass: against("accuracy", &|a, b| a >= b),
        });
        rows.push(Row {
            id: id("roc_auc"),
            figure: format!("{size}: ROC-AUC"),
            cells: cells("roc_auc", &five),
            target: format!("within {TARGET_AUC_GAP} of LightGBM"),
            pass: against("roc_auc", &|a, b| (a - b).abs() <= TARGET_AUC_GAP),
        });
        rows.push(Row {
            id: id("fit_wall"),
            figure: format!(
                "{size}: fit, wall ({} threads, median of {FITS})",
                c["threads"]
            ),
            cells: cells("fit_wall_s", &secs),
            target: "<= LightGBM".to_owned(),
            pass: against("fit_wall_s", &|a, b| a <= b),
        });
        rows.push(Row {
            id: id("fit_cpu"),
            figure: format!("{size}: fit, CPU (the median fit's)"),
            cells: cells("fit_cpu_s", &secs),
            target: "-".to_owned(),
            pass: None,
        });
        let latency = num(c, "predict_one_median_us");
        rows.push(Row {
            id: id("predict_one"),
            figure: format!("{size}: predict_proba, 1 row (median)"),
            cells: cells("predict_one_median_us", &micros),
            target: format!("< {TARGET_LATENCY_US:.0} µs"),
            pass: Some(latency < TARGET_LATENCY_US),
        });
        let batch = num(c, "batch_median_s");
        rows.push(Row {
            id: id("batch"),
            figure: format!("{size}: predict_proba, {} rows", c["batch_rows"]),
            cells: cells("batch_median_s", &secs3),
            target: format!("< {TARGET_BATCH_S} s"),
            pass: Some(batch < TARGET_BATCH_S),
        });
        let bytes = |doc: &Value, key: &str| fmt_bytes(doc[key].as_u64().unwrap_or(0));
        let artifact = c["serialized_bytes"].as_u64().unwrap_or(u64::MAX);
        let judged = *iterations == 500;
        rows.push(Row {
            id: id("artifact"),
            figure: format!("{size}: model file"),
            cells: [
                bytes(c, "serialized_bytes"),
                lgb.map_or_else(|| "not measured".to_owned(), |d| bytes(d, "model_bytes")),
                xgb.map_or_else(|| "not measured".to_owned(), |d| bytes(d, "model_bytes")),
            ],
            target: if judged {
                format!("< {} MB", TARGET_ARTIFACT_BYTES / 1_000_000)
            } else {
                "-".to_owned()
            },
            pass: judged.then_some(artifact < TARGET_ARTIFACT_BYTES),
        });
    }
    rows
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_median_fit_is_the_middle_wall_time_and_keeps_every_sample() {
        let fit = |wall: f64, accuracy: f64| Measured {
            doc: json!({"fit_wall_s": wall, "accuracy": accuracy}),
            wall: Duration::ZERO,
            cpu: Duration::ZERO,
            maxrss: 0,
        };
        let (median, walls) = median_fit(vec![fit(3.0, 0.3), fit(1.0, 0.1), fit(2.0, 0.2)]);
        assert_eq!(walls, [3.0, 1.0, 2.0]);
        assert_eq!(num(&median.doc, "fit_wall_s"), 2.0);
        assert_eq!(num(&median.doc, "accuracy"), 0.2);
        assert_eq!(median.doc["fit_wall_samples_s"], json!([3.0, 1.0, 2.0]));
        assert_eq!(median.doc["fits"], json!(3));
    }
}
