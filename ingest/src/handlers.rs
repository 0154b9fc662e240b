//! The endpoints of ingest: `POST /telemetry`, `POST /v1/events` and `/readyz`. The
//! router, its layers and the HTTP metrics are in `routes`.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use schemas::parse::{self, ParseOptions};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::ApiError;
use crate::publish::Publisher;
use crate::settings::IngestSettings;
use crate::wire::{AcceptedBody, BatchBody, RejectedItem};

#[derive(Clone)]
pub struct AppState {
    pub publisher: Arc<dyn Publisher>,
    pub parse: Arc<ParseOptions>,
    pub settings: Arc<IngestSettings>,
}

/// Accept one event.
#[utoipa::path(
    post,
    path = "/telemetry",
    request_body(content = crate::wire::WireEvent, content_type = "application/json", description = "One event; `Content-Encoding: gzip` is accepted"),
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
    // The id is the event's content identity, which publishing assigns.
    let event = schemas::parse_event(&body, &state.parse, Uuid::nil(), OffsetDateTime::now_utc())?;
    let accepted = state.publisher.publish(&event).await?;
    metrics::counter!(crate::metric_names::EVENTS_ACCEPTED_TOTAL).increment(1);
    let body = AcceptedBody {
        status: "accepted",
        event_id: (!accepted.duplicate).then_some(accepted.event_id),
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
    request_body(content = Vec<crate::wire::WireEvent>, description = "A JSON array (`application/json`) or one event per line (`application/x-ndjson`)"),
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
            item.and_then(|value| parse::from_value(&value, &state.parse, Uuid::nil(), now));
        match event {
            Ok(event) => events.push(event),
            Err(r) => {
                metrics::counter!(crate::metric_names::REJECTIONS_TOTAL, "reason" => r.code.as_str())
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
    metrics::counter!(crate::metric_names::EVENTS_ACCEPTED_TOTAL).increment(events.len() as u64);
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
    metrics::histogram!(crate::metric_names::HTTP_REQUEST_BODY_BYTES).record(body.len() as f64);
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
