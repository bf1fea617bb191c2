//! Response bodies, written straight into one buffer: the parts every response of a version
//! repeats (model, version, digest, classes) were rendered when it was loaded.

use std::io::Write as _;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::ErrorDetail;
use crate::score::Scored;

use super::models::Loaded;

pub(crate) const VERSION_HEADER: &str = "x-cairn-model-version";
pub(crate) const MODEL_HEADER: &str = "x-cairn-model";

/// `{"model":…,"version":…,"digest":…,"request_id":…,"predictions":[…],
/// "probabilities":[[…]],"classes":[…],"imputed":[[…]],"online_store_unavailable":…}`.
pub(crate) fn predictions(
    loaded: &Loaded,
    request_id: &str,
    scored: &Scored,
    imputed: Option<&[Vec<String>]>,
    unavailable: Option<&str>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(loaded.prefix.len() + 96 + 24 * scored.len());
    out.extend_from_slice(loaded.prefix.as_bytes());
    out.extend_from_slice(b",\"request_id\":");
    let _ = serde_json::to_writer(&mut out, request_id);
    out.extend_from_slice(b",\"predictions\":");
    write_predictions(&mut out, loaded, scored);
    if let Scored::Classes { .. } = scored {
        out.extend_from_slice(b",\"probabilities\":[");
        for i in 0..scored.len() {
            if i > 0 {
                out.push(b',');
            }
            write_numbers(&mut out, scored.proba(i).unwrap_or_default());
        }
        out.push(b']');
        out.extend_from_slice(loaded.classes.as_bytes());
    }
    if let Some(imputed) = imputed {
        out.extend_from_slice(b",\"imputed\":");
        let _ = serde_json::to_writer(&mut out, imputed);
    }
    if let Some(why) = unavailable {
        out.extend_from_slice(b",\"online_store_unavailable\":");
        let _ = serde_json::to_writer(&mut out, why);
    }
    out.push(b'}');
    out
}

/// MLflow's response: `{"predictions":[…]}` (the labels of a classifier, the values of a
/// regressor, as an sklearn model answers under `mlflow models serve`), with the model and
/// version that answered as extra top-level keys, the way MLflow adds metadata keys.
pub(crate) fn invocations(loaded: &Loaded, scored: &Scored) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + 24 * scored.len());
    out.extend_from_slice(b"{\"predictions\":");
    write_predictions(&mut out, loaded, scored);
    out.extend_from_slice(b",\"model\":");
    let _ = serde_json::to_writer(&mut out, &loaded.model.name);
    let _ = write!(out, ",\"version\":{}}}", loaded.model.version);
    out
}

fn write_predictions(out: &mut Vec<u8>, loaded: &Loaded, scored: &Scored) {
    match scored {
        Scored::Classes { class, .. } => {
            out.push(b'[');
            for (i, c) in class.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                match loaded.model.labels_json.get(*c) {
                    Some(label) => out.extend_from_slice(label.as_bytes()),
                    None => out.extend_from_slice(b"null"),
                }
            }
            out.push(b']');
        }
        Scored::Values(values) => write_numbers(out, values),
    }
}

fn write_numbers(out: &mut Vec<u8>, values: &[f64]) {
    out.push(b'[');
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        // serde_json writes the shortest text that reads back as the same f64 (and null for
        // a non-finite value, which JSON cannot hold).
        let _ = serde_json::to_writer(&mut *out, v);
    }
    out.push(b']');
}

/// A JSON body with the version headers of the model that answered.
pub(crate) fn json(status: StatusCode, body: Vec<u8>, loaded: Option<&Loaded>) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(loaded) = loaded {
        headers.insert(VERSION_HEADER, loaded.version_header.clone());
        if let Ok(name) = HeaderValue::from_str(&loaded.model.name) {
            headers.insert(MODEL_HEADER, name);
        }
    }
    response
}

/// A serializable value as a JSON response.
pub(crate) fn document<T: Serialize>(status: StatusCode, doc: &T) -> Response {
    json(status, serde_json::to_vec(doc).unwrap_or_default(), None)
}

/// The body of every error response.
#[derive(Serialize)]
pub(crate) struct ErrorBody<'a> {
    pub(crate) error: &'a str,
    #[serde(flatten)]
    pub(crate) detail: ErrorDetail<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) request_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) model: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) version: Option<u32>,
}

/// An error response: `{"error": message, "code": …, "field": …, "row": …, "request_id": …,
/// "model": …, "version": …}`.
pub(crate) fn error(
    status: StatusCode,
    message: &str,
    detail: ErrorDetail<'_>,
    request_id: Option<&str>,
    loaded: Option<&Loaded>,
) -> Response {
    let body = ErrorBody {
        error: message,
        detail,
        request_id,
        model: loaded.map(|l| l.model.name.as_str()),
        version: loaded.map(|l| l.model.version),
    };
    json(
        status,
        serde_json::to_vec(&body).unwrap_or_default(),
        loaded,
    )
}

/// An error that is not about rows: only a code.
pub(crate) fn code(code: &'static str) -> ErrorDetail<'static> {
    ErrorDetail {
        code,
        field: None,
        row: None,
    }
}
