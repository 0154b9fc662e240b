//! The materialised statistics: known answers from a seeded set of runs, and frozen days
//! that keep their numbers after their raw rows are gone.

use serde_json::Value;
use tests::Pipeline;
use time::{Duration, OffsetDateTime};

/// An event of run `run` with `status`, received `ago` before now.
fn event(run: u32, app: &str, status: &str, exit: Option<u8>, ago: Duration) -> schemas::Event {
    event_on(run, app, status, exit, ago, "12")
}

fn event_on(
    run: u32,
    app: &str,
    status: &str,
    exit: Option<u8>,
    ago: Duration,
    debian: &str,
) -> schemas::Event {
    let body = serde_json::json!({
        "random_id": format!("00000000-0000-4000-8000-{run:012}"),
        "execution_id": format!("00000000-0000-4000-9000-{run:012}"),
        "type": "lxc",
        "nsapp": app,
        "status": status,
        "exit_code": exit,
        "core_count": 2,
        "os_type": "debian",
        "os_version": debian,
    });
    tests::stored_event(&body.to_string(), anchor() - ago)
}

/// The instant the seed's ages count back from: now, except in the first quarter hour
/// of a UTC day, when "ten minutes ago" would be yesterday and the day counts of the
/// tests would be off by one; then a quarter past midnight, later today.
fn anchor() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    let quarter_past = now.replace_time(time::Time::MIDNIGHT) + Duration::minutes(15);
    now.max(quarter_past)
}

/// Ten days ago, ten jellyfin runs: six successes (one reported twice), two failures,
/// one abort, one that never finished. Ten minutes ago, three nextcloud runs: one
/// success, two still going.
fn seed() -> Vec<schemas::Event> {
    let old = Duration::days(10);
    let mut events = Vec::new();
    for run in 0..10u32 {
        events.push(event(
            run,
            "jellyfin",
            "installing",
            None,
            old + Duration::minutes(5),
        ));
        let terminal = match run {
            0..=5 => Some(("success", 0)),
            6 | 7 => Some(("failed", 100)),
            8 => Some(("failed", 130)),
            _ => None,
        };
        if let Some((status, exit)) = terminal {
            events.push(event(run, "jellyfin", status, Some(exit), old));
        }
    }
    // A repeated success, later, must not count twice.
    events.push(event(
        0,
        "jellyfin",
        "success",
        Some(0),
        old - Duration::minutes(1),
    ));
    for run in 100..103u32 {
        events.push(event(
            run,
            "nextcloud",
            "installing",
            None,
            Duration::minutes(10),
        ));
    }
    events.push(event(
        100,
        "nextcloud",
        "success",
        Some(0),
        Duration::minutes(2),
    ));
    events
}

async fn summary(p: &Pipeline, days: &str) -> Value {
    p.get_json(&format!(
        "{}/v1/stats/summary?days={days}",
        p.aggregator_url
    ))
    .await
}

/// A pipeline with [`seed`]'s runs stored and their statistics refreshed.
async fn seeded_and_refreshed() -> Pipeline {
    let p = Pipeline::start().await;
    p.insert_events(&seed()).await;
    p.refresh().await;
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seeded_set_of_runs_gives_the_known_answers() {
    let p = Pipeline::start().await;
    p.insert_events(&seed()).await;
    let report = p.refresh().await;
    assert_eq!(report.days_frozen, 1, "the day ten days ago is frozen");

    let s = summary(&p, "30").await;
    assert_eq!(tests::run_counts(&s), [13, 7, 2, 1, 1, 2], "{s}");
    assert!((s["success_rate"].as_f64().unwrap() - 0.7).abs() < 1e-9);

    // Today alone holds 3 runs, fewer than k: the counts are withheld.
    let today = summary(&p, "1").await;
    assert_eq!(today["suppressed"], true, "{today}");
    assert!(today.get("runs").is_none() && today.get("in_progress").is_none());
    assert_eq!(today["success_rate"], Value::Null);

    // The per-dimension rollups agree with the seed.
    assert_eq!(
        p.rollup("app").await,
        [
            serde_json::json!({"value": "jellyfin", "runs": 10}),
            serde_json::json!({"value": "nextcloud", "runs": 3})
        ]
    );
    assert_eq!(
        p.rollup("error_category").await,
        [
            serde_json::json!({"value": "dependency", "runs": 2}),
            serde_json::json!({"value": "user_aborted", "runs": 1})
        ]
    );
    p.stop().await;
}

/// A run that starts a minute before midnight and ends after it is one run, of the day
/// it started, with its outcome: not also a second, partial run of the next day.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_across_midnight_counts_once_on_the_day_it_started() {
    let p = Pipeline::start().await;
    let midnight = (anchor() - Duration::days(3)).replace_time(time::Time::MIDNIGHT);
    let ago = |at: OffsetDateTime| anchor() - at;
    p.insert_events(&[
        event(
            7,
            "jellyfin",
            "installing",
            None,
            ago(midnight - Duration::minutes(1)),
        ),
        event(
            7,
            "jellyfin",
            "configuring",
            None,
            ago(midnight + Duration::minutes(1)),
        ),
        event(
            7,
            "jellyfin",
            "success",
            Some(0),
            ago(midnight + Duration::minutes(3)),
        ),
    ])
    .await;
    p.refresh().await;
    let days = p
        .rows(&format!(
            "SELECT toString(day) AS day, outcome, sum(runs) AS runs FROM stats_groups
             WHERE {} AND dimension = 'all' AND nsapp = ''
             GROUP BY day, outcome ORDER BY day",
            aggregator::materialize::CURRENT
        ))
        .await;
    let started = (midnight - Duration::minutes(1)).date().to_string();
    assert_eq!(
        days,
        [serde_json::json!({"day": started, "outcome": "success", "runs": 1})],
        "{days:?}"
    );
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_day_keeps_its_numbers_after_its_raw_rows_are_gone() {
    let p = seeded_and_refreshed().await;
    let snapshot = format!(
        "SELECT day, repo, dimension, value, nsapp, outcome, runs,
                toString(bitmapCardinality(groupBitmapMergeState(installs))) AS installs FROM stats_groups
         WHERE {} AND day < today() - 5
         GROUP BY day, repo, dimension, value, nsapp, outcome, runs ORDER BY ALL",
        aggregator::materialize::CURRENT
    );
    let before = p.rows(&snapshot).await;
    assert!(before.len() > 20);
    let summary_before = summary(&p, "all").await;

    p.clickhouse
        .query("DELETE FROM events WHERE received_at < now() - INTERVAL 5 DAY")
        .execute()
        .await
        .unwrap();
    assert_eq!(
        p.count("SELECT count() FROM events WHERE received_at < now() - INTERVAL 5 DAY")
            .await,
        Some(0)
    );
    let report = p.refresh().await;
    assert_eq!(report.days_computed, 1, "only today is recomputed");

    assert_eq!(p.rows(&snapshot).await, before);
    let summary_after = summary(&p, "all").await;
    assert_eq!(
        tests::run_counts(&summary_after),
        tests::run_counts(&summary_before)
    );
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_of_fewer_than_k_runs_is_never_published() {
    let p = Pipeline::start().await;
    let mut events = seed();
    // Five runs on Debian 13 (k = 5: would pass), four on Debian 11 (k - 1: never).
    for (runs, debian) in [(200..205u32, "13"), (300..304u32, "11")] {
        for run in runs {
            events.push(event_on(
                run,
                "gitea",
                "success",
                Some(0),
                Duration::days(2),
                debian,
            ));
        }
    }
    p.insert_events(&events).await;
    p.refresh().await;

    let doc: Value = p
        .get_json(&format!("{}/v1/stats/os?days=30", p.aggregator_url))
        .await;
    assert_eq!(doc["k"], 5);
    let groups: Vec<(&str, u64)> = doc["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["value"].as_str().unwrap(), g["runs"].as_u64().unwrap()))
        .collect();
    assert_eq!(groups, [("debian 12", 13)]);
    // Four runs alone stay below k; and since the total minus the groups shown would be
    // those four runs, the smallest group shown is hidden with them, in `other`.
    assert_eq!(doc["other"]["runs"], 9);
    assert_eq!(doc["suppressed_groups"], 0);
    assert!(!doc.to_string().contains("debian 11"));
    assert!(!doc.to_string().contains("debian 13"));
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_frozen_by_an_older_version_is_recomputed_once_from_its_raw_rows() {
    let p = seeded_and_refreshed().await;
    let before = summary(&p, "all").await;
    // The day ten days ago as the version before repositories and installations left
    // it: frozen, its runs in `stats_runs`, nothing in `stats_groups`.
    for sql in [
        "DELETE FROM stats_days WHERE day = today() - 10",
        "DELETE FROM stats_groups WHERE day = today() - 10",
        "INSERT INTO stats_days (day, generation, frozen, runs, computed_at, version)
         VALUES (today() - 10, 1, true, 10, now64(3), 1)",
        "INSERT INTO stats_runs (day, generation, dimension, value, nsapp, outcome, runs)
         VALUES (today() - 10, 1, 'all', '', '', 'success', 6)",
    ] {
        p.clickhouse.query(sql).execute().await.unwrap();
    }
    p.release().await;
    // Not read: only today's three runs remain, fewer than k.
    assert_eq!(summary(&p, "all").await["suppressed"], true);

    let report = p.refresh().await;
    assert_eq!(report.days_computed, 2, "today, and the old day once");
    assert_eq!(report.days_frozen, 1);
    assert_eq!(
        tests::run_counts(&summary(&p, "all").await),
        tests::run_counts(&before)
    );
    assert_eq!(
        p.count("SELECT toUInt64(version) FROM stats_days FINAL WHERE day = today() - 10")
            .await,
        Some(u64::from(aggregator::materialize::VERSION))
    );
    // The old rows go (an asynchronous delete).
    tests::poll(
        std::time::Duration::from_secs(30),
        "the old version's rows deleted",
        || async {
            (p.count("SELECT count() FROM stats_runs WHERE day = today() - 10")
                .await
                == Some(0))
            .then_some(())
        },
    )
    .await;
    assert_eq!(p.refresh().await.days_computed, 1, "only today from now on");
    p.stop().await;
}
