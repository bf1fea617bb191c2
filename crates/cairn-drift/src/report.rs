//! The HTML report of a drift check: one self-contained file (inline CSS and SVG, no script,
//! no link to anything outside it), built from the record alone — its aggregates, never rows
//! — so that its size does not grow with the tables' (a few KB per column).

use std::fmt::Write as _;
use std::path::Path;

use crate::DriftError;
use crate::record::{ColumnResult, ColumnStatus, Counts, DataSource, DriftRecord, Histogram};

const REFERENCE_COLOR: &str = "#4c78a8";
const CURRENT_COLOR: &str = "#f58518";
const WIDTH: f64 = 560.0;
const HEIGHT: f64 = 160.0;

/// The report as HTML.
pub fn render(record: &DriftRecord) -> String {
    let mut h = String::with_capacity(4096 + record.columns.len() * 4096);
    let verdict = if record.dataset_drift {
        "<span class=\"bad\">dataset drift</span>"
    } else {
        "<span class=\"good\">no dataset drift</span>"
    };
    let title = match &record.model {
        Some(m) => format!("Drift: {}@{}", m.name, m.version),
        None => "Drift".to_owned(),
    };
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    let _ = write!(h, "<title>{}</title>", esc(&title));
    h.push_str(
        "<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}\
         table{border-collapse:collapse}td,th{padding:3px 10px;text-align:left;border-bottom:1px solid #ddd}\
         .bad{color:#c0392b;font-weight:bold}.good{color:#1e8449;font-weight:bold}\
         .col{margin:1.5em 0;padding:1em;border:1px solid #ddd;border-radius:6px}\
         .muted{color:#777}.key span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px}\
         svg text{font-size:10px;fill:#555}</style></head><body>\n",
    );
    let _ = write!(h, "<h1>{}</h1>\n<p>{verdict}: ", esc(&title));
    let _ = writeln!(
        h,
        "{} of {} columns drifted (share {:.3}; the dataset drifts at {}).</p>",
        record.drifted, record.compared, record.share, record.drift_share
    );
    let _ = writeln!(
        h,
        "<p class=\"muted\">reference: {} ({} rows)<br>current: {} ({} rows)<br>checked {}{}</p>",
        esc(&source(&record.reference.source)),
        record.reference.rows,
        esc(&source(&record.current.source)),
        record.current.rows,
        esc(&record.started),
        record
            .config
            .as_ref()
            .map(|c| format!(", settings of [drift.{}]", esc(c)))
            .unwrap_or_default()
    );
    h.push_str(
        "<p class=\"key\"><span style=\"background:#4c78a8\"></span>reference\
         <span style=\"background:#f58518\"></span>current</p>\n",
    );
    h.push_str(
        "<table><tr><th>column</th><th>type</th><th>method</th><th>score</th>\
         <th>threshold</th><th>drifted</th></tr>\n",
    );
    for c in &record.columns {
        let _ = writeln!(
            h,
            "<tr><td><a href=\"#col-{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            anchor(&c.column),
            esc(&c.column),
            c.kind.as_str(),
            c.method
                .map_or_else(|| c.status.as_str().to_owned(), |m| m.to_string()),
            number(c.score),
            number(c.threshold),
            if c.drifted {
                "<span class=\"bad\">yes</span>"
            } else {
                "no"
            }
        );
    }
    h.push_str("</table>\n");
    if !record.new_columns.is_empty() {
        let _ = writeln!(
            h,
            "<p class=\"muted\">only in the current data (not compared): {}</p>",
            esc(&record.new_columns.join(", "))
        );
    }
    if !record.skipped.is_empty() {
        let skipped: Vec<String> = record
            .skipped
            .iter()
            .map(|s| format!("{} ({})", s.column, s.dtype))
            .collect();
        let _ = writeln!(
            h,
            "<p class=\"muted\">not compared (type): {}</p>",
            esc(&skipped.join(", "))
        );
    }
    for c in &record.columns {
        column(&mut h, c);
    }
    h.push_str("</body></html>\n");
    h
}

/// Writes the report to `path` atomically (a temporary file beside it, then a rename).
pub fn write(record: &DriftRecord, path: &Path) -> Result<(), DriftError> {
    // A bare file name is in the current directory (whose directory entry is synced).
    let beside = match path.parent() {
        Some(p) if p.as_os_str().is_empty() => Path::new(".").join(path),
        _ => path.to_path_buf(),
    };
    let path = beside.as_path();
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| DriftError::Write {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    cairn_store::atomic::write_atomic_beside(path, render(record).as_bytes(), 0o644).map_err(
        |source| DriftError::Write {
            path: path.to_path_buf(),
            source,
        },
    )
}

fn source(s: &DataSource) -> String {
    s.describe()
}

fn column(h: &mut String, c: &ColumnResult) {
    let _ = write!(
        h,
        "<div class=\"col\" id=\"col-{}\"><h2>{} {}</h2>\n<p>{} · ",
        anchor(&c.column),
        esc(&c.column),
        if c.drifted {
            "<span class=\"bad\">drifted</span>"
        } else {
            "<span class=\"good\">stable</span>"
        },
        c.kind.as_str()
    );
    match (c.status, c.method) {
        (ColumnStatus::Tested, Some(m)) => {
            let rule = if m.is_p_value() {
                "drift when below"
            } else {
                "drift when at least"
            };
            let _ = write!(
                h,
                "{m}: score {} ({rule} {})",
                number(c.score),
                number(c.threshold)
            );
            if let Some(s) = c.statistic {
                let _ = write!(h, ", statistic {}", number(Some(s)));
            }
        }
        (status, _) => h.push_str(status.as_str()),
    }
    h.push_str("</p>\n");
    if let Some(note) = &c.note {
        let _ = writeln!(h, "<p class=\"muted\">{}</p>", esc(note));
    }
    let _ = writeln!(
        h,
        "<p class=\"muted\">reference: {}<br>current: {}</p>",
        counts(&c.reference),
        counts(&c.current)
    );
    if let Some(u) = &c.unseen {
        let _ = writeln!(
            h,
            "<p>{} {} never seen in the reference, in {} current rows: {}</p>",
            u.categories,
            if u.categories == 1 {
                "category"
            } else {
                "categories"
            },
            u.rows,
            esc(&u.examples.join(", "))
        );
    }
    if let Some(hist) = &c.histogram {
        chart(h, hist);
    }
    h.push_str("</div>\n");
}

fn counts(c: &Counts) -> String {
    format!(
        "{} rows, {} values ({} distinct), {} null, {} NaN, {} +inf, {} -inf",
        c.rows, c.values, c.distinct, c.nulls, c.nan, c.pos_inf, c.neg_inf
    )
}

/// Overlaid bars: each side as shares of its own values, so that sides of different sizes
/// compare.
fn chart(h: &mut String, hist: &Histogram) {
    let (labels, reference, current): (Vec<String>, Vec<u64>, Vec<u64>) = match hist {
        Histogram::Bins {
            edges,
            reference,
            current,
        } => (
            edges
                .windows(2)
                .map(|w| format!("{} – {}", short(w[0]), short(w[1])))
                .collect(),
            reference.clone(),
            current.clone(),
        ),
        Histogram::Values {
            labels,
            reference,
            current,
            other_reference,
            other_current,
        } => {
            let (mut l, mut r, mut c) = (labels.clone(), reference.clone(), current.clone());
            if *other_reference + *other_current > 0 {
                l.push("(other)".to_owned());
                r.push(*other_reference);
                c.push(*other_current);
            }
            (l, r, c)
        }
    };
    let shares = |v: &[u64]| -> Vec<f64> {
        let total: u64 = v.iter().sum();
        v.iter()
            .map(|&n| {
                if total == 0 {
                    0.0
                } else {
                    n as f64 / total as f64
                }
            })
            .collect()
    };
    let (rs, cs) = (shares(&reference), shares(&current));
    let top = rs
        .iter()
        .chain(&cs)
        .copied()
        .fold(0.0f64, f64::max)
        .max(1e-12);
    let n = labels.len().max(1);
    let slot = WIDTH / n as f64;
    let bar = (slot * 0.4).max(1.0);
    let _ = write!(
        h,
        "<svg width=\"{}\" height=\"{}\" role=\"img\">",
        WIDTH + 40.0,
        HEIGHT + 30.0
    );
    for (i, label) in labels.iter().enumerate() {
        let x = 30.0 + slot * i as f64;
        for (k, (share, color)) in [(rs[i], REFERENCE_COLOR), (cs[i], CURRENT_COLOR)]
            .into_iter()
            .enumerate()
        {
            let height = share / top * HEIGHT;
            let _ = write!(
                h,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{height:.1}\" fill=\"{color}\" fill-opacity=\"0.85\"><title>{}: {} {:.4}</title></rect>",
                x + bar * k as f64,
                HEIGHT - height,
                esc(label),
                if k == 0 { "reference" } else { "current" },
                share
            );
        }
    }
    let _ = write!(
        h,
        "<line x1=\"30\" y1=\"{HEIGHT}\" x2=\"{}\" y2=\"{HEIGHT}\" stroke=\"#999\"/>",
        WIDTH + 30.0
    );
    if let (Some(first), Some(last)) = (labels.first(), labels.last()) {
        let _ = write!(
            h,
            "<text x=\"30\" y=\"{}\">{}</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            HEIGHT + 14.0,
            esc(first),
            WIDTH + 30.0,
            HEIGHT + 26.0,
            esc(last)
        );
    }
    let _ = writeln!(h, "<text x=\"0\" y=\"10\">{:.2}</text></svg>", top);
}

fn short(x: f64) -> String {
    format!("{x:.4}")
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_owned()
}

fn number(x: Option<f64>) -> String {
    match x {
        None => "-".to_owned(),
        Some(v) if v != 0.0 && v.abs() < 1e-4 => format!("{v:.3e}"),
        Some(v) => format!("{v:.4}"),
    }
}

fn anchor(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Escapes text for HTML content and attribute values.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
