//! The gates that measure predictions: metric thresholds, fairness, no regression against the
//! production version, determinism.

use std::collections::BTreeMap;

use cairn_core::models::{Bounds, FairnessGate, Metric, NoRegressionGate};
use cairn_model::artifact::{Artifact, Predictions};
use cairn_store::Digest;
use polars::prelude::{DataFrame, DataType};

use crate::data::truth;
use crate::record::{
    DeterminismDetail, DeterminismMeasured, FairnessDetail, FairnessThreshold, Figures, GateResult,
    GateStatus, GroupRow, NoRegressionDetail, NoRegressionThreshold,
};
use crate::score::{Measures, Scored, prediction_bytes};
use crate::{Production, ValidateError};

fn verdict(passed: bool) -> GateStatus {
    if passed {
        GateStatus::Passed
    } else {
        GateStatus::Failed
    }
}

fn undefined(metric: Metric) -> String {
    format!("{metric} is not defined on these rows (a class of the model does not occur in them)")
}

/// `METRIC = { min = …, max = … }`.
pub(crate) fn metric(metric: Metric, bounds: Bounds, all: &Measures) -> GateResult {
    let measured = all.get(metric);
    let figures = Figures::Metric {
        threshold: bounds,
        measured,
    };
    match measured {
        Some(v) => GateResult::new(metric.as_str(), verdict(bounds.admits(v)), figures),
        None => GateResult::new(metric.as_str(), GateStatus::Failed, figures)
            .with_note(undefined(metric)),
    }
}

/// The group value of each row of `column` (a missing value is the group `null`), and the
/// rows of each group.
fn groups(
    frame: &DataFrame,
    spec: &str,
    column: &str,
) -> Result<BTreeMap<String, Vec<usize>>, ValidateError> {
    let series = frame
        .column(column)
        .map_err(|_| ValidateError::NoGroupColumn {
            spec: spec.to_owned(),
            column: column.to_owned(),
            columns: crate::data::columns(frame),
        })?
        .as_materialized_series()
        .cast(&DataType::String)
        .map_err(|e| ValidateError::Target {
            target: column.to_owned(),
            problem: format!("cannot be read as groups ({e})"),
        })?;
    let values = series.str().map_err(|e| ValidateError::Target {
        target: column.to_owned(),
        problem: format!("cannot be read as groups ({e})"),
    })?;
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, v) in values.iter().enumerate() {
        groups
            .entry(v.unwrap_or("null").to_owned())
            .or_default()
            .push(i);
    }
    if groups.len() == 1 {
        let group = groups.keys().next().cloned().unwrap_or_default();
        return Err(ValidateError::SingleGroup {
            spec: spec.to_owned(),
            column: column.to_owned(),
            group,
        });
    }
    Ok(groups)
}

/// Finds the groups of the fairness gate before anything is measured: a missing column or a
/// single group is bad input.
pub(crate) fn fairness_groups(
    frame: &DataFrame,
    spec: &str,
    gate: &FairnessGate,
) -> Result<BTreeMap<String, Vec<usize>>, ValidateError> {
    groups(frame, spec, &gate.group)
}

/// `fairness = { group, metric, max_gap }`: the largest `|metric(group) - metric(all)|`.
pub(crate) fn fairness(
    gate: &FairnessGate,
    groups: &BTreeMap<String, Vec<usize>>,
    scored: &Scored<'_>,
    all: &Measures,
) -> GateResult {
    let overall = all.get(gate.metric);
    let mut rows = Vec::with_capacity(groups.len());
    let mut undefined_in = Vec::new();
    for (group, members) in groups {
        let value = scored.subset(members).get(gate.metric);
        if value.is_none() {
            undefined_in.push(group.clone());
        }
        rows.push(GroupRow {
            group: group.clone(),
            rows: members.len() as u64,
            value,
            gap: value.zip(overall).map(|(v, o)| (v - o).abs()),
        });
    }
    let measured = rows
        .iter()
        .filter_map(|r| r.gap)
        .fold(None, |max: Option<f64>, g| {
            Some(max.map_or(g, |m| m.max(g)))
        });
    let figures = Figures::Fairness {
        threshold: FairnessThreshold {
            max_gap: gate.max_gap,
        },
        measured,
        detail: FairnessDetail {
            group: gate.group.clone(),
            metric: gate.metric,
            overall,
            groups: rows,
        },
    };
    if overall.is_none() {
        return GateResult::new("fairness", GateStatus::Failed, figures)
            .with_note(undefined(gate.metric));
    }
    if !undefined_in.is_empty() {
        return GateResult::new("fairness", GateStatus::Failed, figures).with_note(format!(
            "{} is not defined in the group{} {} (a class does not occur there), so the gap cannot be bounded",
            gate.metric,
            if undefined_in.len() == 1 { "" } else { "s" },
            undefined_in.join(", ")
        ));
    }
    let passed = measured.is_some_and(|gap| gap <= gate.max_gap);
    GateResult::new("fairness", verdict(passed), figures)
}

/// `no_regression = { metric, tolerance }`: this version against the production version on
/// the same rows. Skipped, with a note, when there is no other production version or when it
/// cannot score these rows.
pub(crate) fn no_regression(
    gate: &NoRegressionGate,
    production: &Production<'_>,
    frame: &DataFrame,
    target: &str,
    all: &Measures,
) -> GateResult {
    let threshold = NoRegressionThreshold {
        metric: gate.metric,
        tolerance: gate.tolerance,
    };
    let skipped = |note: String| {
        GateResult::new(
            "no_regression",
            GateStatus::Skipped,
            Figures::NoRegression {
                threshold: threshold.clone(),
                measured: None,
                detail: None,
            },
        )
        .with_note(note)
    };
    let (version, digest, champion) = match production {
        Production::None => {
            return skipped("no version is in production: nothing to compare with".to_owned());
        }
        Production::This => {
            return skipped(
                "this version is the production version: nothing else to compare with".to_owned(),
            );
        }
        Production::Version {
            version,
            artifact_digest,
            artifact,
        } => (*version, *artifact_digest, *artifact),
    };
    let theirs = match production_measures(champion, frame, target) {
        Ok(m) => m,
        Err(why) => {
            return skipped(format!(
                "production version {version} cannot be compared on these rows: {why}"
            ));
        }
    };
    let candidate = all.get(gate.metric);
    let production_value = theirs.get(gate.metric);
    let higher = gate.metric.higher_is_better();
    let measured = candidate
        .zip(production_value)
        .map(|(ours, theirs)| ours - theirs);
    let figures = Figures::NoRegression {
        threshold,
        measured,
        detail: Some(NoRegressionDetail {
            production_version: version,
            production_artifact: digest,
            candidate,
            production: production_value,
            higher_is_better: higher,
        }),
    };
    match measured {
        Some(diff) => {
            let passed = if higher {
                diff >= -gate.tolerance
            } else {
                diff <= gate.tolerance
            };
            GateResult::new("no_regression", verdict(passed), figures)
        }
        None => GateResult::new("no_regression", GateStatus::Failed, figures)
            .with_note(undefined(gate.metric)),
    }
}

/// The production version's metrics on the rows, or why there are none.
fn production_measures(
    champion: &Artifact,
    frame: &DataFrame,
    target: &str,
) -> Result<Measures, String> {
    let truth = truth(frame, target, &champion.header.task).map_err(|e| e.to_string())?;
    let predictions = champion
        .predict_frame(frame)
        .map_err(|e| format!("{e} (for its inputs)"))?;
    let measures = Scored {
        truth: &truth,
        predictions: &predictions,
    }
    .all();
    match measures {
        Measures::Mismatch => Err("it predicts for another task".to_owned()),
        m => Ok(m),
    }
}

/// `determinism = true`: the rows scored again, by the model decoded again from its bytes and
/// from the table's columns again, give the same bytes as the first scoring.
pub(crate) fn determinism(
    artifact: &Artifact,
    frame: &DataFrame,
    first: &Predictions,
) -> GateResult {
    let first_bytes = prediction_bytes(first);
    let second = Artifact::from_bytes(&artifact.to_bytes())
        .map_err(|e| e.to_string())
        .and_then(|again| again.predict_frame(frame).map_err(|e| e.to_string()));
    let (second_bytes, note) = match second {
        Ok(p) => (prediction_bytes(&p), None),
        // Cannot happen for an artifact that was read and scored once; recorded if it does.
        Err(e) => (Vec::new(), Some(format!("the second scoring failed: {e}"))),
    };
    let identical = note.is_none() && first_bytes == second_bytes;
    let result = GateResult::new(
        "determinism",
        verdict(identical),
        Figures::Determinism {
            measured: DeterminismMeasured { identical },
            detail: DeterminismDetail {
                first: Digest::of(&first_bytes),
                second: Digest::of(&second_bytes),
                bytes: first_bytes.len() as u64,
            },
        },
    );
    match note {
        Some(n) => result.with_note(n),
        None => result,
    }
}
