//! Benchmark helper: copies the newest run of a project N times into its runs index, with new
//! ids, start times and metrics, so that `cairn runs list` can be timed over many runs.
//!
//! `seed_runs PROJECT_DIR N`
#![allow(clippy::print_stdout, clippy::print_stderr)]

use cairn_core::runs::{RunRow, RunsDb};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), Some(n)) = (
        args.get(1),
        args.get(2).and_then(|n| n.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: seed_runs PROJECT_DIR N");
        std::process::exit(2);
    };
    let path = std::path::Path::new(dir).join(".cairn/cairn.db");
    let mut db = RunsDb::open(&path).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    let template = db
        .list(None)
        .ok()
        .and_then(|mut runs| runs.pop())
        .unwrap_or_else(|| {
            eprintln!("{}: no run to copy; train once first", path.display());
            std::process::exit(2)
        });
    let record: serde_json::Value = serde_json::from_str(&template.record).expect("a run record");
    let mut rows = Vec::with_capacity(n);
    for i in 0..n {
        let mut r = record.clone();
        let id = format!("{:012x}", 0xb000_0000_0000_u64 + i as u64);
        r["id"] = id.clone().into();
        let started = template.started_us - (n - i) as i64 * 60_000_000;
        r["started_us"] = started.into();
        r["started"] = cairn_core::time::format_micros(started).into();
        if let Some(metrics) = r["metrics"].as_object_mut() {
            for (k, v) in metrics.iter_mut() {
                let x = v.as_f64().unwrap_or(0.0);
                let jitter = ((i * 7919 + k.len()) % 1000) as f64 / 100_000.0;
                *v = (x - jitter).into();
            }
        }
        if let Some(params) = r["params"].as_object_mut() {
            params.insert("seed_copy".into(), (i as u64).into());
        }
        rows.push(RunRow {
            id,
            model: template.model.clone(),
            status: template.status.clone(),
            started_us: started,
            record: r.to_string(),
            record_digest: template.record_digest.clone(),
            artifact: template.artifact.clone(),
        });
    }
    db.insert_many(&rows).expect("insert");
    println!("{}", rows.len());
}
