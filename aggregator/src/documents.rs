//! The published documents: what the API serves and `aggregator export` writes.
//!
//! Every document says when its statistics were materialised (`generated_at`), the
//! window it covers and the `k` its groups respect, and names run counts the same way
//! (`runs`, `success`, `failed`, `aborted`, `unfinished`, `in_progress`). Each is built
//! from the materialised tables only, so two builds between refreshes give the same
//! bytes; that is what makes the API's ETags stable and the export reproducible.

use std::collections::BTreeMap;

use clickhouse::Client;
use serde::Serialize;
use time::OffsetDateTime;

use crate::anonymity::{self, Published};
use crate::settings::AggregatorSettings;
use crate::stats::{self, Durations, RunCounts, Window};

/// The header of every document.
#[derive(Debug, Clone, Serialize)]
pub struct Meta {
    /// When the statistics were last materialised (`null` before the first refresh).
    #[serde(with = "time::serde::rfc3339::option")]
    pub generated_at: Option<OffsetDateTime>,
    pub window: Window,
    /// No published group has fewer runs than this.
    pub k: u64,
}

/// `GET /v1/stats/summary`.
#[derive(Debug, Serialize)]
pub struct Summary {
    #[serde(flatten)]
    pub meta: Meta,
    /// True when the window holds fewer than `k` runs: the counts are then withheld.
    pub suppressed: bool,
    #[serde(flatten)]
    pub counts: Option<RunCounts>,
    pub success_rate: Option<f64>,
}

/// One app in `GET /v1/stats/apps`.
#[derive(Debug, Serialize)]
pub struct AppEntry {
    pub nsapp: String,
    #[serde(flatten)]
    pub counts: RunCounts,
    pub success_rate: Option<f64>,
    pub failure_rate: Option<f64>,
    /// Install duration of successful runs, when at least `k` reported one.
    pub duration: Option<Durations>,
}

/// An app in the failure-rate ranking.
#[derive(Debug, Serialize)]
pub struct RateEntry {
    pub nsapp: String,
    pub runs: u64,
    pub failed: u64,
    pub failure_rate: f64,
}

/// `GET /v1/stats/apps`.
#[derive(Debug, Serialize)]
pub struct Apps {
    #[serde(flatten)]
    pub meta: Meta,
    /// Apps with at least `k` runs, most runs first.
    pub apps: Vec<AppEntry>,
    /// The apps below `k`, together, when they reach `k` between them.
    pub other: Option<RunCounts>,
    pub suppressed_groups: usize,
    /// The smallest number of finished runs an app needs to be ranked by failure rate:
    /// it grows with the window, so that a few failures of a rarely used script do not
    /// top the ranking.
    pub min_runs: u64,
    /// Apps with at least `min_runs` finished runs, highest failure rate first.
    pub highest_failure_rate: Vec<RateEntry>,
}

/// `GET /v1/stats/apps/{nsapp}`.
#[derive(Debug, Serialize)]
pub struct App {
    #[serde(flatten)]
    pub meta: Meta,
    pub nsapp: String,
    #[serde(flatten)]
    pub counts: RunCounts,
    pub success_rate: Option<f64>,
    pub failure_rate: Option<f64>,
    pub duration: Option<Durations>,
    /// The app's runs by type, os, pve, error_category and exit_code.
    pub breakdowns: BTreeMap<&'static str, Published>,
}

/// One day of `GET /v1/stats/daily`.
#[derive(Debug, Serialize)]
pub struct Day {
    pub day: String,
    #[serde(flatten)]
    pub counts: RunCounts,
}

/// `GET /v1/stats/daily`.
#[derive(Debug, Serialize)]
pub struct Daily {
    #[serde(flatten)]
    pub meta: Meta,
    /// Days with at least `k` runs, oldest first.
    pub days: Vec<Day>,
    /// Days left out because they had fewer than `k` runs.
    pub suppressed_days: usize,
}

/// `GET /v1/stats/os` and `GET /v1/stats/pve`: one dimension.
#[derive(Debug, Serialize)]
pub struct Breakdown {
    #[serde(flatten)]
    pub meta: Meta,
    pub dimension: &'static str,
    #[serde(flatten)]
    pub published: Published,
}

/// `GET /v1/stats/hardware`: resource configurations and environment.
#[derive(Debug, Serialize)]
pub struct Hardware {
    #[serde(flatten)]
    pub meta: Meta,
    pub dimensions: BTreeMap<&'static str, Published>,
}

/// An exit code with what it usually means.
#[derive(Debug, Serialize)]
pub struct ExitCode {
    pub value: String,
    pub description: Option<&'static str>,
    #[serde(flatten)]
    pub counts: RunCounts,
}

#[derive(Debug, Serialize)]
pub struct ExitCodes {
    pub groups: Vec<ExitCode>,
    pub other: Option<RunCounts>,
    pub suppressed_groups: usize,
}

/// `GET /v1/stats/errors`: why failed and aborted runs ended.
#[derive(Debug, Serialize)]
pub struct Errors {
    #[serde(flatten)]
    pub meta: Meta,
    pub categories: Published,
    pub exit_codes: ExitCodes,
}

/// The dimensions of `/v1/stats/hardware`, as materialised.
pub const HARDWARE: &[&str] = &[
    "cores",
    "ram",
    "disk",
    "cpu_vendor",
    "gpu_vendor",
    "gpu_passthrough",
    "arch",
    "ct_type",
    "type",
    "platform",
    "method",
    "repo_source",
];

/// The per-app dimensions of `/v1/stats/apps/{nsapp}` (materialize::PER_APP).
const PER_APP: &[&str] = &["type", "os", "pve", "error_category", "exit_code"];

/// Builds documents from one ClickHouse.
pub struct Documents {
    client: Client,
    k: u64,
    rate_min_runs: u64,
    rate_min_runs_per_day: f64,
}

impl Documents {
    pub fn new(client: Client, settings: &AggregatorSettings) -> Self {
        Self {
            client,
            k: settings.k_min,
            rate_min_runs: settings.rate_min_runs,
            rate_min_runs_per_day: settings.rate_min_runs_per_day,
        }
    }

    pub async fn meta(&self, window: Window) -> clickhouse::error::Result<Meta> {
        Ok(Meta {
            generated_at: stats::as_of(&self.client).await?,
            window,
            k: self.k,
        })
    }

    pub async fn summary(&self, meta: Meta) -> clickhouse::error::Result<Summary> {
        let counts = stats::counts(&self.client, meta.window, "").await?;
        let shown = counts.runs >= self.k;
        Ok(Summary {
            meta,
            suppressed: !shown,
            success_rate: if shown { counts.success_rate() } else { None },
            counts: shown.then_some(counts),
        })
    }

    fn publish_durations(&self, d: Durations) -> Option<Durations> {
        (d.runs >= self.k).then_some(d)
    }

    pub async fn apps(&self, meta: Meta) -> clickhouse::error::Result<Apps> {
        let window = meta.window;
        let groups = stats::breakdown(&self.client, "app", "", window).await?;
        let published = anonymity::publish(groups, self.k);
        let mut durations: BTreeMap<String, Durations> = stats::durations(&self.client, window, "")
            .await?
            .into_iter()
            .collect();
        let days = match window.days {
            Some(d) => d,
            None => stats::days_covered(&self.client, window).await?,
        };
        let min_runs = self
            .k
            .max(self.rate_min_runs)
            .max((self.rate_min_runs_per_day * f64::from(days)).ceil() as u64);
        let apps: Vec<AppEntry> = published
            .groups
            .into_iter()
            .map(|g| AppEntry {
                duration: durations
                    .remove(&g.value)
                    .and_then(|d| self.publish_durations(d)),
                success_rate: g.counts.success_rate(),
                failure_rate: g.counts.failure_rate(),
                nsapp: g.value,
                counts: g.counts,
            })
            .collect();
        let mut ranked: Vec<RateEntry> = apps
            .iter()
            .filter(|a| a.counts.success + a.counts.failed + a.counts.aborted >= min_runs)
            .filter_map(|a| {
                Some(RateEntry {
                    nsapp: a.nsapp.clone(),
                    runs: a.counts.runs,
                    failed: a.counts.failed,
                    failure_rate: a.failure_rate?,
                })
            })
            .collect();
        ranked.sort_by(|a, b| {
            b.failure_rate
                .total_cmp(&a.failure_rate)
                .then(b.runs.cmp(&a.runs))
                .then(a.nsapp.cmp(&b.nsapp))
        });
        ranked.truncate(20);
        Ok(Apps {
            meta,
            apps,
            other: published.other,
            suppressed_groups: published.suppressed_groups,
            min_runs,
            highest_failure_rate: ranked,
        })
    }

    /// One app's document; `None` when it has fewer than `k` runs in the window, so
    /// that its absence says no more than "fewer than k".
    pub async fn app(&self, meta: Meta, nsapp: &str) -> clickhouse::error::Result<Option<App>> {
        let window = meta.window;
        let counts = stats::counts(&self.client, window, nsapp).await?;
        if counts.runs < self.k {
            return Ok(None);
        }
        let mut breakdowns = BTreeMap::new();
        for dimension in PER_APP {
            let groups = stats::breakdown(&self.client, dimension, nsapp, window).await?;
            breakdowns.insert(*dimension, anonymity::publish(groups, self.k));
        }
        let duration = stats::durations(&self.client, window, nsapp)
            .await?
            .into_iter()
            .next()
            .and_then(|(_, d)| self.publish_durations(d));
        Ok(Some(App {
            meta,
            nsapp: nsapp.to_owned(),
            success_rate: counts.success_rate(),
            failure_rate: counts.failure_rate(),
            counts,
            duration,
            breakdowns,
        }))
    }

    pub async fn daily(&self, meta: Meta) -> clickhouse::error::Result<Daily> {
        let all = stats::daily(&self.client, meta.window).await?;
        let total = all.len();
        let days: Vec<Day> = all
            .into_iter()
            .filter(|(_, c)| c.runs >= self.k)
            .map(|(day, counts)| Day {
                day: day.to_string(),
                counts,
            })
            .collect();
        Ok(Daily {
            meta,
            suppressed_days: total - days.len(),
            days,
        })
    }

    pub async fn breakdown(
        &self,
        meta: Meta,
        dimension: &'static str,
    ) -> clickhouse::error::Result<Breakdown> {
        let groups = stats::breakdown(&self.client, dimension, "", meta.window).await?;
        Ok(Breakdown {
            meta,
            dimension,
            published: anonymity::publish(groups, self.k),
        })
    }

    pub async fn hardware(&self, meta: Meta) -> clickhouse::error::Result<Hardware> {
        let mut dimensions = BTreeMap::new();
        for dimension in HARDWARE {
            let groups = stats::breakdown(&self.client, dimension, "", meta.window).await?;
            dimensions.insert(*dimension, anonymity::publish(groups, self.k));
        }
        Ok(Hardware { meta, dimensions })
    }

    pub async fn errors(&self, meta: Meta) -> clickhouse::error::Result<Errors> {
        let window = meta.window;
        let categories = stats::breakdown(&self.client, "error_category", "", window).await?;
        // Exit code 0 is a success's; a failed run never keeps it (schemas::parse).
        let codes: Vec<_> = stats::breakdown(&self.client, "exit_code", "", window)
            .await?
            .into_iter()
            .filter(|g| g.value != "0")
            .collect();
        let codes = anonymity::publish(codes, self.k);
        Ok(Errors {
            meta,
            categories: anonymity::publish(categories, self.k),
            exit_codes: ExitCodes {
                groups: codes
                    .groups
                    .into_iter()
                    .map(|g| ExitCode {
                        description: g
                            .value
                            .parse::<u8>()
                            .ok()
                            .and_then(schemas::category::describe_exit_code),
                        value: g.value,
                        counts: g.counts,
                    })
                    .collect(),
                other: codes.other,
                suppressed_groups: codes.suppressed_groups,
            },
        })
    }
}
