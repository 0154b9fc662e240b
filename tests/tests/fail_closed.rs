//! A consumer that cannot read the erasure records stores nothing: the events wait in
//! JetStream, the consumer says so in a metric (which an alert reads), and once the
//! records can be read again everything waiting is stored. A binary of its own, so that
//! the process's metrics are this test's alone.

use std::time::Duration;

use tests::{Pipeline, metric_value as value, poll};

const BODY: &str = include_str!("../fixtures/lxc_installing.json");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_erasure_records_nothing_is_stored_and_nothing_is_lost() {
    let p = Pipeline::start_without_consumer(|_, _| {}).await;
    // The records gone, as after a stream deleted by mistake (or renamed in one service's
    // configuration only): that is not "nobody was erased".
    p.js.delete_stream(&p.consumer.nats.erasure_stream)
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics_url = format!("http://{}/metrics", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let settings = p.consumer.clone();
    let consumer = tokio::spawn(async move {
        consumer::run(settings, listener, async {
            let _ = stopped.await;
        })
        .await
    });
    assert_eq!(p.post(BODY).await.status(), 202);

    // The consumer has pulled the event and tried to read the records: it waits.
    poll(Duration::from_secs(30), "the consumer waiting", || async {
        let metrics = p.get_text(&metrics_url).await;
        (value(&metrics, "consumer_erasure_records_available") == Some(0.0)).then_some(())
    })
    .await;
    assert_eq!(p.count("SELECT count() FROM events").await, Some(0));
    assert_eq!(p.queued().await, 1, "the event waits in JetStream");
    let metrics = p.get_text(&metrics_url).await;
    assert!(
        value(&metrics, "consumer_oldest_message_age_seconds").is_some(),
        "{metrics}"
    );

    // The operator restores the stream (`consumer migrate`): the event is stored.
    consumer::ensure_streams(&p.migrator()).await.unwrap();
    p.wait_stored(1).await;
    let metrics = p.get_text(&metrics_url).await;
    assert_eq!(
        value(&metrics, "consumer_erasure_records_available"),
        Some(1.0)
    );
    let _ = stop.send(());
    consumer.await.unwrap().unwrap();
    p.stop().await;
}
