//! The aggregator: anonymous run statistics over the raw events, materialised in
//! ClickHouse, served as JSON and as a static dashboard.
//!
//! # Module map
//! From the raw events to a published number:
//! - [`materialize`]: the refresh, which turns each day's raw events into its
//!   statistics (migrations 0002 and 0004) and freezes days that are complete.
//! - [`patterns`]: the normalisation of error texts to patterns, in SQL and in Rust.
//! - [`release`]: the public release, once per complete UTC day: the days, and their
//!   generations, that everything public reads.
//! - `stats`: reading the materialised statistics over a scope (window and repository).
//! - `counts`: the outcomes, run counts and groups, the unit of every document.
//! - `dimension`: what the statistics count runs by, each with its SQL and documents.
//! - `anonymity`: the rule of k installations, and folding small groups into `other`.
//! - [`noise`]: the noise on every published count, drawn from a secret and the runs
//!   the count is made of, so that the same runs give the same numbers everywhere.
//! - `published`: the shapes of the statistics documents, field by field.
//! - `source`: what the documents read, the released statistics: ClickHouse's, or a
//!   fake's in their unit tests.
//! - `documents`: the statistics documents, built from the above.
//!
//! Serving them:
//! - `api`: the public routes and the HTTP metrics.
//! - `answer`: a body answered with its ETag and caching headers, kept per release.
//! - `openapi`: the OpenAPI document of the public routes.
//! - `old_api`: the read API and pages of the service this pipeline replaces, answered
//!   from the published documents in the old shapes, deprecated, each linking its
//!   successor.
//! - `cache`: the documents and app names kept in memory between refreshes.
//! - `dashboard`: the static dashboard and its data scripts.
//! - `export`: every document written to files, for a static host.
//! - `admin` and `erasure`: the token-protected admin API, and erasing an installation:
//!   recorded for the consumer, confirmed by its receipt, then deleted from the table.
//! - `error`: every way a request fails, mapped to its status in one place.
//! - `state`: what the handlers share. `settings`: the `aggregator.*` configuration.
//!   `metric_names`: every metric's name and description.

mod admin;
mod anonymity;
mod answer;
mod api;
mod cache;
mod counts;
mod dashboard;
mod dimension;
mod documents;
mod erasure;
mod error;
mod export;
pub mod materialize;
mod metric_names;
pub mod noise;
mod old_api;
mod openapi;
pub mod patterns;
mod published;
pub mod release;
mod settings;
mod source;
mod state;
mod stats;

pub use documents::Documents;
pub use export::export;
pub use settings::{AggregatorSettings, LIST_KEYS};

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use clickhouse::Row;
use serde::Deserialize;
use tokio::net::TcpListener;

pub use settings::Settings;

/// Serve the statistics API on `listener` until `shutdown` resolves.
pub async fn serve(
    settings: Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    metric_names::describe();
    metrics::counter!(crate::metric_names::REFRESH_FAILURES_TOTAL).increment(0);
    for outcome in admin::ERASURE_OUTCOMES {
        metrics::counter!(crate::metric_names::ERASURES_TOTAL, "outcome" => outcome).increment(0);
    }
    let clickhouse = settings.clickhouse.client();
    // Only deletion requests use NATS: without the admin API there is nothing to connect for.
    let queues = if settings.aggregator.admin_token.is_empty() {
        None
    } else {
        let queues = erasure::Queues::connect(&settings.nats, settings.aggregator.erasure_timeout)
            .await
            .map_err(std::io::Error::other)?;
        Some(Arc::new(queues))
    };
    let state = state::AppState {
        clickhouse: clickhouse.clone(),
        documents: Arc::new(documents::Documents::new(
            clickhouse.clone(),
            &settings.aggregator,
        )),
        settings: Arc::new(settings),
        cache: Arc::default(),
        queues,
        known_apps: Arc::default(),
    };
    let a = &state.settings.aggregator;
    let rate_limit = Arc::new(runtime::ratelimit::RateLimit::new(
        "aggregator",
        a.rate_limit_per_minute,
        a.rate_limit_burst,
        a.rate_limit_max_clients,
        a.trusted_proxies.clone(),
    ));
    rate_limit.describe_metrics();
    rate_limit.clone().keep_small();
    let internal_listener = TcpListener::bind(&a.internal_listen).await?;
    // Unix seconds of the last successful refresh; 0 before the first.
    let last_success = Arc::new(AtomicI64::new(0));
    let refresher = tokio::spawn(refresh_forever(
        clickhouse,
        state.settings.clone(),
        last_success.clone(),
    ));
    let freshness = tokio::spawn(report_freshness(last_success));
    tracing::info!(
        listen = %listener.local_addr()?,
        internal = %internal_listener.local_addr()?,
        "aggregator listening"
    );
    let served = runtime::http::serve_public_and_internal(
        listener,
        api::router(state.clone(), rate_limit),
        internal_listener,
        internal_routes(state),
        shutdown,
        runtime::http::ConnectionLimits {
            metrics: Some("aggregator"),
            ..runtime::http::ConnectionLimits::default()
        },
    )
    .await;
    refresher.abort();
    freshness.abort();
    served
}

/// The operators' routes, served on `aggregator.internal_listen` only: the admin API,
/// metrics, liveness and readiness.
fn internal_routes(state: state::AppState) -> axum::Router {
    admin::router(state)
        .merge(runtime::ops::router())
        .fallback(|| async { error::ApiError::NotFound("no such resource") })
}

/// Recompute the statistics of the days that are not frozen, every `refresh_interval`,
/// and keep the business gauges current.
async fn refresh_forever(
    clickhouse: clickhouse::Client,
    settings: Arc<Settings>,
    last_success: Arc<AtomicI64>,
) {
    let refresh = settings.refresh();
    let mut tick = tokio::time::interval(settings.aggregator.refresh_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let started = std::time::Instant::now();
        match refresh
            .run(&clickhouse, time::OffsetDateTime::now_utc())
            .await
        {
            Ok(report) => {
                let now = time::OffsetDateTime::now_utc().unix_timestamp();
                last_success.store(now, Ordering::Relaxed);
                metrics::gauge!(crate::metric_names::LAST_REFRESH_DURATION_SECONDS)
                    .set(started.elapsed().as_secs_f64());
                metrics::gauge!(crate::metric_names::LAST_REFRESH_TIMESTAMP_SECONDS)
                    .set(now as f64);
                if let Some(through) = report.released_through {
                    tracing::info!(%through, "statistics released");
                }
                // What the public sees, for the alert on a release that does not come.
                match release::latest(&clickhouse).await {
                    Ok(Some(r)) => {
                        let end = r
                            .through
                            .next_day()
                            .unwrap_or(r.through)
                            .midnight()
                            .assume_utc();
                        metrics::gauge!(crate::metric_names::RELEASED_UNTIL_TIMESTAMP_SECONDS)
                            .set(end.unix_timestamp() as f64);
                    }
                    Ok(None) => {}
                    Err(e) => tracing::warn!(error = %e, "reading the public release failed"),
                }
                tracing::debug!(?report, "statistics refreshed");
            }
            Err(e) => {
                metrics::counter!(crate::metric_names::REFRESH_FAILURES_TOTAL).increment(1);
                tracing::warn!(error = %e, "refreshing the statistics failed");
            }
        }
        match last_24_hours(&clickhouse).await {
            Ok(days) => {
                // Every repository gets a value, 0 when it had no runs, so that a rule
                // over one of them sees "none" rather than "no data".
                for repo in ["production", "development", "external"] {
                    let day = days.iter().find(|d| d.repo == repo);
                    let (runs, failed) = day.map_or((0, 0), |d| (d.runs, d.failed));
                    metrics::gauge!(crate::metric_names::RUNS_24H, "repo" => repo).set(runs as f64);
                    metrics::gauge!(crate::metric_names::FAILED_RUNS_24H, "repo" => repo)
                        .set(failed as f64);
                }
            }
            Err(e) => tracing::warn!(error = %e, "counting the last 24 hours' runs failed"),
        }
    }
}

/// Seconds since the last successful refresh, as a gauge that Prometheus can alert on
/// without knowing the refresh interval.
async fn report_freshness(last_success: Arc<AtomicI64>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let last = last_success.load(Ordering::Relaxed);
        if last > 0 {
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            metrics::gauge!(crate::metric_names::STATISTICS_AGE_SECONDS).set((now - last) as f64);
        }
    }
}

#[derive(Debug, Row, Deserialize)]
struct LastDay {
    repo: String,
    runs: u64,
    failed: u64,
}

/// Runs that started in the last 24 hours by repository, and those of them whose
/// outcome is `failed`: what the failure-rate alert reads. From the runs view (migration
/// 0011), the statistics' own definition, because the materialised days are calendar days.
async fn last_24_hours(client: &clickhouse::Client) -> clickhouse::error::Result<Vec<LastDay>> {
    client
        .query(
            "SELECT repo, count() AS runs, countIf(terminal_status = 'failed') AS failed
             FROM runs_between(from = now64(3) - INTERVAL 24 HOUR, to = now64(3) + INTERVAL 1 SECOND)
             GROUP BY repo",
        )
        .fetch_all()
        .await
}
