//! Ingest's configuration. README.md ("Configuration") lists every key.

use std::time::Duration;

use ipnet::IpNet;
use runtime::logging::LogSettings;
use serde::{Deserialize, Serialize};
use topology::stream::NatsSettings;

/// Keys whose environment value is a comma-separated list.
pub const LIST_KEYS: &[&str] = &["ingest.trusted_proxies"];

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Settings {
    pub ingest: IngestSettings,
    pub nats: NatsSettings,
    pub log: LogSettings,
}

impl runtime::service::ServiceSettings for Settings {
    const LIST_KEYS: &'static [&'static str] = LIST_KEYS;

    fn log(&self) -> &LogSettings {
        &self.log
    }

    /// The secret it holds was chosen, not copied from compose/.env.example.
    fn check_secrets(&self) -> Result<(), runtime::secrets::SecretError> {
        runtime::secrets::check("TELEMETRY__NATS__PASSWORD", self.nats.password.expose())
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct IngestSettings {
    /// Address of the public API (`/telemetry`, `/v1/events`, `/openapi.json`).
    pub listen: String,
    /// Address of the operators' routes (`/metrics`, `/healthz`, `/readyz`), never
    /// routed by the proxy.
    pub internal_listen: String,
    /// How long to wait for JetStream's PubAck before answering 503.
    #[serde(with = "humantime_serde")]
    pub publish_timeout: Duration,
    /// Every free-text field (`error`, `failed_command`, `cpu_model`, `gpu_model`) is cut
    /// to this many characters after scrubbing: the record's 120 by default
    /// (`schemas::parse::FREE_TEXT_MAX_CHARS`); ingest warns when it is set higher.
    pub error_max_chars: usize,
    /// Largest `POST /telemetry` body, in bytes (after gzip decompression); larger get 413.
    pub body_limit_bytes: usize,
    /// Requests handled at once; beyond this, load is shed with 503.
    pub max_concurrency: usize,
    /// Connections held at once; more wait in the kernel's queue, and while all are
    /// taken, answers close their connection (`runtime::http::ConnectionLimits`).
    pub max_connections: usize,
    /// A request (including reading its body) that takes longer is cut off with 408.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// A client that has not sent its request headers after this long is disconnected.
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// Requests per minute per client; 0 switches rate limiting off.
    pub rate_limit_per_minute: u32,
    /// Requests a client may send at once before the per-minute rate applies.
    pub rate_limit_burst: u32,
    /// Most clients the rate limiter remembers; past it, the quietest are forgotten.
    pub rate_limit_max_clients: usize,
    /// Proxies (addresses or CIDR ranges) that append the client's address to
    /// `X-Forwarded-For`; the client is the rightmost entry that is not one of them.
    pub trusted_proxies: Vec<IpNet>,
    /// Most events in one `POST /v1/events`.
    pub max_batch: usize,
    /// Largest `POST /v1/events` body, in bytes (after gzip decompression).
    pub batch_body_limit_bytes: usize,
    /// Group commit: most events in one JetStream message.
    pub group_max_events: usize,
    /// Group commit: most payload bytes in one message, well under NATS's `max_payload`.
    pub group_max_bytes: usize,
    /// Group commit: messages published and not yet acknowledged at once.
    pub group_in_flight: usize,
}

impl IngestSettings {
    /// What the public listener allows its connections.
    pub fn connection_limits(&self) -> runtime::http::ConnectionLimits {
        runtime::http::ConnectionLimits {
            header_read_timeout: self.header_read_timeout,
            max_connections: self.max_connections,
            metrics: Some("ingest"),
        }
    }

    /// How events are gathered into messages (`group.rs`).
    pub fn group_limits(&self) -> crate::group::GroupLimits {
        crate::group::GroupLimits {
            max_events: self.group_max_events,
            max_bytes: self.group_max_bytes,
            in_flight: self.group_in_flight,
        }
    }
}

impl Default for IngestSettings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            internal_listen: "127.0.0.1:9100".into(),
            publish_timeout: Duration::from_secs(2),
            error_max_chars: schemas::parse::FREE_TEXT_MAX_CHARS,
            body_limit_bytes: 64 * 1024,
            // Below `max_connections`, so that a burst is shed with 503 rather than left
            // waiting in the kernel's queue; and as many as group commit can have in
            // messages awaiting their ack (`group_max_events` × `group_in_flight`): more
            // would only wait for the next message.
            max_concurrency: 512,
            max_connections: runtime::http::MAX_CONNECTIONS,
            request_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
            rate_limit_per_minute: 300,
            rate_limit_burst: 60,
            rate_limit_max_clients: 100_000,
            trusted_proxies: Vec::new(),
            max_batch: 500,
            // 500 events of 4 KiB: three times the largest body the real client sends.
            batch_body_limit_bytes: 2 * 1024 * 1024,
            group_max_events: 256,
            // A quarter of NATS's default max_payload (1 MiB).
            group_max_bytes: 256 * 1024,
            group_in_flight: 2,
        }
    }
}
