//! The numbers at the switch: the old service's headline numbers, by its definitions,
//! beside ours, on the same history imported with `consumer import`. README.md
//! ("Switching over from the old service") shows the table this test prints, and why
//! each number moves:
//! - the old service counted every stored row as an "install": each progress ping of a
//!   run (`validation`, `configuring` and the container's pings) is a row; we count runs;
//! - its success rate left aborted runs out of the denominator; ours has every finished
//!   run in it;
//! - a run that never finished was an `installing` row to it; to us it is `unfinished`.

use serde_json::{Value, json};
use tests::Pipeline;
use tests::old_service::{OldServer, at, old_row};

/// (app, type, runs a day)
const APPS: [(&str, &str, usize); 6] = [
    ("docker", "lxc", 12),
    ("homeassistant", "lxc", 8),
    ("jellyfin", "lxc", 5),
    ("nextcloud", "lxc", 4),
    ("haos-vm", "vm", 2),
    ("post-pve-install", "pve", 3),
];

/// Days of history, from 2 to 15 days ago: complete days inside the 30-day window.
const DAYS: std::ops::RangeInclusive<i64> = 2..=15;

/// The outcome of the `n`-th run of an app on a day: mostly successes, some failures
/// and aborts, a few that never finish.
fn outcome(n: usize) -> &'static str {
    match n % 20 {
        7 | 17 => "failed",
        9 => "aborted",
        3 if n % 40 == 3 => "unfinished",
        _ => "success",
    }
}

struct History {
    rows: Vec<Value>,
    runs: usize,
    by_outcome: std::collections::BTreeMap<&'static str, usize>,
}

fn history() -> History {
    let mut rows = Vec::new();
    let mut by_outcome = std::collections::BTreeMap::new();
    let mut runs = 0;
    let mut id = 0u64;
    for day in DAYS {
        for (a, (app, kind, per_day)) in APPS.iter().enumerate() {
            for n in 0..*per_day {
                runs += 1;
                let run = format!("{day:03}{a}{n:02}");
                let start = at(day, (n * 20) as i64);
                let base = json!({"nsapp": app, "type": kind});
                let mut row = |status: &str, seconds: i64, extra: Value| {
                    id += 1;
                    let mut r = old_row(
                        &format!("{id:030x}"),
                        &run,
                        status,
                        start + time::Duration::seconds(seconds),
                        base.clone(),
                    );
                    if let (Some(r), Some(extra)) = (r.as_object_mut(), extra.as_object()) {
                        r.extend(extra.clone());
                    }
                    rows.push(r);
                };
                row("installing", 0, json!({}));
                let what = outcome(n);
                *by_outcome.entry(what).or_insert(0) += 1;
                if *kind == "lxc" {
                    // The requests between `installing` and the final status, as the
                    // old service stored them: every one a row.
                    let pings = &testkit::BASH_LXC_INSTALL[1..8];
                    for &(at, status) in pings {
                        let at = at as i64;
                        // An unfinished run goes quiet during the app's install.
                        if what == "unfinished" && at > 95 {
                            break;
                        }
                        row(status, at, json!({}));
                    }
                }
                match what {
                    "success" => row(
                        "success",
                        224,
                        json!({"exit_code": 0, "install_duration": 224}),
                    ),
                    "failed" => row(
                        "failed",
                        224,
                        json!({"exit_code": 100, "error": "E: Unable to locate package foo", "error_category": "apt"}),
                    ),
                    "aborted" => row(
                        "aborted",
                        60,
                        json!({"exit_code": 130, "error": "interrupted", "error_category": "user_aborted"}),
                    ),
                    _ => {}
                }
            }
        }
    }
    History {
        rows,
        runs,
        by_outcome,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_old_headline_numbers_beside_ours_on_the_same_history() {
    let p = Pipeline::start_without_consumer(|_, _| {}).await;
    let h = history();
    let old = OldServer::create(&p).await;
    let report = old.import(&p, "telemetry", &h.rows).await;
    assert_eq!(report.stored as usize, h.rows.len(), "{report:?}");
    p.refresh().await;

    // The old service's dashboard over the same days (clickhouse.go, FetchDashboardData):
    // every row an install; the success rate without the aborted runs.
    let table = format!("{}.telemetry", old.database);
    let o = &p
        .rows(&format!(
            "SELECT count() AS total, countIf(status = 'success') AS success,
                    countIf(status = 'failed') AS failed, countIf(status = 'aborted') AS aborted,
                    countIf(status IN ('installing', 'validation', 'configuring')) AS installing
             FROM {table} WHERE repo_source IN ('ProxmoxVE', '')"
        ))
        .await[0];
    let n = |v: &Value, k: &str| {
        v[k].as_u64()
            .unwrap_or_else(|| v[k].as_str().unwrap().parse().unwrap())
    };
    let (total, success, failed, aborted) = (
        n(o, "total"),
        n(o, "success"),
        n(o, "failed"),
        n(o, "aborted"),
    );
    let old_rate = 100.0 * success as f64 / (success + failed) as f64;

    let ours = p
        .get_json(&format!("{}/v1/stats/summary?days=30", p.aggregator_url))
        .await;
    let our = |k: &str| ours[k].as_u64().unwrap();
    let our_rate = 100.0 * ours["success_rate"].as_f64().unwrap();

    let rows = [
        (
            "installs (old) / runs (ours)",
            total.to_string(),
            our("runs").to_string(),
        ),
        (
            "successful",
            success.to_string(),
            our("success").to_string(),
        ),
        ("failed", failed.to_string(), our("failed").to_string()),
        ("aborted", aborted.to_string(), our("aborted").to_string()),
        (
            "still installing (old) / unfinished (ours)",
            n(o, "installing").to_string(),
            our("unfinished").to_string(),
        ),
        (
            "success rate",
            format!("{old_rate:.1} %"),
            format!("{our_rate:.1} %"),
        ),
    ];
    eprintln!("| number | old service | this pipeline |\n|---|---|---|");
    for (what, a, b) in &rows {
        eprintln!("| {what} | {a} | {b} |");
    }

    // The old total is every row; ours is every run, each counted by its outcome.
    assert_eq!(total as usize, h.rows.len());
    assert_eq!(our("runs") as usize, h.runs);
    for outcome in ["success", "failed", "aborted", "unfinished"] {
        assert_eq!(our(outcome) as usize, h.by_outcome[outcome], "{outcome}");
    }
    // The terminal statuses are the same rows either way.
    assert_eq!(
        (success, failed, aborted),
        (our("success"), our("failed"), our("aborted"))
    );
    // Each LXC run was nine rows to the old service.
    assert!(
        total > 4 * our("runs"),
        "{total} rows, {} runs",
        our("runs")
    );
    // Aborted runs in the denominator: our rate is lower by exactly that.
    let finished = (success + failed + aborted) as f64;
    assert!((our_rate - 100.0 * success as f64 / finished).abs() < 0.01);
    assert!(old_rate > our_rate);
    old.drop(&p).await;
    p.stop().await;
}
