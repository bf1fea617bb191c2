//! `latency = { p50_ms, p99_ms, calls }`: single-row predictions through the server's path
//! (named JSON values in, `Artifact::predict_row`), timed one call at a time, in process.

use std::time::{Duration, Instant};

use cairn_core::models::LatencyGate;
use cairn_model::artifact::Artifact;
use polars::prelude::DataFrame;

use crate::data::json_row;
use crate::record::{
    Figures, GateResult, GateStatus, LatencyDetail, LatencyMeasured, LatencyThreshold,
};

/// Untimed calls before the timed ones (caches, the allocator), at most.
pub const WARMUP_CALLS: u64 = 100;

/// Times `gate.calls` single-row predictions of `artifact`, cycling through the rows of
/// `frame` (which has at least one row), after `min(calls, WARMUP_CALLS)` untimed ones.
pub(crate) fn latency(gate: &LatencyGate, artifact: &Artifact, frame: &DataFrame) -> GateResult {
    let names: Vec<String> = artifact
        .header
        .inputs
        .iter()
        .map(|i| i.name.clone())
        .collect();
    // The requests are built before the clock starts: only the prediction is timed.
    let distinct = (gate.calls as usize).min(frame.height()).max(1);
    let requests: Vec<serde_json::Map<String, serde_json::Value>> =
        (0..distinct).map(|i| json_row(frame, &names, i)).collect();
    let warmup = gate.calls.min(WARMUP_CALLS);
    let mut scratch = Vec::new();
    let mut failure = None;
    let mut call = |i: usize, scratch: &mut Vec<f64>| {
        let request = &requests[i % requests.len()];
        let start = Instant::now();
        let result = artifact.predict_row(|k| request.get(k), scratch);
        let took = start.elapsed();
        if let Err(e) = result
            && failure.is_none()
        {
            failure = Some(e.to_string());
        }
        took
    };
    for i in 0..warmup as usize {
        call(i, &mut scratch);
    }
    let times: Vec<Duration> = (0..gate.calls as usize)
        .map(|i| call(i, &mut scratch))
        .collect();
    let result = judge(gate, warmup, &times);
    match failure {
        Some(e) => GateResult {
            status: GateStatus::Failed,
            passed: false,
            ..result
        }
        .with_note(format!("a single-row prediction failed: {e}")),
        None => result,
    }
}

/// The verdict on measured call times.
pub(crate) fn judge(gate: &LatencyGate, warmup: u64, times: &[Duration]) -> GateResult {
    let mut ms: Vec<f64> = times.iter().map(|t| t.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    let p50 = percentile(&ms, 0.50);
    let p99 = percentile(&ms, 0.99);
    let passed = gate.p50_ms.is_none_or(|t| p50 <= t) && gate.p99_ms.is_none_or(|t| p99 <= t);
    GateResult::new(
        "latency",
        if passed {
            GateStatus::Passed
        } else {
            GateStatus::Failed
        },
        Figures::Latency {
            threshold: LatencyThreshold {
                p50_ms: gate.p50_ms,
                p99_ms: gate.p99_ms,
            },
            measured: LatencyMeasured {
                p50_ms: p50,
                p99_ms: p99,
            },
            detail: LatencyDetail {
                calls: times.len() as u64,
                warmup,
                mean_ms: if ms.is_empty() {
                    0.0
                } else {
                    ms.iter().sum::<f64>() / ms.len() as f64
                },
                max_ms: ms.last().copied().unwrap_or(0.0),
            },
        },
    )
}

/// The `q` quantile of sorted values, interpolated linearly between the closest ranks
/// (numpy's default): rank `q × (n - 1)` from 0. 0 for no values.
pub(crate) fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = q * (sorted.len() - 1) as f64;
    let (low, high) = (rank.floor() as usize, rank.ceil() as usize);
    sorted[low] + (sorted[high] - sorted[low]) * (rank - low as f64)
}
