//! The rate limit of ingest's event routes: runtime::ratelimit, answered with ingest's
//! JSON 429.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

pub use runtime::ratelimit::RateLimit;

/// Middleware: 429 with `Retry-After` once a client is over its quota.
pub async fn enforce(
    State(limit): State<Arc<RateLimit>>,
    request: Request,
    next: Next,
) -> Response {
    if let Err(wait) = limit.check_request(&request) {
        return ApiError::RateLimited {
            retry_after: wait.as_secs().max(1),
        }
        .into_response();
    }
    next.run(request).await
}
