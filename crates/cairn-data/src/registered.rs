//! The objects the model registry pins (`[model.NAME]` in `cairn.lock`,
//! docs/formats/lock.md): for each registered version, its model artifact, its run record and,
//! once validated, its last validation record. Transfers carry them as entries named
//! `model:NAME@VERSION`, `model:NAME@VERSION/record` and `model:NAME@VERSION/validation`; gc
//! keeps them; fsck checks them.

use std::collections::BTreeSet;

use cairn_core::registry::{ModelVersion, Verdict};
use cairn_core::{DataEntry, EntryKind, Lock};
use cairn_store::{Digest, RelPath, Store};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Which of a registered version's objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelObject {
    /// The model artifact (`artifact` in the lock).
    Artifact,
    /// The run record (`record`).
    Record,
    /// The last validation record (`validation`).
    Validation,
}

/// One object a registered version pins.
pub(crate) struct Pin<'l> {
    pub model: &'l str,
    pub version: &'l ModelVersion,
    pub object: ModelObject,
    pub digest: Digest,
}

impl Pin<'_> {
    /// The name transfers and messages give it: `model:churn@2`, `model:churn@2/record`,
    /// `model:churn@2/validation`.
    pub fn label(&self) -> String {
        let base = format!("model:{}@{}", self.model, self.version.version);
        match self.object {
            ModelObject::Artifact => base,
            ModelObject::Record => format!("{base}/record"),
            ModelObject::Validation => format!("{base}/validation"),
        }
    }

    /// Its size: the lock records the artifact's; a record's is the local copy's, if any
    /// (0: unknown).
    fn size(&self, store: &Store) -> u64 {
        match self.object {
            ModelObject::Artifact => self.version.size,
            _ => store.object_meta(&self.digest).map_or(0, |(size, _)| size),
        }
    }
}

/// Every object the registered versions of `lock` pin, by model, version, then object.
pub(crate) fn pins(lock: &Lock) -> Vec<Pin<'_>> {
    lock.model
        .iter()
        .flat_map(|(model, entry)| entry.versions.iter().flat_map(|v| version_pins(model, v)))
        .collect()
}

/// The objects one registered version pins: its artifact, its run record, its validation
/// record if it has one.
fn version_pins<'l>(model: &'l str, version: &'l ModelVersion) -> Vec<Pin<'l>> {
    let objects = [
        (ModelObject::Artifact, Some(version.artifact)),
        (ModelObject::Record, Some(version.record)),
        (ModelObject::Validation, version.validation),
    ];
    objects
        .into_iter()
        .filter_map(|(object, digest)| {
            Some(Pin {
                model,
                version,
                object,
                digest: digest?,
            })
        })
        .collect()
}

/// A pinned object as an entry that transfers treat like a tracked file, of size `size`.
fn entry(pin: &Pin<'_>, size: u64) -> Option<(RelPath, DataEntry)> {
    let name = RelPath::new(pin.label()).ok()?;
    Some((
        name,
        DataEntry {
            kind: EntryKind::File,
            digest: pin.digest,
            size,
            files: 0,
            executable: false,
        },
    ))
}

/// The registered versions' objects, as entries that transfers treat like tracked files. An
/// object whose size is unknown (a record this machine lacks) has size 0.
pub(crate) fn model_entries(lock: &Lock, store: &Store) -> Vec<(RelPath, DataEntry)> {
    pins(lock)
        .iter()
        .filter_map(|pin| entry(pin, pin.size(store)))
        .collect()
}

/// A registered version and its objects as entries.
pub(crate) struct VersionEntries<'l> {
    pub model: &'l str,
    pub version: u32,
    pub entries: Vec<(RelPath, DataEntry)>,
}

/// Each registered version of `lock`, with its objects as entries (their sizes unknown: 0).
pub(crate) fn version_entries(lock: &Lock) -> Vec<VersionEntries<'_>> {
    lock.model
        .iter()
        .flat_map(|(model, m)| {
            m.versions.iter().map(move |v| VersionEntries {
                model,
                version: v.version,
                entries: version_pins(model, v)
                    .iter()
                    .filter_map(|pin| entry(pin, 0))
                    .collect(),
            })
        })
        .collect()
}

/// How many registered model versions a command took into account, and how many distinct
/// objects (artifacts, run records, validation records) they pin.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ModelObjects {
    /// Distinct `NAME@VERSION`s, over every lock read.
    pub versions: u64,
    pub objects: u64,
}

impl ModelObjects {
    /// The versions registered in `locks` and the objects they pin.
    pub(crate) fn of<'l>(locks: impl IntoIterator<Item = &'l Lock>) -> Self {
        let mut versions = BTreeSet::new();
        let mut objects = BTreeSet::new();
        for lock in locks {
            for pin in pins(lock) {
                versions.insert((pin.model, pin.version.version));
                objects.insert(pin.digest);
            }
        }
        Self {
            versions: versions.len() as u64,
            objects: objects.len() as u64,
        }
    }

    /// No registered version: outcomes leave the counts out.
    pub fn is_empty(&self) -> bool {
        self.versions == 0
    }
}

/// What a registered version's pins say that its objects contradict, if anything: the run
/// record must be the run's and name the artifact; the validation record must be about this
/// model, version and artifact, with the verdict the lock records. `read` gives an object's
/// verified bytes (`None`: missing or corrupt, which fsck reports by itself). A record of a
/// newer format than this cairn reads is not checked.
pub(crate) fn inconsistency(
    pin: &Pin<'_>,
    read: impl Fn(&Digest) -> Option<Vec<u8>>,
) -> Option<String> {
    let v = pin.version;
    match pin.object {
        ModelObject::Artifact => None,
        ModelObject::Record => {
            let bytes = read(&pin.digest)?;
            let head: RunHead = match head(&bytes, RUN_FORMAT) {
                Ok(Some(head)) => head,
                Ok(None) => return None,
                Err(e) => return Some(format!("is not a run record ({e})")),
            };
            let recorded = head.artifact.unwrap_or_else(|| "no artifact".to_owned());
            if head.id != v.run {
                Some(format!(
                    "is the record of run {}, but cairn.lock pins run {}",
                    head.id, v.run
                ))
            } else if recorded != v.artifact.to_hex() {
                Some(format!(
                    "names model artifact {recorded}, but cairn.lock pins {}",
                    v.artifact
                ))
            } else {
                None
            }
        }
        ModelObject::Validation => {
            let bytes = read(&pin.digest)?;
            let head: ValidationHead = match head(&bytes, VALIDATION_FORMAT) {
                Ok(Some(head)) => head,
                Ok(None) => return None,
                Err(e) => return Some(format!("is not a validation record ({e})")),
            };
            let passed = v.validated.map(|verdict| verdict == Verdict::Passed);
            if head.model != pin.model {
                Some(format!(
                    "is about model `{}`, not `{}`",
                    head.model, pin.model
                ))
            } else if head.version != v.version {
                Some(format!(
                    "is about {}@{}, not {}@{}",
                    pin.model, head.version, pin.model, v.version
                ))
            } else if head.artifact != v.artifact {
                Some(format!(
                    "is about model artifact {}, but cairn.lock pins {}",
                    head.artifact, v.artifact
                ))
            } else if passed.is_some_and(|p| p != head.passed) {
                Some(format!(
                    "says passed = {}, but cairn.lock records that it {}",
                    head.passed,
                    if head.passed { "failed" } else { "passed" }
                ))
            } else {
                None
            }
        }
    }
}

/// The run record format this cairn reads (docs/formats/run.md).
const RUN_FORMAT: u64 = 1;
/// The validation record format this cairn reads (docs/formats/validation.md).
const VALIDATION_FORMAT: u64 = 1;

/// The fields of a JSON record that a check reads, or `None` when its `format` is newer than
/// `known` (its other fields may then mean something else). Other fields are ignored.
fn head<T: DeserializeOwned>(bytes: &[u8], known: u64) -> Result<Option<T>, serde_json::Error> {
    #[derive(Deserialize)]
    struct Format {
        format: u64,
    }
    let Format { format } = serde_json::from_slice(bytes)?;
    if format > known {
        return Ok(None);
    }
    serde_json::from_slice(bytes).map(Some)
}

/// The part of a run record that pins its artifact.
#[derive(Deserialize)]
struct RunHead {
    id: String,
    #[serde(default)]
    artifact: Option<String>,
}

/// The part of a validation record that says what it is about.
#[derive(Deserialize)]
struct ValidationHead {
    model: String,
    version: u32,
    artifact: Digest,
    passed: bool,
}
