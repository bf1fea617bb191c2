//! examples/deploy: what can run here runs — the container's entrypoint, against a project
//! whose production model was pushed to a directory remote, fetches the model by digest and
//! serves real requests until SIGTERM; the Kubernetes manifests parse with the expected kinds,
//! probes, ports and annotations; the Dockerfile and entrypoint commands are the ones
//! docs/guide/deploy.md shows.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cairn_e2e::{Project, Rng, cairn_bin};
use yaml_rust2::YamlLoader;

fn example(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/deploy")
        .join(rel)
}

fn guide() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/guide/deploy.md"))
        .unwrap()
}

#[test]
fn the_manifests_and_the_dockerfile_are_what_the_guide_says() {
    let text = std::fs::read_to_string(example("k8s/cairn-serve.yaml")).unwrap();
    let docs = YamlLoader::load_from_str(&text).expect("the manifests are YAML");
    let kinds: Vec<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
    assert_eq!(kinds, ["Deployment", "Service"]);
    let deployment = &docs[0];
    assert!(deployment["spec"]["replicas"].as_i64().unwrap() >= 2);
    let pod = &deployment["spec"]["template"];
    let annotations = &pod["metadata"]["annotations"];
    assert_eq!(annotations["prometheus.io/scrape"].as_str(), Some("true"));
    assert_eq!(annotations["prometheus.io/path"].as_str(), Some("/metrics"));
    assert_eq!(annotations["prometheus.io/port"].as_str(), Some("8080"));
    assert_eq!(
        pod["spec"]["securityContext"]["runAsNonRoot"].as_bool(),
        Some(true)
    );
    let container = &pod["spec"]["containers"][0];
    assert_eq!(container["ports"][0]["containerPort"].as_i64(), Some(8080));
    assert_eq!(
        container["livenessProbe"]["httpGet"]["path"].as_str(),
        Some("/health")
    );
    assert_eq!(
        container["readinessProbe"]["httpGet"]["path"].as_str(),
        Some("/ready")
    );
    let env: Vec<(&str, &str)> = container["env"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(|e| Some((e["name"].as_str()?, e["value"].as_str()?)))
        .collect();
    assert!(env.contains(&("PORT", "8080")), "{env:?}");
    let service = &docs[1];
    assert_eq!(
        service["spec"]["ports"][0]["targetPort"].as_str(),
        Some("http")
    );
    assert_eq!(
        service["spec"]["selector"]["app"],
        pod["metadata"]["labels"]["app"]
    );

    // The Dockerfile: two stages, a non-root user, and the build the guide shows.
    let dockerfile = std::fs::read_to_string(example("Dockerfile")).unwrap();
    assert_eq!(
        dockerfile
            .lines()
            .filter(|l| l.starts_with("FROM "))
            .count(),
        2
    );
    assert!(dockerfile.contains("USER 10001"));
    let guide = guide();
    let build = dockerfile
        .lines()
        .find(|l| l.starts_with("RUN cargo build"))
        .unwrap();
    assert!(guide.contains(build), "the guide does not show `{build}`");
    // The entrypoint's cairn commands, as the guide shows them.
    let entrypoint = std::fs::read_to_string(example("entrypoint.sh")).unwrap();
    let commands: Vec<&str> = entrypoint
        .lines()
        .filter(|l| l.starts_with("cairn ") || l.starts_with("exec cairn "))
        .collect();
    assert_eq!(commands.len(), 2, "{commands:?}");
    for command in commands {
        assert!(
            guide.contains(command),
            "the guide does not show `{command}`"
        );
    }
}

const SPEC: &str = r#"
[remote.store]
url = "REMOTE"

[core]
remote = "store"

[model.churn]
data = "data/train.csv"
target = "label"
exclude = ["id"]
algorithm = "random_forest_classifier"
params = { n_trees = 5, max_depth = 4 }
seed = 3
"#;

fn table(rows: usize) -> String {
    let mut rng = Rng(9);
    let mut out = String::from("id,x1,x2,label\n");
    for i in 0..rows {
        let x1 = (rng.next() % 1000) as f64 / 1000.0;
        let x2 = (rng.next() % 1000) as f64 / 1000.0;
        let label = if x1 + x2 > 1.0 { "yes" } else { "no" };
        out.push_str(&format!("{i},{x1},{x2},{label}\n"));
    }
    out
}

/// One HTTP/1.1 exchange on 127.0.0.1: the status code and the body.
fn http(port: u16, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n")?.1.to_owned();
    Some((status, body))
}

#[test]
fn the_entrypoint_fetches_the_pinned_model_and_serves_it() {
    let remote = tempfile::tempdir().unwrap();
    let p = Project::new();
    p.write("data/train.csv", table(300));
    let toml = String::from_utf8(p.read("cairn.toml")).unwrap();
    p.write(
        "cairn.toml",
        toml + &SPEC.replace("REMOTE", remote.path().to_str().unwrap()),
    );
    p.cairn(&["data", "add", "data/train.csv"]).ok();
    p.commit("data and spec");
    p.cairn(&["train", "churn", "--register"]).ok();
    p.cairn(&[
        "models",
        "promote",
        "churn@1",
        "--to",
        "production",
        "--force",
        "--reason",
        "test",
    ])
    .ok();
    p.cairn(&["data", "push"]).ok();

    // The pod: the project's two files mounted, an empty work directory.
    let mounted = tempfile::tempdir().unwrap();
    for file in ["cairn.toml", "cairn.lock"] {
        std::fs::copy(p.path(file), mounted.path().join(file)).unwrap();
    }
    let work = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut path = vec![cairn_bin().parent().unwrap().to_path_buf()];
    path.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    let mut child = Command::new("sh")
        .arg(example("entrypoint.sh"))
        .env_clear()
        .env("PATH", std::env::join_paths(path).unwrap())
        .env("HOME", work.path())
        .env("NO_COLOR", "1")
        .env("CAIRN_MODEL", "churn@production")
        .env("CAIRN_PROJECT", mounted.path())
        .env("CAIRN_WORKDIR", work.path().join("project"))
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let ready = loop {
        if let Some((200, body)) = http(port, "GET", "/ready", "") {
            break body;
        }
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!("the entrypoint exited ({status}) before the server was ready:\n{err}");
        }
        assert!(started.elapsed() < Duration::from_secs(120), "never ready");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(ready.contains("churn"), "{ready}");
    let (status, body) = http(
        port,
        "POST",
        "/v1/models/churn/predict",
        r#"{"instances": [{"x1": 0.9, "x2": 0.8}, {"x1": 0.1, "x2": 0.2}]}"#,
    )
    .expect("an answer");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""predictions":["yes","no"]"#), "{body}");
    assert_eq!(http(port, "GET", "/health", "").map(|r| r.0), Some(200));
    // Only the model came: the training data is not in the pod's store.
    let lock = p.lock_text();
    let data_digest = lock
        .lines()
        .find_map(|l| l.strip_prefix("digest = \""))
        .map(|d| d.trim_end_matches('"').to_owned())
        .unwrap();
    let object = work
        .path()
        .join("project/.cairn/objects")
        .join(&data_digest[..2])
        .join(&data_digest[2..]);
    assert!(
        !object.exists(),
        "the training data was fetched into the pod"
    );

    // Kubernetes stops a pod with SIGTERM: `exec` made the server the process that gets it.
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "the server did not stop cleanly");
}
