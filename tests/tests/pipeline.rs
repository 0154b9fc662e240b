//! The foundation slice, end to end: HTTP into ingest, through JetStream and the consumer,
//! into ClickHouse, and out of the aggregator. Everything here crosses the real servers.

use std::time::Duration;

use async_nats::jetstream::message::PublishMessage;
use serde_json::Value;
use tests::{Pipeline, poll};

const INSTALLING: &str = include_str!("../fixtures/lxc_installing.json");
const FAILED_V2: &str = include_str!("../fixtures/lxc_failed_v2.json");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_posted_event_reads_back_from_clickhouse_field_for_field() {
    let p = Pipeline::start().await;

    let mut ids = Vec::new();
    for body in [INSTALLING, FAILED_V2] {
        let r = p.post(body).await;
        assert_eq!(r.status(), 202, "{}", r.text().await.unwrap_or_default());
        let answer: Value = r.json().await.unwrap();
        assert_eq!(answer["status"], "accepted");
        ids.push(answer["event_id"].clone());
    }
    p.wait_stored(2).await;

    let rows = p
        .rows("SELECT * FROM events FINAL ORDER BY received_at")
        .await;
    assert_eq!(rows.len(), 2);
    for ((row, body), id) in rows.iter().zip([INSTALLING, FAILED_V2]).zip(&ids) {
        let sent: serde_json::Map<String, Value> = serde_json::from_str(body).unwrap();
        for (key, value) in &sent {
            // The bash client's `gpu_passthrough` is the host's GPU kind, stored as such
            // (migration 0009); the v2 client's `yes`/`no` stays where it was sent.
            let column = match (key.as_str(), value.as_str()) {
                ("gpu_passthrough", Some(v)) if !["yes", "no"].contains(&v) => "gpu_type",
                _ => key.as_str(),
            };
            assert_eq!(
                &row[column], value,
                "column {column} differs from what was sent"
            );
        }
        // Fields the client did not send are empty, not invented.
        if !sent.contains_key("exit_code") {
            assert_eq!(row["exit_code"], Value::Null);
            assert_eq!(row["error"], "");
        }
        // The id the client was given is the row's: the event's content identity.
        assert_eq!(&row["event_id"], id);
        let id = uuid::Uuid::parse_str(id.as_str().unwrap_or_default()).unwrap();
        assert_eq!(id.get_version_num(), 8);
    }

    // One run (same execution_id): installing, then failed. Materialised as such...
    p.refresh().await;
    let runs = p
        .rows(&format!(
            "SELECT outcome, sum(runs) AS runs FROM stats_groups
             WHERE {} AND dimension = 'all' AND nsapp = '' GROUP BY outcome",
            aggregator::materialize::CURRENT
        ))
        .await;
    assert_eq!(runs, [serde_json::json!({"outcome": "failed", "runs": 1})]);
    // ...but one run is fewer than k: the summary withholds its counts.
    let summary: Value = p
        .get_json(&format!("{}/v1/stats/summary", p.aggregator_url))
        .await;
    assert_eq!(summary["suppressed"], true, "{summary}");
    assert!(summary.get("runs").is_none() && summary.get("failed").is_none());
    assert_eq!(summary["window"]["days"], 30);
    assert!(summary["generated_at"].is_string());

    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identical_client_retry_is_queued_once() {
    let p = Pipeline::start().await;

    let first: Value = p.post(INSTALLING).await.json().await.unwrap();
    let retry = p.post(INSTALLING).await;
    assert_eq!(retry.status(), 202);
    let retry: Value = retry.json().await.unwrap();
    assert_eq!(retry["duplicate"], true);
    assert!(first["event_id"].is_string());

    p.wait_stored(1).await;
    // Deduplicated in JetStream already: even the raw count, without FINAL, is one.
    assert_eq!(p.count("SELECT count() FROM events").await, Some(1));

    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_message_never_shows_twice() {
    let p = Pipeline::start().await;

    // The same stored event, queued twice: what a redelivery after a lost ack looks like.
    let event = tests::stored_event(INSTALLING, time::OffsetDateTime::now_utc());
    let payload = serde_json::to_vec(&event).unwrap();
    // On the bare subject, as an ingest from before installation subjects publishes during
    // a rolling upgrade: the stream still takes it.
    for attempt in ["a", "b"] {
        p.js.send_publish(
            p.consumer.nats.subject.clone(),
            PublishMessage::build()
                .payload(payload.clone().into())
                .message_id(attempt),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    }
    p.wait_stored(1).await;
    assert_eq!(p.count("SELECT count() FROM events FINAL").await, Some(1));
    assert_eq!(
        p.count("SELECT uniqExact(event_id) FROM events").await,
        Some(1)
    );

    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_message_is_dead_lettered_and_the_rest_flows() {
    let p = Pipeline::start().await;

    // On the bare subject: a payload that names no installation anywhere goes to the bare
    // dead-letter subject.
    p.js.publish(p.consumer.nats.subject.clone(), "not an event".into())
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(p.post(INSTALLING).await.status(), 202);
    p.wait_stored(1).await;

    let dlq = p.js.get_stream(&p.consumer.nats.dlq_stream).await.unwrap();
    let message = poll(
        Duration::from_secs(10),
        "the dead-lettered message",
        || async { dlq.get_raw_message(1).await.ok() },
    )
    .await;
    assert_eq!(&message.payload[..], b"not an event");
    let reason = message
        .headers
        .get(topology::names::DLQ_REASON_HEADER)
        .expect("reason header");
    assert!(reason.as_str().starts_with("undecodable"), "{reason:?}");

    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_are_recorded_and_idempotent_and_retention_is_applied() {
    let p = Pipeline::start().await;
    // As compose runs `consumer migrate`: ClickHouse as the migrator.
    let mut settings = p.migrator();

    // Already applied before the services started: nothing left to do.
    assert!(consumer::migrate(&settings).await.unwrap().is_empty());
    assert_eq!(
        p.count("SELECT count() FROM schema_migrations FINAL").await,
        Some(topology::migrations::MIGRATIONS.len() as u64)
    );

    settings.consumer.retention_days = 30;
    consumer::migrate(&settings).await.unwrap();
    let ttl = p.rows("SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = 'events'").await;
    assert!(
        ttl[0]["engine_full"]
            .as_str()
            .unwrap()
            .contains("toIntervalDay(30)")
    );
    settings.consumer.retention_days = 365;
    consumer::migrate(&settings).await.unwrap();

    // Rows 366 days old go when TTL runs; rows 364 days old stay.
    let now = time::OffsetDateTime::now_utc();
    let old = tests::stored_event(INSTALLING, now - time::Duration::days(366));
    let younger = tests::stored_event(INSTALLING, now - time::Duration::days(364));
    p.insert_events(&[old, younger]).await;
    p.clickhouse
        .query("ALTER TABLE events MATERIALIZE TTL SETTINGS mutations_sync = 2")
        .execute()
        .await
        .unwrap();
    assert_eq!(p.count("SELECT count() FROM events").await, Some(1));
    assert_eq!(
        p.count("SELECT count() FROM events WHERE received_at < now() - INTERVAL 365 DAY")
            .await,
        Some(0)
    );

    p.stop().await;
}
