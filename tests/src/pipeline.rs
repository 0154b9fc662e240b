//! The pipeline of one test: ingest, consumer and aggregator in-process, each logged in
//! as itself (`logins`), on a NATS server of the test's own and a database of its own
//! on the shared ClickHouse.

use std::future::Future;
use std::time::Duration;

use async_nats::jetstream;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::logins::{Slot, clickhouse_admin, nats_admin, nats_as};
use crate::{NatsServer, binary, clickhouse_url, poll};

struct Service {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// The aggregator's admin token in the in-process pipelines.
pub const ADMIN_TOKEN: &str = "test-admin-token-of-32-characters!";

/// How a pipeline publishes its statistics' counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Counts {
    Exact,
    Noisy,
}

/// The three services, started on ephemeral ports in a namespace of their own.
pub struct Pipeline {
    /// The public listeners.
    pub ingest_url: String,
    pub aggregator_url: String,
    /// The operators' listeners: `/metrics`, `/healthz`, `/readyz`, `/admin/v1`.
    pub ingest_internal_url: String,
    pub aggregator_internal_url: String,
    pub consumer_url: String,
    /// Each service's settings, its own logins in them.
    pub ingest: ingest::Settings,
    pub consumer: consumer::Settings,
    pub aggregator: aggregator::Settings,
    pub http: reqwest::Client,
    /// JetStream and ClickHouse as the operator (NATS admin, ClickHouse `default`): for
    /// the test to set the scene and look at what the services did.
    pub js: jetstream::Context,
    pub clickhouse: clickhouse::Client,
    /// The pipeline's own NATS server, unless the test pointed the services at another
    /// (the local cluster).
    pub nats: Option<NatsServer>,
    /// The ClickHouse test slot whose database and users the services use.
    pub slot: Slot,
    services: Vec<Service>,
}

impl Pipeline {
    /// Start all three services. Fails the test at once if the local stack is not up.
    pub async fn start() -> Self {
        Self::start_with(|_, _| {}).await
    }

    /// Start with settings adjusted by `tune` (after the namespace and logins are set).
    pub async fn start_with(
        tune: impl FnOnce(&mut ingest::Settings, &mut consumer::Settings),
    ) -> Self {
        Self::start_opts(tune, true, Counts::Exact).await
    }

    /// Start all three services with the statistics published as in production: every
    /// count with its noise (aggregator::noise). The other pipelines publish exact
    /// counts, so that the statistics tests can check the run model's arithmetic to the
    /// run; what the noise itself guarantees is tried here, through the public API and
    /// the export.
    pub async fn start_published() -> Self {
        Self::start_opts(|_, _| {}, true, Counts::Noisy).await
    }

    /// Start ingest and the aggregator only; the test runs consumers itself (as
    /// processes it can kill, or later).
    pub async fn start_without_consumer(
        tune: impl FnOnce(&mut ingest::Settings, &mut consumer::Settings),
    ) -> Self {
        Self::start_opts(tune, false, Counts::Exact).await
    }

    async fn start_opts(
        tune: impl FnOnce(&mut ingest::Settings, &mut consumer::Settings),
        with_consumer: bool,
        counts: Counts,
    ) -> Self {
        // TELEMETRY_TEST_LOG=consumer=debug,aggregator=info shows the services' logs.
        if let Ok(filter) = std::env::var("TELEMETRY_TEST_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_test_writer()
                .try_init();
        }
        let slot = Slot::claim();
        // Compose's names and settings; the URL is the pipeline's own server unless the
        // test's `tune` points elsewhere.
        let mut nats_settings = topology::stream::NatsSettings {
            url: String::new(),
            manage_streams: false,
            ..Default::default()
        };
        // The tests' stream size: JetStream reserves max_bytes of the disk up front.
        nats_settings.max_bytes = 256 * 1024 * 1024;
        let clickhouse_settings = topology::store::ClickHouseSettings {
            url: clickhouse_url(),
            ..Default::default()
        };

        let mut ingest = ingest::Settings {
            nats: nats_as(&nats_settings, "ingest"),
            ..Default::default()
        };
        ingest.ingest.internal_listen = format!("127.0.0.1:{}", crate::free_port());
        let mut consumer = consumer::Settings {
            nats: nats_as(&nats_settings, "consumer"),
            clickhouse: slot.clickhouse_as(&clickhouse_settings, "consumer"),
            ..Default::default()
        };
        // As compose runs it: `consumer migrate` has applied the schema.
        consumer.consumer.migrate = false;
        consumer.consumer.durable = topology::names::DURABLE.into();
        // Small waits keep the tests quick; batching itself is the same code.
        consumer.consumer.batch_max_wait = Duration::from_millis(100);
        tune(&mut ingest, &mut consumer);
        let nats = if consumer.nats.url.is_empty() {
            let server = NatsServer::start().await;
            consumer.nats.url = server.url();
            Some(server)
        } else {
            None
        };
        if ingest.nats.url.is_empty() {
            ingest.nats.url = consumer.nats.url.clone();
        }
        let operator = nats_admin(&consumer.nats.url).await;
        let js = jetstream::new(operator);
        let observer = clickhouse_admin(&consumer.clickhouse);
        let mut aggregator = aggregator::Settings {
            clickhouse: topology::store::ClickHouseSettings {
                user: slot.clickhouse_as(&consumer.clickhouse, "aggregator").user,
                password: crate::logins::dev_password("aggregator").into(),
                ..consumer.clickhouse.clone()
            },
            nats: nats_as(&consumer.nats, "aggregator"),
            ..Default::default()
        };
        // The tests refresh when they choose to (`refresh`, `refresh_at`); the periodic
        // refresh then runs once, at start, and never races them.
        aggregator.aggregator.refresh_interval = Duration::from_secs(3600);
        aggregator.aggregator.admin_token = ADMIN_TOKEN.into();
        aggregator.aggregator.internal_listen = format!("127.0.0.1:{}", crate::free_port());
        // Tests ask for many documents from one address.
        aggregator.aggregator.rate_limit_per_minute = 0;
        aggregator.aggregator.exact_counts = counts == Counts::Exact;
        let aggregator_internal_url = format!("http://{}", aggregator.aggregator.internal_listen);
        let ingest_internal_url = format!("http://{}", ingest.ingest.internal_listen);

        // A slot's database is left by a test that failed: start from nothing.
        reset(&observer).await;
        migrate(&slot, &consumer).await;

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
            String::new()
        };
        let (aggregator_url, s) = spawn({
            let settings = aggregator.clone();
            move |l, stop| async move {
                aggregator::serve(settings, l, stop)
                    .await
                    .expect("aggregator runs");
            }
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
            aggregator,
            http: reqwest::Client::new(),
            js,
            clickhouse: observer.client(),
            nats,
            slot,
            services,
        };
        // Ready means: the stream answers ingest.
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
        pipeline
    }

    /// The pipeline's own NATS server, to stop and start.
    pub fn nats_server(&mut self) -> &mut NatsServer {
        self.nats
            .as_mut()
            .expect("the pipeline runs on a NATS server of its own")
    }

    /// POST a body to `/telemetry` as the bash client does.
    pub async fn post(&self, body: &str) -> reqwest::Response {
        let url = format!("{}/telemetry", self.ingest_url);
        testkit::post(&self.http, &url, "application/json", body.to_owned()).await
    }

    /// GET a text (metrics, a script).
    pub async fn get_text(&self, url: &str) -> String {
        testkit::text(&self.http, url).await
    }

    /// GET a JSON document.
    pub async fn get_json(&self, url: &str) -> serde_json::Value {
        testkit::json(&self.http, url).await
    }

    /// Ask the aggregator to refresh the statistics now, through its admin API as an
    /// operator does.
    pub async fn admin_refresh(&self) {
        self.http
            .post(format!("{}/admin/v1/refresh", self.aggregator_internal_url))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("the aggregator answers")
            .error_for_status()
            .expect("the refresh succeeds");
    }

    /// Write `events` straight into the raw table, as the consumer would have stored
    /// them (history, ages the pipeline cannot make, rows that bypass the queue).
    pub async fn insert_events(&self, events: &[schemas::Event]) {
        let mut insert = self
            .clickhouse
            .insert::<schemas::Event>("events")
            .await
            .expect("an insert into events");
        for e in events {
            insert.write(e).await.expect("an event row");
        }
        insert.end().await.expect("the events stored");
    }

    /// Run a query that returns one unsigned number; `None` if ClickHouse fails.
    pub async fn count(&self, sql: &str) -> Option<u64> {
        self.clickhouse.query(sql).fetch_one::<u64>().await.ok()
    }

    /// Run `sql` over HTTP as the slot's copy of production user `role` (analyst,
    /// grafana, ...), as a person or a tool with that login would, with `settings` as
    /// URL parameters; the database is the slot's. The body, or ClickHouse's error text.
    pub async fn query_as(
        &self,
        role: &str,
        sql: &str,
        settings: &[(&str, &str)],
    ) -> Result<String, String> {
        let ch = self.slot.clickhouse_as(&self.consumer.clickhouse, role);
        let mut query = vec![format!("database={}", ch.database)];
        query.extend(settings.iter().map(|(k, v)| format!("{k}={v}")));
        let r = self
            .http
            .post(format!(
                "{}/?{}",
                ch.url.trim_end_matches('/'),
                query.join("&")
            ))
            .header("X-ClickHouse-User", &ch.user)
            .header("X-ClickHouse-Key", ch.password.expose())
            .body(sql.to_owned())
            .send()
            .await
            .expect("ClickHouse answers");
        let ok = r.status().is_success();
        let text = r.text().await.expect("a body");
        if ok { Ok(text) } else { Err(text) }
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

    /// Settings for an aggregator of this pipeline's database, logged in as the
    /// aggregator (for one run as a process), with default listeners.
    pub fn aggregator_settings(&self) -> aggregator::Settings {
        let mut settings = aggregator::Settings {
            clickhouse: self.aggregator.clickhouse.clone(),
            nats: self.aggregator.nats.clone(),
            ..Default::default()
        };
        // The export must publish what the API does.
        settings.aggregator.exact_counts = self.aggregator.aggregator.exact_counts;
        settings
    }

    /// The consumer's settings as `consumer migrate` runs: ClickHouse as the migrator,
    /// NATS as the admin.
    pub fn migrator(&self) -> consumer::Settings {
        migrator(&self.slot, &self.consumer)
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

    /// Recompute the statistics now, as the aggregator's periodic refresh does, and
    /// release them through today, as the release cut once today has ended would: what
    /// a test of the public numbers needs to see the runs it has just sent.
    pub async fn refresh(&self) -> aggregator::materialize::RefreshReport {
        self.refresh_at(time::OffsetDateTime::now_utc()).await
    }

    /// Recompute the statistics as the refresh at `now` does, and cut the release that
    /// is due then, if any, exactly as `aggregator serve` does: the days that have ended
    /// at least `release_delay` ago.
    pub async fn refresh_on_schedule(&self, now: time::OffsetDateTime) -> Option<time::Date> {
        let mut refresh = aggregator::AggregatorSettings::default().refresh();
        refresh.events = self.consumer.clickhouse.events_table();
        refresh
            .run(&self.aggregator.clickhouse.client(), now)
            .await
            .expect("the statistics refresh")
            .released_through
    }

    /// Release the statistics as they stand through today, without recomputing them.
    pub async fn release(&self) {
        let now = time::OffsetDateTime::now_utc();
        aggregator::release::cut(&self.aggregator.clickhouse.client(), now.date(), now)
            .await
            .expect("the release");
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

    /// Recompute the statistics as a refresh at `now` would, and release them through
    /// `now`'s day (replacing a release through the same day), as if it had ended.
    pub async fn refresh_at(
        &self,
        now: time::OffsetDateTime,
    ) -> aggregator::materialize::RefreshReport {
        let mut refresh = aggregator::AggregatorSettings::default().refresh();
        refresh.events = self.consumer.clickhouse.events_table();
        // As the aggregator runs it, with its own login.
        let client = self.aggregator.clickhouse.client();
        let report = refresh
            .run(&client, now)
            .await
            .expect("the statistics refresh");
        aggregator::release::cut(&client, now.date(), now)
            .await
            .expect("the release");
        report
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

    /// Stop the services and remove the test's database; its NATS server goes with it.
    pub async fn stop(self) {
        for s in self.services {
            let _ = s.stop.send(());
            let _ = tokio::time::timeout(Duration::from_secs(15), s.task).await;
        }
        if self.nats.is_none() {
            // A shared server (the local cluster): take the streams away. Bounded, for a
            // test that leaves a node down.
            let cleanup = Duration::from_secs(1);
            for stream in [
                &self.consumer.nats.stream,
                &self.consumer.nats.dlq_stream,
                &self.consumer.nats.erasure_stream,
            ] {
                let _ = tokio::time::timeout(cleanup, self.js.delete_stream(stream)).await;
            }
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

/// `consumer`'s settings as compose runs `consumer migrate`: ClickHouse as the slot's
/// migrator, NATS as the admin (the one user that may create streams).
pub fn migrator(slot: &Slot, consumer: &consumer::Settings) -> consumer::Settings {
    consumer::Settings {
        clickhouse: slot.clickhouse_as(&consumer.clickhouse, "migrator"),
        nats: nats_as(&consumer.nats, "admin"),
        ..consumer.clone()
    }
}

/// Apply the schema and create the streams as `consumer migrate` does in compose.
async fn migrate(slot: &Slot, consumer: &consumer::Settings) {
    consumer::migrate_all(&migrator(slot, consumer), Duration::from_secs(60))
        .await
        .expect("consumer migrate succeeds");
}

/// Drop the slot's database, as the operator.
async fn reset(observer: &topology::store::ClickHouseSettings) {
    observer
        .server_client()
        .query(&format!(
            "DROP DATABASE IF EXISTS `{}` SYNC",
            observer.database
        ))
        .execute()
        .await
        .expect("the slot's database is dropped");
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
