//! The public statistics API and the dashboard that reads it.
//!
//! Every response carries a strong `ETag` (a hash of its bytes) and a `Cache-Control`
//! that lets browsers and CDNs keep it until the next refresh can have changed it; a
//! matching `If-None-Match` gets `304 Not Modified`.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::dashboard;
use crate::documents::{Documents, Meta};
use crate::settings::Settings;
use crate::stats::Window;

#[derive(Clone)]
pub struct AppState {
    pub clickhouse: clickhouse::Client,
    pub documents: Arc<Documents>,
    pub settings: Arc<Settings>,
    pub cache: Arc<DocumentCache>,
    /// JetStream, for deletion requests; `None` while the admin API is switched off.
    pub queues: Option<Arc<crate::erasure::Queues>>,
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
        .with_state(state.clone())
        .merge(crate::admin::router(state))
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
    #[error("a document could not be serialised")]
    Serialise(#[source] serde_json::Error),
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
            // Plain structs of numbers and strings: cannot happen, but is not a panic.
            ApiError::Serialise(e) => {
                tracing::error!(error = %e, "serialising a statistics document");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal", None)
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
            None => Ok(Window::today(Some(30))),
            Some("all") => Ok(Window::today(None)),
            Some(d) => match d.parse::<u32>() {
                Ok(n @ 1..=365) => Ok(Window::today(Some(n))),
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

/// Serialised documents of the current materialisation. A document depends only on the
/// materialised tables, its window and its app, so it is built once per refresh and then
/// served from memory: the statistics store is asked only when the statistics were last
/// materialised (one small query), which keeps the answers exact right after a refresh
/// by any process. Bounded: cleared on every new materialisation, and when full.
#[derive(Default)]
pub struct DocumentCache {
    inner: Mutex<CacheInner>,
}

#[derive(Default)]
struct CacheInner {
    as_of: Option<OffsetDateTime>,
    documents: HashMap<String, Arc<Vec<u8>>>,
}

/// Distinct documents kept between refreshes (7 documents × a few windows × the apps
/// people look at); past this the cache starts over rather than grow.
const CACHE_ENTRIES: usize = 4096;

impl DocumentCache {
    fn get(&self, key: &str, as_of: Option<OffsetDateTime>) -> Option<Arc<Vec<u8>>> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        (inner.as_of == as_of)
            .then(|| inner.documents.get(key).cloned())
            .flatten()
    }

    fn put(&self, key: String, as_of: Option<OffsetDateTime>, body: Arc<Vec<u8>>) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if inner.as_of != as_of || inner.documents.len() >= CACHE_ENTRIES {
            inner.documents.clear();
            inner.as_of = as_of;
        }
        inner.documents.insert(key, body);
    }
}

/// Answer with the bytes cached under `key` for the materialisation of `as_of`, or with
/// those `build` makes (and caches); `None` from `build` is a 404.
async fn cached<Fut>(
    state: &AppState,
    request: &HeaderMap,
    key: String,
    as_of: Option<OffsetDateTime>,
    content_type: &'static str,
    build: Fut,
) -> Result<Response, ApiError>
where
    Fut: Future<Output = Result<Option<Vec<u8>>, ApiError>>,
{
    let body = match state.cache.get(&key, as_of) {
        Some(body) => body,
        None => {
            let Some(bytes) = build.await? else {
                return Err(ApiError::NotFound(
                    "no app of this name has at least k runs in this window",
                ));
            };
            let body = Arc::new(bytes);
            state.cache.put(key, as_of, body.clone());
            body
        }
    };
    Ok(cacheable(
        request,
        content_type,
        max_age(state),
        body.as_ref().clone(),
    ))
}

/// Serve the JSON document `name` for the request's window, built by `build` on a
/// cache miss.
async fn document<T, F, Fut>(
    state: &AppState,
    request: &HeaderMap,
    query: &WindowQuery,
    name: &str,
    build: F,
) -> Result<Response, ApiError>
where
    T: Serialize,
    F: FnOnce(Arc<Documents>, Meta) -> Fut,
    Fut: Future<Output = clickhouse::error::Result<Option<T>>>,
{
    let meta = state.documents.meta(query.window()?).await?;
    let key = format!("{name}/{}@{}", meta.window.name(), meta.window.until);
    let as_of = meta.generated_at;
    let docs = state.documents.clone();
    cached(state, request, key, as_of, "application/json", async move {
        match build(docs, meta).await? {
            Some(doc) => Ok(Some(serde_json::to_vec(&doc).map_err(ApiError::Serialise)?)),
            None => Ok(None),
        }
    })
    .await
}

async fn summary(
    State(state): State<AppState>,
    Query(query): Query<WindowQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    document(&state, &headers, &query, "summary", |d, m| async move {
        d.summary(m).await.map(Some)
    })
    .await
}

async fn apps(
    State(state): State<AppState>,
    Query(query): Query<WindowQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    document(&state, &headers, &query, "apps", |d, m| async move {
        d.apps(m).await.map(Some)
    })
    .await
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
    let name = format!("apps/{nsapp}");
    document(&state, &headers, &query, &name, |d, m| async move {
        d.app(m, &nsapp).await
    })
    .await
}

async fn daily(
    State(state): State<AppState>,
    Query(query): Query<WindowQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    document(&state, &headers, &query, "daily", |d, m| async move {
        d.daily(m).await.map(Some)
    })
    .await
}

/// Runs by operating system and version (`debian 12`).
async fn os(
    State(state): State<AppState>,
    Query(query): Query<WindowQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    document(&state, &headers, &query, "os", |d, m| async move {
        d.breakdown(m, "os").await.map(Some)
    })
    .await
}

/// Runs by Proxmox VE version.
async fn pve(
    State(state): State<AppState>,
    Query(query): Query<WindowQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    document(&state, &headers, &query, "pve", |d, m| async move {
        d.breakdown(m, "pve").await.map(Some)
    })
    .await
}

async fn hardware(
    State(state): State<AppState>,
    Query(query): Query<WindowQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    document(&state, &headers, &query, "hardware", |d, m| async move {
        d.hardware(m).await.map(Some)
    })
    .await
}

async fn errors(
    State(state): State<AppState>,
    Query(query): Query<WindowQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    document(&state, &headers, &query, "errors", |d, m| async move {
        d.errors(m).await.map(Some)
    })
    .await
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
    let meta = state.documents.meta(Window::today(None)).await?;
    let key = format!("data.js@{}", meta.window.until);
    let docs = state.documents.clone();
    cached(
        &state,
        &headers,
        key,
        meta.generated_at,
        "text/javascript; charset=utf-8",
        async move {
            let bundle = dashboard::bundle(&docs).await?;
            Ok(Some(dashboard::data_js(&bundle).into_bytes()))
        },
    )
    .await
}
