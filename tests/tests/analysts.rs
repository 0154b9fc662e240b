//! The analysts' room (docs/analysts.md) held to the database, as the `analyst` user:
//! the schema reference against `system.columns`, every query of the cookbook against
//! the seeded dataset with the answers its design gives, the limits the document
//! promises, and the one definition of a run shared with the published statistics.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use tests::analysts::{cookbook, document, documented};
use tests::{Pipeline, seeded};
use time::{Duration, OffsetDateTime};

/// Run `sql` as `role`, in JSONEachRow: rows as JSON objects, or ClickHouse's error text.
async fn query_as(
    p: &Pipeline,
    role: &str,
    sql: &str,
    settings: &[(&str, &str)],
) -> Result<Vec<Value>, String> {
    let mut all = vec![
        ("default_format", "JSONEachRow"),
        ("output_format_json_quote_64bit_integers", "0"),
    ];
    all.extend_from_slice(settings);
    let text = p.query_as(role, sql, &all).await?;
    Ok(text
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON row"))
        .collect())
}

async fn analyst(p: &Pipeline, sql: &str) -> Vec<Value> {
    query_as(p, "analyst", sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}\n{e}"))
}

/// (name, type) of rows that have them: `system.columns`, `DESCRIBE`.
fn columns(rows: &[Value]) -> Vec<(String, String)> {
    rows.iter()
        .map(|r| (s(r, "name").to_owned(), s(r, "type").to_owned()))
        .collect()
}

#[tokio::test]
async fn the_schema_reference_is_what_the_database_has() {
    let doc = document();
    let p = Pipeline::start().await;
    for relation in ["events", "runs", "exit_codes"] {
        let sql = format!(
            "SELECT name, type FROM system.columns
             WHERE database = currentDatabase() AND table = '{relation}' ORDER BY position"
        );
        let actual = columns(&analyst(&p, &sql).await);
        assert!(!actual.is_empty(), "{relation} is not readable");
        assert_eq!(
            documented(&doc, relation),
            actual,
            "docs/analysts.md on {relation}"
        );
    }
    // The parameterised view is not in system.columns; it has the columns of `runs`.
    let sql = "DESCRIBE runs_between(from = now() - INTERVAL 1 DAY, to = now())";
    assert_eq!(columns(&analyst(&p, sql).await), documented(&doc, "runs"));
    p.stop().await;
}

/// A run of the seeded dataset or of the history beside it, with what the cookbook's
/// answers are computed from.
#[derive(Debug, Clone)]
struct Known {
    app: String,
    repo: &'static str,
    outcome: &'static str,
    exit_code: Option<u8>,
    duration: Option<u32>,
    os: String,
    pve: &'static str,
    cores: u32,
    ram: u32,
    disk: u32,
    random_id: String,
    command: Option<String>,
    /// Two weeks old (the history), or started during the test.
    old: bool,
}

/// Two weeks before the seeded runs, in production: 100 docker runs that all succeeded,
/// and 100 homeassistant runs of which half failed. Against them, this week's docker
/// failure rate rose and homeassistant's fell.
fn history() -> Vec<Known> {
    (0..200)
        .map(|i| {
            let docker = i < 100;
            let failed = !docker && i % 2 == 0;
            Known {
                app: if docker { "docker" } else { "homeassistant" }.into(),
                repo: "production",
                outcome: if failed { "failed" } else { "success" },
                exit_code: Some(if failed { 100 } else { 0 }),
                duration: (!failed).then_some(100),
                os: "debian 12".into(),
                pve: "8.4",
                cores: 2,
                ram: 2048,
                disk: 8,
                random_id: format!("00000000-0000-4000-a000-{i:012}"),
                command: None,
                old: true,
            }
        })
        .collect()
}

/// The history's events, received two weeks ago (set as an operator would load them).
fn history_events(now: OffsetDateTime) -> Vec<schemas::Event> {
    let start = now - Duration::days(14);
    let mut events = Vec::new();
    for (i, run) in history().iter().enumerate() {
        let base = serde_json::json!({
            "random_id": run.random_id,
            "execution_id": format!("00000000-0000-4000-b000-{i:012}"),
            "type": if run.app == "docker" { "lxc" } else { "vm" },
            "nsapp": run.app,
            "repo_source": "ProxmoxVE",
        });
        let mut installing = base.clone();
        for (k, v) in [
            ("status", serde_json::json!("installing")),
            ("os_type", "debian".into()),
            ("os_version", "12".into()),
            ("pve_version", run.pve.into()),
            ("core_count", run.cores.into()),
            ("ram_size", run.ram.into()),
            ("disk_size", run.disk.into()),
            ("platform", "pve".into()),
        ] {
            installing[k] = v;
        }
        let mut terminal = base;
        terminal["status"] = run.outcome.into();
        terminal["exit_code"] = run.exit_code.into();
        if let Some(d) = run.duration {
            terminal["install_duration"] = d.into();
        } else {
            terminal["error"] = "exit_code=100 | apt-get update failed".into();
        }
        for (body, at) in [
            (installing, start),
            (terminal, start + Duration::minutes(3)),
        ] {
            events.push(tests::stored_event(&body.to_string(), at));
        }
    }
    events
}

fn known(seeded: &[seeded::Run]) -> Vec<Known> {
    let mut all: Vec<Known> = seeded
        .iter()
        .map(|r| Known {
            app: r.app.into(),
            repo: r.repo,
            outcome: r.outcome,
            exit_code: r.exit_code,
            duration: r.duration,
            os: r.os.clone(),
            pve: r.pve,
            cores: r.cores,
            ram: r.ram,
            disk: r.disk,
            random_id: r.random_id.clone(),
            command: (r.outcome == "failed")
                .then(|| format!("apt-get install -y {}-deps=N.N", r.app)),
            old: false,
        })
        .collect();
    all.extend(history());
    all
}

fn finished(outcome: &str) -> bool {
    matches!(outcome, "success" | "failed" | "aborted")
}

fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

fn u(row: &Value, key: &str) -> u64 {
    row[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} in {row}"))
}

fn s<'a>(row: &'a Value, key: &str) -> &'a str {
    row[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} in {row}"))
}

fn f(row: &Value, key: &str) -> f64 {
    row[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} in {row}"))
}

/// What each cookbook query must answer on the dataset. Every query of the document
/// must have an entry, and every entry a query.
fn check(id: &str, rows: &[Value], runs: &[Known], events_stored: u64) {
    let production: Vec<&Known> = runs.iter().filter(|r| r.repo == "production").collect();
    match id {
        "failure-rate-by-script" => {
            let mut want: Vec<(String, u64, u64)> = group(&production, |r| r.app.clone())
                .into_iter()
                .map(|(app, rs)| {
                    let fin = rs.iter().filter(|r| finished(r.outcome)).count() as u64;
                    let failed = rs.iter().filter(|r| r.outcome == "failed").count() as u64;
                    (app, fin, failed)
                })
                .filter(|(_, fin, _)| *fin >= 20)
                .collect();
            want.sort_by(|a, b| {
                let rate = |x: &(String, u64, u64)| round(x.2 as f64 / x.1 as f64, 4);
                rate(b).total_cmp(&rate(a)).then(a.0.cmp(&b.0))
            });
            let got: Vec<(String, u64, u64)> = rows
                .iter()
                .map(|r| (s(r, "nsapp").into(), u(r, "finished"), u(r, "failed")))
                .collect();
            assert_eq!(got, want);
            for r in rows {
                let rate = u(r, "failed") as f64 / u(r, "finished") as f64;
                assert!((f(r, "failure_rate") - round(rate, 4)).abs() < 1e-9, "{r}");
            }
            // adguard fails half its runs: the top of the list.
            assert_eq!(s(&rows[0], "nsapp"), "adguard");
        }
        "failure-rate-rose" => {
            let docker: Vec<&&Known> = production.iter().filter(|r| r.app == "docker").collect();
            let count = |old: bool, pred: &dyn Fn(&str) -> bool| {
                docker
                    .iter()
                    .filter(|r| r.old == old && pred(r.outcome))
                    .count() as u64
            };
            assert_eq!(rows.len(), 1, "only docker's rose: {rows:?}");
            let r = &rows[0];
            assert_eq!(s(r, "nsapp"), "docker");
            assert_eq!(u(r, "finished_week"), count(false, &finished));
            assert_eq!(u(r, "failed_week"), count(false, &|o| o == "failed"));
            assert_eq!(u(r, "finished_before"), 100);
            assert_eq!(u(r, "failed_before"), 0);
        }
        "exit-codes-of-a-script" => {
            let failed: Vec<&Known> = runs
                .iter()
                .filter(|r| r.app == "homeassistant" && r.outcome == "failed")
                .collect();
            let want = group(&failed, |r| r.exit_code.unwrap());
            assert_eq!(rows.len(), want.len(), "{rows:?}");
            for r in rows {
                let code = u8::try_from(u(r, "exit_code")).unwrap();
                assert_eq!(u(r, "runs"), want[&code].len() as u64, "{r}");
                assert_eq!(
                    Some(s(r, "meaning")),
                    schemas::category::describe_exit_code(code),
                    "{r}"
                );
                assert!(!s(r, "category").is_empty(), "{r}");
            }
            // Ten this week and fifty in the history: apt's code first.
            assert_eq!(u(&rows[0], "exit_code"), 100);
        }
        "error-texts-of-a-script" => {
            let failed: Vec<&Known> = runs
                .iter()
                .filter(|r| r.app == "docker" && r.outcome == "failed")
                .collect();
            let want = group(&failed, |r| r.exit_code.unwrap());
            let mut got: BTreeMap<u8, u64> = BTreeMap::new();
            for r in rows {
                let line = s(r, "first_line");
                // Scrubbed before it was stored: the seeded texts name a person and an address.
                assert!(
                    !line.contains("alice") && !line.contains("192.168."),
                    "{line}"
                );
                let code: u8 = line
                    .strip_prefix("exit_code=")
                    .and_then(|rest| rest.split(' ').next())
                    .and_then(|c| c.parse().ok())
                    .unwrap_or_else(|| panic!("{line}"));
                *got.entry(code).or_default() += u(r, "runs");
            }
            let want: BTreeMap<u8, u64> =
                want.into_iter().map(|(k, v)| (k, v.len() as u64)).collect();
            assert_eq!(got, want);
        }
        "failing-commands" => {
            let failed: Vec<&Known> = runs.iter().filter(|r| r.command.is_some()).collect();
            let want: BTreeMap<String, u64> = group(&failed, |r| r.command.clone().unwrap())
                .into_iter()
                .map(|(k, v)| (k, v.len() as u64))
                .collect();
            let got: BTreeMap<String, u64> = rows
                .iter()
                .map(|r| (s(r, "command").to_owned(), u(r, "runs")))
                .collect();
            assert_eq!(got, want);
            assert!(rows.iter().all(|r| u(r, "apps") == 1));
        }
        "usage-by-app" => {
            let want: BTreeMap<String, (u64, u64)> = group(&production, |r| r.app.clone())
                .into_iter()
                .map(|(app, rs)| {
                    let ids: BTreeSet<&str> = rs.iter().map(|r| r.random_id.as_str()).collect();
                    (app, (rs.len() as u64, ids.len() as u64))
                })
                .collect();
            let got: BTreeMap<String, (u64, u64)> = rows
                .iter()
                .map(|r| {
                    (
                        s(r, "nsapp").to_owned(),
                        (u(r, "runs"), u(r, "installations")),
                    )
                })
                .collect();
            assert_eq!(got, want);
            // docker: 300 runs this week on 150 installations, 100 in the history.
            assert_eq!(got["docker"], (400, 250));
            assert_eq!(s(&rows[0], "nsapp"), "docker");
        }
        "usage-by-repository" => {
            let want: BTreeMap<(String, String), u64> =
                group(&runs.iter().collect::<Vec<_>>(), |r| {
                    (r.repo.to_owned(), "pve".to_owned())
                })
                .into_iter()
                .map(|(k, v)| (k, v.len() as u64))
                .collect();
            let mut got: BTreeMap<(String, String), u64> = BTreeMap::new();
            let mut days = BTreeSet::new();
            for r in rows {
                *got.entry((s(r, "repo").into(), s(r, "host").into()))
                    .or_default() += u(r, "runs");
                days.insert(s(r, "day").to_owned());
            }
            assert_eq!(got, want);
            // Today and two weeks ago (and yesterday, if the seed straddled midnight).
            assert!((2..=3).contains(&days.len()), "{days:?}");
        }
        "os-adoption" | "pve-adoption" => {
            let key = |r: &Known| {
                if id == "os-adoption" {
                    r.os.clone()
                } else {
                    r.pve.to_owned()
                }
            };
            let mut want: BTreeMap<(bool, String), BTreeSet<String>> = BTreeMap::new();
            let mut want_runs: BTreeMap<(bool, String), u64> = BTreeMap::new();
            for r in runs {
                want.entry((r.old, key(r)))
                    .or_default()
                    .insert(r.random_id.clone());
                *want_runs.entry((r.old, key(r))).or_default() += 1;
            }
            let column = if id == "os-adoption" {
                "os"
            } else {
                "pve_version"
            };
            let latest = rows.iter().map(|r| s(r, "week")).max().unwrap().to_owned();
            let mut got = BTreeMap::new();
            for r in rows {
                let k = (s(r, "week") != latest, s(r, column).to_owned());
                assert!(
                    got.insert(k.clone(), u(r, "installations")).is_none(),
                    "{r}"
                );
                if id == "os-adoption" {
                    assert_eq!(u(r, "runs"), want_runs[&k], "{r}");
                }
            }
            let want: BTreeMap<(bool, String), u64> =
                want.into_iter().map(|(k, v)| (k, v.len() as u64)).collect();
            assert_eq!(got, want);
        }
        "resources-by-app" => {
            let ok: Vec<&Known> = production
                .iter()
                .copied()
                .filter(|r| r.outcome == "success")
                .collect();
            let want = group(&ok, |r| r.app.clone());
            assert_eq!(rows.len(), want.len());
            for r in rows {
                let rs = &want[s(r, "nsapp")];
                let n = rs.len() as f64;
                let avg =
                    |g: &dyn Fn(&Known) -> u32| rs.iter().map(|r| f64::from(g(r))).sum::<f64>() / n;
                assert_eq!(u(r, "runs"), rs.len() as u64);
                assert!(
                    (f(r, "avg_cores") - round(avg(&|r| r.cores), 2)).abs() < 1e-9,
                    "{r}"
                );
                assert!(
                    (f(r, "avg_ram_mib") - round(avg(&|r| r.ram), 1)).abs() < 1e-9,
                    "{r}"
                );
                assert!(
                    (f(r, "avg_disk_gb") - round(avg(&|r| r.disk), 2)).abs() < 1e-9,
                    "{r}"
                );
            }
        }
        "install-duration-by-app" => {
            let ok: Vec<&Known> = production
                .iter()
                .copied()
                .filter(|r| r.outcome == "success" && r.duration.is_some())
                .collect();
            let want = group(&ok, |r| r.app.clone());
            assert_eq!(rows.len(), want.len());
            for r in rows {
                let mut d: Vec<u32> = want[s(r, "nsapp")]
                    .iter()
                    .map(|r| r.duration.unwrap())
                    .collect();
                d.sort_unstable();
                // quantileExact(q): the element at floor(q * n) of the sorted values.
                let at = |q: f64| u64::from(d[((q * d.len() as f64) as usize).min(d.len() - 1)]);
                assert_eq!(u(r, "runs"), d.len() as u64, "{r}");
                assert_eq!(u(r, "p50_seconds"), at(0.5), "{r}");
                assert_eq!(u(r, "p90_seconds"), at(0.9), "{r}");
            }
        }
        "unfinished-runs" => {
            let all: Vec<&Known> = runs.iter().collect();
            let want: BTreeMap<String, (u64, u64)> = group(&all, |r| r.app.clone())
                .into_iter()
                .map(|(app, rs)| {
                    let open = rs.iter().filter(|r| !finished(r.outcome)).count() as u64;
                    (app, (rs.len() as u64, open))
                })
                .filter(|(_, (_, open))| *open > 0)
                .collect();
            let got: BTreeMap<String, (u64, u64)> = rows
                .iter()
                .map(|r| (s(r, "nsapp").to_owned(), (u(r, "runs"), u(r, "open"))))
                .collect();
            assert_eq!(got, want);
        }
        "outcomes-by-repository" => {
            let all: Vec<&Known> = runs.iter().collect();
            let want: BTreeMap<(String, String), u64> =
                group(&all, |r| (r.repo.to_owned(), r.outcome.to_owned()))
                    .into_iter()
                    .map(|(k, v)| (k, v.len() as u64))
                    .collect();
            let got: BTreeMap<(String, String), u64> = rows
                .iter()
                .map(|r| ((s(r, "repo").into(), s(r, "outcome").into()), u(r, "runs")))
                .collect();
            assert_eq!(got, want);
        }
        "repeat-runs" => {
            let mut per: BTreeMap<&str, u64> = BTreeMap::new();
            for r in runs {
                *per.entry(r.random_id.as_str()).or_default() += 1;
            }
            let mut want: BTreeMap<u64, u64> = BTreeMap::new();
            for n in per.values() {
                *want.entry(*n).or_default() += 1;
            }
            let got: BTreeMap<u64, u64> = rows
                .iter()
                .map(|r| (u(r, "runs_per_installation"), u(r, "installations")))
                .collect();
            assert_eq!(got, want);
            // docker's 150 installations that ran twice; one fork installation six times.
            assert_eq!((got[&2], got[&6]), (150, 1));
        }
        "events-by-status" => {
            let by: BTreeMap<String, u64> = rows
                .iter()
                .map(|r| (s(r, "status").to_owned(), u(r, "events")))
                .collect();
            assert_eq!(by.values().sum::<u64>(), events_stored + 400, "{by:?}");
            assert_eq!(by["installing"], runs.len() as u64, "{by:?}");
            assert_eq!(
                by["configuring"] + by["validation"],
                runs.len() as u64 - 200
            );
        }
        other => panic!("the cookbook's query {other} has no known answer here"),
    }
}

fn group<'a, K: Ord>(runs: &[&'a Known], key: impl Fn(&Known) -> K) -> BTreeMap<K, Vec<&'a Known>> {
    let mut out: BTreeMap<K, Vec<&'a Known>> = BTreeMap::new();
    for r in runs {
        out.entry(key(r)).or_default().push(r);
    }
    out
}

#[tokio::test]
async fn every_cookbook_query_gives_the_seeded_answer() {
    let p = Pipeline::start().await;
    let (seeded, stored) = seeded::post(&p).await;
    let history = history_events(OffsetDateTime::now_utc());
    p.insert_events(&history).await;
    let runs = known(&seeded);

    let queries = cookbook(&document());
    assert!(queries.len() >= 12, "{} queries", queries.len());
    let ids: BTreeSet<&str> = queries.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids.len(), queries.len(), "ids are unique");
    for (id, sql) in &queries {
        let rows = analyst(&p, sql).await;
        assert!(!rows.is_empty(), "{id} answers nothing");
        // The answers, for a reader with --nocapture.
        println!("{id}: {}", serde_json::to_string(&rows).unwrap());
        check(id, &rows, &runs, stored);
    }

    // The same definition of a run as the published statistics: the exact counts of the
    // last 30 days (the test pipeline publishes without noise) are the analyst's.
    p.refresh().await;
    let summary = p
        .get_json(&format!("{}/v1/stats/summary?days=30", p.aggregator_url))
        .await;
    let outcomes = analyst(
        &p,
        "SELECT outcome, count() AS runs FROM runs_between(from = today() - 29, to = today() + 1)
         WHERE repo = 'production' AND host = 'pve' GROUP BY outcome",
    )
    .await;
    let mut counts = [0u64; 6];
    for r in &outcomes {
        let i = tests::COUNT_NAMES
            .iter()
            .position(|n| *n == s(r, "outcome"))
            .unwrap();
        counts[i] = u(r, "runs");
        counts[0] += u(r, "runs");
    }
    assert_eq!(tests::run_counts(&summary), counts, "{summary}");
    p.stop().await;
}

#[tokio::test]
async fn the_analysts_limits_are_the_documented_ones_and_cannot_be_raised() {
    let p = Pipeline::start().await;
    // 30 M rows read: over the 25 M of the profile, whatever the source.
    let err = query_as(&p, "analyst", "SELECT count() FROM numbers(30000000)", &[])
        .await
        .unwrap_err();
    assert!(err.contains("TOO_MANY_ROWS"), "{err}");
    // Under it, the same kind of query runs.
    let rows = analyst(&p, "SELECT count() AS n FROM numbers(20000000)").await;
    assert_eq!(u(&rows[0], "n"), 20_000_000);
    for (setting, value) in [
        ("max_rows_to_read", "0"),
        ("max_memory_usage", "8000000000"),
        ("max_threads", "8"),
        ("max_bytes_before_external_group_by", "9000000000"),
        ("max_execution_time", "3600"),
        ("read_overflow_mode", "break"),
    ] {
        let err = query_as(&p, "analyst", "SELECT 1", &[(setting, value)])
            .await
            .unwrap_err();
        assert!(
            err.contains("SETTING_CONSTRAINT_VIOLATION") || err.contains("should not be"),
            "{setting}={value}: {err}"
        );
    }
    // The hourly quota: what the analyst's session is counted against.
    let quota = analyst(&p, "SHOW QUOTA").await;
    assert_eq!(s(&quota[0], "quota_name"), "telemetry_analyst", "{quota:?}");
    assert_eq!(u(&quota[0], "duration"), 3600);
    assert_eq!(u(&quota[0], "max_queries"), 1000);
    assert_eq!(u(&quota[0], "max_errors"), 200);
    assert_eq!(u(&quota[0], "max_read_rows"), 1_000_000_000);
    // Lower is allowed: a client may ask for less.
    analyst(&p, "SELECT 1 SETTINGS max_threads = 1").await;
    // Read-only: nothing can be created.
    let err = query_as(
        &p,
        "analyst",
        "CREATE TABLE mine (x UInt8) ENGINE = Memory",
        &[],
    )
    .await
    .unwrap_err();
    assert!(
        err.contains("ACCESS_DENIED") || err.contains("READONLY"),
        "{err}"
    );
    p.stop().await;
}
