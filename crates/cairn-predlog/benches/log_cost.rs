//! What logging costs: `cargo bench -p cairn-predlog --bench log_cost [-- ROWS]`.
//!
//! A model of 20 inputs (18 numbers, 2 categories) and 2 classes with probabilities, as the
//! server's benchmark forest. For single-row requests and for 100-row requests it measures
//! - building a batch (what the server does per request, besides calling `log`);
//! - `log` itself, on the request path (the batches are built beforehand);
//! - the writer: from the first `log` until `close` has written every row, per row.
//!
//! A measurement, not a test: it asserts nothing about time.
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_predlog::{
    Column, LogOptions, Predicted, PredictionBatch, PredictionLog, ReadOptions, Values,
};

struct Model {
    digest: Arc<str>,
    names: Vec<Arc<str>>,
    labels: Arc<[String]>,
}

fn model() -> Model {
    Model {
        digest: "4f1c0b2a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a".into(),
        names: (0..20)
            .map(|i| Arc::from(format!("feature_{i:02}")))
            .collect(),
        labels: vec!["0".to_owned(), "1".to_owned()].into(),
    }
}

fn batch(m: &Model, n: u64, rows: usize) -> PredictionBatch {
    let inputs = m
        .names
        .iter()
        .enumerate()
        .map(|(j, name)| Column {
            name: name.clone(),
            values: if j < 18 {
                Values::Number(
                    (0..rows)
                        .map(|i| Some((n as f64) * 0.001 + (i * j) as f64))
                        .collect(),
                )
            } else {
                Values::Text(
                    (0..rows)
                        .map(|i| Some(["retail", "online", "atm"][(i + j) % 3].to_owned()))
                        .collect(),
                )
            },
        })
        .collect();
    let class: Vec<usize> = (0..rows).map(|i| (n as usize + i) % 2).collect();
    let proba = class
        .iter()
        .flat_map(|&c| if c == 0 { [0.8, 0.2] } else { [0.3, 0.7] })
        .collect();
    PredictionBatch {
        request_id: format!("{n:016x}"),
        ts_us: 1_700_000_000_000_000 + n as i64,
        version: 1,
        digest: m.digest.clone(),
        inputs,
        imputed: Vec::new(),
        prediction: Predicted::Classes {
            labels: m.labels.clone(),
            class,
            proba: Some(proba),
        },
    }
}

fn per(d: Duration, n: usize) -> f64 {
    d.as_secs_f64() * 1e9 / n as f64
}

fn run(total_rows: usize, rows_per_request: usize) {
    let m = model();
    let requests = total_rows / rows_per_request;
    let root = std::env::temp_dir().join(format!("cairn-predlog-bench-{}", std::process::id()));
    let dir = root.join("fraud");

    let start = Instant::now();
    let batches: Vec<PredictionBatch> = (0..requests as u64)
        .map(|n| batch(&m, n, rows_per_request))
        .collect();
    let build = start.elapsed();

    let options = LogOptions {
        queue_rows: total_rows,
        ..LogOptions::default()
    };
    let log = PredictionLog::open(&dir, &options).expect("open the log");
    let start = Instant::now();
    let mut refused = 0;
    for b in batches {
        if log.log(b).is_err() {
            refused += 1;
        }
    }
    let log_calls = start.elapsed();
    let stats = log.close().expect("close the log");
    let writer = start.elapsed();
    let read = cairn_predlog::read(&dir, &ReadOptions::default()).expect("read the log");
    let bytes: u64 = std::fs::read_dir(&dir)
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);
    let _ = std::fs::remove_dir_all(&root);

    println!(
        "{rows_per_request:>3}-row requests, {requests} requests, {total_rows} rows: \
         build {:.0} ns/request, log() {:.0} ns/request ({:.1} ns/row), \
         writer {:.0} ns/row ({:.0} rows/s), {} segments, {:.1} bytes/row on disk, \
         {refused} refused, {} read back",
        per(build, requests),
        per(log_calls, requests),
        per(log_calls, total_rows),
        per(writer, total_rows),
        total_rows as f64 / writer.as_secs_f64(),
        stats.predictions.segments,
        bytes as f64 / total_rows as f64,
        read.height(),
    );
}

fn main() {
    let rows = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<usize>().ok())
        .unwrap_or(300_000);
    run(rows, 1);
    run(rows, 100);
}
