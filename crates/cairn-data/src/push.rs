//! `cairn data push`: uploads the pinned objects a remote lacks.

use std::collections::HashSet;
use std::path::PathBuf;

use cairn_core::Project;
use cairn_store::{Digest, Progress, Transfer};
use serde::Serialize;

use crate::entries::{feature_entries, run_entries};
use crate::history::{history_locks, lock_of};
use crate::manifest::needed;
use crate::registered::{ModelObjects, model_entries};
use crate::remote::{RemoteInfo, open_remote};
use crate::runs::share_run_refs;
use crate::select::select;
use crate::{DataError, MissingObject};

pub struct PushOptions {
    pub paths: Vec<PathBuf>,
    pub cwd: PathBuf,
    pub remote: Option<String>,
    pub all_commits: bool,
    pub jobs: Option<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PushOutcome {
    pub remote: RemoteInfo,
    /// Objects the selected locks pin.
    pub needed: u64,
    /// Of those, already on the remote (not sent again).
    pub already_there: u64,
    pub uploaded: Transfer,
    /// Pinned objects that neither this machine nor the remote has.
    pub missing: Vec<MissingObject>,
    /// Without paths: the registered model versions of the selected locks, and the objects
    /// they pin (counted in `needed` too). Left out when there is none.
    #[serde(skip_serializing_if = "ModelObjects::is_empty")]
    pub models: ModelObjects,
}

impl PushOutcome {
    pub fn complete(&self) -> bool {
        self.missing.is_empty() && self.uploaded.failures.is_empty()
    }
}

/// `cairn data push`: uploads the pinned objects the remote lacks.
pub fn push(
    project: &Project,
    options: &PushOptions,
    progress: &dyn Progress,
) -> Result<PushOutcome, DataError> {
    let PushOptions {
        paths,
        cwd,
        remote,
        all_commits,
        jobs,
    } = options;
    let store = project.store()?;
    let (mut remote, info, default_jobs) = open_remote(project, remote.as_deref())?;
    remote.require_writable()?;
    let mut locks = vec![lock_of(project, None)?];
    if *all_commits {
        locks.extend(history_locks(project)?.0);
    }
    // Without paths, the feature tables the locks pin go too, and the registered model
    // versions' artifacts, run records and validation records; and so do the training runs'
    // records and model artifacts.
    let (features, models): (Vec<_>, _) = if paths.is_empty() {
        let mut entries: Vec<_> = locks.iter().flat_map(feature_entries).collect();
        entries.extend(locks.iter().flat_map(|lock| model_entries(lock, &store)));
        entries.extend(run_entries(project, &store)?);
        (entries, ModelObjects::of(&locks))
    } else {
        (Vec::new(), ModelObjects::default())
    };
    let mut entries: Vec<_> = features.iter().map(|(p, e)| (p, e)).collect();
    for (i, lock) in locks.iter().enumerate() {
        if i == 0 {
            entries.extend(
                select(project, cwd, lock, paths)?
                    .into_iter()
                    .map(|t| (t.path, t.entry)),
            );
        } else {
            entries.extend(lock.data.iter());
        }
    }
    // A local-directory remote that does not exist yet is created by the upload.
    if remote.exists() {
        remote.check_version()?;
        remote.probe()?;
    }
    // Old manifests this machine never fetched can be read from the remote.
    let need = needed(&store, remote.exists().then_some(&remote), &entries)?;
    let jobs = jobs.unwrap_or(default_jobs);
    let digests: Vec<Digest> = need.objects.keys().copied().collect();
    let on_remote = remote.present(&digests, jobs)?;
    let mut send = Vec::new();
    let mut missing = need.unresolved.clone();
    let mut already_there = 0;
    // Records this machine lacks (of runs and registered versions) have no known size: on
    // the remote, any size will do.
    let unknown_size: HashSet<Digest> = features
        .iter()
        .filter(|(_, e)| e.size == 0)
        .map(|(_, e)| e.digest)
        .collect();
    for (digest, size) in &need.objects {
        // An object of the wrong size on the remote (cut short, tampered with) is sent again.
        let local = store.object_meta(digest).ok().map(|(len, _)| len);
        let expected = local.or_else(|| (!unknown_size.contains(digest)).then_some(*size));
        let there = match expected {
            Some(size) => on_remote.get(digest) == Some(&size),
            None => on_remote.contains_key(digest),
        };
        if there {
            already_there += 1;
        } else if let Some(local_size) = local {
            send.push((*digest, local_size));
        } else if let Some(path) = need.owners.get(digest) {
            missing.push(MissingObject {
                path: path.clone(),
                digest: *digest,
            });
        }
    }
    let uploaded = if send.is_empty() {
        Transfer::default()
    } else {
        remote.upload(&store, &send, jobs, progress)?
    };
    // Then the refs of the runs whose objects are all on the remote now, so that a `gc
    // --remote` from any machine keeps them.
    if paths.is_empty() {
        let not_there: HashSet<Digest> = missing
            .iter()
            .map(|m| m.digest)
            .chain(uploaded.failures.iter().map(|f| f.digest))
            .collect();
        share_run_refs(project, &mut remote, &not_there)?;
    }
    Ok(PushOutcome {
        remote: info,
        needed: need.objects.len() as u64,
        already_there,
        uploaded,
        missing,
        models,
    })
}
