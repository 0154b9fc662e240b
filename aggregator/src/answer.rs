//! Answering with a body the client may already have: its ETag, its caching headers,
//! 304 on a match, and the bytes kept per release so that a repeated request costs no
//! statistics query. Shared by the statistics API (crate::api) and the old service's
//! routes (crate::old_api).

use std::future::Future;
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::error::ApiError;
use crate::state::AppState;

/// Answer `body` with its ETag and caching headers, or 304 if the client has it.
pub fn cacheable(
    request: &HeaderMap,
    content_type: &'static str,
    max_age: u64,
    body: Vec<u8>,
) -> Response {
    let digest = Sha256::digest(&body);
    let etag = format!(
        "\"{}\"",
        digest[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let cache = format!("public, max-age={max_age}");
    let matches = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&cache) {
        headers.insert(header::CACHE_CONTROL, v);
    }
    if matches {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    (headers, body).into_response()
}

/// A statistics document can change at the next refresh, and no sooner.
pub fn max_age(state: &AppState) -> u64 {
    state.settings.aggregator.refresh_interval.as_secs().max(1)
}

/// The 404 of an app without a document: unknown, or below k. One answer for both, so
/// that it says no more than that.
pub const NO_SUCH_APP: &str =
    "no app of this name has k runs from k installations in this window and repository";

/// Answer with the bytes cached under `key` for the materialisation of `as_of`, or with
/// those `build` makes (and caches); `None` from `build` is a 404.
///
/// The build runs as a task of its own: a document that takes longer than the request
/// may (`aggregator.request_timeout`: a year of statistics, uncached, right after a
/// release) is still finished and cached when the request is given up, so the client's
/// retry finds it instead of starting it over.
pub async fn cached<Fut>(
    state: &AppState,
    request: &HeaderMap,
    key: String,
    as_of: Option<OffsetDateTime>,
    content_type: &'static str,
    build: Fut,
) -> Result<Response, ApiError>
where
    Fut: Future<Output = Result<Option<Vec<u8>>, ApiError>> + Send + 'static,
{
    let body = match state.cache.get(&key, as_of) {
        Some(body) => body,
        None => {
            let cache = state.cache.clone();
            let built = tokio::spawn(async move {
                let body = build.await?.map(Arc::new);
                if let Some(body) = &body {
                    cache.put(key, as_of, body.clone());
                }
                Ok::<_, ApiError>(body)
            })
            .await
            .map_err(ApiError::BuildPanicked)??;
            let Some(body) = built else {
                return Err(ApiError::NotFound(NO_SUCH_APP));
            };
            body
        }
    };
    Ok(cacheable(
        request,
        content_type,
        max_age(state),
        body.as_ref().clone(),
    ))
}
