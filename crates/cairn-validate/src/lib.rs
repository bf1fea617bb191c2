//! Deployment gates: a model version is scored on rows (its run's held-out rows, rebuilt, or a
//! table given), and every gate its spec declares in `[model.NAME.gates]` gives a verdict:
//! metric thresholds, fairness across the groups of a column, no regression against the
//! production version, determinism, single-row latency; the schema check comes first. The
//! outcome is a validation record (docs/formats/validation.md), stored under its digest.
//!
//! This crate does not know the registry nor how runs are trained: the caller resolves the
//! version, loads its artifact (and the production version's), rebuilds the held-out rows
//! (`cairn_train::held_out`) and records the verdict in the registry. Libraries never print.

mod data;
mod error;
mod gates;
mod latency;
mod record;
mod score;

#[cfg(test)]
mod tests;

use std::time::Instant;

use cairn_core::models::{Gates, Metric};
use cairn_core::time::{format_micros, now_micros};
use cairn_model::artifact::{Artifact, Task};
use cairn_store::{Digest, Store};

pub use data::Data;
pub use error::ValidateError;
pub use latency::WARMUP_CALLS;
pub use record::{
    DataSource, DeterminismDetail, DeterminismMeasured, FairnessDetail, FairnessThreshold, Figures,
    GateResult, GateStatus, GroupRow, InputCheck, LatencyDetail, LatencyMeasured, LatencyThreshold,
    NoRegressionDetail, NoRegressionThreshold, SchemaDetail, VALIDATION_FORMAT, ValidationRecord,
    read_record, store_record,
};

use crate::score::Scored;

/// The production version of the model, for the no_regression gate.
#[derive(Clone, Copy)]
pub enum Production<'a> {
    /// No version is in production.
    None,
    /// The version validated is the production version.
    This,
    Version {
        version: u32,
        artifact_digest: Digest,
        artifact: &'a Artifact,
    },
}

/// What to validate, against which gates, on which rows.
pub struct ValidateOptions<'a> {
    /// The registered model name and version.
    pub model: &'a str,
    pub version: u32,
    pub artifact: &'a Artifact,
    pub artifact_digest: Digest,
    /// The run that trained the version.
    pub run: &'a str,
    /// The `[model.SPEC]` that trained it, whose gates these are.
    pub spec: &'a str,
    pub gates: &'a Gates,
    pub data: Data,
    pub production: Production<'a>,
}

/// A validation, stored: the record's digest and the record (serialized as one object: the
/// digest beside the record's fields).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Validated {
    /// The record's digest in the store.
    pub digest: Digest,
    #[serde(flatten)]
    pub record: ValidationRecord,
}

/// Runs the gates ([`run_gates`]) and stores the record in `store`. Bad input stores nothing.
pub fn validate(store: &Store, options: ValidateOptions<'_>) -> Result<Validated, ValidateError> {
    let record = run_gates(options)?;
    let digest = store_record(store, &record)?;
    Ok(Validated { record, digest })
}

/// Runs every declared gate on the rows and returns the record (not stored).
///
/// Bad input is an error, found before anything is measured: data that cannot be read or has
/// no rows, a missing or unusable input column (the schema gate) or target, a gate whose
/// metric does not fit the model's task, a fairness group column that is missing or holds a
/// single group. A gate that fails is in the record, not an error.
pub fn run_gates(options: ValidateOptions<'_>) -> Result<ValidationRecord, ValidateError> {
    let clock = Instant::now();
    let started = format_micros(now_micros());
    let ValidateOptions {
        model,
        version,
        artifact,
        artifact_digest,
        run,
        spec,
        gates,
        data,
        production,
    } = options;
    check_task(gates, artifact, spec, model, version)?;
    let (frame, source) = data.read()?;
    if frame.height() == 0 {
        return Err(ValidateError::NoRows {
            source_name: source.describe(),
        });
    }
    let (x, schema) = data::encode(&frame, artifact, model, version)?;
    let truth = data::truth(&frame, &artifact.header.target, &artifact.header.task)?;
    let groups = gates
        .fairness
        .as_ref()
        .map(|g| gates::fairness_groups(&frame, spec, g))
        .transpose()?;

    let predictions = artifact.predict_matrix(&x);
    let scored = Scored {
        truth: &truth,
        predictions: &predictions,
    };
    let all = scored.all();
    let mut results = vec![GateResult::new(
        "schema",
        GateStatus::Passed,
        Figures::Schema { detail: schema },
    )];
    for metric in Metric::ALL {
        if let Some(bounds) = gates.metrics.get(&metric) {
            results.push(gates::metric(metric, *bounds, &all));
        }
    }
    if let (Some(gate), Some(groups)) = (&gates.fairness, &groups) {
        results.push(gates::fairness(gate, groups, &scored, &all));
    }
    if let Some(gate) = &gates.no_regression {
        results.push(gates::no_regression(
            gate,
            &production,
            &frame,
            &artifact.header.target,
            &all,
        ));
    }
    if gates.determinism {
        results.push(gates::determinism(artifact, &frame, &predictions));
    }
    if let Some(gate) = &gates.latency {
        results.push(latency::latency(gate, artifact, &frame));
    }
    Ok(ValidationRecord {
        format: VALIDATION_FORMAT,
        model: model.to_owned(),
        version,
        artifact: artifact_digest,
        run: run.to_owned(),
        spec: spec.to_owned(),
        data: source,
        rows: frame.height() as u64,
        started,
        duration_s: clock.elapsed().as_secs_f64(),
        passed: results.iter().all(|g| g.passed),
        gates: results,
    })
}

/// Every metric the gates name fits the model's task (the spec's check ensures it for the
/// spec's algorithm, which may have changed since this version was trained).
fn check_task(
    gates: &Gates,
    artifact: &Artifact,
    spec: &str,
    model: &str,
    version: u32,
) -> Result<(), ValidateError> {
    let classifier = matches!(artifact.header.task, Task::Classification { .. });
    let named = gates
        .metrics
        .keys()
        .map(|m| (m.as_str().to_owned(), *m))
        .chain(
            gates
                .fairness
                .iter()
                .map(|g| ("fairness.metric".to_owned(), g.metric)),
        )
        .chain(
            gates
                .no_regression
                .iter()
                .map(|g| ("no_regression.metric".to_owned(), g.metric)),
        );
    for (key, metric) in named {
        if metric.is_classification() != classifier {
            return Err(ValidateError::TaskMismatch {
                spec: spec.to_owned(),
                key,
                metric,
                model: model.to_owned(),
                version,
            });
        }
    }
    Ok(())
}
