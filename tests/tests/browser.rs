//! The public dashboard in a real browser: headless Chromium (Debian's `chromium`,
//! which `make test` installs when it is missing) loads the dashboard that
//! `aggregator serve` serves, over the seeded dataset, and the charts it drew carry the
//! expected numbers. The exported dashboard is loaded from file:// as well. Screenshots
//! (desktop and phone width) are saved under target/dashboard/.

use std::path::{Path, PathBuf};
use std::process::Command;

use scraper::{Html, Selector};
use tests::Pipeline;
use tests::seeded;

fn chromium() -> PathBuf {
    let path =
        std::env::var_os("CHROMIUM").map_or_else(|| "/usr/bin/chromium".into(), PathBuf::from);
    assert!(
        path.exists(),
        "{} is missing: `make test` installs Debian's chromium (apt-get install chromium)",
        path.display()
    );
    path
}

/// Run headless Chromium on `url` with `args`; returns its standard output.
fn headless(url: &str, args: &[String]) -> String {
    let profile = std::env::temp_dir().join(format!("chromium-{}", uuid::Uuid::now_v7().simple()));
    let output = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .output()
        .expect("chromium starts");
    let _ = std::fs::remove_dir_all(&profile);
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The DOM after the page's scripts ran, serialised.
fn dom(url: &str) -> String {
    headless(url, &["--dump-dom".into()])
}

fn screenshot(url: &str, file: &Path, width: u32, height: u32) {
    headless(
        url,
        &[
            format!("--screenshot={}", file.display()),
            format!("--window-size={width},{height}"),
        ],
    );
    let png = std::fs::read(file).expect("a screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{}",
        file.display()
    );
}

/// (label, value) of every element matching `selector` that carries both.
fn drawn(html: &Html, selector: &str) -> Vec<(String, String)> {
    let sel = Selector::parse(selector).expect("selector");
    html.select(&sel)
        .filter_map(|e| {
            let v = e.value();
            Some((
                v.attr("data-label")?.to_owned(),
                v.attr("data-value")?.to_owned(),
            ))
        })
        .collect()
}

fn labels(items: &[(String, String)]) -> Vec<&str> {
    items.iter().map(|(l, _)| l.as_str()).collect()
}

/// Everything the dashboard must show for the seeded dataset.
fn assert_seeded_charts(html: &Html, runs: &[seeded::Run]) {
    let kpis = drawn(html, "[data-chart=summary]");
    let kpi = |name: &str| {
        kpis.iter()
            .find(|(l, _)| l == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {name} figure in {kpis:?}"))
    };
    assert_eq!(kpi("runs"), "1,000");
    assert_eq!(kpi("success"), "838");
    assert_eq!(kpi("failed"), "136");
    assert_eq!(kpi("aborted"), "17");
    assert_eq!(kpi("in progress"), "9");
    assert_eq!(kpi("success rate"), "84.6%");

    // Runs per day: the columns add up to the runs, and their segments to the outcomes.
    let days = drawn(html, "#daily g[data-label]");
    assert!(!days.is_empty());
    let total: u64 = days.iter().map(|(_, v)| v.parse::<u64>().unwrap()).sum();
    assert_eq!(total, 1000);
    let sel = Selector::parse("#daily rect[data-outcome=failed]").unwrap();
    let failed: u64 = html
        .select(&sel)
        .map(|e| {
            e.value()
                .attr("data-value")
                .unwrap()
                .parse::<u64>()
                .unwrap()
        })
        .sum();
    assert_eq!(failed, 136);

    // Most-used apps, in order, with their runs; wireguard (4 runs) is not there.
    let apps = drawn(html, "#apps .fill");
    let want: Vec<(String, String)> = seeded::APPS
        .iter()
        .filter(|a| a.1 >= 5)
        .map(|a| (a.0.to_owned(), a.1.to_string()))
        .collect();
    assert_eq!(apps, want);
    assert_eq!(
        labels(&drawn(html, "#failure .fill")),
        [
            "adguard",
            "nextcloud",
            "vaultwarden",
            "homeassistant",
            "gitea",
            "docker",
            "jellyfin",
            "pihole"
        ]
    );
    let os = drawn(html, "#os .fill");
    let count = |f: &dyn Fn(&seeded::Run) -> bool| runs.iter().filter(|r| f(r)).count().to_string();
    assert_eq!(
        os,
        [
            ("debian 12".to_owned(), count(&|r| r.os == "debian 12")),
            ("debian 13".to_owned(), count(&|r| r.os == "debian 13")),
            ("alpine 3.22".to_owned(), count(&|r| r.os == "alpine 3.22")),
            (
                "ubuntu 24.04".to_owned(),
                count(&|r| r.os == "ubuntu 24.04")
            ),
        ]
    );
    assert_eq!(labels(&drawn(html, "#pve .fill")), ["8.4", "9.0", "9.1"]);
    assert_eq!(
        drawn(html, "#cores .fill"),
        ["1", "2", "3-4", "5-8"].map(|b| (b.to_owned(), count(&|r| r.cores_bucket() == b)))
    );
    assert_eq!(labels(&drawn(html, "#ram .fill")).len(), 2);
    assert_eq!(labels(&drawn(html, "#disk .fill")).len(), 2);
    let categories = drawn(html, "#categories .fill");
    for (label, value) in &categories {
        assert_eq!(*value, count(&|r| r.category == label), "{label}");
    }
    assert_eq!(categories.len(), 5);
    let codes = drawn(html, "#exit-codes tr[data-label]");
    assert!(
        codes
            .iter()
            .any(|(l, v)| l == "100" && *v == count(&|r| r.exit_code == Some(100)))
    );

    let text = html.root_element().html();
    for never in ["wireguard", "fedora", "alice", "192.168"] {
        assert!(!text.contains(never), "the dashboard shows {never}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_renders_the_dashboard_with_the_seeded_numbers() {
    let p = Pipeline::start().await;
    let (runs, _) = seeded::post(&p).await;
    p.refresh().await;

    let served = format!("{}/", p.aggregator_url);
    let url = served.clone();
    let html = tokio::task::spawn_blocking(move || dom(&url))
        .await
        .unwrap();
    assert_seeded_charts(&Html::parse_document(&html), &runs);

    let shots = tests::workspace_root().join("target/dashboard");
    std::fs::create_dir_all(&shots).unwrap();
    let (url, dir) = (served.clone(), shots.clone());
    tokio::task::spawn_blocking(move || {
        screenshot(&url, &dir.join("desktop.png"), 1280, 2200);
        screenshot(&url, &dir.join("phone.png"), 390, 3200);
    })
    .await
    .unwrap();

    // The export, opened from disk as someone who downloaded it would.
    let out = shots.join("export");
    p.export(&out);
    let file = format!("file://{}", out.join("index.html").display());
    let html = tokio::task::spawn_blocking(move || dom(&file))
        .await
        .unwrap();
    assert_seeded_charts(&Html::parse_document(&html), &runs);
    p.stop().await;
}
