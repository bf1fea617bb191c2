//! What transfers carry besides tracked data, as entries they treat like tracked files:
//! the offline feature tables a lock pins (`feature:VIEW`) and the training runs this machine
//! recorded (`run:ID`, `run:ID/model`).

use cairn_core::{DataEntry, EntryKind, Lock, Project};
use cairn_store::{Digest, RelPath, Store};

use crate::DataError;

/// The offline feature tables a lock pins, as entries that transfers treat like tracked files
/// (named `feature:VIEW` in messages).
pub(crate) fn feature_entries(lock: &Lock) -> Vec<(RelPath, DataEntry)> {
    lock.feature
        .iter()
        .filter_map(|(view, f)| {
            let name = RelPath::new(format!("feature:{view}")).ok()?;
            Some((
                name,
                DataEntry {
                    kind: EntryKind::File,
                    digest: f.digest,
                    size: f.size,
                    files: 0,
                    executable: false,
                },
            ))
        })
        .collect()
}

/// Training runs (their refs in `.cairn/runs/`): each run's record and model artifact, as entries
/// named `run:ID` and `run:ID/model`, so that `data push` shares them.
pub(crate) fn run_entries(
    project: &Project,
    store: &Store,
) -> Result<Vec<(RelPath, DataEntry)>, DataError> {
    let mut out = Vec::new();
    for run in cairn_core::runs::read_refs(&project.state_dir())? {
        let objects = [
            (format!("run:{}", run.id), Some(run.record)),
            (format!("run:{}/model", run.id), run.artifact),
        ];
        for (name, digest) in objects {
            let (Some(digest), Ok(name)) = (
                digest.and_then(|d| d.parse::<Digest>().ok()),
                RelPath::new(name),
            ) else {
                continue;
            };
            // An object this machine lacks is still listed: the push reports it missing.
            let size = store.object_meta(&digest).map_or(0, |(size, _)| size);
            out.push((
                name,
                DataEntry {
                    kind: EntryKind::File,
                    digest,
                    size,
                    files: 0,
                    executable: false,
                },
            ));
        }
    }
    Ok(out)
}
