use super::*;

fn open(url: &str) -> Result<Remote, RemoteError> {
    Remote::open(&RemoteOptions {
        url: url.to_string(),
        root: std::env::temp_dir(),
        ..RemoteOptions::default()
    })
}

#[test]
fn every_listed_scheme_is_understood_and_no_other() {
    for scheme in SCHEMES {
        let url = match *scheme {
            "file" => format!("file://{}", std::env::temp_dir().display()),
            "http" | "https" => format!("{scheme}://127.0.0.1:9/cairn"),
            _ => format!("{scheme}://bucket/prefix"),
        };
        if let Err(e) = open(&url) {
            assert!(!e.to_string().contains("unknown scheme"), "{url}: {e}");
        }
    }
    let err = open("ftp://host/path").err().expect("ftp is refused");
    assert!(err.to_string().contains("unknown scheme"), "{err}");
}

fn env(vars: &[(&str, &str)]) -> RemoteEnv {
    RemoteEnv::from_vars(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

#[test]
fn the_remote_environment_keeps_only_what_configures_object_stores() {
    let env = env(&[
        ("AWS_ACCESS_KEY_ID", "key"),
        ("GOOGLE_SERVICE_ACCOUNT", "/sa.json"),
        ("AZURE_STORAGE_ACCOUNT_NAME", "acct"),
        ("SERVICE_ACCOUNT", "/other.json"),
        ("IDENTITY_ENDPOINT", "http://169.254.169.254"),
        ("AWS_EMPTY", ""),
        ("HOME", "/root"),
        ("PATH", "/bin"),
        ("aws_lowercase", "x"),
    ]);
    assert_eq!(env.get("AWS_ACCESS_KEY_ID"), Some("key"));
    assert_eq!(env.get("HOME"), Some("/root"));
    assert_eq!(env.get("PATH"), None);
    assert_eq!(env.get("aws_lowercase"), None);
    assert!(env.is_set("SERVICE_ACCOUNT"));
    assert!(!env.is_set("AWS_EMPTY"));
    assert_eq!(env.get("AWS_EMPTY"), Some(""));
    let aws: Vec<_> = env.with_prefix("AWS_").map(|(k, _)| k).collect();
    assert_eq!(aws, ["AWS_ACCESS_KEY_ID", "AWS_EMPTY"]);
    assert!(RemoteEnv::default().is_empty());
}

/// The environment is applied as `AmazonS3Builder::from_env` would apply it, and the options
/// of `cairn.toml` and `.cairn/config.toml` win over it.
#[test]
fn s3_options_come_from_the_environment_then_the_project() {
    use object_store::aws::AmazonS3ConfigKey as K;
    let options = |env: RemoteEnv, endpoint: Option<&str>, extra: &[(&str, &str)]| RemoteOptions {
        url: "s3://bucket/prefix".to_string(),
        endpoint: endpoint.map(str::to_owned),
        extra: extra
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        env,
        ..RemoteOptions::default()
    };
    let vars = env(&[
        ("AWS_ACCESS_KEY_ID", "from-env"),
        ("AWS_SECRET_ACCESS_KEY", "secret-from-env"),
        ("AWS_DEFAULT_REGION", "us-east-2"),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ENDPOINT", "http://127.0.0.1:9000"),
        ("AWS_NOT_AN_OPTION", "ignored"),
    ]);
    let b = open::s3_builder_for(&options(vars.clone(), None, &[]))
        .unwrap()
        .0;
    assert_eq!(
        b.get_config_value(&K::AccessKeyId).as_deref(),
        Some("from-env")
    );
    assert_eq!(
        b.get_config_value(&K::SecretAccessKey).as_deref(),
        Some("secret-from-env")
    );
    // Both name the region; the more specific one, as the AWS tools read them.
    assert_eq!(b.get_config_value(&K::Region).as_deref(), Some("eu-west-1"));
    // Plain HTTP: the signature covers the body.
    assert_eq!(
        b.get_config_value(&K::UnsignedPayload).as_deref(),
        Some("false")
    );

    let b = open::s3_builder_for(&options(
        vars,
        Some("https://s3.example.com"),
        &[("aws_access_key_id", "from-config")],
    ))
    .unwrap()
    .0;
    assert_eq!(
        b.get_config_value(&K::AccessKeyId).as_deref(),
        Some("from-config")
    );
    assert_eq!(
        b.get_config_value(&K::Endpoint).as_deref(),
        Some("https://s3.example.com")
    );
    // Over TLS the body is not hashed for the signature, unless the environment says.
    assert_eq!(
        b.get_config_value(&K::UnsignedPayload).as_deref(),
        Some("true")
    );
    let chosen = env(&[("AWS_UNSIGNED_PAYLOAD", "false")]);
    let b = open::s3_builder_for(&options(chosen, None, &[])).unwrap().0;
    assert_eq!(
        b.get_config_value(&K::UnsignedPayload).as_deref(),
        Some("false")
    );

    // Without an environment, nothing of it applies.
    let b = open::s3_builder_for(&options(RemoteEnv::default(), None, &[]))
        .unwrap()
        .0;
    assert_eq!(b.get_config_value(&K::AccessKeyId), None);
    assert_eq!(b.get_config_value(&K::Region), None);
}
