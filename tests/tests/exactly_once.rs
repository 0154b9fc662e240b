//! Every event answered 202 is stored exactly once: under plain load, while the consumer
//! is SIGKILLed, with two consumers side by side, through a ClickHouse outage, and when
//! the queue is full. All against the real NATS and ClickHouse; consumers that get
//! killed run as processes of their own.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tests::{ClickHouseServer, ConsumerProcess, Pipeline, load, poll};

const EVENTS: usize = 100_000;
const DRAIN: Duration = Duration::from_secs(300);

fn unlimited(ingest: &mut ingest::Settings, _: &mut consumer::Settings) {
    ingest.ingest.rate_limit_per_minute = 0;
}

/// Stored rows (distinct events) right now; 0 while ClickHouse is unreachable.
async fn stored(p: &Pipeline) -> u64 {
    p.count("SELECT uniqExact(event_id) FROM events")
        .await
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_events_are_stored_exactly_once() {
    let p = Pipeline::start_with(unlimited).await;
    let accepted = load(&p, 0, EVENTS).await;
    assert_eq!(accepted, EVENTS as u64);
    p.assert_stored_exactly(accepted, DRAIN).await;
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilling_the_consumer_three_times_loses_and_duplicates_nothing() {
    let p = Arc::new(Pipeline::start_without_consumer(unlimited).await);
    let mut consumer = ConsumerProcess::spawn(&p.consumer);
    let loading = tokio::spawn({
        let p = p.clone();
        async move { load(&p, 0, EVENTS).await }
    });
    // Kill points at a third, a half and two thirds of the stored rows: wherever the
    // consumer is then in its batch (pulled, inserting, acking), it dies there.
    for fraction in [3, 2] {
        let threshold = (EVENTS / fraction) as u64;
        poll(DRAIN, "progress before the kill", || async {
            (stored(&p).await >= threshold).then_some(())
        })
        .await;
        consumer.kill();
        consumer = ConsumerProcess::spawn(&p.consumer);
    }
    let threshold = (EVENTS * 2 / 3) as u64;
    poll(DRAIN, "progress before the third kill", || async {
        (stored(&p).await >= threshold).then_some(())
    })
    .await;
    consumer.kill();
    consumer = ConsumerProcess::spawn(&p.consumer);

    let accepted = loading.await.unwrap();
    assert_eq!(accepted, EVENTS as u64);
    p.assert_stored_exactly(accepted, DRAIN).await;
    drop(consumer);
    Arc::into_inner(p).unwrap().stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_consumers_share_the_work_and_store_each_event_once() {
    let p = Pipeline::start_without_consumer(unlimited).await;
    let mut first = ConsumerProcess::spawn(&p.consumer);
    let mut second = ConsumerProcess::spawn(&p.consumer);
    let accepted = load(&p, 0, EVENTS).await;
    p.assert_stored_exactly(accepted, DRAIN).await;
    let a = metric(&first.metrics_url, "consumer_rows_inserted_total").await;
    let b = metric(&second.metrics_url, "consumer_rows_inserted_total").await;
    assert!(a > 0.0 && b > 0.0, "both consumers wrote rows: {a} and {b}");
    assert_eq!(a + b, accepted as f64, "together they wrote each row once");

    // SIGTERM: stop fetching, flush, ack, and exit cleanly within 10 s.
    for consumer in [&mut first, &mut second] {
        let (took, clean) = consumer.terminate();
        assert!(clean, "the consumer exited with an error");
        assert!(took < Duration::from_secs(10), "shutdown took {took:?}");
    }
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clickhouse_outage_of_twenty_seconds_delays_but_loses_nothing() {
    let mut clickhouse = ClickHouseServer::start().await;
    let url = clickhouse.url();
    let p = Arc::new(
        Pipeline::start_with(|ingest, consumer| {
            unlimited(ingest, consumer);
            consumer.clickhouse.url = url.clone();
        })
        .await,
    );

    let first = load(&p, 0, EVENTS / 4).await;
    poll(DRAIN, "the first rows", || async {
        (stored(&p).await > 0).then_some(())
    })
    .await;

    clickhouse.stop();
    // Ingest does not need ClickHouse: it keeps answering 202 all through the outage.
    let during = tokio::spawn({
        let p = p.clone();
        async move { load(&p, EVENTS / 4, EVENTS / 2).await }
    });
    // The outage itself: twenty seconds of ClickHouse being away, as the scenario says.
    tokio::time::sleep(Duration::from_secs(20)).await;
    clickhouse.resume().await;
    let second = during.await.unwrap();
    let third = load(&p, EVENTS * 3 / 4, EVENTS / 4).await;

    assert_eq!(first + second + third, EVENTS as u64);
    p.assert_stored_exactly(EVENTS as u64, DRAIN).await;
    Arc::into_inner(p).unwrap().stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_is_refused_with_503_and_nothing_accepted_is_lost() {
    let mut p = Pipeline::start_without_consumer(|ingest, consumer| {
        unlimited(ingest, consumer);
        ingest.nats.max_bytes = 256 * 1024;
        consumer.nats.max_bytes = 256 * 1024;
    })
    .await;
    let mut accepted = 0;
    let mut refused = None;
    for i in 0..10_000 {
        let body = tests::synthetic_event(i).to_string();
        let r = p.post(&body).await;
        if r.status() == 202 {
            accepted += 1;
            continue;
        }
        assert_eq!(r.status(), 503);
        assert!(r.headers().get("retry-after").is_some());
        refused = Some(r.json::<Value>().await.unwrap());
        break;
    }
    let refused = refused.expect("the stream filled up");
    assert_eq!(refused["error"], "queue_unavailable");
    assert!(accepted > 100, "{accepted} events fit in 256 KiB");

    // Once a consumer drains the backlog, every accepted event is there, and ingest
    // accepts again.
    p.add_consumer().await;
    p.assert_stored_exactly(accepted, DRAIN).await;
    let r = p.post(&tests::synthetic_event(20_000).to_string()).await;
    assert_eq!(r.status(), 202);
    p.stop().await;
}

/// The value of an unlabelled metric on a `/metrics` page.
async fn metric(url: &str, name: &str) -> f64 {
    let text = reqwest::get(url).await.unwrap().text().await.unwrap();
    tests::metric_value(&text, name).unwrap_or(0.0)
}
