//! The server's parts that need no socket: canary routing, metrics text, the model set.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use super::model;
use crate::score::Scored;
use crate::server::metrics::{Endpoint, LogGauges, Metrics};
use crate::server::models::{Loaded, Slot};

#[test]
fn a_canary_gets_its_share_evenly_and_deterministically() {
    let metrics = Metrics::new();
    let primary = Arc::new(Loaded::new(model(true), &metrics, None));
    let mut canary_model = model(true);
    canary_model.version = 4;
    let canary = Arc::new(Loaded::new(canary_model, &metrics, None));
    for percent in [0.0, 10.0, 25.0, 50.0, 100.0] {
        let slot = Slot {
            primary: Arc::clone(&primary),
            canary: Some((Arc::clone(&canary), percent)),
            routed: AtomicU64::new(0),
        };
        let picks: Vec<u32> = (0..1000).map(|_| slot.route().model.version).collect();
        let to_canary = picks.iter().filter(|v| **v == 4).count();
        assert_eq!(to_canary as f64, percent * 10.0, "{percent}%");
        // Every 100 consecutive requests hold the share.
        for window in picks.chunks(100) {
            assert_eq!(window.iter().filter(|v| **v == 4).count() as f64, percent);
        }
        assert_eq!(slot.version(4).map(|l| l.model.version), Some(4));
        assert_eq!(slot.version(3).map(|l| l.model.version), Some(3));
        assert!(slot.version(5).is_none());
    }
}

#[test]
fn metrics_are_prometheus_text_split_by_version_and_status() {
    let metrics = Metrics::new();
    let loaded = Loaded::new(model(true), &metrics, None);
    loaded.metrics.observe(200, Duration::from_micros(300));
    loaded.metrics.observe(200, Duration::from_millis(20));
    loaded.metrics.observe(400, Duration::from_micros(80));
    loaded.metrics.answered(&Scored::Classes {
        class: vec![1, 1, 0],
        proba: vec![0.0, 1.0, 0.2, 0.8, 0.9, 0.1],
        n_classes: 2,
    });
    let regressor = Loaded::new(model(false), &metrics, None);
    regressor
        .metrics
        .answered(&Scored::Values(vec![1.5, -3.0, 700.0]));
    metrics.response(Endpoint::Predict, 200);
    metrics.response(Endpoint::Predict, 413);
    let text = metrics.render(&[LogGauges {
        model: "churn".into(),
        queued_rows: 2,
        written_rows: 10,
        dropped_rows: 1,
        segments: 1,
        write_errors: 0,
    }]);
    let has = |line: &str| {
        assert!(
            text.lines().any(|l| l == line),
            "no line {line:?} in\n{text}"
        )
    };
    has(r#"cairn_http_requests_total{endpoint="predict",status="200"} 1"#);
    has(r#"cairn_http_requests_total{endpoint="predict",status="413"} 1"#);
    has(r#"cairn_requests_total{model="churn",version="3",status="200"} 2"#);
    has(r#"cairn_requests_total{model="churn",version="3",status="400"} 1"#);
    has(
        r#"cairn_request_duration_seconds_bucket{model="churn",version="3",status="200",le="0.0005"} 1"#,
    );
    has(
        r#"cairn_request_duration_seconds_bucket{model="churn",version="3",status="200",le="0.025"} 2"#,
    );
    has(
        r#"cairn_request_duration_seconds_bucket{model="churn",version="3",status="200",le="+Inf"} 2"#,
    );
    has(r#"cairn_request_duration_seconds_count{model="churn",version="3",status="200"} 2"#);
    has(r#"cairn_predictions_total{model="churn",version="3",class="yes"} 2"#);
    has(r#"cairn_predictions_total{model="churn",version="3",class="no"} 1"#);
    has(r#"cairn_rows_total{model="price",version="3"} 3"#);
    has(r#"cairn_prediction_value_bucket{model="price",version="3",le="2"} 2"#);
    has(r#"cairn_prediction_value_count{model="price",version="3"} 3"#);
    has(r#"cairn_prediction_value_sum{model="price",version="3"} 698.5"#);
    has(r#"cairn_prediction_log_dropped_rows_total{model="churn"} 1"#);
    assert!(text.contains("\nprocess_uptime_seconds "), "{text}");
    // On Linux the process figures are read from /proc.
    if cfg!(target_os = "linux") {
        for name in [
            "process_resident_memory_bytes",
            "process_open_fds",
            "process_cpu_seconds_total",
        ] {
            let value: f64 = text
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{name} ")))
                .unwrap_or_else(|| panic!("no {name}"))
                .parse()
                .unwrap();
            assert!(
                value > 0.0 || name == "process_cpu_seconds_total",
                "{name} {value}"
            );
        }
    }
    // A version loaded again keeps its counters.
    let again = Loaded::new(model(true), &metrics, None);
    assert!(Arc::ptr_eq(&again.metrics, &loaded.metrics));
}
