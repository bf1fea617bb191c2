//! `cargo xtask bench train [--quick]`: cairn's random forest against scikit-learn's, and
//! cairn's gradient boosting against LightGBM and XGBoost (`boosting.rs`), on the same seeded
//! data, in the same run.
//!
//! The data is a binary-classification table like scikit-learn's `make_classification`:
//! 200,000 rows (20,000 with `--quick`) of 20 numeric features, of which 5 are informative
//! (two Gaussian clusters per class, centred on vertices of a hypercube, each cluster with its
//! own random covariance), 5 are redundant (random linear combinations of the informative
//! ones) and 10 are noise; 1% of the labels are redrawn at random; rows and features are
//! shuffled. It is written as CSV (header `f0..f19,label`), which both sides read.
//!
//! Both sides train a random forest of 100 trees, max depth 10, on the first 80% of the rows
//! and score the last 20%, then a logistic regression on the same rows:
//! - cairn: `crates/cairn-model/examples/train_bench.rs` (`train_bench DATA OUT` for the
//!   forest, `train_bench DATA OUT --algorithm logistic` for logistic regression), built in
//!   release mode with the other benches' binaries (`super::release_build`);
//! - scikit-learn: `RandomForestClassifier(n_estimators=100, max_depth=10, n_jobs=-1,
//!   random_state=0)` for the fit and the batch, with `n_jobs=1` for single-row latency (one
//!   request, one thread: `n_jobs=-1` there measures thread dispatch), and
//!   `LogisticRegression()` (lbfgs, C=1, max_iter=100; `n_jobs=1` where the version still
//!   has the parameter, a no-op since 1.8), in a virtual environment at
//!   `<target>/bench-venv`, created (and scikit-learn installed from PyPI) when missing.
//!   Without it every comparison is "not measured".
//!
//! `cairn train` is also timed as a whole process: a project holding the same CSV file and a
//! `random_forest_classifier` spec with the same params (cairn's own random 80/20 split),
//! trained by the release binary; its wall time is shown beside the library's fit time.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod boosting;

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

const TARGET_LATENCY_US: f64 = 50.0;
const TARGET_BATCH_S: f64 = 1.0;
const TARGET_ACCURACY_GAP: f64 = 0.005;

const SKLEARN_SCRIPT: &str = r#"
import json, pickle, sys, time, warnings

import numpy as np
import sklearn
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

data = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1)
X, y = data[:, :-1], data[:, -1].astype(np.int64)
n_train = len(y) * 8 // 10
X_train, y_train = X[:n_train], y[:n_train]
X_test, y_test = X[n_train:], y[n_train:]

def fit(clf):
    wall, cpu = time.perf_counter(), time.process_time()
    clf.fit(X_train, y_train)
    return time.perf_counter() - wall, time.process_time() - cpu

clf = RandomForestClassifier(n_estimators=100, max_depth=10, n_jobs=-1, random_state=0)
wall, cpu = fit(clf)

proba = clf.predict_proba(X_test)
accuracy = accuracy_score(y_test, clf.classes_[proba.argmax(axis=1)])
roc_auc = roc_auc_score(y_test, proba[:, 1])

# One row is one request: one thread answers it.
clf.set_params(n_jobs=1)
latencies = []
for i in range(200):
    row = X_test[i : i + 1]
    start = time.perf_counter()
    clf.predict_proba(row)
    latencies.append(time.perf_counter() - start)
latencies.sort()
clf.set_params(n_jobs=-1)

batch = X[:100_000]
start = time.perf_counter()
clf.predict_proba(batch)
batch_s = time.perf_counter() - start

# n_jobs=1; since scikit-learn 1.8 the parameter has no effect (one thread, and BLAS's own)
# and passing it warns, so it is passed to older versions only.
version = tuple(int(part) for part in sklearn.__version__.split(".")[:2])
n_jobs = {"n_jobs": 1} if version < (1, 8) else {}
logreg = LogisticRegression(solver="lbfgs", C=1.0, max_iter=100, **n_jobs)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    lwall, lcpu = fit(logreg)
lproba = logreg.predict_proba(X_test)
logistic = {
    "fit_wall_s": lwall,
    "fit_cpu_s": lcpu,
    "accuracy": accuracy_score(y_test, logreg.classes_[lproba.argmax(axis=1)]),
    "log_loss": log_loss(y_test, lproba),
    "roc_auc": roc_auc_score(y_test, lproba[:, 1]),
    "n_iter": int(np.max(logreg.n_iter_)),
    "n_jobs": n_jobs.get("n_jobs", "no effect since 1.8"),
    "warnings": [str(w.message) for w in caught],
}

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
    "n_jobs": {"fit": -1, "predict_one": 1, "batch": -1},
    "logistic": logistic,
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

    let built = super::release_build()?;
    let example = &built.train_bench;

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
        Command::new(example).arg(&csv).arg(&cairn_json),
        &cairn_json,
    )?;
    println!(
        "  fit {:.2} s wall, {:.2} s CPU; accuracy {:.4}",
        num(&cairn.doc, "fit_wall_s"),
        num(&cairn.doc, "fit_cpu_s"),
        num(&cairn.doc, "accuracy")
    );

    println!("fitting cairn's logistic regression...");
    let logistic_json = tmp.path().join("cairn-logistic.json");
    let logistic = match run_json(
        "train_bench --algorithm logistic",
        Command::new(example)
            .arg(&csv)
            .arg(&logistic_json)
            .args(["--algorithm", "logistic"]),
        &logistic_json,
    ) {
        Ok(measured) => {
            println!(
                "  fit {:.2} s wall; accuracy {:.4}",
                num(&measured.doc, "fit_wall_s"),
                num(&measured.doc, "accuracy")
            );
            Some(measured)
        }
        Err(err) => {
            println!("  not measured: {}", err.message);
            None
        }
    };

    println!("timing `cairn train` (the same table and forest) as a whole process...");
    let cli = cli_train(&built.cairn, &csv, &tmp.path().join("project"))?;
    println!(
        "  {:.2} s wall ({:.2} s CPU), of which the recorded fit phase {:.2} s; accuracy {:.4}",
        cli.wall.as_secs_f64(),
        cli.cpu.as_secs_f64(),
        cli.doc["phases"]["fit"].as_f64().unwrap_or(f64::NAN),
        cli.doc["metrics"]["accuracy"].as_f64().unwrap_or(f64::NAN)
    );

    println!(
        "fitting scikit-learn's RandomForestClassifier (n_jobs=-1; n_jobs=1 for single rows) \
         and LogisticRegression()..."
    );
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
                "  forest fit {:.2} s wall, {:.2} s CPU; accuracy {:.4}; logistic fit {:.2} s \
                 (scikit-learn {})",
                num(&measured.doc, "fit_wall_s"),
                num(&measured.doc, "fit_cpu_s"),
                num(&measured.doc, "accuracy"),
                num(&measured.doc["logistic"], "fit_wall_s"),
                measured.doc["sklearn_version"].as_str().unwrap_or("?")
            );
            Some(measured)
        }
        Err(err) => {
            println!(
                "  scikit-learn is not available ({}): every comparison with it is not measured",
                err.message
            );
            None
        }
    };

    println!();
    let boosting = boosting::run(example, &csv, tmp.path(), &target)?;

    let rows_out = verdicts(&Sides {
        cairn: &cairn,
        logistic: logistic.as_ref(),
        cli: &cli,
        sklearn: sklearn.as_ref(),
    });
    println!();
    print_rows(&rows_out);
    let count = |verdict: &str| rows_out.iter().filter(|r| r.verdict() == verdict).count();
    let (met, not_met, unmeasured) = (count("met"), count("not met"), count("not measured"));
    print!("\ntargets met: {met} of {}", met + not_met + unmeasured);
    if unmeasured > 0 {
        print!(" ({unmeasured} not measured)");
    }
    println!();
    println!(
        "(scikit-learn: forest fit and batch with n_jobs=-1 (both cores), single-row latency \
         with n_jobs=1; LogisticRegression() with lbfgs, C=1, max_iter=100 (n_jobs=1, which \
         has no effect since scikit-learn 1.8: one thread, and BLAS's). \
         `cairn train` splits its own random 20% for the test rows; the library figures use \
         the last 20%.)"
    );

    let document = json!({
        "kind": "bench-train",
        "schema_version": 3,
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
        "cairn_logistic": logistic.as_ref().map(with_usage),
        "cairn_train_process": with_usage(&cli),
        "sklearn": sklearn.as_ref().map(with_usage),
        "checks": rows_out.iter().map(Row::json).collect::<Vec<_>>(),
        "boosting": boosting,
        // `runs list` over 10,000 runs: the issue's last training figure.
        "runs": super::runs::run()?,
    });
    finish(tmp, document, &target.join("bench-train.json"))
}

/// The model spec of the whole-process run: the library bench's forest, declared in
/// cairn.toml (`max_depth` counts as in scikit-learn, as in `train_bench`).
const CLI_SPEC: &str = r#"
[model.forest]
data = "train.csv"
target = "label"
algorithm = "random_forest_classifier"
params = { n_trees = 100, max_depth = 10, max_features = "sqrt", bootstrap = true }
split = { test_size = 0.2 }
"#;

/// `cairn -q --json train forest` in a new git repository and cairn project at `dir` that
/// tracks a copy of `csv`, timed as a whole process (start-up, checking the data against the
/// lock, reading it, fitting, evaluating, storing the model and recording the run).
fn cli_train(cairn: &Path, csv: &Path, dir: &Path) -> Result<Measured> {
    std::fs::create_dir_all(dir).context(|| format!("cannot create {}", dir.display()))?;
    let step = |shown: &str, cmd: &mut Command| -> Result<()> {
        let out = cmd
            .current_dir(dir)
            .stdin(Stdio::null())
            .output()
            .context(|| format!("cannot run {shown}"))?;
        if !out.status.success() {
            return Err(format!(
                "{shown} failed ({}): {}",
                describe(out.status),
                String::from_utf8_lossy(&out.stderr).trim()
            )
            .into());
        }
        Ok(())
    };
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
    step("git init", &mut git(&["init", "-q", "-b", "main"]))?;
    step("cairn init", Command::new(cairn).args(["-q", "init"]))?;
    std::fs::copy(csv, dir.join(CSV)).context(|| format!("cannot copy {}", csv.display()))?;
    let config = dir.join("cairn.toml");
    let mut text =
        std::fs::read_to_string(&config).context(|| format!("cannot read {}", config.display()))?;
    text.push_str(CLI_SPEC);
    std::fs::write(&config, text).context(|| format!("cannot write {}", config.display()))?;
    step(
        "cairn data add",
        Command::new(cairn).args(["-q", "data", "add", CSV]),
    )?;
    step("git add", &mut git(&["add", "-A"]))?;
    step("git commit", &mut git(&["commit", "-q", "-m", "bench"]))?;
    // The copy's writeback is not the run's to pay.
    super::sync();
    let out = dir.join("..").join("cairn-train.json");
    run_json(
        "cairn train",
        Command::new(cairn)
            .args(["-q", "--json", "train", "forest"])
            .current_dir(dir),
        &out,
    )
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
            "verdict": self.verdict(),
        })
    }

    /// "met", "not met", "not measured" (a target, but a side did not measure the figure in
    /// this run) or "no target".
    fn verdict(&self) -> &'static str {
        match self.pass {
            Some(true) => "met",
            Some(false) => "not met",
            None if self.target == "-" => "no target",
            None => "not measured",
        }
    }
}

/// What each side measured in this run.
struct Sides<'a> {
    cairn: &'a Measured,
    /// `train_bench --algorithm logistic`, if it ran.
    logistic: Option<&'a Measured>,
    /// `cairn --json train forest`, the whole process.
    cli: &'a Measured,
    sklearn: Option<&'a Measured>,
}

fn verdicts(sides: &Sides) -> Vec<Row> {
    let c = &sides.cairn.doc;
    let s = sides.sklearn.map(|m| &m.doc);
    let sl = s.map(|doc| &doc["logistic"]);
    let l = sides.logistic.map(|m| &m.doc);
    let not_measured = || "not measured".to_owned();
    let show = |doc: Option<&Value>, key: &str, f: &dyn Fn(f64) -> String| {
        doc.map_or_else(not_measured, |doc| f(num(doc, key)))
    };
    let secs = |v: f64| format!("{v:.2} s");
    let four = |v: f64| format!("{v:.4}");
    let micros = |v: f64| {
        if v >= 1000.0 {
            format!("{:.1} ms", v / 1000.0)
        } else {
            format!("{v:.1} µs")
        }
    };
    // A comparison is judged only when both sides measured it in this run.
    let both = |a: Option<&Value>, b: Option<&Value>, key: &str, ok: &dyn Fn(f64, f64) -> bool| {
        a.zip(b).map(|(a, b)| ok(num(a, key), num(b, key)))
    };
    let faster = |a: f64, b: f64| a <= b;
    let close = |a: f64, b: f64| (a - b).abs() <= TARGET_ACCURACY_GAP;

    let latency = num(c, "predict_one_median_us");
    let batch = num(c, "batch_median_s");
    let batch_rows = c["batch_rows"].as_u64().unwrap_or(0);
    let cli = &sides.cli.doc;
    vec![
        Row {
            id: "fit_wall",
            figure: format!("forest fit, wall time ({} threads)", c["threads"]),
            cairn: secs(num(c, "fit_wall_s")),
            sklearn: show(s, "fit_wall_s", &secs),
            target: "<= scikit-learn".to_owned(),
            pass: both(Some(c), s, "fit_wall_s", &faster),
        },
        Row {
            id: "fit_cpu",
            figure: "forest fit, CPU time".to_owned(),
            cairn: secs(num(c, "fit_cpu_s")),
            sklearn: show(s, "fit_cpu_s", &secs),
            target: "-".to_owned(),
            pass: None,
        },
        Row {
            id: "cli_train",
            figure: "`cairn train`, whole process".to_owned(),
            cairn: format!(
                "{} (fit phase {}, library fit {})",
                secs(sides.cli.wall.as_secs_f64()),
                secs(cli["phases"]["fit"].as_f64().unwrap_or(f64::NAN)),
                secs(num(c, "fit_wall_s"))
            ),
            sklearn: "-".to_owned(),
            target: "-".to_owned(),
            pass: None,
        },
        Row {
            id: "accuracy",
            figure: "forest accuracy, last 20%".to_owned(),
            cairn: four(num(c, "accuracy")),
            sklearn: show(s, "accuracy", &four),
            target: format!("within {TARGET_ACCURACY_GAP} of scikit-learn"),
            pass: both(Some(c), s, "accuracy", &close),
        },
        Row {
            id: "roc_auc",
            figure: "forest ROC-AUC, last 20%".to_owned(),
            cairn: four(num(c, "roc_auc")),
            sklearn: show(s, "roc_auc", &four),
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
            sklearn: show(s, "predict_one_median_us", &micros),
            target: format!("< {TARGET_LATENCY_US:.0} µs"),
            pass: Some(latency < TARGET_LATENCY_US),
        },
        Row {
            id: "batch",
            figure: format!("predict_proba, {} rows", fmt_count(batch_rows)),
            cairn: secs(batch),
            sklearn: show(s, "batch_s", &secs),
            target: format!("< {TARGET_BATCH_S:.0} s"),
            pass: Some(batch < TARGET_BATCH_S),
        },
        Row {
            id: "model_bytes",
            figure: "serialized forest".to_owned(),
            cairn: format!(
                "{} postcard",
                fmt_bytes(c["serialized_bytes"].as_u64().unwrap_or(0))
            ),
            sklearn: s.map_or_else(not_measured, |doc| {
                format!(
                    "{} pickle",
                    fmt_bytes(doc["pickle_bytes"].as_u64().unwrap_or(0))
                )
            }),
            target: "-".to_owned(),
            pass: None,
        },
        Row {
            id: "peak_rss",
            figure: "peak RSS of the process".to_owned(),
            cairn: fmt_bytes(sides.cairn.maxrss),
            sklearn: sides
                .sklearn
                .map_or_else(not_measured, |m| fmt_bytes(m.maxrss)),
            target: "-".to_owned(),
            pass: None,
        },
        Row {
            id: "logistic_fit_wall",
            figure: "logistic regression fit, wall time".to_owned(),
            cairn: show(l, "fit_wall_s", &secs),
            sklearn: show(sl, "fit_wall_s", &secs),
            target: "<= scikit-learn".to_owned(),
            pass: both(l, sl, "fit_wall_s", &faster),
        },
        Row {
            id: "logistic_accuracy",
            figure: "logistic accuracy, last 20%".to_owned(),
            cairn: show(l, "accuracy", &four),
            sklearn: show(sl, "accuracy", &four),
            target: format!("within {TARGET_ACCURACY_GAP} of scikit-learn"),
            pass: both(l, sl, "accuracy", &close),
        },
        Row {
            id: "logistic_log_loss",
            figure: "logistic log loss, last 20%".to_owned(),
            cairn: show(l, "log_loss", &four),
            sklearn: show(sl, "log_loss", &four),
            target: "-".to_owned(),
            pass: None,
        },
        Row {
            id: "logistic_roc_auc",
            figure: "logistic ROC-AUC, last 20%".to_owned(),
            cairn: show(l, "roc_auc", &four),
            sklearn: show(sl, "roc_auc", &four),
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
                match row.verdict() {
                    "met" => "✓".to_owned(),
                    "not met" => "✗".to_owned(),
                    "not measured" => "not measured".to_owned(),
                    _ => "-".to_owned(),
                },
            ]
        })
        .collect();
    super::print_columns(header, &cells);
}

/// Writes the seeded table to `path`; returns its size in bytes and the number of positive
/// labels. Like scikit-learn's `make_classification` with `n_informative=5, n_redundant=5,
/// n_clusters_per_class=2, class_sep=1, flip_y=0.01`.
pub(super) fn generate(path: &Path, rows: usize) -> Result<(u64, usize)> {
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
