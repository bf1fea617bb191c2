//! Opening a remote: one `object_store` builder per scheme, configured from the environment
//! the binary read ([`RemoteEnv`]), then from `cairn.toml` and `.cairn/config.toml`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, RetryConfig};

use super::{Remote, RemoteEnv, RemoteError, aws_profile};

/// The key of `.cairn/config.toml` that names the AWS profile of an S3 remote (not an
/// `object_store` option: it is taken out before the others are applied).
pub const PROFILE_KEY: &str = "aws_profile";

/// Where a remote is and how to reach it.
#[derive(Debug, Clone, Default)]
pub struct RemoteOptions {
    pub url: String,
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub allow_http: Option<bool>,
    pub virtual_hosted_style: Option<bool>,
    /// Further `object_store` options, such as credentials from `.cairn/config.toml`.
    pub extra: Vec<(String, String)>,
    /// The environment variables that configure object stores, as the binary read them
    /// (empty: none apply).
    pub env: RemoteEnv,
    /// Relative local-directory URLs are resolved against this directory.
    pub root: PathBuf,
}

/// What a scheme's builder produced.
struct Opened {
    store: Arc<dyn ObjectStore>,
    /// The key prefix of the layout inside the bucket or container.
    prefix: String,
    writable: bool,
    /// A local directory (its requests are plain file operations).
    dir: Option<PathBuf>,
    /// A local directory that does not exist yet.
    local_dir: Option<PathBuf>,
    /// The AWS profile whose credentials an S3 remote uses, described.
    profile: Option<String>,
}

impl Opened {
    fn object_store(store: Arc<dyn ObjectStore>, prefix: String) -> Self {
        Self {
            store,
            prefix,
            writable: true,
            dir: None,
            local_dir: None,
            profile: None,
        }
    }
}

/// What every builder needs: the URL as given, the rest after the scheme, and the errors.
struct Target<'a> {
    url: &'a str,
    scheme: &'a str,
    rest: &'a str,
    options: &'a RemoteOptions,
    retry: RetryConfig,
}

impl Remote {
    pub fn open(options: &RemoteOptions) -> Result<Self, RemoteError> {
        let url = options.url.trim().to_string();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| RemoteError::Failed {
                url: url.clone(),
                message: e.to_string(),
            })?;
        let (scheme, rest) = match url.split_once("://") {
            Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest.to_string()),
            None => ("file".to_string(), url.clone()),
        };
        let target = Target {
            url: &url,
            scheme: &scheme,
            rest: &rest,
            options,
            retry: RetryConfig {
                max_retries: 3,
                retry_timeout: Duration::from_secs(30),
                ..RetryConfig::default()
            },
        };
        let opened = match scheme.as_str() {
            "s3" | "s3a" => target.s3()?,
            "gs" => target.gcs()?,
            "az" | "azure" | "abfs" | "abfss" => target.azure()?,
            "http" | "https" => target.http()?,
            "file" => target.directory()?,
            other => {
                return Err(target.bad(&format!(
                    "unknown scheme `{other}://` (use s3://, gs://, az://, https:// or a directory)"
                )));
            }
        };
        let Opened {
            store,
            prefix,
            writable,
            dir,
            local_dir,
            profile,
        } = opened;
        Ok(Self {
            url,
            store,
            prefix: ObjectPath::from(prefix),
            writable,
            local_dir,
            dir,
            runtime,
            profile,
        })
    }
}

impl Target<'_> {
    fn bad(&self, reason: &str) -> RemoteError {
        RemoteError::BadUrl {
            url: self.url.to_string(),
            reason: reason.to_string(),
        }
    }

    fn config_error(&self, e: object_store::Error) -> RemoteError {
        self.bad(&e.to_string())
    }

    fn bad_option(&self, (key, e): (String, object_store::Error)) -> RemoteError {
        RemoteError::BadOption {
            url: self.url.to_string(),
            key,
            reason: e.to_string(),
        }
    }

    /// The prefix inside the bucket or container that the URL names.
    fn bucket_prefix(&self) -> Result<String, RemoteError> {
        let (bucket, prefix) = self.rest.split_once('/').unwrap_or((self.rest, ""));
        if bucket.is_empty() {
            return Err(self.bad("the bucket or container name is missing"));
        }
        Ok(prefix.trim_matches('/').to_string())
    }

    fn s3(&self) -> Result<Opened, RemoteError> {
        let prefix = self.bucket_prefix()?;
        let (builder, profile) = self.s3_builder()?;
        let store = builder.build().map_err(|e| self.config_error(e))?;
        Ok(Opened {
            profile,
            ..Opened::object_store(Arc::new(store), prefix)
        })
    }

    /// The S3 builder, configured but not built (the tests read its configuration), and which
    /// AWS profile's credentials it uses, described.
    ///
    /// Precedence, lowest first (each later source overrides): the AWS profile's `region` and
    /// `endpoint_url`; the environment; the profile's credentials when the environment has no
    /// `AWS_ACCESS_KEY_ID`, or when `.cairn/config.toml` names the profile (`aws_profile`, as
    /// `--profile` does for the AWS CLI); `cairn.toml`'s keys; `.cairn/config.toml`'s keys.
    fn s3_builder(
        &self,
    ) -> Result<(object_store::aws::AmazonS3Builder, Option<String>), RemoteError> {
        use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey as Key};
        let env = &self.options.env;
        let explicit = self
            .options
            .extra
            .iter()
            .find(|(k, _)| k == PROFILE_KEY)
            .map(|(_, v)| v.as_str());
        let extra: Vec<(String, String)> = self
            .options
            .extra
            .iter()
            .filter(|(k, _)| k != PROFILE_KEY)
            .cloned()
            .collect();
        let profile = aws_profile::resolve(env, explicit)?;
        let keys_in_config = extra
            .iter()
            .any(|(k, _)| matches!(k.parse::<Key>(), Ok(Key::AccessKeyId)));
        let profile_credentials = profile
            .as_ref()
            .and_then(|p| p.credentials.as_ref())
            .filter(|_| {
                !keys_in_config && (explicit.is_some() || !env.is_set("AWS_ACCESS_KEY_ID"))
            });
        // The profile's keys come as a set: none of the environment's may mix with them.
        let skip: &[&str] = if profile_credentials.is_some() {
            &[
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY",
                "AWS_SESSION_TOKEN",
                "AWS_TOKEN",
            ]
        } else {
            &[]
        };
        let mut b = from_env(
            AmazonS3Builder::default(),
            env,
            "AWS_",
            |b, k, v| b.with_config(k, v),
            skip,
        );
        if let Some(profile) = &profile {
            if let Some(region) = &profile.region
                && b.get_config_value(&Key::Region).is_none()
            {
                b = b.with_region(region);
            }
            if let Some(endpoint) = &profile.endpoint_url
                && b.get_config_value(&Key::Endpoint).is_none()
            {
                b = b.with_endpoint(endpoint);
            }
        }
        let described = match (&profile, profile_credentials) {
            (Some(profile), Some(credentials)) => {
                b = match credentials {
                    aws_profile::Credentials::Static {
                        key_id,
                        secret_key,
                        token,
                        ..
                    } => {
                        let b = b
                            .with_access_key_id(key_id)
                            .with_secret_access_key(secret_key);
                        match token {
                            Some(token) => b.with_token(token),
                            None => b,
                        }
                    }
                    aws_profile::Credentials::Process { command, .. } => b.with_credentials(
                        Arc::new(aws_profile::ProcessCredentials::new(command, &profile.name)),
                    ),
                    aws_profile::Credentials::WebIdentity {
                        role_arn,
                        token_file,
                        session_name,
                    } => {
                        let b = b
                            .with_config(Key::RoleArn, role_arn)
                            .with_config(Key::WebIdentityTokenFile, token_file);
                        match session_name {
                            Some(name) => b.with_config(Key::RoleSessionName, name),
                            None => b,
                        }
                    }
                };
                Some(format!(
                    "AWS profile `{}` ({})",
                    profile.name,
                    credentials.describe()
                ))
            }
            _ => None,
        };
        let mut b = b.with_url(self.url).with_retry(self.retry.clone());
        if let Some(v) = &self.options.endpoint {
            b = b.with_endpoint(v);
        }
        if let Some(v) = &self.options.region {
            b = b.with_region(v);
        }
        if let Some(v) = self.options.allow_http {
            b = b.with_allow_http(v);
        }
        if let Some(v) = self.options.virtual_hosted_style {
            b = b.with_virtual_hosted_style_request(v);
        }
        b = with_extra(b, &extra, |b, k, v| b.with_config(k, v)).map_err(|e| self.bad_option(e))?;
        // Over TLS, bodies are not hashed for the signature (UNSIGNED-PAYLOAD, what the AWS
        // tools do): TLS protects them on the wire, cairn verified them before sending and
        // verifies them again on download. Over plain HTTP the signature covers the body.
        // `aws_unsigned_payload` (environment or .cairn/config.toml) decides instead when it
        // is set.
        let chosen = extra.iter().any(|(k, _)| k.ends_with("unsigned_payload"))
            || env.get("AWS_UNSIGNED_PAYLOAD").is_some();
        let tls = b
            .get_config_value(&Key::Endpoint)
            .is_none_or(|e| e.starts_with("https://"));
        if !chosen && tls {
            b = b.with_unsigned_payload(true);
        }
        Ok((b, described))
    }

    fn gcs(&self) -> Result<Opened, RemoteError> {
        use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
        let prefix = self.bucket_prefix()?;
        let env = &self.options.env;
        let mut b = GoogleCloudStorageBuilder::default();
        if let Some(path) = env.get("SERVICE_ACCOUNT") {
            b = b.with_config(GoogleConfigKey::ServiceAccount, path);
        }
        let mut b = from_env(b, env, "GOOGLE_", |b, k, v| b.with_config(k, v), &[])
            .with_url(self.url)
            .with_retry(self.retry.clone());
        b = with_extra(b, &self.options.extra, |b, k, v| b.with_config(k, v))
            .map_err(|e| self.bad_option(e))?;
        let store = b.build().map_err(|e| self.config_error(e))?;
        Ok(Opened::object_store(Arc::new(store), prefix))
    }

    fn azure(&self) -> Result<Opened, RemoteError> {
        use object_store::azure::MicrosoftAzureBuilder;
        let prefix = self.bucket_prefix()?;
        let env = &self.options.env;
        let mut b = from_env(
            MicrosoftAzureBuilder::default(),
            env,
            "AZURE_",
            |b, k, v| b.with_config(k, v),
            &[],
        );
        if let Some(endpoint) = env.get("IDENTITY_ENDPOINT") {
            b = b.with_msi_endpoint(endpoint);
        }
        let mut b = b.with_url(self.url).with_retry(self.retry.clone());
        if let Some(v) = self.options.allow_http {
            b = b.with_allow_http(v);
        }
        b = with_extra(b, &self.options.extra, |b, k, v| b.with_config(k, v))
            .map_err(|e| self.bad_option(e))?;
        let store = b.build().map_err(|e| self.config_error(e))?;
        Ok(Opened::object_store(Arc::new(store), prefix))
    }

    /// A plain web server: read-only, and it cannot list.
    fn http(&self) -> Result<Opened, RemoteError> {
        let mut b = object_store::http::HttpBuilder::new()
            .with_url(self.url)
            .with_retry(self.retry.clone());
        if self.scheme == "http" || self.options.allow_http == Some(true) {
            b = b.with_client_options(object_store::ClientOptions::new().with_allow_http(true));
        }
        let store = b.build().map_err(|e| self.config_error(e))?;
        Ok(Opened {
            writable: false,
            ..Opened::object_store(Arc::new(store), String::new())
        })
    }

    /// A local directory (`file://` or a path, relative ones against the project root).
    fn directory(&self) -> Result<Opened, RemoteError> {
        let root = &self.options.root;
        let path =
            if self.rest.starts_with('/') || self.scheme == "file" && self.url.contains("://") {
                PathBuf::from(self.rest)
            } else {
                root.join(self.rest)
            };
        let path = if path.is_absolute() {
            path
        } else {
            root.join(path)
        };
        let (store, local_dir): (Arc<dyn ObjectStore>, _) = if path.is_dir() {
            let fs = object_store::local::LocalFileSystem::new_with_prefix(&path)
                .map_err(|e| self.config_error(e))?;
            (Arc::new(fs), None)
        } else {
            // Opened for real once the directory exists (see `Remote::ensure_writable`).
            (
                Arc::new(object_store::memory::InMemory::new()),
                Some(path.clone()),
            )
        };
        Ok(Opened {
            store,
            prefix: String::new(),
            writable: true,
            dir: Some(path),
            local_dir,
            profile: None,
        })
    }
}

/// Applies the environment variables whose name starts with `prefix` to a builder, as the
/// builder's `from_env` does: the name lower-cased is the config key; a name that is not a
/// key is ignored.
fn from_env<B, K>(
    mut builder: B,
    env: &RemoteEnv,
    prefix: &str,
    set: impl Fn(B, K, &str) -> B,
    skip: &[&str],
) -> B
where
    K: std::str::FromStr,
{
    for (name, value) in env.with_prefix(prefix) {
        if skip.contains(&name) {
            continue;
        }
        if let Ok(key) = name.to_ascii_lowercase().parse() {
            builder = set(builder, key, value);
        }
    }
    builder
}

/// Applies `object_store` options given by name (`.cairn/config.toml`) to a builder; on an
/// unknown name, returns it with the parse error.
fn with_extra<B, K>(
    mut builder: B,
    extra: &[(String, String)],
    set: impl Fn(B, K, &str) -> B,
) -> Result<B, (String, object_store::Error)>
where
    K: std::str::FromStr<Err = object_store::Error>,
{
    for (k, v) in extra {
        let key = k.parse().map_err(|e| (k.clone(), e))?;
        builder = set(builder, key, v);
    }
    Ok(builder)
}

/// The S3 builder [`Remote::open`] would build for `options` (an `s3://` URL), and the AWS
/// profile it takes credentials from, for tests.
#[cfg(test)]
pub(super) fn s3_builder_for(
    options: &RemoteOptions,
) -> Result<(object_store::aws::AmazonS3Builder, Option<String>), RemoteError> {
    let (scheme, rest) = options.url.split_once("://").unwrap_or(("s3", ""));
    Target {
        url: &options.url,
        scheme,
        rest,
        options,
        retry: RetryConfig::default(),
    }
    .s3_builder()
}
