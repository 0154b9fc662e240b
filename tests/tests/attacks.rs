//! The attacker's test suite: the ways published statistics can be combined to learn
//! something about fewer than k sessions, tried through the public API and the export
//! on the designed dataset (tests/src/seeded.rs: 1 000 production runs, 91 of other
//! repositories, groups just below and just above k, one installation with six runs).
//!
//! A new document or statistic is covered as soon as it is listed in `DOCS` or served
//! under an app: every test here walks every document of every window and repository.
//!
//! What these tests try, and what the service guarantees against it (ARCHITECTURE.md,
//! "Publication"):
//! - polling between releases: nothing changes until the next complete day is released;
//! - a table's total minus its groups: what it hides is nothing or at least k runs;
//! - `all` minus two repositories: exactly what the third publishes;
//! - install-duration quantiles: only from 20 runs, rounded, without their count;
//! - padding a victim's group with k−1 made-up sessions, and a release (or window)
//!   minus the one before: every count carries noise drawn from its runs
//!   (aggregator/src/noise.rs), so the victim's outcome is a guess, right about as often
//!   as ε-differential privacy allows for the counts of one group, and the same runs
//!   give the same numbers wherever they are asked for.
//!
//! The pipelines here publish as deployed, with noise, except where a test checks sums
//! to the run (it says so).

use std::collections::BTreeMap;

use serde_json::Value;
use tests::Pipeline;
use tests::seeded::{self, Run};

const K: u64 = 5;
const WINDOWS: [&str; 6] = ["1", "7", "30", "90", "365", "all"];
const REPOS: [&str; 4] = ["production", "development", "external", "all"];
const DOCS: [&str; 7] = [
    "summary", "apps", "daily", "os", "pve", "hardware", "errors",
];

/// Every public document of the current release, by path, with every app document the
/// apps lists name.
async fn every_document(p: &Pipeline) -> BTreeMap<String, Value> {
    let mut docs = BTreeMap::new();
    for days in WINDOWS {
        for repo in REPOS {
            for doc in DOCS {
                let path = format!("/v1/stats/{doc}?days={days}&repo={repo}");
                let v = p.get_json(&format!("{}{path}", p.aggregator_url)).await;
                docs.insert(path, v);
            }
            let apps = docs[&format!("/v1/stats/apps?days={days}&repo={repo}")]["apps"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["nsapp"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>();
            for app in apps {
                let path = format!("/v1/stats/apps/{app}?days={days}&repo={repo}");
                let v = p.get_json(&format!("{}{path}", p.aggregator_url)).await;
                docs.insert(path, v);
            }
        }
    }
    docs
}

/// One published table: its groups by value, its `other`, and the total it is a
/// breakdown of (`None` when the total is not published).
#[derive(Debug, Default, Clone, PartialEq)]
struct Table {
    groups: BTreeMap<String, u64>,
    other: Option<u64>,
    total: Option<u64>,
}

fn runs(v: &Value) -> u64 {
    v["runs"].as_u64().unwrap()
}

fn failures(v: &Value) -> Option<u64> {
    Some(v["failed"].as_u64()? + v["aborted"].as_u64()?)
}

/// A breakdown as published: groups keyed by whichever field names them.
fn table(v: &Value, items: &str, total: Option<u64>, count: fn(&Value) -> u64) -> Table {
    let groups = v[items]
        .as_array()
        .unwrap_or_else(|| panic!("{items} in {v}"))
        .iter()
        .map(|g| {
            let key = ["value", "pattern", "nsapp", "day"]
                .iter()
                .find_map(|k| g[*k].as_str())
                .unwrap();
            (key.to_owned(), count(g))
        })
        .collect();
    Table {
        groups,
        other: v.get("other").filter(|o| !o.is_null()).map(count),
        total,
    }
}

/// Every table of the current release, by a name that leaves out the repository (so
/// that the same table of each repository can be compared) and the repository.
fn tables(docs: &BTreeMap<String, Value>) -> BTreeMap<(String, String), Table> {
    let mut out = BTreeMap::new();
    for (path, doc) in docs {
        let repo = doc["repo"].as_str().unwrap().to_owned();
        let days = path
            .split("days=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap();
        let summary = &docs[&format!("/v1/stats/summary?days={days}&repo={repo}")];
        let scope_runs = summary["runs"].as_u64();
        let mut add = |name: String, t: Table| {
            out.insert((format!("{days}/{name}"), repo.clone()), t);
        };
        let doc_name = path
            .trim_start_matches("/v1/stats/")
            .split('?')
            .next()
            .unwrap();
        match doc_name {
            "summary" => {}
            "apps" => add("apps".into(), table(doc, "apps", scope_runs, runs)),
            "daily" => add("daily".into(), table(doc, "days", scope_runs, runs)),
            "os" | "pve" => add(doc_name.into(), table(doc, "groups", scope_runs, runs)),
            "hardware" => {
                for (dim, t) in doc["dimensions"].as_object().unwrap() {
                    add(
                        format!("hardware/{dim}"),
                        table(t, "groups", scope_runs, runs),
                    );
                }
            }
            "errors" => {
                let f = failures(&doc["totals"]);
                for part in ["exit_codes", "categories", "patterns", "commands"] {
                    add(
                        format!("errors/{part}"),
                        table(&doc[part], "groups", f, runs),
                    );
                }
                // A day is a group of runs; its failures are what is told of it.
                add(
                    "errors/days".into(),
                    table(doc, "days", doc["totals"]["runs"].as_u64(), runs),
                );
            }
            app => {
                let r = doc["runs"].as_u64();
                let f = failures(doc);
                for (dim, t) in doc["breakdowns"].as_object().unwrap() {
                    let total = if matches!(dim.as_str(), "error_category" | "pattern" | "command")
                    {
                        f
                    } else {
                        r
                    };
                    add(format!("{app}/{dim}"), table(t, "groups", total, runs));
                }
                add(
                    format!("{app}/exit_codes"),
                    table(&doc["exit_codes"], "groups", f, runs),
                );
                add(format!("{app}/days"), table(doc, "days", r, runs));
            }
        }
    }
    out
}

/// Polling: a run sent after the release changes no public byte, in the API or the
/// export, until the next complete day is released; and today is never public.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_learns_nothing_until_the_next_release() {
    let p = Pipeline::start_published().await;
    let (_, stored) = seeded::post(&p).await;
    // Released through today, as it will be once today has ended.
    p.refresh().await;
    let before = every_document(&p).await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-attacks");
    let (export_before, export_after) = (root.join("before"), root.join("after"));
    p.export(&export_before);

    // The victim: one failed run of a common app with rare attributes, sent now.
    let victim = serde_json::json!([
        {"random_id": "11111111-2222-4333-8444-555555555555", "type": "vm", "nsapp": "docker",
         "status": "installing", "os_type": "fedora", "os_version": "42", "pve_version": "8.1",
         "core_count": 64, "ram_size": 262144, "disk_size": 900, "repo_source": "ProxmoxVE"},
        {"random_id": "11111111-2222-4333-8444-555555555555", "type": "vm", "nsapp": "docker",
         "status": "failed", "exit_code": 214, "error": "no space left on device",
         "repo_source": "ProxmoxVE"}
    ]);
    let (accepted, _) = seeded::post_batch(&p, victim.as_array().unwrap()).await;
    assert_eq!(accepted, 2);
    p.wait_stored(stored + 2).await;
    // The aggregator recomputes, as it does every minute; the release that is due
    // (through yesterday) is older than the one out there, so none is cut.
    assert_eq!(
        p.refresh_on_schedule(time::OffsetDateTime::now_utc()).await,
        None
    );
    let after = every_document(&p).await;
    assert_eq!(before.len(), after.len());
    for (path, doc) in &before {
        assert_eq!(doc, &after[path], "{path} changed between releases");
    }
    p.export(&export_after);
    let files = |dir: &std::path::Path| -> BTreeMap<String, Vec<u8>> {
        walk(dir)
            .into_iter()
            .map(|f| {
                (
                    f.strip_prefix(dir).unwrap().display().to_string(),
                    std::fs::read(&f).unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(files(&export_before), files(&export_after));
    p.stop().await;
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn today_is_never_public() {
    let p = Pipeline::start_published().await;
    fix_secret(&p).await;
    seeded::post(&p).await;
    let now = time::OffsetDateTime::now_utc();
    // As deployed: the refresh computes today, but releases only complete days.
    p.refresh_on_schedule(now).await;
    for days in WINDOWS {
        for repo in REPOS {
            let s = p
                .get_json(&format!(
                    "{}/v1/stats/summary?days={days}&repo={repo}",
                    p.aggregator_url
                ))
                .await;
            assert_eq!(s["suppressed"], true, "{days} {repo}: {s}");
            assert_eq!(s["generated_at"], Value::Null);
        }
    }
    // Once today has ended and its runs have had the delay to finish, it is released.
    let tomorrow = now + time::Duration::days(1) + time::Duration::hours(3);
    assert_eq!(p.refresh_on_schedule(tomorrow).await, Some(now.date()));
    let s = p
        .get_json(&format!("{}/v1/stats/summary?days=30", p.aggregator_url))
        .await;
    // 1 000 runs, give or take their noise.
    let runs = s["runs"].as_u64().unwrap();
    assert!(runs.abs_diff(1000) <= 20, "{runs}");
    assert_eq!(s["window"]["until"], now.date().to_string());
    p.stop().await;
}

/// Complement: in every table of every document, its total minus what it lists and
/// its `other` is nothing, or at least k runs; `other` is at least k runs.
///
/// On exact counts: what a table hides is decided on them, and the noise published on
/// top would blur the sums this test checks to the run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_table_minus_its_groups_gives_fewer_than_k() {
    let p = Pipeline::start().await;
    let (runs, _) = seeded::post(&p).await;
    p.refresh().await;
    let docs = every_document(&p).await;
    let tables = tables(&docs);
    assert!(tables.len() > 500, "{} tables", tables.len());
    let mut with_hidden = 0;
    for ((name, repo), t) in &tables {
        assert!(t.groups.values().all(|&n| n >= K), "{repo} {name}: {t:?}");
        if let Some(o) = t.other {
            assert!(o >= K, "{repo} {name}: other {o}");
        }
        // `all` is the sum of the repositories' tables (the next test): what it hides
        // is what they hide.
        let Some(total) = t.total.filter(|_| repo != "all") else {
            continue;
        };
        let listed: u64 = t.groups.values().sum::<u64>() + t.other.unwrap_or(0);
        let unseen = total - listed;
        // A table that shows nothing tells no more than its total, which is public.
        let shows_nothing = listed == 0;
        assert!(
            unseen == 0 || unseen >= K || shows_nothing,
            "{repo} {name}: the total minus the table is {unseen} runs: {t:?}"
        );
        with_hidden += usize::from(unseen > 0 || t.other.is_some());
    }
    // The dataset makes it try: many tables hide something.
    assert!(with_hidden > 50, "{with_hidden}");

    // And what production's apps and OS tables hide comes from k installations of at
    // least two values.
    let production: Vec<&Run> = runs.iter().filter(|r| r.repo == "production").collect();
    for (name, key) in [
        (
            "30/apps",
            (|r: &Run| r.app.to_owned()) as fn(&Run) -> String,
        ),
        ("30/os", |r: &Run| r.os.clone()),
    ] {
        let t = &tables[&(name.to_owned(), "production".to_owned())];
        let hidden: Vec<&&Run> = production
            .iter()
            .filter(|r| !t.groups.contains_key(&key(r)))
            .collect();
        let installations: std::collections::BTreeSet<&str> =
            hidden.iter().map(|r| r.random_id.as_str()).collect();
        let values: std::collections::BTreeSet<String> = hidden.iter().map(|r| key(r)).collect();
        assert_eq!(t.other, Some(hidden.len() as u64), "{name}");
        assert!(installations.len() as u64 >= K, "{name}");
        assert!(values.len() >= 2, "{name}: {values:?}");
    }
    p.stop().await;
}

/// Across repositories: every table of `all` is exactly the sum of the same table of
/// each repository, so `all` minus two of them is what the third publishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_minus_two_repositories_is_what_the_third_publishes() {
    let p = Pipeline::start_published().await;
    seeded::post(&p).await;
    p.refresh().await;
    let docs = every_document(&p).await;
    let tables = tables(&docs);
    let mut compared = 0;
    for ((name, repo), all) in &tables {
        if repo != "all" {
            continue;
        }
        let mut sum = Table::default();
        for r in ["production", "development", "external"] {
            let Some(t) = tables.get(&(name.clone(), r.to_owned())) else {
                continue;
            };
            for (v, n) in &t.groups {
                *sum.groups.entry(v.clone()).or_default() += n;
            }
            if let Some(o) = t.other {
                *sum.other.get_or_insert(0) += o;
            }
            if let Some(total) = t.total {
                *sum.total.get_or_insert(0) += total;
            }
        }
        assert_eq!(all.groups, sum.groups, "{name}");
        assert_eq!(all.other, sum.other, "{name}");
        assert_eq!(all.total, sum.total, "{name}");
        compared += 1;
    }
    assert!(compared > 100, "{compared}");
    // The summaries too.
    for days in WINDOWS {
        let mut sum = 0;
        for repo in ["production", "development", "external"] {
            let s = &docs[&format!("/v1/stats/summary?days={days}&repo={repo}")];
            sum += s["runs"].as_u64().unwrap_or(0);
        }
        let all = &docs[&format!("/v1/stats/summary?days={days}&repo=all")];
        assert_eq!(all["runs"].as_u64().unwrap_or(0), sum, "{days}");
    }
    p.stop().await;
}

/// Quantiles: an app's install durations are published only from 20 successful runs
/// with a duration, rounded to 5 s or two digits, and without how many runs they are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quantiles_are_published_only_from_enough_runs_and_rounded() {
    let p = Pipeline::start_published().await;
    let (runs, _) = seeded::post(&p).await;
    p.refresh().await;
    let apps = p
        .get_json(&format!("{}/v1/stats/apps?days=30", p.aggregator_url))
        .await;
    let mut with = 0;
    let mut without = 0;
    for a in apps["apps"].as_array().unwrap() {
        let app = a["nsapp"].as_str().unwrap();
        let timed = runs
            .iter()
            .filter(|r| r.repo == "production" && r.app == app && r.outcome == "success")
            .filter(|r| r.duration.is_some())
            .count();
        let d = &a["duration"];
        if timed >= 20 {
            with += 1;
            assert!(d["runs"].is_null(), "{app}");
            for q in ["p25_seconds", "p50_seconds", "p75_seconds", "p90_seconds"] {
                let s = d[q].as_u64().unwrap();
                assert_eq!(s % 5, 0, "{app} {q} {s}");
            }
            let doc = p
                .get_json(&format!("{}/v1/stats/apps/{app}?days=30", p.aggregator_url))
                .await;
            assert_eq!(doc["duration"], *d, "{app}");
        } else {
            without += 1;
            assert!(d.is_null(), "{app}: {timed} runs give {d}");
        }
    }
    assert!(with > 0 && without > 0, "{with} {without}");
    p.stop().await;
}

/// The secret the noise is drawn from, written before the first release (the refresh
/// keeps an existing one), so that what the attacker sees is the same at every run of
/// the test, and so is its verdict.
async fn fix_secret(p: &Pipeline) {
    p.clickhouse
        .query("INSERT INTO stats_noise (secret, created_at) VALUES ('tests/attacks.rs', now64(3))")
        .execute()
        .await
        .unwrap();
}

/// Session `j` of target `i`: a random_id the attacker chose, or the victim's.
fn session(i: usize, j: usize) -> String {
    format!("a77ac4e5-0000-4000-8000-{i:04}{j:08}")
}

fn installing(app: &str, session: &str) -> Value {
    serde_json::json!({"random_id": session, "type": "lxc", "nsapp": app, "status": "installing",
                       "os_type": "debian", "os_version": "12", "pve_version": "8.4",
                       "core_count": 2, "ram_size": 2048, "disk_size": 8,
                       "repo_source": "ProxmoxVE"})
}

fn terminal(app: &str, session: &str, failed: bool) -> Value {
    let status = if failed { "failed" } else { "success" };
    serde_json::json!({"random_id": session, "type": "lxc", "nsapp": app, "status": status,
                       "exit_code": if failed { 100 } else { 0 }, "repo_source": "ProxmoxVE"})
}

/// Post runs `(app, session, failed)` through ingest, installing events first, and wait
/// until they are stored.
async fn post_runs(p: &Pipeline, runs: &[(String, String, bool)], stored_before: u64) -> u64 {
    let first: Vec<Value> = runs.iter().map(|(a, s, _)| installing(a, s)).collect();
    let last: Vec<Value> = runs.iter().map(|(a, s, f)| terminal(a, s, *f)).collect();
    let (a, _) = seeded::post_batch(p, &first).await;
    let (b, _) = seeded::post_batch(p, &last).await;
    assert_eq!(a + b, 2 * runs.len() as u64);
    p.wait_stored(stored_before + a + b).await;
    stored_before + a + b
}

/// The (success, failed) counts of every app in the apps table of `days`.
async fn app_counts(p: &Pipeline, days: &str) -> BTreeMap<String, (i64, i64)> {
    let apps = p
        .get_json(&format!("{}/v1/stats/apps?days={days}", p.aggregator_url))
        .await;
    apps["apps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let n = |f: &str| a[f].as_i64().unwrap();
            (
                a["nsapp"].as_str().unwrap().to_owned(),
                (n("success"), n("failed")),
            )
        })
        .collect()
}

/// How often an attacker guesses each victim's outcome right from what the counts
/// moved by (`success`, `failed` beyond what the attacker knows of), with the best of
/// a family of rules chosen in hindsight. With exact counts the first rule is always
/// right.
fn best_guess(seen: &[(bool, i64, i64)]) -> f64 {
    let rules: Vec<Box<dyn Fn(i64, i64) -> bool>> = (-3..=3)
        .flat_map(|t| {
            [
                Box::new(move |s: i64, f: i64| f - s > t) as Box<dyn Fn(i64, i64) -> bool>,
                Box::new(move |_: i64, f: i64| f > t),
                Box::new(move |s: i64, _: i64| s <= t),
            ]
        })
        .collect();
    rules
        .iter()
        .map(|rule| {
            seen.iter()
                .filter(|(failed, s, f)| rule(*s, *f) == *failed)
                .count() as f64
                / seen.len() as f64
        })
        .fold(0.0, f64::max)
}

const TARGETS: usize = 100;

/// Padding: beside each victim's lone run of an app, the attacker posts k−1 made-up
/// successful sessions of it, so that the app is published, and reads the victim's
/// outcome off the apps table (its failures, its successes minus the attacker's).
/// Exact counts would tell every outcome. With the noise, the best rule the attacker
/// can pick in hindsight is right for about 73 % of the victims (the Bayes bound for
/// ε = 1 on these two counts), and asking again, or another table of the same runs,
/// gives the same numbers, so there is nothing to average.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn padding_leaves_the_victims_outcome_behind_noise() {
    let p = Pipeline::start_published().await;
    fix_secret(&p).await;
    let mut runs = Vec::new();
    for i in 0..TARGETS {
        let app = format!("pad-app-{i:03}");
        for j in 0..K as usize - 1 {
            runs.push((app.clone(), session(i, j), false));
        }
        runs.push((app, session(i, 99), i % 2 == 0));
    }
    post_runs(&p, &runs, 0).await;
    p.refresh().await;
    let all = app_counts(&p, "all").await;
    let seen: Vec<(bool, i64, i64)> = (0..TARGETS)
        .map(|i| {
            let (s, f) = all[&format!("pad-app-{i:03}")];
            (i % 2 == 0, s - (K as i64 - 1), f)
        })
        .collect();
    let rate = best_guess(&seen);
    eprintln!("padding: the attacker is right for {rate} of the victims");
    assert!(
        rate < 0.9,
        "the attacker is right for {rate} of the victims"
    );
    // Not all of it is noise: the counts are published, near the truth.
    let exact = seen
        .iter()
        .filter(|(failed, s, f)| (*s, *f) == (i64::from(!failed), i64::from(*failed)))
        .count();
    assert!(exact < TARGETS / 2, "{exact} apps show their exact counts");
    assert!(
        seen.iter().all(|(_, s, f)| s.abs() <= 12 && *f <= 12),
        "{seen:?}"
    );

    // The same runs give the same numbers wherever they are counted: in another
    // window, in the app's own document, and when asked again.
    assert_eq!(app_counts(&p, "7").await, all);
    assert_eq!(app_counts(&p, "all").await, all);
    for i in 0..5 {
        let app = format!("pad-app-{i:03}");
        let doc = p
            .get_json(&format!(
                "{}/v1/stats/apps/{app}?days=all",
                p.aggregator_url
            ))
            .await;
        let (s, f) = all[&app];
        assert_eq!(
            (doc["success"].as_i64(), doc["failed"].as_i64()),
            (Some(s), Some(f))
        );
        // And the document says its counts carry noise.
        assert_eq!(doc["noise_epsilon"], 1.0);
    }
    p.stop().await;
}

/// Differencing: a release minus the one before (here `days=all` and `days=7` of the
/// release through today minus those through yesterday) is one day's runs, below k in
/// each app. Each app had k runs yesterday; today a victim's run joins it. The numbers
/// of the app through today are drawn afresh (its runs are not the same), so what they
/// moved by is the victim's outcome plus the difference of two draws: the best rule is
/// right for about 67 % of the victims.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_minus_the_one_before_leaves_a_days_runs_behind_noise() {
    let p = Pipeline::start_published().await;
    fix_secret(&p).await;
    // Yesterday, as the consumer would have stored it: k runs of each app, one failed.
    let yesterday = time::OffsetDateTime::now_utc()
        .replace_time(time::Time::from_hms(12, 0, 0).unwrap())
        - time::Duration::days(1);
    let mut events = Vec::new();
    for i in 0..TARGETS {
        let app = format!("diff-app-{i:03}");
        for j in 0..K as usize {
            let s = session(i, j);
            for (body, later) in [(installing(&app, &s), 0), (terminal(&app, &s, j == 0), 5)] {
                events.push(tests::stored_event(
                    &body.to_string(),
                    yesterday + time::Duration::minutes(later),
                ));
            }
        }
    }
    p.insert_events(&events).await;
    p.refresh_at(yesterday + time::Duration::hours(6)).await;
    let before = (app_counts(&p, "all").await, app_counts(&p, "7").await);
    assert_eq!(before.0.len(), TARGETS);

    let victims: Vec<(String, String, bool)> = (0..TARGETS)
        .map(|i| (format!("diff-app-{i:03}"), session(i, 99), i % 2 == 0))
        .collect();
    let stored = p
        .count("SELECT uniqExact(event_id) FROM events")
        .await
        .unwrap();
    post_runs(&p, &victims, stored).await;
    p.refresh().await;
    let after = (app_counts(&p, "all").await, app_counts(&p, "7").await);
    for (window, before, after) in [("all", &before.0, &after.0), ("7", &before.1, &after.1)] {
        let seen: Vec<(bool, i64, i64)> = (0..TARGETS)
            .map(|i| {
                let app = format!("diff-app-{i:03}");
                let (s0, f0) = before[&app];
                let (s1, f1) = after[&app];
                (i % 2 == 0, s1 - s0, f1 - f0)
            })
            .collect();
        let rate = best_guess(&seen);
        eprintln!("days={window}: the attacker is right for {rate} of the victims");
        assert!(rate < 0.9, "days={window}: right for {rate} of the victims");
    }
    // The two windows count the same runs, so they agree: a second look adds nothing.
    assert_eq!(after.0, after.1);
    p.stop().await;
}
