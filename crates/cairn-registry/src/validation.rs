//! Validation records, as far as the registry reads them: which model version and artifact a
//! record is about, and its verdict. The record's full format belongs to validation
//! (docs/formats/validation.md); the registry points a version at its latest record and
//! refuses production without a passing one.

use cairn_core::Project;
use cairn_core::registry::{ModelVersion, Verdict};
use cairn_store::{Digest, NoProgress, Store};
use serde::Deserialize;

use crate::RegistryError;
use crate::error::Unvalidated;
use crate::reference::{At, find, model};
use crate::write::change;

/// The validation record format this cairn reads.
pub const VALIDATION_FORMAT: u32 = 1;

/// The part of a validation record the registry reads (other fields are ignored).
#[derive(Debug, Deserialize)]
struct RecordHead {
    model: String,
    version: u32,
    artifact: Digest,
    passed: bool,
}

/// Points version `version` of model `name` at its latest validation record, a store object
/// written by validation, and records its verdict (`validation`, `validated` in the lock). The
/// record must name this model, version and artifact, and say `passed` as given. No history
/// entry: validation is not a change of stage.
pub fn record_validation(
    project: &Project,
    name: &str,
    version: u32,
    record_digest: Digest,
    passed: bool,
) -> Result<(), RegistryError> {
    change(project, &NoProgress, |lock, store, _| {
        let entry = model(lock, name)?;
        let pinned = find(name, entry, &At::Version(version))?;
        let head = read_head(store, &record_digest)?;
        if let Some(problem) = mismatch(&head, name, pinned) {
            return Err(RegistryError::ValidationRecord {
                digest: record_digest,
                message: problem,
            });
        }
        if head.passed != passed {
            return Err(RegistryError::ValidationRecord {
                digest: record_digest,
                message: format!("says passed = {}, not {passed}", head.passed),
            });
        }
        let entry = lock
            .model
            .get_mut(name)
            .and_then(|m| m.version_mut(version))
            .ok_or_else(|| RegistryError::ValidationRecord {
                digest: record_digest,
                message: "its version vanished".to_owned(),
            })?;
        entry.validation = Some(record_digest);
        entry.validated = Some(if passed {
            Verdict::Passed
        } else {
            Verdict::Failed
        });
        Ok(())
    })
}

fn read_head(store: &Store, digest: &Digest) -> Result<RecordHead, RegistryError> {
    let bytes = store.read(digest).map_err(|source| RegistryError::Store {
        context: Some(format!("validation record {digest}")),
        source,
    })?;
    let unreadable = |e: serde_json::Error| RegistryError::ValidationRecord {
        digest: *digest,
        message: format!("is not a validation record ({e})"),
    };
    // The format first: a newer record may lack the fields below.
    #[derive(Deserialize)]
    struct Format {
        format: u64,
    }
    let format: Format = serde_json::from_slice(&bytes).map_err(unreadable)?;
    if format.format > u64::from(VALIDATION_FORMAT) {
        return Err(RegistryError::NewerValidationRecord {
            digest: *digest,
            found: format.format,
            supported: VALIDATION_FORMAT,
        });
    }
    serde_json::from_slice(&bytes).map_err(unreadable)
}

/// What makes a record not this version's, if anything.
fn mismatch(head: &RecordHead, name: &str, entry: &ModelVersion) -> Option<String> {
    if head.model != name {
        Some(format!("is about model `{}`, not `{name}`", head.model))
    } else if head.version != entry.version {
        Some(format!(
            "is about {name}@{}, not {name}@{}",
            head.version, entry.version
        ))
    } else if head.artifact != entry.artifact {
        Some(format!(
            "is about artifact {}, but {name}@{} pins {}",
            head.artifact, entry.version, entry.artifact
        ))
    } else {
        None
    }
}

/// Whether `entry` may go to production: its last validation passed, and its record is in the
/// store and about this model, version and artifact.
pub(crate) fn check_passed(
    store: &Store,
    name: &str,
    entry: &ModelVersion,
) -> Result<(), Unvalidated> {
    let (digest, verdict) = match (entry.validation, entry.validated) {
        (Some(d), Some(v)) => (d, v),
        _ => return Err(Unvalidated::Never),
    };
    if verdict == Verdict::Failed {
        return Err(Unvalidated::Failed(digest));
    }
    let head = match read_head(store, &digest) {
        Ok(head) => head,
        Err(RegistryError::Store {
            source: cairn_store::StoreError::Missing { .. },
            ..
        }) => return Err(Unvalidated::Missing(digest)),
        Err(RegistryError::ValidationRecord { message, .. }) => {
            return Err(Unvalidated::Mismatch {
                digest,
                problem: message,
            });
        }
        Err(RegistryError::NewerValidationRecord { found, .. }) => {
            return Err(Unvalidated::Mismatch {
                digest,
                problem: format!(
                    "has format {found}, but this cairn reads format {VALIDATION_FORMAT}: it was written by a newer cairn"
                ),
            });
        }
        Err(e) => {
            return Err(Unvalidated::Mismatch {
                digest,
                problem: format!("cannot be read ({e})"),
            });
        }
    };
    if let Some(problem) = mismatch(&head, name, entry) {
        return Err(Unvalidated::Mismatch { digest, problem });
    }
    if !head.passed {
        return Err(Unvalidated::Mismatch {
            digest,
            problem: "says it failed, but cairn.lock records that it passed".to_owned(),
        });
    }
    Ok(())
}
