//! The public dashboard in a real browser: headless Chromium (Debian's `chromium`,
//! which `make test` installs when it is missing) loads the dashboard that
//! `aggregator serve` serves, over the seeded dataset, and the charts and tables it drew
//! carry the expected numbers: the overview, the errors page, the scripts page and an
//! app's page, for production by default and for the other repositories when the URL
//! asks. The exported dashboard is loaded from file:// as well. Screenshots are saved
//! under target/dashboard/.

use std::path::{Path, PathBuf};
use std::process::Command;

use scraper::{Html, Selector};
use tests::Pipeline;
use tests::seeded;

/// Whether the dashboard lists a seeded app of `runs` runs: at least k, but not plex,
/// the smallest such app, which is hidden with wireguard's four runs, since the total
/// minus the apps listed would otherwise give those away.
fn listed(app: &str, runs: usize) -> bool {
    runs >= 5 && app != "plex"
}

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

/// Virtual time lets the page load the data scripts it adds before the DOM is read
/// or the screenshot taken; it runs no faster than the page is ready.
const SETTLE: &str = "--virtual-time-budget=10000";

/// The DOM after the page's scripts ran, parsed.
async fn dom(url: String) -> Html {
    let text =
        tokio::task::spawn_blocking(move || headless(&url, &["--dump-dom".into(), SETTLE.into()]))
            .await
            .expect("chromium ran");
    Html::parse_document(&text)
}

fn screenshot(url: &str, file: &Path, width: u32, height: u32) {
    headless(
        url,
        &[
            format!("--screenshot={}", file.display()),
            format!("--window-size={width},{height}"),
            SETTLE.into(),
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

/// The text of the elements matching `selector`, one string each.
fn texts(html: &Html, selector: &str) -> Vec<String> {
    let sel = Selector::parse(selector).expect("selector");
    html.select(&sel).map(|e| e.text().collect()).collect()
}

/// The query of a link to a new issue, by field.
fn issue_form(href: &str) -> std::collections::HashMap<String, String> {
    let url = reqwest::Url::parse(href).expect("a URL");
    assert_eq!(url.host_str(), Some("github.com"), "{href}");
    assert_eq!(
        url.path(),
        "/community-scripts/ProxmoxVE/issues/new",
        "{href}"
    );
    url.query_pairs().into_owned().collect()
}

/// The attribute `name` of every element matching `selector`.
fn attrs(html: &Html, selector: &str, name: &str) -> Vec<String> {
    let sel = Selector::parse(selector).expect("selector");
    html.select(&sel)
        .filter_map(|e| e.value().attr(name).map(str::to_owned))
        .collect()
}

/// A figure of a `data-chart` group of figures, by its label.
fn figure(html: &Html, chart: &str, name: &str) -> String {
    let figures = drawn(html, &format!("[data-chart={chart}]"));
    figures
        .iter()
        .find(|(l, _)| l == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("no {name} figure in {figures:?}"))
}

fn count(runs: &[&seeded::Run], f: impl Fn(&seeded::Run) -> bool) -> String {
    runs.iter().filter(|r| f(r)).count().to_string()
}

fn never_shown(html: &Html, what: &str) {
    let text = html.root_element().html();
    for never in ["wireguard", "fedora", "alice", "192.168", "solitary"] {
        assert!(!text.contains(never), "{what} shows {never}");
    }
}

/// Everything the dashboard must show for the seeded dataset.
fn assert_seeded_charts(html: &Html, runs: &[&seeded::Run]) {
    let kpi = |name: &str| figure(html, "summary", name);
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

    // Most-used apps, in order, with their runs; wireguard (4 runs) and plex are not there.
    let apps = drawn(html, "#apps .fill");
    let want: Vec<(String, String)> = seeded::APPS
        .iter()
        .filter(|a| listed(a.0, a.1))
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
    let count = |f: &dyn Fn(&seeded::Run) -> bool| count(runs, f);
    assert_eq!(
        os,
        [
            ("debian 12".to_owned(), count(&|r| r.os == "debian 12")),
            ("debian 13".to_owned(), count(&|r| r.os == "debian 13")),
            ("alpine 3.22".to_owned(), count(&|r| r.os == "alpine 3.22")),
        ]
    );
    // fedora's four runs are hidden, and with them the smallest OS listed (ubuntu, tied
    // with alpine and after it by name), or the total would give them away.
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
    assert_eq!(
        labels(&categories),
        ["dependency", "timeout", "network", "user_aborted"]
    );
    let codes = drawn(html, "#exit-codes tr[data-label]");
    assert!(
        codes
            .iter()
            .any(|(l, v)| l == "100" && *v == count(&|r| r.exit_code == Some(100)))
    );
    never_shown(html, "the overview");
}

/// The errors page: failures per day, exit codes with the client's meanings, the apps
/// behind each category, per-app failures, the error patterns.
fn assert_errors_page(html: &Html, runs: &[&seeded::Run]) {
    assert_eq!(figure(html, "errors", "failed"), "136");
    assert_eq!(figure(html, "errors", "aborted"), "17");
    let days = drawn(html, "#err-daily g[data-label]");
    let total: u64 = days.iter().map(|(_, v)| v.parse::<u64>().unwrap()).sum();
    assert_eq!(total, 136 + 17);

    let codes = drawn(html, "#err-codes tr[data-label]");
    assert_eq!(labels(&codes).len(), 5, "{codes:?}");
    let rows = texts(html, "#err-codes tr[data-label]");
    for ((code, value), row) in codes.iter().zip(&rows) {
        let n: u8 = code.parse().unwrap();
        assert_eq!(*value, count(runs, |r| r.exit_code == Some(n)), "{code}");
        let meaning = schemas::category::describe_exit_code(n).unwrap();
        assert!(row.contains(meaning), "{code}: {row}");
    }
    assert_eq!(
        drawn(html, "#err-categories tr[data-label]"),
        ["dependency", "timeout", "network", "user_aborted"]
            .map(|c| (c.to_owned(), count(runs, |r| r.category == c)))
    );
    // The apps behind a category link to their pages.
    let links = texts(html, "#err-categories tr[data-label=dependency] a");
    assert_eq!(links[0], "homeassistant");

    // Every published app with a failed or aborted run: pihole has none, wireguard is
    // below k.
    let apps = drawn(html, "#err-apps tr[data-label]");
    let mut want: Vec<(String, u64)> = seeded::APPS
        .iter()
        .filter(|a| listed(a.0, a.1) && a.2 + a.3 > 0)
        .map(|a| (a.0.to_owned(), (a.2 + a.3) as u64))
        .collect();
    want.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    assert_eq!(
        apps,
        want.into_iter()
            .map(|(a, n)| (a, n.to_string()))
            .collect::<Vec<_>>()
    );
    let pattern = "step failed at line <n> for <email> on <ip>";
    assert_eq!(
        drawn(html, "#err-patterns tr[data-label]"),
        [(pattern.to_owned(), "136".to_owned())]
    );
    // A pattern is reported on the scripts' repository, through its issue form, with the
    // app and the pattern filled in.
    let issue = issue_form(&attrs(html, "#err-patterns a.issue", "href")[0]);
    assert_eq!(issue["template"], "bug_report.yml");
    // The app that publishes the most runs of it: nextcloud's 30. homeassistant's 40
    // are not published as a pattern: beside its two aborted runs without a text they
    // would give those away, so its own table hides them (and so does this one).
    assert_eq!(issue["script_name"], "nextcloud");
    assert_eq!(issue["error_output"], pattern);
    assert!(
        issue["title"].starts_with("nextcloud: step failed"),
        "{issue:?}"
    );
    assert!(issue["issue_description"].contains(pattern), "{issue:?}");
    // The failing commands, masked like the patterns, per app under the k rule.
    let commands = drawn(html, "#err-commands tr[data-label]");
    assert!(!commands.is_empty());
    assert!(commands.len() >= 5, "{commands:?}");
    for (command, n) in &commands {
        let app = command
            .strip_prefix("apt-get install -y ")
            .and_then(|c| c.strip_suffix("-deps=<version>"))
            .unwrap_or_else(|| panic!("{command}"));
        let failed = count(runs, |r| r.app == app && r.outcome == "failed");
        assert_eq!(*n, failed, "{command}");
    }
    never_shown(html, "the errors page");
}

/// The scripts page: every published app with its counts, linked to its page.
fn assert_scripts_page(html: &Html) {
    let rows = drawn(html, "#scripts tbody tr[data-label]");
    let want: Vec<(String, String)> = seeded::APPS
        .iter()
        .filter(|a| listed(a.0, a.1))
        .map(|a| (a.0.to_owned(), a.1.to_string()))
        .collect();
    assert_eq!(rows, want, "most runs first");
    let docker = texts(html, "#scripts tr[data-label=docker] td");
    // runs, success, failed, aborted, unfinished, in progress, success rate, per day
    assert_eq!(
        docker[1..],
        ["300", "280", "15", "3", "0", "2", "94.0%", "10"]
    );
    assert_eq!(texts(html, "#least-used li a")[0], "immich");
    assert_eq!(texts(html, "#recent li a").len(), 9);
    never_shown(html, "the scripts page");
}

/// docker's page: its runs per day, OS split, exit codes and durations.
fn assert_app_page(html: &Html, runs: &[&seeded::Run]) {
    let docker: Vec<&seeded::Run> = runs.iter().copied().filter(|r| r.app == "docker").collect();
    assert_eq!(figure(html, "app-summary", "runs"), "300");
    assert_eq!(figure(html, "app-summary", "failed"), "15");
    let total: u64 = drawn(html, "#app-daily g[data-label]")
        .iter()
        .map(|(_, v)| v.parse::<u64>().unwrap())
        .sum();
    assert_eq!(total, 300);
    for (label, value) in drawn(html, "#app-os .fill") {
        assert_eq!(value, count(&docker, |r| r.os == label), "{label}");
    }
    assert_eq!(labels(&drawn(html, "#app-pve .fill")).len(), 3);
    assert_eq!(
        labels(&drawn(html, "#app-duration tr[data-label]")),
        ["p25", "median", "p75", "p90"]
    );
    // docker's 18 failed or aborted runs: five codes, each of fewer than k runs.
    assert!(drawn(html, "#app-codes tr[data-label]").is_empty());
    // Its 15 failures share one pattern and one failing command, but its 3 aborted runs
    // have neither: listed, the 15 would give the 3 away, so both tables hide them.
    assert!(drawn(html, "#app-patterns tr[data-label]").is_empty());
    assert!(drawn(html, "#app-commands tr[data-label]").is_empty());
    // The script itself can still be reported in a click.
    let issue = issue_form(&attrs(html, "#app-issue a.issue", "href")[0]);
    assert_eq!(issue["script_name"], "docker");
    assert_eq!(issue["template"], "bug_report.yml");
    assert!(
        issue["issue_description"].contains("18 failed or aborted runs of docker"),
        "{issue:?}"
    );
    assert!(texts(html, "#app-missing").iter().all(|t| t.is_empty()));
    never_shown(html, "docker's page");
}

/// A page that drives the dashboard's controls in a frame (see its use below).
const CONTROLS_TEST: &str = r##"<!doctype html>
<body><iframe id="f" src="index.html" width="1200" height="900"></iframe><pre id="out"></pre>
<script>
var f = document.getElementById("f"), out = document.getElementById("out"), step = 0, old;
function figure(d) { return d.querySelector("[data-chart=summary][data-label=runs]"); }
function runs(d) { var e = figure(d); return e && e.getAttribute("data-value"); }
function tick() {
  var d = f.contentDocument, r = d && runs(d);
  if (step === 0 && r) {
    out.setAttribute("data-production", r);
    var select = d.getElementById("repo");
    select.value = "development";
    select.dispatchEvent(new Event("change"));
    step = 1;
  } else if (step === 1 && r && r !== out.getAttribute("data-production")) {
    out.setAttribute("data-development", r);
    out.setAttribute("data-development-hash", f.contentWindow.location.hash);
    old = figure(d);
    d.querySelector("#windows button[data-window='7d']").click();
    step = 2;
  } else if (step === 2 && figure(d) && figure(d) !== old) {
    // Drawn anew, for the week.
    out.setAttribute("data-week", r);
    out.setAttribute("data-week-hash", f.contentWindow.location.hash);
    return;
  }
  setTimeout(tick, 50);
}
f.addEventListener("load", tick);
</script>"##;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_renders_the_dashboard_with_the_seeded_numbers() {
    let p = Pipeline::start().await;
    let (runs, _) = seeded::post(&p).await;
    p.refresh().await;
    let production: Vec<&seeded::Run> = runs.iter().filter(|r| r.repo == "production").collect();

    let shots = tests::workspace_root().join("target/dashboard");
    std::fs::create_dir_all(&shots).unwrap();
    let out = shots.join("export");
    p.export(&out);
    let served = format!("{}/", p.aggregator_url);
    let exported = format!("file://{}", out.join("index.html").display());

    // The old service's pages, followed by a real browser: its error analysis of the
    // development repository lands on our errors view of that repository.
    let old = dom(format!(
        "{}/error-analysis?repo=ProxmoxVED&days=90",
        p.aggregator_url
    ))
    .await;
    assert_eq!(attrs(&old, "#page-errors", "hidden"), Vec::<String>::new());
    assert_eq!(
        attrs(&old, "#page-overview[hidden]", "id"),
        ["page-overview"]
    );
    assert_eq!(
        attrs(&old, "#repo option[selected]", "value"),
        ["development"]
    );
    assert_eq!(figure(&old, "errors", "failed"), "44");

    // Served and exported (opened from disk as someone who downloaded it would): the
    // same pages, the same numbers.
    for base in [served.clone(), exported] {
        let at = |fragment: &str| dom(format!("{base}{fragment}"));
        assert_seeded_charts(&at("").await, &production);
        assert_errors_page(&at("#/errors").await, &production);
        assert_scripts_page(&at("#/scripts").await);
        assert_app_page(&at("#/apps/docker").await, &production);

        // The repository control: development's numbers, and its own apps.
        let dev = at("#/overview?repo=development&days=30").await;
        assert_eq!(figure(&dev, "summary", "runs"), "70");
        assert_eq!(figure(&dev, "summary", "failed"), "44");
        assert_eq!(
            drawn(&dev, "#apps .fill"),
            [("docker", "40"), ("homeassistant", "20"), ("devtool", "10")]
                .map(|(a, n)| (a.to_owned(), n.to_owned()))
        );
        // The controls show the view: the repository chosen, the window pressed.
        assert_eq!(
            attrs(&dev, "#repo option[selected]", "value"),
            ["development"]
        );
        assert_eq!(
            attrs(&dev, "#windows button[aria-pressed=true]", "data-window"),
            ["30d"]
        );
        let year = at("#/errors?repo=development&days=365").await;
        assert_eq!(
            attrs(&year, "#windows button[aria-pressed=true]", "data-window"),
            ["365d"]
        );
        assert_eq!(figure(&year, "errors", "failed"), "44");
        let all = at("#/scripts?repo=all&days=all").await;
        assert_eq!(
            figure(&at("#/overview?repo=all").await, "summary", "runs"),
            "1,091"
        );
        never_shown(&all, "the scripts of all repositories");
        let external = at("#/scripts?repo=external").await;
        // Forks ran pihole 15 times and one installation six times: listing pihole
        // would give the other six away, so neither is listed.
        assert_eq!(drawn(&external, "#scripts tbody tr[data-label]"), []);
        never_shown(&external, "the scripts of forks");
        // An app below k has no page, and says so.
        let solo = at("#/apps/solitary?repo=external").await;
        assert!(
            texts(&solo, "#app-missing")[0].contains("fewer than 5 runs from 5 installations"),
            "{:?}",
            texts(&solo, "#app-missing")
        );
        assert!(drawn(&solo, "[data-chart=app-summary]").is_empty());
        // A search narrows the scripts, from the URL too.
        let search = at("#/scripts?q=ho").await;
        assert_eq!(
            labels(&drawn(&search, "#scripts tbody tr[data-label]")),
            ["homeassistant", "pihole"]
        );
        let sorted = at("#/scripts?sort=failed").await;
        assert_eq!(
            labels(&drawn(&sorted, "#scripts tbody tr[data-label]"))[..2],
            ["homeassistant", "nextcloud"]
        );
    }

    // The controls themselves, used as a reader would: a page beside the exported
    // dashboard frames it, picks "development" in the repository control and presses
    // the 7-day window, and writes down what the dashboard showed before and after.
    std::fs::write(out.join("controls-test.html"), CONTROLS_TEST).unwrap();
    let url = format!("file://{}", out.join("controls-test.html").display());
    let html = Html::parse_document(
        &tokio::task::spawn_blocking(move || {
            headless(
                &url,
                &[
                    "--dump-dom".into(),
                    SETTLE.into(),
                    // Lets the framing page read the framed one, both from file://.
                    "--allow-file-access-from-files".into(),
                ],
            )
        })
        .await
        .unwrap(),
    );
    let result = |name: &str| attrs(&html, "#out", name).pop().unwrap_or_default();
    assert_eq!(result("data-production"), "1,000");
    assert_eq!(result("data-development"), "70");
    assert!(result("data-development-hash").contains("repo=development"));
    assert!(result("data-week-hash").contains("days=7"));
    assert_eq!(
        result("data-week"),
        "70",
        "all of it within the last 7 days"
    );

    let shots_dir = shots.clone();
    tokio::task::spawn_blocking(move || {
        for (fragment, file, width, height) in [
            ("", "desktop.png", 1280, 2200),
            ("", "phone.png", 390, 3200),
            ("#/errors", "errors.png", 1280, 2400),
            ("#/scripts", "scripts.png", 1280, 1400),
            ("#/apps/docker", "app-docker.png", 1280, 1600),
            ("#/overview?repo=development", "development.png", 1280, 2200),
        ] {
            screenshot(
                &format!("{served}{fragment}"),
                &shots_dir.join(file),
                width,
                height,
            );
        }
    })
    .await
    .unwrap();

    // Three hours on, the runs that never finished are stuck: the errors page lists
    // them by app.
    p.refresh_at(time::OffsetDateTime::now_utc() + time::Duration::hours(3))
        .await;
    let later = dom(format!("{}/#/errors", p.aggregator_url)).await;
    let mut stuck: Vec<(String, String)> = seeded::APPS
        .iter()
        .filter(|a| listed(a.0, a.1) && a.4 > 0)
        .map(|a| (a.0.to_owned(), a.4.to_string()))
        .collect();
    stuck.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    assert_eq!(drawn(&later, "#err-unfinished tr[data-label]"), stuck);
    // Nine in all: wireguard's one is counted in the total, not listed (plex has none).
    assert_eq!(figure(&later, "errors", "unfinished"), "9");
    p.stop().await;
}
