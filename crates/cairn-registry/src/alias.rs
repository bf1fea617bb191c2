//! Aliases: names for versions (`champion`, `challenger`) that move when set again.

use cairn_core::Project;
use cairn_core::registry::{Action, HistoryEntry, Was, alias_problem};
use cairn_store::Progress;
use serde::Serialize;

use crate::RegistryError;
use crate::reference::{ModelRef, find, model, model_name};
use crate::write::change;

/// What [`alias`] changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Aliased {
    pub name: String,
    pub alias: String,
    pub version: u32,
    /// The version the alias named before, if it named one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<u32>,
    /// The history entry written.
    pub entry: HistoryEntry,
}

/// Points `alias` at the version `reference` names (moving it if it named another one). An
/// alias is not a stage name, `latest` or a number, and uses letters, digits, `-` and `_`.
pub fn alias(
    project: &Project,
    reference: &str,
    alias: &str,
    progress: &dyn Progress,
) -> Result<Aliased, RegistryError> {
    if let Some(problem) = alias_problem(alias) {
        return Err(RegistryError::BadAlias {
            alias: alias.to_owned(),
            problem,
        });
    }
    let reference = ModelRef::parse(reference)?;
    let name = reference.name.clone();
    change(project, progress, |lock, _, stamp| {
        let version = find(&name, model(lock, &name)?, &reference.at)?.version;
        let entry = lock
            .model
            .get_mut(&name)
            .ok_or_else(|| RegistryError::NoSuchModel {
                name: name.clone(),
                models: Vec::new(),
            })?;
        let previous = entry.aliases.insert(alias.to_owned(), version);
        if previous == Some(version) {
            return Err(RegistryError::AliasUnchanged {
                name: name.clone(),
                alias: alias.to_owned(),
                version,
            });
        }
        let history = HistoryEntry {
            from: previous.map(Was::Version),
            alias: Some(alias.to_owned()),
            ..stamp.entry(Action::Alias, version)
        };
        entry.history.push(history.clone());
        Ok(Aliased {
            name: name.clone(),
            alias: alias.to_owned(),
            version,
            previous,
            entry: history,
        })
    })
}

/// What [`unalias`] changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unaliased {
    pub name: String,
    pub alias: String,
    /// The version it named.
    pub version: u32,
    /// The history entry written.
    pub entry: HistoryEntry,
}

/// Removes an alias of model `name`.
pub fn unalias(
    project: &Project,
    name: &str,
    alias: &str,
    progress: &dyn Progress,
) -> Result<Unaliased, RegistryError> {
    let name = model_name(name)?;
    let name = name.as_str();
    change(project, progress, |lock, _, stamp| {
        model(lock, name)?;
        let entry = lock
            .model
            .get_mut(name)
            .ok_or_else(|| RegistryError::NoSuchModel {
                name: name.to_owned(),
                models: Vec::new(),
            })?;
        let version = entry
            .aliases
            .remove(alias)
            .ok_or_else(|| RegistryError::NoSuchAlias {
                name: name.to_owned(),
                alias: alias.to_owned(),
                aliases: entry.aliases.keys().cloned().collect(),
            })?;
        let history = HistoryEntry {
            alias: Some(alias.to_owned()),
            ..stamp.entry(Action::Unalias, version)
        };
        entry.history.push(history.clone());
        Ok(Unaliased {
            name: name.to_owned(),
            alias: alias.to_owned(),
            version,
            entry: history,
        })
    })
}
