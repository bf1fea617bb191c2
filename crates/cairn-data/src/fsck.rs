use std::collections::HashMap;
use std::path::PathBuf;

use cairn_core::{EntryKind, Project};
use cairn_store::{Digest, Manifest, Progress, RelPath, StoreError};
use rayon::prelude::*;
use serde::Serialize;

use crate::guard::write_guard;
use crate::registered::{ModelObject, ModelObjects, inconsistency, pins};
use crate::{DataError, MissingObject};

pub struct FsckOptions {
    /// Delete objects whose content does not match their name, so that a later add or pull
    /// can store them again.
    pub remove_corrupt: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct CorruptObject {
    pub digest: Digest,
    /// What the content actually hashes to.
    pub actual: Digest,
    pub path: PathBuf,
    pub removed: bool,
    /// The registered model versions' objects it is (`model:churn@2`,
    /// `model:churn@2/record`, `model:churn@2/validation`). Left out when none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub needed_by: Vec<String>,
}

/// A registered model version whose object contradicts what `cairn.lock` pins: a run record
/// of another run or naming another artifact, a validation record about another version or
/// artifact, or with another verdict.
#[derive(Debug, Clone, Serialize)]
pub struct ModelInconsistency {
    pub model: String,
    pub version: u32,
    pub object: ModelObject,
    pub digest: Digest,
    /// What is wrong, as a predicate of the object: "names model artifact …, but cairn.lock
    /// pins …".
    pub problem: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct FsckOutcome {
    pub checked: usize,
    pub bytes: u64,
    pub corrupt: Vec<CorruptObject>,
    /// Files in the objects directory that are not objects.
    pub strays: Vec<PathBuf>,
    /// Objects the workspace lock needs that the local store lacks (a registered version's
    /// named `model:NAME@VERSION`, with `/record` or `/validation` for its records).
    pub missing: Vec<MissingObject>,
    /// Registered model versions whose objects contradict the lock. Left out when none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub inconsistent: Vec<ModelInconsistency>,
    /// The registered model versions of the workspace lock, and the objects they pin. Left
    /// out when there is none.
    #[serde(skip_serializing_if = "ModelObjects::is_empty")]
    pub models: ModelObjects,
    /// True when every object's content matches its name and no registered version is
    /// inconsistent.
    pub ok: bool,
}

/// `cairn data fsck`: re-hashes every object in the store, and checks what the workspace lock
/// pins: that its objects are here, and that registered model versions' records agree with
/// their pins.
pub fn fsck(
    project: &Project,
    options: &FsckOptions,
    progress: &dyn Progress,
) -> Result<FsckOutcome, DataError> {
    let FsckOptions { remove_corrupt } = options;
    let store = project.store()?;
    let _guard = if *remove_corrupt {
        Some(write_guard(&store, progress)?)
    } else {
        None
    };
    let (objects, strays) = store.list()?;
    let total: u64 = objects.iter().map(|o| o.size).sum();
    progress.start("checking", objects.len() as u64, total);
    let results: Vec<Result<u64, StoreError>> = objects
        .par_iter()
        .map(|o| {
            let r = store.verify(&o.digest);
            progress.advance(1, o.size);
            r
        })
        .collect();
    progress.finish();
    let lock = project.read_lock()?;
    let pinned = pins(&lock);
    let mut needed_by: HashMap<Digest, Vec<String>> = HashMap::new();
    for pin in &pinned {
        needed_by.entry(pin.digest).or_default().push(pin.label());
    }
    let mut corrupt = Vec::new();
    let mut bytes = 0;
    for result in results {
        match result {
            Ok(n) => bytes += n,
            Err(StoreError::Corrupt {
                digest,
                actual,
                path,
            }) => {
                let removed = *remove_corrupt && store.remove(&digest).is_ok();
                corrupt.push(CorruptObject {
                    needed_by: needed_by.remove(&digest).unwrap_or_default(),
                    digest,
                    actual,
                    path,
                    removed,
                });
            }
            // Removed by a concurrent gc between listing and hashing.
            Err(StoreError::Missing { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }

    let mut missing = Vec::new();
    for (path, entry) in &lock.data {
        if !store.contains(&entry.digest) {
            missing.push(MissingObject {
                path: path.clone(),
                digest: entry.digest,
            });
            continue;
        }
        if entry.kind == EntryKind::Dir
            && let Ok(bytes) = store.read(&entry.digest)
            && let Ok(manifest) = Manifest::from_bytes(&bytes)
        {
            for e in manifest.entries() {
                if !store.contains(&e.digest) {
                    missing.push(MissingObject {
                        path: path.join(&e.path),
                        digest: e.digest,
                    });
                }
            }
        }
    }
    let mut inconsistent = Vec::new();
    for pin in &pinned {
        if !store.contains(&pin.digest) {
            if let Ok(path) = RelPath::new(pin.label()) {
                missing.push(MissingObject {
                    path,
                    digest: pin.digest,
                });
            }
            continue;
        }
        // A corrupt record was reported above, and says nothing.
        if let Some(problem) = inconsistency(pin, |d| store.read(d).ok()) {
            inconsistent.push(ModelInconsistency {
                model: pin.model.to_owned(),
                version: pin.version.version,
                object: pin.object,
                digest: pin.digest,
                problem,
            });
        }
    }
    let ok = corrupt.is_empty() && inconsistent.is_empty();
    Ok(FsckOutcome {
        checked: objects.len(),
        bytes,
        corrupt,
        strays,
        missing,
        inconsistent,
        models: ModelObjects::of([&lock]),
        ok,
    })
}
