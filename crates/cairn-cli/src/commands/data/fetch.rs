use cairn_data::{FetchOptions, RemoteInfo};

use super::Context;
use crate::CmdResult;
use crate::cli::{FetchArgs, FetchCmdArgs};
use crate::error::Exit;
use crate::printer::{Printer, bytes, plural};
use crate::progress::Bars;

pub fn run(ctx: &Context<'_>, args: FetchCmdArgs) -> CmdResult {
    let FetchCmdArgs {
        fetch,
        models: models_only,
    } = args;
    let p = ctx.printer;
    let project = ctx.project()?;
    let options = FetchOptions {
        models_only,
        ..options(ctx, fetch)
    };
    let outcome = cairn_data::fetch(&project, &options, &Bars::new(p))?;
    p.json("data-fetch", &outcome)?;
    describe_remote(p, &outcome.remote);
    warn_skipped_runs(p, &outcome.runs_skipped);
    p.line(format!(
        "fetched {} from {}; {} already here{}{}",
        fetched(&outcome.downloaded),
        outcome.remote.name,
        plural(outcome.already_here, "object was", "objects were"),
        runs_added(&outcome.runs_added),
        models(&outcome.models),
    ))?;
    if outcome.complete() {
        Ok(Exit::Ok)
    } else {
        let e = cairn_data::DataError::FetchIncomplete {
            failures: outcome.downloaded.failures,
        };
        Ok(crate::error::report_after_outcome(p, e.into()))
    }
}

pub fn options(ctx: &Context<'_>, args: FetchArgs) -> FetchOptions {
    let FetchArgs {
        paths,
        remote,
        rev,
        jobs,
    } = args;
    FetchOptions {
        paths,
        cwd: ctx.cwd.clone(),
        remote,
        rev,
        jobs: jobs.map(std::num::NonZeroUsize::get),
        models_only: false,
    }
}

/// One warning per run on the remote that could not be fetched whole (not recorded here).
pub fn warn_skipped_runs(p: &Printer, skipped: &[cairn_data::SkippedRun]) {
    for run in skipped {
        p.warn(format!(
            "run {} not fetched (object {}: {}); the rest was fetched all the same",
            run.id, run.digest, run.reason
        ));
    }
}

/// `3 objects (1.2 GiB)`, and how many of them share the remote's file (a hard link).
pub fn fetched(downloaded: &cairn_store::Transfer) -> String {
    let what = format!(
        "{} ({}",
        plural(downloaded.objects, "object", "objects"),
        bytes(downloaded.bytes)
    );
    match downloaded.shared {
        0 => format!("{what})"),
        n => format!("{what}; {n} shared with the remote's file by a hard link)"),
    }
}

/// `; 2 runs added` when a fetch recorded runs that other machines pushed.
pub fn runs_added(ids: &[String]) -> String {
    if ids.is_empty() {
        String::new()
    } else {
        format!("; {} added", plural(ids.len() as u64, "run", "runs"))
    }
}

/// `; registered models: 2 versions, 5 objects` when the command took registered model
/// versions into account.
pub fn models(models: &cairn_data::ModelObjects) -> String {
    if models.is_empty() {
        String::new()
    } else {
        format!(
            "; registered models: {}, {}",
            plural(models.versions, "version", "versions"),
            plural(models.objects, "object", "objects")
        )
    }
}

/// With `-v`: which remote, and where its credentials came from.
pub fn describe_remote(p: &Printer, remote: &RemoteInfo) {
    if p.verbose > 0 {
        let source = match remote.credentials {
            cairn_core::CredentialSource::LocalConfig => "from .cairn/config.toml".to_string(),
            cairn_core::CredentialSource::Environment => "from the environment".to_string(),
            cairn_core::CredentialSource::AwsProfile => format!(
                "from the {}",
                remote.aws_profile.as_deref().unwrap_or("AWS profile")
            ),
            cairn_core::CredentialSource::None => {
                "none (anonymous, or the platform's own)".to_string()
            }
        };
        p.status(format!(
            "remote {} ({}): credentials {source}",
            remote.name, remote.url
        ));
    }
}
