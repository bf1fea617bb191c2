//! The load step: the data a spec names, checked against what cairn.lock pins, then read; and
//! the check step: the data against its declared expectations.

use std::time::SystemTime;

use cairn_core::Project;
use cairn_core::dataset::DatasetSpec;
use cairn_store::Digest;
use polars::prelude::DataFrame;

use crate::TrainError;
use crate::tracked::check_tracked;
use crate::warning::TrainWarning;

/// What the run reads, as far as reproducing it goes.
pub(crate) enum Pinned {
    /// What cairn.lock pins: the lock's digest.
    Tracked(Digest),
    /// Not tracked, or different from what the lock pins, and allowed: the workspace
    /// content's digest, and why the run would otherwise have been refused.
    Untracked {
        digest: Digest,
        warning: TrainWarning,
    },
}

impl Pinned {
    pub(crate) fn digest(&self) -> Digest {
        match self {
            Pinned::Tracked(digest) | Pinned::Untracked { digest, .. } => *digest,
        }
    }
}

/// Decides whether the run may read `path` (the spec's `key`): it must be what cairn.lock pins,
/// unless `allow_untracked`.
pub(crate) fn pin(
    project: &Project,
    model: &str,
    key: &'static str,
    path: &str,
    allow_untracked: bool,
) -> Result<Pinned, TrainError> {
    match check_tracked(project, model, key, path) {
        Ok(digest) => Ok(Pinned::Tracked(digest)),
        Err(e @ (TrainError::Untracked { .. } | TrainError::Modified { .. }))
            if allow_untracked =>
        {
            let digest = cairn_core::table::content_digest(&project.root().join(path))?;
            Ok(Pinned::Untracked {
                digest,
                warning: TrainWarning::Untracked {
                    path: path.to_owned(),
                    reason: e.to_string(),
                },
            })
        }
        Err(e) => Err(e),
    }
}

/// Reads the table at `path` (a project path).
pub(crate) fn read(project: &Project, path: &str) -> Result<DataFrame, TrainError> {
    Ok(cairn_core::table::read_table(&project.root().join(path))?)
}

/// What the check step decided: the record's `validation`.
pub(crate) enum Checked {
    Passed,
    /// Failed, and skipped as allowed.
    Skipped(TrainWarning),
}

/// Checks `frame` (the table at `path`) against its expectations: a failure stops the run,
/// unless `skip_validation`.
pub(crate) fn check(
    frame: &DataFrame,
    model: &str,
    path: &str,
    expectations: &DatasetSpec,
    skip_validation: bool,
) -> Result<Checked, TrainError> {
    let report = cairn_core::validation::check_frame(frame, path, expectations, SystemTime::now())?;
    if report.passed {
        Ok(Checked::Passed)
    } else if skip_validation {
        Ok(Checked::Skipped(TrainWarning::ValidationSkipped {
            path: path.to_owned(),
        }))
    } else {
        Err(TrainError::ValidationFailed {
            model: model.to_owned(),
            report: Box::new(report),
        })
    }
}
