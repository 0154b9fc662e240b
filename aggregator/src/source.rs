//! Where the documents read the released statistics from: ClickHouse as deployed
//! ([`Released`]), or, in the documents' unit tests, a fake that answers what a test
//! sets. Everything `documents` asks of the store is here, so a document can be checked
//! against known groups, days and durations without a server.

use std::collections::HashMap;
use std::future::Future;

use clickhouse::Client;
use time::Date;

use crate::counts::{Group, Tally};
use crate::dimension::Dimension;
use crate::release::Release;
use crate::stats::{self, AppGroup, Durations, Of, Scope, Window};

type Result<T> = clickhouse::error::Result<T>;

/// The released statistics, as the documents read them (see crate::stats for what each
/// answer is).
pub trait Statistics: Send + Sync + 'static {
    /// The latest public release, if one was cut.
    fn release(&self) -> impl Future<Output = Result<Option<Release>>> + Send;
    /// The secret the noise is drawn from, once the first release wrote it.
    fn noise_secret(&self) -> impl Future<Output = Result<Option<String>>> + Send;
    fn counts(&self, scope: Scope, nsapp: &str) -> impl Future<Output = Result<Tally>> + Send;
    fn breakdown(
        &self,
        of: Of<'_>,
        scope: Scope,
    ) -> impl Future<Output = Result<Vec<Group>>> + Send;
    fn installs_of(
        &self,
        of: Of<'_>,
        scope: Scope,
        values: &[&str],
    ) -> impl Future<Output = Result<u64>> + Send;
    fn per_app(
        &self,
        dimension: Dimension,
        scope: Scope,
    ) -> impl Future<Output = Result<Vec<AppGroup>>> + Send;
    fn small_installs_per_app(
        &self,
        dimension: Dimension,
        scope: Scope,
        k: u64,
    ) -> impl Future<Output = Result<HashMap<String, u64>>> + Send;
    fn installs_on(
        &self,
        scope: Scope,
        nsapp: &str,
        days: &[Date],
    ) -> impl Future<Output = Result<u64>> + Send;
    fn daily(
        &self,
        scope: Scope,
        nsapp: &str,
    ) -> impl Future<Output = Result<Vec<(Date, Tally)>>> + Send;
    fn last_active(
        &self,
        scope: Scope,
        k: u64,
    ) -> impl Future<Output = Result<Vec<(String, Date)>>> + Send;
    fn durations(
        &self,
        scope: Scope,
        nsapp: &str,
    ) -> impl Future<Output = Result<Vec<(String, Durations)>>> + Send;
    fn days_covered(&self, window: Window) -> impl Future<Output = Result<u32>> + Send;
}

/// The released statistics in ClickHouse (migrations 0002, 0004 and their successors).
#[derive(Clone)]
pub struct Released(pub Client);

impl Statistics for Released {
    async fn release(&self) -> Result<Option<Release>> {
        crate::release::latest(&self.0).await
    }
    async fn noise_secret(&self) -> Result<Option<String>> {
        crate::noise::load_secret(&self.0).await
    }
    async fn counts(&self, scope: Scope, nsapp: &str) -> Result<Tally> {
        stats::counts(&self.0, scope, nsapp).await
    }
    async fn breakdown(&self, of: Of<'_>, scope: Scope) -> Result<Vec<Group>> {
        stats::breakdown(&self.0, of, scope).await
    }
    async fn installs_of(&self, of: Of<'_>, scope: Scope, values: &[&str]) -> Result<u64> {
        stats::installs_of(&self.0, of, scope, values).await
    }
    async fn per_app(&self, dimension: Dimension, scope: Scope) -> Result<Vec<AppGroup>> {
        stats::per_app(&self.0, dimension, scope).await
    }
    async fn small_installs_per_app(
        &self,
        dimension: Dimension,
        scope: Scope,
        k: u64,
    ) -> Result<HashMap<String, u64>> {
        stats::small_installs_per_app(&self.0, dimension, scope, k).await
    }
    async fn installs_on(&self, scope: Scope, nsapp: &str, days: &[Date]) -> Result<u64> {
        stats::installs_on(&self.0, scope, nsapp, days).await
    }
    async fn daily(&self, scope: Scope, nsapp: &str) -> Result<Vec<(Date, Tally)>> {
        stats::daily(&self.0, scope, nsapp).await
    }
    async fn last_active(&self, scope: Scope, k: u64) -> Result<Vec<(String, Date)>> {
        stats::last_active(&self.0, scope, k).await
    }
    async fn durations(&self, scope: Scope, nsapp: &str) -> Result<Vec<(String, Durations)>> {
        stats::durations(&self.0, scope, nsapp).await
    }
    async fn days_covered(&self, window: Window) -> Result<u32> {
        stats::days_covered(&self.0, window).await
    }
}

/// A fake of the released statistics for the documents' unit tests: runs held in memory,
/// each answer computed from them as crate::stats computes it from the rollup
/// (installations counted exactly, where the rollup's buckets give a lower bound).
#[cfg(test)]
pub(crate) mod fake {
    use std::collections::{BTreeMap, HashSet};

    use time::OffsetDateTime;

    use super::*;
    use crate::counts::{Outcome, RunCounts};
    use crate::stats::{Platform, Repo};

    /// One run, as the rollup counts it.
    #[derive(Debug, Clone)]
    pub(crate) struct Run {
        pub day: Date,
        pub repo: Repo,
        pub platform: Platform,
        pub nsapp: String,
        pub outcome: Outcome,
        pub install: u64,
        /// Its values of the breakdowns other than the app (none: `""`).
        pub values: Vec<(Dimension, String)>,
        /// Its install duration, in seconds, for a success.
        pub duration: Option<u32>,
    }

    impl Run {
        fn value(&self, dimension: Dimension) -> String {
            match dimension {
                Dimension::All => String::new(),
                Dimension::App => self.nsapp.clone(),
                d => self
                    .values
                    .iter()
                    .find(|(of, _)| *of == d)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default(),
            }
        }
    }

    /// The released statistics of `runs`, through `through`.
    pub(crate) struct Fake {
        pub runs: Vec<Run>,
        pub through: Date,
    }

    impl Fake {
        fn in_scope(&self, scope: Scope) -> impl Iterator<Item = (usize, &Run)> {
            let repos = scope.repo.values();
            let platforms = scope.platform.parts();
            self.runs.iter().enumerate().filter(move |(_, r)| {
                repos.contains(&r.repo.name())
                    && platforms.contains(&r.platform)
                    && scope
                        .window
                        .days
                        .is_none_or(|d| r.day > scope.window.until - time::Duration::days(d.into()))
            })
        }

        /// The runs `of` counts in `scope`, each with its value.
        fn of(&self, of: Of<'_>, scope: Scope) -> Vec<(usize, &Run, String)> {
            self.in_scope(scope)
                .filter(|(_, r)| of.nsapp.is_empty() || r.nsapp == of.nsapp)
                .filter(|(_, r)| !of.failures() || r.outcome.is_failure())
                .map(|(i, r)| (i, r, r.value(of.dimension)))
                .collect()
        }
    }

    /// The tally of some runs (by their index, the key of their noise).
    fn tally<'r>(runs: impl IntoIterator<Item = (usize, &'r Run)>) -> Tally {
        let mut by = BTreeMap::new();
        let mut installs = HashSet::new();
        let mut cell_key = 0;
        for (i, run) in runs {
            *by.entry(run.outcome.index()).or_insert(0) += 1;
            installs.insert(run.install);
            cell_key ^= (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
        Tally {
            counts: RunCounts::from_outcomes(|o| by.get(&o.index()).copied().unwrap_or(0)),
            installs: installs.len() as u64,
            cell_key,
        }
    }

    fn groups(runs: Vec<(usize, &Run, String)>) -> BTreeMap<String, Vec<(usize, &Run)>> {
        let mut by: BTreeMap<String, Vec<(usize, &Run)>> = BTreeMap::new();
        for (i, r, value) in runs {
            by.entry(value).or_default().push((i, r));
        }
        by
    }

    fn installs<'r>(runs: impl IntoIterator<Item = &'r Run>) -> u64 {
        runs.into_iter()
            .map(|r| r.install)
            .collect::<HashSet<_>>()
            .len() as u64
    }

    impl Statistics for Fake {
        async fn release(&self) -> Result<Option<Release>> {
            Ok(Some(Release {
                through: self.through,
                released_at: OffsetDateTime::UNIX_EPOCH,
            }))
        }
        async fn noise_secret(&self) -> Result<Option<String>> {
            Ok(None)
        }
        async fn counts(&self, scope: Scope, nsapp: &str) -> Result<Tally> {
            let of = Of::app(Dimension::All, nsapp);
            Ok(tally(
                self.of(of, scope).into_iter().map(|(i, r, _)| (i, r)),
            ))
        }
        async fn breakdown(&self, of: Of<'_>, scope: Scope) -> Result<Vec<Group>> {
            Ok(groups(self.of(of, scope))
                .into_iter()
                .map(|(value, runs)| Group::new(value, tally(runs)))
                .collect())
        }
        async fn installs_of(&self, of: Of<'_>, scope: Scope, values: &[&str]) -> Result<u64> {
            Ok(installs(
                self.of(of, scope)
                    .into_iter()
                    .filter(|(_, _, v)| values.contains(&v.as_str()))
                    .map(|(_, r, _)| r),
            ))
        }
        async fn per_app(&self, dimension: Dimension, scope: Scope) -> Result<Vec<AppGroup>> {
            let mut out = Vec::new();
            let apps: BTreeMap<&str, ()> = self
                .in_scope(scope)
                .map(|(_, r)| (r.nsapp.as_str(), ()))
                .collect();
            for nsapp in apps.keys() {
                for (value, runs) in groups(self.of(Of::app(dimension, nsapp), scope)) {
                    out.push(AppGroup {
                        nsapp: (*nsapp).to_owned(),
                        group: Group::new(value, tally(runs)),
                    });
                }
            }
            Ok(out)
        }
        async fn small_installs_per_app(
            &self,
            dimension: Dimension,
            scope: Scope,
            k: u64,
        ) -> Result<HashMap<String, u64>> {
            let mut small: HashMap<String, HashSet<u64>> = HashMap::new();
            for AppGroup { nsapp, group } in self.per_app(dimension, scope).await? {
                if !crate::anonymity::passes(group.counts.runs, group.installs, k) {
                    let runs = self.of(Of::app(dimension, &nsapp), scope);
                    let set = small.entry(nsapp).or_default();
                    set.extend(
                        runs.iter()
                            .filter(|(_, _, v)| *v == group.value)
                            .map(|(_, r, _)| r.install),
                    );
                }
            }
            Ok(small
                .into_iter()
                .map(|(app, set)| (app, set.len() as u64))
                .collect())
        }
        async fn installs_on(&self, scope: Scope, nsapp: &str, days: &[Date]) -> Result<u64> {
            Ok(installs(
                self.of(Of::app(Dimension::All, nsapp), scope)
                    .into_iter()
                    .filter(|(_, r, _)| days.contains(&r.day))
                    .map(|(_, r, _)| r),
            ))
        }
        async fn daily(&self, scope: Scope, nsapp: &str) -> Result<Vec<(Date, Tally)>> {
            let mut by: BTreeMap<Date, Vec<(usize, &Run)>> = BTreeMap::new();
            for (i, r, _) in self.of(Of::app(Dimension::All, nsapp), scope) {
                by.entry(r.day).or_default().push((i, r));
            }
            Ok(by
                .into_iter()
                .map(|(day, runs)| (day, tally(runs)))
                .collect())
        }
        async fn last_active(&self, scope: Scope, k: u64) -> Result<Vec<(String, Date)>> {
            let mut by: BTreeMap<(String, Date), Vec<(usize, &Run)>> = BTreeMap::new();
            for (i, r) in self.in_scope(scope) {
                by.entry((r.nsapp.clone(), r.day)).or_default().push((i, r));
            }
            let mut last: BTreeMap<String, Date> = BTreeMap::new();
            for ((nsapp, day), runs) in by {
                let t = tally(runs);
                if crate::anonymity::passes(t.counts.runs, t.installs, k) {
                    last.insert(nsapp, day);
                }
            }
            Ok(last.into_iter().collect())
        }
        async fn durations(&self, scope: Scope, nsapp: &str) -> Result<Vec<(String, Durations)>> {
            let mut by: BTreeMap<String, Vec<&Run>> = BTreeMap::new();
            for (_, r) in self.in_scope(scope) {
                if r.outcome == Outcome::Success
                    && r.duration.is_some()
                    && (nsapp.is_empty() || r.nsapp == nsapp)
                {
                    by.entry(r.nsapp.clone()).or_default().push(r);
                }
            }
            Ok(by
                .into_iter()
                .map(|(app, runs)| {
                    let mut seconds: Vec<u32> = runs.iter().filter_map(|r| r.duration).collect();
                    seconds.sort_unstable();
                    let q = |level: f64| {
                        let at = (level * (seconds.len() - 1) as f64).round() as usize;
                        seconds[at]
                    };
                    let durations = Durations {
                        runs: seconds.len() as u64,
                        p25_seconds: q(0.25),
                        p50_seconds: q(0.5),
                        p75_seconds: q(0.75),
                        p90_seconds: q(0.9),
                        installs: installs(runs.iter().copied()),
                    };
                    (app, durations)
                })
                .collect())
        }
        async fn days_covered(&self, window: Window) -> Result<u32> {
            let days: HashSet<Date> = self
                .in_scope(Scope {
                    window,
                    repo: Repo::All,
                    platform: Platform::All,
                })
                .map(|(_, r)| r.day)
                .collect();
            Ok(days.len() as u32)
        }
    }
}
