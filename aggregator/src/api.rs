//! The public statistics API.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;

use crate::settings::Settings;
use crate::stats::{self, RunCounts};

#[derive(Clone)]
pub struct AppState {
    pub clickhouse: clickhouse::Client,
    pub settings: Arc<Settings>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/stats/summary", get(summary))
        .route("/v1/stats/os", get(os))
        .route("/v1/stats/pve", get(pve))
        .with_state(state)
        .merge(runtime::ops::router())
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("days must be a whole number from 1 to 365, or \"all\"")]
    BadWindow,
    #[error("the statistics store is unavailable")]
    Unavailable(#[from] clickhouse::error::Error),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            ApiError::BadWindow => (StatusCode::BAD_REQUEST, "invalid_window"),
            ApiError::Unavailable(e) => {
                tracing::warn!(error = %e, "statistics query failed");
                (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable")
            }
        };
        let body = json!({ "error": code, "message": self.to_string(), "field": matches!(self, ApiError::BadWindow).then_some("days") });
        (status, Json(body)).into_response()
    }
}

#[derive(Debug, Deserialize)]
pub struct WindowQuery {
    days: Option<String>,
}

/// The window a document covers: the last `days` days, or everything (`days: null`).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Window {
    pub days: Option<u32>,
}

impl WindowQuery {
    fn window(&self) -> Result<Window, ApiError> {
        match self.days.as_deref() {
            None => Ok(Window { days: Some(30) }),
            Some("all") => Ok(Window { days: None }),
            Some(d) => match d.parse::<u32>() {
                Ok(n @ 1..=365) => Ok(Window { days: Some(n) }),
                _ => Err(ApiError::BadWindow),
            },
        }
    }
}

#[derive(Debug, Serialize)]
pub struct SummaryDocument {
    #[serde(with = "time::serde::rfc3339")]
    pub generated_at: OffsetDateTime,
    pub window: Window,
    #[serde(flatten)]
    pub counts: RunCounts,
    pub success_rate: Option<f64>,
}

async fn summary(
    State(state): State<AppState>,
    Query(query): Query<WindowQuery>,
) -> Result<Json<SummaryDocument>, ApiError> {
    let window = query.window()?;
    let counts = stats::summary(&state.clickhouse, window.days).await?;
    Ok(Json(SummaryDocument {
        generated_at: OffsetDateTime::now_utc(),
        window,
        success_rate: counts.success_rate(),
        counts,
    }))
}

/// A breakdown of runs by the values of one dimension, k-anonymised.
#[derive(Debug, Serialize)]
pub struct BreakdownDocument {
    #[serde(with = "time::serde::rfc3339")]
    pub generated_at: OffsetDateTime,
    pub window: Window,
    /// The smallest group any published number comes from.
    pub k: u64,
    pub dimension: &'static str,
    #[serde(flatten)]
    pub published: crate::anonymity::Published,
}

async fn breakdown(
    state: &AppState,
    query: &WindowQuery,
    dimension: &'static str,
) -> Result<Json<BreakdownDocument>, ApiError> {
    let window = query.window()?;
    let groups = stats::breakdown(&state.clickhouse, dimension, window.days).await?;
    let k = state.settings.aggregator.k_min;
    Ok(Json(BreakdownDocument {
        generated_at: OffsetDateTime::now_utc(),
        window,
        k,
        dimension,
        published: crate::anonymity::publish(groups, k),
    }))
}

/// Runs by operating system and version (`debian 12`).
async fn os(
    State(state): State<AppState>,
    Query(query): Query<WindowQuery>,
) -> Result<Json<BreakdownDocument>, ApiError> {
    breakdown(&state, &query, "os").await
}

/// Runs by Proxmox VE version.
async fn pve(
    State(state): State<AppState>,
    Query(query): Query<WindowQuery>,
) -> Result<Json<BreakdownDocument>, ApiError> {
    breakdown(&state, &query, "pve").await
}
