//! `cairn runs list | show | compare | rm`.

mod compare;
mod list;
mod rm;
mod show;

use cairn_train::{RemoteRuns, Selection};

use super::Context;
use crate::CmdResult;
use crate::cli::RunsCommand;
use crate::error::CliError;
use crate::printer::Printer;

pub fn run(ctx: &Context<'_>, command: RunsCommand) -> CmdResult {
    match command {
        RunsCommand::List(args) => list::run(ctx, args),
        RunsCommand::Show(args) => show::run(ctx, args),
        RunsCommand::Compare(args) => compare::run(ctx, args),
        RunsCommand::Rm(args) => rm::run(ctx, args),
    }
}

/// The runs on a remote (`""`: the default one) that `selection` picks, with a warning for
/// each one whose record cannot be read or used; also the remote's name and url.
fn remote_runs(
    p: &Printer,
    project: &cairn_core::Project,
    remote: &str,
    selection: &Selection,
) -> Result<(cairn_data::RemoteInfo, RemoteRuns), CliError> {
    let remote = (!remote.is_empty()).then_some(remote);
    let listed = cairn_data::list_remote_runs(project, remote)?;
    let runs = cairn_train::remote_runs(
        listed.runs.into_iter().map(|run| cairn_train::ListedRun {
            id: run.id,
            record: run.record,
            json: run.json,
        }),
        selection,
    );
    for skipped in &runs.skipped {
        p.warn(format!(
            "run {} on {} not listed: its record {} {}",
            skipped.id, listed.remote.name, skipped.record, skipped.reason
        ));
    }
    Ok((listed.remote, runs))
}

/// The records of the runs on a remote (`""`: the default one) that `ids` name, in that order;
/// an id that names none of them (or several) is an error, as for this machine's runs.
fn remote_runs_named(
    p: &Printer,
    project: &cairn_core::Project,
    remote: &str,
    ids: &[String],
) -> Result<Vec<cairn_train::RunRecord>, CliError> {
    let (info, runs) = remote_runs(p, project, remote, &Selection::default())?;
    runs.named(ids).map_err(|e| {
        let hint = format!("`cairn runs list --remote {}` shows them", info.name);
        CliError::usage(format!("{e} on {}", info.name), Some(&hint))
    })
}
