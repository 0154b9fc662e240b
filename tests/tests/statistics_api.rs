//! Every statistics endpoint and the export, on a designed dataset of 1 000 production
//! runs and 91 of the other sources put through ingest and the consumer
//! (tests/src/seeded.rs): the numbers are exactly the ones the design implies, for every
//! repository filter, and nothing below k (runs or installations), no identifier and no
//! free text is ever published.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use tests::seeded::{self, Run};
use tests::{Checks, Pipeline};

const K: u64 = 5;

/// runs, success, failed, aborted, unfinished, in_progress
type Counts = [u64; 6];

fn counts<'a>(runs: impl IntoIterator<Item = &'a Run>, stuck: bool) -> Counts {
    let mut c = [0; 6];
    for r in runs {
        c[0] += 1;
        c[match r.outcome {
            "success" => 1,
            "failed" => 2,
            "aborted" => 3,
            _ if stuck => 4,
            _ => 5,
        }] += 1;
    }
    c
}

use tests::run_counts as doc_counts;

/// A breakdown as published: groups (most runs first), other, suppressed groups.
type Publication = (Vec<(String, Counts)>, Option<Counts>, u64);

fn published(doc: &Value) -> Publication {
    let groups = doc["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["value"].as_str().unwrap().to_owned(), doc_counts(g)))
        .collect();
    let other = (!doc["other"].is_null()).then(|| doc_counts(&doc["other"]));
    (groups, other, doc["suppressed_groups"].as_u64().unwrap())
}

/// Whether runs may be published together: at least k runs from at least k
/// installations.
fn passes(runs: &[&Run]) -> bool {
    let installations: BTreeSet<&str> = runs.iter().map(|r| r.random_id.as_str()).collect();
    runs.len() as u64 >= K && installations.len() as u64 >= K
}

/// What k-anonymous publication of `runs` by `key` must give, computed from the design:
/// the groups that pass, listed; the small ones (and the runs without a value, when they
/// do not pass) in `other` when they pass together; when they do not, the smallest
/// group listed joins them, since the total minus the listed groups would give them away.
fn expected(runs: &[&Run], key: impl Fn(&Run) -> Option<String>) -> Publication {
    let mut by: BTreeMap<String, Vec<&Run>> = BTreeMap::new();
    for r in runs {
        by.entry(key(r).unwrap_or_default()).or_default().push(r);
    }
    let mut groups: Vec<(String, Vec<&Run>)> = Vec::new();
    let mut small: Vec<&Run> = Vec::new();
    let mut small_groups = 0;
    for (v, rs) in by {
        if passes(&rs) {
            if !v.is_empty() {
                groups.push((v, rs));
            }
        } else {
            small.extend(rs);
            small_groups += 1;
        }
    }
    groups.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
    let other = if small_groups == 0 {
        None
    } else if passes(&small) {
        Some(counts(small.iter().copied(), false))
    } else if let Some((_, smallest)) = groups.pop() {
        small.extend(smallest);
        Some(counts(small.iter().copied(), false))
    } else {
        return (Vec::new(), None, small_groups);
    };
    let groups = groups
        .into_iter()
        .map(|(v, rs)| (v, counts(rs.iter().copied(), false)))
        .collect();
    (groups, other, 0)
}

/// The runs of one repository filter.
fn of_repo<'a>(runs: &'a [Run], repo: &str) -> Vec<&'a Run> {
    runs.iter()
        .filter(|r| repo == "all" || r.repo == repo)
        .collect()
}

/// The apps an apps document lists, with their counts.
fn listed_apps(doc: &Value) -> Vec<(String, Counts)> {
    doc["apps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["nsapp"].as_str().unwrap().to_owned(), doc_counts(a)))
        .collect()
}

async fn get(p: &Pipeline, path: &str) -> Value {
    let r = testkit::get(&p.http, &format!("{}{path}", p.aggregator_url)).await;
    assert_eq!(r.status(), 200, "{path}");
    r.json().await.unwrap()
}

/// Strings of the raw data that must never be published: identifiers, free text, and
/// the groups of fewer than k runs.
const NEVER: &[&str] = &[
    "00000000-0000-4000",
    // One installation's six runs.
    "solitary",
    "alice",
    "example.org",
    "192.168",
    "i5-8500T",
    "wireguard",
    "fedora",
];

fn assert_nothing_private(what: &str, text: &str) {
    for s in NEVER {
        assert!(!text.contains(s), "{what} publishes {s:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_gives_the_designed_numbers() {
    let p = Pipeline::start().await;
    let (runs, stored) = seeded::post(&p).await;
    assert_eq!(runs.len(), 1091);
    assert_eq!(stored, 2 * 1091 + 991 + 91 + 5 + 142);
    assert_eq!(stored, seeded::events_stored(&runs));
    p.refresh().await;
    // Production, what every document counts unless asked otherwise.
    let all = of_repo(&runs, "production");
    assert_eq!(all.len(), 1000);

    // One dataset, a check per document: each reports on its own.
    let mut checks = Checks::default();
    checks.run("summary", summary(&p, &all)).await;
    checks.run("apps", apps(&p, &all)).await;
    checks.run("one app", one_app(&p, &all)).await;
    checks.run("refusals", refusals(&p)).await;
    checks.run("daily", daily(&p)).await;
    checks.run("breakdowns", breakdowns(&p, &all)).await;
    checks.run("errors", errors(&p, &all)).await;
    checks.run("repositories", repositories(&p, &runs)).await;
    checks.run("nothing private", nothing_private(&p)).await;
    // Changes the statistics, and after 21:00 UTC the day they are released for (three
    // hours on is tomorrow, whose one-day window holds no run): after the others.
    checks.run("unfinished", unfinished_later(&p)).await;
    checks.finish();
    p.stop().await;
}

/// Summary: the designed totals, and a success rate over the finished runs.
async fn summary(p: &Pipeline, all: &[&Run]) {
    let s = get(p, "/v1/stats/summary?days=30").await;
    assert_eq!(s["repo"], "production");
    assert_eq!(doc_counts(&s), [1000, 838, 136, 17, 0, 9], "{s}");
    assert_eq!(doc_counts(&s), counts(all.iter().copied(), false));
    assert_eq!(s["success_rate"], 0.8456);
    assert_eq!(s["suppressed"], false);
    assert_eq!(s["k"], K);
    assert_eq!(s["window"]["days"], 30);
    assert!(s["generated_at"].is_string());
    assert_eq!(
        doc_counts(&get(p, "/v1/stats/summary?days=all").await),
        doc_counts(&s)
    );
}

/// Apps: every app of at least k runs, most runs first, but for the smallest.
async fn apps(p: &Pipeline, all: &[&Run]) {
    let apps = get(p, "/v1/stats/apps").await;
    let listed = listed_apps(&apps);
    let want = expected(all, |r| Some(r.app.to_owned()));
    assert_eq!(listed, want.0);
    assert_eq!(listed.len(), 9);
    // plex (6 runs) would pass, but the total minus the apps listed would then be
    // wireguard's 4: both are in `other`.
    assert_eq!(apps["other"]["runs"], 10);
    assert_eq!(apps["suppressed_groups"], 0);
    // Failure rates: at least max(10, 1 per day) = 30 finished runs over 30 days, so
    // immich (19 finished) is not ranked; vaultwarden (12 of 59) edges out
    // homeassistant (40 of 197).
    assert_eq!(apps["min_runs"], 30);
    let ranking: Vec<(&str, f64)> = apps["highest_failure_rate"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["nsapp"].as_str().unwrap(),
                a["failure_rate"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ranking,
        [
            ("adguard", 0.5),
            ("nextcloud", 0.3),
            ("vaultwarden", 0.2034),
            ("homeassistant", 0.203),
            ("gitea", 0.1),
            ("docker", 0.0503),
            ("jellyfin", 0.0403),
            ("pihole", 0.0)
        ]
    );
    // Over a year the bar is 365 finished runs, which no app reaches.
    let year = get(p, "/v1/stats/apps?days=365").await;
    assert_eq!(year["min_runs"], 365);
    assert_eq!(year["highest_failure_rate"], serde_json::json!([]));

    // Install durations of successful runs: p50 and p90 of the design, within the
    // t-digest's error.
    let docker = &apps["apps"][0];
    assert_eq!(docker["nsapp"], "docker");
    let mut durations: Vec<u32> = all
        .iter()
        .filter(|r| r.app == "docker")
        .filter_map(|r| r.duration)
        .collect();
    durations.sort_unstable();
    // How many is not published: a count beside the app's others could be subtracted.
    assert!(docker["duration"]["runs"].is_null());
    assert!(durations.len() >= 20);
    for (key, q) in [("p50_seconds", 0.5), ("p90_seconds", 0.9)] {
        let exact = f64::from(durations[(q * durations.len() as f64) as usize]);
        let got = docker["duration"][key].as_f64().unwrap();
        // Rounded to two digits (5 s at least), after the t-digest's error.
        assert!(
            (got - exact).abs() <= 3.0 + exact * 0.05,
            "{key}: {got} vs {exact}"
        );
        assert_eq!(got % 5.0, 0.0, "{key}: {got}");
    }
}

/// One app, with its own k-anonymous breakdowns.
async fn one_app(p: &Pipeline, all: &[&Run]) {
    let d = get(p, "/v1/stats/apps/docker?days=all").await;
    let docker_runs: Vec<&Run> = all.iter().copied().filter(|r| r.app == "docker").collect();
    assert_eq!(doc_counts(&d), counts(docker_runs.iter().copied(), false));
    assert_eq!(d["breakdowns"]["type"]["groups"][0]["value"], "lxc");
    assert_eq!(
        published(&d["breakdowns"]["os"]),
        expected(&docker_runs, |r| Some(r.os.clone()))
    );
    // docker's 18 failed or aborted runs split into groups of 3 and 4: each below k,
    // together in `other`.
    let categories = published(&d["breakdowns"]["error_category"]);
    assert_eq!(
        categories,
        expected(&docker_runs, |r| (!r.category.is_empty())
            .then(|| r.category.to_owned()))
    );
    assert!(categories.0.is_empty());
    assert_eq!(categories.1.map(|c| c[0]), Some(18));
}

/// What is not a document, a window or a repository is refused with a reason.
async fn refusals(p: &Pipeline) {
    for (path, status) in [
        ("/v1/stats/apps/wireguard", 404),
        ("/v1/stats/apps/no-such-app", 404),
        ("/v1/stats/apps/Not%20An%20App", 400),
        ("/v1/stats/summary?days=0", 400),
        // Only the six windows: one more day than another would tell that day's exact
        // counts, which the daily view withholds below k.
        ("/v1/stats/summary?days=2", 400),
        ("/v1/stats/summary?days=31", 400),
        ("/v1/stats/summary?days=366", 400),
        ("/v1/stats/apps?days=week", 400),
        ("/v1/stats/summary?repo=forks", 400),
        ("/v1/stats/apps?repo=", 400),
        ("/v1/stats/nothing", 404),
    ] {
        let r = testkit::get(&p.http, &format!("{}{path}", p.aggregator_url)).await;
        assert_eq!(r.status(), status, "{path}");
        let body: Value = r.json().await.unwrap();
        assert!(body["error"].is_string(), "{path}: {body}");
        if path.contains("days=2") {
            assert!(
                body["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("1, 7, 30, 90, 365")),
                "{body}"
            );
        }
    }
}

/// The time series: the days of the window add up to the summary.
async fn daily(p: &Pipeline) {
    let daily = get(p, "/v1/stats/daily").await;
    let s = get(p, "/v1/stats/summary?days=30").await;
    let mut total = [0; 6];
    for day in daily["days"].as_array().unwrap() {
        assert!(day["runs"].as_u64().unwrap() >= K);
        for (t, c) in total.iter_mut().zip(doc_counts(day)) {
            *t += c;
        }
    }
    assert_eq!(total, doc_counts(&s));
    assert_eq!(daily["suppressed_days"], 0);
}

/// Breakdowns over all apps.
async fn breakdowns(p: &Pipeline, all: &[&Run]) {
    let os = get(p, "/v1/stats/os").await;
    let want = expected(all, |r| Some(r.os.clone()));
    assert_eq!(published(&os), want);
    assert_eq!(want.2, 0);
    assert!(
        want.1.is_some_and(|o| o[0] > 4),
        "fedora 42, with 4 runs, is hidden with the smallest OS listed"
    );
    assert_eq!(
        published(&get(p, "/v1/stats/pve").await),
        expected(all, |r| Some(r.pve.to_owned()))
    );
    let hw = get(p, "/v1/stats/hardware").await;
    assert_eq!(
        published(&hw["dimensions"]["cores"]),
        expected(all, |r| Some(r.cores_bucket().to_owned()))
    );
    assert_eq!(
        published(&hw["dimensions"]["ram"]),
        expected(all, |r| Some(r.ram_bucket().to_owned()))
    );
    assert_eq!(
        published(&hw["dimensions"]["disk"]),
        expected(all, |r| Some(r.disk_bucket().to_owned()))
    );
    assert_eq!(
        published(&hw["dimensions"]["type"]),
        expected(all, |r| Some(r.kind.to_owned()))
    );
    assert_eq!(
        published(&hw["dimensions"]["cpu_vendor"]),
        expected(all, |r| Some(
            if r.j.is_multiple_of(3) {
                "amd"
            } else {
                "intel"
            }
            .to_owned()
        ))
    );
}

/// Errors: categories of failed and aborted runs, exit codes with their meaning.
async fn errors(p: &Pipeline, all: &[&Run]) {
    let errors = get(p, "/v1/stats/errors").await;
    assert_eq!(
        published(&errors["categories"]),
        expected(all, |r| (!r.category.is_empty())
            .then(|| r.category.to_owned()))
    );
    let codes = published(&errors["exit_codes"]);
    assert_eq!(
        codes,
        expected(all, |r| r
            .exit_code
            .filter(|c| *c != 0)
            .map(|c| c.to_string()))
    );
    let apt = errors["exit_codes"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["value"] == "100")
        .unwrap();
    assert_eq!(
        apt["meaning"],
        "APT: Package manager error (broken packages / dependency problems)"
    );
    assert_eq!(apt["category"], "dependency");
    // Shares are of the failed and aborted runs (153).
    let with_100 = all.iter().filter(|r| r.exit_code == Some(100)).count();
    assert_eq!(apt["runs"], with_100);
    assert_eq!(
        apt["share"].as_f64(),
        Some((with_100 as f64 / 153.0 * 10_000.0).round() / 10_000.0)
    );
    // Every failed run's error text, scrubbed, is one pattern once numbers are masked;
    // the raw texts themselves are never published.
    let patterns = errors["patterns"]["groups"].as_array().unwrap();
    assert_eq!(patterns.len(), 1, "{}", errors["patterns"]);
    assert_eq!(doc_counts(&patterns[0]), [136, 0, 136, 0, 0, 0]);
    assert_eq!(
        errors["patterns"]["groups"][0]["pattern"],
        "step failed at line <n> for <email> on <ip>"
    );
    // Per app: failures, the top exit code with its meaning, the top category.
    let adguard = errors["apps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["nsapp"] == "adguard")
        .unwrap();
    assert_eq!(
        (adguard["runs"].as_u64(), adguard["failed"].as_u64()),
        (Some(30), Some(15))
    );
    assert_eq!(adguard["top_category"]["value"], "dependency");
    assert_eq!(adguard["top_category"]["runs"], 8);
    // Failures per day add up to the summary's.
    let failed: u64 = errors["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["failed"].as_u64().unwrap())
        .sum();
    assert_eq!(failed, 136);
}

/// The repository filter: each repository exactly its own runs, `all` their sum.
async fn repositories(p: &Pipeline, runs: &[Run]) {
    let mut sum = [0; 6];
    for repo in ["production", "development", "external"] {
        let mine = of_repo(runs, repo);
        let s = get(p, &format!("/v1/stats/summary?days=30&repo={repo}")).await;
        assert_eq!(s["repo"], repo);
        assert_eq!(
            doc_counts(&s),
            counts(mine.iter().copied(), false),
            "{repo}"
        );
        for (t, c) in sum.iter_mut().zip(doc_counts(&s)) {
            *t += c;
        }
        let apps = get(p, &format!("/v1/stats/apps?repo={repo}")).await;
        let listed = listed_apps(&apps);
        let want = expected(&mine, |r| Some(r.app.to_owned()));
        assert_eq!(listed, want.0, "{repo}");
        assert_eq!(apps["suppressed_groups"], want.2, "{repo}");
        assert_eq!(
            published(&get(p, &format!("/v1/stats/errors?repo={repo}")).await["exit_codes"]),
            expected(&mine, |r| r
                .exit_code
                .filter(|c| *c != 0)
                .map(|c| c.to_string())),
            "{repo}"
        );
    }
    let everything = get(p, "/v1/stats/summary?days=30&repo=all").await;
    assert_eq!(doc_counts(&everything), sum);
    assert_eq!(sum, counts(runs.iter(), false));
    // docker in development: 40 runs, 24 failed; in production 300 runs, 15 failed.
    let dev = get(p, "/v1/stats/apps/docker?repo=development").await;
    assert_eq!(doc_counts(&dev), [40, 16, 24, 0, 0, 0]);
    let devtool = get(p, "/v1/stats/apps/devtool?repo=development").await;
    assert_eq!(doc_counts(&devtool)[0], 10);
    let r = testkit::get(
        &p.http,
        &format!("{}/v1/stats/apps/devtool", p.aggregator_url),
    )
    .await;
    assert_eq!(r.status(), 404, "devtool has no production runs");
    // The one installation with six runs is published in no repository as an app.
    // In external it is the only small group, so the smallest external app is hidden
    // with it, in an `other` of 21 runs. `all` adds up what each repository
    // publishes, so its `other` is production's 10 and external's 21, and `all` minus
    // two repositories gives nothing the third does not show.
    let external = get(p, "/v1/stats/apps?repo=external").await;
    assert_eq!(external["other"]["runs"], 21);
    assert_eq!(external["suppressed_groups"], 0);
    let any = get(p, "/v1/stats/apps?repo=all").await;
    assert_eq!(doc_counts(&any["other"])[0], 31);
    for repo in ["external", "all"] {
        let r = testkit::get(
            &p.http,
            &format!("{}/v1/stats/apps/solitary?repo={repo}", p.aggregator_url),
        )
        .await;
        assert_eq!(r.status(), 404, "{repo}");
    }
}

/// Two hours later the runs without a terminal status are unfinished, no longer in
/// progress.
async fn unfinished_later(p: &Pipeline) {
    p.refresh_at(time::OffsetDateTime::now_utc() + time::Duration::hours(3))
        .await;
    let later = get(p, "/v1/stats/summary?days=30").await;
    assert_eq!(doc_counts(&later), [1000, 838, 136, 17, 9, 0]);
}

/// Nothing private in any document of any window and repository.
async fn nothing_private(p: &Pipeline) {
    for days in ["1", "7", "30", "90", "365", "all"] {
        for repo in ["production", "development", "external", "all"] {
            for doc in [
                "summary", "apps", "daily", "os", "pve", "hardware", "errors",
            ] {
                let v = get(p, &format!("/v1/stats/{doc}?days={days}&repo={repo}")).await;
                assert_eq!(v["repo"], repo);
                assert_nothing_private(doc, &v.to_string());
            }
        }
        let v = get(p, &format!("/v1/stats/apps/docker?days={days}")).await;
        assert_nothing_private("apps/docker", &v.to_string());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_carry_etags_and_revalidate_with_304() {
    let p = Pipeline::start().await;
    seeded::post(&p).await;
    p.refresh().await;
    let url = format!("{}/v1/stats/apps?days=30", p.aggregator_url);
    let first = p.http.get(&url).send().await.unwrap();
    assert_eq!(first.status(), 200);
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.len() == 34, "{etag}");
    assert_eq!(first.headers()["cache-control"], "public, max-age=3600");
    let body = first.bytes().await.unwrap();

    let again = p.http.get(&url).send().await.unwrap();
    assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
    assert_eq!(
        again.bytes().await.unwrap(),
        body,
        "same statistics, same bytes"
    );

    let cached = testkit::revalidate(&p.http, &url, &etag).await;
    assert_eq!(cached.status(), 304);
    assert!(cached.bytes().await.unwrap().is_empty());

    // A refresh that changes the numbers changes the tag.
    p.refresh_at(time::OffsetDateTime::now_utc() + time::Duration::hours(3))
        .await;
    let changed = testkit::revalidate(&p.http, &url, &etag).await;
    assert_eq!(changed.status(), 200);
    assert_ne!(changed.headers()["etag"].to_str().unwrap(), etag);
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_holds_the_served_documents_and_nothing_below_k() {
    let p = Pipeline::start().await;
    seeded::post(&p).await;
    p.refresh().await;
    let out = tests::workspace_root()
        .join("target/test-export")
        .join(p.consumer.clickhouse.database.as_str());
    p.export(&out);

    // Byte for byte what the API serves.
    for (file, path) in [
        (
            "api/production/30d/summary.json",
            "/v1/stats/summary?days=30",
        ),
        ("api/production/all/apps.json", "/v1/stats/apps?days=all"),
        ("api/production/7d/errors.json", "/v1/stats/errors?days=7"),
        (
            "api/production/365d/hardware.json",
            "/v1/stats/hardware?days=365",
        ),
        ("api/production/90d/daily.json", "/v1/stats/daily?days=90"),
        (
            "api/development/30d/summary.json",
            "/v1/stats/summary?days=30&repo=development",
        ),
        ("api/all/1d/os.json", "/v1/stats/os?days=1&repo=all"),
        (
            "api/external/30d/apps.json",
            "/v1/stats/apps?days=30&repo=external",
        ),
        (
            "api/production/30d/apps/docker.json",
            "/v1/stats/apps/docker?days=30",
        ),
        (
            "api/development/all/apps/devtool.json",
            "/v1/stats/apps/devtool?days=all&repo=development",
        ),
    ] {
        let served = testkit::get(&p.http, &format!("{}{path}", p.aggregator_url))
            .await
            .bytes()
            .await
            .unwrap();
        let written = std::fs::read(out.join(file)).unwrap();
        assert_eq!(written, served.to_vec(), "{file}");
    }
    for file in ["index.html", "dashboard.css", "dashboard.js", "data.js"] {
        assert!(out.join(file).is_file(), "{file}");
    }
    // Every window of every repository, as a document and as the dashboard's script;
    // an app's page data wherever the app passes the k rule.
    for repo in ["production", "development", "external", "all"] {
        for window in ["1d", "7d", "30d", "90d", "365d", "all"] {
            for doc in [
                "summary", "apps", "daily", "os", "pve", "hardware", "errors",
            ] {
                let file = format!("api/{repo}/{window}/{doc}.json");
                assert!(out.join(&file).is_file(), "{file}");
            }
            let script = format!("data/{repo}/{window}.js");
            let text = std::fs::read_to_string(out.join(&script)).unwrap();
            assert!(
                text.starts_with("(window.TELEMETRY_DATA")
                    && text.contains(&format!("\"{repo}/{window}\"")),
                "{script}"
            );
        }
    }
    assert!(out.join("data/production/30d/apps/docker.js").is_file());
    // The served dashboard refreshes itself at the statistics' max-age; the export,
    // whose files change only when it runs again, does not.
    let manifest = std::fs::read_to_string(out.join("data.js")).unwrap();
    assert!(manifest.contains(r#""max_age_seconds":null"#), "{manifest}");
    let served = p.get_text(&format!("{}/data.js", p.aggregator_url)).await;
    assert!(served.contains(r#""max_age_seconds":3600"#), "{served}");
    assert!(served.contains(r#""windows":["1d","7d","30d","90d","365d","all"]"#));
    assert!(served.contains(r#""repos":["production","development","external","all"]"#));
    assert!(out.join("data/development/30d/apps/devtool.js").is_file());
    assert!(!out.join("data/production/30d/apps/devtool.js").exists());
    for repo in ["external", "all"] {
        assert!(
            !out.join(format!("api/{repo}/all/apps/solitary.json"))
                .exists()
        );
        assert!(
            !out.join(format!("data/{repo}/all/apps/solitary.js"))
                .exists()
        );
    }
    // The dashboard works from file:// and from GitHub Pages: no absolute URL, no
    // third-party script or stylesheet.
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(!html.contains("http://") && !html.contains("https://") && !html.contains("//cdn"));
    assert!(!out.join("api/production/30d/apps/wireguard.json").exists());

    // Nothing below k, no identifier and no free text in any file.
    let mut files = vec![out.clone()];
    let mut seen = 0;
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else {
            assert_nothing_private(
                &path.display().to_string(),
                &std::fs::read_to_string(&path).unwrap(),
            );
            seen += 1;
        }
    }
    assert!(seen > 30, "{seen} files");
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aggregator_exports_business_gauges() {
    let p = Pipeline::start().await;
    seeded::post(&p).await;
    // `aggregator serve` as its own process, so that its gauges are its own.
    let (port, internal) = (tests::free_port(), tests::free_port());
    let mut settings = p.aggregator_settings();
    settings.aggregator.listen = format!("127.0.0.1:{port}");
    settings.aggregator.internal_listen = format!("127.0.0.1:{internal}");
    settings.aggregator.refresh_interval = std::time::Duration::from_secs(1);
    settings.log.level = "warn".into();
    let _child = tests::KillOnDrop(
        std::process::Command::new(tests::binary("aggregator"))
            .arg("serve")
            .envs(runtime::settings::to_env(&settings))
            .spawn()
            .unwrap(),
    );
    let url = format!("http://127.0.0.1:{internal}/metrics");
    let gauge = |text: &str, name: &str| -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
    };
    // The sum of a gauge over its `repo` label.
    let total = |text: &str, name: &str| -> Option<f64> {
        ["production", "development", "external"]
            .iter()
            .map(|r| gauge(text, &format!("{name}{{repo=\"{r}\"}}")))
            .sum()
    };
    let text = tests::poll(
        std::time::Duration::from_secs(30),
        "the business gauges",
        || async {
            let text = p.http.get(&url).send().await.ok()?.text().await.ok()?;
            // Every repository's runs, each under its own label.
            (total(&text, "aggregator_runs_24h") == Some(1091.0)).then_some(text)
        },
    )
    .await;
    assert_eq!(
        total(&text, "aggregator_failed_runs_24h"),
        Some((136 + 24 + 14 + 6 + 3) as f64)
    );
    assert_eq!(
        gauge(&text, "aggregator_runs_24h{repo=\"production\"}"),
        Some(1000.0)
    );
    assert_eq!(
        gauge(&text, "aggregator_failed_runs_24h{repo=\"development\"}"),
        Some(44.0)
    );
    let duration = gauge(&text, "aggregator_last_refresh_duration_seconds").unwrap();
    assert!(duration > 0.0 && duration < 60.0, "{duration}");
    // The freshness gauge ticks every second: it exists, and is small.
    let text = tests::poll(
        std::time::Duration::from_secs(10),
        "the freshness gauge",
        || async {
            let text = p.http.get(&url).send().await.ok()?.text().await.ok()?;
            gauge(&text, "aggregator_statistics_age_seconds").map(|_| text)
        },
    )
    .await;
    let age = gauge(&text, "aggregator_statistics_age_seconds").unwrap();
    assert!((0.0..30.0).contains(&age), "{age}");
    p.stop().await;
}
