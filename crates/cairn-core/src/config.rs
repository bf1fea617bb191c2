use std::path::{Path, PathBuf};

use cairn_store::LinkMode;
use serde::Deserialize;

use crate::toml_error::describe;

/// The version of the `cairn.toml` format this cairn understands.
pub const CONFIG_VERSION: u32 = 1;

/// `cairn.toml`: what the user declares (`docs/formats/config.md`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "default_version")]
    pub version: u32,
    #[serde(default)]
    pub cache: CacheConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    /// How workspace files are made from the store, in order of preference.
    #[serde(default = "default_link")]
    pub link: Vec<LinkMode>,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            link: default_link(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            version: CONFIG_VERSION,
            cache: CacheConfig::default(),
        }
    }
}

fn default_version() -> u32 {
    CONFIG_VERSION
}

fn default_link() -> Vec<LinkMode> {
    vec![LinkMode::Reflink, LinkMode::Copy]
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
    #[error(
        "{path} has version {found}, but this cairn understands version {supported}: it was written by a newer cairn"
    )]
    Version {
        path: PathBuf,
        found: i64,
        supported: u32,
    },
}

impl Config {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        // The version is checked before the rest, so that a newer file gets the right message.
        let table: toml::Table =
            toml::from_str(text).map_err(|e| ConfigError::Invalid(describe(&name, text, &e)))?;
        if let Some(found) = table.get("version").and_then(toml::Value::as_integer)
            && found > i64::from(CONFIG_VERSION)
        {
            return Err(ConfigError::Version {
                path: PathBuf::from(&name),
                found,
                supported: CONFIG_VERSION,
            });
        }
        let config: Config =
            toml::from_str(text).map_err(|e| ConfigError::Invalid(describe(&name, text, &e)))?;
        if config.version < 1 {
            return Err(ConfigError::Invalid(format!(
                "{name}: `version` must be {CONFIG_VERSION}"
            )));
        }
        if config.cache.link.is_empty() {
            return Err(ConfigError::Invalid(format!(
                "{name}: `cache.link` must list at least one of \"reflink\", \"hardlink\", \"symlink\", \"copy\""
            )));
        }
        Ok(config)
    }

    /// The text `cairn init` writes.
    pub fn template() -> &'static str {
        r#"# cairn project configuration (format: docs/formats/config.md).
version = 1

[cache]
# How workspace files are made from the store, in order of preference:
# "reflink" (copy-on-write clone), "hardlink", "symlink", "copy".
# With hardlink or symlink the workspace files are read-only.
link = ["reflink", "copy"]
"#
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("cairn.toml"))
    }

    #[test]
    fn template_parses() {
        let c = parse(Config::template()).unwrap();
        assert_eq!(c.cache.link, vec![LinkMode::Reflink, LinkMode::Copy]);
    }

    #[test]
    fn errors_name_the_line_and_key() {
        let err = parse("version = 1\n[cache]\nlnk = [\"copy\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("cairn.toml:3:"), "{err}");
        assert!(err.contains("lnk"), "{err}");
        let err = parse("[cache]\nlink = [\"teleport\"]\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("cairn.toml:2:") && err.contains("teleport"),
            "{err}"
        );
        let err = parse("[cache\n").unwrap_err().to_string();
        assert!(err.starts_with("cairn.toml:1:"), "{err}");
        assert!(matches!(
            parse("version = 2\n"),
            Err(ConfigError::Version { found: 2, .. })
        ));
        assert!(parse("[cache]\nlink = []\n").is_err());
    }
}
