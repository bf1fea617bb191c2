//! `cairn data pull`: a fetch, then a checkout of what it fetched. The only operation that
//! composes two others.

use cairn_core::Project;
use cairn_store::Progress;
use serde::Serialize;

use crate::DataError;
use crate::checkout::{CheckoutOptions, CheckoutOutcome, checkout};
use crate::fetch::{FetchOptions, FetchOutcome, fetch_for};

#[derive(Debug, Clone, Serialize)]
pub struct PullOutcome {
    pub fetch: FetchOutcome,
    pub checkout: CheckoutOutcome,
}

/// `cairn data pull`: fetch, then checkout.
pub fn pull(
    project: &Project,
    fetch_options: &FetchOptions,
    force: bool,
    progress: &dyn Progress,
) -> Result<PullOutcome, DataError> {
    let fetched = fetch_for(project, fetch_options, true, progress)?;
    if !fetched.complete() {
        return Err(DataError::FetchIncomplete {
            failures: fetched.downloaded.failures,
        });
    }
    let checkout = checkout(
        project,
        &CheckoutOptions {
            paths: fetch_options.paths.clone(),
            cwd: fetch_options.cwd.clone(),
            rev: fetch_options.rev.clone(),
            force,
        },
        progress,
    )?;
    Ok(PullOutcome {
        fetch: fetched,
        checkout,
    })
}
