//! The check a pre-commit hook runs on the files being committed to git: none of them may be
//! data that cairn tracks (git keeps the code and the lock, the store keeps the data), none
//! may lie inside the store, and none may be larger than a limit.
//!
//! The files are named by the caller (pre-commit passes the staged files); the check reads
//! the lock and each file's size, nothing else, so that it stays fast on any workspace.

use std::path::PathBuf;

use cairn_core::{PathError, Project};
use cairn_store::RelPath;
use serde::Serialize;

use crate::error::DataError;

/// What `staged` is asked.
#[derive(Debug, Clone)]
pub struct StagedOptions {
    /// The files to check, relative to `cwd` or absolute.
    pub paths: Vec<PathBuf>,
    /// Where relative paths start.
    pub cwd: PathBuf,
    /// A file larger than this many bytes is reported.
    pub max_bytes: u64,
}

/// What `staged` found.
#[derive(Debug, Clone, Serialize)]
pub struct StagedOutcome {
    /// How many files were checked (files that no longer exist are skipped).
    pub checked: usize,
    pub max_bytes: u64,
    /// In the order the files were given.
    pub findings: Vec<StagedFinding>,
    /// No findings.
    pub clean: bool,
}

/// One file that should not be committed to git.
#[derive(Debug, Clone, Serialize)]
pub struct StagedFinding {
    /// As given.
    pub path: String,
    #[serde(flatten)]
    pub problem: StagedProblem,
}

/// Why a file should not be committed to git.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum StagedProblem {
    /// The file is tracked by cairn: `tracked` is the lock's entry that is it, or (`inside`)
    /// the tracked directory that contains it.
    Tracked { tracked: RelPath, inside: bool },
    /// The file is inside `.cairn/`, the store and the machine's state.
    State,
    /// The file is larger than the limit.
    Large { bytes: u64 },
}

/// Checks the files that are about to be committed to git.
pub fn staged(project: &Project, options: &StagedOptions) -> Result<StagedOutcome, DataError> {
    let lock = project.read_lock()?;
    let mut checked = 0;
    let mut findings = Vec::new();
    for path in &options.paths {
        let full = options.cwd.join(path);
        // Deleted files are staged too (as removals): there is nothing of them to commit.
        let Ok(meta) = std::fs::symlink_metadata(&full) else {
            continue;
        };
        checked += 1;
        let shown = path.display().to_string();
        let problem = match project.resolve(&options.cwd, path) {
            Ok(rel) => lock
                .entry_containing(&rel)
                .map(|(tracked, _)| StagedProblem::Tracked {
                    tracked: tracked.clone(),
                    inside: *tracked != rel,
                }),
            Err(PathError::Reserved { .. }) => Some(StagedProblem::State),
            // Outside the project, or a name cairn would not track: only its size matters.
            Err(_) => None,
        };
        let problem = problem.or_else(|| {
            (meta.is_file() && meta.len() > options.max_bytes)
                .then_some(StagedProblem::Large { bytes: meta.len() })
        });
        if let Some(problem) = problem {
            findings.push(StagedFinding {
                path: shown,
                problem,
            });
        }
    }
    Ok(StagedOutcome {
        checked,
        max_bytes: options.max_bytes,
        clean: findings.is_empty(),
        findings,
    })
}
