//! The counts every statistics document is made of: runs by outcome ([`RunCounts`]), and
//! a group of them with the installations behind it ([`Group`]), the unit that
//! `anonymity` decides on and `stats` reads.

use clickhouse::Row;
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

    fn finished(&self) -> u64 {
        self.success + self.failed + self.aborted
    }

    /// Successes among the runs that finished; `None` before any has.
    pub fn success_rate(&self) -> Option<f64> {
        let finished = self.finished();
        ratio(self.success, finished)
    }

    /// Failures among the runs that finished; `None` before any has.
    pub fn failure_rate(&self) -> Option<f64> {
        let finished = self.finished();
        ratio(self.failed, finished)
    }
}

/// `part` of `whole`, as every rate and share is published: to four places, enough for a
/// chart and the same bytes on every platform; `None` of nothing.
pub(crate) fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| (part as f64 / whole as f64 * 10_000.0).round() / 10_000.0)
}

/// One group: a dimension value and its run counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    pub value: String,
    #[serde(flatten)]
    pub counts: RunCounts,
    /// The installations of its runs (at least); never published.
    #[serde(skip)]
    pub installs: u64,
    /// The key of its runs (migration 0008), from which the noise of its counts is
    /// drawn (crate::noise); never published.
    #[serde(skip)]
    pub cell_key: u64,
}
