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
//! - `error`: every way a request fails, mapped to its status in one place.
//! - `limit`: the per-client rate limit as middleware.
//! - `wire` and `openapi`: the bodies on the wire and the OpenAPI document of them.
//! - `settings`: the `ingest.*` and `nats.*` configuration.

mod batch;
mod error;
mod handlers;
mod limit;
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
    let publisher = Arc::new(publish::JetStreamPublisher::connect(&settings).await?);
    publisher.clone().keep_stream_ensured();
    let app = App::new(&settings.ingest, publisher.clone());
    app.rate_limit.clone().keep_small();
    let header_read_timeout = settings.ingest.header_read_timeout;
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
        header_read_timeout,
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
        init_metrics();
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

/// Counters start at zero, so that a dashboard or an alert sees "none yet" rather than
/// "no data" before the first failure. Labelled ones are initialised for every value of
/// their closed label set.
fn init_metrics() {
    // Descriptions go to the installed recorder: install it first.
    let _ = runtime::ops::metrics();
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "ingest_http_requests_total",
        "HTTP requests answered, by matched route and status"
    );
    describe_histogram!(
        "ingest_http_request_duration_seconds",
        Unit::Seconds,
        "Time to answer an HTTP request, by matched route"
    );
    describe_gauge!(
        "ingest_http_requests_in_flight",
        "HTTP requests being answered now"
    );
    describe_histogram!(
        "ingest_http_request_body_bytes",
        Unit::Bytes,
        "Size of request bodies as received"
    );
    describe_counter!(
        "ingest_events_accepted_total",
        "Events durably queued in JetStream (answered 202 or accepted in a batch)"
    );
    describe_counter!(
        "ingest_rejections_total",
        "Requests or batch items refused, by reason"
    );
    describe_histogram!(
        "ingest_publish_duration_seconds",
        Unit::Seconds,
        "Time from publishing an event to JetStream's acknowledgement"
    );
    describe_counter!(
        "ingest_publish_failures_total",
        "Publishes that failed or timed out (answered 503), by kind"
    );
    metrics::counter!("ingest_events_accepted_total").increment(0);
    for kind in [
        "stream_not_found",
        "timeout",
        "broken_pipe",
        "max_ack_pending",
        "max_payload",
        "other",
    ] {
        metrics::counter!("ingest_publish_failures_total", "kind" => kind).increment(0);
    }
}
