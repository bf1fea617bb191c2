//! The cairn side of `cargo xtask bench train`: fits a model on a CSV file and prints its
//! figures as one JSON document.
//!
//! `train_bench DATA.csv OUT.json [N_TREES] [--algorithm forest|logistic]`: the CSV file has a
//! header, numeric feature columns and an integer class label in the last column. The first 80%
//! of the rows train the model; the last 20% are scored. The models:
//! - `forest` (the default): `N_TREES` (100) trees, max depth 10, `sqrt` features, bootstrap,
//!   seed 0 (scikit-learn's `RandomForestClassifier(n_estimators=100, max_depth=10)`);
//! - `logistic`: `LogisticRegression` with `alpha = 1`, scikit-learn's `LogisticRegression()`
//!   default `C = 1` (its objective is `C ×` the summed log loss plus `½ ||w||²`, cairn's the
//!   summed log loss plus `alpha / 2 · ||w||²`: the same minimum for `alpha = 1 / C`).
//!
//! Written to `OUT.json` as one JSON document (nothing is printed; a failure is the `Err` of
//! `main`): the algorithm, fit wall and CPU seconds, accuracy, ROC-AUC and log loss on the
//! held-out rows, the median and 99th percentile of single-row `predict_proba` latency, the time
//! to score 100,000 rows in one batch, and the size of the model serialized with postcard. The
//! forest's shape (`n_trees`, `max_depth`, `mean_leaves`) is null for logistic regression, whose
//! solver figures (`alpha`, `iterations`, `solver_stop`, `gradient`) are null for the forest.

use std::time::{Duration, Instant};

use cairn_model::Matrix;
use cairn_model::forest::{ForestClassifier, ForestParams};
use cairn_model::linear::{LogisticParams, LogisticRegression, LogisticReport};
use cairn_model::metrics::argmax;
use cairn_model::tree::{MaxFeatures, TreeParams};
use serde_json::{Value, json};

const LATENCY_CALLS: usize = 10_000;
const BATCH_ROWS: usize = 100_000;
const USAGE: &str = "usage: train_bench DATA.csv OUT.json [N_TREES] [--algorithm forest|logistic]";

/// The fitted model.
enum Model {
    Forest(ForestClassifier),
    Logistic(LogisticRegression, LogisticReport, LogisticParams),
}

impl Model {
    fn predict_proba_into(&self, row: &[f64], out: &mut [f64]) {
        match self {
            Model::Forest(forest) => forest.predict_proba_into(row, out),
            Model::Logistic(model, ..) => model.predict_proba_into(row, out),
        }
    }

    /// Row-major probabilities of every row of `x`.
    fn predict_proba_batch(&self, x: &Matrix, n_classes: usize) -> Vec<f64> {
        match self {
            Model::Forest(forest) => forest.predict_proba_batch(x),
            Model::Logistic(model, ..) => {
                let mut out = vec![0.0; x.rows * n_classes];
                let mut row = vec![0.0; x.cols()];
                for (i, chunk) in out.chunks_exact_mut(n_classes).enumerate() {
                    for (v, column) in row.iter_mut().zip(&x.columns) {
                        *v = column[i];
                    }
                    model.predict_proba_into(&row, chunk);
                }
                out
            }
        }
    }

    /// Postcard bytes, and whether they read back as the same model.
    fn serialize(&self) -> Result<(Vec<u8>, f64, f64), String> {
        fn round_trip<T>(model: &T) -> Result<(Vec<u8>, f64, f64), String>
        where
            T: serde::Serialize + serde::de::DeserializeOwned + PartialEq,
        {
            let started = Instant::now();
            let bytes = postcard::to_stdvec(model).map_err(|e| format!("serialize: {e}"))?;
            let serialize_s = started.elapsed().as_secs_f64();
            let started = Instant::now();
            let back: T = postcard::from_bytes(&bytes).map_err(|e| format!("deserialize: {e}"))?;
            let deserialize_s = started.elapsed().as_secs_f64();
            if back != *model {
                return Err("the deserialized model differs from the fitted one".to_owned());
            }
            Ok((bytes, serialize_s, deserialize_s))
        }
        match self {
            Model::Forest(forest) => round_trip(forest),
            Model::Logistic(model, ..) => round_trip(model),
        }
    }
}

fn main() -> Result<(), String> {
    let mut positional = Vec::new();
    let mut algorithm = "forest".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--algorithm" {
            algorithm = args.next().ok_or(USAGE)?;
        } else if let Some(value) = arg.strip_prefix("--algorithm=") {
            algorithm = value.to_owned();
        } else {
            positional.push(arg);
        }
    }
    let (Some(path), Some(out_path)) = (positional.first(), positional.get(1)) else {
        return Err(USAGE.into());
    };
    let n_trees: usize = match positional.get(2) {
        Some(n) => n.parse().map_err(|e| format!("N_TREES {n:?}: {e}"))?,
        None => 100,
    };
    if !matches!(algorithm.as_str(), "forest" | "logistic") {
        return Err(format!("unknown algorithm {algorithm:?}; {USAGE}"));
    }

    let started = Instant::now();
    let (columns, labels) = read_csv(path)?;
    let read_s = started.elapsed().as_secs_f64();
    let rows = labels.len();
    let train_rows = rows * 8 / 10;
    let n_classes = labels.iter().max().map_or(0, |&m| m as usize + 1);
    let all = Matrix::new(columns);
    let train = Matrix::new(
        all.columns
            .iter()
            .map(|c| c[..train_rows].to_vec())
            .collect(),
    );
    let test = Matrix::new(
        all.columns
            .iter()
            .map(|c| c[train_rows..].to_vec())
            .collect(),
    );

    let train_labels = &labels[..train_rows];
    let cpu_before = cpu_time();
    let started = Instant::now();
    let model = if algorithm == "logistic" {
        let params = LogisticParams { alpha: 1.0 };
        let (model, report) =
            LogisticRegression::fit_report(&train, train_labels, n_classes, &params)
                .map_err(|e| format!("fit: {e}"))?;
        Model::Logistic(model, report, params)
    } else {
        let params = ForestParams {
            n_trees,
            tree: TreeParams {
                max_depth: Some(10),
                max_features: MaxFeatures::Sqrt,
                ..TreeParams::default()
            },
            bootstrap: true,
            seed: 0,
        };
        let forest = ForestClassifier::fit(&train, train_labels, n_classes, &params, &|_| {})
            .map_err(|e| format!("fit: {e}"))?;
        Model::Forest(forest)
    };
    let fit_wall = started.elapsed();
    let fit_cpu = cpu_time()
        .zip(cpu_before)
        .map(|(after, before)| after - before);

    // Held-out quality.
    let test_labels = &labels[train_rows..];
    let proba = model.predict_proba_batch(&test, n_classes);
    let predicted: Vec<usize> = proba.chunks_exact(n_classes).map(argmax).collect();
    let correct = predicted
        .iter()
        .zip(test_labels)
        .filter(|&(&p, &y)| p == y as usize)
        .count();
    let accuracy = correct as f64 / test_labels.len() as f64;
    let log_loss = log_loss(&proba, test_labels, n_classes);
    let roc_auc = (n_classes == 2).then(|| {
        let scores: Vec<f64> = proba.chunks_exact(2).map(|p| p[1]).collect();
        roc_auc(&scores, test_labels)
    });

    // Single-row latency over different rows, one call at a time.
    let row_major: Vec<Vec<f64>> = (0..test.rows.min(LATENCY_CALLS))
        .map(|i| test.row(i))
        .collect();
    let mut out = vec![0.0; n_classes];
    for row in row_major.iter().take(1000) {
        model.predict_proba_into(row, &mut out);
    }
    let mut latencies: Vec<Duration> = Vec::with_capacity(LATENCY_CALLS);
    for i in 0..LATENCY_CALLS {
        let row = &row_major[i % row_major.len()];
        let start = Instant::now();
        model.predict_proba_into(std::hint::black_box(row), &mut out);
        std::hint::black_box(&out);
        latencies.push(start.elapsed());
    }
    latencies.sort();
    let percentile = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize];

    // Batch scoring of 100,000 rows (the first rows of the file), three times.
    let batch_rows = BATCH_ROWS.min(rows);
    let batch = Matrix::new(
        all.columns
            .iter()
            .map(|c| c[..batch_rows].to_vec())
            .collect(),
    );
    let mut batch_times: Vec<Duration> = (0..3)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(model.predict_proba_batch(&batch, n_classes));
            start.elapsed()
        })
        .collect();
    batch_times.sort();

    let (bytes, serialize_s, deserialize_s) = model.serialize()?;

    let null = || Value::Null;
    let (n_trees, max_depth, mean_leaves) = match &model {
        Model::Forest(forest) => {
            let trees = forest.trees();
            let leaves: usize = trees.iter().map(|t| t.n_leaves()).sum();
            (
                json!(trees.len()),
                json!(trees.iter().map(|t| t.depth()).max()),
                json!(leaves as f64 / trees.len() as f64),
            )
        }
        Model::Logistic(..) => (null(), null(), null()),
    };
    let (alpha, iterations, solver_stop, gradient) = match &model {
        Model::Logistic(_, report, params) => (
            json!(params.alpha),
            json!(report.iterations),
            json!(format!("{:?}", report.stop)),
            json!(report.gradient),
        ),
        Model::Forest(_) => (null(), null(), null(), null()),
    };
    let document = json!({
        "kind": "train-bench",
        "algorithm": algorithm,
        "rows": rows,
        "train_rows": train_rows,
        "test_rows": rows - train_rows,
        "features": all.cols(),
        "classes": n_classes,
        "threads": rayon::current_num_threads(),
        "read_csv_s": read_s,
        "n_trees": n_trees,
        "max_depth": max_depth,
        "mean_leaves": mean_leaves,
        "alpha": alpha,
        "iterations": iterations,
        "solver_stop": solver_stop,
        "gradient": gradient,
        "fit_wall_s": fit_wall.as_secs_f64(),
        "fit_cpu_s": fit_cpu,
        "accuracy": accuracy,
        "roc_auc": roc_auc,
        "log_loss": log_loss,
        "predict_one_calls": LATENCY_CALLS,
        "predict_one_median_us": percentile(0.5).as_secs_f64() * 1e6,
        "predict_one_p99_us": percentile(0.99).as_secs_f64() * 1e6,
        "batch_rows": batch_rows,
        "batch_median_s": batch_times[1].as_secs_f64(),
        "batch_samples_s": batch_times.iter().map(Duration::as_secs_f64).collect::<Vec<_>>(),
        "serialized_bytes": bytes.len(),
        "serialize_s": serialize_s,
        "deserialize_s": deserialize_s,
    });
    // A benchmark's scratch file: written directly, not through cairn's atomic writes.
    #[allow(clippy::disallowed_methods)]
    std::fs::write(out_path, document.to_string())
        .map_err(|e| format!("cannot write {out_path}: {e}"))
}

/// Numeric columns and the last column as class labels.
fn read_csv(path: &str) -> Result<(Vec<Vec<f64>>, Vec<u32>), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let mut lines = text.lines();
    let header = lines.next().ok_or_else(|| format!("{path} is empty"))?;
    let features = header.split(',').count() - 1;
    let mut columns = vec![Vec::new(); features];
    let mut labels = Vec::new();
    for (n, line) in lines.enumerate() {
        let mut fields = line.split(',');
        for column in &mut columns {
            let field = fields.next().unwrap_or("");
            column.push(
                field
                    .parse::<f64>()
                    .map_err(|e| format!("{path} line {}: {field:?}: {e}", n + 2))?,
            );
        }
        let label = fields.next().unwrap_or("");
        labels.push(
            label
                .trim()
                .parse::<u32>()
                .map_err(|e| format!("{path} line {}: label {label:?}: {e}", n + 2))?,
        );
    }
    Ok((columns, labels))
}

/// The mean negative log-probability of the true class (probabilities clipped to
/// `[1e-15, 1 - 1e-15]`, as scikit-learn's `log_loss` does).
fn log_loss(proba: &[f64], labels: &[u32], n_classes: usize) -> f64 {
    let total: f64 = proba
        .chunks_exact(n_classes)
        .zip(labels)
        .map(|(p, &y)| -p[y as usize].clamp(1e-15, 1.0 - 1e-15).ln())
        .sum();
    total / labels.len() as f64
}

/// The probability that a random positive scores above a random negative (ties count half):
/// the Mann-Whitney statistic from average ranks.
fn roc_auc(scores: &[f64], labels: &[u32]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            if labels[k] == 1 {
                rank_sum += rank;
            }
        }
        i = j + 1;
    }
    let positives = labels.iter().filter(|&&y| y == 1).count() as f64;
    let negatives = labels.len() as f64 - positives;
    (rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives)
}

/// This process's CPU time (user + system, all threads) in seconds, from `/proc/self/stat`
/// (clock ticks of 1/100 s, Linux's USER_HZ).
fn cpu_time() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name (which may hold spaces) start at field 3.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}
