//! The counts every statistics document is made of: runs by [`Outcome`] ([`RunCounts`]),
//! and a group of them with the installations behind it ([`Group`]), the unit that
//! `anonymity` decides on and `stats` reads. The outcomes' names, the SQL that counts
//! them (`stats`) and the published fields all follow [`Outcome`].

use clickhouse::Row;
use serde::{Deserialize, Serialize};

/// How a run ended, as the rollup stores it (`stats_groups.outcome`) and the documents
/// count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    Success,
    Failed,
    Aborted,
    /// No terminal status, and past `stuck_after` since its first event.
    Unfinished,
    /// No terminal status yet.
    InProgress,
}

impl Outcome {
    /// Every outcome, in the order of [`RunCounts`]' fields.
    pub const ALL: [Outcome; 5] = [
        Outcome::Success,
        Outcome::Failed,
        Outcome::Aborted,
        Outcome::Unfinished,
        Outcome::InProgress,
    ];

    /// The name in the rollup, the client's terminal status for those that are one.
    pub const fn name(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failed => "failed",
            Outcome::Aborted => "aborted",
            Outcome::Unfinished => "unfinished",
            Outcome::InProgress => "in_progress",
        }
    }

    /// Its place in [`Outcome::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }

    /// Whether it says the run did not succeed, and why: the runs the error analysis is
    /// about.
    pub const fn is_failure(self) -> bool {
        matches!(self, Outcome::Failed | Outcome::Aborted)
    }

    /// Whether the run finished: the denominator of every rate.
    pub const fn is_finished(self) -> bool {
        matches!(self, Outcome::Success | Outcome::Failed | Outcome::Aborted)
    }

    /// `('failed', 'aborted')`: the failures as an SQL list.
    pub fn failures_sql() -> String {
        let names: Vec<String> = Outcome::ALL
            .iter()
            .filter(|o| o.is_failure())
            .map(|o| format!("'{}'", o.name()))
            .collect();
        format!("({})", names.join(", "))
    }
}

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

    /// The runs with `outcome`.
    pub const fn of(&self, outcome: Outcome) -> u64 {
        match outcome {
            Outcome::Success => self.success,
            Outcome::Failed => self.failed,
            Outcome::Aborted => self.aborted,
            Outcome::Unfinished => self.unfinished,
            Outcome::InProgress => self.in_progress,
        }
    }

    /// The counts that `count` gives for each outcome, and their sum as the runs.
    pub fn from_outcomes(mut count: impl FnMut(Outcome) -> u64) -> RunCounts {
        let [success, failed, aborted, unfinished, in_progress] = Outcome::ALL.map(&mut count);
        RunCounts {
            runs: success + failed + aborted + unfinished + in_progress,
            success,
            failed,
            aborted,
            unfinished,
            in_progress,
        }
    }

    /// The runs that finished: success, failed or aborted.
    pub fn finished(&self) -> u64 {
        Outcome::ALL
            .iter()
            .filter(|o| o.is_finished())
            .map(|&o| self.of(o))
            .sum()
    }

    /// The runs that failed or were aborted.
    pub fn failures(&self) -> u64 {
        Outcome::ALL
            .iter()
            .filter(|o| o.is_failure())
            .map(|&o| self.of(o))
            .sum()
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

/// Run counts with what the k rule and the noise need of them: the installations behind
/// them (at least: see migration 0004) and the key of their runs (migration 0008,
/// crate::noise). Never published as such.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub counts: RunCounts,
    pub installs: u64,
    pub cell_key: u64,
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

impl Group {
    pub fn new(value: String, tally: Tally) -> Self {
        Group {
            value,
            counts: tally.counts,
            installs: tally.installs,
            cell_key: tally.cell_key,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outcomes_are_the_counts_fields_in_order() {
        for (i, o) in Outcome::ALL.into_iter().enumerate() {
            assert_eq!(o.index(), i);
        }
        let counts = RunCounts::from_outcomes(|o| 10u64.pow(o.index() as u32));
        assert_eq!(counts.runs, 11_111);
        let published = serde_json::to_value(counts).unwrap();
        for o in Outcome::ALL {
            assert_eq!(published[o.name()], counts.of(o), "{o:?}");
        }
        assert_eq!(counts.failures(), 10 + 100);
        assert_eq!(Outcome::failures_sql(), "('failed', 'aborted')");
    }
}
