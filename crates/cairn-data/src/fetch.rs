//! `cairn data fetch`: downloads the pinned objects the local store lacks, verifying each,
//! and the training runs other machines pushed.

use std::path::PathBuf;

use cairn_core::Project;
use cairn_store::{Digest, Progress, Transfer, TransferFailure};
use serde::Serialize;

use crate::DataError;
use crate::entries::feature_entries;
use crate::guard::write_guard;
use crate::history::lock_of;
use crate::manifest::needed;
use crate::registered::{ModelObjects, model_entries};
use crate::remote::{RemoteInfo, open_remote};
use crate::runs::{SkippedRun, fetch_runs, remote_runs};
use crate::select::select;

pub struct FetchOptions {
    pub paths: Vec<PathBuf>,
    pub cwd: PathBuf,
    pub remote: Option<String>,
    /// Fetch what the lock of this git revision pins.
    pub rev: Option<String>,
    pub jobs: Option<usize>,
    /// Only the registered model versions' objects (artifacts, run and validation records):
    /// what a server needs, without the data, feature tables or other runs. No paths then.
    pub models_only: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct FetchOutcome {
    pub remote: RemoteInfo,
    pub needed: u64,
    /// Of those, already in the local store.
    pub already_here: u64,
    pub downloaded: Transfer,
    /// Runs that other machines pushed, now recorded here (their refs written), by id.
    pub runs_added: Vec<String>,
    /// Runs on the remote that could not be fetched whole, so were not recorded here.
    pub runs_skipped: Vec<SkippedRun>,
    /// Without paths: the registered model versions of the lock, every one of them, and the
    /// objects they pin (counted in `needed` too). Left out when there is none.
    #[serde(skip_serializing_if = "ModelObjects::is_empty")]
    pub models: ModelObjects,
}

impl FetchOutcome {
    pub fn complete(&self) -> bool {
        self.downloaded.failures.is_empty()
    }
}

/// `cairn data fetch`: downloads the pinned objects the local store lacks, verifying each.
pub fn fetch(
    project: &Project,
    options: &FetchOptions,
    progress: &dyn Progress,
) -> Result<FetchOutcome, DataError> {
    fetch_for(project, options, false, progress)
}

/// [`fetch`]; `checkout` says that a checkout of the same paths follows in this process, so
/// that the downloads of large files also write their workspace copies, in parallel (see
/// `Store::want_copies`).
pub(crate) fn fetch_for(
    project: &Project,
    options: &FetchOptions,
    checkout: bool,
    progress: &dyn Progress,
) -> Result<FetchOutcome, DataError> {
    let FetchOptions {
        paths,
        cwd,
        remote,
        rev,
        jobs,
        models_only,
    } = options;
    let store = project.store()?;
    let (remote, info, default_jobs) = open_remote(project, remote.as_deref())?;
    let jobs = jobs.unwrap_or(default_jobs);
    let _guard = write_guard(&store, progress)?;
    store.clean_tmp()?;
    remote.check_version()?;
    // A missing bucket or directory is an error about the remote, not a failure of each
    // object.
    remote.probe()?;
    let lock = lock_of(project, rev.as_deref())?;
    // Without paths, the feature tables the lock pins come too, and every registered model
    // version's artifact, run record and validation record.
    let (features, models) = if *models_only {
        (model_entries(&lock, &store), ModelObjects::of([&lock]))
    } else if paths.is_empty() {
        let mut entries = feature_entries(&lock);
        entries.extend(model_entries(&lock, &store));
        (entries, ModelObjects::of([&lock]))
    } else {
        (Vec::new(), ModelObjects::default())
    };
    let selected: Vec<_> = if *models_only {
        Vec::new()
    } else {
        select(project, cwd, &lock, paths)?
            .into_iter()
            .map(|t| (t.path, t.entry))
            .collect()
    };
    // Directory manifests first (from the remote when needed), then everything they list.
    let mut need = needed(&store, Some(&remote), &selected)?;
    store.share_objects(&project.config().cache.link);
    if checkout {
        store.want_copies(
            need.objects.iter().map(|(digest, size)| (*digest, *size)),
            &project.config().cache.link,
        );
    }
    let features: Vec<_> = features.iter().map(|(p, e)| (p, e)).collect();
    need.absorb(needed(&store, Some(&remote), &features)?);
    // Without paths, the runs other machines pushed come too: their records and model
    // artifacts, then their refs (below), so that `cairn runs` shows them here.
    let new_runs = if paths.is_empty() && !*models_only && remote.can_list() {
        remote_runs(project, &remote)?
    } else {
        Vec::new()
    };
    // Which of the objects this store lacks the remote has. Plain web servers cannot list:
    // there, each object is asked for.
    let lacking: Vec<(Digest, u64)> = need
        .objects
        .iter()
        .filter(|(digest, size)| !store.has(digest, **size))
        .map(|(digest, size)| (*digest, *size))
        .collect();
    let already_here = (need.objects.len() - lacking.len()) as u64;
    let on_remote = if remote.can_list() {
        let digests: Vec<Digest> = lacking.iter().map(|(digest, _)| *digest).collect();
        Some(remote.present(&digests, jobs)?)
    } else {
        None
    };
    let (mut get, absent): (Vec<_>, Vec<_>) = lacking.into_iter().partition(|(digest, _)| {
        on_remote
            .as_ref()
            .is_none_or(|listed| listed.contains_key(digest))
    });
    // A record this machine never had has no size in the lock (0): the remote's listing
    // gives it, when the remote lists.
    if let Some(listed) = &on_remote {
        for (digest, size) in &mut get {
            if *size == 0
                && let Some(listed) = listed.get(digest)
            {
                *size = *listed;
            }
        }
    }
    let absent = absent.into_iter().map(|(digest, _)| TransferFailure {
        digest,
        reason: "not on the remote".into(),
    });
    let mut downloaded = if get.is_empty() {
        Transfer::default()
    } else {
        remote.download(&store, &get, jobs, progress)?
    };
    downloaded.failures.extend(absent);
    for m in &need.unresolved {
        downloaded.failures.push(TransferFailure {
            digest: m.digest,
            reason: "not on the remote".into(),
        });
    }
    let (runs_added, runs_skipped) = fetch_runs(
        project,
        &store,
        &remote,
        new_runs,
        jobs,
        &mut downloaded,
        progress,
    )?;
    // No sync: a fetched object can be fetched again, and every reader verifies what it reads
    // (checkout hashes each object it writes out, push each one it sends), so an object a
    // power failure damaged is found, never used (docs/formats/store.md, Durability). A run's
    // ref is the exception: it keeps its objects from `data gc`, so they are synced first.
    Ok(FetchOutcome {
        remote: info,
        needed: need.objects.len() as u64,
        already_here,
        downloaded,
        runs_added,
        runs_skipped,
        models,
    })
}
