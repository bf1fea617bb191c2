//! The process environment, read once at the top of the binary into typed settings (as uv's
//! `EnvVars` and `settings.rs` do). The libraries never read environment variables: what
//! they need is passed down from here.

use std::collections::BTreeMap;

use cairn_store::RemoteEnv;

/// What the environment says, read once per process. Colors (`NO_COLOR`, `CLICOLOR…`) are
/// left to `anstream`, which the printer configures.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// The variables that configure remotes and the Redis online store: every `AWS_*`,
    /// `GOOGLE_*` and `AZURE_*` variable, `SERVICE_ACCOUNT`, `IDENTITY_ENDPOINT` and
    /// `CAIRN_REDIS_PASSWORD`/`CAIRN_REDIS_USERNAME` (see [`RemoteEnv`]), applied as
    /// `object_store`'s `from_env` builders would apply them; `.cairn/config.toml` wins.
    pub remote_env: RemoteEnv,
    /// Every variable, for the few that a flag names (`cairn serve --token-env VAR`).
    vars: BTreeMap<String, String>,
}

impl Settings {
    /// Reads the process environment. A variable whose name or value is not UTF-8 is skipped,
    /// as `object_store` skips it.
    pub fn from_env() -> Self {
        Self::from_vars(std::env::vars_os().filter_map(|(name, value)| {
            Some((name.into_string().ok()?, value.into_string().ok()?))
        }))
    }

    /// The settings that these variables give (the others are kept only for [`Self::var`]).
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        let vars: BTreeMap<String, String> = vars.into_iter().collect();
        Self {
            remote_env: RemoteEnv::from_vars(vars.clone()),
            vars,
        }
    }

    /// The variable `name`, as it was when the process started (`None`: unset or not UTF-8).
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_variables_of_remotes_are_kept() {
        let vars = [
            ("AWS_ACCESS_KEY_ID", "key"),
            ("AZURE_STORAGE_ACCOUNT_NAME", "account"),
            ("GOOGLE_SERVICE_ACCOUNT", "/sa.json"),
            ("IDENTITY_ENDPOINT", "http://169.254.169.254/metadata"),
            ("CAIRN_REDIS_PASSWORD", "secret"),
            ("HOME", "/home/someone"),
            ("NO_COLOR", "1"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let settings = Settings::from_vars(vars);
        let env = &settings.remote_env;
        assert_eq!(env.get("AWS_ACCESS_KEY_ID"), Some("key"));
        assert_eq!(env.get("AZURE_STORAGE_ACCOUNT_NAME"), Some("account"));
        assert_eq!(env.get("GOOGLE_SERVICE_ACCOUNT"), Some("/sa.json"));
        assert!(env.is_set("IDENTITY_ENDPOINT"));
        // The Redis online store's credentials travel with them to the library.
        assert_eq!(env.get("CAIRN_REDIS_PASSWORD"), Some("secret"));
        // HOME locates the AWS profiles' files (~/.aws/credentials, ~/.aws/config).
        assert_eq!(env.get("HOME"), Some("/home/someone"));
        assert_eq!(env.get("NO_COLOR"), None);
        // A variable named by a flag is found, as given.
        assert_eq!(settings.var("HOME"), Some("/home/someone"));
        assert_eq!(settings.var("CAIRN_TOKEN"), None);
    }
}
