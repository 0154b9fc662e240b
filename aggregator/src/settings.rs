//! The aggregator's configuration. README.md ("Configuration") lists every key.

use std::time::Duration;

use runtime::logging::LogSettings;
use serde::{Deserialize, Serialize};
use topology::store::ClickHouseSettings;
use topology::stream::NatsSettings;

/// Keys whose environment value is a comma-separated list.
pub const LIST_KEYS: &[&str] = &["aggregator.trusted_proxies", "clickhouse.shard_urls"];

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Settings {
    pub aggregator: AggregatorSettings,
    pub clickhouse: ClickHouseSettings,
    /// The streams, for deletion requests only: the admin API records an erasure and
    /// reads the consumer's receipt. The same section as ingest's and the consumer's, so
    /// that the names agree; the aggregator reads only the connection and the stream and
    /// subject names.
    pub nats: NatsSettings,
    pub log: LogSettings,
}

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
        runtime::secrets::check("TELEMETRY__NATS__PASSWORD", self.nats.password.expose())?;
        runtime::secrets::check_token(
            "TELEMETRY__AGGREGATOR__ADMIN_TOKEN",
            self.aggregator.admin_token.expose(),
        )
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct AggregatorSettings {
    /// Address of the public statistics API and dashboard.
    pub listen: String,
    /// Address of the operators' routes (`/metrics`, `/healthz`, `/admin/v1`), never
    /// routed by the proxy.
    pub internal_listen: String,
    /// Public requests handled at once; beyond this, 503 rather than a queue.
    pub max_concurrency: usize,
    /// A public request that takes longer is answered 503.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Public requests per minute per client; 0 switches the limit off.
    pub rate_limit_per_minute: u32,
    /// Requests a client may send at once (a dashboard view loads a few scripts).
    pub rate_limit_burst: u32,
    /// Most clients the rate limiter remembers.
    pub rate_limit_max_clients: usize,
    /// Proxies that append the client's address to `X-Forwarded-For`.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// A run with no terminal status this long after its first event is `unfinished`;
    /// before that it is `in_progress`.
    #[serde(with = "humantime_serde")]
    pub stuck_after: Duration,
    /// A day's statistics are frozen this long after the day ended: no event can change
    /// them any more (a queue backlog is at most `nats.max_age`, and a run a day long).
    #[serde(with = "humantime_serde")]
    pub freeze_after: Duration,
    /// How long after a UTC day has ended it is released to the public (crate::release):
    /// longer than `stuck_after`, so that the day's runs have finished or count as
    /// unfinished when it is.
    #[serde(with = "humantime_serde")]
    pub release_delay: Duration,
    /// No published number comes from fewer runs than this (k-anonymity).
    pub k_min: u64,
    /// The noise on every published count (crate::noise): a discrete Laplace variable
    /// of this parameter, e^(−ε|x|); smaller is noisier. 1.0: a standard deviation of
    /// about 1.4 runs.
    pub noise_epsilon: f64,
    /// Publish exact counts, without noise. Only for tests of the statistics'
    /// arithmetic: exact counts cannot stop a reader who pads a victim's group with
    /// made-up runs (ARCHITECTURE.md, "What publication guarantees").
    pub exact_counts: bool,
    /// How often `aggregator serve` recomputes the days that are not frozen.
    #[serde(with = "humantime_serde")]
    pub refresh_interval: Duration,
    /// The fewest successful runs with a duration an app needs for its install durations
    /// (quantiles) to be published: fewer, and a quantile is one run's own value.
    pub quantile_min_runs: u64,
    /// The fewest finished runs an app needs to be ranked by failure rate, in any window.
    pub rate_min_runs: u64,
    /// ... and per day of the window, so that the bar rises with the window.
    pub rate_min_runs_per_day: f64,
    /// Bearer token of the admin API (`/admin/v1/...`); empty switches the API off.
    /// Set it from the environment (`TELEMETRY__AGGREGATOR__ADMIN_TOKEN`), not a file.
    pub admin_token: topology::secret::Secret,
    /// How long a deletion request waits for the consumer's receipt before it answers
    /// `"complete": false`: above the consumer's `ack_wait` plus the 10 s grace the
    /// consumer allows a batch held from before the erasure.
    #[serde(with = "humantime_serde")]
    pub erasure_timeout: Duration,
}

impl Default for AggregatorSettings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8081".into(),
            internal_listen: "127.0.0.1:9102".into(),
            max_concurrency: 256,
            request_timeout: Duration::from_secs(10),
            rate_limit_per_minute: 600,
            rate_limit_burst: 120,
            rate_limit_max_clients: 100_000,
            trusted_proxies: Vec::new(),
            stuck_after: Duration::from_secs(2 * 3600),
            freeze_after: Duration::from_secs(8 * 24 * 3600),
            release_delay: Duration::from_secs(3 * 3600),
            k_min: 5,
            noise_epsilon: 1.0,
            exact_counts: false,
            refresh_interval: Duration::from_secs(60),
            quantile_min_runs: 20,
            rate_min_runs: 10,
            rate_min_runs_per_day: 1.0,
            admin_token: Default::default(),
            erasure_timeout: Duration::from_secs(60),
        }
    }
}

impl AggregatorSettings {
    /// The refresh over one server's `events`.
    pub fn refresh(&self) -> crate::materialize::Refresh {
        crate::materialize::Refresh {
            stuck_after: self.stuck_after,
            freeze_after: self.freeze_after,
            release_delay: self.release_delay,
            events: topology::names::EVENTS_TABLE,
        }
    }
}

impl Settings {
    /// The refresh over the raw events where `clickhouse` has them: on a cluster, every
    /// shard's, through `events_all`.
    pub fn refresh(&self) -> crate::materialize::Refresh {
        crate::materialize::Refresh {
            events: self.clickhouse.events_table(),
            ..self.aggregator.refresh()
        }
    }
}
