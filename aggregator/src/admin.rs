//! The admin API, behind a bearer token: recompute the statistics now, and delete an
//! installation's raw events on request (a data subject's request, or an operator's).
//!
//! Without `aggregator.admin_token` the admin API is switched off and answers 404, as if
//! it did not exist. The token is compared in constant time, so the time an answer
//! takes says nothing about how much of a guess was right.

use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use axum::{Json, Router};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::api::AppState;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/admin/v1/refresh", post(refresh))
        .route(
            "/admin/v1/installations/{random_id}",
            delete(delete_installation),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            authorize,
        ))
        .with_state(state)
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "error": code, "message": message }))).into_response()
}

/// Whether `presented` is the configured token. Both sides are hashed first, so the
/// comparison takes the same time whatever their lengths.
fn token_matches(configured: &str, presented: &str) -> bool {
    let a = Sha256::digest(configured.as_bytes());
    let b = Sha256::digest(presented.as_bytes());
    bool::from(a.ct_eq(&b))
}

async fn authorize(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let configured = &state.settings.aggregator.admin_token;
    if configured.is_empty() {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            "the admin API is switched off (aggregator.admin_token is empty)",
        );
    }
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match presented {
        Some(token) if token_matches(configured, token) => next.run(request).await,
        _ => {
            let mut r = error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "a valid `Authorization: Bearer <token>` is required",
            );
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
            r
        }
    }
}

async fn refresh(State(state): State<AppState>) -> Response {
    let started = std::time::Instant::now();
    match state
        .settings
        .aggregator
        .refresh()
        .run(&state.clickhouse, time::OffsetDateTime::now_utc())
        .await
    {
        Ok(report) => {
            tracing::info!(?report, "statistics refreshed on request");
            Json(json!({
                "days_computed": report.days_computed,
                "days_frozen": report.days_frozen,
                "seconds": started.elapsed().as_secs_f64(),
            }))
            .into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "refresh on request failed");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                "the statistics store is unavailable",
            )
        }
    }
}

/// Delete every raw event of one installation. The statistics of days not yet frozen
/// follow at the next refresh; frozen days hold only k-anonymous counts, which name no
/// installation.
async fn delete_installation(
    State(state): State<AppState>,
    Path(random_id): Path<String>,
) -> Response {
    let Ok(id) = uuid::Uuid::parse_str(&random_id) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_random_id",
            "random_id must be a UUID",
        );
    };
    let client = &state.clickhouse;
    let counted = client
        .query("SELECT count() FROM events WHERE random_id = ?")
        .bind(id.to_string())
        .fetch_one::<u64>()
        .await;
    let deleted = match counted {
        Ok(0) => 0,
        Ok(n) => match client
            .query("DELETE FROM events WHERE random_id = ?")
            .bind(id.to_string())
            .execute()
            .await
        {
            Ok(()) => n,
            Err(e) => return unavailable(e),
        },
        Err(e) => return unavailable(e),
    };
    // The id is what the requester sent; it is logged so that the request is on record.
    tracing::info!(random_id = %id, deleted, "installation's raw events deleted on request");
    Json(json!({ "random_id": id.to_string(), "deleted_events": deleted })).into_response()
}

fn unavailable(e: clickhouse::error::Error) -> Response {
    tracing::warn!(error = %e, "deleting an installation failed");
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "store_unavailable",
        "the store is unavailable; nothing was deleted, or the deletion may be repeated",
    )
}

#[cfg(test)]
mod tests {
    use super::token_matches;

    #[test]
    fn only_the_exact_token_matches() {
        assert!(token_matches("s3cret-token", "s3cret-token"));
        for wrong in [
            "",
            "s3cret",
            "s3cret-token ",
            "S3cret-token",
            "s3cret-tokenx",
        ] {
            assert!(!token_matches("s3cret-token", wrong), "{wrong:?}");
        }
    }
}
