use super::Context;
use crate::CmdResult;
use crate::cli::{RemoteRuns, RunsCompareArgs};
use crate::error::Exit;
use crate::printer::{BOLD, GREEN, YELLOW, paint, plural};

pub fn run(ctx: &Context<'_>, args: RunsCompareArgs) -> CmdResult {
    let RunsCompareArgs {
        ids,
        on: RemoteRuns { remote },
    } = args;
    let project = ctx.project()?;
    let p = ctx.printer;
    let runs = match &remote {
        Some(remote) => super::remote_runs_named(p, &project, remote, &ids)?,
        None => cairn_train::get_runs(&project, &ids)?,
    };
    let comparison = cairn_train::compare(&runs);
    p.json("runs-compare", &comparison)?;
    if p.json {
        return Ok(Exit::Ok);
    }
    let rows = &comparison.rows;
    let width = rows.iter().map(|r| r.field.len()).max().unwrap_or(5).max(5);
    let col = comparison
        .runs
        .iter()
        .map(String::len)
        .chain(rows.iter().flat_map(|r| r.shown.iter().map(String::len)))
        .max()
        .unwrap_or(12)
        .min(40);
    let mut header = format!("{:<width$}", "field");
    for id in &comparison.runs {
        header.push_str(&format!("  {id:<col$}"));
    }
    p.line(paint(BOLD, header.trim_end()))?;
    for row in rows {
        let mut line = format!("{:<width$}", row.field);
        for (i, c) in row.shown.iter().enumerate() {
            // The last column is not padded: no trailing spaces inside the colors.
            let text = if i + 1 == row.shown.len() {
                c.clone()
            } else {
                format!("{c:<col$}")
            };
            line.push_str("  ");
            line.push_str(&if row.best == Some(i) {
                paint(GREEN.bold(), text)
            } else if row.differs {
                paint(YELLOW, text)
            } else {
                text
            });
        }
        p.line(line.trim_end())?;
    }
    p.status(format!(
        "{} compared; differences in yellow, the best value of a metric in green",
        plural(comparison.runs.len() as u64, "run", "runs")
    ));
    Ok(Exit::Ok)
}
