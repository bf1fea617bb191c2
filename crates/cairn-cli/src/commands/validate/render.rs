//! What `cairn validate` prints: the table of gates, each threshold and measure.

use cairn_validate::{Figures, GateResult, GateStatus, Validated};

use crate::printer::{BOLD, DIM, GREEN, OutputError, Printer, RED, YELLOW, paint};

pub(super) fn render(
    p: &Printer,
    name_version: &str,
    validated: &Validated,
) -> Result<(), OutputError> {
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
