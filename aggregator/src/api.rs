//! The public statistics API and the dashboard that reads it.
//!
//! Every response carries a strong `ETag` (a hash of its bytes) and a `Cache-Control`
//! that lets browsers and CDNs keep it until the next refresh can have changed it; a
//! matching `If-None-Match` gets `304 Not Modified`.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::dashboard;
use crate::documents::{Documents, Meta};
use crate::settings::Settings;
use crate::stats::Window;

#[derive(Clone)]
pub struct AppState {
    pub documents: Arc<Documents>,
    pub settings: Arc<Settings>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/index.html", get(index))
        .route("/dashboard.css", get(css))
        .route("/dashboard.js", get(js))
        .route("/data.js", get(data))
        .route("/v1/stats/summary", get(summary))
        .route("/v1/stats/apps", get(apps))
        .route("/v1/stats/apps/{nsapp}", get(app))
        .route("/v1/stats/daily", get(daily))
        .route("/v1/stats/os", get(os))
        .route("/v1/stats/pve", get(pve))
        .route("/v1/stats/hardware", get(hardware))
        .route("/v1/stats/errors", get(errors))
        .with_state(state)
        .merge(runtime::ops::router())
        .fallback(|| async { ApiError::NotFound("no such resource") })
}

/// Every way a statistics request can fail, and its HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("days must be a whole number from 1 to 365, or \"all\"")]
    BadWindow,
    #[error("an app name holds only lower-case letters, digits, '-', '_' and '.'")]
    BadApp,
    #[error("{0}")]
    NotFound(&'static str),
    #[error("the statistics store is unavailable")]
    Unavailable(#[from] clickhouse::error::Error),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, field) = match &self {
            ApiError::BadWindow => (StatusCode::BAD_REQUEST, "invalid_window", Some("days")),
            ApiError::BadApp => (StatusCode::BAD_REQUEST, "invalid_app", Some("nsapp")),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found", None),
            ApiError::Unavailable(e) => {
                tracing::warn!(error = %e, "statistics query failed");
                (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable", None)
            }
        };
        let body = json!({ "error": code, "message": self.to_string(), "field": field });
        (status, Json(body)).into_response()
    }
}

#[derive(Debug, Deserialize)]
pub struct WindowQuery {
    days: Option<String>,
}

impl WindowQuery {
    fn window(&self) -> Result<Window, ApiError> {
        match self.days.as_deref() {
            None => Ok(Window::days(30)),
            Some("all") => Ok(Window::ALL),
            Some(d) => match d.parse::<u32>() {
                Ok(n @ 1..=365) => Ok(Window::days(n)),
                _ => Err(ApiError::BadWindow),
            },
        }
    }
}

/// Answer `body` with its ETag and caching headers, or 304 if the client has it.
fn cacheable(
    request: &HeaderMap,
    content_type: &'static str,
    max_age: u64,
    body: Vec<u8>,
) -> Response {
    let digest = Sha256::digest(&body);
    let etag = format!(
        "\"{}\"",
        digest[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let cache = format!("public, max-age={max_age}");
    let matches = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&cache) {
        headers.insert(header::CACHE_CONTROL, v);
    }
    if matches {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    (headers, body).into_response()
}

/// A statistics document can change at the next refresh, and no sooner.
fn max_age(state: &AppState) -> u64 {
    state.settings.aggregator.refresh_interval.as_secs().max(1)
}

fn json_document(state: &AppState, request: &HeaderMap, doc: &impl Serialize) -> Response {
    match serde_json::to_vec(doc) {
        Ok(body) => cacheable(request, "application/json", max_age(state), body),
        // Plain structs of numbers and strings always serialise.
        Err(e) => {
            tracing::error!(error = %e, "serialising a statistics document");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

async fn meta(state: &AppState, query: &WindowQuery) -> Result<Meta, ApiError> {
    let window = query.window()?;
    Ok(state.documents.meta(window).await?)
}

async fn summary(
    State(state): State<AppState>,
    Query(query): Query<WindowQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let doc = state.documents.summary(meta(&state, &query).await?).await?;
    Ok(json_document(&state, &headers, &doc))
}

async fn apps(
    State(state): State<AppState>,
    Query(query): Query<WindowQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let doc = state.documents.apps(meta(&state, &query).await?).await?;
    Ok(json_document(&state, &headers, &doc))
}

/// Whether `nsapp` could be an app name at all (schemas::parse accepts no other).
pub fn valid_app(nsapp: &str) -> bool {
    !nsapp.is_empty()
        && nsapp.len() <= 64
        && nsapp
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
}

async fn app(
    State(state): State<AppState>,
    Path(nsapp): Path<String>,
    Query(query): Query<WindowQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if !valid_app(&nsapp) {
        return Err(ApiError::BadApp);
    }
    let meta = meta(&state, &query).await?;
    match state.documents.app(meta, &nsapp).await? {
        Some(doc) => Ok(json_document(&state, &headers, &doc)),
        None => Err(ApiError::NotFound(
            "no app of this name has at least k runs in this window",
        )),
    }
}

async fn daily(
    State(state): State<AppState>,
    Query(query): Query<WindowQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let doc = state.documents.daily(meta(&state, &query).await?).await?;
    Ok(json_document(&state, &headers, &doc))
}

/// Runs by operating system and version (`debian 12`).
async fn os(
    State(state): State<AppState>,
    Query(query): Query<WindowQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let doc = state
        .documents
        .breakdown(meta(&state, &query).await?, "os")
        .await?;
    Ok(json_document(&state, &headers, &doc))
}

/// Runs by Proxmox VE version.
async fn pve(
    State(state): State<AppState>,
    Query(query): Query<WindowQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let doc = state
        .documents
        .breakdown(meta(&state, &query).await?, "pve")
        .await?;
    Ok(json_document(&state, &headers, &doc))
}

async fn hardware(
    State(state): State<AppState>,
    Query(query): Query<WindowQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let doc = state
        .documents
        .hardware(meta(&state, &query).await?)
        .await?;
    Ok(json_document(&state, &headers, &doc))
}

async fn errors(
    State(state): State<AppState>,
    Query(query): Query<WindowQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let doc = state.documents.errors(meta(&state, &query).await?).await?;
    Ok(json_document(&state, &headers, &doc))
}

async fn index(State(state): State<AppState>, headers: HeaderMap) -> Response {
    cacheable(
        &headers,
        "text/html; charset=utf-8",
        max_age(&state),
        dashboard::INDEX_HTML.as_bytes().to_vec(),
    )
}

async fn css(State(state): State<AppState>, headers: HeaderMap) -> Response {
    cacheable(
        &headers,
        "text/css; charset=utf-8",
        max_age(&state),
        dashboard::CSS.as_bytes().to_vec(),
    )
}

async fn js(State(state): State<AppState>, headers: HeaderMap) -> Response {
    cacheable(
        &headers,
        "text/javascript; charset=utf-8",
        max_age(&state),
        dashboard::JS.as_bytes().to_vec(),
    )
}

/// The dashboard's data: every document of every dashboard window, as one script.
async fn data(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let bundle = dashboard::bundle(&state.documents).await?;
    Ok(cacheable(
        &headers,
        "text/javascript; charset=utf-8",
        max_age(&state),
        dashboard::data_js(&bundle).into_bytes(),
    ))
}
