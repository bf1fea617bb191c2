#![allow(clippy::disallowed_methods)] // fixtures are written directly

use std::path::Path;

use object_store::aws::AmazonS3ConfigKey as K;

use super::*;
use crate::remote::{RemoteOptions, open};

fn env(vars: &[(&str, &str)]) -> RemoteEnv {
    RemoteEnv::from_vars(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

/// A HOME with `~/.aws/credentials` and `~/.aws/config` holding the given texts.
fn home(credentials: &str, config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".aws")).unwrap();
    std::fs::write(dir.path().join(".aws/credentials"), credentials).unwrap();
    std::fs::write(dir.path().join(".aws/config"), config).unwrap();
    dir
}

fn home_env(home: &Path, more: &[(&str, &str)]) -> RemoteEnv {
    let mut vars = vec![("HOME", home.to_str().unwrap())];
    vars.extend_from_slice(more);
    env(&vars)
}

const CREDENTIALS: &str = "\
# keys of the team
[default]
aws_access_key_id = default-key
aws_secret_access_key = default-secret

[dev]
aws_access_key_id=dev-key
aws_secret_access_key =  dev-secret
aws_session_token = dev-token
";

const CONFIG: &str = "\
[default]
region = eu-central-1

; a comment
[profile dev]
region = us-west-2
endpoint_url = http://127.0.0.1:9000
s3 =
  addressing_style = path

[profile only-region]
region = ap-south-1

[profile tools]
credential_process = /opt/bin/get-keys --role ci

[profile via-sso]
sso_session = corp
sso_account_id = 111122223333
sso_role_name = Reader

[profile assumed]
role_arn = arn:aws:iam::111122223333:role/reader
source_profile = dev

[profile federated]
role_arn = arn:aws:iam::111122223333:role/ci
web_identity_token_file = /var/run/token
role_session_name = cairn-ci

[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
";

#[test]
fn the_files_parse_as_the_aws_tools_read_them() {
    let path = Path::new("/home/ann/.aws/config");
    let sections = parse(CONFIG, path, true).unwrap();
    let dev = &sections["dev"];
    assert_eq!(dev["region"].value, "us-west-2");
    assert_eq!(dev["region"].line, 6);
    assert_eq!(dev["s3"].value, "");
    assert_eq!(dev["s3.addressing_style"].value, "path");
    // `[profile NAME]` in the config file is the profile NAME; other sections keep their
    // header.
    assert!(sections.contains_key("default"));
    assert!(sections.contains_key("sso-session corp"));
    assert!(!sections.contains_key("profile dev"));

    let credentials = parse(CREDENTIALS, Path::new("credentials"), false).unwrap();
    assert_eq!(
        credentials["dev"]["aws_secret_access_key"].value,
        "dev-secret"
    );
    assert_eq!(credentials["dev"]["aws_access_key_id"].value, "dev-key");
    // In the credentials file a section's header is the profile's name as written.
    let odd = parse("[profile x]\na = 1\n", Path::new("credentials"), false).unwrap();
    assert!(odd.contains_key("profile x"));
}

#[test]
fn a_malformed_file_names_its_line() {
    let path = Path::new("/home/ann/.aws/config");
    for (text, line, what) in [
        (
            "[default]\nregion = x\nthis is not a setting\n",
            3,
            "expected `key = value`",
        ),
        ("region = x\n", 1, "before the first `[section]`"),
        ("[default\nregion = x\n", 1, "no closing `]`"),
        ("[default]\n= x\n", 2, "no name before `=`"),
        ("# c\n[]\n", 2, "has no name"),
        ("[default] trailing\n", 1, "unexpected text"),
    ] {
        let err = parse(text, path, true).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("/home/ann/.aws/config:{line}: ")),
            "{text:?}: {err}"
        );
        assert!(err.contains(what), "{text:?}: {err}");
    }
}

#[test]
fn the_profile_is_chosen_by_the_local_config_then_aws_profile_then_default() {
    let dir = home(CREDENTIALS, CONFIG);
    let h = dir.path();
    let default = resolve(&home_env(h, &[]), None).unwrap().unwrap();
    assert_eq!(default.name, "default");
    assert_eq!(default.region.as_deref(), Some("eu-central-1"));
    assert!(matches!(
        default.credentials,
        Some(Credentials::Static { ref key_id, .. }) if key_id == "default-key"
    ));

    let dev = resolve(&home_env(h, &[("AWS_PROFILE", "dev")]), None)
        .unwrap()
        .unwrap();
    assert_eq!(dev.name, "dev");
    assert_eq!(dev.region.as_deref(), Some("us-west-2"));
    assert_eq!(dev.endpoint_url.as_deref(), Some("http://127.0.0.1:9000"));
    let Some(Credentials::Static {
        key_id,
        secret_key,
        token,
        at,
    }) = dev.credentials
    else {
        panic!("static keys expected");
    };
    assert_eq!(
        (key_id.as_str(), secret_key.as_str(), token.as_deref()),
        ("dev-key", "dev-secret", Some("dev-token"))
    );
    assert_eq!(at, format!("{}:7", h.join(".aws/credentials").display()));

    // AWS_DEFAULT_PROFILE when AWS_PROFILE is not set; the local config over both.
    let legacy = resolve(
        &home_env(h, &[("AWS_DEFAULT_PROFILE", "only-region")]),
        None,
    );
    assert_eq!(legacy.unwrap().unwrap().name, "only-region");
    let chosen = resolve(&home_env(h, &[("AWS_PROFILE", "dev")]), Some("tools"));
    assert!(matches!(
        chosen.unwrap().unwrap().credentials,
        Some(Credentials::Process { ref command, .. }) if command == "/opt/bin/get-keys --role ci"
    ));
    let federated = resolve(&home_env(h, &[("AWS_PROFILE", "federated")]), None);
    assert_eq!(
        federated.unwrap().unwrap().credentials,
        Some(Credentials::WebIdentity {
            role_arn: "arn:aws:iam::111122223333:role/ci".into(),
            token_file: "/var/run/token".into(),
            session_name: Some("cairn-ci".into()),
        })
    );
    let only_region = resolve(&home_env(h, &[("AWS_PROFILE", "only-region")]), None);
    assert_eq!(only_region.unwrap().unwrap().credentials, None);
}

#[test]
fn the_credentials_file_wins_over_the_config_file() {
    let dir = home(
        "[dev]\naws_access_key_id = from-credentials\naws_secret_access_key = s\n",
        "[profile dev]\naws_access_key_id = from-config\naws_secret_access_key = t\nregion = eu-west-3\n",
    );
    let dev = resolve(&home_env(dir.path(), &[("AWS_PROFILE", "dev")]), None)
        .unwrap()
        .unwrap();
    assert_eq!(dev.region.as_deref(), Some("eu-west-3"));
    assert!(matches!(
        dev.credentials,
        Some(Credentials::Static { ref key_id, ref secret_key, .. })
            if key_id == "from-credentials" && secret_key == "s"
    ));
}

#[test]
fn the_files_can_be_moved_by_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let credentials = dir.path().join("creds.ini");
    std::fs::write(
        &credentials,
        "[moved]\naws_access_key_id = k\naws_secret_access_key = s\n",
    )
    .unwrap();
    let vars = env(&[
        ("AWS_SHARED_CREDENTIALS_FILE", credentials.to_str().unwrap()),
        ("AWS_CONFIG_FILE", "/nonexistent/config"),
        ("AWS_PROFILE", "moved"),
    ]);
    assert_eq!(resolve(&vars, None).unwrap().unwrap().name, "moved");
    // No HOME, no files named: nothing to read, and the default profile is simply absent.
    assert_eq!(resolve(&RemoteEnv::default(), None).unwrap(), None);
}

#[test]
fn profiles_that_cannot_be_used_are_refused_with_a_way_around() {
    let dir = home(CREDENTIALS, CONFIG);
    let h = dir.path();
    let missing = resolve(&home_env(h, &[("AWS_PROFILE", "prod")]), None).unwrap_err();
    let text = missing.to_string();
    assert!(
        text.contains("`prod` (AWS_PROFILE) is in neither"),
        "{text}"
    );
    assert!(text.contains(".aws/credentials"), "{text}");
    let missing = resolve(&home_env(h, &[]), Some("prod")).unwrap_err();
    assert!(
        missing
            .to_string()
            .contains("aws_profile in .cairn/config.toml")
    );

    for (profile, line, what) in [
        ("via-sso", 18, "IAM Identity Center"),
        ("assumed", 23, "assumes a role"),
    ] {
        let err = resolve(&home_env(h, &[("AWS_PROFILE", profile)]), None)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!("{}:{line}: ", h.join(".aws/config").display())),
            "{err}"
        );
        assert!(err.contains(what), "{err}");
        assert!(
            err.contains(&format!(
                "aws configure export-credentials --profile {profile}"
            )),
            "{err}"
        );
    }

    let half = home("[default]\naws_access_key_id = k\n", "");
    let err = resolve(&home_env(half.path(), &[]), None).unwrap_err();
    assert!(
        err.to_string().contains("no aws_secret_access_key"),
        "{err}"
    );
}

fn builder(
    env: RemoteEnv,
    extra: &[(&str, &str)],
) -> Result<(object_store::aws::AmazonS3Builder, Option<String>), RemoteError> {
    open::s3_builder_for(&RemoteOptions {
        url: "s3://bucket/prefix".to_string(),
        extra: extra
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        env,
        ..RemoteOptions::default()
    })
}

fn key(b: &object_store::aws::AmazonS3Builder, k: K) -> Option<String> {
    b.get_config_value(&k)
}

/// The precedence docs/guide/remotes.md documents, end to end through the builder.
#[test]
fn environment_keys_beat_aws_profile_and_the_local_config_beats_both() {
    let dir = home(CREDENTIALS, CONFIG);
    let h = dir.path();
    let env_keys = [
        ("AWS_ACCESS_KEY_ID", "env-key"),
        ("AWS_SECRET_ACCESS_KEY", "env-secret"),
        ("AWS_SESSION_TOKEN", "env-token"),
    ];

    // The default profile, when nothing else says.
    let (b, used) = builder(home_env(h, &[]), &[]).unwrap();
    assert_eq!(key(&b, K::AccessKeyId).as_deref(), Some("default-key"));
    assert_eq!(key(&b, K::Region).as_deref(), Some("eu-central-1"));
    assert!(used.unwrap().starts_with("AWS profile `default` (keys at "));

    // AWS_PROFILE chooses; its region and endpoint apply.
    let (b, _) = builder(home_env(h, &[("AWS_PROFILE", "dev")]), &[]).unwrap();
    assert_eq!(key(&b, K::AccessKeyId).as_deref(), Some("dev-key"));
    assert_eq!(key(&b, K::Token).as_deref(), Some("dev-token"));
    assert_eq!(key(&b, K::Region).as_deref(), Some("us-west-2"));
    assert_eq!(
        key(&b, K::Endpoint).as_deref(),
        Some("http://127.0.0.1:9000")
    );

    // Keys in the environment beat AWS_PROFILE's, as for every AWS tool; the profile's
    // region still applies where the environment names none.
    let mut vars = env_keys.to_vec();
    vars.push(("AWS_PROFILE", "dev"));
    let (b, used) = builder(home_env(h, &vars), &[]).unwrap();
    assert_eq!(key(&b, K::AccessKeyId).as_deref(), Some("env-key"));
    assert_eq!(key(&b, K::Token).as_deref(), Some("env-token"));
    assert_eq!(key(&b, K::Region).as_deref(), Some("us-west-2"));
    assert_eq!(used, None);

    // ... and the environment's region beats the profile's, AWS_DEFAULT_REGION included.
    let (b, _) = builder(
        home_env(
            h,
            &[("AWS_PROFILE", "dev"), ("AWS_DEFAULT_REGION", "sa-east-1")],
        ),
        &[],
    )
    .unwrap();
    assert_eq!(key(&b, K::Region).as_deref(), Some("sa-east-1"));

    // A profile named in .cairn/config.toml beats the environment's keys, none of which
    // (not even the session token) mix with the profile's.
    let mut vars = env_keys.to_vec();
    vars.push(("AWS_PROFILE", "default"));
    let (b, used) = builder(home_env(h, &vars), &[("aws_profile", "dev")]).unwrap();
    assert_eq!(key(&b, K::AccessKeyId).as_deref(), Some("dev-key"));
    assert_eq!(key(&b, K::Token).as_deref(), Some("dev-token"));
    assert!(used.unwrap().starts_with("AWS profile `dev`"));
    let no_token = home(
        "[ci]\naws_access_key_id = ci-key\naws_secret_access_key = s\n",
        "",
    );
    let (b, _) = builder(
        home_env(no_token.path(), &env_keys),
        &[("aws_profile", "ci")],
    )
    .unwrap();
    assert_eq!(key(&b, K::AccessKeyId).as_deref(), Some("ci-key"));
    assert_eq!(key(&b, K::Token), None);

    // Keys in .cairn/config.toml beat any profile.
    let (b, used) = builder(
        home_env(h, &[("AWS_PROFILE", "dev")]),
        &[
            ("aws_access_key_id", "local-key"),
            ("aws_secret_access_key", "local-secret"),
        ],
    )
    .unwrap();
    assert_eq!(key(&b, K::AccessKeyId).as_deref(), Some("local-key"));
    assert_eq!(used, None);

    // A profile with a web identity hands it to object_store.
    let (b, used) = builder(home_env(h, &[("AWS_PROFILE", "federated")]), &[]).unwrap();
    assert_eq!(
        key(&b, K::RoleArn).as_deref(),
        Some("arn:aws:iam::111122223333:role/ci")
    );
    assert_eq!(
        key(&b, K::WebIdentityTokenFile).as_deref(),
        Some("/var/run/token")
    );
    assert!(used.unwrap().contains("web identity token /var/run/token"));

    // The profile's problems stop the remote from opening.
    assert!(matches!(
        builder(home_env(h, &[("AWS_PROFILE", "via-sso")]), &[]),
        Err(RemoteError::AwsProfile { .. })
    ));
}

/// A script that prints credentials, counting its runs in `runs`.
fn process_script(dir: &Path, expiration: Option<&str>) -> String {
    let script = dir.join("get-keys.sh");
    let expiration = expiration
        .map(|e| format!(", \"Expiration\": \"{e}\""))
        .unwrap_or_default();
    std::fs::write(
        &script,
        format!(
            "echo run >> '{runs}'\n\
             printf '%s' '{{\"Version\": 1, \"AccessKeyId\": \"proc-key\", \
             \"SecretAccessKey\": \"proc-secret\", \"SessionToken\": \"proc-token\"{expiration}}}'\n",
            runs = dir.join("runs").display()
        ),
    )
    .unwrap();
    format!("sh '{}'", script.display())
}

fn runs(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("runs"))
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

fn credential(provider: &ProcessCredentials) -> object_store::Result<Arc<AwsCredential>> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(provider.get_credential())
}

#[test]
fn a_credential_process_runs_once_until_its_credentials_near_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let far = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let provider = ProcessCredentials::new(&process_script(dir.path(), Some(&far)), "tools");
    let first = credential(&provider).unwrap();
    assert_eq!(first.key_id, "proc-key");
    assert_eq!(first.secret_key, "proc-secret");
    assert_eq!(first.token.as_deref(), Some("proc-token"));
    credential(&provider).unwrap();
    assert_eq!(runs(dir.path()), 1, "fresh credentials are reused");

    // Credentials that expire within five minutes are fetched again at every use.
    let dir = tempfile::tempdir().unwrap();
    let soon = (chrono::Utc::now() + chrono::Duration::minutes(2)).to_rfc3339();
    let provider = ProcessCredentials::new(&process_script(dir.path(), Some(&soon)), "tools");
    credential(&provider).unwrap();
    credential(&provider).unwrap();
    assert_eq!(runs(dir.path()), 2);

    // Without an Expiration they last as long as the process.
    let dir = tempfile::tempdir().unwrap();
    let provider = ProcessCredentials::new(&process_script(dir.path(), None), "tools");
    credential(&provider).unwrap();
    credential(&provider).unwrap();
    assert_eq!(runs(dir.path()), 1);
}

#[test]
fn a_failing_credential_process_is_an_authentication_error_that_says_why() {
    let check = |command: &str, needle: &str| {
        let provider = ProcessCredentials::new(command, "tools");
        let err = credential(&provider).unwrap_err();
        assert!(
            matches!(err, object_store::Error::Unauthenticated { .. }),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(
            text.contains("credential_process of the AWS profile `tools`"),
            "{text}"
        );
        assert!(text.contains(needle), "{command}: {text}");
    };
    check(
        "echo 'token expired, run aws sso login' >&2; exit 3",
        "run aws sso login",
    );
    check("echo not json", "not the credential JSON");
    check(
        r#"echo '{"Version": 2, "AccessKeyId": "k", "SecretAccessKey": "s"}'"#,
        "Version 2",
    );
    check(
        r#"echo '{"Version": 1, "AccessKeyId": "k", "SecretAccessKey": "s", "Expiration": "tomorrow"}'"#,
        "`tomorrow` is not an RFC 3339 time",
    );
}
