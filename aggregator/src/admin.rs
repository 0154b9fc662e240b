//! The admin API, behind a bearer token: recompute the statistics now, and erase an
//! installation on request (a data subject's request, or an operator's): its raw events,
//! its events still queued and its dead letters.
//!
//! Without `aggregator.admin_token` the admin API is switched off and answers 404, as if
//! it did not exist. The token is compared in constant time, so the time an answer
//! takes says nothing about how much of a guess was right.

use axum::extract::{Path, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use axum::{Json, Router};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::AdminError;
use crate::state::AppState;

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
        return AdminError::Off.into_response();
    }
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match presented {
        Some(token) if token_matches(configured.expose(), token) => next.run(request).await,
        _ => AdminError::Unauthorized.into_response(),
    }
}

async fn refresh(State(state): State<AppState>) -> Response {
    let started = std::time::Instant::now();
    match state
        .settings
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
            AdminError::StoreUnavailable.into_response()
        }
    }
}

/// The outcomes of a deletion request, the `outcome` label of `aggregator_erasures_total`.
pub const ERASURE_OUTCOMES: [&str; 3] = ["complete", "incomplete", "failed"];

/// Erase one installation: its events still queued, its dead letters, then its raw rows.
/// The queue goes first: a row deleted while its event still waited in the queue would
/// be stored again. The statistics of days not yet frozen follow at the next refresh;
/// frozen days hold only k-anonymous counts, which name no installation.
///
/// The path takes the id as the client sent it: a UUID, or another client id, which
/// ingest stored as its UUIDv5 (`schemas::ids`).
async fn delete_installation(
    State(state): State<AppState>,
    Path(random_id): Path<String>,
) -> Response {
    let id = match schemas::ids::client_id(&random_id) {
        Ok(id) => id,
        Err(e) => {
            return AdminError::BadRandomId(e.to_string()).into_response();
        }
    };
    let ch = &state.settings.clickhouse;
    if !ch.cluster.is_empty() && !ch.on_cluster {
        // Before anything is purged: a delete that reaches one shard is no erasure.
        return AdminError::ErasureNeedsOnCluster.into_response();
    }
    let Some(queues) = &state.queues else {
        return erasure_failed(
            "queue_unavailable",
            "the aggregator has no NATS connection; nothing was deleted",
            json!({}),
        );
    };
    let purged = match queues.erase(id).await {
        Ok(purged) => purged,
        Err(e) => {
            tracing::warn!(error = %e, "erasing an installation from the queue failed");
            let message = match e.purged_queued {
                None => "the queue (NATS) is unavailable; nothing was deleted",
                Some(_) => {
                    "the queue (NATS) failed midway; queued events were purged, dead letters and \
                     rows were not deleted: repeat the request"
                }
            };
            let done = e
                .purged_queued
                .map_or_else(|| json!({}), |queued| json!({ "purged_queued": queued }));
            return erasure_failed("queue_unavailable", message, done);
        }
    };
    let deleted = match delete_rows(&state.clickhouse, &state.settings.clickhouse, id).await {
        Ok(deleted) => deleted,
        Err(e) => {
            tracing::warn!(error = %e, "deleting an installation's rows failed");
            return erasure_failed(
                "store_unavailable",
                "the queue was purged, the rows were not deleted: repeat the request",
                json!({
                    "purged_queued": purged.queued,
                    "purged_dead_letters": purged.dead_letters,
                }),
            );
        }
    };
    let outcome = if purged.settled {
        "complete"
    } else {
        "incomplete"
    };
    metrics::counter!(crate::metric_names::ERASURES_TOTAL, "outcome" => outcome).increment(1);
    // Counts only: a log that named the installation would keep, for as long as logs
    // are kept, the one identifier the request asked to have erased.
    tracing::info!(
        deleted,
        purged_queued = purged.queued,
        purged_dead_letters = purged.dead_letters,
        complete = purged.settled,
        "installation erased on request"
    );
    Json(json!({
        "random_id": id.to_string(),
        "deleted_events": deleted,
        "purged_queued": purged.queued,
        "purged_dead_letters": purged.dead_letters,
        "complete": purged.settled,
    }))
    .into_response()
}

/// Delete the installation's raw rows; how many events there were (copies not yet
/// merged away count once: they are one event).
/// On a cluster, counted through `events_all` and deleted `ON CLUSTER` on every shard.
async fn delete_rows(
    client: &clickhouse::Client,
    clickhouse: &schemas::store::ClickHouseSettings,
    id: uuid::Uuid,
) -> clickhouse::error::Result<u64> {
    let n = client
        .query(&format!(
            "SELECT uniqExact(event_id) FROM {} WHERE random_id = ?",
            clickhouse.events_table()
        ))
        .bind(id.to_string())
        .fetch_one::<u64>()
        .await?;
    if n > 0 {
        let on_cluster = if clickhouse.cluster.is_empty() {
            String::new()
        } else {
            format!(" ON CLUSTER '{}'", clickhouse.cluster)
        };
        client
            .query(&format!(
                "DELETE FROM {}{on_cluster} WHERE random_id = ?",
                schemas::names::EVENTS_TABLE
            ))
            .bind(id.to_string())
            .execute()
            .await?;
    }
    Ok(n)
}

/// A 503 for a deletion request, with what was done before it failed in `done`.
fn erasure_failed(code: &'static str, message: &'static str, done: serde_json::Value) -> Response {
    metrics::counter!(crate::metric_names::ERASURES_TOTAL, "outcome" => "failed").increment(1);
    AdminError::ErasureFailed {
        code,
        message,
        done,
    }
    .into_response()
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
