//! `cairn validate NAME@REF [--data FILE]`: the version is resolved in the registry, its
//! rows rebuilt (the run's held-out rows) or read (`--data`), its spec's gates run, the record
//! stored and pointed at by the version in cairn.lock.

use cairn_registry::{RegistryError, Resolved};
use cairn_validate::{
    Data, Figures, GateResult, GateStatus, Production, ValidateError, ValidateOptions, Validated,
};

use super::Context;
use crate::CmdResult;
use crate::cli::ModelValidateArgs;
use crate::error::{CliError, Exit};
use crate::printer::{BOLD, DIM, GREEN, OutputError, Printer, RED, YELLOW, paint};

pub fn run(ctx: &Context<'_>, args: ModelValidateArgs) -> CmdResult {
    let ModelValidateArgs { reference, data } = args;
    let project = ctx.project()?;
    let p = ctx.printer;
    let resolved = cairn_registry::resolve_in(&project, &reference)?;
    let artifact = cairn_registry::load_artifact(&project, &resolved)?;
    let entry = &resolved.entry;
    let name_version = format!("{}@{}", resolved.name, resolved.version);
    let config = project.config();
    let spec = config.model.get(&entry.spec).ok_or_else(|| {
        CliError::usage(
            format!(
                "{name_version} was trained by `[model.{}]`, which cairn.toml no longer declares: its gates are unknown",
                entry.spec
            ),
            Some("declare the spec again (`git log -p cairn.toml` shows it), with its `[model.SPEC.gates]`"),
        )
    })?;
    let gates = spec.gates.clone().unwrap_or_default();
    let store = project.store().map_err(ValidateError::from)?;
    let data = match data {
        Some(path) => Data::File {
            path: ctx.cwd.join(&path),
            shown: path.display().to_string(),
        },
        None => {
            let bytes = store.read(&entry.record).map_err(ValidateError::from)?;
            let run = cairn_train::parse_run_record(&entry.run, &bytes)?;
            if run.test_rows == 0 {
                return Err(CliError::usage(
                    format!(
                        "{name_version}: run {} held out no rows, so there are none to validate on by default",
                        run.id
                    ),
                    Some("pass --data FILE: a table with the model's input columns and its target"),
                )
                .into());
            }
            let held = cairn_train::held_out(&project, &run, &artifact.header.target)?;
            Data::HeldOut {
                frame: held.frame,
                run: run.id,
                path: held.path,
                digest: held.digest,
                features: held.features,
            }
        }
    };
    // The production version, for the no_regression gate only.
    let production = match &gates.no_regression {
        Some(_) => production_of(&project, &resolved)?,
        None => None,
    };
    let production = match &production {
        None => Production::None,
        Some(None) => Production::This,
        Some(Some((other, artifact))) => Production::Version {
            version: other.version,
            artifact_digest: other.entry.artifact,
            artifact,
        },
    };
    let validated = cairn_validate::validate(
        &store,
        ValidateOptions {
            model: &resolved.name,
            version: resolved.version,
            artifact: &artifact,
            artifact_digest: entry.artifact,
            run: &entry.run,
            spec: &entry.spec,
            gates: &gates,
            data,
            production,
        },
    )?;
    cairn_registry::record_validation(
        &project,
        &resolved.name,
        resolved.version,
        validated.digest,
        validated.record.passed,
    )?;
    p.json("validate", &validated)?;
    render(p, &name_version, &validated)?;
    if gates.is_empty() {
        p.warn(format!(
            "`[model.{}.gates]` declares no gate: only the schema was checked",
            entry.spec
        ));
    }
    p.status(format!(
        "validation record {} recorded for {name_version} in cairn.lock; commit it to share the verdict",
        validated.digest.short()
    ));
    Ok(if validated.record.passed {
        Exit::Ok
    } else {
        Exit::CheckFailed
    })
}

/// The production version of the model and its artifact: `None` when no version is in
/// production, `Some(None)` when it is `resolved` itself.
#[allow(clippy::type_complexity)]
fn production_of(
    project: &cairn_core::Project,
    resolved: &Resolved,
) -> Result<Option<Option<(Resolved, cairn_registry::Artifact)>>, CliError> {
    let production =
        match cairn_registry::resolve_in(project, &format!("{}@production", resolved.name)) {
            Ok(r) => r,
            Err(RegistryError::NoSuchVersion { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
    if production.version == resolved.version {
        return Ok(Some(None));
    }
    let artifact = cairn_registry::load_artifact(project, &production)?;
    Ok(Some(Some((production, artifact))))
}

fn render(p: &Printer, name_version: &str, validated: &Validated) -> Result<(), OutputError> {
    let record = &validated.record;
    let verdict = if record.passed {
        paint(GREEN.bold(), "passed")
    } else {
        paint(RED.bold(), "failed")
    };
    p.line(format!(
        "{} {}  {verdict}  ({} rows: {})",
        paint(BOLD, "validated"),
        paint(BOLD, name_version),
        record.rows,
        record.data.describe()
    ))?;
    let rows: Vec<[String; 4]> = record
        .gates
        .iter()
        .map(|g| {
            [
                g.gate.clone(),
                threshold(g),
                measured(g),
                g.status.as_str().to_owned(),
            ]
        })
        .collect();
    let width = |k: usize, header: &str| {
        rows.iter()
            .map(|r| r[k].chars().count())
            .chain([header.len()])
            .max()
            .unwrap_or(0)
    };
    let (w0, w1, w2) = (
        width(0, "gate"),
        width(1, "threshold"),
        width(2, "measured"),
    );
    p.line(paint(
        BOLD,
        format!(
            "  {:<w0$}  {:<w1$}  {:<w2$}  result",
            "gate", "threshold", "measured"
        ),
    ))?;
    for (row, gate) in rows.iter().zip(&record.gates) {
        let result = match gate.status {
            GateStatus::Passed => paint(GREEN, &row[3]),
            GateStatus::Failed => paint(RED, &row[3]),
            GateStatus::Skipped => paint(YELLOW, &row[3]),
        };
        p.line(format!(
            "  {:<w0$}  {:<w1$}  {:<w2$}  {result}",
            row[0], row[1], row[2]
        ))?;
    }
    for gate in &record.gates {
        let note = match (&gate.note, &gate.figures) {
            (Some(note), _) => note.clone(),
            (
                None,
                Figures::NoRegression {
                    threshold,
                    detail: Some(detail),
                    ..
                },
            ) => format!(
                "{} {} against {} for production {}@{}",
                threshold.metric,
                number(detail.candidate),
                number(detail.production),
                record.model,
                detail.production_version
            ),
            _ => continue,
        };
        p.line(format!(
            "  {} {note}",
            paint(DIM, format!("{}:", gate.gate))
        ))?;
    }
    for gate in &record.gates {
        if let Figures::Fairness { detail, .. } = &gate.figures {
            p.line(paint(
                BOLD,
                format!(
                    "fairness: {} by {} (all rows: {})",
                    detail.metric,
                    detail.group,
                    number(detail.overall)
                ),
            ))?;
            let wg = detail
                .groups
                .iter()
                .map(|g| g.group.chars().count())
                .chain(["group".len()])
                .max()
                .unwrap_or(5);
            p.line(format!(
                "  {:<wg$}  {:>8}  {:>10}  {:>8}",
                "group", "rows", detail.metric, "gap"
            ))?;
            for g in &detail.groups {
                p.line(format!(
                    "  {:<wg$}  {:>8}  {:>10}  {:>8}",
                    g.group,
                    g.rows,
                    number(g.value),
                    number(g.gap)
                ))?;
            }
        }
    }
    p.line(format!(
        "  {} {}",
        paint(DIM, "record"),
        paint(DIM, validated.digest)
    ))?;
    Ok(())
}

fn number(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.4}"))
}

fn ms(value: f64) -> String {
    format!("{value:.3} ms")
}

/// A gate's threshold, as a person reads it.
fn threshold(gate: &GateResult) -> String {
    match &gate.figures {
        Figures::Schema { .. } => "every input usable".to_owned(),
        Figures::Metric { threshold, .. } => {
            let mut parts = Vec::new();
            if let Some(min) = threshold.min {
                parts.push(format!(">= {min}"));
            }
            if let Some(max) = threshold.max {
                parts.push(format!("<= {max}"));
            }
            parts.join(", ")
        }
        Figures::Fairness { threshold, .. } => format!("gap <= {}", threshold.max_gap),
        Figures::NoRegression { threshold, .. } => {
            let sign = if threshold.metric.higher_is_better() {
                "-"
            } else {
                "+"
            };
            format!(
                "{} vs production {sign}{}",
                threshold.metric, threshold.tolerance
            )
        }
        Figures::Determinism { .. } => "identical bytes".to_owned(),
        Figures::Latency { threshold, .. } => {
            let mut parts = Vec::new();
            if let Some(p50) = threshold.p50_ms {
                parts.push(format!("p50 <= {p50} ms"));
            }
            if let Some(p99) = threshold.p99_ms {
                parts.push(format!("p99 <= {p99} ms"));
            }
            parts.join(", ")
        }
    }
}

/// What a gate measured, as a person reads it.
fn measured(gate: &GateResult) -> String {
    match &gate.figures {
        Figures::Schema { detail } => format!("{} inputs", detail.inputs.len()),
        Figures::Metric { measured, .. } | Figures::Fairness { measured, .. } => number(*measured),
        Figures::NoRegression { measured, .. } => {
            measured.map_or_else(|| "-".to_owned(), |d| format!("{d:+.4}"))
        }
        Figures::Determinism { measured, .. } => if measured.identical {
            "identical"
        } else {
            "different"
        }
        .to_owned(),
        Figures::Latency { measured, .. } => {
            format!("p50 {}, p99 {}", ms(measured.p50_ms), ms(measured.p99_ms))
        }
    }
}
