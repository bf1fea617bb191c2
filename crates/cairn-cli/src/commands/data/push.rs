use cairn_data::PushOptions;

use super::Context;
use crate::CmdResult;
use crate::cli::PushArgs;
use crate::error::{CliError, Exit};
use crate::printer::{bytes, plural};
use crate::progress::Bars;

pub fn run(ctx: &Context<'_>, args: PushArgs) -> CmdResult {
    let PushArgs {
        paths,
        remote,
        all_commits,
        jobs,
    } = args;
    let project = ctx.project()?;
    let p = ctx.printer;
    let options = PushOptions {
        paths,
        cwd: ctx.cwd.clone(),
        remote,
        all_commits,
        jobs: jobs.map(std::num::NonZeroUsize::get),
    };
    let outcome = cairn_data::push(&project, &options, &Bars::new(p))?;
    p.json("data-push", &outcome)?;
    super::fetch::describe_remote(p, &outcome.remote);
    p.line(format!(
        "pushed {} ({}) to {}; {} already there{}",
        plural(outcome.uploaded.objects, "object", "objects"),
        bytes(outcome.uploaded.bytes),
        outcome.remote.name,
        plural(outcome.already_there, "object was", "objects were"),
        super::fetch::models(&outcome.models),
    ))?;
    if outcome.complete() {
        return Ok(Exit::Ok);
    }
    for f in &outcome.uploaded.failures {
        p.line(format!("not pushed {}: {}", f.digest, f.reason))?;
    }
    for m in &outcome.missing {
        p.line(format!(
            "not pushed {} ({}): on neither this machine nor the remote",
            m.digest, m.path
        ))?;
    }
    Ok(crate::error::report_after_outcome(
        p,
        CliError::usage(
            format!(
                "{} pinned object(s) could not be pushed",
                outcome.uploaded.failures.len() + outcome.missing.len()
            ),
            Some(
                "push from a machine that has the data, or run `cairn data fsck` if a local copy is corrupt",
            ),
        ),
    ))
}
