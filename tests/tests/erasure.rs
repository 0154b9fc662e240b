//! A deletion request erases an installation whole, as deployed: every service logged in
//! as its own user, the aggregator only recording the erasure and the consumer carrying
//! it out. Its raw rows in ClickHouse, its events still queued in JetStream (alone on its
//! subject, or grouped with other installations' events), its dead letters (on its
//! subject, and among those that name no installation), and nothing of any other
//! installation; also for a client id that is not a UUID, also when a consumer was
//! storing one of its events at the moment of the purge. Erased stays erased: a later
//! event of the installation is not stored, nor its rows in an import of the old
//! service's table.

use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{AckPolicy, PullConsumer, pull};
use futures::{StreamExt, TryStreamExt};
use serde_json::{Value, json};
use tests::{ADMIN_TOKEN, Pipeline, poll};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use uuid::Uuid;

/// The installation erased, another one that must be left alone, and an id of the kind
/// the host tools send, which is not a UUID.
const ERASED: &str = "5f0c7d3e-2a47-4b8e-9d6f-0a1b2c3d4e5f";
const KEPT: &str = "0e9d8c7b-6a5f-4e3d-8c2b-1a0f9e8d7c6b";
const TOOL: &str = "tool-1732870000";
/// An installation whose events share messages with the others'.
const OTHER: &str = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";

/// Event `n` of installation `random_id` (as the client sends it): a run of its own, so
/// that no two are the same event.
fn event(random_id: &str, n: usize) -> String {
    tests::installing_with(serde_json::json!({
        "random_id": random_id,
        "execution_id": format!("c3d2e1f0-a9b8-4c7d-8e6f-{n:012}"),
    }))
}

fn stored_id(text: &str) -> Uuid {
    schemas::ids::client_id(text).unwrap()
}

/// What the pipeline holds of one installation, everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Holdings {
    rows: u64,
    queued: u64,
    dead_letters: u64,
}

const NOTHING: Holdings = Holdings {
    rows: 0,
    queued: 0,
    dead_letters: 0,
};

/// Messages `stream` holds on `subject`, from the stream's per-subject counts.
async fn on_subject(p: &Pipeline, stream: &str, subject: &str) -> u64 {
    let Ok(stream) = p.js.get_stream(stream).await else {
        return 0;
    };
    let counts: Vec<(String, usize)> = stream
        .info_with_subjects(subject)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    counts.iter().map(|(_, n)| *n as u64).sum()
}

async fn holdings(p: &Pipeline, id: Uuid) -> Holdings {
    let nats = &p.consumer.nats;
    Holdings {
        rows: p
            .count(&format!(
                "SELECT count() FROM events WHERE random_id = '{id}'"
            ))
            .await
            .unwrap(),
        queued: on_subject(p, &nats.stream, &nats.event_subject(id)).await,
        dead_letters: on_subject(p, &nats.dlq_stream, &nats.dead_letter_subject(Some(id))).await,
    }
}

async fn delete(aggregator_url: &str, id: &str) -> reqwest::Response {
    reqwest::Client::new()
        .delete(format!("{aggregator_url}/admin/v1/installations/{id}"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
}

/// A consumer service that the test stops and starts again.
struct Consumer {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Consumer {
    async fn start(settings: &consumer::Settings) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let settings = settings.clone();
        let task = tokio::spawn(async move {
            consumer::run(settings, listener, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        Self { stop, task }
    }

    /// The consumer's erasure side alone, its writers held: what it removes from the
    /// queue is then exactly what was queued.
    fn erasures_only(settings: &consumer::Settings) -> Self {
        let (stop, stopped) = oneshot::channel::<()>();
        let settings = settings.clone();
        let task = tokio::spawn(async move {
            consumer::carry_out_erasures(&settings, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        Self { stop, task }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(15), self.task)
            .await
            .unwrap()
            .unwrap();
    }
}

/// JetStream logged in as `user`, as that service would be.
async fn js_as(p: &Pipeline, user: &str) -> async_nats::jetstream::Context {
    let settings = tests::nats_as(&p.consumer.nats, user);
    let client = settings
        .connect_options("erasure-test")
        .connect(settings.servers())
        .await
        .unwrap();
    async_nats::jetstream::new(client)
}

/// Publish `payload` on `subject` as ingest, which may publish events and nothing else.
async fn publish_as_ingest(p: &Pipeline, subject: String, payload: Vec<u8>) {
    js_as(p, "ingest")
        .await
        .publish(subject, payload.into())
        .await
        .unwrap()
        .await
        .unwrap();
}

/// The durable consumer of the pipeline, bound by the test as the consumer service binds
/// it, with the consumer's own login (the test then plays a writer: it pulls and holds
/// messages itself).
async fn durable(p: &Pipeline) -> PullConsumer {
    js_as(p, "consumer")
        .await
        .get_stream(&p.consumer.nats.stream)
        .await
        .unwrap()
        .create_consumer(pull::Config {
            durable_name: Some(p.consumer.consumer.durable.clone()),
            ack_policy: AckPolicy::Explicit,
            ack_wait: p.consumer.consumer.ack_wait,
            ..Default::default()
        })
        .await
        .unwrap()
}

/// Dead letters on the bare subject (lines that name no installation the consumer could
/// read) that spell `id` anyway.
async fn unattributed_naming(p: &Pipeline, id: Uuid) -> u64 {
    let Ok(dlq) = p.js.get_stream(&p.consumer.nats.dlq_stream).await else {
        return 0;
    };
    let bare = p.consumer.nats.dead_letter_subject(None);
    let mut found = 0;
    let mut from = 1;
    while let Ok(letter) = dlq.get_first_raw_message_by_subject(&bare, from).await {
        from = letter.sequence + 1;
        let text = String::from_utf8_lossy(&letter.payload).to_lowercase();
        if text.contains(&id.to_string()) {
            found += 1;
        }
    }
    found
}

/// A group of two lines as ingest's group commit makes them, the first one garbled so
/// that no installation can be read from it, though it still spells `random_id`'s.
fn garbled_group(random_id: &str) -> Vec<u8> {
    let mut lines =
        format!(r#"{{"random_id": "{}", "nsapp": 7"#, stored_id(random_id)).into_bytes();
    lines.push(b'\n');
    lines.extend_from_slice(&encoded(OTHER, 990));
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_removes_rows_queued_events_and_dead_letters_of_one_installation_only() {
    let p = Pipeline::start_without_consumer(|ingest, _| {
        ingest.ingest.rate_limit_per_minute = 0;
    })
    .await;
    let installations = [ERASED, KEPT, TOOL];
    let mut n = 0;
    let mut post = async |p: &Pipeline, text: &str| {
        n += 1;
        let r = p.post(&event(text, n)).await;
        assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    };

    // Stored: two events each. Dead-lettered: a payload that cannot be decoded, on the
    // installation's subject (the consumer finds the installation from the subject), and
    // a garbled line in a group, which names no installation the consumer can read and
    // goes to the bare dead-letter subject.
    for text in installations {
        post(&p, text).await;
        post(&p, text).await;
        publish_as_ingest(
            &p,
            p.consumer.nats.event_subject(stored_id(text)),
            b"not an event".to_vec(),
        )
        .await;
        publish_as_ingest(&p, p.consumer.nats.group_subject(), garbled_group(text)).await;
    }
    let consumer = Consumer::start(&p.consumer).await;
    for text in installations {
        let want = Holdings {
            rows: 2,
            queued: 0,
            dead_letters: 1,
        };
        poll(
            Duration::from_secs(30),
            &format!("{text} stored and dead-lettered"),
            || async {
                (holdings(&p, stored_id(text)).await == want
                    && unattributed_naming(&p, stored_id(text)).await == 1)
                    .then_some(())
            },
        )
        .await;
    }
    consumer.stop().await;

    // Queued: three more each, with the writers stopped.
    for text in installations {
        for _ in 0..3 {
            post(&p, text).await;
        }
    }
    let before = Holdings {
        rows: 2,
        queued: 3,
        dead_letters: 1,
    };
    for text in installations {
        assert_eq!(holdings(&p, stored_id(text)).await, before, "{text}");
    }

    // Erasing one installation removes all it had, everywhere, and says what. The
    // consumer carries it out (its writers held, so that what it removes is exactly what
    // was queued); no writer had been handed any of its queued events, so nothing is
    // waited for (the ack wait is 30 s).
    let purging = Consumer::erasures_only(&p.consumer);
    let started = Instant::now();
    let r = delete(&p.aggregator_internal_url, ERASED).await;
    assert_eq!(r.status(), 200);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({
            "random_id": ERASED,
            "deleted_events": 2,
            "purged_queued": 3,
            "purged_dead_letters": 2,
            "complete": true,
        })
    );
    assert_eq!(holdings(&p, stored_id(ERASED)).await, NOTHING);
    assert_eq!(unattributed_naming(&p, stored_id(ERASED)).await, 0);
    assert_eq!(holdings(&p, stored_id(KEPT)).await, before);
    assert_eq!(unattributed_naming(&p, stored_id(KEPT)).await, 1);
    assert_eq!(holdings(&p, stored_id(TOOL)).await, before);

    // The host tool's id is erased by the same text it was posted with.
    let r = delete(&p.aggregator_internal_url, TOOL).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["random_id"], stored_id(TOOL).to_string());
    assert_eq!(
        [
            &body["deleted_events"],
            &body["purged_queued"],
            &body["purged_dead_letters"],
            &body["complete"]
        ],
        [&json!(2), &json!(3), &json!(2), &json!(true)],
        "{body}"
    );
    assert_eq!(holdings(&p, stored_id(TOOL)).await, NOTHING);
    assert_eq!(holdings(&p, stored_id(KEPT)).await, before);

    // Asked again, there is nothing left anywhere; an id no client can send is a 400.
    let again: Value = delete(&p.aggregator_internal_url, ERASED)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        [
            &again["deleted_events"],
            &again["purged_queued"],
            &again["purged_dead_letters"]
        ],
        [&json!(0), &json!(0), &json!(0)],
        "{again}"
    );
    for bad in ["a%20b", "a@b", &"x".repeat(65)] {
        let r = delete(&p.aggregator_internal_url, bad).await;
        assert_eq!(r.status(), 400, "{bad}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "invalid_random_id", "{body}");
    }
    purging.stop().await;

    // When the writers are back, only the other installation's backlog is stored.
    let consumer = Consumer::start(&p.consumer).await;
    poll(Duration::from_secs(30), "the backlog stored", || async {
        (holdings(&p, stored_id(KEPT)).await.rows == 5 && p.queued().await == 0).then_some(())
    })
    .await;
    consumer.stop().await;
    assert_eq!(holdings(&p, stored_id(ERASED)).await, NOTHING);
    assert_eq!(holdings(&p, stored_id(TOOL)).await, NOTHING);
    assert_eq!(
        holdings(&p, stored_id(KEPT)).await,
        Holdings {
            rows: 5,
            queued: 0,
            dead_letters: 1,
        }
    );
    p.stop().await;
}

/// The window a purge leaves open: a consumer pulled the installation's event before the
/// purge and stores it after. The erasure must delete that row too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_a_consumer_was_storing_at_the_purge_is_deleted_too() {
    let ack_wait = Duration::from_secs(5);
    let p = Pipeline::start_without_consumer(|ingest, consumer| {
        ingest.ingest.rate_limit_per_minute = 0;
        consumer.consumer.ack_wait = ack_wait;
    })
    .await;
    let durable = durable(&p).await;
    assert_eq!(p.post(&event(ERASED, 1)).await.status(), 202);
    assert_eq!(p.post(&event(KEPT, 2)).await.status(), 202);

    // A batch of the erased installation's event alone, pulled and being stored.
    let held = durable
        .fetch()
        .max_messages(1)
        .messages()
        .await
        .unwrap()
        .next()
        .await
        .unwrap()
        .unwrap();
    let id = stored_id(ERASED);
    assert_eq!(held.subject.as_str(), p.consumer.nats.event_subject(id));
    let held_sequence = held.info().unwrap().stream_sequence;

    let purging = Consumer::erasures_only(&p.consumer);
    let started = Instant::now();
    let aggregator_url = p.aggregator_internal_url.clone();
    let erasing = tokio::spawn(async move { delete(&aggregator_url, ERASED).await });
    poll(Duration::from_secs(10), "the purge", || async {
        (holdings(&p, id).await.queued == 0).then_some(())
    })
    .await;
    // What nats-server does with a purged message that a consumer holds: it leaves the
    // consumer's pending set and the ack floor passes it, as if it had been acked. No
    // consumer state shows that its batch is still on the way to ClickHouse.
    let info =
        p.js.get_stream(&p.consumer.nats.stream)
            .await
            .unwrap()
            .consumer_info(&p.consumer.consumer.durable)
            .await
            .unwrap();
    assert_eq!(info.num_ack_pending, 0, "{info:?}");
    assert!(info.ack_floor.stream_sequence >= held_sequence, "{info:?}");

    // The batch lands after the purge, as the consumer stores it (with its login); its
    // ack is a no-op.
    let row: schemas::Event = serde_json::from_slice(&held.payload).unwrap();
    let mut insert = p
        .consumer
        .clickhouse
        .client()
        .insert::<schemas::Event>("events")
        .await
        .unwrap();
    insert.write(&row).await.unwrap();
    insert.end().await.unwrap();
    held.ack().await.unwrap();
    assert_eq!(holdings(&p, id).await.rows, 1);

    let r = erasing.await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({
            "random_id": ERASED,
            "deleted_events": 1,
            "purged_queued": 1,
            "purged_dead_letters": 0,
            "complete": true,
        })
    );
    assert!(
        started.elapsed() >= ack_wait,
        "the rows were deleted before the consumer's ack wait had passed: {:?}",
        started.elapsed()
    );
    assert_eq!(holdings(&p, id).await, NOTHING);
    assert_eq!(
        holdings(&p, stored_id(KEPT)).await,
        Holdings {
            rows: 0,
            queued: 1,
            dead_letters: 0,
        }
    );
    purging.stop().await;
    p.stop().await;
}

/// A consumer that holds a batch from before the purge and never finishes it (ClickHouse
/// failing for it, say): the erasure deletes what it can, and says it is not complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_that_cannot_see_a_held_batch_finish_says_it_is_incomplete() {
    let p = Pipeline::start_without_consumer(|ingest, consumer| {
        ingest.ingest.rate_limit_per_minute = 0;
        consumer.consumer.ack_wait = Duration::from_secs(1);
    })
    .await;
    let durable = durable(&p).await;
    assert_eq!(p.post(&event(ERASED, 1)).await.status(), 202);
    assert_eq!(p.post(&event(KEPT, 2)).await.status(), 202);
    let held: Vec<_> = durable
        .fetch()
        .max_messages(2)
        .messages()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(held.len(), 2);

    let purging = Consumer::erasures_only(&p.consumer);
    let r = delete(&p.aggregator_internal_url, ERASED).await;
    assert_eq!(r.status(), 200);
    let mut body: Value = r.json().await.unwrap();
    let pending = body
        .as_object_mut()
        .and_then(|b| b.remove("pending"))
        .unwrap_or_default();
    assert_eq!(
        body,
        json!({
            "random_id": ERASED,
            "deleted_events": 0,
            "purged_queued": 1,
            "purged_dead_letters": 0,
            "complete": false,
        })
    );
    assert!(
        pending
            .as_str()
            .unwrap_or_default()
            .contains("repeat the request"),
        "{pending}"
    );
    purging.stop().await;
    let metrics = p
        .get_text(&format!("{}/metrics", p.aggregator_internal_url))
        .await;
    assert!(
        metrics.contains("aggregator_erasures_total{outcome=\"incomplete\"} 1"),
        "{metrics}"
    );
    p.stop().await;
}

/// Without NATS the statistics are served as ever, and a deletion request is refused
/// with a reason, having deleted nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_nats_the_statistics_are_served_and_an_erasure_deletes_nothing() {
    let p = Pipeline::start().await;
    assert_eq!(p.post(&event(ERASED, 1)).await.status(), 202);
    p.wait_stored(1).await;

    // An aggregator whose NATS is not there: it starts all the same.
    let mut settings = p.aggregator_settings();
    settings.nats.url = format!("nats://127.0.0.1:{}", tests::free_port());
    settings.aggregator.admin_token = ADMIN_TOKEN.into();
    let internal = tests::free_port();
    settings.aggregator.internal_listen = format!("127.0.0.1:{internal}");
    let internal_url = format!("http://127.0.0.1:{internal}");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let served = tokio::spawn(aggregator::serve(settings, listener, async {
        let _ = stopped.await;
    }));

    let summary = poll(Duration::from_secs(10), "the statistics", || async {
        let r = p
            .http
            .get(format!("{url}/v1/stats/summary"))
            .send()
            .await
            .ok()?;
        (r.status() == 200).then_some(())
    });
    summary.await;
    let started = Instant::now();
    let r = delete(&internal_url, ERASED).await;
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "queue_unavailable", "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("nothing was deleted"),
        "{body}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "answered at once"
    );
    assert_eq!(holdings(&p, stored_id(ERASED)).await.rows, 1);

    // The pipeline's own aggregator, with NATS, erases it.
    let r = delete(&p.aggregator_internal_url, ERASED).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["deleted_events"], 1);
    assert_eq!(holdings(&p, stored_id(ERASED)).await, NOTHING);

    let _ = stop.send(());
    served.await.unwrap().unwrap();
    p.stop().await;
}

/// A deployment from before installation subjects has streams bound to the bare subjects
/// only. Ingest and the consumer create-or-update them at start, which must bind the
/// installation subjects too, with the backlog and the durable consumer kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_stream_takes_the_installation_subjects_on_update() {
    // As `consumer migrate` updates them: the admin, on a server of the test's own.
    let server = tests::NatsServer::start().await;
    let nats = topology::stream::NatsSettings {
        url: server.url(),
        max_bytes: 64 * 1024 * 1024,
        ..Default::default()
    };
    let js = async_nats::jetstream::new(tests::nats_admin(&nats.url).await);
    for (mut old, base) in [
        (nats.events_stream(), &nats.subject),
        (nats.dlq_stream(), &nats.dlq_subject),
    ] {
        old.subjects = vec![base.clone()];
        js.create_stream(old).await.unwrap();
    }
    js.publish(nats.subject.clone(), "queued by an older ingest".into())
        .await
        .unwrap()
        .await
        .unwrap();
    let events = js.get_stream(&nats.stream).await.unwrap();
    events
        .create_consumer(pull::Config {
            durable_name: Some("writer".into()),
            ack_policy: AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .unwrap();

    for config in [nats.events_stream(), nats.dlq_stream()] {
        let updated = js.create_or_update_stream(config.clone()).await.unwrap();
        assert_eq!(updated.config.subjects, config.subjects);
    }
    let id = stored_id(ERASED);
    js.publish(nats.event_subject(id), "queued by this ingest".into())
        .await
        .unwrap()
        .await
        .unwrap();
    js.publish(nats.dead_letter_subject(Some(id)), "dead letter".into())
        .await
        .unwrap()
        .await
        .unwrap();
    let mut events = js.get_stream(&nats.stream).await.unwrap();
    let state = events.info().await.unwrap().state.clone();
    assert_eq!((state.messages, state.consumer_count), (2, 1));
    let mut dlq = js.get_stream(&nats.dlq_stream).await.unwrap();
    assert_eq!(dlq.info().await.unwrap().state.messages, 1);

    let _ = js.delete_stream(&nats.stream).await;
    let _ = js.delete_stream(&nats.dlq_stream).await;
}

/// Installation `random_id`'s event `n` as ingest encodes it, for a group of its own
/// making.
fn encoded(random_id: &str, n: usize) -> Vec<u8> {
    tests::queued_payload(&event(random_id, n))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_reaches_events_grouped_with_other_installations() {
    let p = Pipeline::start_without_consumer(|ingest, _| {
        ingest.ingest.rate_limit_per_minute = 0;
    })
    .await;
    // Messages as ingest's group commit makes them under load: the erased installation's
    // events among another's, where no purge by subject reaches them.
    durable(&p).await;
    for group in 0..3 {
        let lines: Vec<Vec<u8>> = (0..4)
            .map(|i| encoded(if i % 2 == 0 { ERASED } else { KEPT }, group * 4 + i))
            .collect();
        publish_as_ingest(&p, p.consumer.nats.group_subject(), lines.join(&b'\n')).await;
    }
    let purging = Consumer::erasures_only(&p.consumer);
    let r = delete(&p.aggregator_internal_url, ERASED).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["complete"], true, "{body}");
    purging.stop().await;

    // The erased installation's later events are not stored either.
    let r = p.post(&event(ERASED, 99)).await;
    assert_eq!(r.status(), 202);

    let consumer = Consumer::start(&p.consumer).await;
    // Every group holds events of both: once the kept ones are stored, the consumer has
    // handled every group.
    poll(
        Duration::from_secs(30),
        "the kept installation stored",
        || async { (holdings(&p, stored_id(KEPT)).await.rows == 6).then_some(()) },
    )
    .await;
    poll(Duration::from_secs(30), "the queue drained", || async {
        let mut s = p.js.get_stream(&p.consumer.nats.stream).await.ok()?;
        (s.info().await.ok()?.state.messages == 0).then_some(())
    })
    .await;
    assert_eq!(holdings(&p, stored_id(ERASED)).await, NOTHING);
    consumer.stop().await;
    p.stop().await;
}

/// The erasure as an operator meets it in production: the whole pipeline running, every
/// service logged in as its own user, the installation's events stored, dead-lettered,
/// and queued (alone and grouped with another's) behind a backlog when the request
/// comes. Afterwards nothing of it is anywhere, a later event of it is not stored, and an
/// import of the old service's table that still holds it stores none of its rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erased_as_deployed_stays_erased_through_later_events_and_the_import() {
    let p = Pipeline::start_without_consumer(|ingest, _| {
        ingest.ingest.rate_limit_per_minute = 0;
    })
    .await;
    let id = stored_id(ERASED);
    let consumer = Consumer::start(&p.consumer).await;
    // Stored, and dead-lettered.
    for n in 0..2 {
        assert_eq!(p.post(&event(ERASED, n)).await.status(), 202);
    }
    assert_eq!(p.post(&event(KEPT, 50)).await.status(), 202);
    publish_as_ingest(
        &p,
        p.consumer.nats.event_subject(id),
        b"not an event".to_vec(),
    )
    .await;
    poll(
        Duration::from_secs(30),
        "stored and dead-lettered",
        || async {
            let h = holdings(&p, id).await;
            (h.rows == 2 && h.dead_letters == 1 && p.queued().await == 0).then_some(())
        },
    )
    .await;
    consumer.stop().await;

    // A backlog when the request comes: events alone on the installation's subject and
    // grouped with another installation's.
    for n in 10..13 {
        assert_eq!(p.post(&event(ERASED, n)).await.status(), 202);
    }
    let group: Vec<Vec<u8>> = (20..24)
        .map(|n| encoded(if n % 2 == 0 { ERASED } else { KEPT }, n))
        .collect();
    publish_as_ingest(&p, p.consumer.nats.group_subject(), group.join(&b'\n')).await;
    assert_eq!(holdings(&p, id).await.queued, 3);

    // The request is made, and the consumer comes back while it waits for the receipt.
    let aggregator_url = p.aggregator_internal_url.clone();
    let erasing = tokio::spawn(async move { delete(&aggregator_url, ERASED).await });
    let consumer = Consumer::start(&p.consumer).await;
    let r = erasing.await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["deleted_events"], 2, "{body}");
    assert_eq!(body["purged_dead_letters"], 1, "{body}");
    assert_eq!(body["complete"], true, "{body}");
    // The queued events of the installation's own subject were purged, or dropped by a
    // writer that read the record first: either way, not stored.
    assert!(body["purged_queued"].as_u64().unwrap() <= 3, "{body}");

    // A later event of the same installation is accepted, and never stored.
    assert_eq!(p.post(&event(ERASED, 99)).await.status(), 202);
    assert_eq!(p.post(&event(KEPT, 99)).await.status(), 202);
    poll(
        Duration::from_secs(30),
        "the other installation stored",
        || async {
            let kept = holdings(&p, stored_id(KEPT)).await.rows;
            (kept == 1 + 2 + 1 && p.queued().await == 0).then_some(())
        },
    )
    .await;
    assert_eq!(holdings(&p, id).await, NOTHING);

    // The old service's table still holds the installation: the import stores none of it.
    let old = tests::old_service::OldServer::create(&p).await;
    let when = tests::old_service::at(3, 0);
    let rows: Vec<Value> = [(ERASED, "a"), (ERASED, "b"), (KEPT, "c")]
        .iter()
        .enumerate()
        .map(|(i, (random_id, run))| {
            let mut row = tests::old_service::old_row(
                &format!("{i:030x}"),
                run,
                "installing",
                when,
                json!({}),
            );
            row["random_id"] = (*random_id).into();
            row
        })
        .collect();
    let report = old.import(&p, "telemetry", &rows).await;
    assert_eq!(
        (report.read, report.stored, report.erased),
        (3, 1, 2),
        "{report:?}"
    );
    assert_eq!(holdings(&p, id).await, NOTHING);
    old.drop(&p).await;
    consumer.stop().await;
    p.stop().await;
}
