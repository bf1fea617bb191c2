use std::path::PathBuf;

use cairn_core::{EntryKind, Project};
use cairn_store::{Digest, Manifest, Progress, StoreError};
use rayon::prelude::*;
use serde::Serialize;

use crate::guard::write_guard;
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
}

#[derive(Debug, Clone, Serialize)]
pub struct FsckOutcome {
    pub checked: usize,
    pub bytes: u64,
    pub corrupt: Vec<CorruptObject>,
    /// Files in the objects directory that are not objects.
    pub strays: Vec<PathBuf>,
    /// Objects the workspace lock needs that the local store lacks.
    pub missing: Vec<MissingObject>,
    /// True when every object's content matches its name.
    pub ok: bool,
}

/// `cairn data fsck`: re-hashes every object in the store.
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

    let lock = project.read_lock()?;
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
    let ok = corrupt.is_empty();
    Ok(FsckOutcome {
        checked: objects.len(),
        bytes,
        corrupt,
        strays,
        missing,
        ok,
    })
}
