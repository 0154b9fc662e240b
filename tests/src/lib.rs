//! Harness for the end-to-end tests: ingest, consumer and aggregator run in-process
//! against the real NATS JetStream and ClickHouse of the local stack (`make stack`).
//!
//! Each [`Pipeline`] gets its own stream, subjects, durable consumer and database, so
//! tests run in parallel on one stack without seeing each other's events.

use std::future::Future;
use std::time::{Duration, Instant};

use async_nats::jetstream;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The local stack's NATS, overridable like `make stack` (NATS_PORT) or by URL.
pub fn nats_url() -> String {
    std::env::var("TELEMETRY_TEST_NATS_URL").unwrap_or_else(|_| {
        format!(
            "nats://127.0.0.1:{}",
            std::env::var("NATS_PORT").unwrap_or_else(|_| "4222".into())
        )
    })
}

/// The local stack's ClickHouse HTTP interface.
pub fn clickhouse_url() -> String {
    std::env::var("TELEMETRY_TEST_CLICKHOUSE_URL").unwrap_or_else(|_| {
        format!(
            "http://127.0.0.1:{}",
            std::env::var("CLICKHOUSE_HTTP_PORT").unwrap_or_else(|_| "8123".into())
        )
    })
}

/// Poll `probe` until it yields `Some`, or fail the test after `deadline`.
pub async fn poll<T, F, Fut>(deadline: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let until = Instant::now() + deadline;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            Instant::now() < until,
            "timed out after {deadline:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

struct Service {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// The three services, started on ephemeral ports in a namespace of their own.
pub struct Pipeline {
    pub ingest_url: String,
    pub aggregator_url: String,
    pub consumer_url: String,
    pub ingest: ingest::Settings,
    pub consumer: consumer::Settings,
    pub http: reqwest::Client,
    pub js: jetstream::Context,
    pub clickhouse: clickhouse::Client,
    services: Vec<Service>,
}

impl Pipeline {
    /// Start all three services. Fails the test at once if the local stack is not up.
    pub async fn start() -> Self {
        Self::start_with(|_, _| {}).await
    }

    /// Start with settings adjusted by `tune` (after the namespace is set).
    pub async fn start_with(
        tune: impl FnOnce(&mut ingest::Settings, &mut consumer::Settings),
    ) -> Self {
        let ns = uuid::Uuid::now_v7().simple().to_string();
        let ns = &ns[ns.len() - 12..];

        let mut nats_settings = schemas::stream::NatsSettings {
            url: nats_url(),
            stream: format!("T_{ns}"),
            subject: format!("t_{ns}.events"),
            dlq_stream: format!("T_{ns}_DLQ"),
            dlq_subject: format!("t_{ns}.dlq"),
            ..Default::default()
        };
        nats_settings.max_bytes = 256 * 1024 * 1024;
        let clickhouse_settings = schemas::store::ClickHouseSettings {
            url: clickhouse_url(),
            database: format!("test_{ns}"),
            ..Default::default()
        };

        let mut ingest = ingest::Settings {
            nats: nats_settings.clone(),
            ..Default::default()
        };
        let mut consumer = consumer::Settings {
            nats: nats_settings,
            clickhouse: clickhouse_settings.clone(),
            ..Default::default()
        };
        consumer.consumer.durable = format!("w_{ns}");
        // Small waits keep the tests quick; batching itself is the same code.
        consumer.consumer.batch_max_wait = Duration::from_millis(100);
        tune(&mut ingest, &mut consumer);
        let nats = async_nats::connect(&consumer.nats.url)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "NATS is not reachable at {} ({e}): run `make stack`",
                    consumer.nats.url
                )
            });
        let aggregator = aggregator::Settings {
            clickhouse: clickhouse_settings.clone(),
            ..Default::default()
        };

        let mut services = Vec::new();
        let (ingest_url, s) = spawn({
            let settings = ingest.clone();
            move |l, stop| async move {
                ingest::run(settings, l, stop).await.expect("ingest runs");
            }
        })
        .await;
        services.push(s);
        let (consumer_url, s) = spawn({
            let settings = consumer.clone();
            move |l, stop| async move {
                consumer::run(settings, l, stop)
                    .await
                    .expect("consumer runs");
            }
        })
        .await;
        services.push(s);
        let (aggregator_url, s) = spawn(move |l, stop| async move {
            aggregator::serve(aggregator, l, stop)
                .await
                .expect("aggregator runs");
        })
        .await;
        services.push(s);

        let pipeline = Self {
            ingest_url,
            aggregator_url,
            consumer_url,
            ingest,
            consumer,
            http: reqwest::Client::new(),
            js: jetstream::new(nats),
            clickhouse: clickhouse_settings.client(),
            services,
        };
        // Ready means: the stream exists and the consumer has created the table.
        poll(Duration::from_secs(30), "ingest readiness", || async {
            let r = pipeline
                .http
                .get(format!("{}/readyz", pipeline.ingest_url))
                .send()
                .await
                .ok()?;
            r.status().is_success().then_some(())
        })
        .await;
        poll(Duration::from_secs(30), "the events table", || async {
            pipeline.count("SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'events'").await.filter(|n| *n == 1)
        })
        .await;
        pipeline
    }

    /// POST a body to `/telemetry` as the bash client does.
    pub async fn post(&self, body: &str) -> reqwest::Response {
        self.http
            .post(format!("{}/telemetry", self.ingest_url))
            .header("Content-Type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .expect("ingest answers")
    }

    /// Run a query that returns one unsigned number; `None` if ClickHouse fails.
    pub async fn count(&self, sql: &str) -> Option<u64> {
        self.clickhouse.query(sql).fetch_one::<u64>().await.ok()
    }

    /// Query ClickHouse over plain HTTP, as an analyst with curl would, in JSONEachRow.
    pub async fn rows(&self, sql: &str) -> Vec<serde_json::Value> {
        let text = self
            .http
            .post(format!(
                "{}/?database={}",
                clickhouse_url(),
                self.consumer.clickhouse.database
            ))
            .body(format!("{sql} FORMAT JSONEachRow"))
            .send()
            .await
            .expect("ClickHouse answers")
            .error_for_status()
            .expect("query succeeds")
            .text()
            .await
            .expect("body");
        text.lines()
            .map(|l| serde_json::from_str(l).expect("JSON row"))
            .collect()
    }

    /// Messages still held by the events stream (work-queue: not yet acked).
    pub async fn queued(&self) -> u64 {
        let mut stream = self
            .js
            .get_stream(&self.consumer.nats.stream)
            .await
            .expect("stream exists");
        stream.info().await.expect("stream info").state.messages
    }

    /// Wait until the table holds `n` distinct events and the queue is drained.
    pub async fn wait_stored(&self, n: u64) {
        poll(
            Duration::from_secs(20),
            &format!("{n} stored events"),
            || async {
                let stored = self.count("SELECT uniqExact(event_id) FROM events").await?;
                (stored == n && self.queued().await == 0).then_some(())
            },
        )
        .await;
    }

    /// Stop the services and remove the test's stream, consumer and database.
    pub async fn stop(self) {
        for s in self.services {
            let _ = s.stop.send(());
            let _ = tokio::time::timeout(Duration::from_secs(15), s.task).await;
        }
        // Bounded: a test may leave its own NATS stopped, and then there is nothing to
        // clean up there.
        let cleanup = Duration::from_secs(1);
        let _ =
            tokio::time::timeout(cleanup, self.js.delete_stream(&self.consumer.nats.stream)).await;
        let _ = tokio::time::timeout(
            cleanup,
            self.js.delete_stream(&self.consumer.nats.dlq_stream),
        )
        .await;
        let _ = self
            .clickhouse
            .query(&format!(
                "DROP DATABASE IF EXISTS {}",
                self.consumer.clickhouse.database
            ))
            .execute()
            .await;
    }
}

async fn spawn<F, Fut>(start: F) -> (String, Service)
where
    F: FnOnce(TcpListener, futures_stop::Stop) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let (tx, rx) = oneshot::channel();
    let task = tokio::spawn(start(listener, futures_stop::Stop(rx)));
    (url, Service { stop: tx, task })
}

mod futures_stop {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// A shutdown future that resolves when the test stops the service (or drops it).
    pub struct Stop(pub tokio::sync::oneshot::Receiver<()>);

    impl Future for Stop {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            Pin::new(&mut self.0).poll(cx).map(|_| ())
        }
    }
}

/// A NATS server of a test's own, for tests that stop and start it. It uses the
/// `nats-server` that `make stack` installed (or `NATS_SERVER_BIN`).
pub struct NatsServer {
    pub port: u16,
    dir: std::path::PathBuf,
    child: Option<std::process::Child>,
}

impl NatsServer {
    pub fn binary() -> std::path::PathBuf {
        if let Some(bin) = std::env::var_os("NATS_SERVER_BIN") {
            return bin.into();
        }
        let stack = std::env::var_os("STACK_DIR").map_or_else(
            || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.stack"),
            std::path::PathBuf::from,
        );
        stack.join("venv/bin/nats-server")
    }

    /// Start on a free port with JetStream storage in a fresh directory.
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let dir = std::env::temp_dir().join(format!("nats-test-{}", uuid::Uuid::now_v7().simple()));
        let mut server = Self {
            port,
            dir,
            child: None,
        };
        server.resume().await;
        server
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Start (again) on the same port and storage, and wait until it accepts clients.
    pub async fn resume(&mut self) {
        let child = std::process::Command::new(Self::binary())
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-sd",
            ])
            .arg(&self.dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "starting {:?} ({e}): run `make stack` first",
                    Self::binary()
                )
            });
        self.child = Some(child);
        let url = self.url();
        poll(Duration::from_secs(20), "the test NATS server", || async {
            async_nats::connect(&url).await.ok().map(|_| ())
        })
        .await;
    }

    /// Kill the server (SIGKILL: the harshest way it can go).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
