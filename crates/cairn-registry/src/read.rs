//! Reading the registry: the models, one model or version, a model's history.

use std::collections::BTreeMap;

use cairn_core::Project;
use cairn_core::registry::{HistoryEntry, ModelVersion, Stage};
use serde::Serialize;

use crate::RegistryError;
use crate::reference::{find, model, model_name, parse_parts};

/// Every registered model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelList {
    /// By name.
    pub models: Vec<ListedModel>,
}

/// A model in [`ModelList`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListedModel {
    pub name: String,
    /// How many versions it has.
    pub versions: usize,
    /// The highest version number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub production: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub staging: Option<u32>,
    pub aliases: BTreeMap<String, u32>,
}

/// The registered models, from the project's `cairn.lock`.
pub fn list(project: &Project) -> Result<ModelList, RegistryError> {
    let lock = project.read_lock()?;
    Ok(ModelList {
        models: lock
            .model
            .iter()
            .map(|(name, entry)| ListedModel {
                name: name.clone(),
                versions: entry.versions.len(),
                latest: entry.latest().map(|v| v.version),
                production: entry.in_stage(Stage::Production).map(|v| v.version),
                staging: entry.in_stage(Stage::Staging).map(|v| v.version),
                aliases: entry.aliases.clone(),
            })
            .collect(),
    })
}

/// A model, or one version of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelShow {
    pub name: String,
    /// The `REF` of `NAME@REF`, when one version was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    pub aliases: BTreeMap<String, u32>,
    /// Every version (by number), or the one asked for.
    pub versions: Vec<ShownVersion>,
}

/// A version in [`ModelShow`]: its entry (the run, its lineage, its last validation) and the
/// aliases that name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShownVersion {
    #[serde(flatten)]
    pub entry: ModelVersion,
    pub aliases: Vec<String>,
}

/// `NAME`: the model with every version; `NAME@REF`: that one version.
pub fn show(project: &Project, reference: &str) -> Result<ModelShow, RegistryError> {
    let (name, at) = parse_parts(reference)?;
    let lock = project.read_lock()?;
    let entry = model(&lock, &name)?;
    let versions: Vec<&ModelVersion> = match &at {
        Some(at) => vec![find(&name, entry, at)?],
        None => entry.versions.iter().collect(),
    };
    Ok(ModelShow {
        name: name.clone(),
        reference: at.map(|a| a.to_string()),
        aliases: entry.aliases.clone(),
        versions: versions
            .into_iter()
            .map(|v| ShownVersion {
                entry: v.clone(),
                aliases: entry.aliases_of(v.version),
            })
            .collect(),
    })
}

/// A model's audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct History {
    pub name: String,
    /// Oldest first.
    pub history: Vec<HistoryEntry>,
}

/// The history of model `name`.
pub fn history(project: &Project, name: &str) -> Result<History, RegistryError> {
    let name = model_name(name)?;
    let lock = project.read_lock()?;
    Ok(History {
        history: model(&lock, &name)?.history.clone(),
        name,
    })
}
