//! Reading a registered version's artifact, verified: its run record must be the one pinned
//! and name the pinned artifact, and the artifact's bytes must hash to the pinned digest.

use cairn_core::Project;
use cairn_core::registry::ModelVersion;
use cairn_model::artifact::Artifact;
use cairn_store::Store;

use crate::{RegistryError, Resolved};

/// The model artifact of a resolved version, read from the store and verified (see
/// `verified_bytes`), then decoded.
pub fn load_artifact(project: &Project, resolved: &Resolved) -> Result<Artifact, RegistryError> {
    let store = project.store()?;
    let bytes = verified_bytes(&store, &resolved.name, &resolved.entry)?;
    Artifact::from_bytes(&bytes).map_err(|source| RegistryError::Artifact {
        name: resolved.name.clone(),
        version: resolved.version,
        source,
    })
}

/// The bytes of a version's artifact, after checking that its run record (read from the store,
/// verified) is the pinned run's and names the pinned artifact, and that the artifact's bytes
/// hash to the pinned digest: a lock edited by hand, or objects swapped or damaged in the
/// store, are refused.
pub(crate) fn verified_bytes(
    store: &Store,
    name: &str,
    entry: &ModelVersion,
) -> Result<Vec<u8>, RegistryError> {
    let label = format!("{name}@{}", entry.version);
    let record = store
        .read(&entry.record)
        .map_err(|source| RegistryError::Store {
            context: Some(format!("{label}: its run record")),
            source,
        })?;
    let run = cairn_train::parse_run_record(&entry.run, &record)?;
    let inconsistent =
        |what: &'static str, pinned: String, found: String| RegistryError::Inconsistent {
            name: name.to_owned(),
            version: entry.version,
            what,
            pinned,
            found,
            record: entry.record,
        };
    if run.id != entry.run {
        return Err(inconsistent("run", entry.run.clone(), run.id));
    }
    let recorded = run.artifact.unwrap_or_else(|| "no artifact".to_owned());
    if recorded != entry.artifact.to_hex() {
        return Err(inconsistent(
            "model artifact",
            entry.artifact.to_hex(),
            recorded,
        ));
    }
    store
        .read(&entry.artifact)
        .map_err(|source| RegistryError::Store {
            context: Some(format!("{label}: its model artifact")),
            source,
        })
}
