//! Migrations as `consumer migrate` runs them, with the migrator's login: 0006 rebuilds a
//! raw table that holds rows, keeps every row, keys the table by the event's identity,
//! and repeats safely after a crash between its steps; two migrators at once take turns
//! under the lease, and a crashed one's lease expires; an insert running across the
//! table exchange keeps every row it was acknowledged for.

use std::sync::{Arc, Mutex};

use futures::StreamExt;
use std::time::{Duration, Instant};

use tests::{Slot, clickhouse_admin};
use time::OffsetDateTime;
use topology::lease::{Lease, LeaseError};
use topology::migrations::{Cluster, MIGRATIONS};
use topology::store::ClickHouseSettings;
use uuid::Uuid;

const BODY: &str = include_str!("../fixtures/lxc_installing.json");

async fn count(db: &clickhouse::Client, sql: &str) -> u64 {
    db.query(sql).fetch_one::<u64>().await.unwrap()
}

/// An event as the release before 0006 stored it: with a random (v7) id.
fn old_event(body: &str) -> schemas::Event {
    tests::stored_event(body, OffsetDateTime::now_utc())
}

/// The migrations a database as the release before 0006 left it still needs.
fn since_0006() -> Vec<&'static str> {
    MIGRATIONS
        .iter()
        .filter(|m| m.version >= 6)
        .map(|m| m.name)
        .collect()
}

/// A slot's database as the release before 0006 left it, with `rows` rows, set up by the
/// operator; and the migrator's and the consumer's settings on it.
async fn before_0006(slot: &Slot, rows: u32) -> (ClickHouseSettings, ClickHouseSettings) {
    let base = ClickHouseSettings {
        url: tests::clickhouse_url(),
        ..Default::default()
    };
    let migrator = slot.clickhouse_as(&base, "migrator");
    let admin = clickhouse_admin(&migrator);
    let server = admin.server_client();
    server
        .query(&format!(
            "DROP DATABASE IF EXISTS {} SYNC",
            migrator.database
        ))
        .execute()
        .await
        .unwrap();
    server
        .query(&format!("CREATE DATABASE {}", migrator.database))
        .execute()
        .await
        .unwrap();
    let db = admin.client();
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
    // Rows with the random ids of that release. The row type is today's: the columns
    // added since (migration 0009's `gpu_type`) are there while the rows are written,
    // and gone again before the migrations run.
    let added = "ALTER TABLE events ADD COLUMN gpu_type LowCardinality(String) DEFAULT ''";
    db.query(added).execute().await.unwrap();
    let mut insert = db.insert::<schemas::Event>("events").await.unwrap();
    for n in 0..rows {
        let body = tests::installing_with(serde_json::json!({"disk_size": n}));
        // As the release before 0009 stored it: the host's GPU kind as sent.
        let mut event = old_event(&body);
        event.gpu_passthrough = std::mem::take(&mut event.gpu_type);
        insert.write(&event).await.unwrap();
    }
    insert.end().await.unwrap();
    db.query("ALTER TABLE events DROP COLUMN gpu_type")
        .execute()
        .await
        .unwrap();
    (migrator, slot.clickhouse_as(&base, "consumer"))
}

async fn drop_database(settings: &ClickHouseSettings) {
    clickhouse_admin(settings)
        .server_client()
        .query(&format!("DROP DATABASE IF EXISTS {}", settings.database))
        .execute()
        .await
        .unwrap();
}

/// The schema after 0006: the table keyed by identity, no table left over, and each
/// migration recorded once, with no lease left behind.
async fn assert_migrated(db: &clickhouse::Client) {
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
        count(db, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND (name = 'events_rekeyed' OR startsWith(name, 'migration_lease_'))").await,
        0
    );
    assert_eq!(
        count(db, "SELECT count() FROM schema_migrations FINAL").await,
        MIGRATIONS.len() as u64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_raw_table_is_rekeyed_with_its_rows_and_the_rekeying_repeats_safely() {
    let slot = Slot::claim();
    let (migrator, _) = before_0006(&slot, 50).await;
    let db = migrator.client();

    let applied =
        topology::migrations::apply(&migrator.server_client(), &migrator.database, Cluster::NONE)
            .await
            .unwrap();
    assert_eq!(applied, since_0006());
    assert_eq!(count(&db, "SELECT count() FROM events FINAL").await, 50);
    assert_migrated(&db).await;
    // The bash client's `gpu_passthrough` (the host's GPU kind) has moved to `gpu_type`
    // (migration 0009), in the rows stored before it too.
    assert_eq!(
        count(
            &db,
            "SELECT count() FROM events WHERE gpu_type = 'igpu' AND gpu_passthrough = ''"
        )
        .await,
        50
    );

    // As if the process died after the exchange, before the catch-up and the record,
    // while a consumer of the previous release had stored one more row in the old
    // table: the guards skip what is done, and the catch-up copies that row only.
    let admin = clickhouse_admin(&migrator).client();
    admin
        .query("ALTER TABLE schema_migrations DELETE WHERE version = 6 SETTINGS mutations_sync = 2")
        .execute()
        .await
        .unwrap();
    let old_table =
        MIGRATIONS[0].statements()[0].replacen("IF NOT EXISTS events", "events_rekeyed", 1);
    admin.query(&old_table).execute().await.unwrap();
    // With the columns added since, as the table it stands for would have them.
    admin
        .query("ALTER TABLE events_rekeyed ADD COLUMN gpu_type LowCardinality(String) DEFAULT '' AFTER gpu_passthrough")
        .execute()
        .await
        .unwrap();
    admin
        .query("INSERT INTO events_rekeyed SELECT * FROM events")
        .execute()
        .await
        .unwrap();
    let mut insert = admin
        .insert::<schemas::Event>("events_rekeyed")
        .await
        .unwrap();
    insert.write(&old_event(BODY)).await.unwrap();
    insert.end().await.unwrap();
    let applied =
        topology::migrations::apply(&migrator.server_client(), &migrator.database, Cluster::NONE)
            .await
            .unwrap();
    assert_eq!(applied, ["0006_events_by_identity"]);
    assert_eq!(count(&db, "SELECT count() FROM events").await, 51);
    assert_migrated(&db).await;
    drop_database(&migrator).await;
}

/// Rows in one insert of [`slow_insert`]: over 256 KiB, so that ClickHouse starts the
/// insert (and binds its table) before the body has ended. A smaller body is read whole
/// before the query runs, and cannot be in flight across an exchange.
const ROWS_PER_INSERT: usize = 1_500;

/// One insert as a consumer of the previous release makes it, with its own login: most of
/// its rows, a pause of `pause`, then the last one, so that the insert is in flight for
/// that long. Its rows share a `random_id` of their own. That id once ClickHouse
/// acknowledged the insert, and when it started and ended.
async fn slow_insert(
    http: &reqwest::Client,
    consumer: &ClickHouseSettings,
    pause: Duration,
) -> Option<(Uuid, Instant, Instant)> {
    let insert = Uuid::now_v7();
    let row = |_: usize| {
        format!(
            r#"{{"event_id":"{}","received_at":"{}","random_id":"{insert}","type":"lxc","nsapp":"straddle","status":"installing","error":"{}"}}"#,
            Uuid::now_v7(),
            OffsetDateTime::now_utc().unix_timestamp(),
            "x".repeat(100)
        ) + "\n"
    };
    let head: String = (1..ROWS_PER_INSERT).map(row).collect();
    let last = row(0);
    let body = futures::stream::iter([(head, Duration::ZERO), (last, pause)]).then(
        move |(part, wait)| async move {
            tokio::time::sleep(wait).await;
            Ok::<_, std::io::Error>(part)
        },
    );
    let started = Instant::now();
    let sent = http
        .post(format!(
            "{}/?database={}&query={}",
            consumer.url, consumer.database, "INSERT%20INTO%20events%20FORMAT%20JSONEachRow"
        ))
        .basic_auth(&consumer.user, Some(consumer.password.expose()))
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await
        .ok()?;
    let ended = Instant::now();
    // A refused insert was never acknowledged: the previous release's consumer would
    // have retried it. Only acknowledged rows must survive.
    sent.status()
        .is_success()
        .then_some((insert, started, ended))
}

/// Two `consumer migrate` at once, while a consumer of the previous release keeps
/// inserting: one migrates under the lease, the other waits and finds nothing to do; the
/// schema is right, and every row that was there or acknowledged meanwhile (inserts in
/// flight across the exchange too) is in the new table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_migrators_at_once_with_inserts_beside_them_lose_nothing() {
    let slot = Slot::claim();
    let (migrator, consumer) = before_0006(&slot, 2_000).await;
    let admin = clickhouse_admin(&migrator).client();
    let http = reqwest::Client::new();

    // When `events` became another table: the exchange.
    let table_uuid = async || -> String {
        admin
            .query("SELECT toString(uuid) FROM system.tables WHERE database = currentDatabase() AND name = 'events'")
            .fetch_one()
            .await
            .unwrap()
    };
    let first_uuid = table_uuid().await;
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let acknowledged = Arc::new(Mutex::new(Vec::<(Uuid, Instant, Instant)>::new()));
    let inserters: Vec<_> = (0..2)
        .map(|_| {
            let (http, consumer, done, acknowledged) = (
                http.clone(),
                consumer.clone(),
                done.clone(),
                acknowledged.clone(),
            );
            tokio::spawn(async move {
                while !done.load(std::sync::atomic::Ordering::SeqCst) {
                    if let Some(insert) =
                        slow_insert(&http, &consumer, Duration::from_millis(600)).await
                    {
                        acknowledged.lock().unwrap().push(insert);
                    }
                }
            })
        })
        .collect();
    let watching = {
        let done = done.clone();
        async move {
            loop {
                if table_uuid().await != first_uuid {
                    return Some(Instant::now());
                }
                if done.load(std::sync::atomic::Ordering::SeqCst) {
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    let migrate = || {
        let migrator = migrator.clone();
        async move {
            topology::migrations::apply(
                &migrator.server_client(),
                &migrator.database,
                Cluster::NONE,
            )
            .await
            .unwrap()
        }
    };
    let inserted = || acknowledged.lock().unwrap().len();
    let (exchanged, (first, second)) = tokio::join!(watching, async {
        // Inserts acknowledged before the migrators start...
        tests::poll(Duration::from_secs(10), "inserts before", || async {
            (inserted() >= 2).then_some(())
        })
        .await;
        let both = tokio::join!(migrate(), migrate());
        // ...and after the migration, into the new table.
        let after = inserted();
        tests::poll(Duration::from_secs(10), "inserts after", || async {
            (inserted() >= after + 2).then_some(())
        })
        .await;
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        both
    });
    for inserter in inserters {
        inserter.await.unwrap();
    }
    let mut applied = [first, second];
    applied.sort();
    assert_eq!(
        applied,
        [vec![], since_0006()],
        "one migrated, the other found it done"
    );
    let db = migrator.client();
    assert_migrated(&db).await;

    let exchanged = exchanged.expect("the table was exchanged");
    let acknowledged = acknowledged.lock().unwrap().clone();
    let straddled = acknowledged
        .iter()
        .filter(|(_, started, ended)| *started < exchanged && *ended > exchanged)
        .count();
    assert!(straddled > 0, "no insert was in flight across the exchange");
    let stored: std::collections::HashMap<String, u64> = db
        .query("SELECT toString(random_id), count() FROM events FINAL WHERE nsapp = 'straddle' GROUP BY random_id")
        .fetch_all::<(String, u64)>()
        .await
        .unwrap()
        .into_iter()
        .collect();
    eprintln!(
        "{} inserts of {ROWS_PER_INSERT} rows acknowledged during the migration, {straddled} in flight across the exchange",
        acknowledged.len()
    );
    for (insert, _, _) in &acknowledged {
        assert_eq!(
            stored.get(&insert.to_string()).copied().unwrap_or_default(),
            ROWS_PER_INSERT as u64,
            "an acknowledged insert's rows were lost"
        );
    }
    assert_eq!(
        count(
            &db,
            "SELECT count() FROM events FINAL WHERE nsapp != 'straddle'"
        )
        .await,
        2_000
    );
    drop_database(&migrator).await;
}

/// A migrator that dies holding the lease does not hold it forever: the next one takes
/// it over once its heartbeats stop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_migrator_s_lease_expires() {
    let slot = Slot::claim();
    let (migrator, _) = before_0006(&slot, 1).await;
    let db = migrator.client();
    let ttl = Duration::from_secs(2);
    let crashed = Lease::acquire_for(&db, ttl, Duration::from_secs(5))
        .await
        .unwrap();
    // While it lives it renews the lease: the next one waits two of its TTLs, and gives
    // up at its deadline.
    match Lease::acquire_for(&db, ttl, ttl * 2).await {
        Err(LeaseError::Busy { .. }) => {}
        other => panic!("took a live lease: {:?}", other.map(|_| ())),
    }
    // It dies: its heartbeat stops, nothing releases the lease, its table stays.
    drop(crashed);
    let died = Instant::now();
    let next = Lease::acquire_for(&db, ttl, Duration::from_secs(30))
        .await
        .expect("the lease of a dead migrator expires");
    assert!(
        died.elapsed() >= ttl / 2,
        "taken over before it could have expired: {:?}",
        died.elapsed()
    );
    next.check().await.unwrap();
    next.release().await;
    assert_eq!(
        count(&db, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND startsWith(name, 'migration_lease_')").await,
        0,
        "the expired lease is cleared and the new one released"
    );
    drop_database(&migrator).await;
}
