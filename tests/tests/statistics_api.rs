//! Every statistics endpoint and the export, on a designed dataset of 1 000 runs put
//! through ingest and the consumer (tests/src/seeded.rs): the numbers are exactly the
//! ones the design implies, and nothing below k, no identifier and no free text is
//! ever published.

use std::collections::BTreeMap;

use serde_json::Value;
use tests::Pipeline;
use tests::seeded::{self, Run};

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

/// What k-anonymous publication of `runs` by `key` must give, computed from the design.
fn expected(runs: &[&Run], key: impl Fn(&Run) -> Option<String>) -> Publication {
    let mut by: BTreeMap<String, Vec<&Run>> = BTreeMap::new();
    for r in runs {
        if let Some(v) = key(r) {
            by.entry(v).or_default().push(r);
        }
    }
    let mut groups: Vec<(String, Counts)> = Vec::new();
    let mut small: Vec<Counts> = Vec::new();
    for (v, rs) in by {
        let c = counts(rs.iter().copied(), false);
        if c[0] >= K {
            groups.push((v, c));
        } else {
            small.push(c);
        }
    }
    groups.sort_by(|a, b| b.1[0].cmp(&a.1[0]).then(a.0.cmp(&b.0)));
    let mut other = [0; 6];
    for c in &small {
        for i in 0..6 {
            other[i] += c[i];
        }
    }
    if small.is_empty() {
        (groups, None, 0)
    } else if other[0] >= K {
        (groups, Some(other), 0)
    } else {
        (groups, None, small.len() as u64)
    }
}

async fn get(p: &Pipeline, path: &str) -> Value {
    let r = p
        .http
        .get(format!("{}{path}", p.aggregator_url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{path}");
    r.json().await.unwrap()
}

/// Strings of the raw data that must never be published: identifiers, free text, and
/// the groups of fewer than k runs.
const NEVER: &[&str] = &[
    "00000000-0000-4000",
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
    assert_eq!(runs.len(), 1000);
    assert_eq!(stored, 2000 + 991 + 5 + 142);
    p.refresh().await;
    let all: Vec<&Run> = runs.iter().collect();

    // Summary: the designed totals, and a success rate over the finished runs.
    let s = get(&p, "/v1/stats/summary?days=30").await;
    assert_eq!(doc_counts(&s), [1000, 838, 136, 17, 0, 9], "{s}");
    assert_eq!(doc_counts(&s), counts(all.iter().copied(), false));
    assert_eq!(s["success_rate"], 0.8456);
    assert_eq!(s["suppressed"], false);
    assert_eq!(s["k"], K);
    assert_eq!(s["window"]["days"], 30);
    assert!(s["generated_at"].is_string());
    assert_eq!(
        doc_counts(&get(&p, "/v1/stats/summary?days=all").await),
        doc_counts(&s)
    );

    // Apps: every app of at least k runs, most runs first; wireguard's 4 runs are left
    // out, and the document says that one group was.
    let apps = get(&p, "/v1/stats/apps").await;
    let listed: Vec<(String, Counts)> = apps["apps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["nsapp"].as_str().unwrap().to_owned(), doc_counts(a)))
        .collect();
    let want = expected(&all, |r| Some(r.app.to_owned()));
    assert_eq!(listed, want.0);
    assert_eq!(listed.len(), 10);
    assert_eq!(apps["other"], Value::Null);
    assert_eq!(apps["suppressed_groups"], 1);
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
    let year = get(&p, "/v1/stats/apps?days=365").await;
    assert_eq!(year["min_runs"], 365);
    assert_eq!(year["highest_failure_rate"], serde_json::json!([]));

    // Install durations of successful runs: p50 and p90 of the design, within the
    // t-digest's error.
    let docker = &apps["apps"][0];
    assert_eq!(docker["nsapp"], "docker");
    let mut durations: Vec<u32> = runs
        .iter()
        .filter(|r| r.app == "docker")
        .filter_map(|r| r.duration)
        .collect();
    durations.sort_unstable();
    assert_eq!(docker["duration"]["runs"], durations.len());
    for (key, q) in [("p50_seconds", 0.5), ("p90_seconds", 0.9)] {
        let exact = f64::from(durations[(q * durations.len() as f64) as usize]);
        let got = docker["duration"][key].as_f64().unwrap();
        assert!((got - exact).abs() <= 3.0, "{key}: {got} vs {exact}");
    }

    // One app, with its own k-anonymous breakdowns.
    let d = get(&p, "/v1/stats/apps/docker?days=all").await;
    let docker_runs: Vec<&Run> = runs.iter().filter(|r| r.app == "docker").collect();
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
    for (path, status) in [
        ("/v1/stats/apps/wireguard", 404),
        ("/v1/stats/apps/no-such-app", 404),
        ("/v1/stats/apps/Not%20An%20App", 400),
        ("/v1/stats/summary?days=0", 400),
        ("/v1/stats/summary?days=366", 400),
        ("/v1/stats/apps?days=week", 400),
        ("/v1/stats/nothing", 404),
    ] {
        let r = p
            .http
            .get(format!("{}{path}", p.aggregator_url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{path}");
        let body: Value = r.json().await.unwrap();
        assert!(body["error"].is_string(), "{path}: {body}");
    }

    // The time series: the days of the window add up to the summary.
    let daily = get(&p, "/v1/stats/daily").await;
    let mut total = [0; 6];
    for day in daily["days"].as_array().unwrap() {
        assert!(day["runs"].as_u64().unwrap() >= K);
        for (t, c) in total.iter_mut().zip(doc_counts(day)) {
            *t += c;
        }
    }
    assert_eq!(total, doc_counts(&s));
    assert_eq!(daily["suppressed_days"], 0);

    // Breakdowns over all apps.
    let os = get(&p, "/v1/stats/os").await;
    let want = expected(&all, |r| Some(r.os.clone()));
    assert_eq!(published(&os), want);
    assert_eq!(want.2, 1, "fedora 42, with 4 runs, is left out");
    assert_eq!(
        published(&get(&p, "/v1/stats/pve").await),
        expected(&all, |r| Some(r.pve.to_owned()))
    );
    let hw = get(&p, "/v1/stats/hardware").await;
    assert_eq!(
        published(&hw["dimensions"]["cores"]),
        expected(&all, |r| Some(r.cores_bucket().to_owned()))
    );
    assert_eq!(
        published(&hw["dimensions"]["ram"]),
        expected(&all, |r| Some(r.ram_bucket().to_owned()))
    );
    assert_eq!(
        published(&hw["dimensions"]["disk"]),
        expected(&all, |r| Some(r.disk_bucket().to_owned()))
    );
    assert_eq!(
        published(&hw["dimensions"]["type"]),
        expected(&all, |r| Some(r.kind.to_owned()))
    );
    assert_eq!(
        published(&hw["dimensions"]["cpu_vendor"]),
        expected(&all, |r| Some(
            if r.j.is_multiple_of(3) {
                "amd"
            } else {
                "intel"
            }
            .to_owned()
        ))
    );

    // Errors: categories of failed and aborted runs, exit codes with their meaning.
    let errors = get(&p, "/v1/stats/errors").await;
    assert_eq!(
        published(&errors["categories"]),
        expected(&all, |r| (!r.category.is_empty())
            .then(|| r.category.to_owned()))
    );
    let codes = published(&errors["exit_codes"]);
    assert_eq!(
        codes,
        expected(&all, |r| r
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
    assert_eq!(apt["description"], "apt/dpkg: package operation failed");

    // Two hours later the runs without a terminal status are unfinished, no longer in
    // progress.
    p.refresh_at(time::OffsetDateTime::now_utc() + time::Duration::hours(3))
        .await;
    let later = get(&p, "/v1/stats/summary?days=30").await;
    assert_eq!(doc_counts(&later), [1000, 838, 136, 17, 9, 0]);

    // Nothing private in any document of any window.
    for days in ["1", "7", "30", "365", "all"] {
        for doc in [
            "summary", "apps", "daily", "os", "pve", "hardware", "errors",
        ] {
            let v = get(&p, &format!("/v1/stats/{doc}?days={days}")).await;
            assert_nothing_private(doc, &v.to_string());
        }
        let v = get(&p, &format!("/v1/stats/apps/docker?days={days}")).await;
        assert_nothing_private("apps/docker", &v.to_string());
    }
    p.stop().await;
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

    let cached = p
        .http
        .get(&url)
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), 304);
    assert!(cached.bytes().await.unwrap().is_empty());

    // A refresh that changes the numbers changes the tag.
    p.refresh_at(time::OffsetDateTime::now_utc() + time::Duration::hours(3))
        .await;
    let changed = p
        .http
        .get(&url)
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
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
        ("api/30d/summary.json", "/v1/stats/summary?days=30"),
        ("api/all/apps.json", "/v1/stats/apps?days=all"),
        ("api/7d/errors.json", "/v1/stats/errors?days=7"),
        ("api/365d/hardware.json", "/v1/stats/hardware?days=365"),
        ("api/30d/apps/docker.json", "/v1/stats/apps/docker?days=30"),
    ] {
        let served = p
            .http
            .get(format!("{}{path}", p.aggregator_url))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let written = std::fs::read(out.join(file)).unwrap();
        assert_eq!(written, served.to_vec(), "{file}");
    }
    for file in ["index.html", "dashboard.css", "dashboard.js", "data.js"] {
        assert!(out.join(file).is_file(), "{file}");
    }
    // The dashboard works from file:// and from GitHub Pages: no absolute URL, no
    // third-party script or stylesheet.
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(!html.contains("http://") && !html.contains("https://") && !html.contains("//cdn"));
    assert!(!out.join("api/30d/apps/wireguard.json").exists());

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
    let port = tests::free_port();
    let mut settings = p.aggregator_settings();
    settings.aggregator.listen = format!("127.0.0.1:{port}");
    settings.aggregator.refresh_interval = std::time::Duration::from_secs(1);
    settings.log.level = "warn".into();
    let _child = tests::KillOnDrop(
        std::process::Command::new(tests::binary("aggregator"))
            .arg("serve")
            .envs(runtime::settings::to_env(&settings))
            .spawn()
            .unwrap(),
    );
    let url = format!("http://127.0.0.1:{port}/metrics");
    let gauge = |text: &str, name: &str| -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
    };
    let text = tests::poll(
        std::time::Duration::from_secs(30),
        "the business gauges",
        || async {
            let text = p.http.get(&url).send().await.ok()?.text().await.ok()?;
            (gauge(&text, "aggregator_runs_24h") == Some(1000.0)).then_some(text)
        },
    )
    .await;
    assert_eq!(gauge(&text, "aggregator_failed_runs_24h"), Some(136.0));
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
