//! Runs pushed to a remote, read without fetching them: the records a listing of the remote's
//! run refs brought, parsed, with the runs that cannot be used set aside.

use cairn_core::runs::RunsError;
use cairn_store::Digest;
use serde::Serialize;

use crate::query::Selection;
use crate::record::RunRecord;
use crate::runs::parse_run_record;

/// A run a remote lists: its id, the digest its ref names for the record, and the record's
/// content (verified against that digest) or why it could not be read.
#[derive(Debug, Clone)]
pub struct ListedRun {
    pub id: String,
    pub record: Digest,
    /// The record's JSON, or why it could not be read, said of the record ("is not on the
    /// remote").
    pub json: Result<Vec<u8>, String>,
}

/// A run left out of a remote listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedRun {
    pub id: String,
    /// The record's digest, as the run's ref names it.
    pub record: Digest,
    pub reason: SkipReason,
}

/// Why a run on a remote was left out; said of its record ("its record DIGEST {reason}").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "message", rename_all = "snake_case")]
pub enum SkipReason {
    /// The record could not be read: missing or damaged on the remote, or unreadable.
    Unreadable(String),
    /// The record was read, but is not a run record this cairn reads (another object, a
    /// damaged record, a newer format).
    Unusable(String),
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SkipReason::Unreadable(why) => f.write_str(why),
            SkipReason::Unusable(why) => write!(f, "cannot be used ({why})"),
        }
    }
}

/// The runs of a remote that a selection picks, and those that could not be read.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteRuns {
    /// Oldest first, unless the selection sorts them.
    pub records: Vec<RunRecord>,
    /// In the listing's order.
    pub skipped: Vec<SkippedRun>,
}

/// Parses the records of `listed` and keeps those `selection` picks (taken oldest first, as
/// this machine's runs are).
pub fn remote_runs(
    listed: impl IntoIterator<Item = ListedRun>,
    selection: &Selection,
) -> RemoteRuns {
    let mut records = Vec::new();
    let mut skipped = Vec::new();
    for run in listed {
        let parsed = match &run.json {
            Ok(json) => {
                parse_run_record(&run.id, json).map_err(|e| SkipReason::Unusable(e.to_string()))
            }
            Err(why) => Err(SkipReason::Unreadable(why.clone())),
        };
        match parsed {
            Ok(record) => records.push(record),
            Err(reason) => skipped.push(SkippedRun {
                id: run.id,
                record: run.record,
                reason,
            }),
        }
    }
    records.sort_by(|a, b| a.started.cmp(&b.started).then_with(|| a.id.cmp(&b.id)));
    RemoteRuns {
        records: selection.apply(records),
        skipped,
    }
}

impl RemoteRuns {
    /// The runs `ids` name (each an id or a unique prefix, as for this machine's runs), in
    /// that order.
    pub fn named(&self, ids: &[String]) -> Result<Vec<RunRecord>, RunsError> {
        let known: Vec<&str> = self.records.iter().map(|r| r.id.as_str()).collect();
        ids.iter()
            .map(|id| {
                let at = cairn_core::runs::resolve_id(&known, id)?;
                Ok(self.records[at].clone())
            })
            .collect()
    }
}
