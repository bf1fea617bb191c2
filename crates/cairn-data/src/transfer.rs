//! Sharing data through remotes: push, fetch, pull, and what a remote has.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use cairn_core::{CredentialSource, EntryKind, Lock, Project, ResolvedRemote};
use cairn_store::{Digest, Manifest, Progress, Remote, RemoteOptions, Store, Transfer};
use serde::Serialize;

use crate::checkout::lock_at;
use crate::select::select;
use crate::{CheckoutOptions, CheckoutOutcome, DataError, MissingObject};

/// Transfers in flight at once when neither the command nor the remote's config says.
pub const DEFAULT_JOBS: usize = 16;

/// Which remote a command talks to, as resolved from `cairn.toml`.
#[derive(Debug, Clone, Serialize)]
pub struct RemoteInfo {
    pub name: String,
    pub url: String,
    pub credentials: CredentialSource,
}

pub(crate) fn open_remote(
    project: &Project,
    name: Option<&str>,
) -> Result<(Remote, RemoteInfo, usize), DataError> {
    let resolved: ResolvedRemote = project.remote(name)?;
    let ResolvedRemote {
        name,
        config,
        secrets,
        credentials,
        root,
        env,
    } = resolved;
    let options = RemoteOptions {
        url: config.url.clone(),
        endpoint: config.endpoint.clone(),
        region: config.region.clone(),
        allow_http: config.allow_http,
        virtual_hosted_style: config.virtual_hosted_style,
        extra: secrets,
        env,
        root,
    };
    let remote = Remote::open(&options)?;
    let jobs = config.jobs.unwrap_or(DEFAULT_JOBS);
    Ok((
        remote,
        RemoteInfo {
            name,
            url: config.url,
            credentials,
        },
        jobs,
    ))
}

/// The objects a set of lock entries needs: each entry's object and, for directories, the
/// files its manifest lists. Manifests are read from the local store, then from `remote`.
struct Needed {
    /// Objects and their sizes (a manifest's size is its object's).
    objects: BTreeMap<Digest, u64>,
    /// Who needs each object, for messages.
    owners: HashMap<Digest, cairn_store::RelPath>,
    /// Directories whose manifest is in neither place.
    unresolved: Vec<MissingObject>,
}

impl Needed {
    fn absorb(&mut self, other: Needed) {
        self.objects.extend(other.objects);
        for (digest, owner) in other.owners {
            self.owners.entry(digest).or_insert(owner);
        }
        self.unresolved.extend(other.unresolved);
    }
}

fn needed(
    store: &Store,
    remote: Option<&Remote>,
    entries: &[(&cairn_store::RelPath, &cairn_core::DataEntry)],
) -> Result<Needed, DataError> {
    let mut out = Needed {
        objects: BTreeMap::new(),
        owners: HashMap::new(),
        unresolved: Vec::new(),
    };
    for (path, entry) in entries {
        out.owners
            .entry(entry.digest)
            .or_insert_with(|| (*path).clone());
        match entry.kind {
            EntryKind::File => {
                out.objects.insert(entry.digest, entry.size);
            }
            EntryKind::Dir => {
                let bytes = match store.read(&entry.digest) {
                    Ok(bytes) => Some(bytes),
                    Err(cairn_store::StoreError::Missing { .. }) => match remote {
                        Some(remote) => remote.read(&entry.digest)?,
                        None => None,
                    },
                    Err(e) => return Err(e.into()),
                };
                let Some(bytes) = bytes else {
                    out.unresolved.push(MissingObject {
                        path: (*path).clone(),
                        digest: entry.digest,
                    });
                    continue;
                };
                out.objects.insert(entry.digest, bytes.len() as u64);
                let manifest =
                    Manifest::from_bytes(&bytes).map_err(|source| DataError::Manifest {
                        path: (*path).clone(),
                        digest: entry.digest,
                        source,
                    })?;
                for e in manifest.entries() {
                    out.objects.insert(e.digest, e.size);
                    out.owners
                        .entry(e.digest)
                        .or_insert_with(|| path.join(&e.path));
                }
            }
        }
    }
    Ok(out)
}

/// The locks a transfer concerns: the workspace lock (or a revision's), narrowed to `paths`,
/// plus with `all_commits` every lock in the git history.
/// The offline feature tables a lock pins, as entries that transfers treat like tracked files
/// (named `feature:VIEW` in messages).
pub(crate) fn feature_entries(lock: &Lock) -> Vec<(cairn_store::RelPath, cairn_core::DataEntry)> {
    lock.feature
        .iter()
        .filter_map(|(view, f)| {
            let name = cairn_store::RelPath::new(format!("feature:{view}")).ok()?;
            Some((
                name,
                cairn_core::DataEntry {
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

/// Fetches the objects of `runs` (a record and a model artifact each) and records each run
/// whose objects are all here, its ref last (after a sync: the ref keeps its objects from
/// `data gc`). A run that cannot be fetched whole is skipped, not an error: the data the lock
/// pins does not depend on it. Its objects count in `downloaded`, their failures do not.
fn fetch_runs(
    project: &Project,
    store: &Store,
    remote: &Remote,
    runs: Vec<cairn_core::runs::RunRef>,
    jobs: usize,
    downloaded: &mut Transfer,
    progress: &dyn Progress,
) -> Result<(Vec<String>, Vec<SkippedRun>), DataError> {
    // `RunRef::parse` accepts only 64 hex digits: every digest parses.
    let objects = |run: &cairn_core::runs::RunRef| -> Vec<Digest> {
        std::iter::once(&run.record)
            .chain(&run.artifact)
            .filter_map(|d| d.parse::<Digest>().ok())
            .collect()
    };
    let lacking: Vec<Digest> = runs
        .iter()
        .flat_map(objects)
        .filter(|digest| !store.contains(digest))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut failed: HashMap<Digest, String> = HashMap::new();
    if !lacking.is_empty() {
        let sizes = remote.present(&lacking, jobs)?;
        let get: Vec<(Digest, u64)> = lacking
            .iter()
            .filter_map(|digest| sizes.get(digest).map(|size| (*digest, *size)))
            .collect();
        for digest in lacking.iter().filter(|d| !sizes.contains_key(d)) {
            failed.insert(*digest, "not on the remote".to_owned());
        }
        if !get.is_empty() {
            let transfer = remote.download(store, &get, jobs, progress)?;
            downloaded.objects += transfer.objects;
            downloaded.bytes += transfer.bytes;
            downloaded.shared += transfer.shared;
            failed.extend(transfer.failures.into_iter().map(|f| (f.digest, f.reason)));
        }
    }
    let mut complete = Vec::new();
    let mut skipped = Vec::new();
    for run in runs {
        let problem = objects(&run)
            .into_iter()
            .find(|digest| !store.contains(digest))
            .map(|digest| {
                let reason = failed.get(&digest).cloned();
                (digest, reason.unwrap_or_else(|| "not fetched".to_owned()))
            });
        match problem {
            None => complete.push(run),
            Some((digest, reason)) => skipped.push(SkippedRun {
                id: run.id,
                digest,
                reason,
            }),
        }
    }
    if !complete.is_empty() {
        store.sync()?;
    }
    let mut added = Vec::new();
    for run in complete {
        cairn_core::runs::write_ref(&project.state_dir(), &run)?;
        added.push(run.id);
    }
    Ok((added, skipped))
}

/// The runs on `remote` (its `runs/ID` refs, written by `data push`) that this machine does not
/// have. A ref that does not parse is not cairn's, and is skipped.
fn remote_runs(
    project: &Project,
    remote: &Remote,
) -> Result<Vec<cairn_core::runs::RunRef>, DataError> {
    let local: std::collections::HashSet<String> =
        cairn_core::runs::read_refs(&project.state_dir())?
            .into_iter()
            .map(|r| r.id)
            .collect();
    Ok(run_refs(remote)?
        .into_iter()
        .filter(|run| !local.contains(&run.id))
        .collect())
}

/// The run refs on `remote` (`runs/ID`, written by `data push`), ordered by id. A ref that does
/// not parse is not cairn's, and is skipped.
pub(crate) fn run_refs(remote: &Remote) -> Result<Vec<cairn_core::runs::RunRef>, DataError> {
    Ok(remote
        .list_named("runs")?
        .into_iter()
        .filter_map(|(id, bytes)| {
            cairn_core::runs::RunRef::parse(&id, &String::from_utf8_lossy(&bytes))
        })
        .collect())
}

/// A run that was pushed to a remote (its ref `runs/ID` there), with its record: what
/// `runs list --remote` shows without fetching anything.
#[derive(Debug)]
pub struct RemoteRun {
    pub id: String,
    /// The record's digest, as the ref names it.
    pub record: Digest,
    /// The record's JSON, verified against its digest, or why it could not be read (a
    /// predicate of the record: "is not on the remote").
    pub json: Result<Vec<u8>, String>,
}

/// The runs on a remote, ordered by id.
#[derive(Debug)]
pub struct RemoteRuns {
    pub remote: RemoteInfo,
    pub runs: Vec<RemoteRun>,
}

/// Lists the runs pushed to a remote (`None`: the default one) and reads their records, from
/// this machine's store when it has them and otherwise from the remote (as many at once as the
/// remote's `jobs`). Nothing is stored: the runs are not added here (that is `data fetch`). A
/// ref that does not parse is not cairn's, and is skipped; a record that is missing or damaged
/// is reported in its run's `json`.
pub fn list_remote_runs(project: &Project, remote: Option<&str>) -> Result<RemoteRuns, DataError> {
    let (remote, info, jobs) = open_remote(project, remote)?;
    let store = project.store()?;
    let refs: Vec<(String, Digest)> = run_refs(&remote)?
        .into_iter()
        .filter_map(|run| Some((run.id, run.record.parse::<Digest>().ok()?)))
        .collect();
    let mut wanted: Vec<Digest> = refs
        .iter()
        .map(|(_, record)| *record)
        .filter(|record| !store.contains(record))
        .collect();
    wanted.sort();
    wanted.dedup();
    let read: HashMap<Digest, Result<Vec<u8>, String>> = remote
        .read_all(&wanted, jobs)?
        .into_iter()
        .map(|(digest, result)| {
            let result = match result {
                Ok(Some(bytes)) => Ok(bytes),
                Ok(None) => Err("is not on the remote".to_owned()),
                Err(cairn_store::RemoteError::Corrupt { actual, .. }) => Err(format!(
                    "is damaged on the remote: its content hashes to {actual}"
                )),
                Err(e) => Err(format!("could not be read: {e}")),
            };
            (digest, result)
        })
        .collect();
    let runs = refs
        .into_iter()
        .map(|(id, record)| {
            let json = match read.get(&record) {
                Some(result) => result.clone(),
                None => store
                    .read(&record)
                    .map_err(|e| format!("could not be read from this machine's store: {e}")),
            };
            RemoteRun { id, record, json }
        })
        .collect();
    Ok(RemoteRuns { remote: info, runs })
}

/// Training runs (their refs in `.cairn/runs/`): each run's record and model artifact, as entries
/// named `run:ID` and `run:ID/model`, so that `data push` shares them.
pub(crate) fn run_entries(
    project: &Project,
    store: &cairn_store::Store,
) -> Result<Vec<(cairn_store::RelPath, cairn_core::DataEntry)>, DataError> {
    let mut out = Vec::new();
    for run in cairn_core::runs::read_refs(&project.state_dir())? {
        let objects = [
            (format!("run:{}", run.id), Some(run.record)),
            (format!("run:{}/model", run.id), run.artifact),
        ];
        for (name, digest) in objects {
            let (Some(digest), Ok(name)) = (
                digest.and_then(|d| d.parse::<cairn_store::Digest>().ok()),
                cairn_store::RelPath::new(name),
            ) else {
                continue;
            };
            // An object this machine lacks is still listed: the push reports it missing.
            let size = store.object_meta(&digest).map_or(0, |(size, _)| size);
            out.push((
                name,
                cairn_core::DataEntry {
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

fn locks(project: &Project, rev: Option<&str>, all_commits: bool) -> Result<Vec<Lock>, DataError> {
    let mut locks = vec![match rev {
        None => project.read_lock()?,
        Some(rev) => lock_at(project, rev)?,
    }];
    if all_commits {
        locks.extend(crate::gc::history_locks(project)?.0);
    }
    Ok(locks)
}

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
    let locks = locks(project, None, *all_commits)?;
    // Without paths, the feature tables the locks pin go too.
    // And so do the training runs' records and model artifacts.
    let features: Vec<_> = if paths.is_empty() {
        let mut entries: Vec<_> = locks.iter().flat_map(feature_entries).collect();
        entries.extend(run_entries(project, &store)?);
        entries
    } else {
        Vec::new()
    };
    let mut entries: Vec<_> = features.iter().map(|(p, e)| (p, e)).collect();
    for (i, lock) in locks.iter().enumerate() {
        if i == 0 {
            entries.extend(
                select(project, cwd, lock, paths)?
                    .into_iter()
                    .map(|s| (s.path, s.entry)),
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
    for (digest, size) in &need.objects {
        // An object of the wrong size on the remote (cut short, tampered with) is sent again.
        let local = store.object_meta(digest).ok().map(|(len, _)| len);
        if on_remote.get(digest) == Some(local.as_ref().unwrap_or(size)) {
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
        let not_there: std::collections::HashSet<Digest> = missing
            .iter()
            .map(|m| m.digest)
            .chain(uploaded.failures.iter().map(|f| f.digest))
            .collect();
        for run in cairn_core::runs::read_refs(&project.state_dir())? {
            let digests = std::iter::once(&run.record).chain(run.artifact.as_ref());
            if digests
                .filter_map(|d| d.parse::<Digest>().ok())
                .all(|d| !not_there.contains(&d))
            {
                remote.put_named("runs", &run.id, run.line().as_bytes())?;
            }
        }
    }
    Ok(PushOutcome {
        remote: info,
        needed: need.objects.len() as u64,
        already_there,
        uploaded,
        missing,
    })
}

pub struct FetchOptions {
    pub paths: Vec<PathBuf>,
    pub cwd: PathBuf,
    pub remote: Option<String>,
    /// Fetch what the lock of this git revision pins.
    pub rev: Option<String>,
    pub jobs: Option<usize>,
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
}

/// A run on the remote that a fetch did not record: one of its objects could not be fetched.
#[derive(Debug, Clone, Serialize)]
pub struct SkippedRun {
    pub id: String,
    pub digest: Digest,
    pub reason: String,
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
fn fetch_for(
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
    } = options;
    let store = project.store()?;
    let (remote, info, default_jobs) = open_remote(project, remote.as_deref())?;
    let jobs = jobs.unwrap_or(default_jobs);
    let _guard = crate::write_guard(&store, progress)?;
    store.clean_tmp()?;
    remote.check_version()?;
    // A missing bucket or directory is an error about the remote, not a failure of each
    // object.
    remote.probe()?;
    let lock = locks(project, rev.as_deref(), false)?.remove(0);
    let features = if paths.is_empty() {
        feature_entries(&lock)
    } else {
        Vec::new()
    };
    let selected: Vec<_> = select(project, cwd, &lock, paths)?
        .into_iter()
        .map(|s| (s.path, s.entry))
        .collect();
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
    let new_runs = if paths.is_empty() && remote.can_list() {
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
    let (get, absent): (Vec<_>, Vec<_>) = lacking.into_iter().partition(|(digest, _)| {
        on_remote
            .as_ref()
            .is_none_or(|listed| listed.contains_key(digest))
    });
    let absent = absent
        .into_iter()
        .map(|(digest, _)| cairn_store::TransferFailure {
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
        downloaded.failures.push(cairn_store::TransferFailure {
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
    })
}

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
    let checkout = crate::checkout(
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

/// Per tracked path: how many of its objects the remote has.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RemotePresence {
    pub present: u64,
    pub missing: u64,
    /// The directory's manifest is on neither side, so its files are unknown.
    pub unknown: bool,
}

pub(crate) fn remote_presence(
    project: &Project,
    remote: Option<&str>,
    entries: &[(&cairn_store::RelPath, &cairn_core::DataEntry)],
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
    for entry in entries {
        let need = needed(
            &store,
            remote.exists().then_some(&remote),
            std::slice::from_ref(entry),
        )?;
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
