//! `cairn validate NAME@REF [--data FILE]`: the version is resolved in the registry, its
//! rows rebuilt (the run's held-out rows) or read (`--data`), its spec's gates run, the record
//! stored and pointed at by the version in cairn.lock.

use cairn_registry::{RegistryError, Resolved};
use cairn_validate::{Data, Production, ValidateError, ValidateOptions};

mod render;

use render::render;

use super::Context;
use crate::CmdResult;
use crate::cli::ModelValidateArgs;
use crate::error::{CliError, Exit};

pub fn run(ctx: &Context<'_>, args: ModelValidateArgs) -> CmdResult {
    let ModelValidateArgs { reference, data } = args;
    let project = ctx.project()?;
    let p = ctx.printer;
    let resolved = cairn_registry::resolve_in(&project, &reference)?;
    let artifact = cairn_registry::load_artifact(&project, &resolved)?;
    let entry = &resolved.entry;
    let name_version = format!("{}@{}", resolved.name, resolved.version);
    let config = project.config();
    let spec = config.model.get(&entry.spec).ok_or_else(|| {
        CliError::usage(
            format!(
                "{name_version} was trained by `[model.{}]`, which cairn.toml no longer declares: its gates are unknown",
                entry.spec
            ),
            Some("declare the spec again (`git log -p cairn.toml` shows it), with its `[model.SPEC.gates]`"),
        )
    })?;
    let gates = spec.gates.clone().unwrap_or_default();
    let store = project.store().map_err(ValidateError::from)?;
    let data = match data {
        Some(path) => Data::File {
            path: ctx.cwd.join(&path),
            shown: path.display().to_string(),
        },
        None => {
            let bytes = store.read(&entry.record).map_err(ValidateError::from)?;
            let run = cairn_train::parse_run_record(&entry.run, &bytes)?;
            if run.test_rows == 0 {
                return Err(CliError::usage(
                    format!(
                        "{name_version}: run {} held out no rows, so there are none to validate on by default",
                        run.id
                    ),
                    Some("pass --data FILE: a table with the model's input columns and its target"),
                )
                .into());
            }
            let held = cairn_train::held_out(&project, &run, &artifact.header.target)?;
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
        Some(_) => production_of(&project, &resolved)?,
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
        &project,
        &resolved.name,
        resolved.version,
        validated.digest,
        validated.record.passed,
    )?;
    p.json("validate", &validated)?;
    render(p, &name_version, &validated)?;
    if gates.is_empty() {
        p.warn(format!(
            "`[model.{}.gates]` declares no gate: only the schema was checked",
            entry.spec
        ));
    }
    p.status(format!(
        "validation record {} recorded for {name_version} in cairn.lock; commit it to share the verdict",
        validated.digest.short()
    ));
    Ok(if validated.record.passed {
        Exit::Ok
    } else {
        Exit::CheckFailed
    })
}

/// The production version of the model and its artifact: `None` when no version is in
/// production, `Some(None)` when it is `resolved` itself.
#[allow(clippy::type_complexity)]
fn production_of(
    project: &cairn_core::Project,
    resolved: &Resolved,
) -> Result<Option<Option<(Resolved, cairn_registry::Artifact)>>, CliError> {
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
