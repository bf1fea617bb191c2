//! The environment variables that configure object stores, as values: the binary reads the
//! process environment once and hands them down; this crate never reads it.

use std::collections::BTreeMap;

/// Environment variables that configure remotes: every `AWS_*`, `GOOGLE_*` and `AZURE_*`
/// variable, `SERVICE_ACCOUNT` (a Google service account file), `IDENTITY_ENDPOINT` (an
/// Azure managed identity) and `HOME` (where `~/.aws/credentials` and `~/.aws/config` are). [`Remote::open`](super::Remote::open) applies them exactly as
/// `object_store`'s `from_env` builders would: each name of the remote's kind, lower-cased,
/// becomes a config key (names that are not keys are ignored), before the options of
/// `cairn.toml` and `.cairn/config.toml`, which win.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoteEnv {
    vars: BTreeMap<String, String>,
}

impl RemoteEnv {
    /// Prefixes of the variables kept: one per kind of object store.
    pub const PREFIXES: [&'static str; 3] = ["AWS_", "GOOGLE_", "AZURE_"];
    /// Variables without such a prefix that `object_store` also reads, `HOME` (the AWS
    /// profiles' files) and the credentials of a Redis online store (`docs/formats/config.md`,
    /// `[online]`).
    pub const NAMES: [&'static str; 5] = [
        "HOME",
        "SERVICE_ACCOUNT",
        "IDENTITY_ENDPOINT",
        "CAIRN_REDIS_PASSWORD",
        "CAIRN_REDIS_USERNAME",
    ];

    /// Whether a variable of this name configures a remote.
    pub fn concerns(name: &str) -> bool {
        Self::PREFIXES.iter().any(|p| name.starts_with(p)) || Self::NAMES.contains(&name)
    }

    /// The variables among `vars` that configure remotes (others are dropped).
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        Self {
            vars: vars
                .into_iter()
                .filter(|(name, _)| Self::concerns(name))
                .collect(),
        }
    }

    /// The value of a variable, if it was set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// Whether a variable is set to something other than the empty string.
    pub fn is_set(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| !v.is_empty())
    }

    pub fn is_empty(&self) -> bool {
        self.vars.is_empty()
    }

    /// The variables whose name starts with `prefix`, sorted by name.
    pub fn with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.vars
            .iter()
            .filter(move |(name, _)| name.starts_with(prefix))
            .map(|(name, value)| (name.as_str(), value.as_str()))
    }
}
