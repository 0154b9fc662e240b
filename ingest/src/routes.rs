//! The HTTP surface of ingest: `POST /telemetry`, readiness, metrics and liveness.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::error_handling::HandleErrorLayer;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{BoxError, Json, Router};
use schemas::parse::ParseOptions;
use serde_json::json;
use time::OffsetDateTime;
use tower::ServiceBuilder;
use uuid::Uuid;

use crate::error::ApiError;
use crate::publish::Publisher;
use crate::settings::IngestSettings;

#[derive(Clone)]
pub struct AppState {
    pub publisher: Arc<Publisher>,
    pub parse: Arc<ParseOptions>,
    pub body_limit: usize,
}

pub fn router(state: AppState, settings: &IngestSettings) -> Router {
    let limit = settings.body_limit_bytes;
    // Shedding instead of queueing: a client that gets 503 retries later, while a queue
    // without bound turns a burst into memory growth and timeouts for everyone.
    let protection = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(overload_to_response))
        .load_shed()
        .concurrency_limit(settings.max_concurrency)
        .timeout(settings.request_timeout);
    let ingest = Router::new()
        .route("/telemetry", post(post_telemetry))
        .layer(DefaultBodyLimit::max(limit))
        .layer(protection)
        .with_state(state.clone());
    Router::new()
        .merge(ingest)
        .route("/readyz", get(readyz).with_state(state))
        .merge(runtime::ops::router())
        .fallback(not_found)
        .layer(middleware::from_fn(track))
}

async fn post_telemetry(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    require_json(&headers)?;
    let body = body.map_err(|r| match r.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge {
            limit: state.body_limit,
        },
        _ => ApiError::BodyUnreadable,
    })?;
    metrics::histogram!("ingest_request_body_bytes").record(body.len() as f64);
    let event = schemas::parse_event(
        &body,
        &state.parse,
        Uuid::now_v7(),
        OffsetDateTime::now_utc(),
    )?;
    let accepted = state.publisher.publish(&event).await?;
    metrics::counter!("ingest_events_accepted_total").increment(1);
    let body = if accepted.duplicate {
        json!({ "status": "accepted", "duplicate": true })
    } else {
        json!({ "status": "accepted", "event_id": event.event_id })
    };
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// A missing content type is accepted (old clients); anything but JSON is not.
fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let mime = value
        .to_str()
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if mime == "application/json" || mime.ends_with("+json") {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(mime))
    }
}

async fn readyz(State(state): State<AppState>) -> Response {
    if state.publisher.ready().await {
        (StatusCode::OK, Json(json!({ "status": "ready" }))).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "not_ready", "reason": "JetStream or the events stream is unreachable" })),
        )
            .into_response()
    }
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({ "error": "not_found", "message": "no such route" })),
    )
        .into_response()
}

async fn overload_to_response(err: BoxError) -> Response {
    if err.is::<tower::timeout::error::Elapsed>() {
        ApiError::Timeout.into_response()
    } else {
        ApiError::Overloaded.into_response()
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
            "/readyz" => "/readyz",
            "/healthz" => "/healthz",
            "/metrics" => "/metrics",
            _ => "other",
        });
    let in_flight = metrics::gauge!("ingest_http_requests_in_flight");
    in_flight.increment(1.0);
    let started = Instant::now();
    let response = next.run(request).await;
    in_flight.decrement(1.0);
    metrics::histogram!("ingest_http_request_duration_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    metrics::counter!(
        "ingest_http_requests_total",
        "route" => route,
        "status" => response.status().as_u16().to_string()
    )
    .increment(1);
    response
}
