//! The HTTP surface of ingest: `POST /telemetry`, `POST /v1/events`, readiness, the
//! OpenAPI document, metrics and liveness.

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
use schemas::parse::{self, ParseOptions};
use serde_json::json;
use time::OffsetDateTime;
use tower::ServiceBuilder;
use tower_http::decompression::RequestDecompressionLayer;
use utoipa::OpenApi;
use uuid::Uuid;

use crate::error::{self, ApiError};
use crate::limit::{self, RateLimit};
use crate::openapi::{AcceptedBody, ApiDoc, BatchBody, RejectedItem};
use crate::publish::Publisher;
use crate::settings::IngestSettings;

#[derive(Clone)]
pub struct AppState {
    pub publisher: Arc<dyn Publisher>,
    pub parse: Arc<ParseOptions>,
    pub settings: Arc<IngestSettings>,
}

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
    Router::new()
        .merge(events)
        .route("/openapi.json", get(openapi))
        .fallback(not_found)
        .layer(middleware::from_fn(error::json_errors))
        .layer(middleware::from_fn(track))
}

/// The operators' routes, served on `ingest.internal_listen` only.
pub fn internal(state: AppState) -> Router {
    Router::new()
        .route("/readyz", get(readyz).with_state(state))
        .merge(runtime::ops::router())
        .fallback(not_found)
}

/// Accept one event.
#[utoipa::path(
    post,
    path = "/telemetry",
    request_body(content = crate::openapi::WireEvent, content_type = "application/json", description = "One event; `Content-Encoding: gzip` is accepted"),
    responses(
        (status = 202, description = "Durably queued", body = AcceptedBody),
        (status = 400, description = "Not an event we can accept; `field` names the key at fault", body = crate::error::ErrorBody),
        (status = 413, description = "Body (decompressed) over the limit", body = crate::error::ErrorBody),
        (status = 415, description = "Content type is not JSON", body = crate::error::ErrorBody),
        (status = 429, description = "Rate limited; see `Retry-After`", body = crate::error::ErrorBody),
        (status = 503, description = "Queue unavailable or server at capacity; retry after `Retry-After`", body = crate::error::ErrorBody),
    )
)]
pub async fn post_telemetry(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    require_json(&headers)?;
    let body = read_body(body, state.settings.body_limit_bytes)?;
    let event = schemas::parse_event(
        &body,
        &state.parse,
        Uuid::now_v7(),
        OffsetDateTime::now_utc(),
    )?;
    let accepted = state.publisher.publish(&event).await?;
    metrics::counter!("ingest_events_accepted_total").increment(1);
    let body = AcceptedBody {
        status: "accepted",
        event_id: (!accepted.duplicate).then_some(event.event_id),
        duplicate: accepted.duplicate,
    };
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// Accept a batch of events (importers and back-fills): a JSON array, or NDJSON.
///
/// The answer is 200 once every accepted item is durably queued, with each rejected item
/// named. If the queue fails for any item the answer is 503 and the whole batch should be
/// sent again: items that were queued are recognised and stored once.
#[utoipa::path(
    post,
    path = "/v1/events",
    request_body(content = Vec<crate::openapi::WireEvent>, description = "A JSON array (`application/json`) or one event per line (`application/x-ndjson`)"),
    responses(
        (status = 200, description = "Every item accepted or rejected", body = BatchBody),
        (status = 400, description = "The body is neither a JSON array nor NDJSON", body = crate::error::ErrorBody),
        (status = 413, description = "Too many events, or body over the limit", body = crate::error::ErrorBody),
        (status = 429, description = "Rate limited", body = crate::error::ErrorBody),
        (status = 503, description = "Queue unavailable: send the whole batch again", body = crate::error::ErrorBody),
    )
)]
pub async fn post_events(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let ndjson = is_ndjson(&headers);
    if !ndjson {
        require_json(&headers)?;
    }
    let body = read_body(body, state.settings.batch_body_limit_bytes)?;
    let max = state.settings.max_batch;
    let items = crate::batch::split(&body, ndjson, max).map_err(|refused| match refused {
        crate::batch::Refused::TooMany => ApiError::BatchTooLarge { max },
        crate::batch::Refused::Invalid(r) => ApiError::Invalid(r),
    })?;
    let now = OffsetDateTime::now_utc();
    let mut events = Vec::with_capacity(items.len());
    let mut rejected = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        let event =
            item.and_then(|value| parse::from_value(&value, &state.parse, Uuid::now_v7(), now));
        match event {
            Ok(event) => events.push(event),
            Err(r) => {
                metrics::counter!("ingest_rejections_total", "reason" => r.code.as_str())
                    .increment(1);
                rejected.push(RejectedItem {
                    index,
                    error: r.code.as_str(),
                    message: r.message,
                    field: r.field,
                });
            }
        }
    }
    let outcomes =
        futures::future::join_all(events.iter().map(|e| state.publisher.publish(e))).await;
    let mut duplicates = 0;
    for outcome in outcomes {
        duplicates += usize::from(outcome?.duplicate);
    }
    metrics::counter!("ingest_events_accepted_total").increment(events.len() as u64);
    Ok(Json(BatchBody {
        accepted: events.len(),
        duplicates,
        rejected,
    })
    .into_response())
}

fn read_body(body: Result<Bytes, BytesRejection>, limit: usize) -> Result<Bytes, ApiError> {
    let body = body.map_err(|r| match r.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge { limit },
        _ => ApiError::BodyUnreadable,
    })?;
    metrics::histogram!("ingest_http_request_body_bytes").record(body.len() as f64);
    Ok(body)
}

fn mime(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?;
    Some(
        value
            .to_str()
            .unwrap_or("invalid")
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase(),
    )
}

fn is_ndjson(headers: &HeaderMap) -> bool {
    matches!(
        mime(headers).as_deref(),
        Some("application/x-ndjson" | "application/ndjson")
    )
}

/// A missing content type is accepted (old clients); anything but JSON is not.
fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    match mime(headers) {
        None => Ok(()),
        Some(m) if m == "application/json" || m.ends_with("+json") => Ok(()),
        Some(m) => Err(ApiError::UnsupportedMediaType(m)),
    }
}

/// Ready when JetStream and the events stream answer.
#[utoipa::path(get, path = "/readyz", responses((status = 200, description = "Ready"), (status = 503, description = "JetStream or the events stream is unreachable")))]
pub async fn readyz(State(state): State<AppState>) -> Response {
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

/// Requests by route and status, their latency, and how many are in flight. The route
/// is the matched pattern, never the raw path, so the label set stays bounded.
/// One request in `ingest_http_requests_in_flight`, for as long as it lives: a request
/// dropped mid-await (the client went away, the timeout fired) leaves the gauge too.
struct InFlight(metrics::Gauge);

impl InFlight {
    fn enter() -> Self {
        let gauge = metrics::gauge!("ingest_http_requests_in_flight");
        gauge.increment(1.0);
        Self(gauge)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

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
    metrics::histogram!("ingest_http_request_duration_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    metrics::counter!(
        "ingest_http_requests_total",
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
