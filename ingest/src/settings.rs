//! Ingest's configuration. README.md ("Configuration") lists every key.

use std::time::Duration;

use runtime::logging::LogSettings;
use schemas::stream::NatsSettings;
use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub ingest: IngestSettings,
    pub nats: NatsSettings,
    pub log: LogSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct IngestSettings {
    /// Address the HTTP server binds to.
    pub listen: String,
    /// How long to wait for JetStream's PubAck before answering 503.
    #[serde(with = "humantime_serde")]
    pub publish_timeout: Duration,
    /// The `error` field is cut to this many characters (the ROPA promises 120).
    pub error_max_chars: usize,
    /// Largest accepted request body, in bytes; larger bodies get 413.
    pub body_limit_bytes: usize,
    /// Requests handled at once; beyond this, load is shed with 503.
    pub max_concurrency: usize,
    /// A request (including reading its body) that takes longer is cut off with 408.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
}

impl Default for IngestSettings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            publish_timeout: Duration::from_secs(2),
            error_max_chars: 120,
            body_limit_bytes: 64 * 1024,
            max_concurrency: 1024,
            request_timeout: Duration::from_secs(10),
        }
    }
}
