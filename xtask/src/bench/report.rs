//! The verdict table of a bench, and the one-line report of each figure.

use serde_json::json;

use super::Figure;
use crate::util::fmt_duration;

pub(super) struct Check {
    /// A stable key for the JSON.
    pub(super) id: &'static str,
    /// The measured value in seconds, or in bytes for memory.
    pub(super) value: f64,
    pub(super) name: String,
    pub(super) measured: String,
    pub(super) reference: String,
    pub(super) ratio: Option<f64>,
    /// cairn's own target: an absolute limit, or a ratio to a reference measured in the same
    /// run; "-" (or "- (why)", or "reference") for a figure shown without a verdict.
    pub(super) target: &'static str,
    /// Whether the target is met; `None` when there is no target, or when a figure the
    /// verdict needs was not measured in this run (never "met" then).
    pub(super) pass: Option<bool>,
}

impl Check {
    pub(super) fn json(&self) -> serde_json::Value {
        json!({
            "id": self.id,
            "value": self.value,
            "name": self.name,
            "measured": self.measured,
            "reference": self.reference,
            "ratio": self.ratio,
            "target": self.target,
            "pass": self.pass,
            "verdict": self.verdict(),
        })
    }

    /// "met", "not met", "not measured" (a target, but a figure it needs is missing) or
    /// "no target".
    pub(super) fn verdict(&self) -> &'static str {
        match (self.pass, self.target) {
            (Some(true), _) => "met",
            (Some(false), _) => "not met",
            (None, target) if target.starts_with('-') || target == "reference" => "no target",
            (None, _) => "not measured",
        }
    }
}

/// "targets met: 5 of 6 (1 not measured)": the checks with a target, by verdict.
pub(super) fn summary(checks: &[Check]) -> String {
    let count = |verdict: &str| checks.iter().filter(|c| c.verdict() == verdict).count();
    let (met, not_met, unmeasured) = (count("met"), count("not met"), count("not measured"));
    let mut line = format!("targets met: {met} of {}", met + not_met + unmeasured);
    if unmeasured > 0 {
        line.push_str(&format!(" ({unmeasured} not measured)"));
    }
    line
}

pub(super) fn print_table(checks: &[Check]) {
    let header = [
        "figure",
        "measured",
        "reference",
        "ratio",
        "target",
        "result",
    ];
    let rows: Vec<[String; 6]> = checks
        .iter()
        .map(|check| {
            [
                check.name.clone(),
                check.measured.clone(),
                check.reference.clone(),
                check.ratio.map_or_else(
                    || "-".to_owned(),
                    |r| {
                        if r < 0.01 {
                            format!("{r:.4}x")
                        } else {
                            format!("{r:.2}x")
                        }
                    },
                ),
                check.target.to_owned(),
                match check.verdict() {
                    "met" => "PASS".to_owned(),
                    "not met" => "FAIL".to_owned(),
                    "not measured" => "not measured".to_owned(),
                    _ => "-".to_owned(),
                },
            ]
        })
        .collect();
    print_columns(header, &rows);
}

/// Prints rows as columns padded to their widest cell (in characters), under a header and a
/// rule.
pub(super) fn print_columns<const N: usize>(header: [&str; N], rows: &[[String; N]]) {
    let mut widths = header.map(|h| h.chars().count());
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; N]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| {
                let pad = width - cell.chars().count();
                format!("{cell}{}", " ".repeat(pad))
            })
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header);
    line(
        widths
            .map(|width| "-".repeat(width))
            .each_ref()
            .map(String::as_str),
    );
    for row in rows {
        line(row.each_ref().map(String::as_str));
    }
}

pub(super) fn report(what: &str, figure: &Figure) {
    let samples: Vec<String> = figure.samples.iter().map(|d| fmt_duration(*d)).collect();
    let mut line = format!("{what:<34} median {:>10}", fmt_duration(figure.median()));
    if figure.samples.len() > 3 {
        line.push_str(&format!("  max {:>10}", fmt_duration(figure.max())));
    }
    line.push_str(&format!("  ({})", samples.join(", ")));
    let compacted = figure.compact_stalls.iter().filter(|n| **n > 0).count();
    if compacted > 0 {
        line.push_str(&format!(
            "  [direct compaction in {compacted} of {} runs]",
            figure.samples.len()
        ));
    }
    let reported: Vec<u64> = figure.reported_kib.iter().map(|kib| kib / 1024).collect();
    if reported.iter().any(|mib| *mib > 0) {
        let each: Vec<String> = reported.iter().map(u64::to_string).collect();
        line.push_str(&format!(
            "  [MiB handed back to the host per run: {}]",
            each.join(", ")
        ));
    }
    println!("{line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(target: &'static str, pass: Option<bool>) -> Check {
        Check {
            id: "x",
            value: 0.0,
            name: String::new(),
            measured: String::new(),
            reference: String::new(),
            ratio: None,
            target,
            pass,
        }
    }

    #[test]
    fn a_missing_figure_is_not_measured_and_never_met() {
        let checks = [
            check("< 1 s", Some(true)),
            check("< 1 s", Some(false)),
            check("<= scikit-learn", None),
            check("-", None),
        ];
        let verdicts: Vec<&str> = checks.iter().map(Check::verdict).collect();
        assert_eq!(verdicts, ["met", "not met", "not measured", "no target"]);
        assert_eq!(summary(&checks), "targets met: 1 of 3 (1 not measured)");
    }
}
