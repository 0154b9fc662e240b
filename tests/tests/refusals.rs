//! What ClickHouse or NATS refuses does not hold the pipeline up, and loses nothing that
//! was answered 202: a row ClickHouse refuses with an error code on neither of the
//! consumer's lists is dead-lettered after a bounded number of tries while the rest is
//! stored; a message larger than a consumer batch is still taken; groups stay within what
//! the NATS server takes in one message; and `consumer import` goes on past a row
//! ClickHouse refuses.

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::Value;
use tests::old_service::{OldServer, at, old_row};
use tests::{NatsServer, Pipeline, poll};
use uuid::Uuid;

/// Run `n`'s installing event of app `app`.
fn event(n: usize, app: &str) -> String {
    tests::installing_with(serde_json::json!({
        "random_id": format!("5f0c7d3e-2a47-4b8e-9d6f-{n:012}"),
        "nsapp": app,
    }))
}

/// The value of the series `name` (with its labels) in a Prometheus text; 0 if absent.
fn value(metrics: &str, name: &str) -> f64 {
    tests::metric_value(metrics, name).unwrap_or_default()
}

/// A constraint that ClickHouse enforces on insert, set by the operator: a row of app
/// `poison` is refused with code 469 (VIOLATED_CONSTRAINT), which is on neither of the
/// consumer's lists (consumer/src/sink.rs), as an error nobody foresaw would be.
async fn poison(p: &Pipeline) {
    p.clickhouse
        .query("ALTER TABLE events ADD CONSTRAINT no_poison CHECK nsapp != 'poison'")
        .execute()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_refused_with_an_unlisted_code_is_dead_lettered_after_bounded_tries() {
    let p = Pipeline::start_with(|ingest, _| ingest.ingest.rate_limit_per_minute = 0).await;
    poison(&p).await;
    let started = Instant::now();
    for n in 0..6 {
        let app = if n == 3 { "poison" } else { "jellyfin" };
        assert_eq!(p.post(&event(n, app)).await.status(), 202);
    }
    // The rest is stored, and the queue is empty: nothing waits for the refused row.
    // The bound: `store::UNEXPLAINED_TRIES` tries with the writer's backoff (about two
    // seconds), then a split; the poll's deadline is far above it and far below the
    // queue's max_age, which is what a batch retried forever would run into.
    p.wait_stored(5).await;
    let id = Uuid::parse_str("5f0c7d3e-2a47-4b8e-9d6f-000000000003").unwrap();
    let dlq = p.js.get_stream(&p.consumer.nats.dlq_stream).await.unwrap();
    let letter = poll(
        Duration::from_secs(20),
        "the refused row dead-lettered",
        || async {
            dlq.get_last_raw_message_by_subject(&p.consumer.nats.dead_letter_subject(Some(id)))
                .await
                .ok()
        },
    )
    .await;
    let reason = letter
        .headers
        .get(topology::names::DLQ_REASON_HEADER)
        .map(|v| v.to_string())
        .unwrap_or_default();
    assert!(reason.contains("469"), "{reason}");
    eprintln!(
        "the refused row was dead-lettered {:?} after the first post",
        started.elapsed()
    );
    let metrics = p.get_text(&format!("{}/metrics", p.consumer_url)).await;
    let unexplained = value(
        &metrics,
        "consumer_clickhouse_errors_total{kind=\"unexplained\"}",
    );
    assert!(unexplained >= 1.0, "{metrics}");
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_larger_than_a_batch_is_still_stored() {
    let p = Pipeline::start_with(|_, consumer| consumer.consumer.batch_bytes = 2_048).await;
    // One group of ten events, several kilobytes: over the consumer's batch_bytes alone.
    let lines: Vec<Vec<u8>> = (0..10)
        .map(|n| tests::queued_payload(&event(n, "jellyfin")))
        .collect();
    let group = lines.join(&b'\n');
    assert!(group.len() > 2_048, "{}", group.len());
    p.js.publish(p.consumer.nats.group_subject(), group.into())
        .await
        .unwrap()
        .await
        .unwrap();
    p.wait_stored(10).await;
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_stay_within_what_the_nats_server_takes() {
    // A server that takes 4 KiB a message; ingest's groups are configured for 256 KiB.
    let nats = NatsServer::start_with("max_payload: 4096").await;
    let url = nats.url();
    let p = Pipeline::start_with(|ingest, consumer| {
        ingest.ingest.rate_limit_per_minute = 0;
        ingest.nats.url = url.clone();
        consumer.nats.url = url.clone();
    })
    .await;
    assert!(p.ingest.ingest.group_max_bytes > 4096);
    // Many at once, so that groups form: each would be far larger than 4 KiB.
    let answers: Vec<u16> = futures::stream::iter(0..200)
        .map(|n| {
            let (http, url) = (p.http.clone(), format!("{}/telemetry", p.ingest_url));
            async move {
                http.post(url)
                    .header("Content-Type", "application/json")
                    .body(event(n, "jellyfin"))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    assert!(answers.iter().all(|s| *s == 202), "{answers:?}");
    p.wait_stored(200).await;
    let metrics = p
        .get_text(&format!("{}/metrics", p.ingest_internal_url))
        .await;
    assert_eq!(
        value(
            &metrics,
            "ingest_publish_failures_total{kind=\"max_payload\"}"
        ),
        0.0,
        "{metrics}"
    );

    p.stop().await;
    drop(nats);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_import_goes_on_past_a_row_clickhouse_refuses() {
    let p = Pipeline::start_without_consumer(|_, _| {}).await;
    poison(&p).await;
    let old = OldServer::create(&p).await;
    let rows: Vec<Value> = (0..10)
        .map(|n| {
            let mut row = old_row(
                &format!("{n:030x}"),
                &format!("9{n}"),
                "installing",
                at(2, n as i64),
                serde_json::json!({}),
            );
            if n == 4 {
                row["nsapp"] = "poison".into();
            }
            row
        })
        .collect();
    let report = old.import(&p, "telemetry", &rows).await;
    assert_eq!((report.read, report.stored), (10, 9), "{report:?}");
    assert_eq!(
        report.rejected.get("clickhouse code 469"),
        Some(&1),
        "{report:?}"
    );
    assert_eq!(p.count("SELECT count() FROM events").await, Some(9));
    // Run again: the refused row is refused again, nothing is stored twice.
    let mut args = old.args("telemetry");
    args.from_start = true;
    let again = consumer::import(&p.consumer, &args, time::OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!((again.stored, again.already_stored), (0, 9), "{again:?}");
    old.drop(&p).await;
    p.stop().await;
}
