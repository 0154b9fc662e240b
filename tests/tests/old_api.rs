//! The old service's read API (community-scripts/telemetry-service), answered from our
//! published documents, on the designed dataset of tests/src/seeded.rs: each endpoint
//! in its old shape, with the numbers of the new document it is taken from, under the
//! same k rule; the old `days` and `repo` mapped onto our windows and repositories;
//! every answer deprecated with a link to its successor; `/api/records` gone; the old
//! pages sent on to the dashboard's views.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::header::HeaderMap;
use serde_json::Value;
use tests::Pipeline;
use tests::seeded;

/// `Deprecation` of every old answer: 2026-12-01T00:00:00Z (RFC 9745).
const DEPRECATION: &str = "@1796083200";

const DASHBOARD_FIELDS: [&str; 25] = [
    "total_installs",
    "total_all_time",
    "sample_size",
    "success_count",
    "failed_count",
    "aborted_count",
    "installing_count",
    "success_rate",
    "top_apps",
    "os_distribution",
    "method_stats",
    "pve_versions",
    "type_stats",
    "error_analysis",
    "failed_apps",
    "recent_records",
    "daily_stats",
    "gpu_stats",
    "error_categories",
    "top_tools",
    "top_addons",
    "avg_install_duration",
    "total_tools",
    "total_addons",
    "repo_slugs",
];
const SCRIPTS_FIELDS: [&str; 4] = [
    "total_scripts",
    "total_installs",
    "top_scripts",
    "recent_scripts",
];
const SCRIPT_FIELDS: [&str; 10] = [
    "app",
    "type",
    "total",
    "success",
    "failed",
    "aborted",
    "installing",
    "success_rate",
    "days_old",
    "installs_per_day",
];
const ERRORS_FIELDS: [&str; 9] = [
    "total_errors",
    "total_installs",
    "overall_fail_rate",
    "exit_code_stats",
    "category_stats",
    "app_errors",
    "recent_errors",
    "stuck_installing",
    "error_timeline",
];
const APP_ERROR_FIELDS: [&str; 9] = [
    "app",
    "type",
    "total_count",
    "failed_count",
    "aborted_count",
    "failure_rate",
    "top_exit_code",
    "top_error",
    "top_category",
];

/// What no answer may hold: identifiers, free text, and the apps and OS of fewer than
/// k runs or sessions.
const NEVER: &[&str] = &[
    "00000000-0000-4000",
    "solitary",
    "wireguard",
    "fedora",
    "alice",
    "example.org",
    "192.168",
    "i5-8500T",
];

fn keys(v: &Value) -> Vec<&str> {
    v.as_object()
        .unwrap_or_else(|| panic!("an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect()
}

fn list(v: &Value) -> &Vec<Value> {
    v.as_array().unwrap_or_else(|| panic!("a list: {v}"))
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("a whole number: {v}"))
}

/// A float as the old service wrote it (Go's float64), to the precision we compare.
fn f(v: &Value) -> f64 {
    assert!(v.is_f64(), "a float: {v}");
    v.as_f64().unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

async fn fetch(p: &Pipeline, path: &str) -> reqwest::Response {
    p.http
        .get(format!("{}{path}", p.aggregator_url))
        .send()
        .await
        .unwrap()
}

/// An old route's 200 answer: its JSON, after checking it is deprecated in favour of
/// `successor`.
async fn old(p: &Pipeline, path: &str, successor: &str) -> Value {
    let r = fetch(p, path).await;
    assert_eq!(r.status(), 200, "{path}");
    assert_deprecated(path, r.headers(), successor);
    assert_eq!(r.headers()["content-type"], "application/json", "{path}");
    let text = r.text().await.unwrap();
    for s in NEVER {
        assert!(!text.contains(s), "{path} publishes {s:?}");
    }
    serde_json::from_str(&text).unwrap()
}

fn assert_deprecated(what: &str, headers: &HeaderMap, successor: &str) {
    assert_eq!(headers["deprecation"], DEPRECATION, "{what}");
    assert_eq!(
        headers["link"].to_str().unwrap(),
        format!("<{successor}>; rel=\"successor-version\""),
        "{what}"
    );
}

/// A new document.
async fn new(p: &Pipeline, path: &str) -> Value {
    let r = fetch(p, path).await;
    assert_eq!(r.status(), 200, "{path}");
    assert!(r.headers().get("deprecation").is_none(), "{path}");
    r.json().await.unwrap()
}

/// The apps a new apps document lists, by name.
fn apps_of(doc: &Value) -> BTreeMap<String, Value> {
    list(&doc["apps"])
        .iter()
        .map(|a| (a["nsapp"].as_str().unwrap().to_owned(), a.clone()))
        .collect()
}

/// `{"<key>": value, "count": n}` rows as (value, count).
fn counted(v: &Value, key: &str) -> Vec<(String, u64)> {
    list(v)
        .iter()
        .map(|row| {
            assert_eq!(keys(row), [key, "count"], "{row}");
            (row[key].as_str().unwrap().to_owned(), u(&row["count"]))
        })
        .collect()
}

/// A breakdown's groups, by value, with `f` of their counts; most first, as the old
/// lists are.
fn groups(doc: &Value, f: impl Fn(&Value) -> u64) -> Vec<(String, u64)> {
    let mut rows: Vec<(String, u64)> = list(&doc["groups"])
        .iter()
        .map(|g| (g["value"].as_str().unwrap().to_owned(), f(g)))
        .filter(|(_, n)| *n > 0)
        .collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    rows
}

fn finished(g: &Value) -> u64 {
    u(&g["success"]) + u(&g["failed"]) + u(&g["aborted"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_old_read_api_is_answered_from_the_published_documents() {
    let p = Pipeline::start().await;
    seeded::post(&p).await;
    p.refresh().await;
    let today = new(&p, "/v1/stats/summary?days=1").await["window"]["until"]
        .as_str()
        .unwrap()
        .to_owned();

    // ---- /api/dashboard: days defaults to 1 (today, in the old service), our 1-day
    // window: the last released day, which holds every run of the dataset.
    let d = old(
        &p,
        "/api/dashboard",
        "/v1/stats/summary?days=1&repo=production",
    )
    .await;
    assert_eq!(keys(&d), DASHBOARD_FIELDS);
    let summary = new(&p, "/v1/stats/summary?days=1").await;
    assert_eq!(summary["runs"], 1000);
    for (field, of) in [
        ("total_installs", "runs"),
        ("sample_size", "runs"),
        ("success_count", "success"),
        ("failed_count", "failed"),
        ("aborted_count", "aborted"),
    ] {
        assert_eq!(d[field], summary[of], "{field}");
    }
    assert_eq!((u(&d["success_count"]), u(&d["failed_count"])), (838, 136));
    // Runs without a terminal status; the nine of the design are still in progress.
    assert_eq!(d["installing_count"], 9);
    // Every repository, every day: 1 000 production runs and 91 of the others.
    assert_eq!(d["total_all_time"], 1091);
    assert_eq!(
        d["total_all_time"],
        new(&p, "/v1/stats/summary?days=all&repo=all").await["runs"]
    );
    // The old formula: aborted runs are not in the denominator.
    assert!(close(
        f(&d["success_rate"]),
        838.0 / (838.0 + 136.0) * 100.0
    ));

    let apps = new(&p, "/v1/stats/apps?days=1").await;
    let listed = apps_of(&apps);
    let top_apps = counted(&d["top_apps"], "app");
    let want: Vec<(String, u64)> = list(&apps["apps"])
        .iter()
        .map(|a| (a["nsapp"].as_str().unwrap().to_owned(), u(&a["runs"])))
        .collect();
    assert_eq!(top_apps, want);
    assert_eq!(top_apps[0], ("docker".to_owned(), 300));
    // The k rule: plex (6 runs) and wireguard (4) are in the apps document's `other`,
    // so in no old list either.
    assert_eq!(top_apps.len(), 9);
    assert!(top_apps.iter().all(|(a, _)| listed.contains_key(a)));
    assert!(!top_apps.iter().any(|(a, _)| a == "plex"));

    // Finished runs per OS: the OS document's versions, added up per OS.
    let os = new(&p, "/v1/stats/os?days=1").await;
    let mut per_os: BTreeMap<String, u64> = BTreeMap::new();
    for (value, n) in groups(&os, finished) {
        *per_os
            .entry(value.split(' ').next().unwrap().to_owned())
            .or_default() += n;
    }
    let mut want: Vec<(String, u64)> = per_os.into_iter().collect();
    want.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    assert_eq!(counted(&d["os_distribution"], "os"), want);
    assert_eq!(want[0].0, "debian");
    let pve = new(&p, "/v1/stats/pve?days=1").await;
    assert_eq!(
        counted(&d["pve_versions"], "version"),
        groups(&pve, finished)
    );
    let hardware = new(&p, "/v1/stats/hardware?days=1").await;
    assert_eq!(
        counted(&d["method_stats"], "method"),
        groups(&hardware["dimensions"]["method"], finished)
    );
    let types = counted(&d["type_stats"], "type");
    assert_eq!(
        types,
        groups(&hardware["dimensions"]["type"], |g| u(&g["runs"]))
    );
    assert_eq!(types, [("lxc".to_owned(), 800), ("vm".to_owned(), 200)]);

    // Error patterns by failed runs, with the apps the errors document names.
    let errors = new(&p, "/v1/stats/errors?days=1").await;
    let patterns = list(&d["error_analysis"]);
    assert_eq!(patterns.len(), 1);
    assert_eq!(
        keys(&patterns[0]),
        ["pattern", "count", "unique_apps", "apps"]
    );
    assert_eq!(
        patterns[0]["pattern"],
        "step failed at line <n> for <email> on <ip>"
    );
    assert_eq!(patterns[0]["count"], 136);
    assert!(patterns[0]["unique_apps"].is_null());
    let named: Vec<&str> = list(&errors["patterns"]["groups"][0]["apps"])
        .iter()
        .map(|a| a["nsapp"].as_str().unwrap())
        .collect();
    assert_eq!(patterns[0]["apps"], named.join(", "));
    // At most five; docker's own document hides its one pattern beside its three
    // aborted runs without one, so it is not named.
    assert!(!named.is_empty() && named.len() <= 5, "{named:?}");
    assert!(!named.contains(&"docker"));

    // The old failure ranking (failed / runs), over the apps with the apps document's
    // `min_runs` finished runs: LXC first, then the rest.
    assert_eq!(apps["min_runs"], 10);
    let ranking: Vec<(&str, &str, u64, u64, f64)> = list(&d["failed_apps"])
        .iter()
        .map(|a| {
            assert_eq!(
                keys(a),
                ["app", "type", "total_count", "failed_count", "failure_rate"]
            );
            (
                a["app"].as_str().unwrap(),
                a["type"].as_str().unwrap(),
                u(&a["total_count"]),
                u(&a["failed_count"]),
                f(&a["failure_rate"]),
            )
        })
        .collect();
    assert_eq!(
        ranking,
        [
            ("adguard", "lxc", 30, 15, 50.0),
            ("immich", "lxc", 20, 10, 50.0),
            ("nextcloud", "lxc", 100, 30, 30.0),
            ("vaultwarden", "lxc", 60, 12, 20.0),
            ("gitea", "lxc", 50, 5, 10.0),
            ("docker", "lxc", 300, 15, 5.0),
            ("jellyfin", "lxc", 150, 6, 4.0),
            ("homeassistant", "vm", 200, 40, 20.0),
        ]
    );
    for (app, _, runs, failed, _) in &ranking {
        assert_eq!(listed[*app]["runs"], *runs, "{app}");
        assert_eq!(listed[*app]["failed"], *failed, "{app}");
    }

    // One day, as the daily document has it.
    let daily = list(&d["daily_stats"]);
    assert_eq!(daily.len(), 1);
    assert_eq!(keys(&daily[0]), ["date", "success", "failed"]);
    assert_eq!(daily[0]["date"], today.as_str());
    assert_eq!(
        (u(&daily[0]["success"]), u(&daily[0]["failed"])),
        (838, 136)
    );

    // Failed runs per category; the aborted runs' `user_aborted` is not one.
    let categories = counted(&d["error_categories"], "category");
    assert_eq!(
        categories,
        groups(&errors["categories"], |g| u(&g["failed"]))
    );
    assert!(!categories.iter().any(|(c, _)| c == "user_aborted"));
    assert_eq!(categories.iter().map(|(_, n)| n).sum::<u64>(), 136);

    // No tools or addons in the dataset; what we do not publish is null.
    for field in [
        "top_tools",
        "top_addons",
        "recent_records",
        "gpu_stats",
        "avg_install_duration",
        "repo_slugs",
    ] {
        assert!(d[field].is_null(), "{field}: {}", d[field]);
    }
    assert_eq!((u(&d["total_tools"]), u(&d["total_addons"])), (0, 0));

    // The repository: the old names of repo_source, onto ours.
    for (repo, ours, runs) in [
        ("ProxmoxVED", "development", 70),
        ("external", "external", 21),
        ("all", "all", 1091),
    ] {
        let d = old(
            &p,
            &format!("/api/dashboard?days=30&repo={repo}"),
            &format!("/v1/stats/summary?days=30&repo={ours}"),
        )
        .await;
        let s = new(&p, &format!("/v1/stats/summary?days=30&repo={ours}")).await;
        assert_eq!(d["total_installs"], runs, "{repo}");
        assert_eq!(d["total_installs"], s["runs"], "{repo}");
        assert_eq!(d["failed_count"], s["failed"], "{repo}");
        let apps = apps_of(&new(&p, &format!("/v1/stats/apps?days=30&repo={ours}")).await);
        // External lists no app: pihole is hidden with the one session's six runs.
        if apps.is_empty() {
            assert!(d["top_apps"].is_null(), "{repo}");
            continue;
        }
        for (app, _) in counted(&d["top_apps"], "app") {
            assert!(apps.contains_key(&app), "{repo}: {app}");
        }
    }
    // The old default and our own name are the same repository.
    assert_eq!(
        old(
            &p,
            "/api/dashboard?repo=ProxmoxVE&days=7",
            "/v1/stats/summary?days=7&repo=production"
        )
        .await,
        old(
            &p,
            "/api/dashboard?repo=production&days=7&slug=someone/ProxmoxVE",
            "/v1/stats/summary?days=7&repo=production"
        )
        .await
    );

    // ---- /api/scripts: every app the apps document lists, and the third party's
    // reading: success + failed + aborted per script, over all time, is each app's
    // runs minus those that never finished, as the apps document of days=all has them.
    let s = old(
        &p,
        "/api/scripts?days=0",
        "/v1/stats/apps?days=all&repo=production",
    )
    .await;
    assert_eq!(keys(&s), SCRIPTS_FIELDS);
    let all_time = apps_of(&new(&p, "/v1/stats/apps?days=all").await);
    let scripts = list(&s["top_scripts"]);
    assert_eq!(scripts.len(), all_time.len());
    assert_eq!(s["total_scripts"], 9);
    let mut finished_total = 0;
    for script in scripts {
        assert_eq!(keys(script), SCRIPT_FIELDS);
        let app = script["app"].as_str().unwrap();
        let doc = &all_time[app];
        let read = u(&script["success"]) + u(&script["failed"]) + u(&script["aborted"]);
        assert_eq!(
            read,
            u(&doc["runs"]) - u(&doc["unfinished"]) - u(&doc["in_progress"]),
            "{app}"
        );
        finished_total += read;
        assert_eq!(script["total"], doc["runs"], "{app}");
        assert_eq!(
            u(&script["installing"]),
            u(&doc["unfinished"]) + u(&doc["in_progress"]),
            "{app}"
        );
        assert!(close(
            f(&script["success_rate"]),
            u(&doc["success"]) as f64 / read as f64 * 100.0
        ));
        assert_eq!(script["days_old"], 0);
        assert_eq!(script["installs_per_day"], doc["runs_per_day"], "{app}");
    }
    // 1 000 runs, less plex's and wireguard's 10 in `other`, less 8 that never ended.
    assert_eq!(finished_total, 982);
    assert_eq!(s["total_installs"], 990);
    assert!(s["recent_scripts"].is_null());
    let by_app: BTreeMap<&str, &Value> = scripts
        .iter()
        .map(|s| (s["app"].as_str().unwrap(), s))
        .collect();
    assert_eq!(by_app["docker"]["type"], "lxc");
    assert_eq!(by_app["homeassistant"]["type"], "vm");
    assert_eq!(
        (
            u(&by_app["nextcloud"]["total"]),
            u(&by_app["nextcloud"]["failed"])
        ),
        (100, 30)
    );
    // Its default is 30 days; `days=2` is our 7-day window.
    old(&p, "/api/scripts", "/v1/stats/apps?days=30&repo=production").await;
    let week = old(
        &p,
        "/api/scripts?days=2",
        "/v1/stats/apps?days=7&repo=production",
    )
    .await;
    let apps7 = apps_of(&new(&p, "/v1/stats/apps?days=7").await);
    assert_eq!(
        list(&week["top_scripts"])
            .iter()
            .map(|s| s["app"].as_str().unwrap())
            .collect::<BTreeSet<_>>(),
        apps7.keys().map(String::as_str).collect()
    );

    // ---- /api/errors: days defaults to 7.
    let e = old(&p, "/api/errors", "/v1/stats/errors?days=7&repo=production").await;
    assert_eq!(keys(&e), ERRORS_FIELDS);
    let errors7 = new(&p, "/v1/stats/errors?days=7").await;
    assert_eq!(e["total_errors"], 136);
    assert_eq!(e["total_installs"], 1000);
    assert_eq!(e["total_errors"], errors7["totals"]["failed"]);
    assert!(close(f(&e["overall_fail_rate"]), 13.6));
    assert_eq!(e["stuck_installing"], 9);
    assert!(e["recent_errors"].is_null());
    // Exit codes of failed runs: 130 (the aborted runs') is none.
    let codes: Vec<(u64, u64)> = list(&e["exit_code_stats"])
        .iter()
        .map(|c| {
            assert_eq!(
                keys(c),
                [
                    "exit_code",
                    "count",
                    "description",
                    "category",
                    "percentage"
                ]
            );
            assert!(close(
                f(&c["percentage"]),
                u(&c["count"]) as f64 / 136.0 * 100.0
            ));
            (u(&c["exit_code"]), u(&c["count"]))
        })
        .collect();
    // Most first; codes of as many runs in either order.
    assert!(codes.windows(2).all(|w| w[0].1 >= w[1].1), "{codes:?}");
    let want: BTreeMap<u64, u64> = groups(&errors7["exit_codes"], |g| u(&g["failed"]))
        .into_iter()
        .map(|(v, n)| (v.parse().unwrap(), n))
        .collect();
    assert_eq!(codes.iter().copied().collect::<BTreeMap<_, _>>(), want);
    assert_eq!(codes.len(), 4);
    assert!(!codes.iter().any(|(c, _)| *c == 130));
    assert_eq!(codes.iter().map(|(_, n)| n).sum::<u64>(), 136);
    let apt = list(&e["exit_code_stats"])
        .iter()
        .find(|c| c["exit_code"] == 100)
        .unwrap();
    assert_eq!(
        apt["description"],
        "APT: Package manager error (broken packages / dependency problems)"
    );
    assert_eq!(apt["category"], "dependency");
    let categories: Vec<(String, u64)> = list(&e["category_stats"])
        .iter()
        .map(|c| {
            assert_eq!(keys(c), ["category", "count", "percentage", "top_apps"]);
            (c["category"].as_str().unwrap().to_owned(), u(&c["count"]))
        })
        .collect();
    assert_eq!(
        categories,
        groups(&errors7["categories"], |g| u(&g["failed"]))
    );
    // Apps by failed runs, their finished runs beside them.
    let app_errors = list(&e["app_errors"]);
    assert_eq!(app_errors[0]["app"], "homeassistant");
    assert_eq!(app_errors[0]["type"], "vm");
    for a in app_errors {
        assert_eq!(keys(a), APP_ERROR_FIELDS);
        let app = a["app"].as_str().unwrap();
        assert!(apps7.contains_key(app), "{app} below k");
        assert_eq!(a["total_count"], finished(&apps7[app]), "{app}");
    }
    let adguard = app_errors.iter().find(|a| a["app"] == "adguard").unwrap();
    assert_eq!(
        (
            u(&adguard["total_count"]),
            u(&adguard["failed_count"]),
            u(&adguard["aborted_count"])
        ),
        (30, 15, 0)
    );
    assert!(close(f(&adguard["failure_rate"]), 50.0));
    assert_eq!(adguard["top_category"], "dependency");
    assert_eq!(
        adguard["top_error"],
        "step failed at line <n> for <email> on <ip>"
    );
    // Its exit codes have 3 or 4 runs each: none is published, so there is no top one.
    assert_eq!(adguard["top_exit_code"], 0);
    let doc_adguard = list(&errors7["apps"])
        .iter()
        .find(|a| a["nsapp"] == "adguard")
        .unwrap();
    assert!(doc_adguard["top_exit_code"].is_null());
    // Every day of the window, the days without published runs null.
    let timeline = list(&e["error_timeline"]);
    assert_eq!(timeline.len(), 7);
    assert_eq!(timeline[6]["date"], today.as_str());
    assert_eq!(
        (u(&timeline[6]["failed"]), u(&timeline[6]["aborted"])),
        (136, 17)
    );
    for day in &timeline[..6] {
        assert_eq!(keys(day), ["date", "failed", "aborted"]);
        assert!(day["failed"].is_null() && day["aborted"].is_null(), "{day}");
    }

    // ---- /api/exit-codes: the table the error analysis reads, keyed as strings.
    let codes = old(&p, "/api/exit-codes", "/v1/stats/errors").await;
    let table = codes.as_object().unwrap();
    assert!(table.len() >= 162, "{}", table.len());
    assert_eq!(
        table["100"],
        "APT: Package manager error (broken packages / dependency problems)"
    );
    assert_eq!(table["214"], "Proxmox: Not enough storage space");
    let order: Vec<&String> = table.keys().collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted, "string order, as the old map came out");

    // ---- /api/repo-slugs: no slug is kept.
    let slugs = old(
        &p,
        "/api/repo-slugs?repo=all",
        "/v1/stats/hardware?days=30&repo=all",
    )
    .await;
    assert_eq!(slugs, serde_json::json!({"repo_slugs": null}));

    // ---- /api/records: gone, and says why and where to look instead.
    let r = fetch(&p, "/api/records?page=1&limit=25").await;
    assert_eq!(r.status(), 410);
    assert_eq!(r.headers()["deprecation"], DEPRECATION);
    let body: Value = r.json().await.unwrap();
    assert_eq!(keys(&body), ["error", "message"]);
    assert_eq!(body["error"], "gone");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("docs/ROPA.md") && message.contains("/v1/stats"),
        "{message}"
    );

    // ---- Parameters the old service never took are a 400 in our error body.
    for path in [
        "/api/dashboard?repo=foo",
        "/api/scripts?repo=proxmoxve",
        "/api/errors?repo=foo",
        "/api/repo-slugs?repo=foo",
        "/api/dashboard?days=abc",
        "/api/errors?days=7abc",
        "/api/scripts?days=all",
        "/error-analysis?repo=foo",
    ] {
        let r = fetch(&p, path).await;
        assert_eq!(r.status(), 400, "{path}");
        assert_eq!(r.headers()["deprecation"], DEPRECATION, "{path}");
        let body: Value = r.json().await.unwrap();
        let (code, field) = if path.contains("repo=") {
            ("invalid_repo", "repo")
        } else {
            ("invalid_window", "days")
        };
        assert_eq!(body["error"], code, "{path}: {body}");
        assert_eq!(body["field"], field, "{path}: {body}");
    }

    // ---- Cached and revalidated like the documents, and still deprecated on a 304.
    let url = format!("{}/api/errors?days=30&repo=ProxmoxVED", p.aggregator_url);
    let first = p.http.get(&url).send().await.unwrap();
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(first.headers()["cache-control"], "public, max-age=3600");
    let cached = testkit::revalidate(&p.http, &url, &etag).await;
    assert_eq!(cached.status(), 304);
    assert_deprecated(
        "304",
        cached.headers(),
        "/v1/stats/errors?days=30&repo=development",
    );

    // ---- The old pages: the dashboard's views, the repository and window mapped.
    let no_follow = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for (page, view) in [
        ("/dashboard", "/#/overview"),
        ("/dashboard?days=3", "/#/overview?days=7"),
        (
            "/error-analysis?days=30&repo=ProxmoxVED",
            "/#/errors?repo=development&days=30",
        ),
        ("/error-analysis?days=0", "/#/errors?days=1"),
        (
            "/script-analysis?days=0&repo=ProxmoxVE",
            "/#/scripts?repo=production&days=all",
        ),
        ("/script-analysis?repo=all", "/#/scripts?repo=all"),
    ] {
        let r = no_follow
            .get(format!("{}{page}", p.aggregator_url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 308, "{page}");
        assert_eq!(r.headers()["location"], view, "{page}");
        assert_deprecated(page, r.headers(), view);
    }

    // ---- The windows: with the release three days on, the dataset's day is no longer
    // in the 1-day window, but is in the 7-day window that days=3 maps onto.
    p.refresh_at(time::OffsetDateTime::now_utc() + time::Duration::days(3))
        .await;
    let one = old(
        &p,
        "/api/dashboard",
        "/v1/stats/summary?days=1&repo=production",
    )
    .await;
    assert_eq!(
        new(&p, "/v1/stats/summary?days=1").await["suppressed"],
        true
    );
    for field in ["total_installs", "success_count", "success_rate"] {
        assert!(one[field].is_null(), "{field}: {}", one[field]);
    }
    assert!(one["top_apps"].is_null());
    let three = old(
        &p,
        "/api/dashboard?days=3",
        "/v1/stats/summary?days=7&repo=production",
    )
    .await;
    let week = new(&p, "/v1/stats/summary?days=7").await;
    assert_eq!(three["total_installs"], week["runs"]);
    assert_eq!(three["total_installs"], 1000);
    // The nine open runs are unfinished by now.
    assert_eq!(three["installing_count"], 9);
    assert_eq!(week["unfinished"], 9);
    let daily = list(&three["daily_stats"]);
    assert_eq!(daily.len(), 7);
    let shown: Vec<&Value> = daily.iter().filter(|d| !d["success"].is_null()).collect();
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0]["date"], today.as_str());
    assert_eq!(shown[0]["success"], 838);
    // days=0 on the errors endpoint was "today": our 1-day window, empty now.
    let e = old(
        &p,
        "/api/errors?days=0",
        "/v1/stats/errors?days=1&repo=production",
    )
    .await;
    assert!(e["total_errors"].is_null());
    assert!(e["exit_code_stats"].is_null());

    // Operators see how much the old routes are still used, under one label.
    let metrics = p
        .get_text(&format!("{}/metrics", p.aggregator_internal_url))
        .await;
    for status in ["200", "304", "308", "400", "410"] {
        let series =
            format!(r#"aggregator_http_requests_total{{route="old_api",status="{status}"}}"#);
        assert!(metrics.contains(&series), "{series} missing");
    }
    p.stop().await;
}
