//! NATS users and permissions (compose/nats/auth.conf, which the local stack loads too)
//! on a real nats-server: each service can do its job through its own login, and
//! nothing more. Ingest in particular can neither read nor purge the stream.

use std::process::{Command, Stdio};
use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, stream};
use futures::StreamExt;
use schemas::stream::NatsSettings;
use tests::KillOnDrop;

/// nats-server with stack/nats.conf (the shared users, development passwords) on a
/// free port, with a store of its own.
struct Server {
    _child: KillOnDrop,
    port: u16,
    dir: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn server() -> Server {
    let port = tests::free_port();
    let dir = std::env::temp_dir().join(format!("nats-auth-{}", uuid::Uuid::now_v7().simple()));
    let mut cmd = Command::new(tests::NatsServer::binary());
    cmd.arg("-c")
        .arg(tests::workspace_root().join("stack/nats.conf"))
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for user in ["admin", "ingest", "consumer", "aggregator"] {
        cmd.env(
            format!("NATS_{}_PASSWORD", user.to_uppercase()),
            format!("dev-{user}"),
        );
    }
    let server = Server {
        _child: KillOnDrop(cmd.spawn().expect("nats-server starts")),
        port,
        dir,
    };
    let url = format!("nats://127.0.0.1:{port}");
    tests::poll(Duration::from_secs(20), "nats-server", || async {
        async_nats::connect(&url).await.ok().map(|_| ())
    })
    .await;
    server
}

/// JetStream as `user` (its development password), quick to give up on a request the
/// server refuses.
async fn login(server: &Server, user: &str) -> jetstream::Context {
    let settings = NatsSettings {
        url: format!("nats://127.0.0.1:{}", server.port),
        user: user.into(),
        password: format!("dev-{user}").into(),
        ..Default::default()
    };
    let client = settings
        .connect_options("permissions-test")
        .connect(settings.url.as_str())
        .await
        .unwrap_or_else(|e| panic!("{user} logs in: {e}"));
    let mut js = jetstream::new(client);
    js.set_timeout(Duration::from_millis(500));
    js
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
        .create_or_update_stream(names.erasure_stream())
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
    let ack = ingest
        .publish(subject.clone(), "event".into())
        .await
        .unwrap()
        .await
        .expect("ingest's publish is acknowledged");
    assert_eq!(ack.stream, names.stream);
    // A group of events (group commit) goes on a subject of its own, under the same.
    ingest
        .publish(names.group_subject(), "event\nevent".into())
        .await
        .unwrap()
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
    assert!(
        ingest
            .update_stream(stream::Config {
                max_messages: 1,
                ..names.events_stream()
            })
            .await
            .is_err(),
        "ingest changed the stream's limits"
    );
    assert!(ingest.delete_stream(&names.stream).await.is_err());
    assert!(
        ingest
            .publish(names.dlq_subject.clone(), "x".into())
            .await
            .unwrap()
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
                durable_name: Some(schemas::names::DURABLE.into()),
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
    consumer
        .publish(format!("{}.{id}", names.dlq_subject), "dead".into())
        .await
        .unwrap()
        .await
        .expect("the consumer dead-letters");
    // ...and may not purge, nor take another durable, nor publish events.
    let events = consumer.get_stream(&names.stream).await.unwrap();
    assert!(events.purge().await.is_err(), "the consumer purged");
    assert!(
        events
            .create_consumer(pull::Config {
                durable_name: Some("another".into()),
                ..Default::default()
            })
            .await
            .is_err()
    );
    assert!(
        consumer
            .publish(subject.clone(), "x".into())
            .await
            .unwrap()
            .await
            .is_err()
    );

    // The aggregator: purges one installation from both streams (an erasure), reads
    // the durable's state, and nothing else.
    let aggregator = login(&server, "aggregator").await;
    for name in [&names.stream, &names.dlq_stream] {
        let s = aggregator.get_stream(name).await.unwrap();
        s.purge()
            .filter(format!(
                "{}.>",
                if name == &names.stream {
                    &names.subject
                } else {
                    &names.dlq_subject
                }
            ))
            .await
            .expect("the aggregator purges");
    }
    let s = aggregator.get_stream(&names.stream).await.unwrap();
    s.consumer_info(schemas::names::DURABLE)
        .await
        .expect("the aggregator reads the durable's state");
    // It records erasures, which the consumer reads; ingest can do neither.
    aggregator
        .get_stream(&names.erasure_stream)
        .await
        .expect("the aggregator looks the erasure stream up");
    aggregator
        .publish(names.erasure_subject_of(id), "".into())
        .await
        .unwrap()
        .await
        .expect("the aggregator records an erasure");
    let records = consumer
        .get_stream(&names.erasure_stream)
        .await
        .expect("the consumer looks the erasure stream up");
    let record = records
        .get_raw_message(1)
        .await
        .expect("the consumer reads the erasure records");
    assert_eq!(names.erased_installation(record.subject.as_str()), Some(id));
    let ingest_again = login(&server, "ingest").await;
    assert!(
        ingest_again
            .publish(names.erasure_subject_of(id), "".into())
            .await
            .unwrap()
            .await
            .is_err(),
        "ingest recorded an erasure"
    );
    assert!(
        s.get_raw_message(1).await.is_err(),
        "the aggregator read a message"
    );
    assert!(aggregator.delete_stream(&names.stream).await.is_err());
    assert!(
        aggregator
            .publish(subject, "x".into())
            .await
            .unwrap()
            .await
            .is_err()
    );
}
