//! The aggregator's configuration. README.md ("Configuration") lists every key.

use std::time::Duration;

use runtime::logging::LogSettings;
use schemas::store::ClickHouseSettings;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Settings {
    pub aggregator: AggregatorSettings,
    pub clickhouse: ClickHouseSettings,
    pub log: LogSettings,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct AggregatorSettings {
    /// Address of the statistics API, `/metrics` and `/healthz`.
    pub listen: String,
    /// A run with no terminal status this long after its first event is `unfinished`;
    /// before that it is `in_progress`.
    #[serde(with = "humantime_serde")]
    pub stuck_after: Duration,
}

impl Default for AggregatorSettings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8081".into(),
            stuck_after: Duration::from_secs(2 * 3600),
        }
    }
}
