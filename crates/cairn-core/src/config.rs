use std::collections::BTreeMap;
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
    #[serde(default)]
    pub core: CoreConfig,
    /// Remotes by name (`[remote.NAME]`).
    #[serde(default)]
    pub remote: BTreeMap<String, RemoteConfig>,
    /// Data expectations by project-relative path (`[dataset."PATH"]`).
    #[serde(default)]
    pub dataset: BTreeMap<String, crate::dataset::DatasetSpec>,
    /// Entities by name (`[entity.NAME]`).
    #[serde(default)]
    pub entity: BTreeMap<String, crate::features::EntitySpec>,
    /// Feature views by name (`[feature_view.NAME]`).
    #[serde(default)]
    pub feature_view: BTreeMap<String, crate::features::FeatureViewSpec>,
    /// Feature services by name (`[feature_service.NAME]`).
    #[serde(default)]
    pub feature_service: BTreeMap<String, crate::features::FeatureServiceSpec>,
    /// Model specs by name (`[model.NAME]`).
    #[serde(default)]
    pub model: BTreeMap<String, crate::models::ModelSpec>,
    /// Drift checks by name (`[drift.NAME]`).
    #[serde(default)]
    pub drift: BTreeMap<String, crate::drift::DriftSpec>,
    /// Retraining policies by registered model name (`[retrain.NAME]`).
    #[serde(default)]
    pub retrain: BTreeMap<String, crate::retrain::RetrainSpec>,
    /// Where the online store lives (`[online]`).
    #[serde(default)]
    pub online: OnlineConfig,
    /// The engine of feature views and point-in-time joins (`[offline]`).
    #[serde(default)]
    pub offline: OfflineConfig,
}

/// `[offline]`: the engine that computes feature views and point-in-time joins. Without
/// `engine`, polars in this process.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfflineConfig {
    /// `"polars"` (the default) or `"spark"`.
    pub engine: Option<String>,
    /// The Spark Connect server, `sc://HOST:PORT` (with `engine = "spark"` only).
    pub remote: Option<String>,
    /// The memory materialize may use to sort a view on this machine, as a size (`"2GiB"`);
    /// a view that may not fit is sorted through temporary files. Without it, a quarter of
    /// the machine's memory. It never changes a table's bytes.
    pub memory_budget: Option<String>,
}

/// The offline engine, as `[offline]` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfflineEngine {
    /// polars, in this process.
    Polars,
    /// A Spark Connect server: the `sc://HOST:PORT` URL as written.
    Spark(String),
}

impl OfflineConfig {
    pub fn engine(&self) -> OfflineEngine {
        match (self.engine.as_deref(), &self.remote) {
            (Some("spark"), Some(remote)) => OfflineEngine::Spark(remote.clone()),
            _ => OfflineEngine::Polars,
        }
    }

    /// `memory_budget` in bytes, if set (checked when the file is read).
    pub fn memory_budget(&self) -> Option<u64> {
        self.memory_budget
            .as_deref()
            .and_then(|text| parse_size(text).ok())
    }

    /// The engine is `polars` or `spark`; `spark` has an `sc://HOST:PORT` remote without a
    /// token, and only `spark` has a remote; a memory budget is a size.
    fn check(&self, name: &str) -> Result<(), ConfigError> {
        if let Some(text) = &self.memory_budget {
            parse_size(text).map_err(|reason| {
                ConfigError::Invalid(format!(
                    "{name}: `offline.memory_budget = \"{text}\"`: {reason}"
                ))
            })?;
        }
        match self.engine.as_deref() {
            None | Some("polars") => {
                if self.remote.is_some() {
                    return Err(ConfigError::Invalid(format!(
                        "{name}: `offline.remote` is for engine = \"spark\": remove it, or set `offline.engine = \"spark\"`"
                    )));
                }
                Ok(())
            }
            Some("spark") => {
                let Some(remote) = self.remote.as_deref() else {
                    return Err(ConfigError::Invalid(format!(
                        "{name}: `offline.engine = \"spark\"` needs `offline.remote = \"sc://HOST:PORT\"`, the Spark Connect server"
                    )));
                };
                let Some(rest) = remote.strip_prefix("sc://") else {
                    return Err(ConfigError::Invalid(format!(
                        "{name}: `offline.remote = \"{remote}\"`: write the Spark Connect server as sc://HOST:PORT"
                    )));
                };
                let (authority, params) = rest.split_once('/').unwrap_or((rest, ""));
                if params.to_ascii_lowercase().contains("token") {
                    return Err(ConfigError::Invalid(format!(
                        "{name}: `offline.remote` holds a token, and {name} is committed to git; \
                         write sc://HOST:PORT"
                    )));
                }
                let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
                let port = authority.rsplit_once(':').map(|(_, p)| p);
                if host.is_empty() || port.is_some_and(|p| p.parse::<u16>().is_err()) {
                    return Err(ConfigError::Invalid(format!(
                        "{name}: `offline.remote = \"{remote}\"`: write the Spark Connect server as sc://HOST:PORT (the port defaults to 15002)"
                    )));
                }
                Ok(())
            }
            Some(other) => Err(ConfigError::Invalid(format!(
                "{name}: `offline.engine = \"{other}\"`: use \"polars\" or \"spark\""
            ))),
        }
    }
}

/// A size such as `"512MiB"`, `"2GiB"` or `"2 GB"` (powers of 1024 for `KiB`, `MiB`, `GiB`,
/// of 1000 for `KB`, `MB`, `GB`), in bytes: at least 1 MiB.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let size = text
        .trim()
        .parse::<bytesize::ByteSize>()
        .map_err(|_| "write a size such as \"2GiB\" or \"512MiB\"".to_owned())?
        .as_u64();
    if size < 1 << 20 {
        return Err("is below 1 MiB: give the sort at least \"64MiB\"".to_owned());
    }
    Ok(size)
}

/// `[online]`: the online store. Without `store`, SQLite in `.cairn/online.db`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnlineConfig {
    /// `"sqlite"` (the default) or `"redis://HOST:PORT/DB"` (`[USER@]` allowed, a password
    /// never: it comes from `CAIRN_REDIS_PASSWORD`).
    pub store: Option<String>,
}

/// Where the online store lives, as `[online] store` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnlineLocation {
    /// `.cairn/online.db`.
    Sqlite,
    /// A Redis server: the URL as written (without a password).
    Redis(String),
}

impl OnlineConfig {
    pub fn location(&self) -> OnlineLocation {
        match self.store.as_deref() {
            Some(url) if url.starts_with("redis://") => OnlineLocation::Redis(url.to_owned()),
            _ => OnlineLocation::Sqlite,
        }
    }

    /// The store is `sqlite` or a `redis://` URL without a password.
    fn check(&self, name: &str) -> Result<(), ConfigError> {
        let Some(store) = self.store.as_deref() else {
            return Ok(());
        };
        if store == "sqlite" {
            return Ok(());
        }
        let Some(rest) = store.strip_prefix("redis://") else {
            return Err(ConfigError::Invalid(format!(
                "{name}: `online.store = \"{store}\"`: use \"sqlite\" or \"redis://HOST:PORT/DB\""
            )));
        };
        let authority = rest.split('/').next().unwrap_or_default();
        if let Some((user, _)) = authority.rsplit_once('@')
            && user.contains(':')
        {
            return Err(ConfigError::Invalid(format!(
                "{name}: `online.store` holds a password, and {name} is committed to git; \
                 write redis://HOST:PORT/DB and set CAIRN_REDIS_PASSWORD in the environment"
            )));
        }
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        if host.is_empty() {
            return Err(ConfigError::Invalid(format!(
                "{name}: `online.store = \"{store}\"` names no host: write redis://HOST:PORT/DB"
            )));
        }
        let db = rest.split_once('/').map_or("", |(_, db)| db);
        if !db.is_empty() && db.parse::<u32>().is_err() {
            return Err(ConfigError::Invalid(format!(
                "{name}: `online.store = \"{store}\"`: the database `{db}` is not a number (redis://HOST:PORT/0)"
            )));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoreConfig {
    /// The remote used when a command is not given `--remote`.
    pub remote: Option<String>,
}

/// A remote: where objects are shared (`docs/guide/remotes.md`). Never holds credentials:
/// `cairn.toml` is committed.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RemoteConfig {
    /// `s3://bucket/prefix`, `gs://bucket/prefix`, `az://container/prefix`,
    /// `https://host/path` (read-only), or a local directory.
    pub url: String,
    /// S3-compatible servers: the endpoint URL (e.g. `http://127.0.0.1:9000`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Allow plain `http://` endpoints.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_http: Option<bool>,
    /// S3: `bucket.host` requests (true) or `host/bucket` path-style requests (false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub virtual_hosted_style: Option<bool>,
    /// Concurrent transfers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jobs: Option<usize>,
}

/// Keys that would put a secret into the committed `cairn.toml`.
const SECRET_KEYS: &[&str] = &[
    "access_key_id",
    "secret_access_key",
    "session_token",
    "token",
    "password",
    "secret",
    "access_key",
    "account_key",
    "sas_token",
    "service_account_key",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
];

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
            core: CoreConfig::default(),
            remote: BTreeMap::new(),
            dataset: BTreeMap::new(),
            entity: BTreeMap::new(),
            feature_view: BTreeMap::new(),
            feature_service: BTreeMap::new(),
            model: BTreeMap::new(),
            drift: BTreeMap::new(),
            retrain: BTreeMap::new(),
            online: OnlineConfig::default(),
            offline: OfflineConfig::default(),
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
        // Secrets get their own message before the generic "unknown field".
        if let Some(remotes) = table.get("remote").and_then(toml::Value::as_table) {
            for (remote, value) in remotes {
                if let Some(key) = value
                    .as_table()
                    .and_then(|t| t.keys().find(|k| SECRET_KEYS.contains(&k.as_str())))
                {
                    return Err(ConfigError::Invalid(format!(
                        "{name}: `remote.{remote}.{key}` is a credential, and {name} is committed to git; \
                         put credentials in .cairn/config.toml or in the environment"
                    )));
                }
            }
        }
        let config: Config =
            toml::from_str(text).map_err(|e| ConfigError::Invalid(describe(&name, text, &e)))?;
        for (path, spec) in &config.dataset {
            if let Err(e) = cairn_store::RelPath::new(path) {
                return Err(ConfigError::Invalid(format!(
                    "{name}: `dataset.\"{path}\"`: {e}"
                )));
            }
            crate::dataset::check(path, spec)
                .map_err(|e| ConfigError::Invalid(format!("{name}: {e}")))?;
        }
        crate::features::check(
            &config.entity,
            &config.feature_view,
            &config.feature_service,
        )
        .map_err(|e| ConfigError::Invalid(format!("{name}: {e}")))?;
        crate::models::check(&config.model, &config.feature_service)
            .map_err(|e| ConfigError::Invalid(format!("{name}: {e}")))?;
        crate::drift::check(&config.drift)
            .map_err(|e| ConfigError::Invalid(format!("{name}: {e}")))?;
        crate::retrain::check(&config.retrain, &config.model)
            .map_err(|e| ConfigError::Invalid(format!("{name}: {e}")))?;
        for (remote, spec) in &config.remote {
            if !crate::names::valid_name(remote) {
                return Err(ConfigError::Invalid(format!(
                    "{name}: `remote.{remote}`: a remote name uses letters, digits, `-` and `_` only"
                )));
            }
            if spec.url.trim().is_empty() {
                return Err(ConfigError::Invalid(format!(
                    "{name}: `remote.{remote}.url` is empty"
                )));
            }
            if let Some((scheme, _)) = spec.url.split_once("://")
                && !cairn_store::remote::SCHEMES.contains(&scheme.to_ascii_lowercase().as_str())
            {
                return Err(ConfigError::Invalid(format!(
                    "{name}: `remote.{remote}.url`: unknown scheme `{scheme}://` \
                     (use s3://, gs://, az://, http(s)://, file:// or a directory)"
                )));
            }
            if spec.jobs == Some(0) {
                return Err(ConfigError::Invalid(format!(
                    "{name}: `remote.{remote}.jobs` must be at least 1"
                )));
            }
        }
        config.online.check(&name)?;
        config.offline.check(&name)?;
        if let Some(default) = &config.core.remote
            && !config.remote.contains_key(default)
        {
            return Err(ConfigError::Invalid(format!(
                "{name}: `core.remote` names `{default}`, but there is no `[remote.{default}]`"
            )));
        }
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
        let err = parse("[remote.origin]\nurl = \"s3://b\"\nsecret_access_key = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("credential") && err.contains(".cairn/config.toml"),
            "{err}"
        );
        let err = parse("[core]\nremote = \"nope\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("nope"), "{err}");
        let ok = parse("[core]\nremote = \"origin\"\n[remote.origin]\nurl = \"s3://b/p\"\nendpoint = \"http://127.0.0.1:9000\"\n").unwrap();
        assert_eq!(
            ok.remote["origin"].endpoint.as_deref(),
            Some("http://127.0.0.1:9000")
        );
    }

    #[test]
    fn offline_engine() {
        assert_eq!(parse("").unwrap().offline.engine(), OfflineEngine::Polars);
        let polars = parse("[offline]\nengine = \"polars\"\n").unwrap();
        assert_eq!(polars.offline.engine(), OfflineEngine::Polars);
        let spark =
            parse("[offline]\nengine = \"spark\"\nremote = \"sc://127.0.0.1:15002\"\n").unwrap();
        assert_eq!(
            spark.offline.engine(),
            OfflineEngine::Spark("sc://127.0.0.1:15002".to_owned())
        );
        assert!(parse("[offline]\nengine = \"spark\"\nremote = \"sc://spark\"\n").is_ok());
        assert_eq!(parse("").unwrap().offline.memory_budget(), None);
        for (text, bytes) in [
            ("2GiB", 2u64 << 30),
            ("512 MiB", 512 << 20),
            ("3GB", 3_000_000_000),
        ] {
            let config = parse(&format!("[offline]\nmemory_budget = \"{text}\"\n")).unwrap();
            assert_eq!(config.offline.memory_budget(), Some(bytes), "{text}");
        }
        for (bad, says) in [
            ("engine = \"duckdb\"", "use \"polars\" or \"spark\""),
            ("engine = \"spark\"", "needs `offline.remote"),
            (
                "engine = \"spark\"\nremote = \"http://h:1\"",
                "sc://HOST:PORT",
            ),
            ("engine = \"spark\"\nremote = \"sc://:1\"", "sc://HOST:PORT"),
            (
                "engine = \"spark\"\nremote = \"sc://h:x\"",
                "sc://HOST:PORT",
            ),
            (
                "engine = \"spark\"\nremote = \"sc://h:1/;token=abc\"",
                "holds a token",
            ),
            ("remote = \"sc://h:1\"", "is for engine = \"spark\""),
            ("engin = \"spark\"", "unknown field `engin`"),
            ("memory_budget = \"lots\"", "write a size such as"),
            ("memory_budget = \"2 parsecs\"", "write a size such as"),
            ("memory_budget = \"512KiB\"", "below 1 MiB"),
        ] {
            let err = parse(&format!("[offline]\n{bad}\n"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn online_store() {
        assert_eq!(parse("").unwrap().online.location(), OnlineLocation::Sqlite);
        let redis = parse("[online]\nstore = \"redis://127.0.0.1:6379/2\"\n").unwrap();
        assert_eq!(
            redis.online.location(),
            OnlineLocation::Redis("redis://127.0.0.1:6379/2".into())
        );
        assert!(parse("[online]\nstore = \"redis://app@h:1/0\"\n").is_ok());
        let err = parse("[online]\nstore = \"redis://app:hunter2@h:1/0\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("password") && err.contains("CAIRN_REDIS_PASSWORD"),
            "{err}"
        );
        for bad in ["memcached://h:1", "redis:///0", "redis://h:1/x"] {
            let err = parse(&format!("[online]\nstore = \"{bad}\"\n")).unwrap_err();
            assert!(err.to_string().contains("online.store"), "{bad}: {err}");
        }
    }
}
