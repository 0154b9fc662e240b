//! The consumer's configuration. README.md ("Configuration") lists every key.

use std::time::Duration;

use runtime::logging::LogSettings;
use serde::{Deserialize, Serialize};
use topology::store::ClickHouseSettings;
use topology::stream::NatsSettings;

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Settings {
    pub consumer: ConsumerSettings,
    pub nats: NatsSettings,
    pub clickhouse: ClickHouseSettings,
    pub log: LogSettings,
}

/// Keys whose environment value is a comma-separated list: the `[clickhouse]` section is
/// shared with the aggregator, and a deployment sets it for both.
pub const LIST_KEYS: &[&str] = &["clickhouse.shard_urls"];

impl runtime::service::ServiceSettings for Settings {
    const LIST_KEYS: &'static [&'static str] = LIST_KEYS;

    fn log(&self) -> &LogSettings {
        &self.log
    }

    /// The secrets it holds were chosen, not copied from compose/.env.example.
    fn check_secrets(&self) -> Result<(), runtime::secrets::SecretError> {
        runtime::secrets::check(
            "TELEMETRY__CLICKHOUSE__PASSWORD",
            self.clickhouse.password.expose(),
        )?;
        runtime::secrets::check("TELEMETRY__NATS__PASSWORD", self.nats.password.expose())
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct ConsumerSettings {
    /// Address of `/metrics` and `/healthz`: the consumer has no public routes. Once
    /// called `listen`, which is still read.
    #[serde(alias = "listen")]
    pub internal_listen: String,
    /// Name of the durable pull consumer that every consumer process shares.
    pub durable: String,
    /// A batch is written when it holds this many messages (each one event, or a group
    /// of them that ingest published together)...
    pub batch_rows: usize,
    /// ...or this many payload bytes (so that messages of many events cannot make an
    /// INSERT unbounded)...
    pub batch_bytes: usize,
    /// ...or this long after its pull request was sent (not after its first message:
    /// a quiet queue returns what it has when this runs out), whichever comes first.
    #[serde(with = "humantime_serde")]
    pub batch_max_wait: Duration,
    /// Batches in progress at once in this process (pulling, inserting, acking overlap).
    pub workers: usize,
    /// How long JetStream waits for an ack before redelivering. Held messages are kept
    /// alive with progress acks while an insert is retried, so this only bounds how soon a
    /// crashed consumer's messages go to another one.
    #[serde(with = "humantime_serde")]
    pub ack_wait: Duration,
    /// Unacknowledged messages across all consumer processes. Must exceed `batch_rows`
    /// times `workers` (times the number of processes) so that full batches can form.
    pub max_ack_pending: i64,
    /// Raw rows are deleted this many days after `received_at`; applied on every start.
    pub retention_days: u32,
    /// Apply the schema migrations at start. Off where the consumer's ClickHouse user may
    /// only insert (compose: a one-shot `consumer migrate` as `migrator` does it); the
    /// consumer then waits until every migration it knows is recorded.
    pub migrate: bool,
}

impl Settings {
    /// How long the erasure records are kept: see `NatsSettings::erasure_stream`.
    pub fn erasure_stream(&self) -> async_nats::jetstream::stream::Config {
        self.nats.erasure_stream(Duration::from_secs(
            u64::from(self.consumer.retention_days) * 24 * 3600,
        ))
    }
}

impl Default for ConsumerSettings {
    fn default() -> Self {
        Self {
            internal_listen: "127.0.0.1:9101".into(),
            durable: topology::names::DURABLE.into(),
            batch_rows: 10_000,
            // About 20 000 events of a typical size: an INSERT of the size the drain
            // bench found fastest, whatever the grouping.
            batch_bytes: 8 * 1024 * 1024,
            batch_max_wait: Duration::from_secs(1),
            workers: 2,
            ack_wait: Duration::from_secs(30),
            max_ack_pending: 50_000,
            retention_days: 365,
            migrate: true,
        }
    }
}
