//! Remotes in `cairn.toml` (edited in place, comments kept) and their credentials in the
//! git-ignored `.cairn/config.toml`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use cairn_store::RemoteEnv;
use cairn_store::atomic::write_atomic;
use serde::{Deserialize, Serialize};

use crate::names::valid_name;
use crate::{CONFIG_FILE, Config, ConfigError, Project, RemoteConfig};

/// The git-ignored file with per-machine settings, such as credentials.
pub const LOCAL_CONFIG_FILE: &str = "config.toml";

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("no remote named `{name}` (known: {known})")]
    Unknown { name: String, known: String },
    #[error("no remote given and no default remote set")]
    NoDefault,
    #[error("a remote named `{name}` already exists ({url})")]
    Exists { name: String, url: String },
    #[error("`{name}` is not a valid remote name: use letters, digits, `-` and `_`")]
    BadName { name: String },
    #[error("cannot update {path}: {message}")]
    Edit { path: PathBuf, message: String },
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// Where a remote's credentials come from (reported with `-v`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CredentialSource {
    /// `.cairn/config.toml`
    LocalConfig,
    /// Environment variables (`AWS_*`, `GOOGLE_*`, `AZURE_*`).
    Environment,
    /// An AWS profile of `~/.aws/credentials` or `~/.aws/config` (decided when the remote is
    /// opened: `cairn_store::Remote::aws_profile`).
    AwsProfile,
    /// Neither: anonymous access, or what the platform provides (instance metadata).
    None,
}

/// A remote ready to be opened.
#[derive(Debug, Clone)]
pub struct ResolvedRemote {
    pub name: String,
    pub config: RemoteConfig,
    /// `object_store` options from `.cairn/config.toml` (e.g. `aws_access_key_id`).
    pub secrets: Vec<(String, String)>,
    pub credentials: CredentialSource,
    /// The project root, against which a relative local-directory URL is resolved.
    pub root: PathBuf,
    /// The environment variables that configure remotes, as the project was given them
    /// ([`Project::with_remote_env`]).
    pub env: RemoteEnv,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LocalConfig {
    #[serde(default)]
    remote: BTreeMap<String, BTreeMap<String, String>>,
    #[serde(default)]
    online: LocalOnline,
}

/// `[online]` of `.cairn/config.toml`: the Redis online store's credentials on this machine
/// (they win over `CAIRN_REDIS_USERNAME` and `CAIRN_REDIS_PASSWORD`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalOnline {
    pub redis_username: Option<String>,
    pub redis_password: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RemoteListing {
    pub name: String,
    /// The remote's url (also in `config`, which is what JSON output carries: one `url` key).
    #[serde(skip_serializing)]
    pub url: String,
    pub default: bool,
    #[serde(flatten)]
    pub config: RemoteConfig,
}

impl Project {
    /// The remote called `name`, or the default remote.
    pub fn remote(&self, name: Option<&str>) -> Result<ResolvedRemote, RemoteError> {
        let config = self.config();
        let name = match name.or(config.core.remote.as_deref()) {
            Some(name) => name.to_string(),
            // A project with a single remote needs no default.
            None if config.remote.len() == 1 => {
                config.remote.keys().next().cloned().unwrap_or_default()
            }
            None => return Err(RemoteError::NoDefault),
        };
        let Some(remote) = config.remote.get(&name) else {
            return Err(RemoteError::Unknown {
                name,
                known: known(config),
            });
        };
        let local = self.local_config()?;
        let secrets: Vec<(String, String)> = local
            .remote
            .get(&name)
            .map(|m| m.clone().into_iter().collect())
            .unwrap_or_default();
        // `aws_profile` only chooses a profile: whether that profile's credentials are used
        // is decided when the remote is opened.
        let credentials = if secrets.iter().any(|(k, _)| k != cairn_store::PROFILE_KEY) {
            CredentialSource::LocalConfig
        } else if env_has_credentials(self.remote_env(), &remote.url) {
            CredentialSource::Environment
        } else {
            CredentialSource::None
        };
        Ok(ResolvedRemote {
            name,
            config: remote.clone(),
            secrets,
            credentials,
            root: self.root().to_path_buf(),
            env: self.remote_env().clone(),
        })
    }

    /// `[online]` of `.cairn/config.toml` (empty when the file or the table is missing).
    pub fn local_online(&self) -> Result<LocalOnline, ConfigError> {
        match self.local_config() {
            Ok(local) => Ok(local.online),
            Err(RemoteError::Config(e)) => Err(e),
            Err(other) => Err(ConfigError::Invalid(other.to_string())),
        }
    }

    fn local_config(&self) -> Result<LocalConfig, RemoteError> {
        let path = self.state_dir().join(LOCAL_CONFIG_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(LocalConfig::default()),
            Err(source) => return Err(ConfigError::Read { path, source }.into()),
        };
        toml::from_str(&text).map_err(|e| {
            ConfigError::Invalid(crate::toml_error::describe(".cairn/config.toml", &text, &e))
                .into()
        })
    }

    pub fn list_remotes(&self) -> Vec<RemoteListing> {
        let config = self.config();
        config
            .remote
            .iter()
            .map(|(name, r)| RemoteListing {
                name: name.clone(),
                url: r.url.clone(),
                default: config.core.remote.as_deref() == Some(name.as_str())
                    || (config.core.remote.is_none() && config.remote.len() == 1),
                config: r.clone(),
            })
            .collect()
    }

    /// Adds `[remote.NAME]` to `cairn.toml` (and makes it the default when asked, or when it
    /// is the first remote).
    pub fn add_remote(
        &self,
        name: &str,
        remote: &RemoteConfig,
        make_default: bool,
    ) -> Result<bool, RemoteError> {
        if !valid_name(name) {
            return Err(RemoteError::BadName {
                name: name.to_string(),
            });
        }
        if let Some(existing) = self.config().remote.get(name) {
            return Err(RemoteError::Exists {
                name: name.to_string(),
                url: existing.url.clone(),
            });
        }
        let make_default = make_default || self.config().remote.is_empty();
        self.edit_config(|doc| {
            let remotes = table_at(doc, "remote")?;
            remotes.set_implicit(true);
            let mut table = toml_edit::Table::new();
            table.insert("url", toml_edit::value(remote.url.as_str()));
            if let Some(v) = &remote.endpoint {
                table.insert("endpoint", toml_edit::value(v.as_str()));
            }
            if let Some(v) = &remote.region {
                table.insert("region", toml_edit::value(v.as_str()));
            }
            if let Some(v) = remote.allow_http {
                table.insert("allow_http", toml_edit::value(v));
            }
            if let Some(v) = remote.virtual_hosted_style {
                table.insert("virtual_hosted_style", toml_edit::value(v));
            }
            if let Some(v) = remote.jobs {
                table.insert("jobs", toml_edit::value(v as i64));
            }
            remotes.insert(name, toml_edit::Item::Table(table));
            if make_default {
                table_at(doc, "core")?.insert("remote", toml_edit::value(name));
            }
            Ok(())
        })?;
        Ok(make_default)
    }

    pub fn remove_remote(&self, name: &str) -> Result<(), RemoteError> {
        self.require_remote(name)?;
        self.edit_config(|doc| {
            table_at(doc, "remote")?.remove(name);
            if doc
                .get("remote")
                .and_then(|r| r.as_table())
                .is_some_and(|t| t.is_empty())
            {
                doc.remove("remote");
            }
            let core = table_at(doc, "core")?;
            if core.get("remote").and_then(|v| v.as_str()) == Some(name) {
                core.remove("remote");
            }
            if core.is_empty() {
                doc.remove("core");
            }
            Ok(())
        })
    }

    pub fn set_default_remote(&self, name: &str) -> Result<(), RemoteError> {
        self.require_remote(name)?;
        self.edit_config(|doc| {
            table_at(doc, "core")?.insert("remote", toml_edit::value(name));
            Ok(())
        })
    }

    fn require_remote(&self, name: &str) -> Result<(), RemoteError> {
        if self.config().remote.contains_key(name) {
            Ok(())
        } else {
            Err(RemoteError::Unknown {
                name: name.to_string(),
                known: known(self.config()),
            })
        }
    }

    /// Edits `cairn.toml` keeping its comments and layout, checks the result, and replaces the
    /// file atomically.
    fn edit_config(
        &self,
        edit: impl FnOnce(&mut toml_edit::DocumentMut) -> Result<(), String>,
    ) -> Result<(), RemoteError> {
        let path = self.root().join(CONFIG_FILE);
        let fail = |message: String| RemoteError::Edit {
            path: path.clone(),
            message,
        };
        let text = std::fs::read_to_string(&path).map_err(|e| fail(e.to_string()))?;
        let mut doc: toml_edit::DocumentMut = text
            .parse()
            .map_err(|e: toml_edit::TomlError| fail(e.to_string()))?;
        edit(&mut doc).map_err(fail)?;
        let new_text = doc.to_string();
        Config::parse(&new_text, &path)?;
        let store = self.store().map_err(|e| fail(e.to_string()))?;
        write_atomic(&path, store.tmp_dir(), new_text.as_bytes(), 0o644)
            .map_err(|e| fail(e.to_string()))
    }
}

fn table_at<'d>(
    doc: &'d mut toml_edit::DocumentMut,
    key: &str,
) -> Result<&'d mut toml_edit::Table, String> {
    if !doc.contains_key(key) {
        doc.insert(key, toml_edit::Item::Table(toml_edit::Table::new()));
    }
    doc.get_mut(key)
        .and_then(|i| i.as_table_mut())
        .ok_or_else(|| format!("`{key}` is not a table"))
}

fn known(config: &Config) -> String {
    if config.remote.is_empty() {
        "none".to_string()
    } else {
        config
            .remote
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Whether the environment carries credentials for the kind of store `url` names.
fn env_has_credentials(env: &RemoteEnv, url: &str) -> bool {
    let vars: &[&str] = if url.starts_with("s3://") || url.starts_with("s3a://") {
        &["AWS_ACCESS_KEY_ID", "AWS_WEB_IDENTITY_TOKEN_FILE"]
    } else if url.starts_with("gs://") {
        &[
            "GOOGLE_SERVICE_ACCOUNT",
            "GOOGLE_SERVICE_ACCOUNT_PATH",
            "GOOGLE_SERVICE_ACCOUNT_KEY",
            "GOOGLE_APPLICATION_CREDENTIALS",
        ]
    } else if url.starts_with("az://") || url.starts_with("azure://") || url.starts_with("abfs") {
        &[
            "AZURE_STORAGE_ACCOUNT_KEY",
            "AZURE_STORAGE_ACCESS_KEY",
            "AZURE_STORAGE_SAS_TOKEN",
            "AZURE_CLIENT_SECRET",
        ]
    } else {
        &[]
    };
    vars.iter().any(|v| env.is_set(v))
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // fixtures are written directly
mod tests {
    use super::*;
    use crate::InitOptions;

    fn project_with_remote(url: &str) -> (tempfile::TempDir, Project) {
        let dir = tempfile::tempdir().unwrap();
        Project::init(dir.path(), &InitOptions { no_git: true }).unwrap();
        let project = Project::discover(dir.path()).unwrap();
        let remote = RemoteConfig {
            url: url.to_owned(),
            endpoint: None,
            region: None,
            allow_http: None,
            virtual_hosted_style: None,
            jobs: None,
        };
        assert!(project.add_remote("origin", &remote, false).unwrap());
        let project = Project::discover(dir.path()).unwrap();
        (dir, project)
    }

    fn env(vars: &[(&str, &str)]) -> RemoteEnv {
        RemoteEnv::from_vars(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn credentials_come_from_the_local_config_then_the_environment_given() {
        let (dir, project) = project_with_remote("s3://bucket/prefix");
        // The process environment is never read: only what the project was given counts.
        let resolved = project.remote(None).unwrap();
        assert_eq!(resolved.credentials, CredentialSource::None);
        assert!(resolved.env.is_empty());

        let given = env(&[("AWS_ACCESS_KEY_ID", "key"), ("AWS_REGION", "eu-west-1")]);
        let project = project.with_remote_env(given.clone());
        let resolved = project.remote(Some("origin")).unwrap();
        assert_eq!(resolved.credentials, CredentialSource::Environment);
        assert_eq!(resolved.env, given);

        // Variables of another kind of store, or empty ones, are not credentials for S3.
        let other = env(&[
            ("GOOGLE_SERVICE_ACCOUNT", "/sa.json"),
            ("AWS_ACCESS_KEY_ID", ""),
        ]);
        let project = project.with_remote_env(other);
        assert_eq!(
            project.remote(None).unwrap().credentials,
            CredentialSource::None
        );

        std::fs::write(
            dir.path().join(".cairn/config.toml"),
            "[remote.origin]\naws_access_key_id = \"local\"\n",
        )
        .unwrap();
        let project = project.with_remote_env(given);
        let resolved = project.remote(None).unwrap();
        assert_eq!(resolved.credentials, CredentialSource::LocalConfig);
        assert_eq!(
            resolved.secrets,
            [("aws_access_key_id".to_owned(), "local".to_owned())]
        );
    }
}
