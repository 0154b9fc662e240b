//! Reading the materialised statistics (migrations 0002 and 0004) back out of ClickHouse.
//!
//! Every query here reads only the days of the public release, each in the generation
//! it pinned (crate::release::RELEASED), over a scope: a window of days and a choice of
//! repositories. Nothing here reads the raw
//! events: the published numbers must stay the same after the raw rows have expired.
//! Every group comes with its installations (a lower bound: migration 0004), which
//! crate::anonymity needs to decide what may be published.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use clickhouse::{Client, Row};
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::counts::{Group, Outcome, RunCounts, Tally};
use crate::dimension::Dimension;
use crate::release::RELEASED;

/// The days a document covers: the last `days` days of the public release, up to the
/// last day it covers (`until`, a UTC date), or every day (`days: None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Window {
    pub days: Option<u32>,
    #[serde(serialize_with = "iso_date")]
    pub until: Date,
}

fn iso_date<S: serde::Serializer>(date: &Date, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(date)
}

/// The windows a document can cover, in days (`None`: every day). Fixed, because two
/// windows that differ by one day would give that day's exact numbers by subtraction,
/// which the daily view withholds below k.
pub const WINDOWS: [Option<u32>; 6] = [Some(1), Some(7), Some(30), Some(90), Some(365), None];

impl Window {
    /// The last `days` days (every day for `None`) of the release. Until the release is
    /// read (crate::documents::Documents::meta) it is taken to end yesterday, the
    /// latest day a release can cover.
    pub fn last(days: Option<u32>) -> Window {
        let today = OffsetDateTime::now_utc().date();
        Window {
            days,
            until: today.previous_day().unwrap_or(today),
        }
    }

    /// The window named as the API and the dashboard name it (`30`, `30d` or `all`);
    /// `None` for any other.
    pub fn named(name: &str) -> Option<Window> {
        if name == "all" {
            return Some(Window::last(None));
        }
        let days: u32 = name.strip_suffix('d').unwrap_or(name).parse().ok()?;
        WINDOWS
            .contains(&Some(days))
            .then(|| Window::last(Some(days)))
    }

    /// A short name for file names and the dashboard: `30d`, `all`.
    pub fn name(self) -> String {
        match self.days {
            Some(d) => format!("{d}d"),
            None => "all".into(),
        }
    }
}

/// Which repositories' runs a document counts. The scripts run from the production
/// repository (ProxmoxVE), from the development one (ProxmoxVED), whose runs fail far
/// more often by design, or from a fork.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Repo {
    Production,
    Development,
    External,
    All,
}

impl Repo {
    /// Every choice, the default first.
    pub const CHOICES: [Repo; 4] = [
        Repo::Production,
        Repo::Development,
        Repo::External,
        Repo::All,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Repo::Production => "production",
            Repo::Development => "development",
            Repo::External => "external",
            Repo::All => "all",
        }
    }

    pub fn named(name: &str) -> Option<Repo> {
        Repo::CHOICES.into_iter().find(|r| r.name() == name)
    }

    /// The values of the rollups' `repo` column this choice counts.
    pub(crate) fn values(self) -> Vec<&'static str> {
        match self {
            Repo::All => vec!["production", "development", "external"],
            one => vec![one.name()],
        }
    }
}

/// Which host platform's runs a document counts (migration 0010): Proxmox VE, the
/// scripts' home and the default, or Incus, which the v2 client also installs on, or
/// both. Apart, so that Incus runs are not read as PVE versions and PVE resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Pve,
    Incus,
    All,
}

impl Platform {
    /// Every choice, the default first.
    pub const CHOICES: [Platform; 3] = [Platform::Pve, Platform::Incus, Platform::All];

    pub fn name(self) -> &'static str {
        match self {
            Platform::Pve => "pve",
            Platform::Incus => "incus",
            Platform::All => "all",
        }
    }

    pub fn named(name: &str) -> Option<Platform> {
        Platform::CHOICES.into_iter().find(|p| p.name() == name)
    }

    /// The platforms one publication is made of: `all` is the sum of the two.
    pub(crate) fn parts(self) -> Vec<Platform> {
        match self {
            Platform::All => vec![Platform::Pve, Platform::Incus],
            one => vec![one],
        }
    }
}

/// What a document counts: a window of days, a choice of repositories and of host
/// platforms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Scope {
    pub window: Window,
    pub repo: Repo,
    pub platform: Platform,
}

impl Scope {
    /// The scopes of one repository each that this one adds up: `all` is the sum of
    /// what each repository publishes (crate::documents), so that `all` minus two
    /// repositories gives nothing the third does not publish itself.
    ///
    /// The same for platforms: a scope of both is the sum of what each publishes.
    pub fn parts(self) -> Vec<Scope> {
        let repos = match self.repo {
            Repo::All => vec![Repo::Production, Repo::Development, Repo::External],
            one => vec![one],
        };
        repos
            .into_iter()
            .flat_map(|repo| {
                self.platform
                    .parts()
                    .into_iter()
                    .map(move |platform| Scope {
                        repo,
                        platform,
                        ..self
                    })
            })
            .collect()
    }

    /// A name for caches and file paths: `production/30d`, and for another platform
    /// than the default `production/30d/incus`.
    pub fn name(self) -> String {
        match self.platform {
            Platform::Pve => format!("{}/{}", self.repo.name(), self.window.name()),
            other => format!(
                "{}/{}/{}",
                self.repo.name(),
                self.window.name(),
                other.name()
            ),
        }
    }

    /// Bind the parameters of `IN_SCOPE`.
    fn bind(self, query: clickhouse::query::Query) -> clickhouse::query::Query {
        let days = self.window.days.unwrap_or(0);
        query
            .bind(self.repo.values())
            .bind(
                self.platform
                    .parts()
                    .iter()
                    .map(|p| p.name())
                    .collect::<Vec<_>>(),
            )
            .bind(days)
            .bind(self.window.until.to_string())
            .bind(days)
    }
}

/// The end of the `WHERE` clause of every rollup query: the current generation of each
/// day, the scope's repositories, platforms and window. `Scope::bind` binds its parameters, after
/// those of the query before it. The end of the window is passed in rather than
/// ClickHouse's `today()`, which follows the server's time zone, while `day` is a UTC date.
const IN_SCOPE: &str = "repo IN ? AND platform IN ? AND (? = 0 OR day > toDate(?) - ?)";

/// The run counts by outcome, the installations and the key of a set of rollup rows, as
/// the columns of [`Tallied`] after its key.
static TALLY: LazyLock<String> = LazyLock::new(|| {
    let outcomes: Vec<String> = Outcome::ALL
        .iter()
        .map(|o| format!("sumIf(stats_groups.runs, outcome = '{}')", o.name()))
        .collect();
    format!(
        "[{}] AS counts,
         bitmapCardinality(groupBitmapMergeState(stats_groups.installs)) AS installs,
         groupBitXor(stats_groups.cell_key) AS cell_key",
        outcomes.join(", ")
    )
});

/// Outcomes that say why a run did not succeed.
static FAILURES: LazyLock<String> =
    LazyLock::new(|| format!("outcome IN {}", Outcome::failures_sql()));

/// A [`Tally`] as read, after its key (`K`: a value, an app and a value, a day). A
/// RowBinary row is read by position, so the key is one column, and the counts one array
/// in the order of [`Outcome::ALL`].
#[derive(Debug, Row, Deserialize)]
struct Tallied<K> {
    key: K,
    counts: Vec<u64>,
    installs: u64,
    cell_key: u64,
}

impl<K> Tallied<K> {
    fn split(self) -> (K, Tally) {
        let counts = RunCounts::from_outcomes(|o| self.counts.get(o.index()).copied().unwrap_or(0));
        (
            self.key,
            Tally {
                counts,
                installs: self.installs,
                cell_key: self.cell_key,
            },
        )
    }
}

/// When the public statistics were released: the `generated_at` of every document.
pub async fn as_of(client: &Client) -> clickhouse::error::Result<Option<OffsetDateTime>> {
    Ok(crate::release::latest(client).await?.map(|r| r.released_at))
}

/// Run counts over the scope, for all apps (`nsapp` empty) or one.
pub async fn counts(
    client: &Client,
    scope: Scope,
    nsapp: &str,
) -> clickhouse::error::Result<Tally> {
    let query = client
        .query(&format!(
            "SELECT '' AS key, {} FROM stats_groups
             WHERE {RELEASED} AND dimension = 'all' AND nsapp = ? AND {IN_SCOPE}",
            *TALLY
        ))
        .bind(nsapp);
    let row: Tallied<String> = scope.bind(query).fetch_one().await?;
    Ok(row.split().1)
}

/// Which runs of a dimension a breakdown counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Of<'a> {
    pub dimension: Dimension,
    /// All apps (empty) or one.
    pub nsapp: &'a str,
}

impl<'a> Of<'a> {
    /// A dimension over all apps.
    pub fn all(dimension: Dimension) -> Self {
        Of::app(dimension, "")
    }

    /// A dimension of one app's runs (all apps for an empty `nsapp`).
    pub fn app(dimension: Dimension, nsapp: &'a str) -> Self {
        Of { dimension, nsapp }
    }

    /// Only failed and aborted runs ([`Dimension::failures_only`]).
    pub fn failures(self) -> bool {
        self.dimension.failures_only()
    }

    fn outcomes(self) -> &'static str {
        if self.failures() { &FAILURES } else { "1" }
    }
}

/// Run counts per value of one dimension over the scope, ordered by value. Runs without
/// a value for the dimension are the group `""` (crate::anonymity never lists it).
pub async fn breakdown(
    client: &Client,
    of: Of<'_>,
    scope: Scope,
) -> clickhouse::error::Result<Vec<Group>> {
    let query = client
        .query(&format!(
            "SELECT value AS key, {} FROM stats_groups
             WHERE {RELEASED} AND dimension = ? AND nsapp = ? AND {} AND {IN_SCOPE}
             GROUP BY value ORDER BY value",
            *TALLY,
            of.outcomes()
        ))
        .bind(of.dimension.name())
        .bind(of.nsapp);
    let rows: Vec<Tallied<String>> = scope.bind(query).fetch_all().await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let (value, tally) = row.split();
            Group::new(value, tally)
        })
        .collect())
}

/// The installations of some values of a breakdown together (at least: two of them can
/// share a bucket, never one count twice).
pub async fn installs_of(
    client: &Client,
    of: Of<'_>,
    scope: Scope,
    values: &[&str],
) -> clickhouse::error::Result<u64> {
    let query = client
        .query(&format!(
            "SELECT bitmapCardinality(groupBitmapMergeState(installs)) FROM stats_groups
             WHERE {RELEASED} AND dimension = ? AND nsapp = ? AND value IN ? AND {} AND {IN_SCOPE}",
            of.outcomes()
        ))
        .bind(of.dimension.name())
        .bind(of.nsapp)
        .bind(values);
    scope.bind(query).fetch_one().await
}

/// One app's group of a per-app breakdown.
#[derive(Debug, Clone, PartialEq)]
pub struct AppGroup {
    pub nsapp: String,
    pub group: Group,
}

/// Every app's groups of a per-app dimension (materialize::PER_APP) at once, ordered by
/// app and value (`""` included): what the error analysis pivots by category, exit code
/// and pattern.
pub async fn per_app(
    client: &Client,
    dimension: Dimension,
    scope: Scope,
) -> clickhouse::error::Result<Vec<AppGroup>> {
    let query = client
        .query(&format!(
            "SELECT (nsapp, value) AS key, {} FROM stats_groups
             WHERE {RELEASED} AND dimension = ? AND nsapp != '' AND {} AND {IN_SCOPE}
             GROUP BY nsapp, value ORDER BY nsapp, value",
            *TALLY,
            Of::all(dimension).outcomes()
        ))
        .bind(dimension.name());
    let rows: Vec<Tallied<(String, String)>> = scope.bind(query).fetch_all().await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let ((nsapp, value), tally) = row.split();
            AppGroup {
                nsapp,
                group: Group::new(value, tally),
            }
        })
        .collect())
}

/// For every app, the installations of its groups of a per-app dimension that do not
/// pass the k rule on their own, together: what crate::anonymity::publish needs to
/// decide each app's table the way the app's own document does.
pub async fn small_installs_per_app(
    client: &Client,
    dimension: Dimension,
    scope: Scope,
    k: u64,
) -> clickhouse::error::Result<HashMap<String, u64>> {
    let query = client
        .query(&format!(
            "SELECT nsapp, bitmapCardinality(groupBitmapMergeState(b)) FROM (
                 SELECT nsapp, value, sum(stats_groups.runs) AS r,
                        groupBitmapMergeState(stats_groups.installs) AS b
                 FROM stats_groups
                 WHERE {RELEASED} AND dimension = ? AND nsapp != '' AND {} AND {IN_SCOPE}
                 GROUP BY nsapp, value
                 HAVING r < {k} OR bitmapCardinality(b) < {k})
             GROUP BY nsapp",
            Of::all(dimension).outcomes()
        ))
        .bind(dimension.name());
    let rows: Vec<(String, u64)> = scope.bind(query).fetch_all().await?;
    Ok(rows.into_iter().collect())
}

/// The installations of some days of the scope together (at least), for all apps
/// (`nsapp` empty) or one.
pub async fn installs_on(
    client: &Client,
    scope: Scope,
    nsapp: &str,
    days: &[Date],
) -> clickhouse::error::Result<u64> {
    let days: Vec<String> = days.iter().map(Date::to_string).collect();
    let query = client
        .query(&format!(
            "SELECT bitmapCardinality(groupBitmapMergeState(installs)) FROM stats_groups
             WHERE {RELEASED} AND dimension = 'all' AND nsapp = ? AND toString(day) IN ? AND {IN_SCOPE}"
        ))
        .bind(nsapp)
        .bind(days);
    scope.bind(query).fetch_one().await
}

/// Run counts per day over the scope, oldest first, for all apps (`nsapp` empty) or one.
pub async fn daily(
    client: &Client,
    scope: Scope,
    nsapp: &str,
) -> clickhouse::error::Result<Vec<(Date, Tally)>> {
    let query = client
        .query(&format!(
            "SELECT toUInt16(day) AS key, {} FROM stats_groups
             WHERE {RELEASED} AND dimension = 'all' AND nsapp = ? AND {IN_SCOPE}
             GROUP BY day ORDER BY day",
            *TALLY
        ))
        .bind(nsapp);
    let rows: Vec<Tallied<u16>> = scope.bind(query).fetch_all().await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let (day, tally) = row.split();
            Some((crate::materialize::date_of(day)?, tally))
        })
        .collect())
}

/// The last day of the scope on which each app had at least `k` runs from at least `k`
/// installations: when it was last used, told without pointing at a smaller group.
pub async fn last_active(
    client: &Client,
    scope: Scope,
    k: u64,
) -> clickhouse::error::Result<Vec<(String, Date)>> {
    #[derive(Row, Deserialize)]
    struct Last {
        nsapp: String,
        #[serde(with = "clickhouse::serde::time::date")]
        day: Date,
    }
    let query = client
        .query(&format!(
            "SELECT nsapp, max(day) AS day FROM (
                 SELECT nsapp, day, sum(runs) AS runs, bitmapCardinality(groupBitmapMergeState(installs)) AS installs
                 FROM stats_groups
                 WHERE {RELEASED} AND dimension = 'all' AND nsapp != '' AND {IN_SCOPE}
                 GROUP BY nsapp, day
                 HAVING runs >= {k} AND installs >= {k})
             GROUP BY nsapp ORDER BY nsapp"
        ));
    let rows: Vec<Last> = scope.bind(query).fetch_all().await?;
    Ok(rows.into_iter().map(|r| (r.nsapp, r.day)).collect())
}

/// Install durations of the successful runs of one app over a scope.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Durations {
    /// The successful runs that reported a duration; not published: a count beside
    /// the app's others, it could be subtracted from them, while quantiles cannot.
    #[serde(skip)]
    pub runs: u64,
    pub p25_seconds: u32,
    pub p50_seconds: u32,
    pub p75_seconds: u32,
    pub p90_seconds: u32,
    /// Their installations (at least), for the k rule; not published.
    #[serde(skip)]
    pub installs: u64,
}

/// Durations per app over the scope (one app when `nsapp` is not empty).
pub async fn durations(
    client: &Client,
    scope: Scope,
    nsapp: &str,
) -> clickhouse::error::Result<Vec<(String, Durations)>> {
    #[derive(Row, Deserialize)]
    struct ByApp {
        nsapp: String,
        runs: u64,
        installs: u64,
        q: Vec<f32>,
    }
    // The states were made for 0.5 and 0.9; a t-digest answers any level when merged.
    let query = client
        .query(&format!(
            "SELECT nsapp, sum(runs) AS runs, bitmapCardinality(groupBitmapMergeState(installs)) AS installs,
                    quantilesTDigestMerge(0.25, 0.5, 0.75, 0.9)(durations) AS q
             FROM stats_durations
             WHERE {RELEASED} AND (? = '' OR nsapp = ?) AND {IN_SCOPE}
             GROUP BY nsapp ORDER BY nsapp"
        ))
        .bind(nsapp)
        .bind(nsapp);
    let rows: Vec<ByApp> = scope.bind(query).fetch_all().await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let q = |i: usize| r.q.get(i).map_or(0, |v| v.round().max(0.0) as u32);
            (
                r.nsapp,
                Durations {
                    runs: r.runs,
                    p25_seconds: q(0),
                    p50_seconds: q(1),
                    p75_seconds: q(2),
                    p90_seconds: q(3),
                    installs: r.installs,
                },
            )
        })
        .collect())
}

/// How many days of the window have statistics: the denominator of runs per day and of
/// the minimum sample size for failure rates over `all`.
pub async fn days_covered(client: &Client, window: Window) -> clickhouse::error::Result<u32> {
    let days = window.days.unwrap_or(0);
    let n: u64 = client
        .query(
            "SELECT count() FROM stats_releases FINAL
             WHERE through = (SELECT max(through) FROM stats_releases)
               AND runs > 0 AND (? = 0 OR day > toDate(?) - ?)",
        )
        .bind(days)
        .bind(window.until.to_string())
        .bind(days)
        .fetch_one()
        .await?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// Every app the released statistics count, in any window or repository.
pub async fn known_apps(client: &Client) -> clickhouse::error::Result<HashSet<String>> {
    let apps: Vec<String> = client
        .query(&format!(
            "SELECT DISTINCT nsapp FROM stats_groups
             WHERE {RELEASED} AND dimension = 'all' AND nsapp != ''"
        ))
        .fetch_all()
        .await?;
    Ok(apps.into_iter().collect())
}
