//! Reading the materialised statistics (migration 0002) back out of ClickHouse.
//!
//! Every query here reads only the current generation of each day (`CURRENT`), over a
//! window of days. Nothing here reads the raw events: the published numbers must stay
//! the same after the raw rows have expired.

use clickhouse::{Client, Row};
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::anonymity::Group;
use crate::materialize::CURRENT;

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
        (finished > 0).then(|| round4(self.success as f64 / finished as f64))
    }

    /// Failures among the runs that finished; `None` before any has.
    pub fn failure_rate(&self) -> Option<f64> {
        let finished = self.finished();
        (finished > 0).then(|| round4(self.failed as f64 / finished as f64))
    }
}

/// Rates are published to four places: enough for a chart, and the same bytes on every
/// platform.
fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// The days a document covers: the last `days` days up to `until` (a UTC date, the day of
/// the request), or every day (`days: None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Window {
    pub days: Option<u32>,
    #[serde(serialize_with = "iso_date")]
    pub until: Date,
}

fn iso_date<S: serde::Serializer>(date: &Date, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(date)
}

impl Window {
    /// The last `days` days (every day for `None`), today included.
    pub fn today(days: Option<u32>) -> Window {
        Window {
            days,
            until: OffsetDateTime::now_utc().date(),
        }
    }

    /// A short name for file names and the dashboard: `30d`, `all`.
    pub fn name(self) -> String {
        match self.days {
            Some(d) => format!("{d}d"),
            None => "all".into(),
        }
    }

    /// Bind the parameters of `IN_WINDOW`.
    fn bind(self, query: clickhouse::query::Query) -> clickhouse::query::Query {
        let days = self.days.unwrap_or(0);
        query.bind(days).bind(self.until.to_string()).bind(days)
    }
}

/// `WHERE` clause of a window over `day`; `Window::bind` binds its parameters. The end
/// of the window is passed in rather than ClickHouse's `today()`, which follows the
/// server's time zone, while `day` is a UTC date.
const IN_WINDOW: &str = "(? = 0 OR day > toDate(?) - ?)";

/// When the statistics were last materialised: the `generated_at` of every document.
pub async fn as_of(client: &Client) -> clickhouse::error::Result<Option<OffsetDateTime>> {
    #[derive(Row, Deserialize)]
    struct Latest {
        #[serde(with = "clickhouse::serde::time::datetime64::millis")]
        at: OffsetDateTime,
        days: u64,
    }
    let latest: Latest = client
        .query("SELECT max(computed_at) AS at, count() AS days FROM stats_days FINAL")
        .fetch_one()
        .await?;
    Ok((latest.days > 0).then_some(latest.at))
}

/// Run counts over the window, for all apps (`nsapp` empty) or one.
pub async fn counts(
    client: &Client,
    window: Window,
    nsapp: &str,
) -> clickhouse::error::Result<RunCounts> {
    #[derive(Row, Deserialize)]
    struct ByOutcome {
        outcome: String,
        runs: u64,
    }
    let query = client
        .query(&format!(
            "SELECT outcome, sum(runs) AS runs FROM stats_runs
             WHERE {CURRENT} AND dimension = 'all' AND nsapp = ? AND {IN_WINDOW}
             GROUP BY outcome"
        ))
        .bind(nsapp);
    let rows: Vec<ByOutcome> = window.bind(query).fetch_all().await?;
    let mut counts = RunCounts::default();
    for row in rows {
        counts.count(&row.outcome, row.runs);
    }
    Ok(counts)
}

/// Run counts per value of one dimension over the window, for all apps (`nsapp` empty)
/// or one, ordered by value. Runs without a value for the dimension are left out.
pub async fn breakdown(
    client: &Client,
    dimension: &str,
    nsapp: &str,
    window: Window,
) -> clickhouse::error::Result<Vec<Group>> {
    #[derive(Row, Deserialize)]
    struct ByValue {
        value: String,
        outcome: String,
        runs: u64,
    }
    let query = client
        .query(&format!(
            "SELECT value, outcome, sum(runs) AS runs FROM stats_runs
             WHERE {CURRENT} AND dimension = ? AND nsapp = ? AND value != '' AND {IN_WINDOW}
             GROUP BY value, outcome ORDER BY value, outcome"
        ))
        .bind(dimension)
        .bind(nsapp);
    let rows: Vec<ByValue> = window.bind(query).fetch_all().await?;
    let mut groups: Vec<Group> = Vec::new();
    for row in rows {
        if groups.last().is_none_or(|g| g.value != row.value) {
            groups.push(Group {
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

/// Run counts per day over the window, oldest first.
pub async fn daily(
    client: &Client,
    window: Window,
) -> clickhouse::error::Result<Vec<(Date, RunCounts)>> {
    #[derive(Row, Deserialize)]
    struct ByDay {
        #[serde(with = "clickhouse::serde::time::date")]
        day: Date,
        outcome: String,
        runs: u64,
    }
    let rows: Vec<ByDay> = window
        .bind(client.query(&format!(
            "SELECT day, outcome, sum(runs) AS runs FROM stats_runs
             WHERE {CURRENT} AND dimension = 'all' AND nsapp = '' AND {IN_WINDOW}
             GROUP BY day, outcome ORDER BY day, outcome"
        )))
        .fetch_all()
        .await?;
    let mut days: Vec<(Date, RunCounts)> = Vec::new();
    for row in rows {
        if days.last().is_none_or(|(d, _)| *d != row.day) {
            days.push((row.day, RunCounts::default()));
        }
        if let Some((_, c)) = days.last_mut() {
            c.count(&row.outcome, row.runs);
        }
    }
    Ok(days)
}

/// Install durations of the successful runs of one app over a window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Durations {
    /// The successful runs that reported a duration.
    pub runs: u64,
    pub p50_seconds: u32,
    pub p90_seconds: u32,
}

/// Durations per app over the window (one app when `nsapp` is not empty).
pub async fn durations(
    client: &Client,
    window: Window,
    nsapp: &str,
) -> clickhouse::error::Result<Vec<(String, Durations)>> {
    #[derive(Row, Deserialize)]
    struct ByApp {
        nsapp: String,
        runs: u64,
        q: Vec<f32>,
    }
    let query = client
        .query(&format!(
            "SELECT nsapp, sum(runs) AS runs, quantilesTDigestMerge(0.5, 0.9)(durations) AS q
             FROM stats_durations
             WHERE {CURRENT} AND (? = '' OR nsapp = ?) AND {IN_WINDOW}
             GROUP BY nsapp ORDER BY nsapp"
        ))
        .bind(nsapp)
        .bind(nsapp);
    let rows: Vec<ByApp> = window.bind(query).fetch_all().await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let q = |i: usize| r.q.get(i).map_or(0, |v| v.round().max(0.0) as u32);
            (
                r.nsapp,
                Durations {
                    runs: r.runs,
                    p50_seconds: q(0),
                    p90_seconds: q(1),
                },
            )
        })
        .collect())
}

/// How many days of the window have statistics: the denominator of the minimum sample
/// size for failure rates over `all`.
pub async fn days_covered(client: &Client, window: Window) -> clickhouse::error::Result<u32> {
    let n: u64 = window
        .bind(client.query(&format!(
            "SELECT count() FROM stats_days FINAL WHERE runs > 0 AND {IN_WINDOW}"
        )))
        .fetch_one()
        .await?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}
