//! The scratch resources of one benchmark: its own stream and database on the local
//! stack, named after a fresh namespace, and removed afterwards whatever happened
//! (a leftover stream keeps its storage reservation).

use anyhow::Context;
use topology::store::ClickHouseSettings;
use topology::stream::NatsSettings;

/// A fresh namespace: the last hex digits of a UUID v7.
pub fn namespace() -> String {
    uuid::Uuid::now_v7().simple().to_string()[20..].to_owned()
}

/// A stream and DLQ of `prefix` and `ns`, on the stack's NATS (or
/// `TELEMETRY_TEST_NATS_URL`), with room for `max_bytes`.
///
/// Logged in as the admin (the stack's development password, or `NATS_ADMIN_PASSWORD`):
/// a benchmark's streams have names of their own, beside whatever `make run` keeps in
/// the production ones, and the services' users may touch only those. The tests, not the
/// benchmarks, show what each service may do as deployed.
pub fn nats(prefix: &str, ns: &str, max_bytes: i64) -> NatsSettings {
    let upper = prefix.to_uppercase();
    NatsSettings {
        url: std::env::var("TELEMETRY_TEST_NATS_URL")
            .unwrap_or_else(|_| "nats://127.0.0.1:4222".into()),
        user: "admin".into(),
        password: std::env::var("NATS_ADMIN_PASSWORD")
            .unwrap_or_else(|_| "dev-admin".into())
            .into(),
        stream: format!("{upper}_{ns}"),
        subject: format!("{prefix}_{ns}.events"),
        dlq_stream: format!("{upper}_{ns}_DLQ"),
        dlq_subject: format!("{prefix}_{ns}.dlq"),
        erasure_stream: format!("{upper}_{ns}_ERASURES"),
        erasure_subject: format!("{prefix}_{ns}.erasures"),
        max_bytes,
        ..Default::default()
    }
}

/// A database of `prefix` and `ns` on the stack's ClickHouse (or
/// `TELEMETRY_TEST_CLICKHOUSE_URL`).
pub fn clickhouse(prefix: &str, ns: &str) -> ClickHouseSettings {
    ClickHouseSettings {
        url: std::env::var("TELEMETRY_TEST_CLICKHOUSE_URL")
            .unwrap_or_else(|_| "http://127.0.0.1:8123".into()),
        database: format!("{prefix}_{ns}"),
        ..Default::default()
    }
}

/// Delete the streams (when given) and drop the database; errors are ignored, there is
/// nothing left to do about them.
pub async fn remove(nats: Option<&NatsSettings>, clickhouse: &ClickHouseSettings) {
    if let Some(nats) = nats
        && let Ok(client) = connect(nats).await
    {
        let js = async_nats::jetstream::new(client);
        let _ = js.delete_stream(&nats.stream).await;
        let _ = js.delete_stream(&nats.dlq_stream).await;
        let _ = js.delete_stream(&nats.erasure_stream).await;
    }
    let _ = clickhouse
        .server_client()
        .query(&format!("DROP DATABASE IF EXISTS {}", clickhouse.database))
        .execute()
        .await;
}

/// A connection with the benchmark's login.
pub async fn connect(nats: &NatsSettings) -> Result<async_nats::Client, async_nats::ConnectError> {
    nats.connect_options("telemetry-bench")
        .connect(nats.servers())
        .await
}

/// A child process killed when dropped.
pub struct Child(pub std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A scratch database of its own ([`clickhouse`]), migrated as `consumer migrate` does.
pub async fn migrated_clickhouse(prefix: &str) -> anyhow::Result<ClickHouseSettings> {
    let clickhouse = clickhouse(prefix, &namespace());
    let settings = consumer::Settings {
        clickhouse: clickhouse.clone(),
        ..Default::default()
    };
    consumer::migrate(&settings)
        .await
        .context("migrating the bench database (run `make stack`)")?;
    Ok(clickhouse)
}
