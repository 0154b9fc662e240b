//! Every way a request can fail, and the one place where each maps to an HTTP status.
//!
//! Every 4xx and 5xx carries `{"error": "<code>", "message": "...", "field": "..."}` so a
//! script (or its operator) can tell what to fix, and 503 carries `Retry-After` so the
//! client retries instead of giving up.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
pub use runtime::error_body::ErrorBody;
use schemas::Rejection;

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
    #[error("too many requests; retry after {retry_after} s")]
    RateLimited { retry_after: u64 },
    #[error("a batch may hold at most {max} events")]
    BatchTooLarge { max: usize },
    /// A fault of ingest's own (an accepted event it could not encode): 500, as a
    /// retry would meet the same fault.
    #[error("the event could not be processed: {0}")]
    Internal(&'static str),
}

impl From<crate::publish::PublishError> for ApiError {
    fn from(e: crate::publish::PublishError) -> Self {
        use crate::publish::PublishError;
        match e {
            PublishError::Unavailable(why) => ApiError::Unavailable(why),
            PublishError::Encode => ApiError::Internal("it could not be encoded"),
            PublishError::TooLarge { limit } => ApiError::TooLarge { limit },
        }
    }
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Invalid(_) | ApiError::BodyUnreadable => StatusCode::BAD_REQUEST,
            ApiError::TooLarge { .. } | ApiError::BatchTooLarge { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unavailable(_) | ApiError::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Timeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
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
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::BatchTooLarge { .. } => "batch_too_large",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        metrics::counter!(crate::metric_names::REJECTIONS_TOTAL, "reason" => self.code())
            .increment(1);
        let field = match &self {
            ApiError::Invalid(r) => r.field,
            _ => None,
        };
        let mut response = ErrorBody::new(self.code(), self.to_string())
            .field(field)
            .into_response(status);
        let retry_after = match self {
            ApiError::RateLimited { retry_after } => Some(retry_after),
            _ if status == StatusCode::SERVICE_UNAVAILABLE => Some(1),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            runtime::error_body::retry_after(&mut response, seconds);
        }
        if self.leaves_body_unread() {
            close_connection(&mut response);
        }
        response
    }
}

impl ApiError {
    /// Answers that can be given before the body was read to its end (the limit, the
    /// rate limiter and the load shedder answer first). The rest of that body is still
    /// on the wire, so the connection cannot carry another request: without
    /// `Connection: close` a client pools it, and its next request meets a closed socket.
    fn leaves_body_unread(&self) -> bool {
        matches!(
            self,
            ApiError::TooLarge { .. }
                | ApiError::Timeout
                | ApiError::BodyUnreadable
                | ApiError::RateLimited { .. }
                | ApiError::Overloaded
        )
    }
}

fn close_connection(response: &mut Response) {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
}

/// Give a JSON body to the error answers that axum and tower-http produce themselves
/// (404, 405 with its `Allow`, 415 for an unknown `Content-Encoding`), keeping their
/// headers, so that every 4xx and 5xx a client sees is `{"error", "message"}`.
pub async fn json_errors(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let code = match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        s if s.is_client_error() => "bad_request",
        _ => "internal",
    };
    metrics::counter!(crate::metric_names::REJECTIONS_TOTAL, "reason" => code).increment(1);
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    let message = status
        .canonical_reason()
        .unwrap_or("request failed")
        .to_lowercase();
    let json = ErrorBody::new(code, message).into_response(status);
    let (json_parts, json_body) = json.into_parts();
    parts.headers.insert(
        header::CONTENT_TYPE,
        json_parts
            .headers
            .get(header::CONTENT_TYPE)
            .cloned()
            .unwrap_or(HeaderValue::from_static("application/json")),
    );
    Response::from_parts(parts, json_body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingest_s_own_faults_are_500_and_the_queue_s_are_503_with_retry_after() {
        let internal = ApiError::Internal("it could not be encoded").into_response();
        assert_eq!(internal.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(internal.headers().get(header::RETRY_AFTER).is_none());
        let unavailable =
            ApiError::Unavailable("JetStream did not accept the event").into_response();
        assert_eq!(unavailable.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(unavailable.headers()[header::RETRY_AFTER], "1");
    }

    #[test]
    fn answers_given_before_the_body_was_read_close_the_connection() {
        for early in [
            ApiError::TooLarge { limit: 1 },
            ApiError::RateLimited { retry_after: 1 },
            ApiError::Overloaded,
            ApiError::Timeout,
        ] {
            let response = early.into_response();
            assert_eq!(response.headers()[header::CONNECTION], "close");
        }
        let after_reading = ApiError::BatchTooLarge { max: 1 }.into_response();
        assert!(after_reading.headers().get(header::CONNECTION).is_none());
    }
}
