//! Each document built from known statistics (crate::source's fake): what it lists,
//! folds into `other`, hides, rates and ranks. Counts are exact here
//! (`aggregator.exact_counts`): the noise has tests of its own (crate::noise), and the
//! end-to-end tests read the documents as deployed.

use time::Date;
use time::macros::date;

use super::*;
use crate::counts::Outcome::{self, Aborted, Failed, Success};
use crate::source::fake::{Fake, Run};
use crate::stats::{Platform, Repo};

/// The last day of the fake release.
const THROUGH: Date = date!(2026 - 11 - 30);

/// Runs written by the tests: each with an installation of its own unless told.
struct Runs {
    runs: Vec<Run>,
    next_install: u64,
}

impl Runs {
    fn new() -> Self {
        Runs {
            runs: Vec::new(),
            next_install: 1,
        }
    }

    /// `n` runs of `nsapp` in `repo`, `ago` days before the release's last day, each from
    /// an installation of its own, with `values` of other dimensions.
    fn add(
        &mut self,
        n: usize,
        nsapp: &str,
        outcome: Outcome,
        repo: Repo,
        ago: i64,
        values: &[(Dimension, &str)],
    ) -> &mut Self {
        for _ in 0..n {
            self.runs.push(Run {
                day: THROUGH - time::Duration::days(ago),
                repo,
                platform: Platform::Pve,
                nsapp: nsapp.into(),
                outcome,
                install: self.next_install,
                values: values.iter().map(|(d, v)| (*d, (*v).to_owned())).collect(),
                duration: None,
            });
            self.next_install += 1;
        }
        self
    }

    /// `n` successes of `nsapp` in production yesterday, taking `first`, `first + 1`, …
    /// seconds.
    fn timed(&mut self, n: u32, nsapp: &str, first: u32) -> &mut Self {
        for i in 0..n {
            self.add(1, nsapp, Success, Repo::Production, 1, &[]);
            if let Some(run) = self.runs.last_mut() {
                run.duration = Some(first + i);
            }
        }
        self
    }

    fn documents(&self) -> Documents<Fake> {
        let settings = AggregatorSettings {
            exact_counts: true,
            ..AggregatorSettings::default()
        };
        Documents::of(
            Fake {
                runs: self.runs.clone(),
                through: THROUGH,
            },
            &settings,
        )
    }
}

async fn meta<S: Statistics>(docs: &Documents<S>, repo: Repo, days: Option<u32>) -> Meta {
    let scope = Scope {
        window: Window::last(days),
        repo,
        platform: Platform::Pve,
    };
    docs.meta(scope).await.expect("the fake answers")
}

fn values<T>(published: &Published<T>, value: impl Fn(&T) -> String) -> Vec<String> {
    published.groups.iter().map(value).collect()
}

#[tokio::test]
async fn the_summary_counts_the_scope_and_says_when_it_is_below_k() {
    let mut runs = Runs::new();
    runs.add(10, "docker", Success, Repo::Production, 1, &[])
        .add(2, "docker", Failed, Repo::Production, 2, &[])
        .add(3, "docker", Failed, Repo::Development, 1, &[]);
    let docs = runs.documents();

    let summary = docs
        .summary(meta(&docs, Repo::Production, Some(30)).await)
        .await
        .unwrap();
    assert!(!summary.suppressed);
    let counts = summary.counts.unwrap();
    assert_eq!((counts.runs, counts.success, counts.failed), (12, 10, 2));
    assert_eq!(summary.success_rate, Some(0.8333));
    assert_eq!(
        summary.meta.window.until, THROUGH,
        "the window ends with the release"
    );

    let development = docs
        .summary(meta(&docs, Repo::Development, Some(30)).await)
        .await
        .unwrap();
    assert!(development.suppressed, "3 runs are fewer than k = 5");
    assert_eq!((development.counts, development.success_rate), (None, None));
}

#[tokio::test]
async fn all_repositories_add_up_what_each_publishes() {
    let mut runs = Runs::new();
    runs.add(20, "docker", Success, Repo::Production, 1, &[])
        .add(10, "docker", Failed, Repo::Development, 1, &[])
        .add(3, "docker", Success, Repo::External, 1, &[]);
    let docs = runs.documents();
    let summary = docs
        .summary(meta(&docs, Repo::All, Some(30)).await)
        .await
        .unwrap();
    let counts = summary.counts.unwrap();
    // The external repository's 3 runs do not pass there, so `all` leaves them out too.
    assert_eq!((counts.runs, counts.success, counts.failed), (30, 20, 10));
}

#[tokio::test]
async fn the_window_leaves_out_older_days() {
    let mut runs = Runs::new();
    runs.add(6, "docker", Success, Repo::Production, 0, &[])
        .add(8, "docker", Success, Repo::Production, 7, &[]);
    let docs = runs.documents();
    let week = docs
        .summary(meta(&docs, Repo::Production, Some(7)).await)
        .await
        .unwrap();
    assert_eq!(
        week.counts.map(|c| c.runs),
        Some(6),
        "day −7 is outside 7 days"
    );
    let all = docs
        .summary(meta(&docs, Repo::Production, None).await)
        .await
        .unwrap();
    assert_eq!(all.counts.map(|c| c.runs), Some(14));
}

#[tokio::test]
async fn apps_fold_small_apps_into_other_and_rank_failure_rates_from_enough_runs() {
    let mut runs = Runs::new();
    runs.add(30, "docker", Success, Repo::Production, 1, &[])
        .add(10, "docker", Failed, Repo::Production, 1, &[])
        .add(19, "jellyfin", Success, Repo::Production, 1, &[])
        .add(1, "jellyfin", Failed, Repo::Production, 1, &[])
        .add(3, "tiny-a", Success, Repo::Production, 1, &[])
        .add(3, "tiny-b", Aborted, Repo::Production, 1, &[]);
    let docs = runs.documents();
    let apps = docs
        .apps(meta(&docs, Repo::Production, Some(30)).await)
        .await
        .unwrap();

    let listed: Vec<&str> = apps.apps.iter().map(|a| a.nsapp.as_str()).collect();
    assert_eq!(listed, ["docker", "jellyfin"], "most runs first");
    let other = apps.other.unwrap();
    assert_eq!((other.runs, other.success, other.aborted), (6, 3, 3));
    assert_eq!(apps.suppressed_groups, 0);

    let docker = &apps.apps[0];
    assert_eq!((docker.counts.runs, docker.counts.failed), (40, 10));
    assert_eq!(docker.failure_rate, Some(0.25));
    assert_eq!(docker.runs_per_day, 1.33, "40 runs over 30 days");
    assert_eq!(docker.last_active.as_deref(), Some("2026-11-29"));

    // At least k, rate_min_runs (10) and one run a day of the window (30) finished.
    assert_eq!(apps.min_runs, 30);
    let ranked: Vec<&str> = apps
        .highest_failure_rate
        .iter()
        .map(|r| r.nsapp.as_str())
        .collect();
    assert_eq!(ranked, ["docker"], "jellyfin's 20 runs are too few to rank");
    assert_eq!(apps.least_used, ["jellyfin", "docker"]);
}

#[tokio::test]
async fn durations_are_published_from_enough_runs_and_rounded() {
    let mut runs = Runs::new();
    runs.timed(30, "docker", 100).timed(19, "jellyfin", 40);
    let docs = runs.documents();
    let apps = docs
        .apps(meta(&docs, Repo::Production, Some(30)).await)
        .await
        .unwrap();
    let duration = |nsapp: &str| {
        apps.apps
            .iter()
            .find(|a| a.nsapp == nsapp)
            .and_then(|a| a.duration.clone())
    };
    // 100 … 129 s: the median of the fake is 115 s, published to two digits.
    let docker = duration("docker").expect("30 timed runs are enough");
    assert_eq!(docker.p50_seconds, 120);
    assert!(docker.p25_seconds <= docker.p50_seconds && docker.p50_seconds <= docker.p90_seconds);
    assert_eq!(duration("jellyfin"), None, "19 runs are fewer than 20");
}

#[tokio::test]
async fn daily_hides_a_small_day_together_with_the_smallest_shown_one() {
    let mut runs = Runs::new();
    runs.add(10, "docker", Success, Repo::Production, 1, &[])
        .add(8, "docker", Success, Repo::Production, 2, &[])
        .add(2, "docker", Success, Repo::Production, 3, &[]);
    let docs = runs.documents();
    let daily = docs
        .daily(meta(&docs, Repo::Production, Some(7)).await)
        .await
        .unwrap();
    // Day −3 alone would be the week's total minus the days shown.
    let shown: Vec<(&str, u64)> = daily
        .days
        .iter()
        .map(|d| (d.day.as_str(), d.counts.runs))
        .collect();
    assert_eq!(shown, [("2026-11-29", 10)]);
    assert_eq!(daily.suppressed_days, 2);
}

#[tokio::test]
async fn a_breakdown_lists_what_passes_and_never_the_runs_without_a_value() {
    let os = |v| [(Dimension::Os, v)];
    let mut runs = Runs::new();
    runs.add(20, "docker", Success, Repo::Production, 1, &os("debian 12"))
        .add(
            10,
            "docker",
            Success,
            Repo::Production,
            1,
            &os("ubuntu 24.04"),
        )
        .add(
            3,
            "docker",
            Success,
            Repo::Production,
            1,
            &os("alpine 3.22"),
        )
        .add(6, "docker", Success, Repo::Production, 1, &[]);
    let docs = runs.documents();
    let os = docs
        .breakdown(meta(&docs, Repo::Production, Some(30)).await, Dimension::Os)
        .await
        .unwrap();
    assert_eq!(os.dimension, "os");
    assert_eq!(values(&os.published, |g| g.value.clone()), ["debian 12"]);
    // Alpine's 3 runs alone do not pass, and `other` of them alone would give them
    // away: the smallest published group, ubuntu's 10, joins them. The 6 runs without a
    // value pass and are left out, never listed.
    assert_eq!(os.published.other.map(|o| o.runs), Some(13));
    assert_eq!(os.published.suppressed_groups, 0);
}

#[tokio::test]
async fn hardware_has_every_dimension_it_names() {
    let mut runs = Runs::new();
    runs.add(
        12,
        "docker",
        Success,
        Repo::Production,
        1,
        &[(Dimension::Cores, "3-4"), (Dimension::Ram, "<=4GiB")],
    );
    let docs = runs.documents();
    let hardware = docs
        .hardware(meta(&docs, Repo::Production, Some(30)).await)
        .await
        .unwrap();
    let names: Vec<&str> = hardware.dimensions.keys().copied().collect();
    let mut expected: Vec<&str> = Dimension::HARDWARE.iter().map(|d| d.name()).collect();
    expected.sort_unstable();
    assert_eq!(names, expected);
    let cores = &hardware.dimensions["cores"];
    assert_eq!(values(cores, |g| g.value.clone()), ["3-4"]);
    assert_eq!(cores.groups[0].counts.runs, 12);
    assert!(hardware.dimensions["disk"].groups.is_empty());
}

#[tokio::test]
async fn an_app_below_k_has_no_document_and_one_above_has_its_breakdowns() {
    let failure = [
        (Dimension::ExitCode, "100"),
        (Dimension::ErrorCategory, "dependency"),
    ];
    let mut runs = Runs::new();
    runs.add(
        20,
        "docker",
        Success,
        Repo::Production,
        1,
        &[(Dimension::Type, "lxc")],
    )
    .add(6, "docker", Failed, Repo::Production, 1, &failure)
    .add(4, "tiny", Success, Repo::Production, 1, &[])
    // The smallest listed app, which joins tiny's runs in the apps table's `other`.
    .add(10, "jellyfin", Success, Repo::Production, 1, &[]);
    let docs = runs.documents();
    let meta = meta(&docs, Repo::Production, Some(30)).await;
    for unlisted in ["tiny", "jellyfin", "absent"] {
        assert!(
            docs.app(meta.clone(), unlisted).await.unwrap().is_none(),
            "{unlisted}"
        );
    }

    let docker = docs.app(meta, "docker").await.unwrap().expect("26 runs");
    assert_eq!((docker.counts.runs, docker.counts.failed), (26, 6));
    let breakdowns: Vec<&str> = docker.breakdowns.keys().copied().collect();
    assert_eq!(
        breakdowns,
        ["command", "error_category", "os", "pattern", "pve", "type"]
    );
    assert_eq!(
        values(&docker.breakdowns["type"], |g| g.value.clone()),
        ["lxc"]
    );
    // Exit codes count failures only, and share them.
    let codes = &docker.exit_codes.groups;
    assert_eq!(codes.len(), 1);
    assert_eq!((codes[0].value.as_str(), codes[0].counts.runs), ("100", 6));
    assert_eq!(codes[0].share, Some(1.0));
    assert!(codes[0].meaning.is_some());
    assert_eq!(docker.days.len(), 1);
}

#[tokio::test]
async fn errors_share_the_failures_and_name_each_apps_top_exit_code() {
    let code = |c| [(Dimension::ExitCode, c)];
    let mut runs = Runs::new();
    runs.add(40, "docker", Success, Repo::Production, 1, &[])
        .add(6, "docker", Failed, Repo::Production, 1, &code("100"))
        .add(5, "docker", Failed, Repo::Production, 1, &code("127"))
        .add(20, "jellyfin", Success, Repo::Production, 1, &[])
        .add(5, "jellyfin", Aborted, Repo::Production, 1, &code("100"));
    let docs = runs.documents();
    let errors = docs
        .errors(meta(&docs, Repo::Production, Some(30)).await)
        .await
        .unwrap();
    let totals = errors.totals.unwrap();
    assert_eq!((totals.failed, totals.aborted), (11, 5));

    let codes: Vec<(&str, u64, Option<f64>)> = errors
        .exit_codes
        .groups
        .iter()
        .map(|c| (c.value.as_str(), c.counts.runs, c.share))
        .collect();
    assert_eq!(codes, [("100", 11, Some(0.6875)), ("127", 5, Some(0.3125))]);

    let apps: Vec<(&str, u64, Option<&str>)> = errors
        .apps
        .iter()
        .map(|a| {
            (
                a.nsapp.as_str(),
                a.failed + a.aborted,
                a.top_exit_code.as_ref().map(|t| t.value.as_str()),
            )
        })
        .collect();
    assert_eq!(
        apps,
        [("docker", 11, Some("100")), ("jellyfin", 5, Some("100"))],
        "most failures first"
    );
    assert_eq!(errors.apps[0].failure_rate, Some(0.2157), "11 of 51");
    assert_eq!(errors.unfinished.runs, Some(0));
}

#[test]
fn durations_are_published_to_two_digits_and_5_s_at_least() {
    let cases = [
        (0, 0),
        (2, 0),
        (3, 5),
        (47, 45),
        (98, 100),
        (123, 120),
        (1234, 1200),
        (98_765, 99_000),
    ];
    for (seconds, published) in cases {
        assert_eq!(round_duration(seconds), published, "{seconds}");
    }
}

#[test]
fn ratios_and_rates_are_rounded_and_never_divide_by_zero() {
    assert_eq!(ratio(1, 3), Some(0.3333));
    assert_eq!(ratio(1, 0), None);
    assert_eq!(per_day(10, 3), 3.33);
    assert_eq!(per_day(10, 0), 10.0);
}

#[test]
fn an_exit_code_carries_the_clients_meaning_and_category() {
    let g = Group {
        value: "214".into(),
        counts: RunCounts {
            runs: 5,
            failed: 5,
            ..RunCounts::default()
        },
        installs: 5,
        cell_key: 0,
    };
    let code = exit_code(g, 20);
    assert_eq!(code.meaning, Some("Proxmox: Not enough storage space"));
    assert_eq!(code.category, Some("storage"));
    assert_eq!(code.share, Some(0.25));
}
