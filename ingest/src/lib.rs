//! The ingest service: HTTP in, JetStream out.
//!
//! A request is parsed and normalised by `schemas`, published to JetStream, and answered
//! 202 only once JetStream has acknowledged it durably. Every other outcome is an error
//! the client can act on ([`ApiError`]), so nothing that was answered 202 can be lost.
//!
//! # Module map
//! - `routes`: the public and the internal router, their layers (rate limit, load
//!   shedding, body limits, decompression) and the HTTP metrics.
//! - `handlers`: the endpoints, `POST /telemetry`, `POST /v1/events` and `/readyz`.
//! - `batch`: splitting a batch body into items, counting while it reads.
//! - `publish`: the [`Publisher`] trait, JetStream behind it, and an in-memory one.
//! - `group`: group commit, the events of many requests in one JetStream message.
//! - `error`: every way a request fails, mapped to its status in one place.
//! - `limit`: the per-client rate limit as middleware.
//! - `wire` and `openapi`: the bodies on the wire and the OpenAPI document of them.
//! - `settings`: the `ingest.*` and `nats.*` configuration.
//! - `metric_names`: every metric's name and description.

mod batch;
mod error;
mod group;
mod handlers;
mod limit;
mod metric_names;
mod openapi;
mod publish;
mod routes;
mod settings;
mod wire;

pub use error::ApiError;
pub use publish::{Accepted, JetStreamPublisher, MemoryPublisher, PublishError, Publisher};
pub use settings::{IngestSettings, LIST_KEYS};

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
    let record = schemas::parse::FREE_TEXT_MAX_CHARS;
    if settings.ingest.error_max_chars > record {
        // Only the tests that look at whole texts raise it.
        tracing::warn!(
            error_max_chars = settings.ingest.error_max_chars,
            record,
            "free text is stored longer than the processing record allows"
        );
    }
    let publisher = Arc::new(publish::JetStreamPublisher::connect(&settings).await?);
    publisher.clone().keep_stream_ensured();
    let app = App::new(&settings.ingest, publisher.clone());
    app.rate_limit.clone().keep_small();
    let limits = settings.ingest.connection_limits();
    let internal_listener = TcpListener::bind(&settings.ingest.internal_listen).await?;
    tracing::info!(
        listen = %listener.local_addr()?,
        internal = %internal_listener.local_addr()?,
        "ingest listening"
    );
    runtime::http::serve_public_and_internal(
        listener,
        app.public,
        internal_listener,
        app.internal,
        shutdown,
        limits,
    )
    .await?;
    publisher.flush().await;
    tracing::info!("ingest stopped");
    Ok(())
}

/// Ingest's two routers over one publisher: what `run` serves, and what the in-process
/// tests drive with a [`MemoryPublisher`].
pub struct App {
    /// The event routes and the OpenAPI document, behind the rate limit.
    pub public: axum::Router,
    /// Readiness, liveness and metrics, for the operators' network only.
    pub internal: axum::Router,
    pub rate_limit: Arc<limit::RateLimit>,
}

impl App {
    pub fn new(
        settings: &settings::IngestSettings,
        publisher: Arc<dyn publish::Publisher>,
    ) -> Self {
        metric_names::describe();
        let rate_limit = Arc::new(limit::RateLimit::new(
            "ingest",
            settings.rate_limit_per_minute,
            settings.rate_limit_burst,
            settings.rate_limit_max_clients,
            settings.trusted_proxies.clone(),
        ));
        rate_limit.describe_metrics();
        let state = handlers::AppState {
            publisher,
            parse: Arc::new(schemas::parse::ParseOptions {
                error_max_chars: settings.error_max_chars,
            }),
            settings: Arc::new(settings.clone()),
        };
        Self {
            public: routes::router(state.clone(), rate_limit.clone()),
            internal: routes::internal(state),
            rate_limit,
        }
    }
}
