//! Statistics over runs, read from ClickHouse.
//!
//! A run is one `execution_id`, or the `random_id` when the client sent none. Its outcome
//! is its first terminal status among success, failed and aborted; a run without one is
//! `in_progress` until `stuck_after` has passed since its first event, then `unfinished`.

use clickhouse::{Client, Row};
use serde::{Deserialize, Serialize};

/// The run counts that every statistics document names the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct RunCounts {
    pub runs: u64,
    pub success: u64,
    pub failed: u64,
    pub aborted: u64,
    pub unfinished: u64,
    pub in_progress: u64,
}

impl RunCounts {
    /// Successes among the runs that finished; `None` before any has.
    pub fn success_rate(&self) -> Option<f64> {
        let finished = self.success + self.failed + self.aborted;
        (finished > 0).then(|| self.success as f64 / finished as f64)
    }
}

/// Run counts over the days of the window (the last `days` days, today included; every
/// day when `None`), from the materialised statistics.
pub async fn summary(client: &Client, days: Option<u32>) -> clickhouse::error::Result<RunCounts> {
    #[derive(Row, Deserialize)]
    struct ByOutcome {
        outcome: String,
        runs: u64,
    }
    let rows: Vec<ByOutcome> = client
        .query(&format!(
            "SELECT outcome, sum(runs) AS runs FROM stats_daily
             WHERE {current} AND dimension = 'all' AND nsapp = ''
               AND (? = 0 OR day > today() - ?)
             GROUP BY outcome",
            current = crate::materialize::CURRENT
        ))
        .bind(days.unwrap_or(0))
        .bind(days.unwrap_or(0))
        .fetch_all()
        .await?;
    let mut counts = RunCounts {
        runs: 0,
        success: 0,
        failed: 0,
        aborted: 0,
        unfinished: 0,
        in_progress: 0,
    };
    for row in rows {
        counts.runs += row.runs;
        match row.outcome.as_str() {
            "success" => counts.success += row.runs,
            "failed" => counts.failed += row.runs,
            "aborted" => counts.aborted += row.runs,
            "unfinished" => counts.unfinished += row.runs,
            _ => counts.in_progress += row.runs,
        }
    }
    Ok(counts)
}
