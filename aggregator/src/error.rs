//! Every way a request to the aggregator can fail, and the one place where each maps to
//! an HTTP status and to the shared error body (`runtime::error_body`).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use runtime::error_body::ErrorBody;
use serde_json::Value;

use crate::documents::BuildError;

/// Every way a statistics request can fail, and its HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("days must be one of 1, 7, 30, 90, 365 or \"all\"")]
    BadWindow,
    #[error("repo must be one of production, development, external or all")]
    BadRepo,
    #[error("platform must be one of pve, incus or all")]
    BadPlatform,
    #[error("an app name holds only lower-case letters, digits, '-', '_' and '.'")]
    BadApp,
    #[error("{0}")]
    NotFound(&'static str),
    #[error("the statistics store is unavailable")]
    Unavailable(#[from] clickhouse::error::Error),
    #[error("a document could not be serialised")]
    Serialise(#[source] serde_json::Error),
    /// The task that built a document panicked: a bug, answered as one, not a crash.
    #[error("a document could not be built")]
    BuildPanicked(#[source] tokio::task::JoinError),
    /// The old service's `days` (crate::old_api), which took any whole number.
    #[error(
        "days must be a whole number of days; it is answered from the smallest of the \
         windows 1, 7, 30, 90, 365 or all that covers it"
    )]
    BadOldDays,
    /// The old service's `repo` (crate::old_api), which named the `repo_source`.
    #[error("repo must be one of ProxmoxVE, ProxmoxVED, external or all")]
    BadOldRepo,
    /// An old route whose data is no longer published at all.
    #[error("{0}")]
    Gone(&'static str),
    #[error("too many requests; retry after {retry_after} s")]
    RateLimited { retry_after: u64 },
    #[error("{0}; retry shortly")]
    Busy(&'static str),
}

impl From<BuildError> for ApiError {
    fn from(e: BuildError) -> Self {
        match e {
            BuildError::Store(e) => ApiError::Unavailable(e),
            BuildError::Serialise(e) => ApiError::Serialise(e),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let retry_after = match &self {
            ApiError::RateLimited { retry_after } => Some(*retry_after),
            ApiError::Busy(_) => Some(1),
            _ => None,
        };
        let (status, code, field) = match &self {
            ApiError::BadWindow => (StatusCode::BAD_REQUEST, "invalid_window", Some("days")),
            ApiError::BadRepo => (StatusCode::BAD_REQUEST, "invalid_repo", Some("repo")),
            ApiError::BadPlatform => (
                StatusCode::BAD_REQUEST,
                "invalid_platform",
                Some("platform"),
            ),
            ApiError::BadApp => (StatusCode::BAD_REQUEST, "invalid_app", Some("nsapp")),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found", None),
            ApiError::BadOldDays => (StatusCode::BAD_REQUEST, "invalid_window", Some("days")),
            ApiError::BadOldRepo => (StatusCode::BAD_REQUEST, "invalid_repo", Some("repo")),
            ApiError::Gone(_) => (StatusCode::GONE, "gone", None),
            ApiError::Unavailable(e) => {
                tracing::warn!(error = %e, "statistics query failed");
                (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable", None)
            }
            // Plain structs of numbers and strings: cannot happen, but is not a panic.
            ApiError::Serialise(e) => {
                tracing::error!(error = %e, "serialising a statistics document");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal", None)
            }
            ApiError::BuildPanicked(e) => {
                tracing::error!(error = %e, "building a statistics document");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal", None)
            }
            ApiError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited", None),
            ApiError::Busy(_) => (StatusCode::SERVICE_UNAVAILABLE, "busy", None),
        };
        let mut response = ErrorBody::new(code, self.to_string())
            .field(field)
            .into_response(status);
        if let Some(seconds) = retry_after {
            runtime::error_body::retry_after(&mut response, seconds);
        }
        response
    }
}

/// Every way an admin request can fail.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("the admin API is switched off (aggregator.admin_token is empty)")]
    Off,
    #[error("a valid `Authorization: Bearer <token>` is required")]
    Unauthorized,
    #[error("random_id is not a client id: {0}")]
    BadRandomId(String),
    #[error("the statistics store is unavailable")]
    StoreUnavailable,
    #[error(
        "on shards without clickhouse.on_cluster a delete cannot reach every shard; \
         nothing was deleted"
    )]
    ErasureNeedsOnCluster,
    /// A deletion request that failed midway: `done` says what it did before.
    #[error("{message}")]
    ErasureFailed {
        code: &'static str,
        message: &'static str,
        done: Value,
    },
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            AdminError::Off => (StatusCode::NOT_FOUND, "not_found"),
            AdminError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            AdminError::BadRandomId(_) => (StatusCode::BAD_REQUEST, "invalid_random_id"),
            AdminError::StoreUnavailable => (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable"),
            AdminError::ErasureNeedsOnCluster => (StatusCode::NOT_IMPLEMENTED, "not_implemented"),
            AdminError::ErasureFailed { code, .. } => (StatusCode::SERVICE_UNAVAILABLE, *code),
        };
        let mut body = ErrorBody::new(code, self.to_string());
        if let AdminError::ErasureFailed { done, .. } = self {
            body = body.detail(done);
        }
        let mut response = body.into_response(status);
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}
