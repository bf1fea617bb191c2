//! `cairn data status`: the workspace against `cairn.lock` (the comparison itself is
//! [`cairn_core::workspace::compare`]), and with a remote, how much of each path it has.

use std::collections::HashMap;
use std::path::PathBuf;

pub use cairn_core::workspace::State as EntryState;
use cairn_core::workspace::{self, PathStatus};
use cairn_core::{DataEntry, EntryKind, Project};
use cairn_store::RelPath;
use serde::Serialize;

use crate::DataError;
use crate::entries::feature_entries;
use crate::manifest::needed;
use crate::registered::version_entries;
use crate::remote::{RemoteInfo, open_remote};
use crate::select::select;

pub struct StatusOptions {
    pub paths: Vec<PathBuf>,
    pub cwd: PathBuf,
    /// Also say whether a remote has each path's objects: `Some(None)` for the default remote.
    pub remote: Option<Option<String>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EntryStatus {
    pub path: RelPath,
    #[serde(rename = "type")]
    pub kind: EntryKind,
    pub state: EntryState,
    /// Project-relative paths of files whose content (or executable bit) differs.
    pub modified: Vec<String>,
    /// Files in the workspace that the lock does not list (inside tracked directories).
    pub added: Vec<String>,
    /// Files the lock lists that are missing from the workspace.
    pub removed: Vec<String>,
    /// With `--remote`: how many of the path's objects the remote has.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote: Option<RemotePresence>,
}

impl From<PathStatus> for EntryStatus {
    fn from(status: PathStatus) -> Self {
        let PathStatus {
            path,
            kind,
            state,
            modified,
            added,
            removed,
        } = status;
        Self {
            path,
            kind,
            state,
            modified,
            added,
            removed,
            remote: None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusOutcome {
    pub entries: Vec<EntryStatus>,
    /// True when the workspace matches the lock for every selected path.
    pub clean: bool,
    /// With `--remote`: the remote that was asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote: Option<RemoteInfo>,
    /// With `--remote` and no paths: whether the remote has each pinned feature table.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<FeatureStatus>,
    /// With `--remote` and no paths: how many of each registered model version's objects
    /// (artifact, run record, validation record) the remote has.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<ModelStatus>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FeatureStatus {
    pub view: String,
    pub remote: RemotePresence,
}

/// A registered model version (`[[model.NAME.versions]]`) and whether a remote has its
/// objects.
#[derive(Debug, Clone, Serialize)]
pub struct ModelStatus {
    pub model: String,
    pub version: u32,
    pub remote: RemotePresence,
}

/// Per tracked path: how many of its objects the remote has.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RemotePresence {
    pub present: u64,
    pub missing: u64,
    /// The directory's manifest is on neither side, so its files are unknown.
    pub unknown: bool,
}

/// `cairn data status`: compares the workspace with `cairn.lock`, hashing only files whose
/// stat data changed since they were last hashed.
pub fn status(project: &Project, options: &StatusOptions) -> Result<StatusOutcome, DataError> {
    let StatusOptions { paths, cwd, remote } = options;
    let lock = project.read_lock()?;
    let selected = select(project, cwd, &lock, paths)?;
    let mut entries: Vec<EntryStatus> = workspace::compare(project, &selected)?
        .into_iter()
        .map(EntryStatus::from)
        .collect();
    let clean = entries.iter().all(|e| e.state == EntryState::Unchanged);
    let mut features = Vec::new();
    let mut models = Vec::new();
    let remote = match remote {
        None => None,
        Some(name) => {
            // Without paths, the pinned feature tables and the registered model versions'
            // objects are asked about too.
            let tables = if paths.is_empty() {
                feature_entries(&lock)
            } else {
                Vec::new()
            };
            let versions = if paths.is_empty() {
                version_entries(&lock)
            } else {
                Vec::new()
            };
            let mut groups: Vec<Vec<(&RelPath, &DataEntry)>> =
                selected.iter().map(|t| vec![(t.path, t.entry)]).collect();
            groups.extend(tables.iter().map(|(p, e)| vec![(p, e)]));
            groups.extend(
                versions
                    .iter()
                    .map(|v| v.entries.iter().map(|(p, e)| (p, e)).collect()),
            );
            let (info, mut presence) = remote_presence(project, name.as_deref(), &groups)?;
            let of_models = presence.split_off(entries.len() + tables.len());
            let of_tables = presence.split_off(entries.len());
            for (entry, p) in entries.iter_mut().zip(presence) {
                entry.remote = Some(p);
            }
            for ((view, _), p) in lock.feature.iter().zip(of_tables) {
                features.push(FeatureStatus {
                    view: view.clone(),
                    remote: p,
                });
            }
            for (v, p) in versions.iter().zip(of_models) {
                models.push(ModelStatus {
                    model: v.model.to_owned(),
                    version: v.version,
                    remote: p,
                });
            }
            Some(info)
        }
    };
    Ok(StatusOutcome {
        entries,
        clean,
        remote,
        features,
        models,
    })
}

/// How many of each group of entries' objects the remote has (manifests this machine lacks
/// are read from the remote).
fn remote_presence(
    project: &Project,
    remote: Option<&str>,
    groups: &[Vec<(&RelPath, &DataEntry)>],
) -> Result<(RemoteInfo, Vec<RemotePresence>), DataError> {
    let store = project.store()?;
    let (remote, info, _) = open_remote(project, remote)?;
    // A directory remote nobody pushed to yet simply has nothing.
    let on_remote = if remote.exists() {
        remote.check_version()?;
        remote.list()?
    } else {
        HashMap::new()
    };
    let mut out = Vec::new();
    for group in groups {
        let need = needed(&store, remote.exists().then_some(&remote), group)?;
        let present = need
            .objects
            .keys()
            .filter(|d| on_remote.contains_key(d))
            .count() as u64;
        out.push(RemotePresence {
            present,
            missing: need.objects.len() as u64 - present,
            unknown: !need.unresolved.is_empty(),
        });
    }
    Ok((info, out))
}
