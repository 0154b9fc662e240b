//! The public statistics API and the dashboard that reads it.
//!
//! Every response carries a strong `ETag` (a hash of its bytes) and a `Cache-Control`
//! that lets browsers and CDNs keep it until the next refresh can have changed it; a
//! matching `If-None-Match` gets `304 Not Modified`.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use axum::error_handling::HandleErrorLayer;
use axum::extract::{Path, Query, Request, State};
use axum::http::HeaderMap;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{BoxError, Router};
use runtime::ratelimit::RateLimit;
use serde::{Deserialize, Serialize};
use tower::ServiceBuilder;

use crate::answer::{NO_SUCH_APP, cacheable, cached, max_age};
use crate::dashboard;
use crate::documents::{Documents, SCOPE_DOCUMENTS};
use crate::error::ApiError;
use crate::published::Meta;
use crate::state::AppState;
use crate::stats::{Platform, Repo, Scope, Window};

/// The public routes, served on `aggregator.listen`: the dashboard and the statistics,
/// behind a per-client rate limit, a concurrency limit and a timeout.
pub fn router(state: AppState, rate_limit: Arc<RateLimit>) -> Router {
    let settings = &state.settings.aggregator;
    // Shedding, not queueing: documents are cached, so a queue would only be requests
    // waiting for the statistics store.
    let protection = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(overloaded))
        .load_shed()
        .concurrency_limit(settings.max_concurrency)
        .timeout(settings.request_timeout);
    runtime::http::with_public_headers(
        public_routes(state)
            .layer(protection)
            .layer(middleware::from_fn_with_state(rate_limit, limit)),
    )
    .layer(middleware::from_fn(track))
}

/// The public routes as a closed set of metric labels.
fn route_label(path: Option<&str>) -> &'static str {
    match path {
        Some("/" | "/index.html" | "/dashboard.css" | "/dashboard.js") => "dashboard",
        Some("/data.js" | "/data/{repo}/{file}" | "/data/{repo}/{window}/apps/{file}") => "data",
        Some("/v1/stats/{document}") => "/v1/stats/{document}",
        Some("/v1/stats/openapi.json") => "openapi",
        Some("/v1/stats/apps/{nsapp}") => "/v1/stats/apps/{nsapp}",
        Some(p) if crate::old_api::is_old_route(p) => "old_api",
        Some(_) => "other",
        None => "unmatched",
    }
}

/// Requests, their statuses and durations, by route: `aggregator_http_*`.
async fn track(request: Request, next: Next) -> Response {
    let route = route_label(
        request
            .extensions()
            .get::<axum::extract::MatchedPath>()
            .map(axum::extract::MatchedPath::as_str),
    );
    let started = Instant::now();
    let response = next.run(request).await;
    metrics::histogram!(crate::metric_names::HTTP_REQUEST_DURATION_SECONDS, "route" => route)
        .record(started.elapsed().as_secs_f64());
    let status = response.status().as_u16();
    // The statuses this API answers with; anything else is counted as its class.
    let status: &'static str = match status {
        200 => "200",
        304 => "304",
        308 => "308",
        400 => "400",
        404 => "404",
        410 => "410",
        429 => "429",
        500 => "500",
        503 => "503",
        s if s < 400 => "2xx/3xx",
        s if s < 500 => "4xx",
        _ => "5xx",
    };
    metrics::counter!(crate::metric_names::HTTP_REQUESTS_TOTAL, "route" => route, "status" => status)
        .increment(1);
    response
}

async fn limit(State(limit): State<Arc<RateLimit>>, request: Request, next: Next) -> Response {
    match limit.check_request(&request) {
        Ok(()) => next.run(request).await,
        Err(wait) => ApiError::RateLimited {
            retry_after: wait.as_secs().max(1),
        }
        .into_response(),
    }
}

async fn overloaded(err: BoxError) -> Response {
    if err.is::<tower::timeout::error::Elapsed>() {
        ApiError::Busy("the statistics took too long to answer").into_response()
    } else {
        ApiError::Busy("too many requests at once").into_response()
    }
}

fn public_routes(state: AppState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/index.html", get(index))
        .route("/dashboard.css", get(css))
        .route("/dashboard.js", get(js))
        .route("/data.js", get(manifest))
        .route("/data/{repo}/{file}", get(data))
        .route("/data/{repo}/{window}/apps/{file}", get(app_data))
        // summary, apps, daily, os, pve, hardware, errors: documents::SCOPE_DOCUMENTS.
        .route("/v1/stats/openapi.json", get(openapi))
        .route("/v1/stats/{document}", get(scope_document))
        .route("/v1/stats/apps/{nsapp}", get(app))
        // The old service's read API and pages, for the readers that still use them.
        .merge(crate::old_api::routes())
        .with_state(state)
        .fallback(|| async { ApiError::NotFound("no such resource") })
}

/// The query of every statistics document: `days` (one of `WINDOWS`, default 30),
/// `repo` (default `production`) and `platform` (default `pve`).
#[derive(Debug, Deserialize)]
pub struct ScopeQuery {
    days: Option<String>,
    repo: Option<String>,
    platform: Option<String>,
}

/// The window a document covers when the request names none.
pub const DEFAULT_DAYS: u32 = 30;

impl ScopeQuery {
    fn scope(&self) -> Result<Scope, ApiError> {
        // Only the plain number is a `days` value; `30d` is the dashboard's file name.
        let window = match self.days.as_deref() {
            None => Window::last(Some(DEFAULT_DAYS)),
            Some(d) if d.ends_with('d') => return Err(ApiError::BadWindow),
            Some(d) => Window::named(d).ok_or(ApiError::BadWindow)?,
        };
        let repo = match self.repo.as_deref() {
            None => Repo::Production,
            Some(r) => Repo::named(r).ok_or(ApiError::BadRepo)?,
        };
        let platform = match self.platform.as_deref() {
            None => Platform::Pve,
            Some(p) => Platform::named(p).ok_or(ApiError::BadPlatform)?,
        };
        Ok(Scope {
            window,
            repo,
            platform,
        })
    }
}

/// Serve the JSON document `name` for the request's window, built by `build` on a
/// cache miss.
async fn document<T, E, F, Fut>(
    state: &AppState,
    request: &HeaderMap,
    query: &ScopeQuery,
    name: &str,
    build: F,
) -> Result<Response, ApiError>
where
    T: Serialize,
    ApiError: From<E>,
    F: FnOnce(Arc<Documents>, Meta) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Option<T>, E>> + Send,
{
    let scope = query.scope()?;
    let meta = state.documents.meta(scope).await?;
    let key = format!("{name}/{}@{}", scope.name(), meta.window.until);
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

/// `/v1/stats/openapi.json`.
async fn openapi(State(state): State<AppState>, headers: HeaderMap) -> Response {
    cacheable(
        &headers,
        "application/json",
        max_age(&state),
        crate::openapi::DOCUMENT.as_bytes().to_vec(),
    )
}

/// `/v1/stats/{document}`: one of the scope's documents (documents::SCOPE_DOCUMENTS).
async fn scope_document(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<ScopeQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if !SCOPE_DOCUMENTS.contains(&name.as_str()) {
        return Err(ApiError::NotFound("no such resource"));
    }
    let key = name.clone();
    document(&state, &headers, &query, &key, |d, m| async move {
        d.scope_document(&name, m).await
    })
    .await
}

async fn app(
    State(state): State<AppState>,
    Path(nsapp): Path<String>,
    Query(query): Query<ScopeQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if !schemas::is_app_name(&nsapp) {
        return Err(ApiError::BadApp);
    }
    if !state.known_apps.knows(&state.clickhouse, &nsapp).await? {
        return Err(ApiError::NotFound(NO_SUCH_APP));
    }
    let name = format!("apps/{nsapp}");
    document(&state, &headers, &query, &name, |d, m| async move {
        d.app(m, &nsapp).await
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

/// The dashboard's manifest: the windows and repositories it offers, `k`, and how often
/// the statistics can change (the dashboard refreshes itself at that pace).
async fn manifest(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let meta = state
        .documents
        .meta(Scope {
            window: Window::last(None),
            repo: Repo::Production,
            platform: Platform::Pve,
        })
        .await?;
    let max_age = max_age(&state);
    script(&state, &headers, "data.js", meta, |meta| async move {
        Ok(Some(
            dashboard::manifest_js(&meta, Some(max_age)).into_bytes(),
        ))
    })
    .await
}

/// Answer a dashboard script of the materialisation `meta` describes: from the cache
/// under `name`, or as `build` makes it.
async fn script<F, Fut>(
    state: &AppState,
    headers: &HeaderMap,
    name: &str,
    meta: Meta,
    build: F,
) -> Result<Response, ApiError>
where
    F: FnOnce(Meta) -> Fut,
    Fut: Future<Output = Result<Option<Vec<u8>>, ApiError>> + Send + 'static,
{
    let key = format!("{name}@{}", meta.window.until);
    let as_of = meta.generated_at;
    cached(
        state,
        headers,
        key,
        as_of,
        "text/javascript; charset=utf-8",
        build(meta),
    )
    .await
}

/// The scope named by a data script's path: `{repo}` and `{window}` as the dashboard
/// names them (`production`, `30d`).
fn data_scope(repo: &str, window: &str) -> Result<Scope, ApiError> {
    let repo = Repo::named(repo).ok_or(ApiError::NotFound("no such repository"))?;
    let window = Window::named(window)
        .filter(|w| window == w.name())
        .ok_or(ApiError::NotFound("no such window"))?;
    // The dashboard's data scripts cover Proxmox VE hosts; Incus runs are in the API.
    Ok(Scope {
        window,
        repo,
        platform: Platform::Pve,
    })
}

/// `/data/{repo}/{window}.js`: every dashboard document of one scope, as a script.
async fn data(
    State(state): State<AppState>,
    Path((repo, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let window = file
        .strip_suffix(".js")
        .ok_or(ApiError::NotFound("no such resource"))?;
    let scope = data_scope(&repo, window)?;
    let meta = state.documents.meta(scope).await?;
    let docs = state.documents.clone();
    let name = format!("data/{}", scope.name());
    script(&state, &headers, &name, meta, |_| async move {
        let documents = dashboard::scope_documents(&docs, scope).await?;
        Ok(Some(dashboard::data_js(scope, &documents).into_bytes()))
    })
    .await
}

/// `/data/{repo}/{window}/apps/{nsapp}.js`: one app's document, as a script.
async fn app_data(
    State(state): State<AppState>,
    Path((repo, window, file)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let nsapp = file
        .strip_suffix(".js")
        .ok_or(ApiError::NotFound("no such resource"))?;
    if !schemas::is_app_name(nsapp) {
        return Err(ApiError::BadApp);
    }
    if !state.known_apps.knows(&state.clickhouse, nsapp).await? {
        return Err(ApiError::NotFound(NO_SUCH_APP));
    }
    let scope = data_scope(&repo, &window)?;
    let meta = state.documents.meta(scope).await?;
    let docs = state.documents.clone();
    let name = format!("data/{}/apps/{nsapp}", scope.name());
    let nsapp = nsapp.to_owned();
    script(&state, &headers, &name, meta, |meta| async move {
        let Some(doc) = docs.app(meta, &nsapp).await? else {
            return Ok(None);
        };
        let value = serde_json::to_value(&doc).map_err(ApiError::Serialise)?;
        Ok(Some(dashboard::app_js(scope, &nsapp, &value).into_bytes()))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::WINDOWS;

    fn scope(days: Option<&str>, repo: Option<&str>) -> Result<Scope, ApiError> {
        ScopeQuery {
            days: days.map(str::to_owned),
            repo: repo.map(str::to_owned),
            platform: None,
        }
        .scope()
    }

    #[test]
    fn the_openapi_document_names_every_document_and_parameter() {
        let doc: serde_json::Value = serde_json::from_str(crate::openapi::DOCUMENT).expect("JSON");
        let get = &doc["paths"]["/v1/stats/{document}"]["get"];
        let params = get["parameters"].as_array().expect("parameters");
        let names: Vec<&str> = params.iter().filter_map(|p| p["name"].as_str()).collect();
        assert_eq!(names, ["document", "days", "repo", "platform"]);
        let documents: Vec<&str> = params[0]["schema"]["enum"]
            .as_array()
            .expect("enum")
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        assert_eq!(documents, SCOPE_DOCUMENTS);
        let days: Vec<String> = WINDOWS
            .iter()
            .map(|w| w.map_or("all".to_owned(), |d| d.to_string()))
            .collect();
        assert_eq!(params[1]["schema"]["enum"], serde_json::json!(days));
        assert_eq!(
            params[2]["schema"]["enum"],
            serde_json::json!(Repo::CHOICES.map(Repo::name))
        );
        assert_eq!(
            params[3]["schema"]["enum"],
            serde_json::json!(Platform::CHOICES.map(Platform::name))
        );
        assert!(doc["paths"]["/v1/stats/apps/{nsapp}"]["get"].is_object());
    }

    #[test]
    fn only_the_fixed_windows_are_answered() {
        for days in ["1", "7", "30", "90", "365"] {
            let s = scope(Some(days), None).unwrap_or_else(|e| panic!("{days}: {e}"));
            assert_eq!(s.window.days.map(|d| d.to_string()).as_deref(), Some(days));
        }
        assert_eq!(
            scope(Some("all"), None).map(|s| s.window.days).ok(),
            Some(None)
        );
        assert_eq!(
            scope(None, None).map(|s| s.window.days).ok(),
            Some(Some(30))
        );
        for bad in ["2", "0", "31", "366", "30d", "week", "", "-1", "7.0"] {
            assert!(
                matches!(scope(Some(bad), None), Err(ApiError::BadWindow)),
                "{bad}"
            );
        }
        assert_eq!(WINDOWS.len(), 6);
    }

    #[test]
    fn the_repository_defaults_to_production() {
        assert_eq!(
            scope(None, None).map(|s| s.repo).ok(),
            Some(Repo::Production)
        );
        for r in Repo::CHOICES {
            assert_eq!(scope(None, Some(r.name())).map(|s| s.repo).ok(), Some(r));
        }
        for bad in ["ProxmoxVE", "prod", "", "ALL"] {
            assert!(
                matches!(scope(None, Some(bad)), Err(ApiError::BadRepo)),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_400s_say_what_is_allowed() {
        assert!(
            ApiError::BadWindow
                .to_string()
                .contains("1, 7, 30, 90, 365")
        );
        assert!(
            ApiError::BadRepo
                .to_string()
                .contains("production, development, external")
        );
    }
}
