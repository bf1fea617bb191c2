//! `cairn serve`: registered model versions behind an HTTP API (axum on tokio).
//!
//! [`serve`] binds, reports the address, loads the models in the background (`/health`
//! answers at once, `/ready` once they are loaded), and serves until SIGTERM or SIGINT: then
//! it stops accepting connections, answers the requests in flight, closes the prediction logs
//! (flushing them) and returns. SIGHUP, or a change of `cairn.lock` (a promotion), reloads:
//! the references are resolved again and the versions that changed are loaded beside the old
//! ones and swapped in atomically.
//!
//! The endpoints and their bodies are described in `docs/http-api.md` and served as an
//! OpenAPI document at `/openapi.json`.

mod http;
pub(crate) mod log;
pub(crate) mod metrics;
pub(crate) mod models;
mod openapi;
mod process;
mod reload;
mod respond;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use cairn_core::Project;
use serde::Serialize;

use crate::error::LoadError;
use crate::schema::UnknownFields;

pub use http::ROUTES;
pub use log::LogSettings;
pub use models::{ServedCanary, ServedModel, Swap};
pub use openapi::OPENAPI;

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// `NAME@REF` of each model to serve; empty: every registered model's production version.
    pub models: Vec<String>,
    /// Canary versions, each taking a share of its model's requests.
    pub canaries: Vec<Canary>,
    /// The address to bind (loopback unless told otherwise).
    pub host: String,
    /// 0: any free port (the address is reported).
    pub port: u16,
    /// Worker threads (0: one per core).
    pub workers: usize,
    /// The largest request body accepted (a larger one gets 413).
    pub max_body_bytes: usize,
    /// How long a client may take to send a request's body (then 408).
    pub body_timeout: Duration,
    pub unknown: UnknownFields,
    /// When set, the prediction endpoints require `Authorization: Bearer <token>`.
    pub token: Option<String>,
    /// Log every prediction under `.cairn/predictions/NAME/` (`None`: off).
    pub log: Option<LogSettings>,
    /// Reload when `cairn.lock` changes (checked every `poll`).
    pub watch_lock: bool,
    pub poll: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            models: Vec::new(),
            canaries: Vec::new(),
            host: "127.0.0.1".to_owned(),
            port: 8080,
            workers: 0,
            max_body_bytes: DEFAULT_MAX_BODY,
            body_timeout: Duration::from_secs(30),
            unknown: UnknownFields::Reject,
            token: None,
            log: None,
            watch_lock: true,
            poll: Duration::from_secs(1),
        }
    }
}

/// The default request body limit: 4 MiB.
pub const DEFAULT_MAX_BODY: usize = 4 * 1024 * 1024;

/// `--canary NAME@REF=PERCENT`: a version that answers a share of its model's requests.
#[derive(Debug, Clone, PartialEq)]
pub struct Canary {
    pub reference: String,
    /// From 0 to 100.
    pub percent: f64,
}

impl Canary {
    /// Parses `NAME@REF=PERCENT` (`PERCENT` may end with `%`).
    pub fn parse(text: &str) -> Result<Canary, LoadError> {
        let (reference, percent) = text
            .rsplit_once('=')
            .ok_or_else(|| LoadError::CanaryShare {
                percent: format!("missing in `{text}` (expected NAME@REF=PERCENT)"),
            })?;
        let share = percent.trim().trim_end_matches('%');
        let value: f64 = share.parse().map_err(|_| LoadError::CanaryShare {
            percent: percent.to_owned(),
        })?;
        if !(0.0..=100.0).contains(&value) {
            return Err(LoadError::CanaryShare {
                percent: percent.to_owned(),
            });
        }
        cairn_registry::ModelRef::parse(reference)?;
        Ok(Canary {
            reference: reference.to_owned(),
            percent: value,
        })
    }
}

/// What the server tells its caller as it runs. Called from the server's threads; an
/// implementation must not block for long (access records come once per request).
pub trait Reporter: Send + Sync {
    fn event(&self, event: &Event);
    fn access(&self, access: &Access<'_>);
}

/// Something that happened to the server.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// Bound: the address to send requests to.
    Listening { address: String },
    /// The models are loaded: `/ready` says so and predictions are answered.
    Ready {
        models: Vec<ServedModel>,
        seconds: f64,
    },
    /// A reload swapped in another version.
    Swapped(Swap),
    /// A reload could not load something; what was served before is still served.
    ReloadFailed { reason: String },
    /// The prediction log of a model dropped rows or failed to write (counted in `/metrics`).
    LogTrouble {
        model: String,
        dropped_rows: u64,
        write_errors: u64,
        last_error: Option<String>,
    },
    /// A request made the server fail (a bug); it was answered with 500 and the server goes on.
    Panicked { request_id: String, message: String },
    /// A signal asked the server to stop: it stops accepting and finishes what is in flight.
    Stopping { signal: &'static str },
}

/// One answered request.
#[derive(Debug, Clone, Serialize)]
pub struct Access<'a> {
    pub request_id: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub status: u16,
    /// From the request's arrival to its response, in microseconds.
    pub micros: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// Rows scored.
    pub rows: usize,
    /// The error code of an error response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a str>,
}

/// What a server did, when it has stopped.
#[derive(Debug, Clone, Serialize)]
pub struct ServeOutcome {
    pub address: String,
    /// Responses sent.
    pub requests: u64,
    pub uptime_seconds: f64,
    /// What was served at the end.
    pub models: Vec<ServedModel>,
    /// The prediction logs, as closed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub logs: Vec<log::LogSummary>,
}

/// Why the server could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
    #[error("cannot start the server: {0}")]
    Runtime(std::io::Error),
    #[error(transparent)]
    Log(#[from] log::LogOpenError),
}

/// State shared by every request.
pub(crate) struct App {
    pub(crate) models: ArcSwapOption<models::ModelSet>,
    pub(crate) metrics: metrics::Metrics,
    pub(crate) reporter: Arc<dyn Reporter>,
    pub(crate) unknown: UnknownFields,
    pub(crate) token: Option<Vec<u8>>,
    pub(crate) max_body_bytes: usize,
    pub(crate) body_timeout: Duration,
    pub(crate) ids: http::RequestIds,
    pub(crate) logs: Option<log::Logs>,
}

impl App {
    /// A loaded model, wrapped for serving (its metrics, its prediction log).
    pub(crate) fn wrap(&self, model: crate::model::Model) -> models::Loaded {
        let log = self.logs.as_ref().and_then(|logs| logs.for_model(&model));
        models::Loaded::new(model, &self.metrics, log)
    }
}

/// Serves until a signal stops the server (see the module's documentation).
pub fn serve(
    project: Project,
    options: &ServeOptions,
    reporter: Arc<dyn Reporter>,
) -> Result<ServeOutcome, ServeError> {
    let workers = if options.workers == 0 {
        std::thread::available_parallelism().map_or(2, usize::from)
    } else {
        options.workers
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("cairn-serve")
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    let project = Arc::new(project);
    let logs = options
        .log
        .as_ref()
        .map(|settings| log::Logs::new(predictions_dir(&project), settings.clone()));
    let app = Arc::new(App {
        models: ArcSwapOption::empty(),
        metrics: metrics::Metrics::new(),
        reporter: Arc::clone(&reporter),
        unknown: options.unknown,
        token: options.token.as_ref().map(|t| t.as_bytes().to_vec()),
        max_body_bytes: options.max_body_bytes,
        body_timeout: options.body_timeout,
        ids: http::RequestIds::new(),
        logs,
    });
    let wanted = models::Wanted {
        models: (!options.models.is_empty()).then(|| options.models.clone()),
        canaries: options.canaries.clone(),
    };
    let result = runtime.block_on(run(Arc::clone(&app), Arc::clone(&project), options, wanted));
    // Requests are answered; nothing is in flight. The logs are closed last.
    runtime.shutdown_timeout(Duration::from_secs(5));
    let address = result?;
    let logs = app.logs.as_ref().map(log::Logs::close).unwrap_or_default();
    Ok(ServeOutcome {
        address,
        requests: app.metrics.total_responses(),
        uptime_seconds: app.metrics.uptime().as_secs_f64(),
        models: app
            .models
            .load_full()
            .map(|set| set.served())
            .unwrap_or_default(),
        logs,
    })
}

async fn run(
    app: Arc<App>,
    project: Arc<Project>,
    options: &ServeOptions,
    wanted: models::Wanted,
) -> Result<String, ServeError> {
    let address = format!("{}:{}", options.host, options.port);
    let bind_error = |source| ServeError::Bind {
        address: address.clone(),
        source,
    };
    let addr: SocketAddr = tokio::net::lookup_host(&address)
        .await
        .map_err(bind_error)?
        .next()
        .ok_or_else(|| {
            bind_error(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "the host has no address",
            ))
        })?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(bind_error)?;
    let bound = listener.local_addr().map_err(bind_error)?.to_string();
    app.reporter.event(&Event::Listening {
        address: bound.clone(),
    });

    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let stop_tx = Arc::new(stop_tx);
    let failure: Arc<Mutex<Option<ServeError>>> = Arc::new(Mutex::new(None));
    let (reload_tx, reload_rx) = std::sync::mpsc::channel::<reload::Signal>();

    // The first load, in the background: /health answers meanwhile.
    {
        let app = Arc::clone(&app);
        let project = Arc::clone(&project);
        let wanted = wanted.clone();
        let stop = Arc::clone(&stop_tx);
        let failure = Arc::clone(&failure);
        let watch = options.watch_lock;
        let poll = options.poll;
        let started = Instant::now();
        tokio::task::spawn_blocking(move || {
            let loaded = project
                .read_lock()
                .map_err(|e| LoadError::from(cairn_registry::RegistryError::from(e)))
                .and_then(|lock| {
                    models::load_set(&project, &lock, &wanted, None, true, &|m| app.wrap(m))
                });
            match loaded {
                Ok(loaded) => {
                    let served = loaded.set.served();
                    app.models.store(Some(Arc::new(loaded.set)));
                    app.reporter.event(&Event::Ready {
                        models: served,
                        seconds: started.elapsed().as_secs_f64(),
                    });
                    // A log that cannot be written is reported now, not at the next check.
                    if let Some(logs) = &app.logs {
                        for event in logs.troubles() {
                            app.reporter.event(&event);
                        }
                    }
                    reload::spawn(app, project, wanted, watch, poll, reload_rx);
                }
                Err(e) => {
                    *failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.into());
                    let _ = stop.send(true);
                }
            }
        });
    }

    // Signals: SIGHUP reloads, SIGTERM and SIGINT stop.
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hup = signal(SignalKind::hangup()).map_err(ServeError::Runtime)?;
        let mut term = signal(SignalKind::terminate()).map_err(ServeError::Runtime)?;
        let mut int = signal(SignalKind::interrupt()).map_err(ServeError::Runtime)?;
        let app = Arc::clone(&app);
        let stop = Arc::clone(&stop_tx);
        tokio::spawn(async move {
            loop {
                let name = tokio::select! {
                    _ = hup.recv() => {
                        let _ = reload_tx.send(reload::Signal::Reload);
                        continue;
                    }
                    _ = term.recv() => "SIGTERM",
                    _ = int.recv() => "SIGINT",
                };
                app.reporter.event(&Event::Stopping { signal: name });
                let _ = stop.send(true);
                // The reload thread ends when its channel closes.
                drop(reload_tx);
                return;
            }
        });
    }

    // Log troubles are reported as they grow, at most every few seconds.
    if app.logs.is_some() {
        let app = Arc::clone(&app);
        let mut stopped = stop_tx.subscribe();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        if let Some(logs) = &app.logs {
                            for event in logs.troubles() {
                                app.reporter.event(&event);
                            }
                        }
                    }
                    _ = stopped.changed() => return,
                }
            }
        });
    }

    let router = http::router(Arc::clone(&app));
    use axum::serve::ListenerExt as _;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            let _ = stop_rx.wait_for(|stop| *stop).await;
        })
        .await
        .map_err(ServeError::Runtime)?;
    if let Some(e) = failure.lock().unwrap_or_else(|p| p.into_inner()).take() {
        return Err(e);
    }
    Ok(bound)
}

/// Where the prediction logs go: `.cairn/predictions/` of the project.
pub fn predictions_dir(project: &Project) -> PathBuf {
    project.state_dir().join("predictions")
}
