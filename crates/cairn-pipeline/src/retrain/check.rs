//! The retrain's first step: drift of the production version's recent predictions against
//! its training data, and its performance on the predictions that got feedback labels.

use cairn_core::Project;
use cairn_core::models::Metric;
use cairn_core::retrain::{RetrainSpec, smaller_is_better};
use cairn_drift::record::ModelChecked;
use cairn_drift::{DriftOptions, LoggedPredictions, Table, Training};
use cairn_model::artifact::{Artifact, Task};
use cairn_predlog::{ReadOptions, columns};
use cairn_registry::Resolved;
use polars::prelude::*;

use super::{DriftFinding, PerformanceFinding, RetrainProgress};

pub(super) type Findings = (Option<DriftFinding>, Option<PerformanceFinding>, String);

/// The check: drift of the window's predictions, and performance on the labelled ones.
pub(super) fn check(
    project: &Project,
    model: &str,
    policy: &RetrainSpec,
    production: &Resolved,
    since: i64,
    progress: &dyn RetrainProgress,
) -> Result<Findings, String> {
    let dir = project.state_dir().join("predictions").join(model);
    let artifact = cairn_registry::load_artifact(project, production).map_err(|e| e.to_string())?;
    let logged = if dir.is_dir() {
        cairn_predlog::read(
            &dir,
            &ReadOptions {
                since: Some(since),
                until: None,
                version: Some(production.version),
            },
        )
        .map_err(|e| e.to_string())?
    } else {
        DataFrame::empty()
    };
    if logged.height() == 0 {
        return Ok((
            None,
            None,
            format!(
                "no predictions of version {} logged in the last {}",
                production.version, policy.window
            ),
        ));
    }
    let entry = &production.entry;
    let config = project
        .config()
        .drift
        .get(model)
        .cloned()
        .map(|spec| (model.to_owned(), spec));
    let checked = cairn_drift::check(DriftOptions {
        reference: Table::Training(Training {
            store: project.store().map_err(|e| e.to_string())?,
            root: project.root().to_path_buf(),
            model: model.to_owned(),
            version: production.version,
            run: entry.run.clone(),
            data: entry.data.clone(),
            features: entry.features.clone(),
        }),
        current: Table::Predictions(LoggedPredictions {
            dir: dir.clone(),
            model: model.to_owned(),
            version: production.version,
            since: Some(since),
        }),
        config,
        model: Some(ModelChecked {
            name: model.to_owned(),
            version: production.version,
            run: entry.run.clone(),
            artifact: entry.artifact,
        }),
        columns: Some(
            artifact
                .header
                .inputs
                .iter()
                .map(|i| i.name.clone())
                .collect(),
        ),
        predict_with: Some(&artifact),
        record_in: Some((project, progress)),
        report: None,
    })
    .map_err(|e| e.to_string())?;
    let record = &checked.record;
    let drift = DriftFinding {
        version: production.version,
        rows: record.current.rows,
        compared: record.compared,
        drifted: record.drifted,
        dataset_drift: record.dataset_drift,
        columns: record.drifted_columns().map(|c| c.column.clone()).collect(),
        record: checked.digest.map(|d| d.to_hex()),
    };
    let mut detail = format!(
        "{} predictions: {} of {} columns drifted{}",
        drift.rows,
        drift.drifted,
        drift.compared,
        if drift.dataset_drift {
            " (dataset drift)"
        } else {
            ""
        }
    );

    // performance, where labels arrived
    let feedback = cairn_predlog::read_feedback(
        &dir,
        &ReadOptions {
            since: None,
            until: None,
            version: None,
        },
    )
    .map_err(|e| e.to_string())?;
    let performance = if feedback.height() == 0 {
        detail.push_str("; no feedback labels");
        None
    } else {
        let joined =
            cairn_predlog::attach_feedback(&logged, &feedback).map_err(|e| e.to_string())?;
        let metric = policy.metric.unwrap_or(match artifact.header.task {
            Task::Classification { .. } => Metric::Accuracy,
            Task::Regression => Metric::Rmse,
        });
        match production_metric(&joined, &artifact, metric)? {
            None => {
                detail.push_str("; no labelled prediction in the window");
                None
            }
            Some((value, labelled)) => {
                let bytes = project
                    .store()
                    .and_then(|s| s.read(&entry.record))
                    .map_err(|e| e.to_string())?;
                let run =
                    cairn_train::parse_run_record(&entry.run, &bytes).map_err(|e| e.to_string())?;
                let baseline = run.metrics.get(metric.as_str()).copied().ok_or_else(|| {
                    format!(
                        "run {} of {model}@{} recorded no {}: nothing to compare the production figure with",
                        run.id,
                        production.version,
                        metric.as_str()
                    )
                })?;
                let dropped = if smaller_is_better(metric) {
                    value > baseline / policy.min_ratio
                } else {
                    value < baseline * policy.min_ratio
                };
                detail.push_str(&format!(
                    "; {} {value:.4} on {labelled} labelled (recorded {baseline:.4}){}",
                    metric.as_str(),
                    if dropped { ", dropped" } else { "" }
                ));
                Some(PerformanceFinding {
                    version: production.version,
                    metric,
                    labelled,
                    production: value,
                    baseline,
                    min_ratio: policy.min_ratio,
                    dropped,
                })
            }
        }
    };
    Ok((Some(drift), performance, detail))
}

/// `metric` of the predictions that have a label: its value and the number of labelled rows;
/// `None` without any.
fn production_metric(
    joined: &DataFrame,
    artifact: &Artifact,
    metric: Metric,
) -> Result<Option<(f64, u64)>, String> {
    let column = |name: &str| joined.column(name).map_err(|e| e.to_string());
    let label = column(columns::LABEL)?;
    let prediction = column(columns::PREDICTION)?;
    match &artifact.header.task {
        Task::Classification { labels } => {
            let names: Vec<String> = labels.iter().map(ToString::to_string).collect();
            let index = |s: &str| names.iter().position(|n| n == s);
            let label = label.cast(&DataType::String).map_err(|e| e.to_string())?;
            let prediction = prediction
                .cast(&DataType::String)
                .map_err(|e| e.to_string())?;
            let (label, prediction) = (
                label.str().map_err(|e| e.to_string())?,
                prediction.str().map_err(|e| e.to_string())?,
            );
            let n = names.len();
            let mut truth = Vec::new();
            let mut proba = Vec::new();
            for (l, p) in label.iter().zip(prediction.iter()) {
                let (Some(l), Some(p)) = (l, p) else { continue };
                // A label the model never saw counts as a wrong answer of class l.
                let (Some(t), Some(p)) = (index(l), index(p)) else {
                    continue;
                };
                truth.push(t as u32);
                proba.extend((0..n).map(|c| if c == p { 1.0 } else { 0.0 }));
            }
            if truth.is_empty() {
                return Ok(None);
            }
            let m = cairn_model::metrics::classification(&truth, &proba, n);
            Ok(m.get(metric).map(|v| (v, truth.len() as u64)))
        }
        Task::Regression => {
            let label = label.cast(&DataType::Float64).map_err(|e| e.to_string())?;
            let prediction = prediction
                .cast(&DataType::Float64)
                .map_err(|e| e.to_string())?;
            let (label, prediction) = (
                label.f64().map_err(|e| e.to_string())?,
                prediction.f64().map_err(|e| e.to_string())?,
            );
            let (mut truth, mut predicted) = (Vec::new(), Vec::new());
            for (l, p) in label.iter().zip(prediction.iter()) {
                if let (Some(l), Some(p)) = (l, p) {
                    truth.push(l);
                    predicted.push(p);
                }
            }
            if truth.is_empty() {
                return Ok(None);
            }
            let m = cairn_model::metrics::regression(&truth, &predicted);
            Ok(m.get(metric).map(|v| (v, truth.len() as u64)))
        }
    }
}
