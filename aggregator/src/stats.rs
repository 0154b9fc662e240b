//! Statistics over runs, read from ClickHouse.
//!
//! A run is one `execution_id`, or the `random_id` when the client sent none. Its outcome
//! is its first terminal status among success, failed and aborted; a run without one is
//! `in_progress` until `stuck_after` has passed since its first event, then `unfinished`.

use clickhouse::{Client, Row};
use serde::{Deserialize, Serialize};

/// The run counts that every statistics document names the same way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct RunCounts {
    pub runs: u64,
    pub success: u64,
    pub failed: u64,
    pub aborted: u64,
    pub unfinished: u64,
    pub in_progress: u64,
}

impl RunCounts {
    pub fn add(&mut self, other: &RunCounts) {
        self.runs += other.runs;
        self.success += other.success;
        self.failed += other.failed;
        self.aborted += other.aborted;
        self.unfinished += other.unfinished;
        self.in_progress += other.in_progress;
    }

    /// Count `runs` runs with `outcome`.
    pub fn count(&mut self, outcome: &str, runs: u64) {
        self.runs += runs;
        match outcome {
            "success" => self.success += runs,
            "failed" => self.failed += runs,
            "aborted" => self.aborted += runs,
            "unfinished" => self.unfinished += runs,
            _ => self.in_progress += runs,
        }
    }

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
    let mut counts = RunCounts::default();
    for row in rows {
        counts.count(&row.outcome, row.runs);
    }
    Ok(counts)
}

/// Run counts per value of one dimension over the window, for all apps.
pub async fn breakdown(
    client: &Client,
    dimension: &str,
    days: Option<u32>,
) -> clickhouse::error::Result<Vec<crate::anonymity::Group>> {
    #[derive(Row, Deserialize)]
    struct ByValue {
        value: String,
        outcome: String,
        runs: u64,
    }
    let rows: Vec<ByValue> = client
        .query(&format!(
            "SELECT value, outcome, sum(runs) AS runs FROM stats_daily
             WHERE {current} AND dimension = ? AND nsapp = '' AND value != ''
               AND (? = 0 OR day > today() - ?)
             GROUP BY value, outcome ORDER BY value",
            current = crate::materialize::CURRENT
        ))
        .bind(dimension)
        .bind(days.unwrap_or(0))
        .bind(days.unwrap_or(0))
        .fetch_all()
        .await?;
    let mut groups: Vec<crate::anonymity::Group> = Vec::new();
    for row in rows {
        if groups.last().is_none_or(|g| g.value != row.value) {
            groups.push(crate::anonymity::Group {
                value: row.value.clone(),
                counts: RunCounts::default(),
            });
        }
        if let Some(g) = groups.last_mut() {
            g.counts.count(&row.outcome, row.runs);
        }
    }
    Ok(groups)
}
