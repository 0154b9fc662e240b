//! The pipeline of one test: ingest, consumer and aggregator in-process, on a stream,
//! durable consumer and database of its own on the shared local stack.

use std::future::Future;
use std::time::Duration;

use async_nats::jetstream;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::{binary, clickhouse_url, free_port, nats_url, poll};

struct Service {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// The aggregator's admin token in the in-process pipelines.
pub const ADMIN_TOKEN: &str = "test-admin-token-of-32-characters!";

/// The three services, started on ephemeral ports in a namespace of their own.
pub struct Pipeline {
    /// The public listeners.
    pub ingest_url: String,
    pub aggregator_url: String,
    /// The operators' listeners: `/metrics`, `/healthz`, `/readyz`, `/admin/v1`.
    pub ingest_internal_url: String,
    pub aggregator_internal_url: String,
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
        Self::start_opts(tune, true).await
    }

    /// Start ingest and the aggregator only; the test runs consumers itself (as
    /// processes it can kill, or later). The schema is migrated here instead.
    pub async fn start_without_consumer(
        tune: impl FnOnce(&mut ingest::Settings, &mut consumer::Settings),
    ) -> Self {
        Self::start_opts(tune, false).await
    }

    async fn start_opts(
        tune: impl FnOnce(&mut ingest::Settings, &mut consumer::Settings),
        with_consumer: bool,
    ) -> Self {
        let ns = uuid::Uuid::now_v7().simple().to_string();
        let ns = &ns[ns.len() - 12..];

        let mut nats_settings = schemas::stream::NatsSettings {
            url: nats_url(),
            stream: format!("T_{ns}"),
            subject: format!("t_{ns}.events"),
            dlq_stream: format!("T_{ns}_DLQ"),
            dlq_subject: format!("t_{ns}.dlq"),
            erasure_stream: format!("T_{ns}_ERASURES"),
            erasure_subject: format!("t_{ns}.erasures"),
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
        ingest.ingest.internal_listen = format!("127.0.0.1:{}", free_port());
        let mut consumer = consumer::Settings {
            nats: nats_settings,
            clickhouse: clickhouse_settings.clone(),
            ..Default::default()
        };
        consumer.consumer.durable = format!("w_{ns}");
        // Small waits keep the tests quick; batching itself is the same code.
        consumer.consumer.batch_max_wait = Duration::from_millis(100);
        tune(&mut ingest, &mut consumer);
        let nats = async_nats::connect(consumer.nats.servers())
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "NATS is not reachable at {} ({e}): run `make stack`",
                    consumer.nats.url
                )
            });
        sweep_stale_streams(&jetstream::new(nats.clone())).await;
        // Whatever the test pointed the consumer at is the ClickHouse of this pipeline.
        let clickhouse_settings = consumer.clickhouse.clone();
        let mut aggregator = aggregator::Settings {
            clickhouse: clickhouse_settings.clone(),
            nats: consumer.nats.clone(),
            ..Default::default()
        };
        // The tests refresh when they choose to (`refresh`, `refresh_at`); the periodic
        // refresh then runs once, at start, and never races them.
        aggregator.aggregator.refresh_interval = Duration::from_secs(3600);
        aggregator.aggregator.admin_token = ADMIN_TOKEN.into();
        aggregator.aggregator.internal_listen = format!("127.0.0.1:{}", free_port());
        // Tests ask for many documents from one address.
        aggregator.aggregator.rate_limit_per_minute = 0;
        let aggregator_internal_url = format!("http://{}", aggregator.aggregator.internal_listen);
        let ingest_internal_url = format!("http://{}", ingest.ingest.internal_listen);

        let mut services = Vec::new();
        let (ingest_url, s) = spawn({
            let settings = ingest.clone();
            move |l, stop| async move {
                ingest::run(settings, l, stop).await.expect("ingest runs");
            }
        })
        .await;
        services.push(s);
        let consumer_url = if with_consumer {
            let (url, s) = spawn({
                let settings = consumer.clone();
                move |l, stop| async move {
                    consumer::run(settings, l, stop)
                        .await
                        .expect("consumer runs");
                }
            })
            .await;
            services.push(s);
            url
        } else {
            consumer::migrate(&consumer)
                .await
                .expect("migrations apply");
            String::new()
        };
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
            ingest_internal_url,
            aggregator_internal_url,
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
                .get(format!("{}/readyz", pipeline.ingest_internal_url))
                .send()
                .await
                .ok()?;
            r.status().is_success().then_some(())
        })
        .await;
        // Ready means every migration is applied (by the consumer's start, or above).
        let migrations = schemas::migrations::MIGRATIONS.len() as u64;
        poll(Duration::from_secs(30), "the migrations", || async {
            pipeline
                .count("SELECT count() FROM schema_migrations FINAL")
                .await
                .filter(|n| *n == migrations)
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

    /// GET a text (metrics, a script).
    pub async fn get_text(&self, url: &str) -> String {
        self.http
            .get(url)
            .send()
            .await
            .expect("the service answers")
            .text()
            .await
            .expect("a text")
    }

    /// GET a JSON document.
    pub async fn get_json(&self, url: &str) -> serde_json::Value {
        self.http
            .get(url)
            .send()
            .await
            .expect("the service answers")
            .json()
            .await
            .expect("a JSON document")
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
                self.consumer.clickhouse.url, self.consumer.clickhouse.database
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

    /// Settings for an aggregator of this pipeline's database (for one run as a process).
    pub fn aggregator_settings(&self) -> aggregator::Settings {
        aggregator::Settings {
            clickhouse: self.consumer.clickhouse.clone(),
            nats: self.consumer.nats.clone(),
            ..Default::default()
        }
    }

    /// Run `aggregator export --out DIR` (the binary) on this pipeline's statistics,
    /// into a fresh `out`.
    pub fn export(&self, out: &std::path::Path) {
        let _ = std::fs::remove_dir_all(out);
        let status = std::process::Command::new(binary("aggregator"))
            .arg("export")
            .arg("--out")
            .arg(out)
            .envs(runtime::settings::to_env(&self.aggregator_settings()))
            .status()
            .expect("aggregator export starts");
        assert!(status.success(), "aggregator export failed");
    }

    /// Recompute the statistics now, as the aggregator's periodic refresh does.
    pub async fn refresh(&self) -> aggregator::materialize::RefreshReport {
        self.refresh_at(time::OffsetDateTime::now_utc()).await
    }

    /// Runs per value of a statistics `dimension` over all apps, from the current
    /// generations of the materialised rollups (before any k-anonymity is applied).
    pub async fn rollup(&self, dimension: &str) -> Vec<serde_json::Value> {
        self.rows(&format!(
            "SELECT value, sum(runs) AS runs FROM stats_groups
             WHERE {} AND dimension = '{dimension}' AND nsapp = '' AND value != ''
             GROUP BY value ORDER BY value",
            aggregator::materialize::CURRENT
        ))
        .await
    }

    /// Recompute the statistics as a refresh at `now` would.
    pub async fn refresh_at(
        &self,
        now: time::OffsetDateTime,
    ) -> aggregator::materialize::RefreshReport {
        let mut refresh = aggregator::AggregatorSettings::default().refresh();
        refresh.events = self.consumer.clickhouse.events_table();
        refresh
            .run(&self.clickhouse, now)
            .await
            .expect("the statistics refresh")
    }

    /// Start one more consumer in this process (it shares the durable consumer).
    pub async fn add_consumer(&mut self) -> String {
        let settings = self.consumer.clone();
        let (url, s) = spawn(move |l, stop| async move {
            consumer::run(settings, l, stop)
                .await
                .expect("consumer runs");
        })
        .await;
        self.services.push(s);
        url
    }

    /// Wait until the table holds exactly `n` events, read the way ARCHITECTURE.md tells
    /// analysts to (FINAL, or distinct event ids), and the queue is empty.
    pub async fn assert_stored_exactly(&self, n: u64, deadline: Duration) {
        poll(deadline, &format!("{n} events stored"), || async {
            let distinct = self.count("SELECT uniqExact(event_id) FROM events").await?;
            assert!(
                distinct <= n,
                "{distinct} distinct events stored, only {n} accepted"
            );
            (distinct == n && self.queued().await == 0).then_some(())
        })
        .await;
        assert_eq!(
            self.count("SELECT count() FROM events FINAL").await,
            Some(n)
        );
        assert_eq!(
            self.count("SELECT uniqExact(event_id) FROM events").await,
            Some(n)
        );
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
        for stream in [
            &self.consumer.nats.dlq_stream,
            &self.consumer.nats.erasure_stream,
        ] {
            let _ = tokio::time::timeout(cleanup, self.js.delete_stream(stream)).await;
        }
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

/// Delete the streams of test runs that ended long ago without cleaning up (a failed
/// assertion skips `stop`). Each keeps a storage reservation in JetStream, and enough of
/// them would refuse new streams on a developer's machine. Once per test process.
async fn sweep_stale_streams(js: &jetstream::Context) {
    use futures::TryStreamExt;
    static SWEPT: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    SWEPT
        .get_or_init(|| async {
            let cutoff = time::OffsetDateTime::now_utc() - time::Duration::hours(1);
            let Ok(infos) = js.streams().try_collect::<Vec<_>>().await else {
                return;
            };
            for info in infos {
                if info.config.name.starts_with("T_") && info.created < cutoff {
                    let _ = js.delete_stream(&info.config.name).await;
                }
            }
        })
        .await;
}
