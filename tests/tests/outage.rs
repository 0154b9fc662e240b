//! NATS going away and coming back: no false 202, no lost 202, no restart of ingest.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::Value;
use tests::{Pipeline, poll};

/// A distinct event per call, so each answer can be traced to its row.
fn event(n: usize) -> String {
    tests::installing_with(
        serde_json::json!({"random_id": format!("7b1f5c2e-3d4a-4e8b-9c0d-{n:012}")}),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_nats_down_ingest_answers_503_and_recovers_without_losing_a_202() {
    // The pipeline's own NATS server, stopped and resumed below.
    let mut p = Pipeline::start_with(|ingest, _| ingest.ingest.rate_limit_per_minute = 0).await;
    let publish_timeout = p.ingest.ingest.publish_timeout;
    let mut accepted = HashSet::new();
    let mut n = 0;
    let mut post = async |p: &Pipeline| {
        n += 1;
        let r = p.post(&event(n)).await;
        let status = r.status().as_u16();
        let retry_after = r.headers().get("retry-after").is_some();
        let body: Value = r.json().await.unwrap();
        (status, retry_after, body)
    };

    let (status, _, body) = post(&p).await;
    assert_eq!(status, 202);
    accepted.insert(body["event_id"].as_str().unwrap().to_owned());

    p.nats_server().stop();
    for _ in 0..3 {
        let started = Instant::now();
        let (status, retry_after, body) = post(&p).await;
        assert_eq!(status, 503, "{body}");
        assert!(retry_after);
        assert_eq!(body["error"], "queue_unavailable");
        assert!(
            started.elapsed() < publish_timeout + Duration::from_secs(1),
            "took {:?}",
            started.elapsed()
        );
    }
    let ready = testkit::get(&p.http, &format!("{}/readyz", p.ingest_internal_url)).await;
    assert_eq!(ready.status(), 503);

    p.nats_server().resume().await;
    // Ingest reconnects by itself; the first 202 after the outage may take a moment.
    poll(
        Duration::from_secs(30),
        "ingest accepting again",
        || async {
            let r = p.post(&event(10_000)).await;
            (r.status() == 202).then_some(())
        },
    )
    .await;
    for _ in 0..5 {
        let (status, _, body) = post(&p).await;
        assert_eq!(status, 202, "{body}");
        accepted.insert(body["event_id"].as_str().unwrap().to_owned());
    }
    let ready = testkit::get(&p.http, &format!("{}/readyz", p.ingest_internal_url)).await;
    assert_eq!(ready.status(), 200);

    // Every event answered 202 is stored, once, after the consumer also reconnected.
    poll(
        Duration::from_secs(30),
        "every accepted event stored",
        || async {
            let rows = p
                .rows("SELECT toString(event_id) AS id FROM events FINAL")
                .await;
            let stored: HashSet<String> = rows
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_owned())
                .collect();
            accepted.is_subset(&stored).then_some(())
        },
    )
    .await;
    assert_eq!(
        p.count("SELECT count() FROM events FINAL").await,
        p.count("SELECT uniqExact(event_id) FROM events").await
    );
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_max_concurrency_load_is_shed_with_503() {
    let mut p = Pipeline::start_with(|ingest, _| ingest.ingest.max_concurrency = 1).await;
    // With NATS gone, whichever request gets the one slot holds it for publish_timeout;
    // the other must not queue behind it.
    p.nats_server().stop();
    let (one, two) = (event(1), event(2));
    let (a, b) = tokio::join!(p.post(&one), p.post(&two));
    let mut codes = Vec::new();
    for r in [a, b] {
        assert_eq!(r.status(), 503);
        assert!(r.headers().get("retry-after").is_some());
        codes.push(
            r.json::<Value>().await.unwrap()["error"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    codes.sort();
    assert_eq!(codes, ["overloaded", "queue_unavailable"]);
    p.stop().await;
}
