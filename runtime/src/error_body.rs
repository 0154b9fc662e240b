//! The one JSON shape of every HTTP error answer of every service:
//! `{"error": "<code>", "message": "...", "field": "..."}`, and whatever else a failed
//! operation must report (`detail`). `error` is a short code from a closed set a client
//! can branch on (and a metric label); `message` says what to fix; `field`, only when one
//! is at fault, names it.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A short code from a closed set, e.g. `invalid_value`.
    pub error: &'static str,
    /// What went wrong, for a person.
    pub message: String,
    /// The request field at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'static str>,
    /// What a failed operation did before it failed, beside the three keys above.
    #[serde(flatten, skip_serializing_if = "Map::is_empty")]
    #[schema(ignore)]
    pub detail: Map<String, Value>,
}

impl ErrorBody {
    pub fn new(error: &'static str, message: impl Into<String>) -> Self {
        Self {
            error,
            message: message.into(),
            field: None,
            detail: Map::new(),
        }
    }

    pub fn field(mut self, field: Option<&'static str>) -> Self {
        self.field = field;
        self
    }

    /// Add the keys of `detail` (an object; anything else adds nothing).
    pub fn detail(mut self, detail: Value) -> Self {
        if let Value::Object(map) = detail {
            self.detail.extend(map);
        }
        self
    }

    /// The answer: this body as JSON under `status`.
    pub fn into_response(self, status: StatusCode) -> Response {
        (status, Json(self)).into_response()
    }
}

/// `Retry-After: seconds`, for a 429 or 503 the client should retry.
pub fn retry_after(response: &mut Response, seconds: u64) {
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn field_and_detail_appear_only_when_given() {
        let plain = serde_json::to_value(ErrorBody::new("not_found", "no such route")).unwrap();
        assert_eq!(
            plain,
            json!({"error": "not_found", "message": "no such route"})
        );
        let full = ErrorBody::new("invalid_value", "bad")
            .field(Some("nsapp"))
            .detail(json!({"purged_queued": 3}));
        assert_eq!(
            serde_json::to_value(full).unwrap(),
            json!({"error": "invalid_value", "message": "bad", "field": "nsapp", "purged_queued": 3})
        );
    }
}
