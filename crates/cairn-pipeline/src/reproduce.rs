//! `reproduce`: a registered model version rebuilt from what its lock entry pins — the code
//! at its commit (checked out through gix into a directory of its own), its data and feature
//! tables by digest (from the local store, or the default remote), its run's overrides, seed
//! and split — by cairn's own training code, and the new artifact's digest compared with the
//! pinned one.
//!
//! Nothing is written to the user's working tree, index, `cairn.lock`, runs or store: the
//! rebuild happens in a temporary directory under `.cairn/tmp` (removed afterwards) or in the
//! directory asked for (kept), which holds the checkout, the inputs, a store of its own (with
//! the rebuilt artifact) and the lock the rebuild trained against.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cairn_core::{DataEntry, FeatureEntry, Lock, Project};
use cairn_registry::Resolved;
use cairn_store::{Digest, RelPath, Store};
use cairn_train::{RunRecord, TrainProgress};
use serde::{Deserialize, Serialize};

use crate::ReproduceError;
use crate::checkout::checkout;
use crate::inputs::{Objects, gather_data, place_data, replay_lock};

/// What `reproduce` is asked.
#[derive(Debug, Clone, Default)]
pub struct ReproduceOptions {
    /// `NAME@REF` (or `NAME`, meaning `NAME@production`).
    pub reference: String,
    /// Rebuild in this directory (created if missing; it must be empty) and keep it.
    /// Without it, a temporary directory under `.cairn/tmp` is used and removed.
    pub workdir: Option<PathBuf>,
}

/// Which kind of input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    /// The project's files at the pinned commit.
    Code,
    /// The run record (params, seed, split).
    RunRecord,
    /// A tracked table (or one file of a tracked directory).
    Data,
    /// A feature view's offline table.
    Feature,
}

impl InputKind {
    pub fn as_str(self) -> &'static str {
        match self {
            InputKind::Code => "code",
            InputKind::RunRecord => "run record",
            InputKind::Data => "data",
            InputKind::Feature => "feature table",
        }
    }
}

/// Where an input came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum InputSource {
    /// The git repository's object database.
    Git,
    /// The local store (`.cairn/objects`).
    LocalStore,
    /// The default remote (the local store lacked it).
    Remote { remote: String },
}

/// One input of the rebuild.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RebuiltInput {
    pub kind: InputKind,
    /// The project path (data), the view (feature table), the run id (run record), or `commit`.
    pub name: String,
    /// The object's digest, or the commit id.
    pub digest: String,
    #[serde(flatten)]
    pub from: InputSource,
}

/// An input nobody has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissingInput {
    pub kind: InputKind,
    pub name: String,
    pub digest: String,
}

/// One way the rebuild differs from what the version pins or its run recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Difference {
    /// `artifact`, `data PATH`, `feature VIEW`, `code`, `params.NAME`, `algorithm`, `seed`,
    /// `train_rows`, `test_rows`, `cairn version`, `platform`, `fitted model`, `uncommitted
    /// changes`.
    pub what: String,
    /// What the version (or its run) has.
    pub pinned: String,
    /// What the rebuild has.
    pub rebuilt: String,
}

/// What `reproduce` did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReproduceOutcome {
    pub model: String,
    pub version: u32,
    pub run: String,
    /// The `[model.SPEC]` trained.
    pub spec: String,
    pub commit: String,
    /// Where the rebuild happened; `kept` says whether it is still there.
    pub workdir: PathBuf,
    pub kept: bool,
    pub inputs: Vec<RebuiltInput>,
    /// The artifact the version pins, and the one the rebuild made.
    pub pinned: Digest,
    pub rebuilt: Digest,
    /// The two digests are equal: the version was rebuilt bit for bit.
    pub reproduced: bool,
    /// Everything that differs, the artifact's digest first when it does. Not empty when
    /// reproduced either, if the run was trained by another cairn version or on another
    /// platform, or with uncommitted changes.
    pub differences: Vec<Difference>,
    /// The rebuild's warnings (a data check that fails today).
    pub warnings: Vec<String>,
}

/// Rebuilds `options.reference` and compares its artifact with the pinned one. Progress: the
/// phases `inputs` and `checkout`, then those of a training run.
pub fn reproduce(
    project: &Project,
    options: &ReproduceOptions,
    progress: &dyn TrainProgress,
) -> Result<ReproduceOutcome, ReproduceError> {
    let ReproduceOptions { reference, workdir } = options;
    let resolved = cairn_registry::resolve_in(project, reference)?;
    let label = format!("{}@{}", resolved.name, resolved.version);
    let entry = &resolved.entry;
    let local = project.store()?;

    // Where: a directory of the rebuild's own.
    let (dir, _temp) = match workdir {
        Some(dir) => (prepare_workdir(dir)?, None),
        None => {
            let temp = tempfile::Builder::new()
                .prefix("reproduce-")
                .tempdir_in(local.tmp_dir())
                .map_err(|source| ReproduceError::Io {
                    path: local.tmp_dir().to_path_buf(),
                    source,
                })?;
            (temp.path().to_path_buf(), Some(temp))
        }
    };
    let kept = workdir.is_some();
    let temp_store = Store::open(&dir.join(cairn_core::STATE_DIR))?;
    let mut objects = Objects::new(project, temp_store)?;
    let mut inputs = Vec::new();

    // The run record: params, seed, split.
    progress.phase("inputs");
    let record = match objects.get(&entry.record, InputKind::RunRecord, &entry.run)? {
        Some(from) => {
            let bytes = objects.temp.read(&entry.record)?;
            let record = cairn_train::parse_run_record(&entry.run, &bytes)?;
            inputs.push(RebuiltInput {
                kind: InputKind::RunRecord,
                name: entry.run.clone(),
                digest: entry.record.to_hex(),
                from,
            });
            Some(record)
        }
        None => None,
    };
    if let Some(record) = &record {
        check_record(&label, &resolved, record)?;
    }

    // The code: the project's files at the pinned commit.
    progress.phase("checkout");
    let commit = entry
        .commit
        .clone()
        .or_else(|| record.as_ref().and_then(|r| r.code.commit.clone()));
    let checked_out = match &commit {
        Some(commit) => checkout(project.root(), commit, &dir)?,
        None => None,
    };
    let commit = match (&checked_out, commit) {
        (Some(c), _) => {
            inputs.push(RebuiltInput {
                kind: InputKind::Code,
                name: "commit".to_owned(),
                digest: c.commit.clone(),
                from: InputSource::Git,
            });
            c.commit.clone()
        }
        (None, commit) => {
            objects.missing.push(MissingInput {
                kind: InputKind::Code,
                name: "commit".to_owned(),
                digest: commit.unwrap_or_else(|| "none recorded".to_owned()),
            });
            String::new()
        }
    };

    // The data and feature tables, by digest.
    let commit_lock = if checked_out.is_some() {
        read_commit_lock(&dir)
    } else {
        None
    };
    let user_lock = project.read_lock().ok();
    let mut data: BTreeMap<RelPath, DataEntry> = BTreeMap::new();
    let mut placed = Vec::new();
    for (path, digest) in &entry.data {
        let known = known_entry(path, digest, [&commit_lock, &user_lock]);
        let (got, from) = gather_data(&mut objects, path, digest, known.as_ref())?;
        if let Some(got) = got {
            inputs.push(RebuiltInput {
                kind: InputKind::Data,
                name: path.clone(),
                digest: digest.to_hex(),
                from,
            });
            let rel = RelPath::new(path).map_err(|e| ReproduceError::Inconsistent {
                reference: label.clone(),
                record: entry.record.to_hex(),
                problem: format!("names data at an invalid path ({e})"),
            })?;
            data.insert(rel, got.entry.clone());
            placed.push((path.clone(), got));
        }
    }
    let mut features: BTreeMap<String, (Digest, u64)> = BTreeMap::new();
    for (view, digest) in &entry.features {
        if let Some(from) = objects.get(digest, InputKind::Feature, view)? {
            inputs.push(RebuiltInput {
                kind: InputKind::Feature,
                name: view.clone(),
                digest: digest.to_hex(),
                from,
            });
            let (size, _) = objects.temp.object_meta(digest)?;
            features.insert(view.clone(), (*digest, size));
        }
    }
    if !objects.missing.is_empty() || record.is_none() {
        let remote = objects.remote_name().or_else(|| objects.default_remote());
        return Err(ReproduceError::InputsMissing {
            reference: label,
            missing: objects.missing,
            remote,
        });
    }
    let Some(record) = record else {
        // Listed as missing above.
        return Err(ReproduceError::InputsMissing {
            reference: label,
            missing: Vec::new(),
            remote: None,
        });
    };

    // The rebuild's project: the checkout, its inputs in place, a lock that pins them.
    let temp = &objects.temp;
    for (path, got) in &placed {
        place_data(temp, &dir, path, got)?;
    }
    let replay_project = Project::discover(&dir)?;
    if replay_project.root() != dir.canonicalize().unwrap_or_else(|_| dir.clone()) {
        return Err(ReproduceError::Git {
            commit: commit.clone(),
            message: format!("the commit has no {}", cairn_core::CONFIG_FILE),
        });
    }
    let feature_entries = features
        .into_iter()
        .map(|(view, (digest, size))| {
            let definition = match replay_project.config().feature_view.get(&view) {
                Some(spec) => cairn_feature::view::definition_digest(&replay_project, &view, spec),
                None => digest,
            };
            let known = commit_lock
                .as_ref()
                .and_then(|l| l.feature.get(&view))
                .filter(|e| e.digest == digest);
            let entry = FeatureEntry {
                digest,
                size,
                rows: known.map_or(0, |e| e.rows),
                definition,
                source: known.map_or(digest, |e| e.source),
                end: known.and_then(|e| e.end.clone()),
                window_start: known.and_then(|e| e.window_start.clone()),
                window_end: known.and_then(|e| e.window_end.clone()),
                incremental: known.is_some_and(|e| e.incremental),
                validation: known.and_then(|e| e.validation.clone()),
            };
            (view, entry)
        })
        .collect();
    let lock = replay_lock(commit_lock, data, feature_entries);
    replay_project
        .write_lock(&lock, temp)
        .map_err(|source| ReproduceError::Io {
            path: replay_project.lock_path(),
            source,
        })?;

    // The rebuild.
    let replayed = cairn_train::replay(&replay_project, &record, progress)?;
    let differences = differences(
        &resolved,
        &record,
        &replayed.record,
        replayed.artifact,
        &local,
        temp,
    );
    Ok(ReproduceOutcome {
        model: resolved.name.clone(),
        version: resolved.version,
        run: entry.run.clone(),
        spec: entry.spec.clone(),
        commit,
        workdir: dir,
        kept,
        inputs,
        pinned: entry.artifact,
        rebuilt: replayed.artifact,
        reproduced: replayed.artifact == entry.artifact,
        differences,
        warnings: replayed.warnings.iter().map(ToString::to_string).collect(),
    })
}

/// The directory asked for: created if missing, refused unless empty.
fn prepare_workdir(dir: &Path) -> Result<PathBuf, ReproduceError> {
    let bad = |message: String| ReproduceError::Workdir {
        path: dir.to_path_buf(),
        message,
    };
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(bad("it is not empty".to_owned()));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(|e| bad(e.to_string()))?;
        }
        Err(e) => return Err(bad(e.to_string())),
    }
    dir.canonicalize().map_err(|e| bad(e.to_string()))
}

/// The run record must be the pinned run's and name the pinned artifact.
fn check_record(
    label: &str,
    resolved: &Resolved,
    record: &RunRecord,
) -> Result<(), ReproduceError> {
    let entry = &resolved.entry;
    let bad = |problem: String| ReproduceError::Inconsistent {
        reference: label.to_owned(),
        record: entry.record.to_hex(),
        problem,
    };
    if record.id != entry.run {
        return Err(bad(format!("is run {}, not run {}", record.id, entry.run)));
    }
    if record.artifact.as_deref() != Some(entry.artifact.to_hex().as_str()) {
        return Err(bad(format!(
            "names artifact {}, not {}",
            record.artifact.as_deref().unwrap_or("none"),
            entry.artifact
        )));
    }
    Ok(())
}

/// The checkout's `cairn.lock`, if it has a readable one.
fn read_commit_lock(dir: &Path) -> Option<Lock> {
    let text = std::fs::read_to_string(dir.join(cairn_core::LOCK_FILE)).ok()?;
    Lock::parse(&text, cairn_core::LOCK_FILE).ok()
}

/// A lock's entry for `path` pinned at `digest`, from the first lock that has one.
fn known_entry(path: &str, digest: &Digest, locks: [&Option<Lock>; 2]) -> Option<DataEntry> {
    let rel = RelPath::new(path).ok()?;
    locks
        .into_iter()
        .flatten()
        .find_map(|lock| lock.data.get(&rel).filter(|e| e.digest == *digest).cloned())
}

/// What differs between the version (and its run) and the rebuild.
fn differences(
    resolved: &Resolved,
    record: &RunRecord,
    rebuilt: &RunRecord,
    artifact: Digest,
    local: &Store,
    temp: &Store,
) -> Vec<Difference> {
    let entry = &resolved.entry;
    let mut out = Vec::new();
    let mut push = |what: String, pinned: String, rebuilt: String| {
        if pinned != rebuilt {
            out.push(Difference {
                what,
                pinned,
                rebuilt,
            });
        }
    };
    push(
        "artifact".to_owned(),
        entry.artifact.to_hex(),
        artifact.to_hex(),
    );
    // The inputs: what the run read against what the version pins (the rebuild read the
    // version's pins).
    let pinned_data: BTreeMap<&String, String> =
        record.data.iter().map(|(p, d)| (p, d.clone())).collect();
    for (path, digest) in &rebuilt.data {
        push(
            format!("data {path}"),
            pinned_data
                .get(path)
                .cloned()
                .unwrap_or_else(|| "not read".to_owned()),
            digest.clone(),
        );
    }
    for (path, digest) in &record.data {
        if !rebuilt.data.contains_key(path) {
            push(
                format!("data {path}"),
                digest.clone(),
                "not read".to_owned(),
            );
        }
    }
    for (view, digest) in &rebuilt.features {
        push(
            format!("feature {view}"),
            record
                .features
                .get(view)
                .cloned()
                .unwrap_or_else(|| "not joined".to_owned()),
            digest.clone(),
        );
    }
    for (view, digest) in &record.features {
        if !rebuilt.features.contains_key(view) {
            push(
                format!("feature {view}"),
                digest.clone(),
                "not joined".to_owned(),
            );
        }
    }
    push(
        "code".to_owned(),
        record.code.commit.clone().unwrap_or_default(),
        entry.commit.clone().unwrap_or_default(),
    );
    if record.code.dirty {
        push(
            "uncommitted changes".to_owned(),
            "the run was trained with uncommitted changes".to_owned(),
            "the commit alone".to_owned(),
        );
    }
    push(
        "algorithm".to_owned(),
        record.algorithm.clone(),
        rebuilt.algorithm.clone(),
    );
    push(
        "seed".to_owned(),
        record.seed.to_string(),
        rebuilt.seed.to_string(),
    );
    let names: std::collections::BTreeSet<&String> =
        record.params.keys().chain(rebuilt.params.keys()).collect();
    for name in names {
        let show = |v: Option<&serde_json::Value>| {
            v.map_or_else(|| "unset".to_owned(), ToString::to_string)
        };
        push(
            format!("params.{name}"),
            show(record.params.get(name)),
            show(rebuilt.params.get(name)),
        );
    }
    push(
        "train_rows".to_owned(),
        record.train_rows.to_string(),
        rebuilt.train_rows.to_string(),
    );
    push(
        "test_rows".to_owned(),
        record.test_rows.to_string(),
        rebuilt.test_rows.to_string(),
    );
    push(
        "cairn version".to_owned(),
        record.environment.cairn.clone(),
        rebuilt.environment.cairn.clone(),
    );
    push(
        "platform".to_owned(),
        format!("{}-{}", record.environment.os, record.environment.arch),
        format!("{}-{}", rebuilt.environment.os, rebuilt.environment.arch),
    );
    // Same header, other bytes: the fitted model itself differs.
    if entry.artifact != artifact && out.len() == 1 {
        let header = |store: &Store, digest: &Digest| {
            store
                .read(digest)
                .ok()
                .and_then(|b| cairn_model::artifact::Artifact::from_bytes(&b).ok())
                .map(|a| a.header)
        };
        match (header(local, &entry.artifact), header(temp, &artifact)) {
            (Some(a), Some(b)) if a == b => out.push(Difference {
                what: "fitted model".to_owned(),
                pinned: "the same header (inputs, params, provenance)".to_owned(),
                rebuilt: "other fitted values".to_owned(),
            }),
            (Some(_), Some(_)) => out.push(Difference {
                what: "artifact header".to_owned(),
                pinned: "the pinned artifact's header".to_owned(),
                rebuilt: "another header (inputs or their preparation differ)".to_owned(),
            }),
            _ => {}
        }
    }
    out
}
