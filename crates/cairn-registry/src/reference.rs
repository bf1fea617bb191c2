//! References to a model version: `NAME@production`, `NAME@staging`, `NAME@3`,
//! `NAME@champion`, `NAME@latest`; a bare `NAME` is `NAME@production`.

use std::fmt;

use cairn_core::names::valid_name;
use cairn_core::registry::{ModelEntry, ModelVersion, Stage};
use cairn_core::{Lock, Project};
use serde::Serialize;

use crate::error::{Existing, RegistryError};

/// What a reference names within a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum At {
    /// The version in a stage (`production`, `staging`; `archived` and `none` hold several
    /// versions and resolve to none).
    Stage(Stage),
    Version(u32),
    /// The highest version.
    Latest,
    Alias(String),
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            At::Stage(s) => f.write_str(s.as_str()),
            At::Version(v) => write!(f, "{v}"),
            At::Latest => f.write_str("latest"),
            At::Alias(a) => f.write_str(a),
        }
    }
}

/// `NAME@REF`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelRef {
    pub name: String,
    pub at: At,
}

impl fmt::Display for ModelRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name, self.at)
    }
}

impl ModelRef {
    /// Parses `NAME@REF`; a bare `NAME` is `NAME@production`.
    pub fn parse(text: &str) -> Result<ModelRef, RegistryError> {
        let (name, at) = parse_parts(text)?;
        Ok(ModelRef {
            name,
            at: at.unwrap_or(At::Stage(Stage::Production)),
        })
    }
}

/// The model name and, when `@REF` was given, what it names.
pub(crate) fn parse_parts(text: &str) -> Result<(String, Option<At>), RegistryError> {
    let bad = |problem: &str| RegistryError::BadReference {
        reference: text.to_owned(),
        problem: problem.to_owned(),
    };
    let (name, at) = match text.split_once('@') {
        Some((name, at)) => (name, Some(at)),
        None => (text, None),
    };
    if !valid_name(name) {
        return Err(bad(
            "expected NAME or NAME@REF, with a model name of letters, digits, `-` and `_`",
        ));
    }
    let at = match at {
        None => None,
        Some("") => return Err(bad("nothing follows `@`")),
        Some("latest") => Some(At::Latest),
        Some(at) => Some(if let Some(stage) = Stage::parse(at) {
            At::Stage(stage)
        } else if at.bytes().all(|b| b.is_ascii_digit()) {
            At::Version(
                at.parse()
                    .map_err(|_| bad("the version number is too large"))?,
            )
        } else if valid_name(at) {
            At::Alias(at.to_owned())
        } else {
            return Err(bad(
                "REF is a stage (production, staging), a version number, an alias or `latest`",
            ));
        }),
    };
    Ok((name.to_owned(), at))
}

/// A model's name, where a model (not a version) is meant: `NAME@REF` is refused.
pub(crate) fn model_name(text: &str) -> Result<String, RegistryError> {
    match parse_parts(text)? {
        (name, None) => Ok(name),
        (_, Some(_)) => Err(RegistryError::BadReference {
            reference: text.to_owned(),
            problem: "a model is meant here, not a version: give the model's name".to_owned(),
        }),
    }
}

/// A reference resolved to one version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resolved {
    pub name: String,
    pub version: u32,
    /// The version's entry in the lock.
    pub entry: ModelVersion,
}

/// Resolves `NAME@REF` (or `NAME`, meaning `NAME@production`) in `lock`.
pub fn resolve(lock: &Lock, reference: &str) -> Result<Resolved, RegistryError> {
    let reference = ModelRef::parse(reference)?;
    let entry = model(lock, &reference.name)?;
    let version = find(&reference.name, entry, &reference.at)?;
    Ok(Resolved {
        name: reference.name,
        version: version.version,
        entry: version.clone(),
    })
}

/// [`resolve`] in the project's `cairn.lock`.
pub fn resolve_in(project: &Project, reference: &str) -> Result<Resolved, RegistryError> {
    resolve(&project.read_lock()?, reference)
}

/// The model `name`.
pub(crate) fn model<'a>(lock: &'a Lock, name: &str) -> Result<&'a ModelEntry, RegistryError> {
    lock.model
        .get(name)
        .ok_or_else(|| RegistryError::NoSuchModel {
            name: name.to_owned(),
            models: lock.model.keys().cloned().collect(),
        })
}

/// The version that `at` names in a model.
pub(crate) fn find<'a>(
    name: &str,
    entry: &'a ModelEntry,
    at: &At,
) -> Result<&'a ModelVersion, RegistryError> {
    let found = match at {
        At::Stage(stage) if !stage.is_single() => {
            return Err(RegistryError::ManyInStage {
                name: name.to_owned(),
                stage: *stage,
                existing: existing(entry),
            });
        }
        At::Stage(stage) => entry.in_stage(*stage),
        At::Version(v) => entry.version(*v),
        At::Latest => entry.latest(),
        At::Alias(a) => entry.aliases.get(a).and_then(|v| entry.version(*v)),
    };
    found.ok_or_else(|| RegistryError::NoSuchVersion {
        name: name.to_owned(),
        at: at.to_string(),
        existing: existing(entry),
    })
}

/// What a model has, for messages.
pub(crate) fn existing(entry: &ModelEntry) -> Existing {
    Existing {
        versions: entry.versions.iter().map(|v| v.version).collect(),
        staging: entry.in_stage(Stage::Staging).map(|v| v.version),
        production: entry.in_stage(Stage::Production).map(|v| v.version),
        aliases: entry.aliases.iter().map(|(a, v)| (a.clone(), *v)).collect(),
    }
}
