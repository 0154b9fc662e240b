//! Every way a request can fail, and the one place where each maps to an HTTP status.
//!
//! Every 4xx and 5xx carries `{"error": "<code>", "message": "...", "field": "..."}` so a
//! script (or its operator) can tell what to fix, and 503 carries `Retry-After` so the
//! client retries instead of giving up.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use schemas::Rejection;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Invalid(#[from] Rejection),
    #[error("request body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("could not read the request body")]
    BodyUnreadable,
    #[error("content type {0:?} is not JSON")]
    UnsupportedMediaType(String),
    #[error("the event queue is unavailable: {0}")]
    Unavailable(&'static str),
    #[error("the server is at capacity")]
    Overloaded,
    #[error("the request took too long")]
    Timeout,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Invalid(_) | ApiError::BodyUnreadable => StatusCode::BAD_REQUEST,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unavailable(_) | ApiError::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Timeout => StatusCode::REQUEST_TIMEOUT,
        }
    }

    /// A short, closed set of codes: the `error` field, and the `reason` metric label.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Invalid(r) => r.code.as_str(),
            ApiError::TooLarge { .. } => "payload_too_large",
            ApiError::BodyUnreadable => "body_unreadable",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::Unavailable(_) => "queue_unavailable",
            ApiError::Overloaded => "overloaded",
            ApiError::Timeout => "timeout",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        metrics::counter!("ingest_rejections_total", "reason" => self.code()).increment(1);
        let field = match &self {
            ApiError::Invalid(r) => r.field,
            _ => None,
        };
        let body = Body {
            error: self.code(),
            message: self.to_string(),
            field,
        };
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}
