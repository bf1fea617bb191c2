//! The log's behaviour through its public API: what goes in comes out, rotation, the queue,
//! write errors, closing, a killed writer, feedback, and format versions.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use polars::prelude::{DataFrame, DataType, TimeUnit, TimeZone};

use crate::segment::{NameError, parse_segment_name};
use crate::*;

/// A model version as the server would hold it: its names and labels shared by every batch.
struct Model {
    digest: Arc<str>,
    amount: Arc<str>,
    plan: Arc<str>,
    labels: Arc<[String]>,
}

fn model(digest: &str) -> Model {
    Model {
        digest: digest.into(),
        amount: "amount".into(),
        plan: "plan".into(),
        labels: vec!["false".to_owned(), "true".to_owned()].into(),
    }
}

/// A classifier's batch of `rows` rows: amount = ts + row (null on row 1), plan cycles
/// through a, b, null; class = row % 2; probabilities 0.25 / 0.75 swapped by class.
fn batch(m: &Model, request: &str, ts_us: i64, version: u32, rows: usize) -> PredictionBatch {
    let amount = (0..rows)
        .map(|i| (i != 1).then_some(ts_us as f64 + i as f64))
        .collect();
    let plan = (0..rows)
        .map(|i| ["a", "b"].get(i % 3).map(|s| (*s).to_owned()))
        .collect();
    let class: Vec<usize> = (0..rows).map(|i| i % 2).collect();
    let proba = class
        .iter()
        .flat_map(|&c| if c == 0 { [0.75, 0.25] } else { [0.25, 0.75] })
        .collect();
    PredictionBatch {
        request_id: request.to_owned(),
        ts_us,
        version,
        digest: m.digest.clone(),
        inputs: vec![
            Column {
                name: m.amount.clone(),
                values: Values::Number(amount),
            },
            Column {
                name: m.plan.clone(),
                values: Values::Text(plan),
            },
        ],
        imputed: (0..rows)
            .map(|i| {
                if i == 1 {
                    vec!["amount".to_owned()]
                } else {
                    Vec::new()
                }
            })
            .collect(),
        prediction: Predicted::Classes {
            labels: m.labels.clone(),
            class,
            proba: Some(proba),
        },
    }
}

fn options(segment_rows: usize, queue_rows: usize) -> LogOptions {
    LogOptions {
        segment_rows,
        segment_age: Duration::from_secs(3600),
        queue_rows,
    }
}

fn log_dir() -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("predictions").join("fraud");
    (root, dir)
}

/// Waits until the writer has taken everything logged before.
fn settle(log: &PredictionLog) {
    drop(log.pause());
}

/// The files in `dir` whose names end in `suffix`.
fn files(dir: &Path, suffix: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.file_name().to_str().map(str::to_owned))
                .filter(|n| n.ends_with(suffix))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn strings(frame: &DataFrame, column: &str) -> Vec<Option<String>> {
    frame
        .column(column)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|v| v.map(str::to_owned))
        .collect()
}

fn floats(frame: &DataFrame, column: &str) -> Vec<Option<f64>> {
    frame
        .column(column)
        .unwrap()
        .f64()
        .unwrap()
        .iter()
        .collect()
}

fn u32s(frame: &DataFrame, column: &str) -> Vec<Option<u32>> {
    frame
        .column(column)
        .unwrap()
        .u32()
        .unwrap()
        .iter()
        .collect()
}

fn timestamps(frame: &DataFrame) -> Vec<i64> {
    let ts = frame.column(columns::TS).unwrap().datetime().unwrap();
    ts.physical().iter().map(|v| v.unwrap()).collect()
}

#[test]
fn rows_come_back_as_logged_with_exact_types() {
    let (_root, dir) = log_dir();
    let log = PredictionLog::open(&dir, &LogOptions::default()).unwrap();
    let m = model("d1");
    log.log(batch(&m, "r1", 1_000, 3, 3)).unwrap();
    log.log(batch(&m, "r2", 2_000, 3, 1)).unwrap();
    let stats = log.close().unwrap();
    assert_eq!(stats.predictions.accepted_rows, 4);
    assert_eq!(stats.predictions.written_rows, 4);
    assert_eq!(stats.predictions.segments, 1);
    assert_eq!(stats.write_errors, 0);

    let frame = read(&dir, &ReadOptions::default()).unwrap();
    let utc = DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC));
    let expected = [
        ("request_id", DataType::String),
        ("row", DataType::UInt32),
        ("ts", utc),
        ("model", DataType::String),
        ("version", DataType::UInt32),
        ("digest", DataType::String),
        ("input_amount", DataType::Float64),
        ("input_plan", DataType::String),
        ("imputed", DataType::List(Box::new(DataType::String))),
        ("prediction", DataType::String),
        ("prediction_index", DataType::UInt32),
        ("proba_false", DataType::Float64),
        ("proba_true", DataType::Float64),
    ];
    let schema: Vec<(String, DataType)> = frame
        .schema()
        .iter()
        .map(|(n, d)| (n.to_string(), d.clone()))
        .collect();
    let expected: Vec<(String, DataType)> = expected
        .into_iter()
        .map(|(n, d)| (n.to_owned(), d))
        .collect();
    assert_eq!(schema, expected);
    let some = |v: &[&str]| v.iter().map(|s| Some((*s).to_owned())).collect::<Vec<_>>();
    assert_eq!(
        strings(&frame, "request_id"),
        some(&["r1", "r1", "r1", "r2"])
    );
    assert_eq!(u32s(&frame, "row"), [Some(0), Some(1), Some(2), Some(0)]);
    assert_eq!(timestamps(&frame), [1_000, 1_000, 1_000, 2_000]);
    assert_eq!(strings(&frame, "model"), some(&["fraud"; 4]));
    assert_eq!(u32s(&frame, "version"), [Some(3); 4]);
    assert_eq!(strings(&frame, "digest"), some(&["d1"; 4]));
    assert_eq!(
        floats(&frame, "input_amount"),
        [Some(1_000.0), None, Some(1_002.0), Some(2_000.0)]
    );
    assert_eq!(
        strings(&frame, "input_plan"),
        [
            Some("a".to_owned()),
            Some("b".to_owned()),
            None,
            Some("a".to_owned())
        ]
    );
    let imputed: Vec<Vec<String>> = frame
        .column("imputed")
        .unwrap()
        .list()
        .unwrap()
        .amortized_iter()
        .map(|l| {
            l.unwrap()
                .as_ref()
                .str()
                .unwrap()
                .iter()
                .map(|s| s.unwrap().to_owned())
                .collect()
        })
        .collect();
    assert_eq!(imputed, [vec![], vec!["amount".to_owned()], vec![], vec![]]);
    assert_eq!(
        strings(&frame, "prediction"),
        some(&["false", "true", "false", "false"])
    );
    assert_eq!(
        u32s(&frame, "prediction_index"),
        [Some(0), Some(1), Some(0), Some(0)]
    );
    assert_eq!(
        floats(&frame, "proba_true"),
        [Some(0.25), Some(0.75), Some(0.25), Some(0.25)]
    );
    assert_eq!(input_names(&frame), ["amount", "plan"]);
}

#[test]
fn a_regressor_logs_its_values_and_no_probabilities() {
    let (_root, dir) = log_dir();
    let log = PredictionLog::open(&dir, &LogOptions::default()).unwrap();
    let x: Arc<str> = "x".into();
    log.log(PredictionBatch {
        request_id: "r".into(),
        ts_us: 5,
        version: 1,
        digest: "d".into(),
        inputs: vec![Column {
            name: x,
            values: Values::Number(vec![Some(1.5), Some(-2.0)]),
        }],
        imputed: Vec::new(),
        prediction: Predicted::Values(vec![0.125, f64::MAX]),
    })
    .unwrap();
    log.close().unwrap();
    let frame = read(&dir, &ReadOptions::default()).unwrap();
    assert_eq!(
        frame.column("prediction").unwrap().dtype(),
        &DataType::Float64
    );
    assert_eq!(floats(&frame, "prediction"), [Some(0.125), Some(f64::MAX)]);
    assert_eq!(floats(&frame, "input_x"), [Some(1.5), Some(-2.0)]);
    assert!(frame.column("prediction_index").is_err());
    assert!(
        !frame
            .get_column_names()
            .iter()
            .any(|c| c.starts_with(PROBA_PREFIX))
    );
}

#[test]
fn segments_rotate_by_rows_without_splitting_a_request() {
    let (_root, dir) = log_dir();
    let log = PredictionLog::open(&dir, &options(3, 1_000)).unwrap();
    let m = model("d");
    for i in 0..5 {
        log.log(batch(&m, &format!("r{i}"), i, 1, 2)).unwrap();
    }
    settle(&log);
    // 2 + 2 ≥ 3 completes a segment, twice; the fifth request is still open.
    assert_eq!(files(&dir, ".parquet").len(), 2);
    let stats = log.stats();
    assert_eq!(stats.predictions.written_rows, 8);
    assert_eq!(stats.predictions.buffered_rows, 2);
    let stats = log.close().unwrap();
    assert_eq!(stats.predictions.segments, 3);
    assert_eq!(stats.predictions.buffered_rows, 0);
    let frame = read(&dir, &ReadOptions::default()).unwrap();
    assert_eq!(frame.height(), 10);
    assert_eq!(timestamps(&frame), [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]);
}

#[test]
fn segments_rotate_by_age() {
    let (_root, dir) = log_dir();
    let log = PredictionLog::open(
        &dir,
        &LogOptions {
            segment_rows: 1_000,
            segment_age: Duration::from_millis(20),
            queue_rows: 1_000,
        },
    )
    .unwrap();
    log.log(batch(&model("d"), "r", 7, 1, 2)).unwrap();
    // The segment is completed by age while the log stays open (no more rows arrive).
    let start = Instant::now();
    while log.stats().predictions.segments == 0 && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(log.stats().predictions.segments, 1);
    assert_eq!(
        read(&dir, &ReadOptions::default()).unwrap().height(),
        2,
        "readable before close"
    );
    log.close().unwrap();
}

#[test]
fn each_version_has_its_own_segments_and_a_new_schema_starts_a_new_one() {
    let (_root, dir) = log_dir();
    let log = PredictionLog::open(&dir, &LogOptions::default()).unwrap();
    let v1 = model("d1");
    let v2 = model("d2");
    // A canary: two versions interleaved write one segment each, not one per switch.
    for i in 0..6 {
        let (m, version) = if i % 2 == 0 { (&v1, 1) } else { (&v2, 2) };
        log.log(batch(m, &format!("r{i}"), i, version, 1)).unwrap();
    }
    settle(&log);
    assert!(files(&dir, ".parquet").is_empty());
    // Version 2 again with another input schema: its open segment is completed first.
    let mut other = batch(&v2, "r6", 6, 2, 1);
    other.inputs.pop();
    log.log(other).unwrap();
    settle(&log);
    assert_eq!(files(&dir, ".parquet").len(), 1);
    let stats = log.close().unwrap();
    assert_eq!(stats.predictions.segments, 3);

    let all = read(&dir, &ReadOptions::default()).unwrap();
    assert_eq!(all.height(), 7);
    assert_eq!(timestamps(&all), [0, 1, 2, 3, 4, 5, 6]);
    // The last row has no `plan` input: null there.
    assert_eq!(strings(&all, "input_plan")[6], None);
    let two = read(
        &dir,
        &ReadOptions {
            version: Some(2),
            ..ReadOptions::default()
        },
    )
    .unwrap();
    assert_eq!(u32s(&two, "version"), [Some(2); 4]);
    assert_eq!(strings(&two, "digest")[0].as_deref(), Some("d2"));
    let window = read(
        &dir,
        &ReadOptions {
            since: Some(2),
            until: Some(5),
            version: None,
        },
    )
    .unwrap();
    assert_eq!(timestamps(&window), [2, 3, 4]);
}

#[test]
fn a_full_queue_drops_and_counts_without_blocking() {
    let (_root, dir) = log_dir();
    let log = PredictionLog::open(&dir, &options(1_000, 10)).unwrap();
    let m = model("d");
    let resume = log.pause();
    let mut dropped = Vec::new();
    for i in 0..5 {
        if let Err(e) = log.log(batch(&m, &format!("r{i}"), i, 1, 3)) {
            dropped.push(e);
        }
    }
    // Three batches of 3 rows fit in 10 rows; the other two are refused at once.
    let full = Dropped {
        rows: 3,
        reason: DropReason::QueueFull,
    };
    assert_eq!(dropped, [full.clone(), full]);
    let stats = log.stats();
    assert_eq!(stats.queued_rows, 9);
    assert_eq!(stats.queue_capacity_rows, 10);
    assert_eq!(stats.predictions.dropped_rows, 6);
    assert_eq!(stats.predictions.accepted_rows, 9);
    drop(resume);
    let stats = log.close().unwrap();
    assert_eq!(stats.queued_rows, 0);
    assert_eq!(stats.predictions.written_rows, 9);
    assert_eq!(read(&dir, &ReadOptions::default()).unwrap().height(), 9);
}

#[test]
fn an_unwritable_directory_counts_errors_and_the_log_recovers() {
    let (root, dir) = log_dir();
    // A file where the directory should be: nothing can be created in it (even by root).
    std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
    cairn_store::atomic::write_atomic_beside(&dir, b"in the way", 0o644).unwrap();
    let log = PredictionLog::open(&dir, &options(2, 100)).unwrap();
    let m = model("d");
    log.log(batch(&m, "r1", 1, 1, 2)).unwrap();
    log.log(batch(&m, "r2", 2, 1, 2)).unwrap();
    settle(&log);
    let stats = log.stats();
    assert_eq!(stats.write_errors, 2);
    assert_eq!(stats.predictions.lost_rows, 4);
    assert_eq!(stats.predictions.written_rows, 0);
    let error = stats.last_error.unwrap();
    assert!(error.contains("cannot create a segment in"), "{error}");
    assert!(error.contains(&dir.display().to_string()), "{error}");
    // Still accepting while it cannot write.
    assert_eq!(log.log(batch(&m, "r3", 3, 1, 1)), Ok(()));
    std::fs::remove_file(&dir).unwrap();
    log.log(batch(&m, "r4", 4, 1, 1)).unwrap();
    let stats = log.close().unwrap();
    assert_eq!(stats.write_errors, 2);
    assert_eq!(stats.predictions.written_rows, 2);
    let frame = read(&dir, &ReadOptions::default()).unwrap();
    assert_eq!(
        strings(&frame, "request_id"),
        [Some("r3".into()), Some("r4".into())]
    );
    drop(root);
}

#[test]
fn close_writes_everything_queued_and_buffered() {
    let (_root, dir) = log_dir();
    let log = PredictionLog::open(&dir, &LogOptions::default()).unwrap();
    let other = log.clone();
    let m = model("d");
    for i in 0..200 {
        log.log(batch(&m, &format!("r{i}"), i, 1, 3)).unwrap();
    }
    other
        .feedback(FeedbackBatch {
            ts_us: 1,
            records: vec![Feedback {
                request_id: "r0".into(),
                row: 0,
                label: FeedbackLabel::Text("true".into()),
            }],
        })
        .unwrap();
    let stats = log.close().unwrap();
    assert_eq!(stats.queued_rows, 0);
    assert_eq!(stats.predictions.buffered_rows, 0);
    assert_eq!(stats.predictions.written_rows, 600);
    assert_eq!(stats.feedback.written_rows, 1);
    assert!(files(&dir, ".tmp").is_empty());
    assert_eq!(read(&dir, &ReadOptions::default()).unwrap().height(), 600);
    assert_eq!(
        read_feedback(&dir, &ReadOptions::default())
            .unwrap()
            .height(),
        1
    );
    // The other handle is refused from now on, and counts it.
    let e = other.log(batch(&m, "late", 1, 1, 1)).unwrap_err();
    assert_eq!(e.reason, DropReason::Closed);
    assert_eq!(other.stats().predictions.dropped_rows, 1);
    assert_eq!(other.close().unwrap().predictions.written_rows, 600);
}

#[test]
fn a_killed_writer_leaves_no_partial_segment_visible() {
    let (_root, dir) = log_dir();
    let log = PredictionLog::open(&dir, &LogOptions::default()).unwrap();
    let v1 = model("d1");
    let v1b = model("d1b");
    log.log(batch(&v1, "complete", 1, 1, 5)).unwrap();
    // Another artifact under version 1 completes the first segment.
    log.log(batch(&v1b, "open", 2, 1, 3)).unwrap();
    // Enough rows for a row group: the open segment has a temporary file, without a footer.
    log.log(batch(&v1b, "big", 3, 1, 20_000)).unwrap();
    settle(&log);
    log.abort();
    assert_eq!(files(&dir, ".parquet").len(), 1);
    let temporaries = files(&dir, ".tmp");
    assert_eq!(temporaries.len(), 1);
    let frame = read(&dir, &ReadOptions::default()).unwrap();
    assert_eq!(
        strings(&frame, "request_id"),
        vec![Some("complete".to_owned()); 5]
    );
    // A writer opening the log removes temporary files of processes that are gone (not of
    // this one, which still runs).
    let stale = dir.join("4294967295-0.tmp");
    cairn_store::atomic::write_atomic_beside(&stale, b"torn", 0o644).unwrap();
    let log = PredictionLog::open(&dir, &LogOptions::default()).unwrap();
    assert!(!stale.exists());
    assert_eq!(files(&dir, ".tmp"), temporaries);
    log.close().unwrap();
}

#[test]
fn a_log_dropped_without_close_completes_its_segments_in_the_background() {
    let (_root, dir) = log_dir();
    let log = PredictionLog::open(&dir, &LogOptions::default()).unwrap();
    log.log(batch(&model("d"), "r", 1, 1, 2)).unwrap();
    drop(log);
    let start = Instant::now();
    while files(&dir, ".parquet").is_empty() && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(read(&dir, &ReadOptions::default()).unwrap().height(), 2);
}

#[test]
fn the_handle_can_be_shared_between_threads() {
    fn shared<T: Clone + Send + Sync + 'static>() {}
    shared::<PredictionLog>();
    let (_root, dir) = log_dir();
    let log = PredictionLog::open(&dir, &LogOptions::default()).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                let m = model("d");
                for i in 0..50 {
                    log.log(batch(&m, &format!("t{t}-{i}"), i, 1, 1)).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(log.close().unwrap().predictions.written_rows, 200);
    assert_eq!(read(&dir, &ReadOptions::default()).unwrap().height(), 200);
}

#[test]
fn feedback_is_attached_to_its_predictions() {
    let (_root, dir) = log_dir();
    let log = PredictionLog::open(&dir, &LogOptions::default()).unwrap();
    let m = model("d");
    log.log(batch(&m, "a", 10, 1, 2)).unwrap();
    log.log(batch(&m, "b", 20, 1, 1)).unwrap();
    let label = |request: &str, row, text: &str| Feedback {
        request_id: request.into(),
        row,
        label: FeedbackLabel::Text(text.into()),
    };
    log.feedback(FeedbackBatch {
        ts_us: 100,
        records: vec![label("a", 1, "false"), label("b", 0, "false")],
    })
    .unwrap();
    // A second label for b/0 replaces the first.
    log.feedback(FeedbackBatch {
        ts_us: 200,
        records: vec![label("b", 0, "true"), label("unknown", 0, "true")],
    })
    .unwrap();
    log.close().unwrap();
    assert_eq!(files(&dir.join(FEEDBACK_DIR), ".parquet").len(), 1);
    let feedback = read_feedback(&dir, &ReadOptions::default()).unwrap();
    assert_eq!(feedback.height(), 4);
    assert_eq!(feedback.column("label").unwrap().dtype(), &DataType::String);
    let predictions = read(&dir, &ReadOptions::default()).unwrap();
    let joined = attach_feedback(&predictions, &feedback).unwrap();
    assert_eq!(joined.height(), 3);
    assert_eq!(
        strings(&joined, "request_id"),
        [Some("a".into()), Some("a".into()), Some("b".into())]
    );
    assert_eq!(
        strings(&joined, "label"),
        [None, Some("false".into()), Some("true".into())]
    );
    let label_ts: Vec<Option<i64>> = joined
        .column(columns::LABEL_TS)
        .unwrap()
        .datetime()
        .unwrap()
        .physical()
        .iter()
        .collect();
    assert_eq!(label_ts, [None, Some(100), Some(200)]);
    // Accuracy from the joined frame: the prediction of a/1 was "true", its label "false".
    assert_eq!(strings(&joined, "prediction")[1].as_deref(), Some("true"));
}

#[test]
fn numeric_feedback_labels_stay_numbers() {
    let (_root, dir) = log_dir();
    let log = PredictionLog::open(&dir, &LogOptions::default()).unwrap();
    log.feedback(FeedbackBatch {
        ts_us: 1,
        records: vec![Feedback {
            request_id: "r".into(),
            row: 0,
            label: FeedbackLabel::Number(2.5),
        }],
    })
    .unwrap();
    log.close().unwrap();
    let feedback = read_feedback(&dir, &ReadOptions::default()).unwrap();
    assert_eq!(floats(&feedback, "label"), [Some(2.5)]);
}

#[test]
fn a_malformed_batch_is_refused_and_counted() {
    let (_root, dir) = log_dir();
    let log = PredictionLog::open(&dir, &LogOptions::default()).unwrap();
    let m = model("d");
    let mut short = batch(&m, "r", 1, 1, 3);
    if let Values::Number(v) = &mut short.inputs[0].values {
        v.pop();
    }
    let e = log.log(short).unwrap_err();
    assert!(
        matches!(&e.reason, DropReason::Invalid(why) if why.contains("input `amount` has 2 values for 3 predictions")),
        "{e}"
    );
    let mut out_of_range = batch(&m, "r", 1, 1, 1);
    if let Predicted::Classes { class, .. } = &mut out_of_range.prediction {
        class[0] = 2;
    }
    assert!(matches!(
        log.log(out_of_range).unwrap_err().reason,
        DropReason::Invalid(_)
    ));
    // Two inputs with one name are found by the writer, once per schema.
    let mut twice = batch(&m, "r", 1, 1, 2);
    twice.inputs[1].name = m.amount.clone();
    twice.inputs[1].values = Values::Number(vec![None, None]);
    log.log(twice).unwrap();
    let stats = log.close().unwrap();
    assert_eq!(stats.predictions.invalid_rows, 6);
    assert_eq!(stats.predictions.written_rows, 0);
    assert_eq!(stats.predictions.accepted_rows, 0);
    assert_eq!(stats.write_errors, 0);
    let error = stats.last_error.unwrap();
    assert!(error.contains("`input_amount`"), "{error}");
}

#[test]
fn a_log_that_does_not_exist_reads_as_no_rows() {
    let (_root, dir) = log_dir();
    let frame = read(&dir, &ReadOptions::default()).unwrap();
    assert_eq!(frame.height(), 0);
    assert!(frame.column(columns::REQUEST_ID).is_ok());
    let feedback = read_feedback(&dir, &ReadOptions::default()).unwrap();
    assert_eq!(feedback.height(), 0);
    assert!(
        attach_feedback(&frame, &feedback)
            .unwrap()
            .column("label")
            .is_ok()
    );
}

#[test]
fn a_segment_of_a_newer_format_is_refused() {
    let (_root, dir) = log_dir();
    let log = PredictionLog::open(&dir, &LogOptions::default()).unwrap();
    log.log(batch(&model("d"), "r", 1, 1, 1)).unwrap();
    log.close().unwrap();
    let name = files(&dir, ".parquet").remove(0);
    let newer = dir.join(name.replacen("v1_", "v2_", 1));
    std::fs::rename(dir.join(&name), &newer).unwrap();
    let e = read(&dir, &ReadOptions::default()).unwrap_err();
    assert!(matches!(&e, ReadError::Newer { found: 2, .. }), "{e}");
    assert!(
        e.to_string()
            .contains("has format version 2, but this cairn reads version 1"),
        "{e}"
    );

    // The version in the metadata counts too, under a current name.
    std::fs::remove_file(&newer).unwrap();
    let mut frame = polars::df!("request_id" => ["r"]).unwrap();
    let mut bytes = Vec::new();
    polars::prelude::ParquetWriter::new(&mut bytes)
        .with_key_value_metadata(Some(polars::prelude::KeyValueMetadata::from_static(vec![
            (FORMAT_KEY.into(), "7".into()),
        ])))
        .finish(&mut frame)
        .unwrap();
    let path = dir.join("v1_0000000000000001_0000000000000001_1_1.parquet");
    cairn_store::atomic::write_atomic_beside(&path, &bytes, 0o644).unwrap();
    let e = read(&dir, &ReadOptions::default()).unwrap_err();
    assert!(matches!(&e, ReadError::Newer { found: 7, .. }), "{e}");

    // Another Parquet file is not taken for a segment.
    std::fs::rename(&path, dir.join("export.parquet")).unwrap();
    let e = read(&dir, &ReadOptions::default()).unwrap_err();
    assert!(matches!(&e, ReadError::NotASegment { .. }), "{e}");
}

#[test]
fn segment_names_sort_by_time_and_carry_the_format() {
    let a = segment::segment_name(5, 9);
    let b = segment::segment_name(10, 11);
    assert!(a < b, "{a} {b}");
    assert_eq!(
        parse_segment_name(&a),
        Some(Ok(segment::SegmentName {
            format: 1,
            min_ts: 5,
            max_ts: 9
        }))
    );
    assert_eq!(parse_segment_name("1234-5.tmp"), None);
    assert_eq!(
        parse_segment_name("v12_anything.parquet"),
        Some(Err(NameError::Newer(12)))
    );
    assert_eq!(
        parse_segment_name("v1_x_y.parquet"),
        Some(Err(NameError::Unrecognised))
    );
}

#[test]
fn options_that_cannot_work_are_refused() {
    let (_root, dir) = log_dir();
    for bad in [
        LogOptions {
            segment_rows: 0,
            ..LogOptions::default()
        },
        LogOptions {
            queue_rows: 0,
            ..LogOptions::default()
        },
        LogOptions {
            segment_age: Duration::ZERO,
            ..LogOptions::default()
        },
    ] {
        assert!(matches!(
            PredictionLog::open(&dir, &bad),
            Err(LogError::Options(_))
        ));
    }
    assert!(matches!(
        PredictionLog::open(Path::new("/"), &LogOptions::default()),
        Err(LogError::Dir { .. })
    ));
}
