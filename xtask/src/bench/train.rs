//! `cargo xtask bench train [--quick]`: cairn's random forest against scikit-learn's on the
//! same seeded data, in the same run.
//!
//! The data is a binary-classification table like scikit-learn's `make_classification`:
//! 200,000 rows (20,000 with `--quick`) of 20 numeric features, of which 5 are informative
//! (two Gaussian clusters per class, centred on vertices of a hypercube, each cluster with its
//! own random covariance), 5 are redundant (random linear combinations of the informative
//! ones) and 10 are noise; 1% of the labels are redrawn at random; rows and features are
//! shuffled. It is written as CSV (header `f0..f19,label`), which both sides read.
//!
//! Both sides train a random forest of 100 trees, max depth 10, on the first 80% of the rows
//! and score the last 20%:
//! - cairn: `crates/cairn-model/examples/train_bench.rs`, built in release mode in its own
//!   target directory (`$XTASK_RELEASE_TARGET_DIR`, default `~/.cache/cairn-target-rel`);
//! - scikit-learn: `RandomForestClassifier(n_estimators=100, max_depth=10, n_jobs=-1,
//!   random_state=0)` in a virtual environment at `<target>/bench-venv`, created (and
//!   scikit-learn installed from PyPI) when missing. When that fails, the figures the issue
//!   quotes are shown instead, marked "quoted".

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{SEED, finish, load_average, machine_info, machine_line, source_info};
use crate::rng::Rng;
use crate::util::{Context, Result, describe, fmt_bytes, fmt_count, target_dir};

/// The data's seed: another stream than the other benches'.
const DATA_SEED: u64 = SEED ^ 0x7EA1_F0E5;
const FEATURES: usize = 20;
const INFORMATIVE: usize = 5;
const REDUNDANT: usize = 5;
const CLUSTERS_PER_CLASS: usize = 2;
const FLIP: f64 = 0.01;
const CSV: &str = "train.csv";

/// scikit-learn 1.9 on this machine, as the issue quotes it (on its own `make_classification`
/// data, not this bench's).
const QUOTED_FIT_CPU: f64 = 58.0;
const QUOTED_FIT_WALL: (f64, f64) = (30.0, 35.0);
const QUOTED_ACCURACY: f64 = 0.953;
const QUOTED_ROC_AUC: f64 = 0.988;

const TARGET_LATENCY_US: f64 = 50.0;
const TARGET_BATCH_S: f64 = 1.0;
const TARGET_ACCURACY_GAP: f64 = 0.005;

const SKLEARN_SCRIPT: &str = r#"
import json, pickle, sys, time

import numpy as np
import sklearn
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, roc_auc_score

data = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1)
X, y = data[:, :-1], data[:, -1].astype(np.int64)
n_train = len(y) * 8 // 10
clf = RandomForestClassifier(n_estimators=100, max_depth=10, n_jobs=-1, random_state=0)
wall, cpu = time.perf_counter(), time.process_time()
clf.fit(X[:n_train], y[:n_train])
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu

X_test, y_test = X[n_train:], y[n_train:]
proba = clf.predict_proba(X_test)
accuracy = accuracy_score(y_test, clf.classes_[proba.argmax(axis=1)])
roc_auc = roc_auc_score(y_test, proba[:, 1])

latencies = []
for i in range(200):
    row = X_test[i : i + 1]
    start = time.perf_counter()
    clf.predict_proba(row)
    latencies.append(time.perf_counter() - start)
latencies.sort()

batch = X[:100_000]
start = time.perf_counter()
clf.predict_proba(batch)
batch_s = time.perf_counter() - start

print(json.dumps({
    "sklearn_version": sklearn.__version__,
    "fit_wall_s": wall,
    "fit_cpu_s": cpu,
    "accuracy": accuracy,
    "roc_auc": roc_auc,
    "predict_one_median_us": latencies[len(latencies) // 2] * 1e6,
    "batch_rows": len(batch),
    "batch_s": batch_s,
    "pickle_bytes": len(pickle.dumps(clf)),
}))
"#;

pub(super) fn run(quick: bool) -> Result<()> {
    let rows: usize = if quick { 20_000 } else { 200_000 };
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
    let machine = machine_info(tmp.path());
    println!("\nmachine: {}", machine_line(&machine));
    let source = source_info();
    println!("working in {}", tmp.path().display());
    if let Some(load) = load_average().filter(|load| *load > 0.5) {
        println!(
            "note: the load average is {load:.2}: other work on this machine's cores will skew \
             the timings"
        );
    }
    if quick {
        println!("quick run: 20,000 rows; the targets are for the full run of 200,000");
    }

    let example = super::build_release_example("cairn-model", "train_bench")?;

    let csv = tmp.path().join(CSV);
    let started = Instant::now();
    let (bytes, positives) = generate(&csv, rows)?;
    println!(
        "generated {CSV}: {} rows x {FEATURES} features ({INFORMATIVE} informative, {REDUNDANT} \
         redundant), {:.1}% positive, {} in {:.1} s",
        fmt_count(rows as u64),
        100.0 * positives as f64 / rows as f64,
        fmt_bytes(bytes),
        started.elapsed().as_secs_f64()
    );

    println!("\nfitting cairn's forest (100 trees, max depth 10, sqrt features)...");
    let cairn_json = tmp.path().join("cairn.json");
    let cairn = run_json(
        "train_bench",
        Command::new(&example).arg(&csv).arg(&cairn_json),
        &cairn_json,
    )?;
    println!(
        "  fit {:.2} s wall, {:.2} s CPU; accuracy {:.4}",
        num(&cairn.doc, "fit_wall_s"),
        num(&cairn.doc, "fit_cpu_s"),
        num(&cairn.doc, "accuracy")
    );

    println!("fitting scikit-learn's RandomForestClassifier(n_jobs=-1)...");
    let sklearn = match venv_python(&target) {
        Ok(python) => {
            let script = tmp.path().join("sklearn_bench.py");
            std::fs::write(&script, SKLEARN_SCRIPT)
                .context(|| format!("cannot write {}", script.display()))?;
            let measured = run_json(
                "scikit-learn",
                Command::new(&python).arg(&script).arg(&csv),
                &tmp.path().join("sklearn.json"),
            )?;
            println!(
                "  fit {:.2} s wall, {:.2} s CPU; accuracy {:.4} (scikit-learn {})",
                num(&measured.doc, "fit_wall_s"),
                num(&measured.doc, "fit_cpu_s"),
                num(&measured.doc, "accuracy"),
                measured.doc["sklearn_version"].as_str().unwrap_or("?")
            );
            Some(measured)
        }
        Err(err) => {
            println!(
                "  scikit-learn is not available ({}); showing the figures the issue quotes \
                 instead (\"quoted\", measured on other data)",
                err.message
            );
            None
        }
    };

    let rows_out = verdicts(&cairn, sklearn.as_ref());
    println!();
    print_rows(&rows_out);
    let judged: Vec<bool> = rows_out.iter().filter_map(|row| row.pass).collect();
    println!(
        "\ntargets met: {} of {}",
        judged.iter().filter(|pass| **pass).count(),
        judged.len()
    );

    let document = json!({
        "kind": "bench-train",
        "schema_version": 1,
        "quick": quick,
        "machine": machine,
        "source": source,
        "data": {
            "seed": DATA_SEED,
            "rows": rows,
            "features": FEATURES,
            "informative": INFORMATIVE,
            "redundant": REDUNDANT,
            "clusters_per_class": CLUSTERS_PER_CLASS,
            "flip_y": FLIP,
            "csv_bytes": bytes,
            "positives": positives,
        },
        "cairn": with_usage(&cairn),
        "sklearn": sklearn.as_ref().map(with_usage),
        "sklearn_quoted": {
            "fit_cpu_s": QUOTED_FIT_CPU,
            "fit_wall_s": [QUOTED_FIT_WALL.0, QUOTED_FIT_WALL.1],
            "accuracy": QUOTED_ACCURACY,
            "roc_auc": QUOTED_ROC_AUC,
        },
        "checks": rows_out.iter().map(Row::json).collect::<Vec<_>>(),
        // `runs list` over 10,000 runs: the issue's last training figure.
        "runs": super::runs::run()?,
    });
    finish(tmp, document, &target.join("bench-train.json"))
}

/// The virtual environment's python with scikit-learn importable: made (and scikit-learn
/// installed) when missing.
fn venv_python(target: &Path) -> Result<PathBuf> {
    let venv = target.join("bench-venv");
    let python = venv.join("bin").join("python");
    let importable = |python: &Path| {
        Command::new(python)
            .args(["-c", "import sklearn, numpy"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    };
    if python.is_file() && importable(&python) {
        return Ok(python);
    }
    println!("  creating {} and installing scikit-learn", venv.display());
    let status = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .context(|| "cannot run `python3 -m venv`".to_owned())?;
    if !status.success() {
        return Err(format!("`python3 -m venv` failed ({})", describe(status)).into());
    }
    let status = Command::new(venv.join("bin").join("pip"))
        .args(["install", "--quiet", "scikit-learn"])
        .status()
        .context(|| "cannot run pip".to_owned())?;
    if !status.success() || !importable(&python) {
        return Err(format!("`pip install scikit-learn` failed ({})", describe(status)).into());
    }
    Ok(python)
}

/// What a side printed, and its process's resource usage.
struct Measured {
    doc: Value,
    wall: Duration,
    cpu: Duration,
    maxrss: u64,
}

fn with_usage(measured: &Measured) -> Value {
    json!({
        "figures": measured.doc,
        "process_wall_s": measured.wall.as_secs_f64(),
        "process_cpu_s": measured.cpu.as_secs_f64(),
        "process_max_rss_bytes": measured.maxrss,
    })
}

/// Runs a command whose stdout is one JSON document (kept in `out`); its stderr is shown.
fn run_json(shown: &str, cmd: &mut Command, out: &Path) -> Result<Measured> {
    let file = File::create(out).context(|| format!("cannot create {}", out.display()))?;
    cmd.stdin(Stdio::null())
        .stdout(file)
        .stderr(Stdio::inherit());
    let start = Instant::now();
    let child = cmd.spawn().context(|| format!("cannot run {shown}"))?;
    let (status, maxrss, cpu, _) =
        super::wait_with_rusage(child).context(|| format!("waiting for {shown}"))?;
    let wall = start.elapsed();
    if !status.success() {
        return Err(format!("{shown} failed ({})", describe(status)).into());
    }
    let text = std::fs::read_to_string(out).context(|| format!("cannot read {}", out.display()))?;
    let doc = serde_json::from_str(text.trim())
        .context(|| format!("{shown} printed no JSON document: {}", text.trim()))?;
    Ok(Measured {
        doc,
        wall,
        cpu,
        maxrss,
    })
}

fn num(doc: &Value, key: &str) -> f64 {
    doc[key].as_f64().unwrap_or(f64::NAN)
}

/// One line of the table: a figure, cairn's value, scikit-learn's, the target and whether it
/// is met (`None`: no target).
struct Row {
    id: &'static str,
    figure: String,
    cairn: String,
    sklearn: String,
    target: String,
    pass: Option<bool>,
}

impl Row {
    fn json(&self) -> Value {
        json!({
            "id": self.id,
            "figure": self.figure,
            "cairn": self.cairn,
            "sklearn": self.sklearn,
            "target": self.target,
            "pass": self.pass,
        })
    }
}

fn verdicts(cairn: &Measured, sklearn: Option<&Measured>) -> Vec<Row> {
    let c = &cairn.doc;
    let s = sklearn.map(|m| &m.doc);
    let measured = |key: &str, show: &dyn Fn(f64) -> String| {
        s.map_or_else(|| "not measured".to_owned(), |doc| show(num(doc, key)))
    };
    let secs = |v: f64| format!("{v:.2} s");
    let micros = |v: f64| {
        if v >= 1000.0 {
            format!("{:.1} ms", v / 1000.0)
        } else {
            format!("{v:.1} µs")
        }
    };

    let fit_wall = num(c, "fit_wall_s");
    let (fit_reference, fit_pass) = match s {
        Some(doc) => (
            secs(num(doc, "fit_wall_s")),
            fit_wall <= num(doc, "fit_wall_s"),
        ),
        None => (
            format!(
                "{:.0}–{:.0} s (quoted)",
                QUOTED_FIT_WALL.0, QUOTED_FIT_WALL.1
            ),
            fit_wall <= QUOTED_FIT_WALL.0,
        ),
    };
    let accuracy = num(c, "accuracy");
    let (accuracy_reference, accuracy_pass) = match s {
        Some(doc) => (
            format!("{:.4}", num(doc, "accuracy")),
            Some((accuracy - num(doc, "accuracy")).abs() <= TARGET_ACCURACY_GAP),
        ),
        None => (format!("{QUOTED_ACCURACY} (quoted, other data)"), None),
    };
    let latency = num(c, "predict_one_median_us");
    let batch = num(c, "batch_median_s");
    let batch_rows = c["batch_rows"].as_u64().unwrap_or(0);
    vec![
        Row {
            id: "fit_wall",
            figure: format!("fit wall time ({} threads)", c["threads"]),
            cairn: secs(fit_wall),
            sklearn: fit_reference,
            target: "<= scikit-learn".to_owned(),
            pass: Some(fit_pass),
        },
        Row {
            id: "fit_cpu",
            figure: "fit CPU time".to_owned(),
            cairn: secs(num(c, "fit_cpu_s")),
            sklearn: s.map_or_else(
                || format!("{QUOTED_FIT_CPU:.0} s (quoted)"),
                |doc| secs(num(doc, "fit_cpu_s")),
            ),
            target: "-".to_owned(),
            pass: None,
        },
        Row {
            id: "accuracy",
            figure: "accuracy, last 20%".to_owned(),
            cairn: format!("{accuracy:.4}"),
            sklearn: accuracy_reference,
            target: format!("within {TARGET_ACCURACY_GAP} of scikit-learn"),
            pass: accuracy_pass,
        },
        Row {
            id: "roc_auc",
            figure: "ROC-AUC, last 20%".to_owned(),
            cairn: format!("{:.4}", num(c, "roc_auc")),
            sklearn: s.map_or_else(
                || format!("{QUOTED_ROC_AUC} (quoted, other data)"),
                |doc| format!("{:.4}", num(doc, "roc_auc")),
            ),
            target: "-".to_owned(),
            pass: None,
        },
        Row {
            id: "predict_one",
            figure: "predict_proba, 1 row (median)".to_owned(),
            cairn: format!(
                "{} (p99 {})",
                micros(latency),
                micros(num(c, "predict_one_p99_us"))
            ),
            sklearn: measured("predict_one_median_us", &micros),
            target: format!("< {TARGET_LATENCY_US:.0} µs"),
            pass: Some(latency < TARGET_LATENCY_US),
        },
        Row {
            id: "batch",
            figure: format!("predict_proba, {} rows", fmt_count(batch_rows)),
            cairn: secs(batch),
            sklearn: measured("batch_s", &secs),
            target: format!("< {TARGET_BATCH_S:.0} s"),
            pass: Some(batch < TARGET_BATCH_S),
        },
        Row {
            id: "model_bytes",
            figure: "serialized model".to_owned(),
            cairn: format!(
                "{} postcard",
                fmt_bytes(c["serialized_bytes"].as_u64().unwrap_or(0))
            ),
            sklearn: s.map_or_else(
                || "not measured".to_owned(),
                |doc| {
                    format!(
                        "{} pickle",
                        fmt_bytes(doc["pickle_bytes"].as_u64().unwrap_or(0))
                    )
                },
            ),
            target: "-".to_owned(),
            pass: None,
        },
        Row {
            id: "peak_rss",
            figure: "peak RSS of the process".to_owned(),
            cairn: fmt_bytes(cairn.maxrss),
            sklearn: sklearn.map_or_else(|| "not measured".to_owned(), |m| fmt_bytes(m.maxrss)),
            target: "-".to_owned(),
            pass: None,
        },
    ]
}

fn print_rows(rows: &[Row]) {
    let header = ["figure", "cairn", "scikit-learn", "target", "result"];
    let cells: Vec<[String; 5]> = rows
        .iter()
        .map(|row| {
            [
                row.figure.clone(),
                row.cairn.clone(),
                row.sklearn.clone(),
                row.target.clone(),
                match row.pass {
                    Some(true) => "✓".to_owned(),
                    Some(false) => "✗".to_owned(),
                    None => "-".to_owned(),
                },
            ]
        })
        .collect();
    super::print_columns(header, &cells);
}

/// Writes the seeded table to `path`; returns its size in bytes and the number of positive
/// labels. Like scikit-learn's `make_classification` with `n_informative=5, n_redundant=5,
/// n_clusters_per_class=2, class_sep=1, flip_y=0.01`.
fn generate(path: &Path, rows: usize) -> Result<(u64, usize)> {
    let mut rng = Rng::new(DATA_SEED);
    let mut normal = Normal::default();
    let clusters = 2 * CLUSTERS_PER_CLASS;
    // Distinct hypercube vertices with coordinates ±1, one per cluster.
    let mut vertices: Vec<u64> = Vec::new();
    while vertices.len() < clusters {
        let v = rng.below(1 << INFORMATIVE);
        if !vertices.contains(&v) {
            vertices.push(v);
        }
    }
    let centroids: Vec<[f64; INFORMATIVE]> = vertices
        .iter()
        .map(|v| std::array::from_fn(|j| if v >> j & 1 == 1 { 1.0 } else { -1.0 }))
        .collect();
    let uniform_matrix = |rng: &mut Rng| -> [[f64; INFORMATIVE]; INFORMATIVE] {
        std::array::from_fn(|_| std::array::from_fn(|_| 2.0 * rng.unit() - 1.0))
    };
    // Each cluster's covariance, then the redundant features' mixing matrix.
    let covariances: Vec<_> = (0..clusters).map(|_| uniform_matrix(&mut rng)).collect();
    let mixing = uniform_matrix(&mut rng);
    // Which column each generated feature lands in (scikit-learn shuffles features too).
    let mut columns: Vec<usize> = (0..FEATURES).collect();
    for i in (1..FEATURES).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        columns.swap(i, j);
    }
    // Clusters take equal shares of the rows; then the rows are shuffled.
    let mut order: Vec<usize> = (0..rows).map(|i| i * clusters / rows).collect();
    for i in (1..rows).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        order.swap(i, j);
    }

    let file = File::create(path).context(|| format!("cannot create {}", path.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let header: Vec<String> = (0..FEATURES).map(|j| format!("f{j}")).collect();
    let mut text = format!("{},label\n", header.join(","));
    let mut positives = 0;
    let mut row = [0.0f64; FEATURES];
    for &cluster in &order {
        let z: [f64; INFORMATIVE] = std::array::from_fn(|_| normal.sample(&mut rng));
        let a = &covariances[cluster];
        let informative: [f64; INFORMATIVE] = std::array::from_fn(|j| {
            centroids[cluster][j] + (0..INFORMATIVE).map(|k| z[k] * a[k][j]).sum::<f64>()
        });
        for j in 0..FEATURES {
            let value = if j < INFORMATIVE {
                informative[j]
            } else if j < INFORMATIVE + REDUNDANT {
                let r = j - INFORMATIVE;
                (0..INFORMATIVE)
                    .map(|k| informative[k] * mixing[k][r])
                    .sum()
            } else {
                normal.sample(&mut rng)
            };
            row[columns[j]] = value;
        }
        let mut label = cluster % 2;
        if rng.unit() < FLIP {
            label = rng.below(2) as usize;
        }
        positives += label;
        for value in &row {
            let _ = write!(text, "{value:.6},");
        }
        text.push_str(if label == 1 { "1\n" } else { "0\n" });
        if text.len() > 1 << 20 {
            out.write_all(text.as_bytes())
                .context(|| format!("cannot write {}", path.display()))?;
            text.clear();
        }
    }
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context(|| format!("cannot write {}", path.display()))?;
    let bytes = std::fs::metadata(path)
        .context(|| format!("cannot stat {}", path.display()))?
        .len();
    Ok((bytes, positives))
}

/// Standard normal values by the Box–Muller transform (two per pair of uniforms).
#[derive(Default)]
struct Normal {
    spare: Option<f64>,
}

impl Normal {
    fn sample(&mut self, rng: &mut Rng) -> f64 {
        if let Some(spare) = self.spare.take() {
            return spare;
        }
        let u = 1.0 - rng.unit(); // in (0, 1]
        let v = rng.unit();
        let radius = (-2.0 * u.ln()).sqrt();
        let angle = std::f64::consts::TAU * v;
        self.spare = Some(radius * angle.sin());
        radius * angle.cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_values_have_unit_variance() {
        let mut rng = Rng::new(1);
        let mut normal = Normal::default();
        let n = 20_000;
        let values: Vec<f64> = (0..n).map(|_| normal.sample(&mut rng)).collect();
        let mean = values.iter().sum::<f64>() / n as f64;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.03, "{mean}");
        assert!((var - 1.0).abs() < 0.05, "{var}");
    }

    #[test]
    fn the_table_is_seeded_and_balanced() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
        let (bytes, positives) = generate(&a, 2000).unwrap();
        assert_eq!(generate(&b, 2000).unwrap(), (bytes, positives));
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        assert!((900..1100).contains(&positives), "{positives}");
        let text = std::fs::read_to_string(&a).unwrap();
        assert_eq!(text.lines().count(), 2001);
        assert!(text.starts_with("f0,f1,"));
        assert!(
            text.lines()
                .skip(1)
                .all(|line| line.split(',').count() == FEATURES + 1)
        );
    }
}
