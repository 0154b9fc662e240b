//! Least privilege in ClickHouse: the users of compose/clickhouse/users.d/telemetry.xml,
//! as the local stack applies them (with development passwords), against the real
//! server. Each role can do its job and nothing else.

use tests::clickhouse_url;

/// Run `sql` as `user` over HTTP, as an analyst with curl would; Ok(body) or Err(body).
async fn run_as(user: &str, sql: &str) -> Result<String, String> {
    let r = reqwest::Client::new()
        .post(format!("{}/", clickhouse_url()))
        .header("X-ClickHouse-User", user)
        .header("X-ClickHouse-Key", format!("dev-{user}"))
        .body(sql.to_owned())
        .send()
        .await
        .expect("ClickHouse answers");
    let ok = r.status().is_success();
    let body = r.text().await.unwrap_or_default();
    if ok { Ok(body) } else { Err(body) }
}

fn denied(result: Result<String, String>, what: &str) {
    match result {
        Err(e) => assert!(
            e.contains("ACCESS_DENIED")
                || e.contains("READONLY")
                || e.contains("Cannot modify")
                || e.contains("SETTING_CONSTRAINT_VIOLATION"),
            "{what}: refused, but not for privileges: {e}"
        ),
        Ok(body) => panic!("{what}: allowed ({body})"),
    }
}

fn settings_as(user: &str) -> consumer::Settings {
    let mut s = consumer::Settings::default();
    s.clickhouse.url = clickhouse_url();
    s.clickhouse.database = "telemetry".into();
    s.clickhouse.user = user.into();
    s.clickhouse.password = format!("dev-{user}").into();
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_clickhouse_user_can_do_its_job_and_nothing_more() {
    // The migrator alone can apply the schema (idempotent: a migrated database stays).
    consumer::migrate(&settings_as("migrator"))
        .await
        .expect("the migrator applies the migrations");
    assert_eq!(
        topology::migrations::pending(&settings_as("consumer").clickhouse.client())
            .await
            .expect("the consumer reads the migration record"),
        Vec::<&str>::new()
    );

    // The consumer inserts raw events; it cannot change or drop anything.
    let marker = uuid::Uuid::now_v7();
    let event = schemas::parse_event(
        br#"{"random_id":"5f0c7d3e-2a47-4b8e-9d6f-0a1b2c3d4e5f","type":"lxc","nsapp":"access-test","status":"installing"}"#,
        &Default::default(),
        marker,
        time::OffsetDateTime::now_utc(),
    )
    .unwrap();
    let consumer = settings_as("consumer").clickhouse.client();
    let mut insert = consumer.insert::<schemas::Event>("events").await.unwrap();
    insert.write(&event).await.unwrap();
    insert.end().await.expect("the consumer inserts");
    denied(
        run_as("consumer", "DROP TABLE telemetry.events").await,
        "consumer DROP",
    );
    denied(
        run_as("consumer", "ALTER TABLE telemetry.events DELETE WHERE 1").await,
        "consumer ALTER DELETE",
    );
    for table in ["stats_runs", "stats_groups"] {
        denied(
            run_as(
                "consumer",
                &format!("SELECT count() FROM telemetry.{table}"),
            )
            .await,
            "consumer reads stats",
        );
    }
    // As `consumer import`, it keeps its position and marks the days it added to, and
    // can do no more with the marks: the aggregator clears them.
    for sql in [
        "INSERT INTO telemetry.import_checkpoints (source, created, id, rows_read, updated_at) VALUES ('access-test', now64(3), 'x', 1, now64(3))",
        "SELECT count() FROM telemetry.import_checkpoints",
        "INSERT INTO telemetry.stats_pending_days (day, marked_at) VALUES ('1970-01-02', now64(3))",
    ] {
        run_as("consumer", sql)
            .await
            .unwrap_or_else(|e| panic!("consumer: {sql}: {e}"));
    }
    denied(
        run_as(
            "consumer",
            "DELETE FROM telemetry.stats_pending_days WHERE 1",
        )
        .await,
        "consumer clears the marks",
    );
    for sql in [
        "SELECT max(marked_at) FROM telemetry.stats_pending_days",
        "DELETE FROM telemetry.stats_pending_days WHERE day = '1970-01-02'",
    ] {
        run_as("aggregator", sql)
            .await
            .unwrap_or_else(|e| panic!("aggregator: {sql}: {e}"));
    }

    // The aggregator reads raw events and writes statistics, and may not drop them.
    assert!(
        run_as("aggregator", "SELECT count() FROM telemetry.events")
            .await
            .is_ok()
    );
    assert!(
        run_as("aggregator", "INSERT INTO telemetry.stats_days (day, generation, frozen, runs, computed_at) VALUES ('1970-01-02', 0, false, 0, now64(3))")
            .await
            .is_ok()
    );
    // It replaces old generations of the rollups by deleting them.
    assert!(
        run_as(
            "aggregator",
            "DELETE FROM telemetry.stats_groups WHERE day = '1970-01-02'"
        )
        .await
        .is_ok()
    );
    for table in ["stats_runs", "stats_groups"] {
        denied(
            run_as("aggregator", &format!("DROP TABLE telemetry.{table}")).await,
            "aggregator DROP",
        );
    }
    denied(
        run_as(
            "aggregator",
            "INSERT INTO telemetry.events (event_id) VALUES (generateUUIDv7())",
        )
        .await,
        "aggregator writes raw events",
    );

    // The analyst reads everything and writes, alters or drops nothing, within limits
    // that cannot be raised.
    let n = run_as(
        "analyst",
        &format!("SELECT count() FROM telemetry.events WHERE event_id = '{marker}'"),
    )
    .await
    .expect("the analyst reads raw events");
    assert_eq!(n.trim(), "1");
    for (what, sql) in [
        (
            "INSERT",
            "INSERT INTO telemetry.events (event_id) VALUES (generateUUIDv7())",
        ),
        ("ALTER", "ALTER TABLE telemetry.events ADD COLUMN x UInt8"),
        ("DELETE", "DELETE FROM telemetry.events WHERE 1"),
        ("DROP", "DROP TABLE telemetry.events"),
        ("TRUNCATE", "TRUNCATE TABLE telemetry.stats_runs"),
        (
            "CREATE",
            "CREATE TABLE telemetry.mine (a UInt8) ENGINE = Memory",
        ),
        (
            "a longer time limit",
            "SELECT 1 SETTINGS max_execution_time = 3600",
        ),
    ] {
        denied(run_as("analyst", sql).await, &format!("analyst {what}"));
    }

    // The dashboard reads the statistics only.
    for table in ["stats_runs", "stats_groups", "stats_durations"] {
        assert!(
            run_as(
                "dashboard",
                &format!("SELECT count() FROM telemetry.{table}")
            )
            .await
            .is_ok(),
            "{table}"
        );
    }
    assert!(
        run_as("dashboard", "SELECT count() FROM telemetry.stats_days")
            .await
            .is_ok()
    );
    denied(
        run_as("dashboard", "SELECT count() FROM telemetry.events").await,
        "dashboard reads raw events",
    );
    for (what, sql) in [
        (
            "INSERT",
            "INSERT INTO telemetry.stats_days (day, generation, frozen, runs, computed_at) VALUES ('1970-01-03', 0, false, 0, now64(3))",
        ),
        ("ALTER", "ALTER TABLE telemetry.stats_runs DELETE WHERE 1"),
        ("DELETE", "DELETE FROM telemetry.stats_groups WHERE 1"),
        ("DROP", "DROP TABLE telemetry.stats_runs"),
    ] {
        denied(run_as("dashboard", sql).await, &format!("dashboard {what}"));
    }

    // Leave no test rows behind in the development database.
    let admin = reqwest::Client::new();
    for sql in [
        format!("DELETE FROM telemetry.events WHERE event_id = '{marker}'"),
        "DELETE FROM telemetry.stats_days WHERE day = '1970-01-02'".to_owned(),
    ] {
        admin
            .post(format!("{}/", clickhouse_url()))
            .body(sql)
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap();
    }
}
