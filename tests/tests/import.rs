//! `consumer import`: the old service's table, in both of its layouts, imported through
//! the live parser into the events table and on into the statistics; imported again
//! without change; and killed midway and resumed without loss or duplicate.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use tests::old_service::{OldServer, at, old_ddl, old_row, sql};
use tests::{KillOnDrop, Pipeline, poll};
use time::OffsetDateTime;

/// What a failed install leaves in the old table: 12 KB with addresses and names.
fn long_error() -> String {
    let mut text = String::from(
        "exit_code=1 | curl: (7) Failed to connect to nas-okonkwo.lan (10.20.30.40) port 443 \
         | at line 88: curl -fsSL https://nas-okonkwo.lan/setup.sh\n---\n",
    );
    while text.len() < 12_000 {
        text.push_str(
            "E: could not reach 192.168.178.23 from pve-okonkwo as root, ssh key AAAAB3NzaC1yc2E\n",
        );
    }
    text
}

/// The designed history: three days of production runs, a run with no UUID, a fork,
/// rows past the retention, rows a client could not have sent, and a repeated status.
fn history() -> Vec<Value> {
    let mut rows = Vec::new();
    let mut id = 0;
    let mut next = || {
        id += 1;
        format!("{id:030x}")
    };
    for day in [100, 101, 102] {
        for n in 0..6 {
            let run = format!("{day}{n}");
            let start = at(day, i64::from(n) * 10);
            rows.push(old_row(&next(), &run, "installing", start, json!({})));
            let (status, extra) = match n {
                0..=3 => ("success", json!({"exit_code": 0, "install_duration": 300})),
                4 => (
                    "failed",
                    json!({"exit_code": 1, "error": long_error(), "error_category": "network"}),
                ),
                _ => ("failed", json!({"exit_code": 130, "error": "interrupted"})),
            };
            rows.push(old_row(
                &next(),
                &run,
                status,
                start + time::Duration::minutes(5),
                extra.clone(),
            ));
            if n == 0 {
                // The client's retry after a lost answer: the same terminal status again.
                rows.push(old_row(
                    &next(),
                    &run,
                    status,
                    start + time::Duration::minutes(6),
                    extra,
                ));
            }
        }
    }
    // A host tool without a UUID, and a fork.
    rows.push(old_row(
        &next(),
        "0",
        "success",
        at(101, 200),
        json!({"random_id": "tool-1712345678", "execution_id": "", "type": "pve", "nsapp": "post-pve-install", "exit_code": 0}),
    ));
    rows.push(old_row(
        &next(),
        "9001",
        "success",
        at(101, 210),
        json!({"repo_source": "external", "repo_slug": "okonkwo/ProxmoxVE", "exit_code": 0}),
    ));
    // Past the 365 days of the record.
    for n in 0..3 {
        rows.push(old_row(
            &next(),
            &format!("400{n}"),
            "success",
            at(400, n),
            json!({"exit_code": 0}),
        ));
    }
    // What no client body could carry.
    rows.push(old_row(
        &next(),
        "9101",
        "installing",
        at(101, 300),
        json!({"nsapp": "jelly fin"}),
    ));
    rows.push(old_row(
        &next(),
        "9102",
        "installing",
        at(101, 301),
        json!({"type": "container"}),
    ));
    rows.push(old_row(
        &next(),
        "9103",
        "installing",
        at(101, 302),
        json!({"random_id": ""}),
    ));
    rows
}

/// The older layout: two runs on day 101, no slug, no has_arm, none of the v2 columns.
fn older_history() -> Vec<Value> {
    let mut rows = Vec::new();
    for (n, status) in [(0, "success"), (1, "aborted")] {
        let run = format!("77{n}");
        let start = at(101, 400 + n * 10);
        rows.push(old_row(
            &format!("old-{n}-a"),
            &run,
            "installing",
            start,
            json!({}),
        ));
        rows.push(old_row(
            &format!("old-{n}-b"),
            &run,
            status,
            start + time::Duration::minutes(3),
            json!({"exit_code": 0}),
        ));
    }
    rows
}

/// Runs by day and outcome, from the current statistics (before k-anonymity).
async fn runs_by_day(p: &Pipeline) -> BTreeMap<(String, String), u64> {
    p.rows(&format!(
        "SELECT toString(day) AS day, outcome, sum(runs) AS runs FROM stats_groups
         WHERE {} AND dimension = 'all' AND nsapp = ''
         GROUP BY day, outcome",
        aggregator::materialize::CURRENT
    ))
    .await
    .into_iter()
    .map(|r| {
        (
            (
                r["day"].as_str().unwrap().to_owned(),
                r["outcome"].as_str().unwrap().to_owned(),
            ),
            r["runs"]
                .as_u64()
                .or_else(|| r["runs"].as_str()?.parse().ok())
                .unwrap(),
        )
    })
    .collect()
}

fn day(days_ago: i64) -> String {
    at(days_ago, 0).date().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_old_history_is_imported_scrubbed_once_and_reaches_the_statistics() {
    let p = Pipeline::start_without_consumer(|_, _| {}).await;
    let old = OldServer::create(&p).await;
    old.table(&p, "telemetry", false, &history()).await;
    old.table(&p, "telemetry_v1", true, &older_history()).await;

    // One live event on day 101, materialised and frozen before the import: the import
    // must reach a frozen day too.
    let live = schemas::parse::from_value(
        &old_row("", "5555", "success", at(101, 600), json!({"exit_code": 0})),
        &Default::default(),
        uuid::Uuid::now_v7(),
        at(101, 600),
    )
    .unwrap();
    p.insert_events(&[live]).await;
    p.refresh().await;
    assert_eq!(
        p.count(&format!(
            "SELECT count() FROM stats_days FINAL WHERE day = '{}' AND frozen",
            day(101)
        ))
        .await,
        Some(1)
    );

    let now = OffsetDateTime::now_utc();
    let report = consumer::import(&p.consumer, &old.args("telemetry"), now)
        .await
        .unwrap();
    let expected_rejected: BTreeMap<String, u64> = [
        ("invalid_value nsapp".to_owned(), 1),
        ("invalid_value type".to_owned(), 1),
        ("missing_field random_id".to_owned(), 1),
    ]
    .into();
    // 3 days × (6 runs × 2 rows + 1 repeat) + tool + fork + 3 expired + 3 refused.
    assert_eq!(
        (
            report.read,
            report.stored,
            report.already_stored,
            report.expired,
            &report.rejected
        ),
        (47, 41, 0, 3, &expected_rejected),
        "{report:?}"
    );
    eprintln!(
        "import by outcome: {}",
        serde_json::to_string(&report).unwrap()
    );
    let older = consumer::import(&p.consumer, &old.args("telemetry_v1"), now)
        .await
        .unwrap();
    assert_eq!((older.read, older.stored), (4, 4), "{older:?}");

    // Exactly the rows that should survive, scrubbed.
    assert_eq!(
        p.count("SELECT count() FROM events FINAL").await,
        Some(1 + 41 + 4)
    );
    assert_eq!(
        p.count("SELECT count() FROM events").await,
        Some(1 + 41 + 4)
    );
    for leak in [
        "okonkwo",
        "10.20.30.40",
        "192.168.178",
        "AAAAB3Nza",
        "jelly fin",
    ] {
        assert_eq!(
            p.count(&format!(
                "SELECT count() FROM events WHERE position(concat(error, ' ', failed_command, ' ', repo_slug, ' ', nsapp), '{leak}') > 0"
            ))
            .await,
            Some(0),
            "{leak} was stored"
        );
    }
    assert_eq!(
        p.count(&format!(
            "SELECT count() FROM events WHERE char_length(error) > {}",
            schemas::parse::FREE_TEXT_MAX_CHARS
        ))
        .await,
        Some(0)
    );
    assert_eq!(
        p.count("SELECT count() FROM events WHERE error != '' AND status = 'failed'")
            .await,
        Some(3)
    );
    assert_eq!(
        p.count("SELECT count() FROM events WHERE repo_slug = 'fork/ProxmoxVE' AND repo_source = 'external'").await,
        Some(1)
    );
    assert_eq!(
        p.count("SELECT count() FROM events WHERE nsapp = 'post-pve-install' AND random_id = toUUID('00000000-0000-0000-0000-000000000000')").await,
        Some(0),
        "the tool's id is a UUIDv5 of its text"
    );
    assert_eq!(
        p.count(&format!(
            "SELECT count() FROM events WHERE status = 'installing' AND toUnixTimestamp64Milli(received_at) = {}",
            at(100, 0).unix_timestamp() * 1000
        ))
        .await,
        Some(1),
        "received_at is the row's created"
    );
    assert_eq!(
        p.count("SELECT count() FROM events WHERE status = 'aborted'")
            .await,
        Some(3 + 1),
        "exit 130 is an abort, live and imported"
    );

    // The statistics of the imported days, the frozen one included.
    let refreshed = p.refresh().await;
    assert!(refreshed.days_computed >= 3, "{refreshed:?}");
    assert_eq!(
        p.count("SELECT count() FROM stats_pending_days").await,
        Some(0)
    );
    let stats = runs_by_day(&p).await;
    let want = |d: i64, outcome: &str| {
        stats
            .get(&(day(d), outcome.to_owned()))
            .copied()
            .unwrap_or(0)
    };
    for d in [100, 102] {
        assert_eq!(
            (want(d, "success"), want(d, "failed"), want(d, "aborted")),
            (4, 1, 1),
            "day {d}: {stats:?}"
        );
    }
    // Day 101: its six runs, the tool, the fork, the older layout's two, and the live one.
    assert_eq!(
        (
            want(101, "success"),
            want(101, "failed"),
            want(101, "aborted")
        ),
        (4 + 2 + 1 + 1, 1, 1 + 1),
        "{stats:?}"
    );

    // Again, from the saved position and from the start: nothing changes.
    let again = consumer::import(&p.consumer, &old.args("telemetry"), now)
        .await
        .unwrap();
    assert_eq!((again.read, again.stored), (0, 0), "{again:?}");
    let mut from_start = old.args("telemetry");
    from_start.from_start = true;
    let whole = consumer::import(&p.consumer, &from_start, now)
        .await
        .unwrap();
    assert_eq!(
        (whole.read, whole.stored, whole.already_stored),
        (47, 0, 41),
        "{whole:?}"
    );
    assert_eq!(
        p.count("SELECT count() FROM events").await,
        Some(1 + 41 + 4)
    );
    assert_eq!(
        p.count("SELECT count() FROM stats_pending_days").await,
        Some(0)
    );
    assert_eq!(p.refresh().await.days_computed, 0, "nothing to recompute");
    assert_eq!(runs_by_day(&p).await, stats);

    old.drop(&p).await;
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_killed_midway_resumes_without_loss_or_duplicate() {
    const ROWS: u64 = 20_000;
    let p = Pipeline::start_without_consumer(|_, _| {}).await;
    let old = OldServer::create(&p).await;
    sql(
        &p,
        &old_ddl(&format!("{}.telemetry", old.database), false),
        "",
    )
    .await;
    sql(
        &p,
        &format!(
            "INSERT INTO {}.telemetry (id, nsapp, type, status, created, random_id, execution_id, repo_source, core_count)
             SELECT lower(hex(sipHash128(number))), 'jellyfin', 'lxc', if(number % 2 = 0, 'installing', 'success'),
                    now64(3) - toIntervalSecond(60 * (number + 100)),
                    concat('00000000-0000-4000-8000-', leftPad(toString(intDiv(number, 2)), 12, '0')),
                    '', 'ProxmoxVE', 2
             FROM numbers({ROWS})",
            old.database
        ),
        "",
    )
    .await;

    let mut args = old.args("telemetry");
    args.batch_rows = 500;
    let mut child = KillOnDrop(
        std::process::Command::new(tests::binary("consumer"))
            .envs(runtime::settings::to_env(&p.consumer))
            .env("TELEMETRY__LOG__LEVEL", "warn")
            .args([
                "import",
                "--source-url",
                &args.source.url,
                "--source-database",
                &args.source.database,
                "--batch-rows",
                "500",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    // Kill it once it has stored a few batches, well before the end.
    poll(
        Duration::from_secs(120),
        "the import to store 2 000 rows",
        || async {
            let stored = p.count("SELECT count() FROM events").await?;
            (stored >= 2_000).then_some(())
        },
    )
    .await;
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    let stored_when_killed = p.count("SELECT count() FROM events").await.unwrap();
    assert!(stored_when_killed < ROWS, "it finished before the kill");

    let rest = consumer::import(&p.consumer, &args, OffsetDateTime::now_utc())
        .await
        .unwrap();
    eprintln!("killed after {stored_when_killed} rows; the rerun: {rest:?}");
    assert_eq!(rest.stored + stored_when_killed, ROWS, "{rest:?}");
    assert_eq!(p.count("SELECT count() FROM events").await, Some(ROWS));
    assert_eq!(
        p.count("SELECT uniqExact(event_id) FROM events").await,
        Some(ROWS)
    );

    // A kill between a batch's insert and its checkpoint loses the checkpoint of rows
    // already stored; at worst all of them. They are read again and not stored again.
    p.clickhouse
        .query("TRUNCATE TABLE import_checkpoints")
        .execute()
        .await
        .unwrap();
    let lost = consumer::import(&p.consumer, &args, OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!(
        (lost.read, lost.stored, lost.already_stored),
        (ROWS, 0, ROWS),
        "{lost:?}"
    );
    assert_eq!(p.count("SELECT count() FROM events").await, Some(ROWS));
    old.drop(&p).await;
    p.stop().await;
}
