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

/// Count runs whose first event falls in the last `days` days (all runs when `None`).
pub async fn summary(
    client: &Client,
    days: Option<u32>,
    stuck_after_secs: u64,
) -> clickhouse::error::Result<RunCounts> {
    // FINAL: a redelivered event must not count twice (ARCHITECTURE.md, "Exactly once").
    client
        .query(
            "SELECT
                count() AS runs,
                countIf(outcome = 'success') AS success,
                countIf(outcome = 'failed') AS failed,
                countIf(outcome = 'aborted') AS aborted,
                countIf(outcome = '' AND started < now64(3) - toIntervalSecond(?)) AS unfinished,
                countIf(outcome = '' AND started >= now64(3) - toIntervalSecond(?)) AS in_progress
            FROM (
                SELECT
                    coalesce(execution_id, random_id) AS run,
                    argMinIf(status, received_at, status IN ('success', 'failed', 'aborted')) AS outcome,
                    min(received_at) AS started
                FROM events FINAL
                GROUP BY run
                HAVING ? = 0 OR started >= now64(3) - toIntervalDay(?)
            )",
        )
        .bind(stuck_after_secs)
        .bind(stuck_after_secs)
        .bind(days.unwrap_or(0))
        .bind(days.unwrap_or(0))
        .fetch_one()
        .await
}
