//! The shapes of the published documents: what the API serves and `aggregator export`
//! writes, field by field. Their builder is crate::documents.
//!
//! Every document says when its statistics were materialised (`generated_at`), the
//! window and the repositories it covers, and the `k` its groups respect, and names run
//! counts the same way (`runs`, `success`, `failed`, `aborted`, `unfinished`,
//! `in_progress`).

use std::collections::BTreeMap;

use serde::Serialize;
use time::OffsetDateTime;

use crate::anonymity::Published;
use crate::counts::RunCounts;
use crate::stats::{Durations, Platform, Repo, Scope, Window};

/// The header of every document.
#[derive(Debug, Clone, Serialize)]
pub struct Meta {
    /// When the public release was cut (`null` before the first): the numbers change
    /// only when the next one is.
    #[serde(with = "time::serde::rfc3339::option")]
    pub generated_at: Option<OffsetDateTime>,
    pub window: Window,
    /// Whose runs are counted: `production`, `development`, `external` or `all`.
    pub repo: Repo,
    /// On which hosts: `pve` (Proxmox VE), `incus` or `all`.
    pub platform: Platform,
    /// No published number comes from fewer runs, or fewer installations, than this.
    pub k: u64,
    /// Every count carries noise of this parameter (crate::noise), drawn from the runs
    /// it counts; `null`: the counts are exact.
    pub noise_epsilon: Option<f64>,
}

impl Meta {
    pub fn scope(&self) -> Scope {
        Scope {
            window: self.window,
            repo: self.repo,
            platform: self.platform,
        }
    }
}

/// `GET /v1/stats/summary`.
#[derive(Debug, Serialize)]
pub struct Summary {
    #[serde(flatten)]
    pub meta: Meta,
    /// True when the scope's runs do not pass the k rule: the counts are then withheld.
    pub suppressed: bool,
    #[serde(flatten)]
    pub counts: Option<RunCounts>,
    pub success_rate: Option<f64>,
}

/// One app in `GET /v1/stats/apps`: what the script analysis lists.
#[derive(Debug, Serialize)]
pub struct AppEntry {
    pub nsapp: String,
    #[serde(flatten)]
    pub counts: RunCounts,
    pub success_rate: Option<f64>,
    pub failure_rate: Option<f64>,
    /// Runs per day of the window (per day with statistics, for `all`).
    pub runs_per_day: f64,
    /// The last day on which the app had at least `k` runs from `k` installations.
    pub last_active: Option<String>,
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
    /// Every app that passes the k rule, most runs first.
    pub apps: Vec<AppEntry>,
    /// The apps that do not, together, when they pass between them.
    pub other: Option<RunCounts>,
    pub suppressed_groups: usize,
    /// The smallest number of finished runs an app needs to be ranked by failure rate:
    /// it grows with the window, so that a few failures of a rarely used script do not
    /// top the ranking.
    pub min_runs: u64,
    /// Apps with at least `min_runs` finished runs, highest failure rate first.
    pub highest_failure_rate: Vec<RateEntry>,
    /// The published apps with the fewest runs, fewest first.
    pub least_used: Vec<String>,
    /// The published apps last active most recently, most recent first.
    pub recently_active: Vec<String>,
}

/// `GET /v1/stats/apps/{nsapp}`: one app's page.
#[derive(Debug, Serialize)]
pub struct App {
    #[serde(flatten)]
    pub meta: Meta,
    pub nsapp: String,
    #[serde(flatten)]
    pub counts: RunCounts,
    pub success_rate: Option<f64>,
    pub failure_rate: Option<f64>,
    pub runs_per_day: f64,
    pub duration: Option<Durations>,
    /// The app's runs per day; days that do not pass the k rule are left out.
    pub days: Vec<Day>,
    pub suppressed_days: usize,
    /// The app's runs by type, os, pve, error_category and error pattern.
    pub breakdowns: BTreeMap<&'static str, Published>,
    /// The exit codes of its failed and aborted runs.
    pub exit_codes: Published<ExitCode>,
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
    /// Days that pass the k rule, oldest first.
    pub days: Vec<Day>,
    /// Days left out because they did not.
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

/// An exit code of failed and aborted runs, with what the client's table says of it.
#[derive(Debug, Serialize)]
pub struct ExitCode {
    pub value: String,
    pub meaning: Option<&'static str>,
    pub category: Option<&'static str>,
    #[serde(flatten)]
    pub counts: RunCounts,
    /// Its runs among all failed and aborted runs of the scope.
    pub share: Option<f64>,
}

/// An app and its runs within some group.
#[derive(Debug, Serialize)]
pub struct AppRuns {
    pub nsapp: String,
    pub runs: u64,
}

/// An error category, and the apps whose failures it holds most.
#[derive(Debug, Serialize)]
pub struct Category {
    pub value: String,
    #[serde(flatten)]
    pub counts: RunCounts,
    pub share: Option<f64>,
    /// Up to five apps, most runs first; each (app, category) group passes the k rule.
    pub top_apps: Vec<AppRuns>,
}

/// An error pattern: failure texts that differ only in what crate::patterns masks.
#[derive(Debug, Serialize)]
pub struct Pattern {
    pub pattern: String,
    #[serde(flatten)]
    pub counts: RunCounts,
    pub share: Option<f64>,
    /// Up to five apps, most runs first; each (app, pattern) group passes the k rule.
    pub apps: Vec<AppRuns>,
}

/// The most common value of one of an app's breakdowns.
#[derive(Debug, Serialize)]
pub struct Top {
    pub value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meaning: Option<&'static str>,
    pub runs: u64,
}

/// How one app fails.
#[derive(Debug, Serialize)]
pub struct FailingApp {
    pub nsapp: String,
    pub runs: u64,
    pub failed: u64,
    pub aborted: u64,
    pub failure_rate: Option<f64>,
    pub top_exit_code: Option<Top>,
    pub top_category: Option<Top>,
    /// Its most common error pattern, and failing command (the v2 client's
    /// `failed_command`, masked like the patterns), as its own document publishes them.
    pub top_pattern: Option<Top>,
    pub top_command: Option<Top>,
}

/// Failed and aborted runs of one day.
#[derive(Debug, Serialize)]
pub struct FailureDay {
    pub day: String,
    pub runs: u64,
    pub failed: u64,
    pub aborted: u64,
}

/// An app's runs that never sent a terminal status.
#[derive(Debug, Serialize)]
pub struct UnfinishedApp {
    pub nsapp: String,
    pub runs: u64,
    pub unfinished: u64,
    pub share: Option<f64>,
}

/// Runs that never finished ("stuck"): started, then no terminal status for
/// `stuck_after`.
#[derive(Debug, Serialize)]
pub struct Unfinished {
    /// All of the scope's (`null` when the scope does not pass the k rule).
    pub runs: Option<u64>,
    /// The apps with the most, up to twenty.
    pub apps: Vec<UnfinishedApp>,
}

/// `GET /v1/stats/errors`: why runs fail, for the maintainers deciding what to fix.
#[derive(Debug, Serialize)]
pub struct Errors {
    #[serde(flatten)]
    pub meta: Meta,
    /// The scope's runs (`null` when they do not pass the k rule).
    pub totals: Option<RunCounts>,
    /// Failed and aborted runs per day, oldest first; days that do not pass are left out.
    pub days: Vec<FailureDay>,
    pub suppressed_days: usize,
    pub exit_codes: Published<ExitCode>,
    pub categories: Published<Category>,
    /// The most common error patterns, up to fifty; the rest are in `other`.
    pub patterns: Published<Pattern>,
    /// The most common failing commands (the v2 client's `failed_command`, masked by the
    /// patterns' rules), up to fifty, each with its apps, as `patterns`.
    pub commands: Published<Pattern>,
    /// Every published app with failed or aborted runs, most failures first.
    pub apps: Vec<FailingApp>,
    pub unfinished: Unfinished,
}
