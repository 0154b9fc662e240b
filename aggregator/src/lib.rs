//! The aggregator: anonymous run statistics over the raw events, served as JSON.

pub mod api;
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
    tracing::info!(listen = %listener.local_addr()?, "aggregator listening");
    runtime::http::serve(listener, api::router(state), shutdown).await
}
