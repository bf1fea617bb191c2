//! `record_runs PROJECT N`: records N more runs in a cairn project that has exactly one
//! finished run, through cairn's own run-recording code, for `cargo xtask bench runs`.
//!
//! Training 10,000 models with `cairn train` would take hours here. Instead, the one run the
//! bench trained with `cairn train` is read back with `cairn_train::list_runs`, and each copy
//! gets its own id, start time, `n_trees` param and slightly different metrics. Each copy is
//! recorded by `cairn_train::record_run`, the record step `cairn train` itself runs: under the
//! project's write lock, the record stored as an object, the objects synced, the ref written
//! and the index row (with its summary) inserted — one run at a time, as `train` records
//! each. The copies share the trained run's model artifact.
//!
//! Prints the number of runs recorded.
#![allow(clippy::print_stdout)]

use std::path::Path;

use cairn_core::Project;
use cairn_train::RunRecord;

/// Copies start a minute apart, ending a minute before the trained run.
const SPACING_US: i64 = 60_000_000;

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(dir), Some(n)) = (args.first(), args.get(1)) else {
        return Err("usage: record_runs PROJECT N".to_owned());
    };
    let n: i64 = n.parse().map_err(|e| format!("N {n:?}: {e}"))?;
    let project = Project::discover(Path::new(dir)).map_err(|e| e.to_string())?;
    let runs = cairn_train::list_runs(&project, &cairn_train::Selection::default())
        .map_err(|e| e.to_string())?
        .runs;
    let [template] = runs.as_slice() else {
        return Err(format!(
            "{dir} has {} runs; record_runs copies exactly one",
            runs.len()
        ));
    };
    for i in 0..n {
        cairn_train::record_run(&project, &copy(template, i, n)).map_err(|e| e.to_string())?;
    }
    println!("{n}");
    Ok(())
}

/// Copy `i` of `n`: a new id and start time, `n_trees` from 10 to 209, metrics lowered by up
/// to 0.01 (each metric by its own amount).
fn copy(template: &RunRecord, i: i64, n: i64) -> RunRecord {
    let mut record = template.clone();
    record.id = format!("{:012x}", 0xB000_0000_0000_i64 + i);
    record.started_us = template.started_us - (n - i) * SPACING_US;
    record.started = cairn_core::time::format_micros(record.started_us);
    record.ended =
        cairn_core::time::format_micros(record.started_us + (template.duration_s * 1e6) as i64);
    for (k, (_, value)) in record.metrics.iter_mut().enumerate() {
        *value -= ((i * 7919 + k as i64) % 1000) as f64 / 100_000.0;
    }
    record
        .params
        .insert("n_trees".to_owned(), serde_json::json!(10 + i % 200));
    record
}
