//! Ingest's two routers: the public one (the event endpoints of `handlers` and the
//! OpenAPI document, behind the rate limit, the load shedder, the body limits and
//! decompression) and the internal one (readiness, metrics, liveness), with the HTTP
//! metrics and the JSON 404.

use std::sync::Arc;
use std::time::Instant;

use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{BoxError, Json, Router};
use tower::ServiceBuilder;
use tower_http::decompression::RequestDecompressionLayer;
use utoipa::OpenApi;

use crate::error::{self, ApiError};
use crate::handlers::{AppState, post_events, post_telemetry, readyz};
use crate::limit::{self, RateLimit};
use crate::openapi::ApiDoc;

pub fn router(state: AppState, rate_limit: Arc<RateLimit>) -> Router {
    let settings = state.settings.clone();
    // Shedding instead of queueing: a client that gets 503 retries later, while a queue
    // without bound turns a burst into memory growth and timeouts for everyone. The
    // timeout covers reading the body, so a client trickling its body is cut off too.
    let protection = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(overload_to_response))
        .load_shed()
        .concurrency_limit(settings.max_concurrency)
        .timeout(settings.request_timeout);
    // Limits apply to the decompressed body: a gzip bomb stops at the limit with 413.
    let events = Router::new()
        .route("/telemetry", post(post_telemetry))
        .layer(DefaultBodyLimit::max(settings.body_limit_bytes))
        .merge(
            Router::new()
                .route("/v1/events", post(post_events))
                .layer(DefaultBodyLimit::max(settings.batch_body_limit_bytes)),
        )
        .layer(RequestDecompressionLayer::new())
        .layer(protection)
        .layer(middleware::from_fn_with_state(rate_limit, limit::enforce))
        .with_state(state.clone());
    runtime::http::with_public_headers(
        Router::new()
            .merge(events)
            .route("/openapi.json", get(openapi))
            .fallback(not_found)
            .layer(middleware::from_fn(error::json_errors)),
    )
    .layer(middleware::from_fn(track))
}

/// The operators' routes, served on `ingest.internal_listen` only.
pub fn internal(state: AppState) -> Router {
    Router::new()
        .route("/readyz", get(readyz).with_state(state))
        .merge(runtime::ops::router())
        .fallback(not_found)
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

async fn not_found() -> Response {
    error::ErrorBody::new("not_found", "no such route").into_response(StatusCode::NOT_FOUND)
}

async fn overload_to_response(err: BoxError) -> Response {
    if err.is::<tower::timeout::error::Elapsed>() {
        ApiError::Timeout.into_response()
    } else {
        ApiError::Overloaded.into_response()
    }
}

/// One request in `ingest_http_requests_in_flight`, for as long as it lives: a request
/// dropped mid-await (the client went away, the timeout fired) leaves the gauge too.
struct InFlight(metrics::Gauge);

impl InFlight {
    fn enter() -> Self {
        let gauge = metrics::gauge!(crate::metric_names::HTTP_REQUESTS_IN_FLIGHT);
        gauge.increment(1.0);
        Self(gauge)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

/// Requests by route and status, their latency, and how many are in flight. The route
/// is the matched pattern, never the raw path, so the label set stays bounded.
async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |m| match m.as_str() {
            "/telemetry" => "/telemetry",
            "/v1/events" => "/v1/events",
            "/readyz" => "/readyz",
            "/healthz" => "/healthz",
            "/metrics" => "/metrics",
            "/openapi.json" => "/openapi.json",
            _ => "other",
        });
    let _in_flight = InFlight::enter();
    let started = Instant::now();
    let response = next.run(request).await;
    metrics::histogram!(crate::metric_names::HTTP_REQUEST_DURATION_SECONDS, "route" => route)
        .record(started.elapsed().as_secs_f64());
    metrics::counter!(
        crate::metric_names::HTTP_REQUESTS_TOTAL,
        "route" => route,
        "status" => status_label(response.status())
    )
    .increment(1);
    response
}

/// The status as a label without an allocation for the codes ingest answers with.
fn status_label(status: StatusCode) -> metrics::SharedString {
    let known = match status.as_u16() {
        200 => "200",
        202 => "202",
        400 => "400",
        404 => "404",
        405 => "405",
        408 => "408",
        413 => "413",
        415 => "415",
        429 => "429",
        500 => "500",
        503 => "503",
        other => return other.to_string().into(),
    };
    known.into()
}
