//! Opening the remote a command names (or the default one), as `cairn.toml` and
//! `.cairn/config.toml` describe it, with the environment the project was given.

use cairn_core::{CredentialSource, Project, ResolvedRemote};
use cairn_store::{Remote, RemoteOptions};
use serde::Serialize;

use crate::DataError;

/// Transfers in flight at once when neither the command nor the remote's config says.
pub const DEFAULT_JOBS: usize = 16;

/// Which remote a command talks to, as resolved from `cairn.toml`.
#[derive(Debug, Clone, Serialize)]
pub struct RemoteInfo {
    pub name: String,
    pub url: String,
    pub credentials: CredentialSource,
    /// The AWS profile whose credentials an S3 remote uses, described.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws_profile: Option<String>,
}

/// The remote called `name` (or the default one), opened, with what to report about it and
/// how many transfers it runs at once.
pub(crate) fn open_remote(
    project: &Project,
    name: Option<&str>,
) -> Result<(Remote, RemoteInfo, usize), DataError> {
    let ResolvedRemote {
        name,
        config,
        secrets,
        credentials,
        root,
        env,
    } = project.remote(name)?;
    let options = RemoteOptions {
        url: config.url.clone(),
        endpoint: config.endpoint.clone(),
        region: config.region.clone(),
        allow_http: config.allow_http,
        virtual_hosted_style: config.virtual_hosted_style,
        extra: secrets,
        env,
        root,
    };
    let remote = Remote::open(&options)?;
    let jobs = config.jobs.unwrap_or(DEFAULT_JOBS);
    let aws_profile = remote.aws_profile().map(str::to_owned);
    let credentials = if aws_profile.is_some() {
        CredentialSource::AwsProfile
    } else {
        credentials
    };
    Ok((
        remote,
        RemoteInfo {
            name,
            url: config.url,
            credentials,
            aws_profile,
        },
        jobs,
    ))
}
