//! The ingest service: HTTP in, JetStream out.
//!
//! A request is parsed and normalised by `schemas`, published to JetStream, and answered
//! 202 only once JetStream has acknowledged it durably. Every other outcome is an error
//! the client can act on (see [`error`]), so nothing that was answered 202 can be lost.

pub mod error;
pub mod limit;
pub mod openapi;
pub mod publish;
pub mod routes;
pub mod settings;

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;

pub use settings::Settings;

/// Serve ingest on `listener` until `shutdown` resolves, then finish in-flight requests
/// (and so their publishes) and flush the NATS connection.
pub async fn run(
    settings: Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let publisher = Arc::new(publish::Publisher::connect(&settings).await?);
    publisher.clone().keep_stream_ensured();
    let rate_limit = Arc::new(limit::RateLimit::new(
        settings.ingest.rate_limit_per_minute,
        settings.ingest.rate_limit_burst,
        settings.ingest.trusted_proxies.clone(),
    ));
    rate_limit.clone().keep_small();
    let state = routes::AppState {
        publisher: publisher.clone(),
        parse: Arc::new(schemas::parse::ParseOptions {
            error_max_chars: settings.ingest.error_max_chars,
        }),
        settings: Arc::new(settings.ingest.clone()),
    };
    let header_read_timeout = settings.ingest.header_read_timeout;
    let app = routes::router(state, rate_limit);
    tracing::info!(listen = %listener.local_addr()?, "ingest listening");
    runtime::http::serve_with(listener, app, shutdown, header_read_timeout).await?;
    publisher.flush().await;
    tracing::info!("ingest stopped");
    Ok(())
}
