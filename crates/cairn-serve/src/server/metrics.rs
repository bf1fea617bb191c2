//! The server's metrics, in Prometheus' text format (written here: the format is a few lines
//! of text, and the hot path only increments atomics).
//!
//! - `cairn_http_requests_total{endpoint,status}`: every response.
//! - `cairn_requests_total` / `cairn_request_duration_seconds{model,version,status}`:
//!   responses of the prediction endpoints that reached a model, as a histogram.
//! - `cairn_rows_total{model,version}`: rows scored.
//! - `cairn_predictions_total{model,version,class}` (classifiers) and
//!   `cairn_prediction_value{model,version}` (regressors, a histogram): what the model
//!   answered.
//! - `cairn_prediction_log_*{model}`: the prediction log's queue and its drops.
//! - `cairn_online_store_unavailable_total`: entity-keyed requests answered with imputed
//!   inputs because the online store (Redis) could not answer.
//! - `process_*`: CPU seconds, resident memory, open file descriptors, start time, uptime.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use super::process;

/// Upper bounds of the latency buckets, in seconds.
const LATENCY_BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// Upper bounds of the buckets of a regressor's predicted values: symmetric, 1-2-5 steps
/// from 0.001 to 1,000,000.
fn value_buckets() -> Vec<f64> {
    let mut positive = Vec::new();
    let mut decade = 0.001;
    while decade <= 1_000_000.0 {
        for step in [1.0, 2.0, 5.0] {
            positive.push(decade * step);
        }
        decade *= 10.0;
    }
    let mut all: Vec<f64> = positive.iter().rev().map(|b| -b).collect();
    all.push(0.0);
    all.extend(positive);
    all
}

/// The status codes counted apart; any other is `other`.
const STATUSES: [u16; 10] = [200, 400, 401, 404, 405, 408, 409, 413, 415, 503];
const STATUS_SLOTS: usize = STATUSES.len() + 2;

/// The slot of a status code: one of [`STATUSES`], 500, or other.
fn status_slot(status: u16) -> usize {
    match STATUSES.iter().position(|s| *s == status) {
        Some(i) => i,
        None if status == 500 => STATUSES.len(),
        None => STATUSES.len() + 1,
    }
}

fn status_label(slot: usize) -> String {
    match STATUSES.get(slot) {
        Some(s) => s.to_string(),
        None if slot == STATUSES.len() => "500".to_owned(),
        None => "other".to_owned(),
    }
}

/// The server's endpoints, as metrics name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Predict,
    PredictVersion,
    Invocations,
    Feedback,
    Models,
    Health,
    Ready,
    Metrics,
    OpenApi,
    Other,
}

impl Endpoint {
    const ALL: [Endpoint; 10] = [
        Endpoint::Predict,
        Endpoint::PredictVersion,
        Endpoint::Invocations,
        Endpoint::Feedback,
        Endpoint::Models,
        Endpoint::Health,
        Endpoint::Ready,
        Endpoint::Metrics,
        Endpoint::OpenApi,
        Endpoint::Other,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Endpoint::Predict => "predict",
            Endpoint::PredictVersion => "predict_version",
            Endpoint::Invocations => "invocations",
            Endpoint::Feedback => "feedback",
            Endpoint::Models => "models",
            Endpoint::Health => "health",
            Endpoint::Ready => "ready",
            Endpoint::Metrics => "metrics",
            Endpoint::OpenApi => "openapi",
            Endpoint::Other => "other",
        }
    }
}

/// A histogram: counts per bucket (not cumulative; the last is +Inf), a sum and a count.
struct Histogram {
    buckets: Box<[AtomicU64]>,
    /// The sum, in nanoseconds for latencies, or as f64 bits for values (updated by CAS).
    sum: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    fn new(n: usize) -> Histogram {
        Histogram {
            buckets: (0..=n).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    fn bucket(bounds: &[f64], x: f64) -> usize {
        bounds.partition_point(|b| *b < x)
    }

    fn observe_latency(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        self.buckets[Self::bucket(&LATENCY_BUCKETS, seconds)].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum.fetch_add(nanos, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    fn observe_value(&self, bounds: &[f64], x: f64) {
        if !x.is_finite() {
            return;
        }
        self.buckets[Self::bucket(bounds, x)].fetch_add(1, Ordering::Relaxed);
        let _ = self
            .sum
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + x).to_bits())
            });
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Writes `name_bucket`, `name_sum` and `name_count` lines with `labels` (`k="v",…`).
    fn render(&self, out: &mut String, name: &str, labels: &str, bounds: &[f64], sum: f64) {
        let mut cumulative = 0;
        for (i, bucket) in self.buckets.iter().enumerate() {
            cumulative += bucket.load(Ordering::Relaxed);
            let le = bounds
                .get(i)
                .map_or_else(|| "+Inf".to_owned(), |b| format!("{b}"));
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
        let _ = writeln!(
            out,
            "{name}_count{{{labels}}} {}",
            self.count.load(Ordering::Relaxed)
        );
    }
}

/// The metrics of one loaded model version. Kept after the version is swapped out: counters
/// never go backwards.
pub(crate) struct VersionMetrics {
    pub(crate) model: String,
    pub(crate) version: u32,
    latency: Vec<Histogram>,
    rows: AtomicU64,
    answers: Answers,
}

enum Answers {
    /// A count per class, with the labels as text.
    Classes(Vec<(String, AtomicU64)>),
    Values(Histogram, Vec<f64>),
}

impl VersionMetrics {
    /// Records a response of a prediction endpoint for this version.
    pub(crate) fn observe(&self, status: u16, elapsed: Duration) {
        self.latency[status_slot(status)].observe_latency(elapsed);
    }

    /// Records what the model answered for some rows.
    pub(crate) fn answered(&self, scored: &crate::Scored) {
        self.rows.fetch_add(scored.len() as u64, Ordering::Relaxed);
        match (&self.answers, scored) {
            (Answers::Classes(counts), crate::Scored::Classes { class, .. }) => {
                for c in class {
                    if let Some((_, n)) = counts.get(*c) {
                        n.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            (Answers::Values(histogram, bounds), crate::Scored::Values(values)) => {
                for v in values {
                    histogram.observe_value(bounds, *v);
                }
            }
            _ => {}
        }
    }
}

/// What the prediction log says for a model, for `/metrics`.
pub(crate) struct LogGauges {
    pub(crate) model: String,
    pub(crate) queued_rows: u64,
    pub(crate) written_rows: u64,
    pub(crate) dropped_rows: u64,
    pub(crate) segments: u64,
    pub(crate) write_errors: u64,
}

/// Every metric of the server.
pub(crate) struct Metrics {
    started: Instant,
    started_unix: f64,
    versions: Mutex<Vec<Arc<VersionMetrics>>>,
    responses: Vec<AtomicU64>,
}

impl Metrics {
    pub(crate) fn new() -> Metrics {
        Metrics {
            started: Instant::now(),
            started_unix: SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
            versions: Mutex::new(Vec::new()),
            responses: (0..Endpoint::ALL.len() * STATUS_SLOTS)
                .map(|_| AtomicU64::new(0))
                .collect(),
        }
    }

    pub(crate) fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// The metrics of a model version, created on first use (a version loaded again gets its
    /// old counters back).
    pub(crate) fn version(
        &self,
        model: &str,
        version: u32,
        labels: Option<Vec<String>>,
    ) -> Arc<VersionMetrics> {
        let mut versions = self.versions.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(found) = versions
            .iter()
            .find(|v| v.model == model && v.version == version)
        {
            return Arc::clone(found);
        }
        let answers = match labels {
            Some(labels) => {
                Answers::Classes(labels.into_iter().map(|l| (l, AtomicU64::new(0))).collect())
            }
            None => {
                let bounds = value_buckets();
                Answers::Values(Histogram::new(bounds.len()), bounds)
            }
        };
        let metrics = Arc::new(VersionMetrics {
            model: model.to_owned(),
            version,
            latency: (0..STATUS_SLOTS)
                .map(|_| Histogram::new(LATENCY_BUCKETS.len()))
                .collect(),
            rows: AtomicU64::new(0),
            answers,
        });
        versions.push(Arc::clone(&metrics));
        metrics
    }

    /// Counts a response.
    pub(crate) fn response(&self, endpoint: Endpoint, status: u16) {
        let e = Endpoint::ALL
            .iter()
            .position(|x| *x == endpoint)
            .unwrap_or(Endpoint::ALL.len() - 1);
        self.responses[e * STATUS_SLOTS + status_slot(status)].fetch_add(1, Ordering::Relaxed);
    }

    /// Every response counted so far.
    pub(crate) fn total_responses(&self) -> u64 {
        self.responses
            .iter()
            .map(|n| n.load(Ordering::Relaxed))
            .sum()
    }

    /// The text of `GET /metrics`.
    pub(crate) fn render(&self, logs: &[LogGauges]) -> String {
        let mut out = String::with_capacity(16 * 1024);
        out.push_str("# HELP cairn_http_requests_total HTTP responses by endpoint and status code.\n# TYPE cairn_http_requests_total counter\n");
        for (e, endpoint) in Endpoint::ALL.iter().enumerate() {
            for slot in 0..STATUS_SLOTS {
                let n = self.responses[e * STATUS_SLOTS + slot].load(Ordering::Relaxed);
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "cairn_http_requests_total{{endpoint=\"{}\",status=\"{}\"}} {n}",
                        endpoint.as_str(),
                        status_label(slot)
                    );
                }
            }
        }
        let versions: Vec<Arc<VersionMetrics>> = self
            .versions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        out.push_str("# HELP cairn_requests_total Prediction requests answered by a model version, by status code.\n# TYPE cairn_requests_total counter\n");
        for v in &versions {
            for (slot, h) in v.latency.iter().enumerate() {
                let n = h.count.load(Ordering::Relaxed);
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "cairn_requests_total{{model=\"{}\",version=\"{}\",status=\"{}\"}} {n}",
                        v.model,
                        v.version,
                        status_label(slot)
                    );
                }
            }
        }
        out.push_str("# HELP cairn_request_duration_seconds Time from a prediction request's arrival to its response, by model version and status code.\n# TYPE cairn_request_duration_seconds histogram\n");
        for v in &versions {
            for (slot, h) in v.latency.iter().enumerate() {
                if h.count.load(Ordering::Relaxed) > 0 {
                    let labels = format!(
                        "model=\"{}\",version=\"{}\",status=\"{}\"",
                        v.model,
                        v.version,
                        status_label(slot)
                    );
                    let sum = h.sum.load(Ordering::Relaxed) as f64 / 1e9;
                    h.render(
                        &mut out,
                        "cairn_request_duration_seconds",
                        &labels,
                        &LATENCY_BUCKETS,
                        sum,
                    );
                }
            }
        }
        out.push_str("# HELP cairn_rows_total Rows scored, by model version.\n# TYPE cairn_rows_total counter\n");
        for v in &versions {
            let _ = writeln!(
                out,
                "cairn_rows_total{{model=\"{}\",version=\"{}\"}} {}",
                v.model,
                v.version,
                v.rows.load(Ordering::Relaxed)
            );
        }
        out.push_str("# HELP cairn_predictions_total Predicted classes, by model version and class.\n# TYPE cairn_predictions_total counter\n");
        for v in &versions {
            if let Answers::Classes(counts) = &v.answers {
                for (label, n) in counts {
                    let _ = writeln!(
                        out,
                        "cairn_predictions_total{{model=\"{}\",version=\"{}\",class=\"{}\"}} {}",
                        v.model,
                        v.version,
                        escape(label),
                        n.load(Ordering::Relaxed)
                    );
                }
            }
        }
        out.push_str("# HELP cairn_prediction_value Predicted values of regressors, by model version.\n# TYPE cairn_prediction_value histogram\n");
        for v in &versions {
            if let Answers::Values(h, bounds) = &v.answers {
                let labels = format!("model=\"{}\",version=\"{}\"", v.model, v.version);
                let sum = f64::from_bits(h.sum.load(Ordering::Relaxed));
                h.render(&mut out, "cairn_prediction_value", &labels, bounds, sum);
            }
        }
        render_logs(&mut out, logs);
        self.render_process(&mut out);
        out
    }

    fn render_process(&self, out: &mut String) {
        let p = process::sample();
        let mut gauge = |name: &str, kind: &str, help: &str, value: Option<f64>| {
            if let Some(value) = value {
                let _ = writeln!(
                    out,
                    "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
                );
            }
        };
        gauge(
            "cairn_online_store_unavailable_total",
            "counter",
            "Entity-keyed requests answered with the model's imputation because the online store could not answer.",
            Some(crate::entities::STORE_UNAVAILABLE.load(Ordering::Relaxed) as f64),
        );
        gauge(
            "process_cpu_seconds_total",
            "counter",
            "User and system CPU time spent, in seconds.",
            p.cpu_seconds,
        );
        gauge(
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory, in bytes.",
            p.resident_bytes,
        );
        gauge(
            "process_virtual_memory_bytes",
            "gauge",
            "Virtual memory, in bytes.",
            p.virtual_bytes,
        );
        gauge(
            "process_open_fds",
            "gauge",
            "Open file descriptors.",
            p.open_fds,
        );
        gauge(
            "process_start_time_seconds",
            "gauge",
            "Start time of the server since the Unix epoch, in seconds.",
            Some(self.started_unix),
        );
        gauge(
            "process_uptime_seconds",
            "gauge",
            "Seconds since the server started.",
            Some(self.uptime().as_secs_f64()),
        );
    }
}

/// A metric family of the prediction logs: name, type, help, and its value in the gauges.
type LogFamily = (
    &'static str,
    &'static str,
    &'static str,
    fn(&LogGauges) -> u64,
);

fn render_logs(out: &mut String, logs: &[LogGauges]) {
    if logs.is_empty() {
        return;
    }
    let families: [LogFamily; 5] = [
        (
            "cairn_prediction_log_queued_rows",
            "gauge",
            "Rows waiting in the prediction log's queue.",
            |g| g.queued_rows,
        ),
        (
            "cairn_prediction_log_written_rows_total",
            "counter",
            "Rows written to the prediction log.",
            |g| g.written_rows,
        ),
        (
            "cairn_prediction_log_dropped_rows_total",
            "counter",
            "Rows not logged because the queue was full (or the log closed).",
            |g| g.dropped_rows,
        ),
        (
            "cairn_prediction_log_segments_total",
            "counter",
            "Segments the prediction log completed.",
            |g| g.segments,
        ),
        (
            "cairn_prediction_log_write_errors_total",
            "counter",
            "Failed writes of the prediction log.",
            |g| g.write_errors,
        ),
    ];
    for (name, kind, help, get) in families {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for g in logs {
            let _ = writeln!(out, "{name}{{model=\"{}\"}} {}", g.model, get(g));
        }
    }
}

/// A label value as Prometheus' text format writes it.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
