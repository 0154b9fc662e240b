//! NATS users and permissions (compose/nats/auth.conf, which the local stack loads too)
//! on a real nats-server: each service can do its job through its own login, and
//! nothing more. Ingest in particular can neither read nor purge the stream.

use std::time::Duration;

use async_nats::jetstream::context::GetStreamErrorKind;
use async_nats::jetstream::{self, ErrorCode, consumer::pull, stream};
use futures::StreamExt;
use topology::stream::NatsSettings;

/// A nats-server of the test's own with compose's users and permissions and the local
/// stack's development passwords.
async fn server() -> tests::NatsServer {
    tests::NatsServer::start().await
}

/// `user`'s connection settings for `server`, with its development password.
fn settings_of(server: &tests::NatsServer, user: &str) -> NatsSettings {
    NatsSettings {
        url: format!("nats://127.0.0.1:{}", server.port),
        user: user.into(),
        password: format!("dev-{user}").into(),
        ..Default::default()
    }
}

/// JetStream as `user` (its development password), quick to give up on a request the
/// server refuses.
async fn login(server: &tests::NatsServer, user: &str) -> jetstream::Context {
    let settings = settings_of(server, user);
    let client = settings
        .connect_options("permissions-test")
        .connect(settings.url.as_str())
        .await
        .unwrap_or_else(|e| panic!("{user} logs in: {e}"));
    let mut js = jetstream::new(client);
    js.set_timeout(Duration::from_millis(500));
    js
}

/// Publish `payload` on `subject` as `js`, and wait for the stream to store it: `Err`
/// when the server refuses.
async fn publish(
    js: &jetstream::Context,
    subject: impl async_nats::subject::ToSubject,
    payload: &'static str,
) -> Result<jetstream::publish::PublishAck, jetstream::context::PublishError> {
    js.publish(subject, payload.into()).await?.await
}

/// `who` may neither change the events stream's limits nor delete it.
async fn cannot_change_the_stream(js: &jetstream::Context, names: &NatsSettings, who: &str) {
    let smaller = stream::Config {
        max_messages: 1,
        ..names.events_stream()
    };
    assert!(
        js.update_stream(smaller).await.is_err(),
        "{who} changed the stream's limits"
    );
    assert!(
        js.delete_stream(&names.stream).await.is_err(),
        "{who} deleted the stream"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_service_can_do_its_job_on_the_streams_and_nothing_more() {
    let server = server().await;
    // The tests' stream size: JetStream reserves max_bytes of the disk up front.
    let names = NatsSettings {
        max_bytes: 256 * 1024 * 1024,
        ..Default::default()
    };
    let id = uuid::Uuid::now_v7();
    let subject = names.event_subject(id);

    // The admin (`consumer migrate`) creates the streams.
    let admin = login(&server, "admin").await;
    admin
        .create_or_update_stream(names.events_stream())
        .await
        .unwrap();
    admin
        .create_or_update_stream(names.dlq_stream())
        .await
        .unwrap();
    admin
        .create_or_update_stream(consumer::Settings::default().erasure_stream())
        .await
        .unwrap();
    // A wrong password is no login at all.
    let wrong = NatsSettings {
        url: format!("nats://127.0.0.1:{}", server.port),
        user: "ingest".into(),
        password: "guess".into(),
        ..Default::default()
    };
    assert!(
        wrong
            .connect_options("permissions-test")
            .connect(wrong.url.as_str())
            .await
            .is_err()
    );

    // Ingest: publishes and gets its PubAck, looks its stream up...
    let ingest = login(&server, "ingest").await;
    let ack = publish(&ingest, subject.clone(), "event")
        .await
        .expect("ingest's publish is acknowledged");
    assert_eq!(ack.stream, names.stream);
    // A group of events (group commit) goes on a subject of its own, under the same.
    publish(&ingest, names.group_subject(), "event\nevent")
        .await
        .expect("ingest's group is acknowledged");
    ingest.get_stream(&names.stream).await.expect("readiness");
    // ...and can neither read, purge, change nor delete the stream.
    let events = ingest.get_stream(&names.stream).await.unwrap();
    assert!(events.purge().await.is_err(), "ingest purged the stream");
    assert!(
        events.direct_get(1).await.is_err() && events.get_raw_message(1).await.is_err(),
        "ingest read a message"
    );
    assert!(
        events
            .create_consumer(pull::Config {
                durable_name: Some("reader".into()),
                ..Default::default()
            })
            .await
            .is_err(),
        "ingest made itself a consumer"
    );
    cannot_change_the_stream(&ingest, &names, "ingest").await;
    assert!(
        publish(&ingest, names.dlq_subject.clone(), "x")
            .await
            .is_err(),
        "ingest wrote a dead letter"
    );

    // The consumer: creates its durable, pulls, acks, dead-letters...
    let consumer = login(&server, "consumer").await;
    let stream = consumer.get_stream(&names.stream).await.unwrap();
    let durable = {
        let c = stream
            .create_consumer(pull::Config {
                durable_name: Some(topology::names::DURABLE.into()),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ..Default::default()
            })
            .await
            .expect("the consumer creates its durable");
        c.fetch().max_messages(10).messages().await.unwrap()
    };
    let messages: Vec<_> = durable.collect().await;
    // ingest's event and its group.
    assert_eq!(messages.len(), 2);
    for m in messages {
        m.unwrap().double_ack().await.expect("the consumer acks");
    }
    publish(&consumer, format!("{}.{id}", names.dlq_subject), "dead")
        .await
        .expect("the consumer dead-letters");
    // ...and may not take another durable, nor publish events, nor change or delete the
    // stream. (It may purge: it carries erasures out, and on a work-queue stream its ack
    // deletes a message anyway; compose/nats/auth.conf.)
    let events = consumer.get_stream(&names.stream).await.unwrap();
    cannot_change_the_stream(&consumer, &names, "the consumer").await;
    assert!(
        events
            .create_consumer(pull::Config {
                durable_name: Some("another".into()),
                ..Default::default()
            })
            .await
            .is_err()
    );
    assert!(publish(&consumer, subject.clone(), "x").await.is_err());

    // The aggregator, which serves the public statistics: records an erasure and reads
    // the consumer's receipt back, and nothing else. It cannot purge, read or delete a
    // queued event or a dead letter, nor forge a receipt.
    let aggregator = login(&server, "aggregator").await;
    aggregator
        .get_stream(&names.erasure_stream)
        .await
        .expect("the aggregator looks the erasure stream up");
    let record = publish(&aggregator, names.erasure_subject_of(id), "")
        .await
        .expect("the aggregator records an erasure");
    assert!(
        publish(&aggregator, names.erasure_receipt_subject(id), "{}")
            .await
            .is_err(),
        "the aggregator forged a receipt"
    );
    for name in [&names.stream, &names.dlq_stream] {
        let s = aggregator.get_stream(name).await.unwrap();
        assert!(s.purge().await.is_err(), "the aggregator purged {name}");
        assert!(
            s.purge()
                .filter(format!("{}.>", names.subject))
                .await
                .is_err(),
            "the aggregator purged {name} by subject"
        );
        assert!(
            s.get_raw_message(1).await.is_err(),
            "the aggregator read a message of {name}"
        );
        assert!(
            s.delete_message(1).await.is_err(),
            "the aggregator deleted a message of {name}"
        );
    }
    cannot_change_the_stream(&aggregator, &names, "the aggregator").await;
    assert!(publish(&aggregator, subject.clone(), "x").await.is_err());

    // The consumer carries the erasure out: it reads the records, purges the
    // installation's messages from both streams and publishes its receipt, which the
    // aggregator reads.
    let records = consumer
        .get_stream(&names.erasure_stream)
        .await
        .expect("the consumer looks the erasure stream up");
    let read = records
        .get_raw_message(record.sequence)
        .await
        .expect("the consumer reads the erasure records");
    assert_eq!(names.erased_installation(read.subject.as_str()), Some(id));
    for (name, base) in [
        (&names.stream, &names.subject),
        (&names.dlq_stream, &names.dlq_subject),
    ] {
        consumer
            .get_stream(name)
            .await
            .unwrap()
            .purge()
            .filter(format!("{base}.{id}"))
            .await
            .expect("the consumer purges an installation");
    }
    publish(&consumer, names.erasure_receipt_subject(id), "{}")
        .await
        .expect("the consumer publishes the receipt");
    aggregator
        .get_stream(&names.erasure_stream)
        .await
        .unwrap()
        .get_last_raw_message_by_subject(&names.erasure_receipt_subject(id))
        .await
        .expect("the aggregator reads the receipt");
    // Ingest can do none of it.
    let ingest_again = login(&server, "ingest").await;
    assert!(
        publish(&ingest_again, names.erasure_subject_of(id), "")
            .await
            .is_err(),
        "ingest recorded an erasure"
    );
}

/// Every service receives its replies in an inbox of its own: ingest, the internet-facing
/// service, cannot subscribe to the replies the consumer or the aggregator get (their
/// pulled messages, the erasure records), nor to NATS's shared inbox.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_service_can_read_another_s_replies() {
    let server = server().await;
    for (user, others) in [
        (
            "ingest",
            ["_INBOX_consumer.>", "_INBOX_aggregator.>", "_INBOX.>"],
        ),
        (
            "consumer",
            ["_INBOX_ingest.>", "_INBOX_aggregator.>", "_INBOX.>"],
        ),
        (
            "aggregator",
            ["_INBOX_ingest.>", "_INBOX_consumer.>", "_INBOX.>"],
        ),
    ] {
        for inbox in others {
            let refused = std::sync::Arc::new(tokio::sync::Notify::new());
            let told = refused.clone();
            let settings = settings_of(&server, user);
            let client = settings
                .connect_options("permissions-test")
                .event_callback(move |event| {
                    let told = told.clone();
                    async move {
                        if let async_nats::Event::ServerError(e) = event
                            && e.to_string()
                                .contains("Permissions Violation for Subscription")
                        {
                            told.notify_one();
                        }
                    }
                })
                .connect(settings.url.as_str())
                .await
                .unwrap();
            let _subscription = client.subscribe(inbox.to_owned()).await.unwrap();
            client.flush().await.unwrap();
            tokio::time::timeout(Duration::from_secs(10), refused.notified())
                .await
                .unwrap_or_else(|_| panic!("{user} subscribed to {inbox}"));
        }
        // Its own inbox it may use: the answer to a request it may make arrives there
        // (the stream does not exist on this server: an answer, not a timeout).
        let own = login(&server, user).await;
        let answer = own.get_stream(topology::names::STREAM).await;
        assert!(
            matches!(
                answer.as_ref().map_err(|e| e.kind()),
                Err(GetStreamErrorKind::JetStream(e)) if e.error_code() == ErrorCode::STREAM_NOT_FOUND
            ),
            "{user}: {:?}",
            answer.map(|_| ())
        );
    }
}
