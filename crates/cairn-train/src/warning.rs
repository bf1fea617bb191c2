//! What a run that went through wants its user to know.

use serde::Serialize;

/// A warning of a finished run. The text says what happened; the options that let the run go
/// on anyway are the caller's to name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "warning", rename_all = "snake_case")]
pub enum TrainWarning {
    /// Tracked files had uncommitted changes: the record names the commit, which lacks them.
    DirtyWorktree,
    /// The data is not tracked, or differs from what cairn.lock pins, and
    /// [`TrainOptions::allow_untracked`](crate::TrainOptions::allow_untracked) let the run go
    /// on (the record says `untracked`).
    Untracked {
        path: String,
        /// Why the run would have been refused.
        reason: String,
    },
    /// The data failed its expectations, and
    /// [`TrainOptions::skip_validation`](crate::TrainOptions::skip_validation) let the run go
    /// on (the record says `"validation": "skipped"`).
    ValidationSkipped { path: String },
}

impl std::fmt::Display for TrainWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrainWarning::DirtyWorktree => f.write_str(
                "the worktree has uncommitted changes: the run records the commit, not your edits",
            ),
            TrainWarning::Untracked { reason, .. } => f.write_str(reason),
            TrainWarning::ValidationSkipped { path } => write!(f, "{path} failed validation"),
        }
    }
}
