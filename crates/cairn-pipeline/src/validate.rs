//! A registered version validated against its spec's gates, as `cairn validate` and `cairn
//! retrain` do it: the version resolved, its artifact verified, its rows rebuilt (the run's
//! held-out rows) or read from a file, the production version loaded for `no_regression`,
//! the gates run, the record stored and its verdict recorded on the version in `cairn.lock`.

use std::path::PathBuf;

use cairn_core::Project;
use cairn_core::models::Gates;
use cairn_registry::{Artifact, RegistryError, Resolved};
use cairn_validate::{Data, Production, ValidateOptions, Validated};

use crate::error::VersionValidateError;

/// The rows a version is validated on.
#[derive(Debug, Clone)]
pub enum ValidationRows {
    /// The held-out rows of the version's run, rebuilt from what the run pinned.
    HeldOut,
    /// A table with the model's inputs and its target; `shown` is the path as the user gave it
    /// (recorded).
    File { path: PathBuf, shown: String },
}

/// What validating a version gave.
#[derive(Debug)]
pub struct VersionValidation {
    /// The version, as resolved from the reference.
    pub resolved: Resolved,
    /// The gates the spec declares (empty: only the schema was checked).
    pub gates: Gates,
    /// The stored record and its digest.
    pub validated: Validated,
}

/// Validates the version `reference` names (`NAME@REF`) on `rows` and records the verdict in
/// `cairn.lock`. A failed gate is an outcome (`validated.record.passed` is false), not an
/// error; bad input (an unknown spec, no held-out rows, a table that does not fit) stores
/// nothing.
pub fn validate_version(
    project: &Project,
    reference: &str,
    rows: ValidationRows,
) -> Result<VersionValidation, VersionValidateError> {
    let resolved = cairn_registry::resolve_in(project, reference)?;
    let artifact = cairn_registry::load_artifact(project, &resolved)?;
    let entry = &resolved.entry;
    let shown = format!("{}@{}", resolved.name, resolved.version);
    let spec = project.config().model.get(&entry.spec).ok_or_else(|| {
        VersionValidateError::SpecNotDeclared {
            reference: shown.clone(),
            spec: entry.spec.clone(),
        }
    })?;
    let gates = spec.gates.clone().unwrap_or_default();
    let store = project.store()?;
    let data = match rows {
        ValidationRows::File { path, shown } => Data::File { path, shown },
        ValidationRows::HeldOut => {
            let bytes = store.read(&entry.record)?;
            let run = cairn_train::parse_run_record(&entry.run, &bytes)?;
            if run.test_rows == 0 {
                return Err(VersionValidateError::NoHeldOutRows {
                    reference: shown,
                    run: run.id,
                });
            }
            let held = cairn_train::held_out(project, &run, &artifact.header.target)?;
            Data::HeldOut {
                frame: held.frame,
                run: run.id,
                path: held.path,
                digest: held.digest,
                features: held.features,
            }
        }
    };
    // The production version, for the no_regression gate only.
    let production = match &gates.no_regression {
        Some(_) => production_of(project, &resolved)?,
        None => None,
    };
    let production = match &production {
        None => Production::None,
        Some(None) => Production::This,
        Some(Some((other, artifact))) => Production::Version {
            version: other.version,
            artifact_digest: other.entry.artifact,
            artifact,
        },
    };
    let validated = cairn_validate::validate(
        &store,
        ValidateOptions {
            model: &resolved.name,
            version: resolved.version,
            artifact: &artifact,
            artifact_digest: entry.artifact,
            run: &entry.run,
            spec: &entry.spec,
            gates: &gates,
            data,
            production,
        },
    )?;
    cairn_registry::record_validation(
        project,
        &resolved.name,
        resolved.version,
        validated.digest,
        validated.record.passed,
    )?;
    Ok(VersionValidation {
        resolved,
        gates,
        validated,
    })
}

/// The production version of the model and its artifact: `None` when no version is in
/// production, `Some(None)` when it is `resolved` itself.
type ProductionOf = Option<Option<(Resolved, Artifact)>>;

fn production_of(
    project: &Project,
    resolved: &Resolved,
) -> Result<ProductionOf, VersionValidateError> {
    let production =
        match cairn_registry::resolve_in(project, &format!("{}@production", resolved.name)) {
            Ok(r) => r,
            Err(RegistryError::NoSuchVersion { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
    if production.version == resolved.version {
        return Ok(Some(None));
    }
    let artifact = cairn_registry::load_artifact(project, &production)?;
    Ok(Some(Some((production, artifact))))
}
