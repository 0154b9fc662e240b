//! Building the published documents (their shapes are crate::published) from the
//! materialised tables only, so two builds between refreshes give the same bytes; that
//! is what makes the API's ETags stable and the export reproducible.
//!
//! Every number is published only from a group of at least `k` runs from at least `k`
//! installations (crate::anonymity): groups, the `other` of a breakdown, a day, an app,
//! an app's top exit code, the apps of an error pattern.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use clickhouse::Client;

use crate::anonymity::{self, Published};
use crate::counts::Tally;
use crate::counts::{Group, RunCounts, ratio};
use crate::dimension::Dimension;
use crate::noise::Noise;
use crate::published::*;
use crate::settings::AggregatorSettings;
use crate::source::{Released, Statistics};
use crate::stats::{AppGroup, Durations, Of, Scope, Window};

/// The most error patterns the errors document lists.
const PATTERNS: usize = 50;

/// The documents of a scope, by the name the API (`/v1/stats/{name}`), the export
/// (`api/{repo}/{window}/{name}.json`) and the dashboard's data scripts give them.
pub const SCOPE_DOCUMENTS: [&str; 7] = [
    "summary", "apps", "daily", "os", "pve", "hardware", "errors",
];

/// Why a scope document could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Store(#[from] clickhouse::error::Error),
    #[error("serialising a document: {0}")]
    Serialise(#[from] serde_json::Error),
}

/// Builds documents from the released statistics: ClickHouse's as deployed, a fake's in
/// the unit tests.
pub struct Documents<S = Released> {
    source: S,
    /// Read from ClickHouse once, when first needed (crate::noise).
    noise: Arc<tokio::sync::OnceCell<Noise>>,
    exact_counts: bool,
    noise_epsilon: f64,
    k: u64,
    rate_min_runs: u64,
    rate_min_runs_per_day: f64,
    quantile_min_runs: u64,
}

impl Documents {
    /// Documents of the statistics released in ClickHouse.
    pub fn new(client: Client, settings: &AggregatorSettings) -> Self {
        Self::of(Released(client), settings)
    }
}

impl<S: Statistics> Documents<S> {
    pub fn of(source: S, settings: &AggregatorSettings) -> Self {
        Self {
            source,
            noise: Arc::default(),
            exact_counts: settings.exact_counts,
            noise_epsilon: settings.noise_epsilon,
            k: settings.k_min,
            rate_min_runs: settings.rate_min_runs,
            rate_min_runs_per_day: settings.rate_min_runs_per_day,
            quantile_min_runs: settings.quantile_min_runs,
        }
    }

    /// Document `name` of [`SCOPE_DOCUMENTS`] as JSON; `None` for any other name.
    pub async fn scope_document(
        &self,
        name: &str,
        meta: Meta,
    ) -> Result<Option<serde_json::Value>, BuildError> {
        let value = match name {
            "summary" => serde_json::to_value(self.summary(meta).await?)?,
            "apps" => serde_json::to_value(self.apps(meta).await?)?,
            "daily" => serde_json::to_value(self.daily(meta).await?)?,
            "os" => serde_json::to_value(self.breakdown(meta, Dimension::Os).await?)?,
            "pve" => serde_json::to_value(self.breakdown(meta, Dimension::Pve).await?)?,
            "hardware" => serde_json::to_value(self.hardware(meta).await?)?,
            "errors" => serde_json::to_value(self.errors(meta).await?)?,
            _ => return Ok(None),
        };
        Ok(Some(value))
    }

    /// The header of a document of `scope`, whose window ends where the public release
    /// does.
    pub async fn meta(&self, scope: Scope) -> clickhouse::error::Result<Meta> {
        let release = self.source.release().await?;
        let mut window = scope.window;
        if let Some(r) = release {
            window.until = r.through;
        }
        Ok(Meta {
            generated_at: release.map(|r| r.released_at),
            window,
            repo: scope.repo,
            platform: scope.platform,
            k: self.k,
            noise_epsilon: (!self.exact_counts).then_some(self.noise_epsilon),
        })
    }

    /// The noise every published count gets. The secret it is drawn from is written by
    /// the refresh before it cuts the first release; before that there is nothing to
    /// publish, and nothing to draw.
    async fn noise(&self) -> clickhouse::error::Result<Noise> {
        if let Some(noise) = self.noise.get() {
            return Ok(noise.clone());
        }
        if self.exact_counts {
            return Ok(self
                .noise
                .get_or_init(|| async { Noise::exact() })
                .await
                .clone());
        }
        match self.source.noise_secret().await? {
            Some(secret) => {
                let noise = Noise::keyed(secret.as_bytes(), self.noise_epsilon);
                Ok(self.noise.get_or_init(|| async { noise }).await.clone())
            }
            None if self.source.release().await?.is_none() => Ok(Noise::exact()),
            None => Err(clickhouse::error::Error::Custom(
                "a release exists but no noise secret: the refresh writes it before it cuts one"
                    .into(),
            )),
        }
    }

    fn passes(&self, tally: &Tally) -> bool {
        anonymity::passes(tally.counts.runs, tally.installs, self.k)
    }

    /// The repositories whose publications a document of `scope` adds up: every one of
    /// the scope's for a document over all apps; for one app's, those whose apps table
    /// lists it. An app's runs in a repository that folds it into `other` must not
    /// reach its document, or the document's numbers taken from that `other` would
    /// give the rest of it away.
    async fn parts(&self, scope: Scope, nsapp: &str) -> clickhouse::error::Result<Vec<Scope>> {
        let mut parts = scope.parts();
        if !nsapp.is_empty() {
            let mut listed = Vec::new();
            for part in parts {
                if self.listed_apps(part).await?.contains(nsapp) {
                    listed.push(part);
                }
            }
            parts = listed;
        }
        Ok(parts)
    }

    /// The apps the apps table of one repository lists.
    async fn listed_apps(&self, part: Scope) -> clickhouse::error::Result<HashSet<String>> {
        let apps = self.published_one(Of::all(Dimension::App), part).await?;
        Ok(apps.groups.into_iter().map(|g| g.value).collect())
    }

    /// A breakdown, k-anonymised: per repository, and for `all` the sum of those.
    async fn published(&self, of: Of<'_>, scope: Scope) -> clickhouse::error::Result<Published> {
        let parts = self.parts(scope, of.nsapp).await?;
        self.published_in(of, &parts).await
    }

    /// A breakdown as the repositories `parts` publish it, added up.
    async fn published_in(
        &self,
        of: Of<'_>,
        parts: &[Scope],
    ) -> clickhouse::error::Result<Published> {
        let mut published = Vec::new();
        for &part in parts {
            published.push(self.published_one(of, part).await?);
        }
        let mut parts = published;
        Ok(match parts.len() {
            1 => parts.remove(0),
            _ => anonymity::merge(parts),
        })
    }

    /// The run counts of the scope (all apps, or one) as published: per repository when
    /// they pass, and for `all` the sum of the repositories' that do; `None` when none
    /// does.
    async fn total(
        &self,
        parts: &[Scope],
        nsapp: &str,
    ) -> clickhouse::error::Result<Option<RunCounts>> {
        let noise = self.noise().await?;
        let mut total: Option<RunCounts> = None;
        for &part in parts {
            let tally = self.source.counts(part, nsapp).await?;
            if self.passes(&tally) {
                total
                    .get_or_insert_with(RunCounts::default)
                    .add(&noise.counts(&tally.counts, tally.cell_key, false));
            }
        }
        Ok(total)
    }

    /// A breakdown of one repository, k-anonymised.
    async fn published_one(
        &self,
        of: Of<'_>,
        scope: Scope,
    ) -> clickhouse::error::Result<Published> {
        let groups = self.source.breakdown(of, scope).await?;
        let (small, runs) = anonymity::small(&groups, self.k);
        // Only when `other` has k runs can its installations decide.
        let other_installs = if runs >= self.k {
            self.source.installs_of(of, scope, &small).await?
        } else {
            0
        };
        Ok(anonymity::publish(
            groups,
            self.k,
            other_installs,
            &self.noise().await?,
            of.failures(),
        ))
    }

    /// The days of the scope that pass the k rule, and how many did not. The days left
    /// out are, together, the window's total minus the days shown: so they are either
    /// none or at least k runs from k installations, and when they are not, the day
    /// shown with the fewest runs is left out too (it passes, so they then do).
    async fn days(
        &self,
        parts: &[Scope],
        nsapp: &str,
    ) -> clickhouse::error::Result<(Vec<Day>, usize)> {
        if let [one] = parts {
            let (shown, hidden) = self.days_one(*one, nsapp).await?;
            return Ok((shown, hidden.len()));
        }
        // `all`: each day as the repositories publish it, added up.
        let mut by_day: BTreeMap<String, Option<RunCounts>> = BTreeMap::new();
        for &part in parts {
            let (shown, hidden) = self.days_one(part, nsapp).await?;
            for d in shown {
                by_day
                    .entry(d.day)
                    .or_insert(None)
                    .get_or_insert_with(RunCounts::default)
                    .add(&d.counts);
            }
            for day in hidden {
                by_day.entry(day).or_insert(None);
            }
        }
        let total = by_day.len();
        let days: Vec<Day> = by_day
            .into_iter()
            .filter_map(|(day, counts)| {
                Some(Day {
                    day,
                    counts: counts?,
                })
            })
            .collect();
        let suppressed = total - days.len();
        Ok((days, suppressed))
    }

    /// [`Self::days`] of one repository: the days shown, and those left out.
    async fn days_one(
        &self,
        scope: Scope,
        nsapp: &str,
    ) -> clickhouse::error::Result<(Vec<Day>, Vec<String>)> {
        let all = self.source.daily(scope, nsapp).await?;
        let (mut shown, mut hidden): (Vec<_>, Vec<_>) =
            all.into_iter().partition(|(_, t)| self.passes(t));
        if !hidden.is_empty() {
            let runs: u64 = hidden.iter().map(|(_, t)| t.counts.runs).sum();
            let installs = if runs >= self.k {
                let days: Vec<time::Date> = hidden.iter().map(|(d, _)| *d).collect();
                self.source.installs_on(scope, nsapp, &days).await?
            } else {
                0
            };
            if !anonymity::passes(runs, installs, self.k) {
                let smallest = shown
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, (day, t))| (t.counts.runs, std::cmp::Reverse(*day)))
                    .map(|(i, _)| i);
                if let Some(i) = smallest {
                    hidden.push(shown.remove(i));
                }
            }
        }
        let noise = self.noise().await?;
        let days: Vec<Day> = shown
            .into_iter()
            .map(|(day, t)| Day {
                day: day.to_string(),
                counts: noise.counts(&t.counts, t.cell_key, false),
            })
            .collect();
        Ok((
            days,
            hidden.into_iter().map(|(d, _)| d.to_string()).collect(),
        ))
    }

    /// The days runs per day are counted over: the window's, or for `all` the days
    /// that have statistics.
    async fn days_in(&self, window: Window) -> clickhouse::error::Result<u32> {
        Ok(match window.days {
            Some(d) => d,
            None => self.source.days_covered(window).await?,
        }
        .max(1))
    }

    /// Quantiles of a few runs are those runs' own values: published only from
    /// `quantile_min_runs` (and k installations), and rounded.
    fn publish_durations(&self, d: Durations) -> Option<Durations> {
        (d.runs >= self.quantile_min_runs.max(self.k) && d.installs >= self.k).then(|| Durations {
            p25_seconds: round_duration(d.p25_seconds),
            p50_seconds: round_duration(d.p50_seconds),
            p75_seconds: round_duration(d.p75_seconds),
            p90_seconds: round_duration(d.p90_seconds),
            ..d
        })
    }

    pub async fn summary(&self, meta: Meta) -> clickhouse::error::Result<Summary> {
        let counts = self.total(&meta.scope().parts(), "").await?;
        Ok(Summary {
            meta,
            suppressed: counts.is_none(),
            success_rate: counts.and_then(|c| c.success_rate()),
            counts,
        })
    }

    pub async fn apps(&self, meta: Meta) -> clickhouse::error::Result<Apps> {
        let scope = meta.scope();
        let published = self.published(Of::all(Dimension::App), scope).await?;
        let mut durations: BTreeMap<String, Durations> = self
            .source
            .durations(scope, "")
            .await?
            .into_iter()
            .collect();
        let mut last: BTreeMap<String, time::Date> = self
            .source
            .last_active(scope, self.k)
            .await?
            .into_iter()
            .collect();
        let days = self.days_in(scope.window).await?;
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
                last_active: last.remove(&g.value).map(|d| d.to_string()),
                runs_per_day: per_day(g.counts.runs, days),
                success_rate: g.counts.success_rate(),
                failure_rate: g.counts.failure_rate(),
                nsapp: g.value,
                counts: g.counts,
            })
            .collect();
        let mut ranked: Vec<RateEntry> = apps
            .iter()
            .filter(|a| a.counts.finished() >= min_runs)
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
        let mut least: Vec<&AppEntry> = apps.iter().collect();
        least.sort_by(|a, b| {
            a.counts
                .runs
                .cmp(&b.counts.runs)
                .then(a.nsapp.cmp(&b.nsapp))
        });
        let least_used = least.iter().take(10).map(|a| a.nsapp.clone()).collect();
        let mut recent: Vec<&AppEntry> = apps.iter().filter(|a| a.last_active.is_some()).collect();
        recent.sort_by(|a, b| {
            b.last_active
                .cmp(&a.last_active)
                .then(b.counts.runs.cmp(&a.counts.runs))
                .then(a.nsapp.cmp(&b.nsapp))
        });
        let recently_active = recent.iter().take(10).map(|a| a.nsapp.clone()).collect();
        Ok(Apps {
            meta,
            apps,
            other: published.other,
            suppressed_groups: published.suppressed_groups,
            min_runs,
            highest_failure_rate: ranked,
            least_used,
            recently_active,
        })
    }

    /// One app's document; `None` when its runs do not pass the k rule in the scope, so
    /// that its absence says no more than that.
    pub async fn app(&self, meta: Meta, nsapp: &str) -> clickhouse::error::Result<Option<App>> {
        let scope = meta.scope();
        let parts = self.parts(scope, nsapp).await?;
        let Some(counts) = self.total(&parts, nsapp).await? else {
            return Ok(None);
        };
        let mut breakdowns = BTreeMap::new();
        // Every per-app breakdown; exit codes have a list of their own.
        let per_app = Dimension::breakdowns().filter(|d| d.per_app() && *d != Dimension::ExitCode);
        for dimension in per_app {
            let of = Of::app(dimension, nsapp);
            breakdowns.insert(dimension.name(), self.published_in(of, &parts).await?);
        }
        let failures = counts.failures();
        let exit_codes = self
            .published_in(Of::app(Dimension::ExitCode, nsapp), &parts)
            .await?
            .map(|g| exit_code(g, failures));
        let duration = self
            .source
            .durations(scope, nsapp)
            .await?
            .into_iter()
            .next()
            .and_then(|(_, d)| self.publish_durations(d));
        let (days, suppressed_days) = self.days(&parts, nsapp).await?;
        let runs_per_day = per_day(counts.runs, self.days_in(scope.window).await?);
        Ok(Some(App {
            meta,
            nsapp: nsapp.to_owned(),
            success_rate: counts.success_rate(),
            failure_rate: counts.failure_rate(),
            runs_per_day,
            counts,
            duration,
            days,
            suppressed_days,
            breakdowns,
            exit_codes,
        }))
    }

    pub async fn daily(&self, meta: Meta) -> clickhouse::error::Result<Daily> {
        let (days, suppressed_days) = self.days(&meta.scope().parts(), "").await?;
        Ok(Daily {
            meta,
            days,
            suppressed_days,
        })
    }

    pub async fn breakdown(
        &self,
        meta: Meta,
        dimension: Dimension,
    ) -> clickhouse::error::Result<Breakdown> {
        let published = self.published(Of::all(dimension), meta.scope()).await?;
        Ok(Breakdown {
            meta,
            dimension: dimension.name(),
            published,
        })
    }

    pub async fn hardware(&self, meta: Meta) -> clickhouse::error::Result<Hardware> {
        let mut dimensions = BTreeMap::new();
        for dimension in Dimension::HARDWARE {
            let published = self.published(Of::all(dimension), meta.scope()).await?;
            dimensions.insert(dimension.name(), published);
        }
        Ok(Hardware { meta, dimensions })
    }

    /// Every app's table of a per-app dimension, published exactly as the app's own
    /// document publishes it: anything else listed here (a group its document folds into
    /// `other`) would let a reader subtract it from that `other`.
    async fn published_per_app(
        &self,
        dimension: Dimension,
        listed: &[(Scope, HashSet<String>)],
    ) -> clickhouse::error::Result<BTreeMap<String, Published>> {
        let noise = self.noise().await?;
        let mut parts: BTreeMap<String, Vec<Published>> = BTreeMap::new();
        for (part, listed) in listed {
            let part = *part;
            let small = self
                .source
                .small_installs_per_app(dimension, part, self.k)
                .await?;
            let mut groups: BTreeMap<String, Vec<Group>> = BTreeMap::new();
            for AppGroup { nsapp, group } in self.source.per_app(dimension, part).await? {
                groups.entry(nsapp).or_default().push(group);
            }
            for (nsapp, groups) in groups.into_iter().filter(|(a, _)| listed.contains(a)) {
                let installs = small.get(&nsapp).copied().unwrap_or(0);
                parts.entry(nsapp).or_default().push(anonymity::publish(
                    groups,
                    self.k,
                    installs,
                    &noise,
                    dimension.failures_only(),
                ));
            }
        }
        Ok(parts
            .into_iter()
            .map(|(nsapp, mut parts)| {
                let published = match parts.len() {
                    1 => parts.remove(0),
                    _ => anonymity::merge(parts),
                };
                (nsapp, published)
            })
            .collect())
    }

    /// The published (app, value) groups of a per-app dimension, by value, most runs first.
    async fn apps_by_value(
        &self,
        dimension: Dimension,
        listed: &[(Scope, HashSet<String>)],
    ) -> clickhouse::error::Result<BTreeMap<String, Vec<AppRuns>>> {
        let mut by: BTreeMap<String, Vec<AppRuns>> = BTreeMap::new();
        for (nsapp, published) in self.published_per_app(dimension, listed).await? {
            for group in published.groups {
                by.entry(group.value).or_default().push(AppRuns {
                    nsapp: nsapp.clone(),
                    runs: group.counts.runs,
                });
            }
        }
        for apps in by.values_mut() {
            apps.sort_by(|a, b| b.runs.cmp(&a.runs).then(a.nsapp.cmp(&b.nsapp)));
        }
        Ok(by)
    }

    /// Each app's most common published value of a per-app dimension, among its failed
    /// and aborted runs.
    async fn top_per_app(
        &self,
        dimension: Dimension,
        listed: &[(Scope, HashSet<String>)],
    ) -> clickhouse::error::Result<BTreeMap<String, (String, u64)>> {
        Ok(self
            .published_per_app(dimension, listed)
            .await?
            .into_iter()
            .filter_map(|(nsapp, published)| {
                // Most runs first, then by value.
                let top = published.groups.into_iter().next()?;
                Some((nsapp, (top.value, top.counts.runs)))
            })
            .collect())
    }

    /// Each published app's most common value of a per-app dimension (`type`,
    /// `pattern`, ...) with its runs, exactly as the app's own document publishes it: an
    /// app whose document withholds the dimension has none. For crate::old_api, whose
    /// lists name an app's type and top error, without building every app's document.
    pub async fn top_of_apps(
        &self,
        meta: &Meta,
        dimension: Dimension,
    ) -> clickhouse::error::Result<BTreeMap<String, (String, u64)>> {
        let mut listed = Vec::new();
        for part in meta.scope().parts() {
            listed.push((part, self.listed_apps(part).await?));
        }
        self.top_per_app(dimension, &listed).await
    }

    /// The most common values of a pattern dimension (`pattern`, `command`), at most
    /// [`PATTERNS`], each with up to five apps. Past the fiftieth they are counted in
    /// `other`: as safe to list, but a list that long is no longer read.
    async fn patterns(
        &self,
        dimension: Dimension,
        scope: Scope,
        listed: &[(Scope, HashSet<String>)],
        failures: u64,
    ) -> clickhouse::error::Result<Published<Pattern>> {
        let mut by_value = self.apps_by_value(dimension, listed).await?;
        let mut published = self.published(Of::all(dimension), scope).await?;
        if published.groups.len() > PATTERNS {
            let rest = published.groups.split_off(PATTERNS);
            let mut other = published.other.unwrap_or_default();
            for g in &rest {
                other.add(&g.counts);
            }
            published.other = Some(other);
        }
        Ok(published.map(|g| {
            let mut apps = by_value.remove(&g.value).unwrap_or_default();
            apps.truncate(5);
            Pattern {
                share: ratio(g.counts.runs, failures),
                pattern: g.value,
                counts: g.counts,
                apps,
            }
        }))
    }

    pub async fn errors(&self, meta: Meta) -> clickhouse::error::Result<Errors> {
        let scope = meta.scope();
        let totals = self.total(&scope.parts(), "").await?;
        // Shares are of the failed and aborted runs, when those may be told.
        let failures = totals.map_or(0, |c| c.failures());

        let (days, suppressed_days) = self.days(&scope.parts(), "").await?;
        // Each repository's listed apps, once for every per-app table below.
        let mut listed = Vec::new();
        for part in scope.parts() {
            listed.push((part, self.listed_apps(part).await?));
        }
        let days = days
            .into_iter()
            .map(|d| FailureDay {
                day: d.day,
                runs: d.counts.runs,
                failed: d.counts.failed,
                aborted: d.counts.aborted,
            })
            .collect();

        let exit_codes = self
            .published(Of::all(Dimension::ExitCode), scope)
            .await?
            .map(|g| exit_code(g, failures));

        let mut category_apps = self
            .apps_by_value(Dimension::ErrorCategory, &listed)
            .await?;
        let categories = self
            .published(Of::all(Dimension::ErrorCategory), scope)
            .await?
            .map(|g| {
                let mut top_apps = category_apps.remove(&g.value).unwrap_or_default();
                top_apps.truncate(5);
                Category {
                    share: ratio(g.counts.runs, failures),
                    value: g.value,
                    counts: g.counts,
                    top_apps,
                }
            });

        let patterns = self
            .patterns(Dimension::Pattern, scope, &listed, failures)
            .await?;
        let commands = self
            .patterns(Dimension::Command, scope, &listed, failures)
            .await?;

        let app_groups = self.published(Of::all(Dimension::App), scope).await?.groups;
        let mut top_codes = self.top_per_app(Dimension::ExitCode, &listed).await?;
        let mut top_categories = self.top_per_app(Dimension::ErrorCategory, &listed).await?;
        let mut top_patterns = self.top_per_app(Dimension::Pattern, &listed).await?;
        let mut top_commands = self.top_per_app(Dimension::Command, &listed).await?;
        let top = |value: String, runs: u64| Top {
            value,
            meaning: None,
            runs,
        };
        let mut apps: Vec<FailingApp> = app_groups
            .iter()
            .filter(|g| g.counts.failures() > 0)
            .map(|g| FailingApp {
                nsapp: g.value.clone(),
                runs: g.counts.runs,
                failed: g.counts.failed,
                aborted: g.counts.aborted,
                failure_rate: g.counts.failure_rate(),
                top_exit_code: top_codes.remove(&g.value).map(|(value, runs)| Top {
                    meaning: value
                        .parse::<u8>()
                        .ok()
                        .and_then(schemas::category::describe_exit_code),
                    value,
                    runs,
                }),
                top_category: top_categories
                    .remove(&g.value)
                    .map(|(value, runs)| top(value, runs)),
                top_pattern: top_patterns
                    .remove(&g.value)
                    .map(|(value, runs)| top(value, runs)),
                top_command: top_commands
                    .remove(&g.value)
                    .map(|(value, runs)| top(value, runs)),
            })
            .collect();
        apps.sort_by(|a, b| {
            (b.failed + b.aborted)
                .cmp(&(a.failed + a.aborted))
                .then(a.nsapp.cmp(&b.nsapp))
        });

        let mut stuck: Vec<UnfinishedApp> = app_groups
            .iter()
            .filter(|g| g.counts.unfinished > 0)
            .map(|g| UnfinishedApp {
                nsapp: g.value.clone(),
                runs: g.counts.runs,
                unfinished: g.counts.unfinished,
                share: ratio(g.counts.unfinished, g.counts.runs),
            })
            .collect();
        stuck.sort_by(|a, b| b.unfinished.cmp(&a.unfinished).then(a.nsapp.cmp(&b.nsapp)));
        stuck.truncate(20);

        Ok(Errors {
            meta,
            totals,
            days,
            suppressed_days,
            exit_codes,
            categories,
            patterns,
            commands,
            apps,
            unfinished: Unfinished {
                runs: totals.map(|c| c.unfinished),
                apps: stuck,
            },
        })
    }
}

/// An exit-code group with the client's meaning and category of the code.
fn exit_code(g: Group, failures: u64) -> ExitCode {
    let code = g.value.parse::<u8>().ok();
    ExitCode {
        meaning: code.and_then(schemas::category::describe_exit_code),
        category: code.map(|c| schemas::category::derive(Some(c), "")),
        share: ratio(g.counts.runs, failures),
        value: g.value,
        counts: g.counts,
    }
}

/// A duration to two significant digits, and to 5 s at least: a quantile says how long
/// installs take, not how long one took.
fn round_duration(seconds: u32) -> u32 {
    let digits = seconds.checked_ilog10().unwrap_or(0) + 1;
    let step = if digits <= 2 {
        5
    } else {
        10u32.pow(digits - 2)
    };
    seconds.saturating_add(step / 2) / step * step
}

/// Runs per day, to two places.
fn per_day(runs: u64, days: u32) -> f64 {
    (runs as f64 / f64::from(days.max(1)) * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests;
