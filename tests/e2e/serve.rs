//! `cairn serve` and `cairn predict` through the binary: the real server on 127.0.0.1 with a
//! free port (read from its `listening` event), driven by a small HTTP/1.1 client over
//! `TcpStream` (`Connection: close`, one request per connection). Bad input of every kind, a
//! slow client, a promotion and SIGHUP during load, SIGTERM during load with the prediction
//! log flushed, MLflow's request shapes, a canary split, auth, an unwritable log directory,
//! and batch scoring from a file. Throughput is the benchmark's business, not these tests'.
//!
//! A field decoded only to check that it is there and has its type is not read, hence the
//! `dead_code` allowance below.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use cairn_e2e::{Project, Rng};
use serde::Deserialize;
use serde::de::DeserializeOwned;

// ---------------------------------------------------------------------------------------
// The project: one classifier, two registered versions, version 1 in production.

const SPEC: &str = r#"
[model.churn]
data = "data/train.csv"
target = "label"
algorithm = "decision_tree_classifier"
params = { max_depth = 3 }
seed = 7
"#;

/// A seeded table: two numbers and a label that follows their sum, with noise.
fn table(rows: usize, seed: u64) -> String {
    let mut rng = Rng(seed);
    let unit = |rng: &mut Rng| (rng.next() % 10_000) as f64 / 10_000.0;
    let mut out = String::from("x1,x2,label\n");
    for _ in 0..rows {
        let (x1, x2) = (unit(&mut rng), unit(&mut rng));
        let noise = unit(&mut rng) * 0.3;
        let label = if x1 + x2 + noise > 1.15 { "yes" } else { "no" };
        out.push_str(&format!("{x1},{x2},{label}\n"));
    }
    out
}

#[derive(Debug, Deserialize)]
struct RunDoc {
    id: String,
    status: String,
}

#[derive(Debug, Deserialize)]
struct RegisterDoc {
    version: u32,
}

#[track_caller]
fn doc<T: DeserializeOwned>(p: &Project, args: &[&str], code: i32) -> T {
    let value = p.json(args, code);
    serde_json::from_value(value.clone())
        .unwrap_or_else(|e| panic!("not the documented JSON ({e}):\n{value:#}"))
}

/// Trains churn with `max_depth` and registers the run: the new version's number.
fn train_and_register(p: &Project, depth: u32) -> u32 {
    let run: RunDoc = doc(
        p,
        &["train", "churn", "--set", &format!("max_depth={depth}")],
        0,
    );
    assert_eq!(run.status, "finished");
    let registered: RegisterDoc = doc(p, &["register", &run.id], 0);
    registered.version
}

fn promote(p: &Project, reference: &str) {
    p.cairn(&[
        "models",
        "promote",
        reference,
        "--to",
        "production",
        "--force",
        "--reason",
        "serve tests",
    ])
    .ok();
}

/// churn@1 (depth 3) in production, churn@2 (depth 1) registered without a stage.
fn project() -> Project {
    let p = Project::new();
    p.write("data/train.csv", table(300, 1));
    let mut config = String::from_utf8(p.read("cairn.toml")).unwrap();
    config.push_str(SPEC);
    p.write("cairn.toml", config);
    p.cairn(&["data", "add", "data/train.csv"]).ok();
    p.commit("data and spec");
    assert_eq!(train_and_register(&p, 3), 1);
    promote(&p, "churn@1");
    assert_eq!(train_and_register(&p, 1), 2);
    p
}

// ---------------------------------------------------------------------------------------
// The server process and its events (docs/http-api.md, "Events"; `--json` makes them JSON
// lines on stderr).

#[derive(Debug, Clone, Deserialize)]
struct ServedDoc {
    name: String,
    version: u32,
    stage: String,
    digest: String,
    #[serde(default)]
    canary: Option<ServedCanaryDoc>,
}

#[derive(Debug, Clone, Deserialize)]
struct ServedCanaryDoc {
    version: u32,
    percent: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
enum Line {
    Listening {
        address: String,
    },
    Ready {
        models: Vec<ServedDoc>,
    },
    Swapped {
        model: String,
        from: Option<u32>,
        to: u32,
        canary: bool,
    },
    ReloadFailed {
        reason: String,
    },
    LogTrouble {
        model: String,
        write_errors: u64,
        last_error: Option<String>,
    },
    Panicked {
        message: String,
    },
    Stopping {
        signal: String,
    },
    Access {
        status: u16,
        path: String,
        request_id: String,
    },
}

/// `cairn serve --json`'s document on stdout when it stops.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServeDoc {
    kind: String,
    schema_version: u32,
    address: String,
    requests: u64,
    uptime_seconds: f64,
    models: Vec<ServedDoc>,
    #[serde(default)]
    logs: Vec<LogDoc>,
}

#[derive(Debug, Deserialize)]
struct LogDoc {
    model: String,
    directory: String,
    stats: LogStatsDoc,
}

#[derive(Debug, Deserialize)]
struct LogStatsDoc {
    queued_rows: u64,
    predictions: KindDoc,
    feedback: KindDoc,
    write_errors: u64,
}

#[derive(Debug, Deserialize)]
struct KindDoc {
    accepted_rows: u64,
    dropped_rows: u64,
    written_rows: u64,
    lost_rows: u64,
    segments: u64,
}

/// How long the tests wait for an event before failing (a hung server fails, it does not
/// hang the suite). Not a timing goal.
const PATIENCE: Duration = Duration::from_secs(120);

struct Server {
    child: Child,
    addr: String,
    lines: mpsc::Receiver<Line>,
    /// Every stderr line, for failure messages.
    stderr: Arc<Mutex<Vec<String>>>,
    reader: Option<JoinHandle<()>>,
}

impl Server {
    /// Starts `cairn --json serve --port 0 ARGS` and waits until it is ready.
    fn start(p: &Project, args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut server = Server::spawn(p, args, env);
        server.wait_for(|l| matches!(l, Line::Ready { .. }));
        server
    }

    /// Starts it and returns once it listens.
    fn spawn(p: &Project, args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut all = vec!["--json", "serve", "--port", "0"];
        all.extend_from_slice(args);
        let mut cmd: Command = p.command(&all);
        cmd.envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("cairn serve starts");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = mpsc::channel();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let keep = Arc::clone(&seen);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Ok(parsed) = serde_json::from_str::<Line>(&line) {
                    let _ = tx.send(parsed);
                }
                keep.lock().unwrap().push(line);
            }
        });
        let mut server = Server {
            child,
            addr: String::new(),
            lines,
            stderr: seen,
            reader: Some(reader),
        };
        let Line::Listening { address } = server.wait_for(|l| matches!(l, Line::Listening { .. }))
        else {
            unreachable!()
        };
        server.addr = address;
        server
    }

    /// The next event that `wanted` accepts (the others are skipped).
    #[track_caller]
    fn wait_for(&mut self, wanted: impl Fn(&Line) -> bool) -> Line {
        loop {
            match self.lines.recv_timeout(PATIENCE) {
                Ok(line) if wanted(&line) => return line,
                Ok(_) => {}
                Err(e) => panic!(
                    "no such event from the server ({e}); its stderr:\n{}",
                    self.stderr.lock().unwrap().join("\n")
                ),
            }
        }
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.pid()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// SIGTERM, then the exit code and the outcome document.
    fn stop(mut self) -> (i32, ServeDoc) {
        self.signal("TERM");
        let mut stdout = String::new();
        self.child
            .stdout
            .take()
            .expect("stdout")
            .read_to_string(&mut stdout)
            .expect("stdout reads");
        let status = self.child.wait().expect("the server exits");
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        let stderr = self.stderr.lock().unwrap().join("\n");
        let doc: ServeDoc = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("not the serve document ({e}):\n{stdout}\n{stderr}"));
        assert_eq!((doc.kind.as_str(), doc.schema_version), ("serve", 1));
        (status.code().unwrap_or(-1), doc)
    }

    fn stderr_text(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    fn get(&self, path: &str) -> Reply {
        http(&self.addr, "GET", path, &[], b"").expect("GET answered")
    }

    fn post(&self, path: &str, body: &str) -> Reply {
        self.post_with(
            path,
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
    }

    fn post_with(&self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        http(&self.addr, "POST", path, headers, body).expect("POST answered")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------
// A small HTTP/1.1 client.

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    #[track_caller]
    fn decode<T: DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not the documented body ({e}): {} {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    #[track_caller]
    fn error(&self, status: u16) -> ErrorBody {
        assert_eq!(
            self.status,
            status,
            "{}",
            String::from_utf8_lossy(&self.body)
        );
        self.decode()
    }
}

/// Sends one request on a new connection and reads the whole response. `Err` when the
/// connection fails before a complete response arrives (refused, reset, closed early).
fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Reply> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(PATIENCE))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut request = head.into_bytes();
    request.extend_from_slice(body);
    // A server may answer (413) before it reads the whole body: read what it said anyway.
    let written = stream.write_all(&request);
    let mut raw = Vec::new();
    let read = stream.read_to_end(&mut raw);
    match parse_reply(&raw) {
        Some(reply) => Ok(reply),
        None => {
            written?;
            read?;
            Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!(
                    "an incomplete response: {:?}",
                    String::from_utf8_lossy(&raw)
                ),
            ))
        }
    }
}

fn parse_reply(raw: &[u8]) -> Option<Reply> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let rest = &raw[end + 4..];
    let body = if let Some(n) = headers.get("content-length") {
        let n: usize = n.parse().ok()?;
        rest.get(..n)?.to_vec()
    } else if headers
        .get("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        dechunk(rest)?
    } else {
        rest.to_vec()
    };
    Some(Reply {
        status,
        headers,
        body,
    })
}

fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size =
            usize::from_str_radix(std::str::from_utf8(&rest[..line_end]).ok()?.trim(), 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

// ---------------------------------------------------------------------------------------
// The documented bodies (docs/http-api.md).

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PredictBody {
    model: String,
    version: u32,
    digest: String,
    request_id: String,
    predictions: Vec<String>,
    probabilities: Vec<Vec<f64>>,
    classes: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InvocationsBody {
    predictions: Vec<String>,
    model: String,
    version: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ErrorBody {
    error: String,
    code: String,
    #[serde(default)]
    field: Option<String>,
    #[serde(default)]
    row: Option<usize>,
    request_id: String,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    version: Option<u32>,
}

#[derive(Debug, Deserialize)]
struct ModelsBody {
    models: Vec<ListedModel>,
}

#[derive(Debug, Deserialize)]
struct ListedModel {
    name: String,
    version: u32,
    stage: Option<String>,
    digest: String,
    task: String,
    /// Labels as the training table had them: strings, numbers or booleans.
    classes: Vec<serde_json::Value>,
    inputs: Vec<ListedInput>,
    #[serde(default)]
    canary: Option<ListedCanary>,
}

#[derive(Debug, Deserialize)]
struct ListedInput {
    name: String,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Debug, Deserialize)]
struct ListedCanary {
    version: u32,
    percent: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedbackBody {
    model: String,
    accepted: usize,
}

const PREDICT: &str = "/v1/models/churn/predict";
const ONE_ROW: &str = r#"{"instances": [{"x1": 0.9, "x2": 0.8}]}"#;

/// The value of a Prometheus sample line `name{labels} value` (labels as written).
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

// ---------------------------------------------------------------------------------------
// The tests.

#[test]
fn endpoints_answer_with_the_documented_bodies_and_bad_input_is_refused_naming_field_and_row() {
    let p = project();
    let server = Server::start(&p, &["--max-body", "64KiB"], &[]);

    assert_eq!(server.get("/health").status, 200);
    assert_eq!(server.get("/ready").status, 200);
    let listed: ModelsBody = server.get("/v1/models").decode();
    let [churn] = listed.models.as_slice() else {
        panic!("{listed:?}")
    };
    assert_eq!(
        (churn.name.as_str(), churn.version, churn.stage.as_deref()),
        ("churn", 1, Some("production"))
    );
    assert_eq!(churn.task, "classification");
    assert_eq!(
        churn.classes,
        [serde_json::json!("no"), serde_json::json!("yes")]
    );
    let inputs: Vec<(&str, &str)> = churn
        .inputs
        .iter()
        .map(|i| (i.name.as_str(), i.kind.as_str()))
        .collect();
    assert_eq!(inputs, [("x1", "float"), ("x2", "float")]);
    assert!(churn.canary.is_none());

    // Two rows, both shapes of cairn's own body.
    let rows = r#"{"instances": [{"x1": 0.9, "x2": 0.8}, {"x1": 0.1, "x2": 0.2}]}"#;
    let reply = server.post(PREDICT, rows);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("x-cairn-model-version"), Some("1"));
    let body: PredictBody = reply.decode();
    assert_eq!((body.model.as_str(), body.version), ("churn", 1));
    assert_eq!(body.digest, churn.digest);
    assert_eq!(body.predictions, ["yes", "no"]);
    assert_eq!(body.classes, ["no", "yes"]);
    assert_eq!(body.probabilities.len(), 2);
    for p in &body.probabilities {
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9, "{p:?}");
    }
    assert_eq!(reply.header("x-request-id"), Some(body.request_id.as_str()));
    let columnar: PredictBody = server
        .post(
            PREDICT,
            r#"{"inputs": {"x1": [0.9, 0.1], "x2": [0.8, 0.2]}}"#,
        )
        .decode();
    assert_eq!(columnar.predictions, body.predictions);
    assert_eq!(columnar.probabilities, body.probabilities);
    // By version number; a version that is not served is a 404.
    let by_version: PredictBody = server
        .post("/v1/models/churn/versions/1/predict", rows)
        .decode();
    assert_eq!(by_version.predictions, body.predictions);
    let e = server
        .post("/v1/models/churn/versions/2/predict", rows)
        .error(404);
    assert_eq!(e.code, "unknown_version");

    // Every kind of bad input: 400 with the field and the row, the model that refused it.
    let cases: &[(&str, &str, Option<&str>, Option<usize>)] = &[
        (
            r#"{"instances": [{"x1": 0.9, "x2": "#,
            "malformed",
            None,
            None,
        ),
        ("not json at all", "malformed", None, None),
        (r#"[{"x1": 0.9, "x2": 0.8}]"#, "bad_shape", None, None),
        (
            r#"{"rows": [{"x1": 0.9, "x2": 0.8}]}"#,
            "bad_shape",
            None,
            None,
        ),
        (r#"{"instances": []}"#, "no_rows", None, None),
        (
            r#"{"instances": [{"x1": 0.9, "x2": 0.8}, {"x1": "high", "x2": 0.8}]}"#,
            "wrong_type",
            Some("x1"),
            Some(1),
        ),
        (
            r#"{"instances": [{"x1": 0.9, "x2": 0.8}, {"x1": 0.9, "x2": 0.8}, {"x1": 0.5}]}"#,
            "missing_field",
            Some("x2"),
            Some(2),
        ),
        (
            r#"{"instances": [{"x1": 0.9, "x2": NaN}]}"#,
            "non_finite",
            Some("x2"),
            Some(0),
        ),
        (
            r#"{"instances": [{"x1": 0.9, "x2": 0.8}, {"x1": -Infinity, "x2": 0.8}]}"#,
            "non_finite",
            Some("x1"),
            Some(1),
        ),
        (
            r#"{"instances": [{"x1": 0.9, "x2": 0.8, "x3": 1}]}"#,
            "unknown_field",
            Some("x3"),
            Some(0),
        ),
        (
            r#"{"inputs": {"x1": [0.9, 0.1], "x2": [0.8]}}"#,
            "ragged_columns",
            Some("x2"),
            None,
        ),
    ];
    for (body, code, field, row) in cases {
        let e = server.post(PREDICT, body).error(400);
        assert_eq!(
            (e.code.as_str(), e.field.as_deref(), e.row),
            (*code, *field, *row),
            "{body}: {e:?}"
        );
        assert!(!e.error.is_empty() && !e.request_id.is_empty());
        if let Some(field) = field {
            assert!(e.error.contains(field), "{e:?}");
        }
        assert_eq!((e.model.as_deref(), e.version), (Some("churn"), Some(1)));
    }

    // A body over the limit is a 413, whether its length is declared or not.
    let mut huge = String::from(r#"{"instances": ["#);
    while huge.len() < 100 * 1024 {
        huge.push_str(r#"{"x1": 0.25, "x2": 0.75},"#);
    }
    huge.push_str(r#"{"x1": 0.25, "x2": 0.75}]}"#);
    let e = server.post(PREDICT, &huge).error(413);
    assert_eq!(e.code, "too_large");
    // A batch just under the limit is scored as one.
    let n = 1500;
    let batch = format!(
        r#"{{"instances": [{}]}}"#,
        vec![r#"{"x1":0.25,"x2":0.75}"#; n].join(",")
    );
    assert!(batch.len() < 64 * 1024);
    let scored: PredictBody = server.post(PREDICT, &batch).decode();
    assert_eq!(scored.predictions.len(), n);

    // An unknown model, an unknown endpoint, a GET where a POST is expected.
    let e = server.post("/v1/models/nope/predict", ONE_ROW).error(404);
    assert_eq!(e.code, "unknown_model");
    assert!(e.error.contains("churn"), "{e:?}");
    assert_eq!(server.get("/v2/whatever").status, 404);
    assert_eq!(server.get(PREDICT).status, 405);

    // Nothing took the server down; the errors are counted by status.
    assert_eq!(server.post(PREDICT, ONE_ROW).status, 200);
    assert_eq!(server.get("/health").status, 200);
    let metrics = String::from_utf8(server.get("/metrics").body).unwrap();
    assert_eq!(
        sample(
            &metrics,
            r#"cairn_requests_total{model="churn",version="1",status="400"}"#
        ),
        Some(cases.len() as f64),
        "{metrics}"
    );
    assert!(
        sample(
            &metrics,
            r#"cairn_http_requests_total{endpoint="predict",status="413"}"#
        ) == Some(1.0),
        "{metrics}"
    );
    for name in [
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_uptime_seconds",
    ] {
        assert!(sample(&metrics, name).is_some_and(|v| v > 0.0), "{name}");
    }
    // The OpenAPI document is served and parses.
    let openapi: serde_json::Value = server.get("/openapi.json").decode();
    assert!(openapi.get("paths").is_some());

    let (code, outcome) = server.stop();
    assert_eq!(code, 0);
    assert_eq!(outcome.models.len(), 1);
    assert!(outcome.requests > 20 && outcome.uptime_seconds > 0.0);
    assert!(outcome.address.starts_with("127.0.0.1:"));
}

#[test]
fn a_slow_client_does_not_keep_one_worker_from_serving_others() {
    let p = project();
    // One worker thread: a server that waited on the slow body would answer nobody else.
    let server = Server::start(&p, &["--workers", "1"], &[]);
    let body = ONE_ROW.as_bytes();
    let mut slow = TcpStream::connect(&server.addr).unwrap();
    slow.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(
        slow,
        "POST {PREDICT} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    slow.write_all(&body[..10]).unwrap();
    slow.flush().unwrap();
    // A client that connects and sends nothing at all.
    let _silent = TcpStream::connect(&server.addr).unwrap();
    for _ in 0..30 {
        let reply = server.post(PREDICT, ONE_ROW);
        assert_eq!(reply.status, 200);
    }
    // The slow client finishes and is answered too.
    slow.write_all(&body[10..]).unwrap();
    let mut raw = Vec::new();
    slow.read_to_end(&mut raw).unwrap();
    let reply = parse_reply(&raw).expect("a response");
    assert_eq!(reply.status, 200);
    let body: PredictBody = reply.decode();
    assert_eq!(body.predictions, ["yes"]);
}

/// Whether a load thread has seen enough, from the (status, version) of its answers so far.
type Done = Arc<dyn Fn(&[(u16, u32)]) -> bool + Send + Sync>;

/// Sends single-row requests from `threads` threads until `done` says stop (each thread
/// sends at least `min` and at most `max`); returns (status, version) per thread, in order.
fn load(addr: &str, threads: usize, min: usize, max: usize, done: Done) -> Vec<Vec<(u16, u32)>> {
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let addr = addr.to_owned();
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                while seen.len() < max && (seen.len() < min || !done(&seen)) {
                    let reply = http(
                        &addr,
                        "POST",
                        PREDICT,
                        &[("Content-Type", "application/json")],
                        ONE_ROW.as_bytes(),
                    )
                    .expect("answered");
                    let version = reply
                        .header("x-cairn-model-version")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    seen.push((reply.status, version));
                }
                seen
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn a_promotion_during_load_swaps_the_version_with_no_failed_request() {
    let p = project();
    let mut server = Server::start(&p, &[], &[]);
    let promoted = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&promoted);
    let addr = server.addr.clone();
    let loader = std::thread::spawn(move || {
        // Each thread goes on until it has seen 20 answers from version 2 after the
        // promotion (or gives up after 3,000 requests, and the test fails below).
        load(
            &addr,
            4,
            50,
            3000,
            Arc::new(move |seen: &[(u16, u32)]| {
                flag.load(Ordering::SeqCst) && seen.iter().filter(|(_, v)| *v == 2).count() >= 20
            }),
        )
    });
    // Promote while the load runs: cairn.lock changes and the server reloads.
    std::thread::sleep(Duration::from_millis(300));
    promote(&p, "churn@2");
    promoted.store(true, Ordering::SeqCst);
    let per_thread = loader.join().unwrap();

    let total: usize = per_thread.iter().map(Vec::len).sum();
    assert!(total >= 200, "{total} requests");
    for seen in &per_thread {
        let failed: Vec<_> = seen.iter().filter(|(s, _)| *s != 200).collect();
        assert!(failed.is_empty(), "failed requests: {failed:?}");
        assert_eq!(seen.first().map(|s| s.1), Some(1));
        assert_eq!(seen.last().map(|s| s.1), Some(2), "never saw version 2");
        // Atomic: once a thread is answered by version 2, it never sees version 1 again.
        let first_new = seen.iter().position(|(_, v)| *v == 2).unwrap();
        assert!(seen[first_new..].iter().all(|(_, v)| *v == 2));
    }
    let Line::Swapped {
        model,
        from,
        to,
        canary,
    } = server.wait_for(|l| matches!(l, Line::Swapped { .. }))
    else {
        unreachable!()
    };
    assert_eq!(
        (model.as_str(), from, to, canary),
        ("churn", Some(1), 2, false)
    );
    let listed: ModelsBody = server.get("/v1/models").decode();
    assert_eq!(listed.models[0].version, 2);
    let metrics = String::from_utf8(server.get("/metrics").body).unwrap();
    let answered = |v: u32| {
        sample(
            &metrics,
            &format!(r#"cairn_requests_total{{model="churn",version="{v}",status="200"}}"#),
        )
        .unwrap_or(0.0) as usize
    };
    assert_eq!(answered(1) + answered(2), total);
    let (code, outcome) = server.stop();
    assert_eq!(code, 0);
    assert_eq!(outcome.models[0].version, 2);
}

#[test]
fn sighup_reloads_when_the_lock_is_not_watched() {
    let p = project();
    let mut server = Server::start(&p, &["--no-watch"], &[]);
    promote(&p, "churn@2");
    server.signal("HUP");
    let Line::Swapped { from, to, .. } = server.wait_for(|l| matches!(l, Line::Swapped { .. }))
    else {
        unreachable!()
    };
    assert_eq!((from, to), (Some(1), 2));
    let reply = server.post(PREDICT, ONE_ROW);
    assert_eq!(reply.header("x-cairn-model-version"), Some("2"));
    let body: PredictBody = reply.decode();
    assert_eq!(body.version, 2);
}

#[test]
fn sigterm_during_load_answers_every_accepted_request_and_flushes_the_log() {
    let p = project();
    let mut server = Server::start(&p, &["--log-predictions"], &[]);
    let answered = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let addr = server.addr.clone();
            let answered = Arc::clone(&answered);
            std::thread::spawn(move || {
                // Until the server stops: each request is answered in full with a 200, or
                // its connection is refused or closed before a response (not accepted).
                let mut ok = 0usize;
                for _ in 0..5000 {
                    match http(
                        &addr,
                        "POST",
                        PREDICT,
                        &[("Content-Type", "application/json")],
                        ONE_ROW.as_bytes(),
                    ) {
                        Ok(reply) => {
                            assert_eq!(
                                reply.status,
                                200,
                                "{}",
                                String::from_utf8_lossy(&reply.body)
                            );
                            let body: PredictBody = reply.decode();
                            assert_eq!(body.predictions.len(), 1);
                            ok += 1;
                            answered.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(_) => break,
                    }
                }
                ok
            })
        })
        .collect();
    while answered.load(Ordering::SeqCst) < 200 && !handles.iter().all(|h| h.is_finished()) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        answered.load(Ordering::SeqCst) >= 200,
        "{}",
        server.stderr_text()
    );
    server.signal("TERM");
    server.wait_for(|l| matches!(l, Line::Stopping { .. }));
    let ok: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let (code, outcome) = server.stop_after_signal();
    assert_eq!(code, 0);
    // Every answered request is in the log, written to complete segments.
    let [log] = outcome.logs.as_slice() else {
        panic!("{outcome:?}")
    };
    assert_eq!(log.model, "churn");
    let s = &log.stats;
    assert_eq!(s.predictions.written_rows, ok as u64, "{s:?}");
    assert_eq!(
        (
            s.queued_rows,
            s.predictions.dropped_rows,
            s.predictions.lost_rows,
            s.write_errors
        ),
        (0, 0, 0, 0)
    );
    assert_eq!(s.predictions.accepted_rows, ok as u64);
    assert!(s.predictions.segments >= 1);
    let segments: Vec<String> = std::fs::read_dir(&log.directory)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "feedback")
        .collect();
    assert!(!segments.is_empty());
    assert!(
        segments.iter().all(|n| n.ends_with(".parquet")),
        "{segments:?}"
    );
    assert_eq!(segments.len() as u64, s.predictions.segments);
}

impl Server {
    /// The outcome of a server already sent SIGTERM.
    fn stop_after_signal(mut self) -> (i32, ServeDoc) {
        let mut stdout = String::new();
        self.child
            .stdout
            .take()
            .expect("stdout")
            .read_to_string(&mut stdout)
            .expect("stdout reads");
        let status = self.child.wait().expect("the server exits");
        let doc: ServeDoc = serde_json::from_str(&stdout).unwrap_or_else(|e| {
            panic!(
                "not the serve document ({e}):\n{stdout}\n{}",
                self.stderr_text()
            )
        });
        (status.code().unwrap_or(-1), doc)
    }
}

#[test]
fn feedback_is_recorded_against_logged_predictions() {
    let p = project();
    let server = Server::start(&p, &["--log-predictions"], &[]);
    let body: PredictBody = server
        .post(
            PREDICT,
            r#"{"instances": [{"x1": 0.9, "x2": 0.8}, {"x1": 0.1, "x2": 0.2}]}"#,
        )
        .decode();
    let one = format!(
        r#"{{"request_id": "{}", "row": 1, "label": "no"}}"#,
        body.request_id
    );
    let fb: FeedbackBody = server.post("/v1/models/churn/feedback", &one).decode();
    assert_eq!((fb.model.as_str(), fb.accepted), ("churn", 1));
    let many = format!(
        r#"[{{"request_id": "{id}", "row": 0, "label": "yes"}}, {{"request_id": "{id}", "row": 1, "label": "no"}}]"#,
        id = body.request_id
    );
    let fb: FeedbackBody = server.post("/v1/models/churn/feedback", &many).decode();
    assert_eq!(fb.accepted, 2);
    let e = server
        .post("/v1/models/churn/feedback", r#"{"label": "yes"}"#)
        .error(400);
    assert_eq!(e.code, "malformed");
    let (code, outcome) = server.stop();
    assert_eq!(code, 0);
    let s = &outcome.logs[0].stats;
    assert_eq!(
        (s.predictions.written_rows, s.feedback.written_rows),
        (2, 3)
    );

    // Without --log-predictions there is nothing to attach feedback to.
    let server = Server::start(&p, &[], &[]);
    let e = server.post("/v1/models/churn/feedback", &one).error(409);
    assert_eq!(e.code, "not_logging");
}

#[test]
fn an_unwritable_log_directory_is_reported_and_serving_goes_on() {
    let p = project();
    // .cairn/predictions is a file: no log directory can be made under it.
    p.write(".cairn/predictions", "not a directory");
    let mut server = Server::start(&p, &["--log-predictions"], &[]);
    for _ in 0..5 {
        assert_eq!(server.post(PREDICT, ONE_ROW).status, 200);
    }
    let Line::LogTrouble {
        model,
        write_errors,
        last_error,
    } = server.wait_for(|l| matches!(l, Line::LogTrouble { .. }))
    else {
        unreachable!()
    };
    assert_eq!(model, "churn");
    assert!(write_errors >= 1);
    assert!(
        last_error.is_some_and(|e| e.contains("predictions")),
        "{}",
        server.stderr_text()
    );
    assert_eq!(server.post(PREDICT, ONE_ROW).status, 200);
    // The rows that could not be written are a failure of the run, said when it stops.
    let stderr = Arc::clone(&server.stderr);
    let (code, outcome) = server.stop();
    assert_eq!(code, 3);
    assert_eq!(outcome.logs[0].stats.predictions.written_rows, 0);
    let stderr = stderr.lock().unwrap().join("\n");
    assert!(
        stderr.contains("prediction log of churn") && stderr.contains("could not be written"),
        "{stderr}"
    );
}

#[test]
fn mlflow_request_shapes_get_mlflow_answers() {
    let p = project();
    let server = Server::start(&p, &[], &[]);
    let json = [("Content-Type", "application/json")];
    let expected = ["yes", "no"];
    // The request shapes of MLflow's documentation ("Deploy MLflow models", the local REST
    // API examples), with this model's inputs.
    let bodies = [
        r#"{"dataframe_split": {"columns": ["x1", "x2"], "data": [[0.9, 0.8], [0.1, 0.2]]}}"#,
        r#"{"dataframe_split": {"index": [0, 1], "columns": ["x1", "x2"], "data": [[0.9, 0.8], [0.1, 0.2]]}}"#,
        r#"{"dataframe_records": [{"x1": 0.9, "x2": 0.8}, {"x1": 0.1, "x2": 0.2}]}"#,
        r#"{"instances": [{"x1": 0.9, "x2": 0.8}, {"x1": 0.1, "x2": 0.2}]}"#,
        r#"{"inputs": {"x1": [0.9, 0.1], "x2": [0.8, 0.2]}}"#,
        r#"{"dataframe_split": {"columns": ["x1", "x2"], "data": [[0.9, 0.8], [0.1, 0.2]]}, "params": {"k": 1}}"#,
    ];
    for body in bodies {
        for path in ["/invocations", "/v1/models/churn/invocations"] {
            let reply = server.post_with(path, &json, body.as_bytes());
            assert_eq!(
                reply.status,
                200,
                "{body}: {}",
                String::from_utf8_lossy(&reply.body)
            );
            assert_eq!(reply.header("x-cairn-model-version"), Some("1"));
            let answer: InvocationsBody = reply.decode();
            assert_eq!(answer.predictions, expected, "{body}");
            assert_eq!((answer.model.as_str(), answer.version), ("churn", 1));
        }
    }
    // text/csv, as pandas' to_csv writes it (with and without the index column's header).
    for (content_type, csv) in [
        ("text/csv", "x1,x2\n0.9,0.8\n0.1,0.2\n"),
        ("text/csv; charset=utf-8", "x1,x2\r\n0.9,0.8\r\n0.1,0.2\r\n"),
    ] {
        let reply = server.post_with(
            "/invocations",
            &[("Content-Type", content_type)],
            csv.as_bytes(),
        );
        let answer: InvocationsBody = reply.decode();
        assert_eq!(answer.predictions, expected, "{csv:?}");
    }
    // What MLflow refuses, cairn refuses the same way: other media types (415), a list,
    // no data key or two of them (400).
    for content_type in ["text/plain", "application/json; format=pandas-split"] {
        let reply = server.post_with(
            "/invocations",
            &[("Content-Type", content_type)],
            bodies[0].as_bytes(),
        );
        assert_eq!(reply.status, 415, "{content_type}");
    }
    for body in [
        r#"[{"x1": 0.9, "x2": 0.8}]"#,
        r#"{"params": {}}"#,
        r#"{"instances": [{"x1": 0.9, "x2": 0.8}], "inputs": {"x1": [0.9], "x2": [0.8]}}"#,
    ] {
        let e = server
            .post_with("/invocations", &json, body.as_bytes())
            .error(400);
        assert_eq!(e.code, "bad_shape", "{body}");
    }
    // The schema is enforced here too.
    let e = server
        .post_with(
            "/invocations",
            &json,
            br#"{"dataframe_split": {"columns": ["x1", "x2"], "data": [[0.9, "a"]]}}"#,
        )
        .error(400);
    assert_eq!((e.field.as_deref(), e.row), (Some("x2"), Some(0)));
}

#[test]
fn a_canary_takes_its_share_and_every_answer_names_its_version() {
    let p = project();
    let server = Server::start(&p, &["churn@production", "--canary", "churn@2=25"], &[]);
    let listed: ModelsBody = server.get("/v1/models").decode();
    let canary = listed.models[0].canary.as_ref().expect("a canary");
    assert_eq!((canary.version, canary.percent), (2, 25.0));
    let mut versions = BTreeMap::<u32, usize>::new();
    for _ in 0..100 {
        let reply = server.post(PREDICT, ONE_ROW);
        let header: u32 = reply
            .header("x-cairn-model-version")
            .and_then(|v| v.parse().ok())
            .expect("the version header");
        let body: PredictBody = reply.decode();
        assert_eq!(body.version, header);
        *versions.entry(header).or_default() += 1;
    }
    // Routing is deterministic: every 100 consecutive requests hold the share exactly.
    assert_eq!(versions, BTreeMap::from([(1, 75), (2, 25)]));
    // A version can be asked for by number.
    let body: PredictBody = server
        .post("/v1/models/churn/versions/2/predict", ONE_ROW)
        .decode();
    assert_eq!(body.version, 2);
    let metrics = String::from_utf8(server.get("/metrics").body).unwrap();
    for (v, n) in [(1, 75.0), (2, 26.0)] {
        assert_eq!(
            sample(
                &metrics,
                &format!(r#"cairn_requests_total{{model="churn",version="{v}",status="200"}}"#)
            ),
            Some(n),
            "{metrics}"
        );
    }
    let (_, outcome) = server.stop();
    let canary = outcome.models[0].canary.as_ref().expect("the canary");
    assert_eq!((canary.version, canary.percent), (2, 25.0));
}

#[test]
fn a_token_guards_the_prediction_endpoints_only() {
    let p = project();
    let server = Server::start(
        &p,
        &["--token-env", "CAIRN_SERVE_TOKEN"],
        &[("CAIRN_SERVE_TOKEN", "s3cret-token")],
    );
    let json = ("Content-Type", "application/json");
    for path in [PREDICT, "/invocations", "/v1/models/churn/feedback"] {
        for auth in [None, Some("Bearer wrong"), Some("s3cret-token")] {
            let mut headers = vec![json];
            if let Some(a) = auth {
                headers.push(("Authorization", a));
            }
            let reply = server.post_with(path, &headers, ONE_ROW.as_bytes());
            assert_eq!(reply.status, 401, "{path} {auth:?}");
            assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
            assert_eq!(reply.error(401).code, "unauthorized");
        }
    }
    let reply = server.post_with(
        PREDICT,
        &[json, ("Authorization", "Bearer s3cret-token")],
        ONE_ROW.as_bytes(),
    );
    assert_eq!(reply.status, 200);
    for path in [
        "/health",
        "/ready",
        "/v1/models",
        "/metrics",
        "/openapi.json",
    ] {
        assert_eq!(server.get(path).status, 200, "{path}");
    }
    drop(server);

    // A token variable that is not set is a usage error, before anything listens.
    p.cairn(&["serve", "--port", "0", "--token-env", "CAIRN_NO_SUCH_VAR"])
        .code(2)
        .stderr_has("CAIRN_NO_SUCH_VAR")
        .stderr_has("hint: ");
}

#[test]
fn serving_what_is_not_there_is_refused_with_a_hint() {
    let p = project();
    p.cairn(&["serve", "--port", "0", "nope@production"])
        .code(2)
        .stderr_has("error: ");
    p.cairn(&["serve", "--port", "0", "--canary", "churn@2=150"])
        .code(2)
        .stderr_has("--canary")
        .stderr_has("hint: ");
    let bare = Project::new();
    bare.cairn(&["serve", "--port", "0"])
        .code(2)
        .stderr_has("no model is registered")
        .stderr_has("hint: ");
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PredictDoc {
    kind: String,
    schema_version: u32,
    model: String,
    version: u32,
    digest: String,
    input: String,
    #[serde(default)]
    output: Option<String>,
    format: String,
    rows: u64,
    seconds: f64,
    #[serde(default)]
    imputed_rows: Option<u64>,
}

#[test]
fn predict_scores_a_file_through_the_same_path_as_the_server() {
    let p = project();
    let mut csv = String::from("x1,x2\n");
    let mut rng = Rng(5);
    for _ in 0..2000 {
        let x1 = (rng.next() % 1000) as f64 / 1000.0;
        let x2 = (rng.next() % 1000) as f64 / 1000.0;
        csv.push_str(&format!("{x1},{x2}\n"));
    }
    p.write("in.csv", &csv);
    // Small batches: the file is scored in several, and the rows keep their order.
    let outcome: PredictDoc = doc(
        &p,
        &[
            "predict",
            "churn@1",
            "--input",
            "in.csv",
            "-o",
            "out.csv",
            "--batch-rows",
            "300",
        ],
        0,
    );
    assert_eq!(
        (outcome.kind.as_str(), outcome.schema_version),
        ("predict", 1)
    );
    assert_eq!((outcome.model.as_str(), outcome.version), ("churn", 1));
    assert_eq!((outcome.rows, outcome.format.as_str()), (2000, "csv"));
    assert!(outcome.output.is_some_and(|o| o.ends_with("out.csv")));
    let out = String::from_utf8(p.read("out.csv")).unwrap();
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("row,prediction,proba_no,proba_yes"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 2000);
    for (i, row) in rows.iter().enumerate() {
        assert!(row.starts_with(&format!("{i},")), "{row}");
    }
    // The server answers the same for the same rows.
    let server = Server::start(&p, &[], &[]);
    let inputs: Vec<&str> = csv.lines().skip(1).take(50).collect();
    let body = format!(
        r#"{{"dataframe_split": {{"columns": ["x1", "x2"], "data": [{}]}}}}"#,
        inputs
            .iter()
            .map(|l| format!("[{l}]"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let answer: PredictBody = server.post(PREDICT, &body).decode();
    for (i, label) in answer.predictions.iter().enumerate() {
        let fields: Vec<&str> = rows[i].split(',').collect();
        assert_eq!(fields[1], label, "row {i}");
        let proba: Vec<f64> = fields[2..].iter().map(|f| f.parse().unwrap()).collect();
        assert_eq!(proba, answer.probabilities[i], "row {i}");
    }
    drop(server);

    // Bad input names the row (counted over the whole file) and the field.
    csv.push_str("0.5,oops\n");
    p.write("bad.csv", &csv);
    p.cairn(&[
        "predict",
        "churn",
        "--input",
        "bad.csv",
        "--batch-rows",
        "300",
    ])
    .code(2)
    .stderr_has("row 2000")
    .stderr_has("x2")
    .stderr_has("hint: ");
    p.write("extra.csv", "x1,x2,x3\n0.1,0.2,0.3\n");
    p.cairn(&["predict", "churn", "--input", "extra.csv"])
        .code(2)
        .stderr_has("x3")
        .stderr_has("--ignore-unknown");
    p.cairn(&[
        "predict",
        "churn",
        "--input",
        "extra.csv",
        "--ignore-unknown",
    ])
    .ok()
    .stdout_has("row,prediction");
    p.cairn(&["--json", "predict", "churn", "--input", "in.csv"])
        .code(2)
        .stderr_has("-o");
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntityBody {
    model: String,
    version: u32,
    digest: String,
    request_id: String,
    predictions: Vec<serde_json::Value>,
    probabilities: Vec<Vec<f64>>,
    classes: Vec<serde_json::Value>,
    imputed: Vec<Vec<String>>,
    online_store_unavailable: Option<String>,
}

/// A project whose `churn_fs` model reads `activity:spend` and `activity:visits` for a
/// customer from the online store (visits imputed by the median), materialized, trained and
/// registered as version 1; `extra` is appended to its cairn.toml first.
fn churn_by_entity(extra: &str) -> Project {
    let p = Project::new();
    let mut events = String::from("customer_id,ts,spend,visits\n");
    let mut labels = String::from("customer_id,event_timestamp,churned\n");
    let mut rng = Rng(5);
    for c in 0..60 {
        for day in 1..=4 {
            let spend = (rng.next() % 1000) as f64 / 10.0;
            events.push_str(&format!(
                "{c},2026-01-0{day}T00:00:00,{spend},{}\n",
                rng.next() % 9
            ));
            labels.push_str(&format!(
                "{c},2026-01-0{day}T12:00:00,{}\n",
                u8::from(spend < 50.0)
            ));
        }
    }
    // Customer 70's visits are unknown: the model imputes them (median).
    events.push_str("70,2026-01-04T00:00:00,12.5,\n");
    labels.push_str("70,2026-01-04T12:00:00,1\n");
    p.write("data/events.csv", events);
    p.write("data/labels.csv", labels);
    let mut config = String::from_utf8(p.read("cairn.toml")).unwrap();
    config.push_str(
        r#"
[entity.customer]
join_keys = { customer_id = "int" }

[feature_view.activity]
source = "data/events.csv"
entities = ["customer"]
timestamp = "ts"
features = { spend = "float", visits = "int" }

[feature_service.churn]
features = ["activity:spend", "activity:visits"]

[model.churn_fs]
entities = "data/labels.csv"
service = "churn"
target = "churned"
algorithm = "decision_tree_classifier"
params = { max_depth = 3 }

[model.churn_fs.columns.visits]
impute = "median"
"#,
    );
    config.push_str(extra);
    p.write("cairn.toml", config);
    p.cairn(&["data", "add", "data/events.csv", "data/labels.csv"])
        .ok();
    p.cairn(&["feature", "materialize"]).ok();
    let run: RunDoc = doc(&p, &["train", "churn_fs"], 0);
    let registered: RegisterDoc = doc(&p, &["register", &run.id], 0);
    assert_eq!(registered.version, 1);
    p
}

#[test]
fn entity_keyed_requests_read_the_online_store_and_say_what_was_imputed() {
    let p = churn_by_entity("");
    let server = Server::start(&p, &["churn_fs@1"], &[]);
    let path = "/v1/models/churn_fs/predict";

    let listed: ModelsBody = server.get("/v1/models").decode();
    assert_eq!(listed.models[0].name, "churn_fs");
    // The same customers by key and by the feature values the store holds for them.
    let by_key: EntityBody = server
        .post(
            path,
            r#"{"entities": [{"customer_id": 3}, {"customer_id": 70}]}"#,
        )
        .decode();
    assert_eq!((by_key.model.as_str(), by_key.version), ("churn_fs", 1));
    assert_eq!(
        by_key.imputed,
        vec![Vec::<String>::new(), vec!["visits".to_owned()]]
    );
    assert_eq!(by_key.predictions.len(), 2);
    // An entity the store does not know has no spend, and spend has no imputation.
    let e = server
        .post(
            path,
            r#"{"entities": [{"customer_id": 3}, {"customer_id": 999}]}"#,
        )
        .error(400);
    assert_eq!(
        (e.code.as_str(), e.field.as_deref(), e.row),
        ("null", Some("spend"), Some(1))
    );
    // Keys that are not the entity's.
    let e = server
        .post(path, r#"{"entities": [{"user": 3}]}"#)
        .error(400);
    assert_eq!((e.code.as_str(), e.row), ("bad_entity", Some(0)));
    drop(server);

    // cairn predict --entities reads the same store through the same path.
    p.write("keys.csv", "customer_id\n3\n70\n");
    let outcome: PredictDoc = doc(
        &p,
        &[
            "predict",
            "churn_fs@1",
            "--input",
            "keys.csv",
            "--entities",
            "-o",
            "scored.csv",
        ],
        0,
    );
    assert_eq!((outcome.rows, outcome.imputed_rows), (2, Some(1)));
    let out = String::from_utf8(p.read("scored.csv")).unwrap();
    let header = out.lines().next().unwrap();
    assert!(header.starts_with("row,customer_id,prediction,"), "{out}");
    assert!(header.ends_with(",imputed"), "{out}");
    let rows: Vec<&str> = out.lines().skip(1).collect();
    assert_eq!(rows.len(), 2);
    for (row, label) in rows.iter().zip(&by_key.predictions) {
        let prediction = row.split(',').nth(2).unwrap();
        let label = match label {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        assert_eq!(prediction, label, "{out}");
    }
}

#[test]
fn on_redis_two_replicas_agree_and_redis_down_is_answered_by_imputation_then_recovered() {
    let mut redis = cairn_test_support::redis::RedisServer::start();
    let p = churn_by_entity(&format!(
        r#"
[model.churn_fs.columns.spend]
impute = "mean"

[online]
store = "{}"
"#,
        redis.url()
    ));
    let path = "/v1/models/churn_fs/predict";
    let keys = r#"{"entities": [{"customer_id": 3}, {"customer_id": 70}]}"#;
    // Two replicas share the one Redis and give the same answers.
    let one = Server::start(&p, &["churn_fs@1"], &[]);
    let two = Server::start(&p, &["churn_fs@1"], &[]);
    let a: EntityBody = one.post(path, keys).decode();
    let b: EntityBody = two.post(path, keys).decode();
    assert_eq!(a.predictions, b.predictions);
    assert_eq!(a.probabilities, b.probabilities);
    assert_eq!(
        a.imputed,
        vec![Vec::<String>::new(), vec!["visits".to_owned()]]
    );
    assert_eq!(a.online_store_unavailable, None);
    drop(two);

    // Redis down: every input is imputed, the answer says why, /metrics counts it.
    redis.kill();
    let raw: serde_json::Value = one.post(path, keys).decode();
    // Every field of the answer is in the OpenAPI document's PredictResponse.
    let openapi: serde_json::Value = one.get("/openapi.json").decode();
    let documented = &openapi["components"]["schemas"]["PredictResponse"]["properties"];
    for field in raw.as_object().expect("an object").keys() {
        assert!(
            documented.get(field).is_some(),
            "`{field}` is not in openapi.json's PredictResponse"
        );
    }
    let down: EntityBody = serde_json::from_value(raw).unwrap();
    let why = down
        .online_store_unavailable
        .expect("the answer says the store is down");
    assert!(why.contains(&redis.port().to_string()), "{why}");
    assert_eq!(
        down.imputed,
        vec![vec!["spend".to_owned(), "visits".to_owned()]; 2]
    );
    let metrics = String::from_utf8(one.get("/metrics").body).unwrap();
    assert!(
        metrics.contains("cairn_online_store_unavailable_total 1"),
        "{metrics}"
    );
    // The CLI reader says so and exits 2.
    p.cairn(&[
        "feature",
        "online",
        "--service",
        "churn",
        "--entity",
        "customer_id=3",
    ])
    .code(2)
    .stderr_has(&redis.port().to_string());
    // Batch scoring refuses rather than write a table of imputed guesses, and writes nothing.
    p.write("keys.csv", "customer_id\n3\n70\n");
    p.cairn(&[
        "predict",
        "churn_fs@1",
        "--input",
        "keys.csv",
        "--entities",
        "-o",
        "scored.csv",
    ])
    .code(2)
    .stderr_has(&redis.port().to_string());
    assert!(!p.exists("scored.csv"));

    // Back (empty: nothing is persisted) and materialized again: the same server reads it
    // by itself and answers as before.
    redis.restart();
    p.cairn(&["feature", "materialize"]).ok();
    let back: EntityBody = one.post(path, keys).decode();
    assert_eq!(back.online_store_unavailable, None);
    assert_eq!((back.predictions, back.imputed), (a.predictions, a.imputed));
    let metrics = String::from_utf8(one.get("/metrics").body).unwrap();
    assert!(
        metrics.contains("cairn_online_store_unavailable_total 1"),
        "{metrics}"
    );
}

#[test]
fn a_boosted_model_takes_a_null_number_as_missing_and_answers_as_the_batch() {
    // Gradient boosting through the server like the other algorithms: its number inputs may
    // be null (missing, sent down each split's learned side) where a tree without `impute`
    // refuses them, and the server answers what `cairn predict` writes for the same rows.
    let p = Project::new();
    let mut csv = String::from("x1,x2,label\n");
    for (i, line) in table(400, 3).lines().skip(1).enumerate() {
        let [x1, x2, label] = line.split(',').collect::<Vec<_>>()[..] else {
            panic!("{line}")
        };
        let x2 = if i % 7 == 3 { "" } else { x2 };
        csv.push_str(&format!("{x1},{x2},{label}\n"));
    }
    p.write("data/train.csv", &csv);
    let mut config = String::from_utf8(p.read("cairn.toml")).unwrap();
    config.push_str(
        r#"
[model.churn]
data = "data/train.csv"
target = "label"
algorithm = "gradient_boosting_classifier"
params = { n_iterations = 30, num_leaves = 7, min_samples_leaf = 5 }
seed = 7
"#,
    );
    p.write("cairn.toml", config);
    p.cairn(&["data", "add", "data/train.csv"]).ok();
    p.commit("data and spec");
    let run: RunDoc = doc(&p, &["train", "churn"], 0);
    assert_eq!(run.status, "finished");
    let registered: RegisterDoc = doc(&p, &["register", &run.id], 0);
    assert_eq!(registered.version, 1);
    promote(&p, "churn@1");

    p.write("in.csv", "x1,x2\n0.9,0.8\n0.1,\n0.95,\n0.2,0.3\n");
    let outcome: PredictDoc = doc(
        &p,
        &["predict", "churn@1", "--input", "in.csv", "-o", "out.csv"],
        0,
    );
    assert_eq!(outcome.rows, 4);
    let out = String::from_utf8(p.read("out.csv")).unwrap();
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("row,prediction,proba_no,proba_yes"));
    let batch: Vec<(String, [f64; 2])> = lines
        .map(|l| {
            let [_, label, no, yes] = l.split(',').collect::<Vec<_>>()[..] else {
                panic!("{l}")
            };
            (
                label.to_owned(),
                [no.parse().unwrap(), yes.parse().unwrap()],
            )
        })
        .collect();
    assert_eq!(batch.len(), 4);

    let server = Server::start(&p, &[], &[]);
    let body = r#"{"instances": [{"x1": 0.9, "x2": 0.8}, {"x1": 0.1, "x2": null},
                                 {"x1": 0.95, "x2": null}, {"x1": 0.2, "x2": 0.3}]}"#;
    let answer: PredictBody = server.post(PREDICT, body).decode();
    assert_eq!(answer.classes, ["no", "yes"]);
    let served: Vec<&str> = answer.predictions.iter().map(String::as_str).collect();
    let written: Vec<&str> = batch.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(served, written);
    assert_eq!((served[0], served[3]), ("yes", "no"));
    for (s, (_, w)) in answer.probabilities.iter().zip(&batch) {
        for (s, w) in s.iter().zip(w) {
            assert!((s - w).abs() < 1e-9, "served {s}, written {w}");
        }
    }
    // Text in a number input is still refused, naming the field.
    let e = server
        .post(PREDICT, r#"{"instances": [{"x1": 0.5, "x2": "oops"}]}"#)
        .error(400);
    assert_eq!(e.field.as_deref(), Some("x2"), "{e:?}");
    let (code, _) = server.stop();
    assert_eq!(code, 0);
}
