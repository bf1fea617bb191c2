//! `record_runs PROJECT N`: records N more runs in a cairn project that has exactly one
//! finished run, through cairn's own run-recording code, for `cargo xtask bench runs`.
//!
//! Training 10,000 models with `cairn train` would take hours here. Instead, the one run the
//! bench trained with `cairn train` is read back with `cairn_train::list_runs`, and each copy
//! gets its own id, start time, `n_trees` param and slightly different metrics. Each copy is
//! recorded as `cairn train` records a run (`save_record` in cairn-train, which is not
//! public): its record serialised by serde, stored as an object (`Store::put_bytes`), its ref
//! written (`cairn_core::runs::write_ref`), and its index row with the summary
//! `RunSummary::of` builds, inserted in one transaction for all copies
//! (`RunsDb::insert_many`); then one `Store::sync`, under the project's write lock. The copies
//! share the trained run's model artifact.
//!
//! Prints the number of runs recorded.
#![allow(clippy::print_stdout)]

use std::path::Path;

use cairn_core::Project;
use cairn_core::runs::{RunRef, RunRow, RunsDb, write_ref};
use cairn_train::{RunRecord, RunSummary};

/// Copies start a minute apart, ending a minute before the trained run.
const SPACING_US: i64 = 60_000_000;

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(dir), Some(n)) = (args.first(), args.get(1)) else {
        return Err("usage: record_runs PROJECT N".to_owned());
    };
    let n: i64 = n.parse().map_err(|e| format!("N {n:?}: {e}"))?;
    let project = Project::discover(Path::new(dir)).map_err(|e| e.to_string())?;
    let runs = cairn_train::list_runs(&project, None).map_err(|e| e.to_string())?;
    let [template] = runs.as_slice() else {
        return Err(format!(
            "{dir} has {} runs; record_runs copies exactly one",
            runs.len()
        ));
    };

    let state = project.state_dir();
    let store = project.store().map_err(|e| e.to_string())?;
    let _guard = cairn_store::WriteGuard::acquire(&state, &cairn_store::NoProgress)
        .map_err(|e| format!("the project's write lock: {e}"))?;
    let mut rows = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
    for i in 0..n {
        let record = copy(template, i, n);
        let json = serde_json::to_string_pretty(&record).map_err(|e| e.to_string())?;
        let put = store
            .put_bytes(json.as_bytes())
            .map_err(|e| e.to_string())?;
        write_ref(
            &state,
            &RunRef {
                id: record.id.clone(),
                record: put.digest.to_hex(),
                artifact: record.artifact.clone(),
            },
        )
        .map_err(|e| e.to_string())?;
        rows.push(RunRow {
            id: record.id.clone(),
            model: record.model.clone(),
            status: record.status.as_str().to_owned(),
            started_us: record.started_us,
            summary: Some(
                serde_json::to_string(&RunSummary::of(&record)).map_err(|e| e.to_string())?,
            ),
            record: json,
            record_digest: put.digest.to_hex(),
            artifact: record.artifact.clone(),
        });
    }
    store.sync().map_err(|e| e.to_string())?;
    let mut db = RunsDb::open(&state.join("cairn.db")).map_err(|e| e.to_string())?;
    db.insert_many(&rows).map_err(|e| e.to_string())?;
    println!("{}", rows.len());
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
