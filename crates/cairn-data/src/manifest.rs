//! Directory manifests: reading the one a lock entry names, and the objects a set of entries
//! needs (each entry's object and, for directories, the files its manifest lists).

use std::collections::{BTreeMap, HashMap};

use cairn_core::{DataEntry, EntryKind};
use cairn_store::{Digest, Manifest, RelPath, Remote, Store, StoreError};

use crate::{DataError, MissingObject};

/// The manifest of tracked directory `path` (object `digest`), from the local store, verified.
pub(crate) fn load_manifest(
    store: &Store,
    path: &RelPath,
    digest: &Digest,
) -> Result<Manifest, DataError> {
    Ok(cairn_core::workspace::load_manifest(store, path, digest)?)
}

/// The objects a set of lock entries needs: each entry's object and, for directories, the
/// files its manifest lists. Manifests are read from the local store, then from `remote`.
pub(crate) struct Needed {
    /// Objects and their sizes (a manifest's size is its object's).
    pub objects: BTreeMap<Digest, u64>,
    /// Who needs each object, for messages.
    pub owners: HashMap<Digest, RelPath>,
    /// Directories whose manifest is in neither place.
    pub unresolved: Vec<MissingObject>,
}

impl Needed {
    pub fn absorb(&mut self, other: Needed) {
        self.objects.extend(other.objects);
        for (digest, owner) in other.owners {
            self.owners.entry(digest).or_insert(owner);
        }
        self.unresolved.extend(other.unresolved);
    }
}

pub(crate) fn needed(
    store: &Store,
    remote: Option<&Remote>,
    entries: &[(&RelPath, &DataEntry)],
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
                    Err(StoreError::Missing { .. }) => match remote {
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
