//! The routes, their handlers, and the layer around them all: request ids, panics caught and
//! answered with 500, metrics and access records.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use futures::FutureExt as _;

use crate::entities::{EntityError, WhenUnavailable, entity_rows, shared_entity_rows};
use crate::error::ScoreError;
use crate::parse::{Dialect, ParseOptions, Parsed, parse_json};
use crate::rows::Rows;
use crate::score::{Scored, score};

use super::metrics::Endpoint;
use super::models::{Loaded, ModelSet};
use super::respond::{self, code};
use super::{Access, App, Event};

/// A route of the server.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    /// Whether the route requires the bearer token (when one is configured).
    pub auth: bool,
    pub(crate) endpoint: Endpoint,
}

/// Every route: the router is built from this list, and the OpenAPI document is checked
/// against it.
pub const ROUTES: &[Route] = &[
    Route {
        method: "GET",
        path: "/health",
        auth: false,
        endpoint: Endpoint::Health,
    },
    Route {
        method: "GET",
        path: "/ready",
        auth: false,
        endpoint: Endpoint::Ready,
    },
    Route {
        method: "GET",
        path: "/v1/models",
        auth: false,
        endpoint: Endpoint::Models,
    },
    Route {
        method: "POST",
        path: "/v1/models/{name}/predict",
        auth: true,
        endpoint: Endpoint::Predict,
    },
    Route {
        method: "POST",
        path: "/v1/models/{name}/versions/{version}/predict",
        auth: true,
        endpoint: Endpoint::PredictVersion,
    },
    Route {
        method: "POST",
        path: "/v1/models/{name}/invocations",
        auth: true,
        endpoint: Endpoint::Invocations,
    },
    Route {
        method: "POST",
        path: "/v1/models/{name}/feedback",
        auth: true,
        endpoint: Endpoint::Feedback,
    },
    Route {
        method: "POST",
        path: "/invocations",
        auth: true,
        endpoint: Endpoint::Invocations,
    },
    Route {
        method: "GET",
        path: "/metrics",
        auth: false,
        endpoint: Endpoint::Metrics,
    },
    Route {
        method: "GET",
        path: "/openapi.json",
        auth: false,
        endpoint: Endpoint::OpenApi,
    },
];

/// Rows from which a batch is scored with `block_in_place` (the worker's other connections
/// move to another thread meanwhile).
const BLOCKING_ROWS: usize = 512;

pub(crate) fn router(app: Arc<App>) -> Router {
    let mut router: Router<Arc<App>> = Router::new();
    for route in ROUTES {
        router = router.route(route.path, handler(route));
    }
    router
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(app.max_body_bytes))
        .layer(middleware::from_fn_with_state(Arc::clone(&app), observe))
        .with_state(app)
}

fn handler(route: &Route) -> MethodRouter<Arc<App>> {
    match (route.endpoint, route.path) {
        (Endpoint::Health, _) => get(health),
        (Endpoint::Ready, _) => get(ready),
        (Endpoint::Models, _) => get(list_models),
        (Endpoint::Predict, _) => post(predict),
        (Endpoint::PredictVersion, _) => post(predict_version),
        (Endpoint::Invocations, "/invocations") => post(invocations),
        (Endpoint::Invocations, _) => post(named_invocations),
        (Endpoint::Feedback, _) => post(feedback),
        (Endpoint::Metrics, _) => get(metrics),
        (Endpoint::OpenApi, _) => get(openapi),
        (Endpoint::Other, _) => axum::routing::any(not_found),
    }
}

/// Request ids: the client's `X-Request-Id` when it is sensible, otherwise a process prefix
/// and a counter (unique per server, cheap).
pub(crate) struct RequestIds {
    prefix: String,
    next: AtomicU64,
}

impl RequestIds {
    pub(crate) fn new() -> RequestIds {
        let seed = format!(
            "{:?}{}",
            SystemTime::now().duration_since(SystemTime::UNIX_EPOCH),
            std::process::id()
        );
        let hash = blake3::hash(seed.as_bytes()).to_hex();
        RequestIds {
            prefix: hash[..10].to_owned(),
            next: AtomicU64::new(1),
        }
    }

    fn next(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let mut id = String::with_capacity(self.prefix.len() + 12);
        id.push_str(&self.prefix);
        id.push('-');
        use std::fmt::Write as _;
        let _ = write!(id, "{n:x}");
        id
    }

    fn for_request(&self, headers: &HeaderMap) -> String {
        match headers.get("x-request-id").and_then(|v| v.to_str().ok()) {
            Some(id)
                if !id.is_empty()
                    && id.len() <= 128
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b".-_:".contains(&b)) =>
            {
                id.to_owned()
            }
            _ => self.next(),
        }
    }
}

/// The request's id, for the handlers.
#[derive(Clone)]
struct RequestId(Arc<str>);

/// What a handler did, for the layer that records it.
#[derive(Clone)]
struct Handled {
    endpoint: Endpoint,
    loaded: Option<Arc<Loaded>>,
    rows: usize,
    error: Option<&'static str>,
}

fn finish(mut response: Response, handled: Handled) -> Response {
    response.extensions_mut().insert(handled);
    response
}

/// Around every request: its id, a panic turned into a 500, metrics, the access record.
async fn observe(State(app): State<Arc<App>>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id: Arc<str> = app.ids.for_request(request.headers()).into();
    request.extensions_mut().insert(RequestId(Arc::clone(&id)));
    let method = request.method().clone();
    let uri = request.uri().clone();
    let mut response = match AssertUnwindSafe(next.run(request)).catch_unwind().await {
        Ok(response) => response,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_owned());
            app.reporter.event(&Event::Panicked {
                request_id: id.to_string(),
                message,
            });
            let response = respond::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the server failed on this request (a bug in cairn); it goes on serving others",
                code("internal"),
                Some(&id),
                None,
            );
            finish(
                response,
                Handled {
                    endpoint: Endpoint::Other,
                    loaded: None,
                    rows: 0,
                    error: Some("internal"),
                },
            )
        }
    };
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    let handled = response.extensions_mut().remove::<Handled>();
    let (endpoint, loaded, rows, error) = match &handled {
        Some(h) => (h.endpoint, h.loaded.as_deref(), h.rows, h.error),
        None => (Endpoint::Other, None, 0, None),
    };
    app.metrics.response(endpoint, status);
    if let Some(loaded) = loaded {
        loaded.metrics.observe(status, elapsed);
    }
    app.reporter.access(&Access {
        request_id: &id,
        method: method.as_str(),
        path: uri.path(),
        status,
        micros: u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
        model: loaded.map(|l| l.model.name.as_str()),
        version: loaded.map(|l| l.model.version),
        rows,
        error,
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

fn request_id(request: &Request) -> Arc<str> {
    request
        .extensions()
        .get::<RequestId>()
        .map_or_else(|| Arc::from(""), |r| Arc::clone(&r.0))
}

/// An error response recorded as such.
fn failed(
    endpoint: Endpoint,
    status: StatusCode,
    message: &str,
    detail: crate::ErrorDetail<'_>,
    id: &str,
    loaded: Option<&Arc<Loaded>>,
) -> Response {
    let error = detail.code;
    let response = respond::error(status, message, detail, Some(id), loaded.map(|l| &**l));
    finish(
        response,
        Handled {
            endpoint,
            loaded: loaded.cloned(),
            rows: 0,
            error: Some(error),
        },
    )
}

async fn not_found(request: Request) -> Response {
    let id = request_id(&request);
    failed(
        Endpoint::Other,
        StatusCode::NOT_FOUND,
        &format!(
            "no such endpoint: {} {} (GET /openapi.json lists them)",
            request.method(),
            request.uri().path()
        ),
        code("no_endpoint"),
        &id,
        None,
    )
}

async fn health() -> Response {
    finish(
        respond::document(StatusCode::OK, &serde_json::json!({"status": "ok"})),
        Handled {
            endpoint: Endpoint::Health,
            loaded: None,
            rows: 0,
            error: None,
        },
    )
}

async fn ready(State(app): State<Arc<App>>) -> Response {
    let (status, body) = match app.models.load_full() {
        Some(set) => (
            StatusCode::OK,
            serde_json::json!({"status": "ready", "models": set.served()}),
        ),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({"status": "loading"}),
        ),
    };
    finish(
        respond::document(status, &body),
        Handled {
            endpoint: Endpoint::Ready,
            loaded: None,
            rows: 0,
            error: None,
        },
    )
}

/// `GET /v1/models`: each served model with its schema, and its canary.
async fn list_models(State(app): State<Arc<App>>, request: Request) -> Response {
    let Some(set) = app.models.load_full() else {
        return not_ready(Endpoint::Models, &request_id(&request));
    };
    #[derive(serde::Serialize)]
    struct Listed {
        #[serde(flatten)]
        doc: crate::model::ModelDoc,
        #[serde(skip_serializing_if = "Option::is_none")]
        canary: Option<CanaryDoc>,
    }
    #[derive(serde::Serialize)]
    struct CanaryDoc {
        #[serde(flatten)]
        doc: crate::model::ModelDoc,
        percent: f64,
    }
    let models: Vec<Listed> = set
        .slots
        .values()
        .map(|slot| Listed {
            doc: slot.primary.model.doc(),
            canary: slot.canary.as_ref().map(|(c, percent)| CanaryDoc {
                doc: c.model.doc(),
                percent: *percent,
            }),
        })
        .collect();
    finish(
        respond::document(StatusCode::OK, &serde_json::json!({ "models": models })),
        Handled {
            endpoint: Endpoint::Models,
            loaded: None,
            rows: 0,
            error: None,
        },
    )
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    let logs = app.logs.as_ref().map(|l| l.gauges()).unwrap_or_default();
    let text = app.metrics.render(&logs);
    let mut response = (StatusCode::OK, text).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    finish(
        response,
        Handled {
            endpoint: Endpoint::Metrics,
            loaded: None,
            rows: 0,
            error: None,
        },
    )
}

async fn openapi() -> Response {
    let mut response = (StatusCode::OK, super::OPENAPI).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    finish(
        response,
        Handled {
            endpoint: Endpoint::OpenApi,
            loaded: None,
            rows: 0,
            error: None,
        },
    )
}

fn not_ready(endpoint: Endpoint, id: &str) -> Response {
    failed(
        endpoint,
        StatusCode::SERVICE_UNAVAILABLE,
        "the models are still loading (GET /ready says when they are)",
        code("not_ready"),
        id,
        None,
    )
}

/// `None` when the request may go on; otherwise the 401.
fn unauthorized(app: &App, endpoint: Endpoint, request: &Request, id: &str) -> Option<Response> {
    let token = app.token.as_deref()?;
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "));
    if given.is_some_and(|g| constant_time_eq(g, token)) {
        return None;
    }
    let mut response = failed(
        endpoint,
        StatusCode::UNAUTHORIZED,
        "this endpoint needs `Authorization: Bearer <token>` with the server's token",
        code("unauthorized"),
        id,
        None,
    );
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    Some(response)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The body's format, from its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
}

/// `Content-Type` → format. cairn's endpoints read anything but `text/csv` as JSON; MLflow's
/// `/invocations` answers 415 to anything but `application/json` and `text/csv` (with no
/// parameter other than `charset=utf-8`), as MLflow does.
fn format_of(headers: &HeaderMap, strict: bool) -> Result<Format, String> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return if strict {
            Err("the body needs a Content-Type: application/json or text/csv".into())
        } else {
            Ok(Format::Json)
        };
    };
    let text = value.to_str().unwrap_or("");
    let mut parts = text.split(';').map(str::trim);
    let mime = parts.next().unwrap_or("").to_ascii_lowercase();
    let format = match mime.as_str() {
        "text/csv" => Format::Csv,
        "application/json" => Format::Json,
        _ if !strict => Format::Json,
        other => {
            return Err(format!(
                "this endpoint reads application/json and text/csv, not `{other}`"
            ));
        }
    };
    if strict {
        for parameter in parts.filter(|p| !p.is_empty()) {
            let (key, value) = parameter.split_once('=').unwrap_or((parameter, ""));
            if !key.trim().eq_ignore_ascii_case("charset") {
                return Err(format!("unknown Content-Type parameter `{}`", key.trim()));
            }
            if !value.trim().trim_matches('"').eq_ignore_ascii_case("utf-8") {
                return Err("the body must be UTF-8".into());
            }
        }
    }
    Ok(format)
}

/// Reads the body, within the size limit and the time limit.
async fn read_body(
    app: &App,
    endpoint: Endpoint,
    request: Request,
    id: &str,
    loaded: Option<&Arc<Loaded>>,
) -> Result<Bytes, Response> {
    let too_large = |id: &str| {
        failed(
            endpoint,
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!(
                "the body is larger than the server's limit of {} bytes",
                app.max_body_bytes
            ),
            code("too_large"),
            id,
            loaded,
        )
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > app.max_body_bytes as u64) {
        return Err(too_large(id));
    }
    match tokio::time::timeout(app.body_timeout, Bytes::from_request(request, &())).await {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(rejection)) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Err(too_large(id))
        }
        Ok(Err(rejection)) => Err(failed(
            endpoint,
            StatusCode::BAD_REQUEST,
            &format!("cannot read the body: {}", rejection.body_text()),
            code("malformed"),
            id,
            loaded,
        )),
        Err(_) => Err(failed(
            endpoint,
            StatusCode::REQUEST_TIMEOUT,
            &format!(
                "the body did not arrive within {} s",
                app.body_timeout.as_secs_f64()
            ),
            code("timeout"),
            id,
            loaded,
        )),
    }
}

/// The served model `name`, or the 404 (or 503 while loading).
// The error is the response itself, built only for a refused request.
#[allow(clippy::result_large_err)]
fn find(app: &App, endpoint: Endpoint, name: &str, id: &str) -> Result<Arc<ModelSet>, Response> {
    let Some(set) = app.models.load_full() else {
        return Err(not_ready(endpoint, id));
    };
    if !set.slots.contains_key(name) {
        let served = set.slots.keys().cloned().collect::<Vec<_>>().join(", ");
        return Err(failed(
            endpoint,
            StatusCode::NOT_FOUND,
            &format!("no model `{name}` is served (served: {served})"),
            code("unknown_model"),
            id,
            None,
        ));
    }
    Ok(set)
}

/// `POST /v1/models/{name}/predict`.
async fn predict(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    named(app, name, request, Endpoint::Predict, Dialect::Cairn).await
}

/// `POST /v1/models/{name}/versions/{version}/predict`: the primary or the canary, by number.
async fn predict_version(
    State(app): State<Arc<App>>,
    Path((name, version)): Path<(String, String)>,
    request: Request,
) -> Response {
    let endpoint = Endpoint::PredictVersion;
    let id = request_id(&request);
    if let Some(denied) = unauthorized(&app, endpoint, &request, &id) {
        return denied;
    }
    let set = match find(&app, endpoint, &name, &id) {
        Ok(set) => set,
        Err(response) => return response,
    };
    let Some(slot) = set.slots.get(&name) else {
        return not_ready(endpoint, &id);
    };
    let found = version.parse::<u32>().ok().and_then(|v| slot.version(v));
    let Some(loaded) = found.cloned() else {
        return failed(
            endpoint,
            StatusCode::NOT_FOUND,
            &format!(
                "version {version} of `{name}` is not served (served: {})",
                slot.versions()
            ),
            code("unknown_version"),
            &id,
            None,
        );
    };
    answer(&app, endpoint, loaded, request, Dialect::Cairn, &id).await
}

/// `POST /invocations`: MLflow's scoring endpoint, for the one served model.
async fn invocations(State(app): State<Arc<App>>, request: Request) -> Response {
    let endpoint = Endpoint::Invocations;
    let id = request_id(&request);
    if let Some(denied) = unauthorized(&app, endpoint, &request, &id) {
        return denied;
    }
    let Some(set) = app.models.load_full() else {
        return not_ready(endpoint, &id);
    };
    let mut slots = set.slots.values();
    let loaded = match (slots.next(), slots.next()) {
        (Some(slot), None) => Arc::clone(slot.route()),
        _ => {
            let served = set.slots.keys().cloned().collect::<Vec<_>>().join(", ");
            return failed(
                endpoint,
                StatusCode::NOT_FOUND,
                &format!(
                    "/invocations answers for the one served model, but this server serves several ({served}): use /v1/models/NAME/invocations"
                ),
                code("which_model"),
                &id,
                None,
            );
        }
    };
    answer(&app, endpoint, loaded, request, Dialect::Mlflow, &id).await
}

/// `POST /v1/models/{name}/invocations`: MLflow's request and response shapes for a named
/// model.
async fn named_invocations(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    named(app, name, request, Endpoint::Invocations, Dialect::Mlflow).await
}

/// A request to a model by name: authorized, the model found and routed (canary), answered.
async fn named(
    app: Arc<App>,
    name: String,
    request: Request,
    endpoint: Endpoint,
    dialect: Dialect,
) -> Response {
    let id = request_id(&request);
    if let Some(denied) = unauthorized(&app, endpoint, &request, &id) {
        return denied;
    }
    let set = match find(&app, endpoint, &name, &id) {
        Ok(set) => set,
        Err(response) => return response,
    };
    let loaded = match set.slots.get(&name) {
        Some(slot) => Arc::clone(slot.route()),
        None => return not_ready(endpoint, &id),
    };
    answer(&app, endpoint, loaded, request, dialect, &id).await
}

/// Why rows were not scored.
enum Refusal {
    Input(ScoreError),
    Store(cairn_feature::FeatureError),
    Failed(String),
}

/// Rows scored: the rows, their predictions, and for entity rows the imputed inputs of each
/// and why the online store could not answer, if it could not.
type Answered = (Rows, Scored, Option<Vec<Vec<String>>>, Option<String>);

/// Reads, parses and scores a request's body with `loaded`, and answers.
async fn answer(
    app: &Arc<App>,
    endpoint: Endpoint,
    loaded: Arc<Loaded>,
    request: Request,
    dialect: Dialect,
    id: &str,
) -> Response {
    let strict = dialect == Dialect::Mlflow;
    let format = match format_of(request.headers(), strict) {
        Ok(format) => format,
        Err(message) => {
            return failed(
                endpoint,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                &message,
                code("unsupported_media_type"),
                id,
                Some(&loaded),
            );
        }
    };
    let body = match read_body(app, endpoint, request, id, Some(&loaded)).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let schema = &loaded.model.schema;
    let parsed = match format {
        Format::Csv => crate::csv::parse_csv(&body, schema, app.unknown).map(Parsed::Rows),
        Format::Json => parse_json(
            &body,
            schema,
            ParseOptions {
                dialect,
                unknown: app.unknown,
            },
        ),
    };
    let ts = SystemTime::now();
    let scored: Result<Answered, Refusal> = match parsed {
        Err(e) => Err(Refusal::Input(e)),
        Ok(Parsed::Rows(rows)) => {
            let result = if rows.len() >= BLOCKING_ROWS {
                tokio::task::block_in_place(|| score(&loaded.model, &rows))
            } else {
                score(&loaded.model, &rows)
            };
            result
                .map(|s| (rows, s, None, None))
                .map_err(Refusal::Input)
        }
        Ok(Parsed::Entities(entities)) => {
            let refusal = |e: EntityError| match e {
                EntityError::Input(e) => Refusal::Input(e),
                EntityError::Store(e) => Refusal::Store(e),
            };
            // Redis: read on the runtime, through the reader every request shares.
            let shared =
                shared_entity_rows(&loaded.model, &entities, ts, WhenUnavailable::Impute).await;
            if let Some(found) = shared {
                found.map_err(refusal).and_then(|found| {
                    let scored = if found.rows.len() >= BLOCKING_ROWS {
                        tokio::task::block_in_place(|| score(&loaded.model, &found.rows))
                    } else {
                        score(&loaded.model, &found.rows)
                    };
                    let scored = scored.map_err(Refusal::Input)?;
                    Ok((found.rows, scored, Some(found.imputed), found.unavailable))
                })
            } else {
                let model = Arc::clone(&loaded);
                let joined = tokio::task::spawn_blocking(move || {
                    let found = entity_rows(&model.model, &entities, ts, WhenUnavailable::Impute)
                        .map_err(refusal)?;
                    let scored = score(&model.model, &found.rows).map_err(Refusal::Input)?;
                    Ok((found.rows, scored, Some(found.imputed), found.unavailable))
                })
                .await;
                match joined {
                    Ok(result) => result,
                    Err(e) => Err(Refusal::Failed(e.to_string())),
                }
            }
        }
    };
    let (rows, scored, imputed, unavailable) = match scored {
        Ok(done) => done,
        Err(Refusal::Input(e)) => {
            return failed(
                endpoint,
                StatusCode::BAD_REQUEST,
                &e.to_string(),
                e.detail(),
                id,
                Some(&loaded),
            );
        }
        Err(Refusal::Store(e)) => {
            return failed(
                endpoint,
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("the online store cannot answer: {e}"),
                code("online_store"),
                id,
                Some(&loaded),
            );
        }
        Err(Refusal::Failed(message)) => {
            return failed(
                endpoint,
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("the server failed on this request: {message}"),
                code("internal"),
                id,
                Some(&loaded),
            );
        }
    };
    loaded.metrics.answered(&scored);
    if let Some(log) = &loaded.log {
        log.record(&loaded.model, id, ts, &rows, &scored, imputed.as_deref());
    }
    let body = match dialect {
        Dialect::Cairn => respond::predictions(
            &loaded,
            id,
            &scored,
            imputed.as_deref(),
            unavailable.as_deref(),
        ),
        Dialect::Mlflow => respond::invocations(&loaded, &scored),
    };
    let n = scored.len();
    finish(
        respond::json(StatusCode::OK, body, Some(&loaded)),
        Handled {
            endpoint,
            loaded: Some(loaded),
            rows: n,
            error: None,
        },
    )
}

/// `POST /v1/models/{name}/feedback`: true outcomes for logged predictions.
async fn feedback(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    let endpoint = Endpoint::Feedback;
    let id = request_id(&request);
    if let Some(denied) = unauthorized(&app, endpoint, &request, &id) {
        return denied;
    }
    let set = match find(&app, endpoint, &name, &id) {
        Ok(set) => set,
        Err(response) => return response,
    };
    let Some(loaded) = set.slots.get(&name).map(|s| Arc::clone(&s.primary)) else {
        return not_ready(endpoint, &id);
    };
    let Some(log) = loaded.log.clone() else {
        return failed(
            endpoint,
            StatusCode::CONFLICT,
            "this server does not log predictions, so feedback cannot be recorded against them",
            code("not_logging"),
            &id,
            Some(&loaded),
        );
    };
    let body = match read_body(&app, endpoint, request, &id, Some(&loaded)).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    match log.feedback(&loaded.model, &body, SystemTime::now()) {
        Ok(accepted) => finish(
            respond::document(
                StatusCode::OK,
                &serde_json::json!({"model": loaded.model.name, "accepted": accepted}),
            ),
            Handled {
                endpoint,
                loaded: Some(loaded),
                rows: accepted,
                error: None,
            },
        ),
        Err(e) => failed(
            endpoint,
            e.status(),
            &e.to_string(),
            code(e.code()),
            &id,
            Some(&loaded),
        ),
    }
}
