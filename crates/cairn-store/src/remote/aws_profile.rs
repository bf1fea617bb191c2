//! AWS profiles as the AWS CLI and SDKs keep them: the shared credentials file
//! (`~/.aws/credentials`) and the shared config file (`~/.aws/config`), the profile chosen by
//! `aws_profile` in `.cairn/config.toml`, `AWS_PROFILE` (or `AWS_DEFAULT_PROFILE`), else
//! `default`. `docs/guide/remotes.md` ("Credentials") documents the precedence.
//!
//! `object_store` reads the environment, web identity, containers and instance metadata, but
//! not these files; the AWS SDK's own loader (`aws-config`) would bring the SDK's runtime, its
//! STS, SSO and OIDC clients and a second HTTP stack into a binary that must stay small
//! (issue 18), for the few keys read here. A generic INI crate does not know the format's
//! sub-properties (indented lines under `s3 =`), so the reader is this module's.
//!
//! What a profile can give: static keys (`aws_access_key_id`, `aws_secret_access_key`,
//! `aws_session_token`), a `credential_process` (run by [`ProcessCredentials`], cached until
//! its `Expiration`), a web identity (`role_arn` with `web_identity_token_file`, which
//! `object_store` exchanges with STS), and the `region` and `endpoint_url`. A profile that
//! assumes a role from another profile (`source_profile`, `credential_source`) or signs in
//! with IAM Identity Center (`sso_*`) is refused with a way around: such a profile's
//! credentials can be exported by the AWS CLI as a credential process.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use object_store::CredentialProvider;
use object_store::aws::AwsCredential;

use super::{RemoteEnv, RemoteError};

/// One value of a profile and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Setting {
    value: String,
    file: PathBuf,
    line: usize,
}

impl Setting {
    fn at(&self) -> String {
        format!("{}:{}", self.file.display(), self.line)
    }
}

/// The profiles of one file: profile name → key → setting. Keys are lower-cased; a
/// sub-property is `parent.key` (`s3.addressing_style`).
type Sections = BTreeMap<String, BTreeMap<String, Setting>>;

/// Which files to read, as the AWS tools locate them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Files {
    credentials: Option<PathBuf>,
    config: Option<PathBuf>,
}

impl Files {
    fn locate(env: &RemoteEnv) -> Self {
        let home = env.get("HOME").filter(|h| !h.is_empty()).map(PathBuf::from);
        let file = |var: &str, name: &str| {
            env.get(var)
                .filter(|v| !v.is_empty())
                .map(|v| expand_home(v, home.as_deref()))
                .or_else(|| home.as_ref().map(|h| h.join(".aws").join(name)))
        };
        Self {
            credentials: file("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
            config: file("AWS_CONFIG_FILE", "config"),
        }
    }
}

fn expand_home(path: &str, home: Option<&Path>) -> PathBuf {
    match (path.strip_prefix("~/"), home) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(path),
    }
}

/// What a profile contributes to an S3 remote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Profile {
    pub name: String,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    pub credentials: Option<Credentials>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Credentials {
    Static {
        key_id: String,
        secret_key: String,
        token: Option<String>,
        /// `FILE:LINE` of the access key id, for messages.
        at: String,
    },
    Process {
        command: String,
        at: String,
    },
    WebIdentity {
        role_arn: String,
        token_file: String,
        session_name: Option<String>,
    },
}

impl Credentials {
    /// Where the credentials were written, for `-v` and messages.
    pub fn describe(&self) -> String {
        match self {
            Credentials::Static { at, .. } => format!("keys at {at}"),
            Credentials::Process { at, .. } => format!("credential_process at {at}"),
            Credentials::WebIdentity { token_file, .. } => {
                format!("web identity token {token_file}")
            }
        }
    }
}

/// The profile an S3 remote uses, if any: the one `.cairn/config.toml` names (`explicit`), or
/// `AWS_PROFILE` / `AWS_DEFAULT_PROFILE`, or `default`. `Ok(None)` when the default profile is
/// meant and neither file has it; a profile named on purpose that no file has is an error.
pub(super) fn resolve(
    env: &RemoteEnv,
    explicit: Option<&str>,
) -> Result<Option<Profile>, RemoteError> {
    let chosen = explicit
        .map(|p| (p, "aws_profile in .cairn/config.toml"))
        .or_else(|| {
            ["AWS_PROFILE", "AWS_DEFAULT_PROFILE"]
                .into_iter()
                .find_map(|var| env.get(var).filter(|v| !v.is_empty()).map(|v| (v, var)))
        });
    let name = chosen.map_or("default", |(name, _)| name).trim();
    let files = Files::locate(env);
    let credentials = read(files.credentials.as_deref(), false)?;
    let config = read(files.config.as_deref(), true)?;
    // The credentials file wins over the config file, key by key.
    let mut settings = config.get(name).cloned();
    if let Some(from_credentials) = credentials.get(name) {
        settings
            .get_or_insert_with(BTreeMap::new)
            .extend(from_credentials.clone());
    }
    let Some(settings) = settings else {
        return match chosen {
            None => Ok(None),
            Some((_, by)) => Err(RemoteError::AwsProfile {
                message: format!(
                    "the AWS profile `{name}` ({by}) is in neither {} nor {}",
                    shown(files.credentials.as_deref()),
                    shown(files.config.as_deref()),
                ),
            }),
        };
    };
    profile(name, &settings, &config).map(Some)
}

fn shown(path: Option<&Path>) -> String {
    path.map_or_else(
        || "~/.aws (HOME is not set)".to_string(),
        |p| p.display().to_string(),
    )
}

/// The settings of a profile, read: its credentials and the keys cairn uses.
fn profile(
    name: &str,
    settings: &BTreeMap<String, Setting>,
    config: &Sections,
) -> Result<Profile, RemoteError> {
    let get = |key: &str| settings.get(key).filter(|s| !s.value.is_empty());
    let refuse = |setting: &Setting, what: &str| RemoteError::AwsProfile {
        message: format!(
            "{}: the AWS profile `{name}` {what}, which cairn does not do itself; export its \
             credentials for cairn with `credential_process = aws configure \
             export-credentials --profile {name} --format process` in another profile, and \
             name that profile (AWS_PROFILE, or aws_profile in .cairn/config.toml)",
            setting.at()
        ),
    };
    let credentials = if let Some(key_id) = get("aws_access_key_id") {
        let Some(secret) = get("aws_secret_access_key") else {
            return Err(RemoteError::AwsProfile {
                message: format!(
                    "{}: the AWS profile `{name}` has aws_access_key_id but no \
                     aws_secret_access_key",
                    key_id.at()
                ),
            });
        };
        Some(Credentials::Static {
            key_id: key_id.value.clone(),
            secret_key: secret.value.clone(),
            token: get("aws_session_token").map(|s| s.value.clone()),
            at: key_id.at(),
        })
    } else if let Some(role) = get("role_arn") {
        if let Some(token_file) = get("web_identity_token_file") {
            Some(Credentials::WebIdentity {
                role_arn: role.value.clone(),
                token_file: token_file.value.clone(),
                session_name: get("role_session_name").map(|s| s.value.clone()),
            })
        } else {
            return Err(refuse(role, "assumes a role (role_arn)"));
        }
    } else if let Some(process) = get("credential_process") {
        Some(Credentials::Process {
            command: process.value.clone(),
            at: process.at(),
        })
    } else if let Some(sso) = get("sso_session")
        .or_else(|| get("sso_start_url"))
        .or_else(|| get("sso_account_id"))
    {
        return Err(refuse(sso, "signs in with IAM Identity Center (sso_*)"));
    } else {
        None
    };
    // `endpoint_url` of the profile, or of its `services` section's `s3` sub-section.
    let service_endpoint = get("services").and_then(|services| {
        config
            .get(&format!("services {}", services.value))
            .and_then(|s| s.get("s3.endpoint_url"))
            .map(|s| s.value.clone())
    });
    Ok(Profile {
        name: name.to_string(),
        region: get("region").map(|s| s.value.clone()),
        endpoint_url: service_endpoint.or_else(|| get("endpoint_url").map(|s| s.value.clone())),
        credentials,
    })
}

/// Reads one file; a missing file has no profiles.
fn read(path: Option<&Path>, config: bool) -> Result<Sections, RemoteError> {
    let Some(path) = path else {
        return Ok(Sections::new());
    };
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8(bytes).map_err(|_| RemoteError::AwsProfile {
                message: format!("{}: not UTF-8 text", path.display()),
            })?;
            parse(&text, path, config)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Sections::new()),
        Err(e) => Err(RemoteError::AwsProfile {
            message: format!("cannot read {}: {e}", path.display()),
        }),
    }
}

/// Parses a credentials file (`[NAME]` sections) or a config file (`[default]`,
/// `[profile NAME]`, and `[services NAME]`; other sections, such as `[sso-session NAME]`, are
/// kept under their full header). Comment lines start with `#` or `;`; a value is the rest of
/// its line (no inline comments), and an indented line under a key with an empty value is a
/// sub-property of it.
fn parse(text: &str, path: &Path, config: bool) -> Result<Sections, RemoteError> {
    let mut sections = Sections::new();
    let mut section: Option<String> = None;
    // The last key of the section, for sub-properties and continuation lines.
    let mut last: Option<String> = None;
    let error = |line: usize, what: &str| RemoteError::AwsProfile {
        message: format!("{}:{line}: {what}", path.display()),
    };
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        let indented = raw.starts_with([' ', '\t']);
        if trimmed.starts_with('[') {
            let Some(end) = trimmed.find(']') else {
                return Err(error(line, "a section header has no closing `]`"));
            };
            let header = trimmed[1..end].trim();
            let rest = trimmed[end + 1..].trim();
            if !(rest.is_empty() || rest.starts_with('#') || rest.starts_with(';')) {
                return Err(error(line, "unexpected text after a section header"));
            }
            let name = if config {
                match header.strip_prefix("profile") {
                    Some(rest) if rest.starts_with([' ', '\t']) => rest.trim().to_string(),
                    // `[NAME]` in the config file is ignored by the AWS tools, but `default`.
                    _ => header.to_string(),
                }
            } else {
                header.to_string()
            };
            if name.is_empty() {
                return Err(error(line, "a section header has no name"));
            }
            sections.entry(name.clone()).or_default();
            section = Some(name);
            last = None;
            continue;
        }
        let Some(current) = section.as_ref() else {
            return Err(error(line, "a setting before the first `[section]` header"));
        };
        let settings = sections.entry(current.clone()).or_default();
        if indented && let Some(parent) = last.as_ref() {
            let parent_value = settings.get(parent).map(|s| s.value.as_str());
            if parent_value == Some("") {
                // A sub-property: `s3 =` then `  addressing_style = path`.
                let Some((key, value)) = trimmed.split_once('=') else {
                    return Err(error(line, "expected `key = value` under a sub-section"));
                };
                settings.insert(
                    format!("{parent}.{}", key.trim().to_ascii_lowercase()),
                    Setting {
                        value: value.trim().to_string(),
                        file: path.to_path_buf(),
                        line,
                    },
                );
            } else if let Some(setting) = settings.get_mut(parent) {
                // A continuation of the value.
                setting.value.push('\n');
                setting.value.push_str(trimmed);
            }
            continue;
        }
        let Some((key, value)) = trimmed.split_once('=') else {
            return Err(error(line, "expected `key = value`"));
        };
        let key = key.trim().to_ascii_lowercase();
        if key.is_empty() {
            return Err(error(line, "a setting has no name before `=`"));
        }
        settings.insert(
            key.clone(),
            Setting {
                value: value.trim().to_string(),
                file: path.to_path_buf(),
                line,
            },
        );
        last = Some(key);
    }
    Ok(sections)
}

/// Credentials from a profile's `credential_process`: the command runs (`sh -c`) when
/// credentials are first needed and again when those it gave are within five minutes of their
/// `Expiration`; its standard output is the AWS CLI's JSON (`Version` 1, `AccessKeyId`,
/// `SecretAccessKey`, optional `SessionToken` and `Expiration`). It runs on tokio's blocking
/// threads, one run at a time: requests that need credentials meanwhile wait for its answer.
#[derive(Debug, Clone)]
pub(super) struct ProcessCredentials {
    inner: Arc<Process>,
}

#[derive(Debug)]
struct Process {
    command: String,
    profile: String,
    cached: Mutex<Option<Cached>>,
}

type Cached = (Arc<AwsCredential>, Option<SystemTime>);

/// How long before their expiry credentials are refreshed.
const REFRESH_AHEAD: Duration = Duration::from_secs(300);

impl ProcessCredentials {
    pub fn new(command: &str, profile: &str) -> Self {
        Self {
            inner: Arc::new(Process {
                command: command.to_string(),
                profile: profile.to_string(),
                cached: Mutex::new(None),
            }),
        }
    }
}

fn fresh(cached: &Option<Cached>) -> Option<Arc<AwsCredential>> {
    let (credential, expires) = cached.as_ref()?;
    match expires {
        Some(at) if *at < SystemTime::now() + REFRESH_AHEAD => None,
        _ => Some(credential.clone()),
    }
}

impl Process {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Cached>> {
        self.cached.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Fresh credentials: the cached ones, or the command's (run under the lock, so once).
    fn credential(&self) -> Result<Arc<AwsCredential>, ProcessError> {
        let mut cached = self.lock();
        if let Some(credential) = fresh(&cached) {
            return Ok(credential);
        }
        let (credential, expires) = self.run().map_err(|reason| ProcessError {
            profile: self.profile.clone(),
            command: self.command.clone(),
            reason,
        })?;
        let credential = Arc::new(credential);
        *cached = Some((credential.clone(), expires));
        Ok(credential)
    }

    /// Runs the command and reads what it printed.
    fn run(&self) -> Result<(AwsCredential, Option<SystemTime>), String> {
        let output = std::process::Command::new("sh")
            .arg("-c")
            .arg(&self.command)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| format!("cannot run it: {e}"))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let said = stderr.trim();
            return Err(format!(
                "it failed ({}){}",
                output.status,
                if said.is_empty() {
                    String::new()
                } else {
                    format!(": {said}")
                }
            ));
        }
        parse_process_output(&output.stdout)
    }
}

/// Reads a credential process's standard output.
fn parse_process_output(stdout: &[u8]) -> Result<(AwsCredential, Option<SystemTime>), String> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Output {
        version: u32,
        access_key_id: String,
        secret_access_key: String,
        session_token: Option<String>,
        expiration: Option<String>,
    }
    let out: Output = serde_json::from_slice(stdout)
        .map_err(|e| format!("its output is not the credential JSON of the AWS CLI: {e}"))?;
    if out.version != 1 {
        return Err(format!(
            "its output has Version {}, and cairn reads Version 1",
            out.version
        ));
    }
    let expires = match out.expiration.as_deref() {
        None => None,
        Some(text) => Some(
            chrono::DateTime::parse_from_rfc3339(text)
                .map(SystemTime::from)
                .map_err(|e| format!("its Expiration `{text}` is not an RFC 3339 time: {e}"))?,
        ),
    };
    Ok((
        AwsCredential {
            key_id: out.access_key_id,
            secret_key: out.secret_access_key,
            token: out.session_token.filter(|t| !t.is_empty()),
        },
        expires,
    ))
}

#[derive(Debug, thiserror::Error)]
#[error("credential_process of the AWS profile `{profile}` (`{command}`): {reason}")]
struct ProcessError {
    profile: String,
    command: String,
    reason: String,
}

#[async_trait::async_trait]
impl CredentialProvider for ProcessCredentials {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        if let Some(credential) = fresh(&self.inner.lock()) {
            return Ok(credential);
        }
        let inner = self.inner.clone();
        let denied = |source: Box<dyn std::error::Error + Send + Sync>| {
            object_store::Error::Unauthenticated {
                path: String::new(),
                source,
            }
        };
        tokio::task::spawn_blocking(move || inner.credential())
            .await
            .map_err(|e| denied(Box::new(e)))?
            .map_err(|e| denied(Box::new(e)))
    }
}

#[cfg(test)]
#[path = "aws_profile_tests.rs"]
mod tests;
