//! The aggregator: anonymous run statistics over the raw events, served as JSON.

pub mod anonymity;
pub mod api;
pub mod materialize;
pub mod settings;
pub mod stats;

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;

pub use settings::Settings;

/// Serve the statistics API on `listener` until `shutdown` resolves.
pub async fn serve(
    settings: Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let state = api::AppState {
        clickhouse: settings.clickhouse.client(),
        settings: Arc::new(settings),
    };
    let refresher = tokio::spawn(refresh_forever(
        state.clickhouse.clone(),
        state.settings.clone(),
    ));
    tracing::info!(listen = %listener.local_addr()?, "aggregator listening");
    let served = runtime::http::serve(listener, api::router(state), shutdown).await;
    refresher.abort();
    served
}

/// Recompute the statistics of the days that are not frozen, every `refresh_interval`.
async fn refresh_forever(clickhouse: clickhouse::Client, settings: Arc<Settings>) {
    let refresh = settings.aggregator.refresh();
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
                metrics::gauge!("aggregator_last_refresh_duration_seconds")
                    .set(started.elapsed().as_secs_f64());
                metrics::gauge!("aggregator_last_refresh_timestamp_seconds")
                    .set(time::OffsetDateTime::now_utc().unix_timestamp() as f64);
                tracing::debug!(?report, "statistics refreshed");
            }
            Err(e) => {
                metrics::counter!("aggregator_refresh_failures_total").increment(1);
                tracing::warn!(error = %e, "refreshing the statistics failed");
            }
        }
    }
}
