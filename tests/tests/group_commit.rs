//! Group commit: under concurrent load ingest puts many events into one JetStream
//! message, and each event is still stored exactly once; the consumer stores the good
//! events of a group and dead-letters a bad one alone; the same event in two messages
//! is one row, the first received.

use std::time::Duration;

use futures::StreamExt;
use serde_json::Value;
use tests::{Pipeline, poll};
use time::OffsetDateTime;
use uuid::Uuid;

/// Run `n`'s installing event: a run of its own (`random_id` is per run).
fn run(n: usize) -> String {
    tests::installing_with(
        serde_json::json!({"random_id": format!("5f0c7d3e-2a47-4b8e-9d6f-{n:012}")}),
    )
}

/// Run `n`'s event as ingest encodes it, received at `at`.
fn encoded(n: usize, at: OffsetDateTime) -> (Uuid, Vec<u8>) {
    let event = schemas::parse_event(run(n).as_bytes(), &Default::default(), Uuid::nil(), at)
        .expect("a valid event");
    let encoded = event.encode().expect("encodes");
    (encoded.event_id, encoded.payload)
}

/// Publish `lines` as one group, as ingest does.
async fn publish_group(p: &Pipeline, lines: &[&[u8]]) {
    p.js.publish(p.consumer.nats.group_subject(), lines.join(&b'\n').into())
        .await
        .unwrap()
        .await
        .expect("the group is queued");
}

/// Messages ingest has published so far, from its own histogram.
async fn messages_published(p: &Pipeline) -> u64 {
    let text = p
        .get_text(&format!("{}/metrics", p.ingest_internal_url))
        .await;
    text.lines()
        .find(|l| l.starts_with("ingest_publish_message_events_count"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_share_messages_and_each_event_is_stored_once() {
    // One publish slot: while it waits for its PubAck, every other request's event
    // gathers for the next message.
    let p = Pipeline::start_with(|ingest, _| {
        ingest.ingest.rate_limit_per_minute = 0;
        ingest.ingest.group_in_flight = 1;
    })
    .await;
    const EVENTS: usize = 300;
    let before = messages_published(&p).await;
    let answers: Vec<Value> = futures::stream::iter(0..EVENTS)
        .map(|n| {
            let p = &p;
            async move {
                let r = p.post(&run(n)).await;
                assert_eq!(r.status(), 202);
                r.json::<Value>().await.unwrap()
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let messages = messages_published(&p).await - before;
    assert!(
        messages < EVENTS as u64,
        "{EVENTS} events went out in {messages} messages: nothing was grouped"
    );

    p.wait_stored(EVENTS as u64).await;
    let mut told: Vec<String> = answers
        .iter()
        .map(|a| a["event_id"].as_str().expect("an id").to_owned())
        .collect();
    told.sort();
    let mut stored: Vec<String> = p
        .rows("SELECT toString(event_id) AS id FROM events FINAL ORDER BY id")
        .await
        .iter()
        .map(|r| r["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    stored.sort();
    assert_eq!(
        told, stored,
        "every 202 names a stored row, and nothing else is stored"
    );
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_event_in_a_group_is_dead_lettered_alone_and_the_rest_is_stored() {
    let p = Pipeline::start().await;
    let now = OffsetDateTime::now_utc();
    let (_, first) = encoded(1, now);
    let (_, last) = encoded(3, now);
    let bad = br#"{"random_id":"5f0c7d3e-2a47-4b8e-9d6f-000000000002","nsapp":7}"#;
    publish_group(&p, &[&first, bad, &last]).await;

    p.wait_stored(2).await;
    let dlq = p.js.get_stream(&p.consumer.nats.dlq_stream).await.unwrap();
    let subject = p.consumer.nats.dead_letter_subject(Some(
        Uuid::parse_str("5f0c7d3e-2a47-4b8e-9d6f-000000000002").unwrap(),
    ));
    let letter = poll(Duration::from_secs(30), "the dead letter", || async {
        dlq.get_last_raw_message_by_subject(&subject).await.ok()
    })
    .await;
    assert_eq!(letter.payload.as_ref(), bad, "the bad line alone");
    let reason = letter
        .headers
        .get(topology::names::DLQ_REASON_HEADER)
        .map(|v| v.to_string())
        .unwrap_or_default();
    assert!(reason.starts_with("undecodable"), "{reason}");
    // The group was acked: nothing of it waits in the queue.
    poll(Duration::from_secs(30), "the group acked", || async {
        let mut s = p.js.get_stream(&p.consumer.nats.stream).await.ok()?;
        (s.info().await.ok()?.state.messages == 0).then_some(())
    })
    .await;
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_event_in_two_messages_is_one_row_received_first() {
    let p = Pipeline::start().await;
    let first_seen = OffsetDateTime::now_utc() - time::Duration::minutes(5);
    let (id, early) = encoded(1, first_seen);
    let (again, late) = encoded(1, OffsetDateTime::now_utc());
    assert_eq!(id, again, "the identity is the content's, not the time's");
    let (_, other) = encoded(2, first_seen);
    let (_, third) = encoded(3, first_seen);
    // A client retry that went out in another group, after the first was stored.
    publish_group(&p, &[&early, &other]).await;
    p.wait_stored(2).await;
    publish_group(&p, &[&late, &third]).await;
    p.wait_stored(3).await;
    poll(Duration::from_secs(30), "both groups acked", || async {
        let mut s = p.js.get_stream(&p.consumer.nats.stream).await.ok()?;
        (s.info().await.ok()?.state.messages == 0).then_some(())
    })
    .await;
    assert_eq!(
        p.count(&format!(
            "SELECT count() FROM events FINAL WHERE event_id = '{id}'"
        ))
        .await,
        Some(1)
    );
    assert_eq!(
        p.count("SELECT uniqExact(event_id) FROM events").await,
        Some(3)
    );
    let kept = p
        .rows(&format!(
            "SELECT toUnixTimestamp64Milli(received_at) AS at FROM events FINAL WHERE event_id = '{id}'"
        ))
        .await;
    let at = kept[0]["at"]
        .as_i64()
        .or_else(|| kept[0]["at"].as_str()?.parse().ok());
    assert_eq!(
        at,
        Some((first_seen.unix_timestamp_nanos() / 1_000_000) as i64),
        "the copy kept is the first received"
    );
    p.stop().await;
}
