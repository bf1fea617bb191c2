//! `cargo xtask bench serve [--quick]`: `cairn serve` of the release build under load from
//! `wrk` on the same machine (issue 16's figures):
//!
//! - single-row requests at concurrency 16: at least 30,000 requests/s, p99 under 3 ms;
//! - single-row requests at concurrency 64: p99 under 10 ms;
//! - 100-row batches (concurrency 16): at least 100,000 rows/s;
//! - cairn's single-row throughput at concurrency 16 at least 0.6 of the ceiling's, measured
//!   in the same run: `crates/cairn-serve/examples/ceiling.rs`, a bare axum endpoint that
//!   parses the row and calls `predict_row` on the same artifact;
//! - from spawning `cairn serve` to `/ready` answering 200: under 1 s;
//! - memory beyond the model: the server's peak RSS (`VmHWM`) after every load, minus the
//!   artifact's size, under 50 MiB.
//!
//! The project is the registry bench's (`super::registry::project`): the training bench's
//! table (`super::train::generate`, 200,000 rows × 20 features; 20,000 with `--quick`) and its
//! 100-tree forest, trained by `cairn train forest`, registered as `forest` and promoted to
//! production (forced, with a reason: the bench does not run the gates). The bodies are the
//! table's first rows, as `{"instances": [...]}`: one row, and 100 rows.
//!
//! Each load is one `wrk --latency` run (`-t1`: one load thread, so that wrk takes at most
//! one of the 2 cores; `-cN` connections; 10 s, 3 s with `--quick`) after a 1 s warm-up at the
//! same concurrency, with a Lua script that posts the body and prints wrk's own summary as
//! JSON. A load fails the bench if any request failed (a socket error or a non-2xx status).
//! The server keeps its default configuration (2 workers, one per core; access lines to
//! stderr, here a file); the ceiling has 2 workers too. Between loads the server's CPU time is
//! read from `/proc/PID/stat`.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::registry::{child_json, project, quiet, text};
use super::report::print_columns;
use super::{Bench, Check, Setup, finish, print_table, setup, summary};
use crate::util::{Context, Result, fmt_bytes, fmt_count, fmt_duration, on_path};

const RPS_TARGET: f64 = 30_000.0;
const P99_C16_TARGET: Duration = Duration::from_millis(3);
const P99_C64_TARGET: Duration = Duration::from_millis(10);
const ROWS_TARGET: f64 = 100_000.0;
const RATIO_TARGET: f64 = 0.6;
const READY_TARGET: Duration = Duration::from_secs(1);
const MEMORY_TARGET: u64 = 50 << 20;
/// Rows per request of the batch loads.
const BATCH: usize = 100;
const CONCURRENCY: [u32; 3] = [1, 16, 64];
/// The worker threads of the servers: one per core of this project's machines.
pub(super) const WORKERS: u32 = 2;

/// Posts `BODY_PATH` (followed by [`SUMMARY`]).
const POST_FILE: &str = r#"
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local file = assert(io.open("BODY_PATH", "rb"))
wrk.body = file:read("*a")
file:close()
"#;

/// The end of every wrk script of the benches: prints wrk's summary as one JSON line
/// (latencies in microseconds), which [`drive`] reads.
pub(super) const SUMMARY: &str = r#"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK_JSON {\"requests\":%.0f,\"duration_us\":%.0f,\"bytes\":%.0f," ..
    "\"p50_us\":%.0f,\"p90_us\":%.0f,\"p99_us\":%.0f,\"max_us\":%.0f,\"mean_us\":%.1f," ..
    "\"connect\":%.0f,\"read\":%.0f,\"write\":%.0f,\"status\":%.0f,\"timeout\":%.0f}\n",
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean, e.connect, e.read, e.write, e.status, e.timeout))
end
"#;

/// One load's result.
pub(super) struct Load {
    pub(super) server: &'static str,
    pub(super) rows: usize,
    pub(super) connections: u32,
    pub(super) requests: u64,
    pub(super) seconds: f64,
    pub(super) p50: Duration,
    pub(super) p99: Duration,
    /// The server's CPU time (user + system) during the load.
    pub(super) server_cpu: Duration,
    pub(super) wrk: Value,
}

impl Load {
    pub(super) fn rps(&self) -> f64 {
        self.requests as f64 / self.seconds
    }

    pub(super) fn rows_per_s(&self) -> f64 {
        self.rps() * self.rows as f64
    }

    pub(super) fn json(&self) -> Value {
        json!({
            "server": self.server,
            "rows_per_request": self.rows,
            "connections": self.connections,
            "requests": self.requests,
            "seconds": self.seconds,
            "requests_per_s": self.rps(),
            "rows_per_s": self.rows_per_s(),
            "p50_s": self.p50.as_secs_f64(),
            "p99_s": self.p99.as_secs_f64(),
            "server_cpu_s": self.server_cpu.as_secs_f64(),
            "wrk": self.wrk,
        })
    }
}

/// A server process under test, killed when dropped.
pub(super) struct Server {
    pub(super) child: Child,
    pub(super) port: u16,
    /// The path the loads post to.
    pub(super) path: &'static str,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(super) fn run(quick: bool) -> Result<()> {
    let Some(wrk) = on_path("wrk") else {
        return Err(
            "`cargo xtask bench serve` drives the server with wrk, which is not on PATH; \
                    install it (`apt-get install wrk`)"
                .into(),
        );
    };
    let Setup {
        tmp,
        bench,
        machine,
        source,
        results,
        built,
    } = setup("bench-serve.json", quick, true)?;
    let built = built.ok_or("the release binaries were not built")?;
    let rows = if quick { 20_000 } else { 200_000 };
    let duration = if quick { 3 } else { 10 };

    let started = Instant::now();
    super::train::generate(&bench.proj.join("train.csv"), rows)?;
    super::train::generate(&bench.proj.join("small.csv"), 2_000)?;
    println!(
        "generated train.csv ({} rows x 20 features) in {:.1} s",
        fmt_count(rows as u64),
        started.elapsed().as_secs_f64()
    );
    project(&bench)?;
    println!("\ntraining the forest (100 trees, depth 10) with `cairn train forest`...");
    let (took, out) = quiet(&bench, &["--json", "train", "forest"])?;
    let trained: Value = serde_json::from_slice(&out)
        .context(|| "`cairn --json train forest` printed no JSON document".to_owned())?;
    let run = text(&trained, "id")?;
    quiet(&bench, &["register", &run, "--name", "forest"])?;
    quiet(
        &bench,
        &[
            "models",
            "promote",
            "forest@1",
            "--to",
            "production",
            "--force",
            "--reason",
            "bench: serving figures, the gates are the registry bench's",
        ],
    )?;
    bench.cairn(&["--json", "models", "show", "forest@1"])?;
    let shown = child_json(&bench)?;
    let artifact = shown["versions"][0]["size"]
        .as_u64()
        .ok_or_else(|| format!("no artifact size in `cairn --json models show`: {shown}"))?;
    println!(
        "  run {run} trained in {}, registered as forest@1 (production); artifact {}",
        fmt_duration(took),
        fmt_bytes(artifact)
    );

    let single = bodies(&bench.proj.join("train.csv"), &bench.tmp, 1)?;
    let single = post_file_script(&bench.tmp, &single, 1)?;
    let batch = bodies(&bench.proj.join("train.csv"), &bench.tmp, BATCH)?;
    let batch = post_file_script(&bench.tmp, &batch, BATCH)?;

    // cairn serve: the time to ready, the loads, then its memory.
    let (server, ready) = start_cairn(
        &bench,
        "forest@production",
        "/v1/models/forest/predict",
        &bench.tmp.join("serve.stderr"),
    )?;
    println!(
        "\n`cairn serve` answered /ready with 200 {} after it was spawned",
        fmt_duration(ready)
    );

    println!(
        "\nloads: wrk -t1 -cN -d{duration}s --latency, after a 1 s warm-up (server: 2 workers)"
    );
    let mut loads = Vec::new();
    for (script, rows) in [(&single, 1), (&batch, BATCH)] {
        for connections in CONCURRENCY {
            let load = drive(&wrk, script, &server, "cairn", rows, connections, duration)?;
            print_load(&load);
            loads.push(load);
        }
    }
    let (hwm, rss) = memory(server.child.id())?;
    drop(server);

    let port = free_port()?;
    let ceiling_log = bench.tmp.join("ceiling.stderr");
    let child = Command::new(&built.ceiling)
        .arg(&bench.proj)
        .arg("forest@production")
        .arg(port.to_string())
        .arg(WORKERS.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(
            std::fs::File::create(&ceiling_log)
                .context(|| format!("cannot create {}", ceiling_log.display()))?,
        )
        .spawn()
        .context(|| format!("cannot start {}", built.ceiling.display()))?;
    let mut ceiling = Server {
        child,
        port,
        path: "/predict",
    };
    wait_listening(&mut ceiling, &ceiling_log)?;
    println!("\nthe ceiling (bare axum + predict_row, same artifact), same loads:");
    for connections in CONCURRENCY {
        let load = drive(&wrk, &single, &ceiling, "ceiling", 1, connections, duration)?;
        print_load(&load);
        loads.push(load);
    }
    drop(ceiling);

    println!();
    let rows_table: Vec<[String; 8]> = loads
        .iter()
        .map(|l| {
            [
                l.server.to_owned(),
                if l.rows == 1 {
                    "1 row".to_owned()
                } else {
                    format!("{} rows", l.rows)
                },
                l.connections.to_string(),
                fmt_count(l.rps() as u64),
                fmt_count(l.rows_per_s() as u64),
                fmt_micros(l.p50),
                fmt_micros(l.p99),
                format!("{:.2} cores", l.server_cpu.as_secs_f64() / l.seconds),
            ]
        })
        .collect();
    print_columns(
        [
            "server",
            "request",
            "connections",
            "requests/s",
            "rows/s",
            "p50",
            "p99",
            "server CPU",
        ],
        &rows_table,
    );
    println!(
        "cairn serve: peak RSS (VmHWM) {} after the loads (VmRSS {}); artifact {}",
        fmt_bytes(hwm),
        fmt_bytes(rss),
        fmt_bytes(artifact)
    );

    let find = |server: &str, rows: usize, connections: u32| {
        loads
            .iter()
            .find(|l| l.server == server && l.rows == rows && l.connections == connections)
            .ok_or_else(|| format!("no {server} load of {rows} rows at -c{connections}"))
    };
    let c16 = find("cairn", 1, 16)?;
    let c64 = find("cairn", 1, 64)?;
    let b16 = find("cairn", BATCH, 16)?;
    let top16 = find("ceiling", 1, 16)?;
    let ratio = c16.rps() / top16.rps();
    let beyond = hwm.saturating_sub(artifact);
    let checks = vec![
        Check {
            id: "single_c16_rps",
            value: c16.rps(),
            name: "single-row requests/s, 16 connections".to_owned(),
            measured: fmt_count(c16.rps() as u64),
            reference: format!("ceiling {}", fmt_count(top16.rps() as u64)),
            ratio: Some(ratio),
            target: ">= 30,000/s",
            pass: Some(c16.rps() >= RPS_TARGET),
        },
        Check {
            id: "single_c16_p99",
            value: c16.p99.as_secs_f64(),
            name: "single-row p99, 16 connections".to_owned(),
            measured: fmt_micros(c16.p99),
            reference: format!("ceiling {}", fmt_micros(top16.p99)),
            ratio: None,
            target: "< 3 ms",
            pass: Some(c16.p99 < P99_C16_TARGET),
        },
        Check {
            id: "single_c64_p99",
            value: c64.p99.as_secs_f64(),
            name: "single-row p99, 64 connections".to_owned(),
            measured: fmt_micros(c64.p99),
            reference: format!("ceiling {}", fmt_micros(find("ceiling", 1, 64)?.p99)),
            ratio: None,
            target: "< 10 ms",
            pass: Some(c64.p99 < P99_C64_TARGET),
        },
        Check {
            id: "batch_c16_rows",
            value: b16.rows_per_s(),
            name: format!("rows/s in {BATCH}-row requests, 16 connections"),
            measured: fmt_count(b16.rows_per_s() as u64),
            reference: "-".to_owned(),
            ratio: None,
            target: ">= 100,000/s",
            pass: Some(b16.rows_per_s() >= ROWS_TARGET),
        },
        Check {
            id: "ceiling_ratio",
            value: ratio,
            name: "single-row requests/s as a share of the ceiling's, 16 connections".to_owned(),
            measured: format!("{ratio:.2}"),
            reference: format!("ceiling {}", fmt_count(top16.rps() as u64)),
            ratio: Some(ratio),
            target: ">= 0.6 x ceiling",
            pass: Some(ratio >= RATIO_TARGET),
        },
        Check {
            id: "ready",
            value: ready.as_secs_f64(),
            name: "spawn to /ready answering 200".to_owned(),
            measured: fmt_duration(ready),
            reference: "-".to_owned(),
            ratio: None,
            target: "< 1 s",
            pass: Some(ready < READY_TARGET),
        },
        Check {
            id: "memory_beyond_model",
            value: beyond as f64,
            name: "peak RSS after the loads minus the artifact".to_owned(),
            measured: fmt_bytes(beyond),
            reference: format!("VmHWM {}, artifact {}", fmt_bytes(hwm), fmt_bytes(artifact)),
            ratio: None,
            target: "< 50 MiB",
            pass: Some(beyond < MEMORY_TARGET),
        },
    ];
    println!();
    print_table(&checks);
    println!("\n{}", summary(&checks));
    if quick {
        println!(
            "(quick run: shorter loads and a smaller table; the targets are for the full run)"
        );
    }

    let document = json!({
        "kind": "bench-serve",
        "schema_version": 1,
        "quick": quick,
        "machine": machine,
        "source": source,
        "data": { "rows": rows },
        "forest": { "run": run, "artifact_bytes": artifact, "metrics": trained["metrics"] },
        "load": { "tool": "wrk", "threads": 1, "duration_s": duration, "warmup_s": 1, "server_workers": WORKERS },
        "ready_s": ready.as_secs_f64(),
        "memory": { "vm_hwm_bytes": hwm, "vm_rss_bytes": rss, "artifact_bytes": artifact },
        "loads": loads.iter().map(Load::json).collect::<Vec<_>>(),
        "checks": checks.iter().map(Check::json).collect::<Vec<_>>(),
    });
    finish(tmp, document, &results)
}

/// Starts `cairn serve MODEL` in the bench's project on a free port with [`WORKERS`] workers,
/// its stderr (the access lines) to `log`, and waits until `/ready` answers 200: the server,
/// whose loads post to `path`, and the time from the spawn to ready.
pub(super) fn start_cairn(
    bench: &Bench,
    model: &str,
    path: &'static str,
    log: &Path,
) -> Result<(Server, Duration)> {
    let port = free_port()?;
    let mut cmd = Command::new(&bench.cairn);
    cmd.args(["serve", model, "--no-watch", "--port"])
        .arg(port.to_string())
        .args(["--workers", &WORKERS.to_string()])
        .current_dir(&bench.proj)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).context(|| format!("cannot create {}", log.display()))?);
    let spawned = Instant::now();
    let child = cmd
        .spawn()
        .context(|| "cannot start `cairn serve`".to_owned())?;
    let mut server = Server { child, port, path };
    let ready = wait_ready(&mut server, "/ready", spawned, log)?;
    Ok((server, ready))
}

/// "850 µs" below a millisecond, "2.31 ms" above.
pub(super) fn fmt_micros(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.0} µs")
    } else {
        format!("{:.2} ms", us / 1000.0)
    }
}

pub(super) fn print_load(load: &Load) {
    println!(
        "  {:<7} {:>3} row(s) -c{:<2}  {:>8} req/s  {:>9} rows/s  p50 {:>9}  p99 {:>9}  server \
         CPU {:.2} cores",
        load.server,
        load.rows,
        load.connections,
        fmt_count(load.rps() as u64),
        fmt_count(load.rows_per_s() as u64),
        fmt_micros(load.p50),
        fmt_micros(load.p99),
        load.server_cpu.as_secs_f64() / load.seconds
    );
}

/// The first `rows` rows of the table as a request body `{"instances": [...]}`, written to
/// `dir/body-ROWS.json`.
fn bodies(csv: &Path, dir: &Path, rows: usize) -> Result<PathBuf> {
    let content =
        std::fs::read_to_string(csv).context(|| format!("cannot read {}", csv.display()))?;
    let mut lines = content.lines();
    let header: Vec<&str> = lines
        .next()
        .ok_or_else(|| format!("{} is empty", csv.display()))?
        .split(',')
        .collect();
    let instances = lines
        .take(rows)
        .map(|line| {
            let mut row = serde_json::Map::new();
            for (name, cell) in header.iter().zip(line.split(',')) {
                if *name == "label" {
                    continue;
                }
                let value: f64 = cell.parse().map_err(|_| {
                    format!(
                        "{}: `{cell}` in column {name} is not a number",
                        csv.display()
                    )
                })?;
                row.insert((*name).to_owned(), json!(value));
            }
            Ok(Value::Object(row))
        })
        .collect::<Result<Vec<_>>>()?;
    if instances.len() != rows {
        return Err(format!("{} has fewer than {rows} rows", csv.display()).into());
    }
    let path = dir.join(format!("body-{rows}.json"));
    let text = serde_json::to_string(&json!({ "instances": instances }))
        .context(|| "cannot serialise a body".to_owned())?;
    std::fs::write(&path, text).context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// A port free on loopback now (the OS picks it; the server binds it right after).
pub(super) fn free_port() -> Result<u16> {
    let listener =
        TcpListener::bind("127.0.0.1:0").context(|| "cannot bind 127.0.0.1:0".to_owned())?;
    Ok(listener
        .local_addr()
        .context(|| "cannot read the bound address".to_owned())?
        .port())
}

/// The status of `GET path` on the server, or `None` when nothing answers yet.
fn get_status(port: u16, path: &str) -> Option<u16> {
    request(port, "GET", path, None)
        .ok()
        .map(|(status, _)| status)
}

/// One HTTP/1.1 request to the server on loopback (`body`, when given, as JSON), read to the
/// end: the status and the body. The servers answer with a `Content-Length`, never chunked.
pub(super) fn request(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .context(|| format!("cannot connect to 127.0.0.1:{port}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .context(|| "cannot set a read timeout".to_owned())?;
    let body = body.unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .context(|| format!("cannot send {method} {path}"))?;
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .context(|| format!("cannot read the answer to {method} {path}"))?;
    split_response(&answer)
        .ok_or_else(|| format!("{method} {path}: not an HTTP answer: {answer}").into())
}

/// An HTTP/1.1 response's status and body.
fn split_response(answer: &str) -> Option<(u16, String)> {
    let (head, body) = answer.split_once("\r\n\r\n")?;
    let status = head.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()?;
    Some((status, body.to_owned()))
}

/// Polls `path` every millisecond until it answers 200; the time since `spawned`. Fails if
/// the server exits or takes over 60 s.
fn wait_ready(server: &mut Server, path: &str, spawned: Instant, log: &Path) -> Result<Duration> {
    loop {
        if get_status(server.port, path) == Some(200) {
            return Ok(spawned.elapsed());
        }
        check_alive(server, log)?;
        if spawned.elapsed() > Duration::from_secs(60) {
            return Err(format!("the server did not answer {path} with 200 within 60 s").into());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Waits until the ceiling accepts connections (it binds once the model is loaded).
fn wait_listening(server: &mut Server, log: &Path) -> Result<()> {
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", server.port)).is_err() {
        check_alive(server, log)?;
        if started.elapsed() > Duration::from_secs(60) {
            return Err("the ceiling did not listen within 60 s".into());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

fn check_alive(server: &mut Server, log: &Path) -> Result<()> {
    if let Ok(Some(status)) = server.child.try_wait() {
        let said = std::fs::read_to_string(log).unwrap_or_default();
        return Err(format!(
            "the server exited ({}) before it was ready: {}",
            crate::util::describe(status),
            said.trim()
        )
        .into());
    }
    Ok(())
}

/// The wrk script that posts the body in `body`, written to `dir/post-ROWS.lua`.
fn post_file_script(dir: &Path, body: &Path, rows: usize) -> Result<PathBuf> {
    let script = dir.join(format!("post-{rows}.lua"));
    let body = body
        .to_str()
        .ok_or_else(|| format!("{} is not UTF-8", body.display()))?;
    std::fs::write(&script, POST_FILE.replace("BODY_PATH", body) + SUMMARY)
        .context(|| format!("cannot write {}", script.display()))?;
    Ok(script)
}

/// One `wrk --latency` run of `script` (which ends with [`SUMMARY`]) against the server,
/// after a 1 s warm-up; `rows` is the rows per request.
pub(super) fn drive(
    wrk: &Path,
    script: &Path,
    server: &Server,
    name: &'static str,
    rows: usize,
    connections: u32,
    seconds: u32,
) -> Result<Load> {
    let url = format!("http://127.0.0.1:{}{}", server.port, server.path);
    let run = |secs: u32| -> Result<Value> {
        let out = Command::new(wrk)
            .args(["-t1", &format!("-c{connections}"), &format!("-d{secs}s")])
            .args(["--latency", "-s"])
            .arg(script)
            .arg(&url)
            .stdin(Stdio::null())
            .output()
            .context(|| format!("cannot run {}", wrk.display()))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(format!(
                "wrk failed ({}): {}{}",
                crate::util::describe(out.status),
                stdout.trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            )
            .into());
        }
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix("WRK_JSON "))
            .ok_or_else(|| format!("wrk printed no summary: {stdout}"))?;
        serde_json::from_str(line).context(|| format!("wrk's summary is not JSON: {line}"))
    };
    run(1)?;
    let cpu_before = cpu_time(server.child.id())?;
    let summary = run(seconds)?;
    let server_cpu = cpu_time(server.child.id())?.saturating_sub(cpu_before);
    let number = |key: &str| summary[key].as_f64().unwrap_or(f64::NAN);
    let failed: f64 = ["connect", "read", "write", "status", "timeout"]
        .iter()
        .map(|k| number(k))
        .sum();
    if failed != 0.0 || !number("requests").is_finite() {
        return Err(format!(
            "{name}: requests failed under {connections} connections of {rows} row(s): {summary}"
        )
        .into());
    }
    let micros = |key: &str| Duration::from_secs_f64(number(key).max(0.0) / 1e6);
    Ok(Load {
        server: name,
        rows,
        connections,
        requests: number("requests") as u64,
        seconds: number("duration_us") / 1e6,
        p50: micros("p50_us"),
        p99: micros("p99_us"),
        server_cpu,
        wrk: summary,
    })
}

/// A process's CPU time so far (user + system), from `/proc/PID/stat`.
#[allow(unsafe_code)]
pub(super) fn cpu_time(pid: u32) -> Result<Duration> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).context(|| format!("cannot read {path}"))?;
    // The fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| format!("{path}: unexpected format"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat(5), 12 and 13 after the name.
    let ticks = |i: usize| -> Result<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| format!("{path}: no field {}", i + 3).into())
    };
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Ok(Duration::from_secs_f64(
        (ticks(11)? + ticks(12)?) as f64 / hz,
    ))
}

/// `VmHWM` and `VmRSS` of a process, in bytes.
pub(super) fn memory(pid: u32) -> Result<(u64, u64)> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).context(|| format!("cannot read {path}"))?;
    let field = |name: &str| -> Result<u64> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map(|kib| kib * 1024)
            .ok_or_else(|| format!("{path}: no {name}").into())
    };
    Ok((field("VmHWM:")?, field("VmRSS:")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_hold_the_features_of_the_first_rows_and_not_the_label() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("t.csv");
        std::fs::write(&csv, "f0,f1,label\n1.5,-2,1\n3,4,0\n5,6,1\n").unwrap();
        let path = bodies(&csv, dir.path(), 2).unwrap();
        let doc: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        assert_eq!(
            doc,
            json!({ "instances": [{ "f0": 1.5, "f1": -2.0 }, { "f0": 3.0, "f1": 4.0 }] })
        );
        assert!(bodies(&csv, dir.path(), 4).is_err());
        std::fs::write(&csv, "f0,label\nx,1\n").unwrap();
        assert!(bodies(&csv, dir.path(), 1).is_err());
    }

    #[test]
    fn this_process_has_cpu_time_and_memory() {
        let pid = std::process::id();
        let (hwm, rss) = memory(pid).unwrap();
        assert!(hwm >= rss && rss > 0);
        let spin = Instant::now();
        while spin.elapsed() < Duration::from_millis(50) {
            std::hint::black_box(0u64);
        }
        assert!(cpu_time(pid).unwrap() > Duration::ZERO);
    }

    #[test]
    fn a_response_splits_into_its_status_and_body() {
        let answer = "HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(split_response(answer), Some((400, "{}".to_owned())));
        assert_eq!(split_response("HTTP/1.1 200 OK\r\n"), None);
        assert_eq!(split_response("SSH-2.0\r\n\r\n"), None);
    }

    #[test]
    fn latencies_print_in_microseconds_below_a_millisecond() {
        assert_eq!(fmt_micros(Duration::from_micros(850)), "850 µs");
        assert_eq!(fmt_micros(Duration::from_micros(2_310)), "2.31 ms");
    }
}
