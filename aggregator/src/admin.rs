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
                // The public numbers change only when a release is cut (crate::release).
                "released_through": report.released_through.map(|d| d.to_string()),
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

/// Erase one installation: record the erasure, wait for the consumer's receipt (its
/// queued messages and dead letters removed, no batch left that could still store one
/// of its events), then delete its raw rows. The statistics of days not yet frozen
/// follow at the next refresh; frozen days hold only k-anonymous counts, which name no
/// installation.
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
    if !ch.cluster.is_empty() && !ch.on_cluster && ch.shard_urls.is_empty() {
        // Before anything is recorded: a delete that reaches one shard is no erasure.
        return AdminError::ErasureNeedsOnCluster.into_response();
    }
    let Some(queues) = &state.queues else {
        return erasure_failed(
            "queue_unavailable",
            "the aggregator has no NATS connection; nothing was deleted",
            json!({}),
        );
    };
    let receipt = match queues.erase(id).await {
        Ok(receipt) => receipt,
        Err(e) => {
            tracing::warn!(error = %e, "recording an erasure failed");
            return erasure_failed(
                "queue_unavailable",
                "the queue (NATS) is unavailable; nothing was deleted",
                json!({}),
            );
        }
    };
    let deleted = match delete_rows(&state.clickhouse, ch, id).await {
        Ok(deleted) => deleted,
        Err(e) => {
            tracing::warn!(error = %e, "deleting an installation's rows failed");
            return erasure_failed(
                "store_unavailable",
                "the erasure is recorded (no event of the installation will be stored again), \
                 the rows were not deleted: repeat the request",
                queue_part(receipt),
            );
        }
    };
    let complete = receipt.is_some_and(|r| r.settled);
    let outcome = if complete { "complete" } else { "incomplete" };
    metrics::counter!(crate::metric_names::ERASURES_TOTAL, "outcome" => outcome).increment(1);
    // Counts only: a log that named the installation would keep, for as long as logs
    // are kept, the one identifier the request asked to have erased.
    tracing::info!(
        deleted,
        purged_queued = receipt.map(|r| r.queued),
        purged_dead_letters = receipt.map(|r| r.dead_letters),
        complete,
        "installation erased on request"
    );
    let mut body = json!({
        "random_id": id.to_string(),
        "deleted_events": deleted,
    });
    if let (Some(body), serde_json::Value::Object(queue)) =
        (body.as_object_mut(), queue_part(receipt))
    {
        body.extend(queue);
        body.insert("complete".into(), complete.into());
        if !complete {
            body.insert(
                "pending".into(),
                (if receipt.is_none() {
                    "no consumer confirmed in time that the queue is clear of the installation; \
                     the erasure is recorded, no event of it will be stored, and the consumer \
                     removes its queued events and dead letters when it runs: repeat the request \
                     to confirm"
                } else {
                    "a consumer held a batch from before the erasure that did not finish in time; \
                     repeat the request to delete a row it may store"
                })
                .into(),
            );
        }
    }
    Json(body).into_response()
}

/// What the consumer removed from the queue, as the answer says it; `null` counts while
/// no receipt has come.
fn queue_part(receipt: Option<topology::stream::ErasureReceipt>) -> serde_json::Value {
    json!({
        "purged_queued": receipt.map(|r| r.queued),
        "purged_dead_letters": receipt.map(|r| r.dead_letters),
    })
}

/// Delete the installation's raw rows; how many events there were (copies not yet
/// merged away count once: they are one event).
/// On a cluster, counted through `events_all` and deleted `ON CLUSTER` on every shard,
/// or, without `on_cluster`, on each shard of `clickhouse.shard_urls` in turn.
async fn delete_rows(
    client: &clickhouse::Client,
    clickhouse: &topology::store::ClickHouseSettings,
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
    if n == 0 {
        return Ok(0);
    }
    let delete = |client: &clickhouse::Client, on_cluster: String| {
        client
            .query(&format!(
                "DELETE FROM {}{on_cluster} WHERE random_id = ?",
                topology::names::EVENTS_TABLE
            ))
            .bind(id.to_string())
            .execute()
    };
    if clickhouse.cluster.is_empty() {
        delete(client, String::new()).await?;
    } else if clickhouse.on_cluster {
        delete(client, format!(" ON CLUSTER '{}'", clickhouse.cluster)).await?;
    } else {
        for shard in clickhouse.shard_clients() {
            delete(&shard, String::new()).await?;
        }
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
