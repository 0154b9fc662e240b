//! Migration 0006 rebuilds a raw table that holds rows: every row is kept, the table is
//! keyed by the event's identity afterwards, and running it again, as after a crash
//! between its steps, changes nothing.

use schemas::migrations::{Cluster, MIGRATIONS};
use time::OffsetDateTime;
use uuid::Uuid;

const BODY: &str = include_str!("../fixtures/lxc_installing.json");

async fn count(db: &clickhouse::Client, sql: &str) -> u64 {
    db.query(sql).fetch_one::<u64>().await.unwrap()
}

/// An event as the release before 0006 stored it: with a random (v7) id.
fn old_event(body: &str) -> schemas::Event {
    schemas::parse_event(
        body.as_bytes(),
        &Default::default(),
        Uuid::now_v7(),
        OffsetDateTime::now_utc(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_raw_table_is_rekeyed_with_its_rows_and_the_rekeying_repeats_safely() {
    let database = format!("migrate_{}", &Uuid::now_v7().simple().to_string()[20..]);
    let server = clickhouse::Client::default().with_url(tests::clickhouse_url());
    server
        .query(&format!("CREATE DATABASE {database}"))
        .execute()
        .await
        .unwrap();
    let db = server.clone().with_database(&database);

    // The schema as the release before 0006 left it, recorded as applied.
    for m in MIGRATIONS.iter().filter(|m| m.version < 6) {
        for sql in m.statements() {
            db.query(&sql).execute().await.unwrap();
        }
    }
    db.query(
        "CREATE TABLE schema_migrations (version UInt32, name String, checksum String, \
         applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) ENGINE = ReplacingMergeTree ORDER BY version",
    )
    .execute()
    .await
    .unwrap();
    for m in MIGRATIONS.iter().filter(|m| m.version < 6) {
        db.query("INSERT INTO schema_migrations (version, name, checksum) VALUES (?, ?, ?)")
            .bind(m.version)
            .bind(m.name)
            .bind(m.checksum())
            .execute()
            .await
            .unwrap();
    }
    // Rows with the random ids of that release.
    let mut insert = db.insert::<schemas::Event>("events").await.unwrap();
    for n in 0..50u32 {
        let mut body: serde_json::Value = serde_json::from_str(BODY).unwrap();
        body["disk_size"] = n.into();
        insert.write(&old_event(&body.to_string())).await.unwrap();
    }
    insert.end().await.unwrap();

    let applied = schemas::migrations::apply(&server, &database, Cluster::NONE)
        .await
        .unwrap();
    assert_eq!(applied, ["0006_events_by_identity"]);
    assert_eq!(count(&db, "SELECT count() FROM events FINAL").await, 50);
    let engine: String = db
        .query("SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = 'events'")
        .fetch_one()
        .await
        .unwrap();
    assert!(engine.contains("ORDER BY (nsapp, event_id)"), "{engine}");
    assert!(
        engine.starts_with("ReplacingMergeTree(received_rank)"),
        "{engine}"
    );
    assert_eq!(
        count(&db, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'events_rekeyed'").await,
        0
    );

    // As if the process died after the exchange, before the catch-up and the record,
    // while a consumer of the previous release had stored one more row in the old
    // table: the guards skip what is done, and the catch-up copies that row only.
    db.query("ALTER TABLE schema_migrations DELETE WHERE version = 6 SETTINGS mutations_sync = 2")
        .execute()
        .await
        .unwrap();
    let old_table =
        MIGRATIONS[0].statements()[0].replacen("IF NOT EXISTS events", "events_rekeyed", 1);
    db.query(&old_table).execute().await.unwrap();
    db.query("INSERT INTO events_rekeyed SELECT * FROM events")
        .execute()
        .await
        .unwrap();
    let mut insert = db.insert::<schemas::Event>("events_rekeyed").await.unwrap();
    insert.write(&old_event(BODY)).await.unwrap();
    insert.end().await.unwrap();
    let applied = schemas::migrations::apply(&server, &database, Cluster::NONE)
        .await
        .unwrap();
    assert_eq!(applied, ["0006_events_by_identity"]);
    assert_eq!(count(&db, "SELECT count() FROM events").await, 51);
    assert_eq!(
        count(&db, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'events_rekeyed'").await,
        0
    );

    server
        .query(&format!("DROP DATABASE {database}"))
        .execute()
        .await
        .unwrap();
}
