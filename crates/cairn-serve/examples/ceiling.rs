//! The ceiling of `cairn serve` on a machine: a bare axum endpoint that parses one JSON row
//! and calls `Artifact::predict_row`, with no schema errors beyond the artifact's own, no
//! metrics, no logging, no request ids. `cargo xtask bench serve` runs it beside the server,
//! against the same model, and reports cairn's throughput as a share of this one.
//!
//! ```text
//! cargo run --release -p cairn-serve --example ceiling -- PROJECT_DIR NAME@REF [PORT] [WORKERS]
//! ```
//!
//! It prints `listening on http://ADDR` on stdout once the model is loaded, then serves
//! `POST /predict` with `{"instances": [{"x1": 1.0, …}]}` (the first row is scored) until it
//! is killed.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::cell::RefCell;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use cairn_model::artifact::Artifact;

thread_local! {
    static SCRATCH: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

async fn predict(State(artifact): State<Arc<Artifact>>, body: Bytes) -> Response {
    let parsed: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let Some(row) = parsed.get("instances").and_then(|i| i.get(0)) else {
        return (StatusCode::BAD_REQUEST, "no row").into_response();
    };
    let prediction =
        SCRATCH.with(|scratch| artifact.predict_row(|k| row.get(k), &mut scratch.borrow_mut()));
    match prediction {
        Ok(p) => (
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::to_vec(&p).unwrap_or_default(),
        )
            .into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    }
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err((code, message)) => {
            eprintln!("ceiling: {message}");
            std::process::ExitCode::from(code)
        }
    }
}

/// Serves until killed; an error is the exit code (2: usage or the model, 3: the runtime) and
/// what to print.
fn run() -> Result<(), (u8, String)> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(dir), Some(reference)) = (args.first(), args.get(1)) else {
        return Err((
            2,
            "usage: ceiling PROJECT_DIR NAME@REF [PORT] [WORKERS]".into(),
        ));
    };
    let port: u16 = args.get(2).and_then(|p| p.parse().ok()).unwrap_or(0);
    let workers: usize = args
        .get(3)
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from));
    let artifact = cairn_core::Project::discover(std::path::Path::new(dir))
        .map_err(|e| e.to_string())
        .and_then(|project| {
            let resolved =
                cairn_registry::resolve_in(&project, reference).map_err(|e| e.to_string())?;
            cairn_registry::load_artifact(&project, &resolved).map_err(|e| e.to_string())
        })
        .map(Arc::new)
        .map_err(|e| (2, e))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .map_err(|e| (3, e.to_string()))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| (2, e.to_string()))?;
        if let Ok(addr) = listener.local_addr() {
            println!("listening on http://{addr}");
        }
        let app = Router::new()
            .route("/predict", post(predict))
            .with_state(artifact);
        use axum::serve::ListenerExt as _;
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, app)
            .await
            .map_err(|e| (3, e.to_string()))
    })
}
