//! The consumer: from the JetStream queue to the ClickHouse table, each acknowledged
//! event stored once.
//!
//! # Module map
//! - `writer`: the pull loop: fetch a batch, store it, then ack; dead letters; the lag.
//! - `erasures`: the runs erased on request, read before every insert.
//! - `purge`: carrying out an erasure in the queue (queued messages, dead letters), with
//!   a receipt for the aggregator.
//! - `store`: storing one batch, splitting it around rows ClickHouse refuses as data.
//! - `sink`: the `Sink` trait and its ClickHouse implementation, which tells an outage
//!   from bad data.
//! - `import`: `consumer import`, the old service's history through the live path.
//! - `settings`: the `consumer.*`, `nats.*` and `clickhouse.*` configuration.
//! - `metric_names`: every metric's name and description.
//!
//! This file holds the entry points: [`migrate`], [`ensure_streams`], [`migrate_all`]
//! (what `consumer migrate` does), [`run`] and [`carry_out_erasures`].

mod erasures;
mod import;
mod metric_names;
mod purge;
mod settings;
mod sink;
mod store;
mod writer;

use std::future::Future;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

pub use import::{ImportArgs, ImportError, ImportReport, Source, import};
pub use settings::Settings;

#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    #[error("NATS: {0}")]
    Nats(#[from] async_nats::Error),
    #[error(transparent)]
    Migration(#[from] topology::migrations::MigrationError),
    #[error("serving metrics: {0}")]
    Io(#[from] std::io::Error),
    #[error("configuration: {0}")]
    Config(String),
}

/// Apply the schema migrations and the configured retention, once.
pub async fn migrate(settings: &Settings) -> Result<Vec<&'static str>, ConsumerError> {
    let ch = &settings.clickhouse;
    let applied =
        topology::migrations::apply(&ch.server_client(), &ch.database, ch.layout()).await?;
    if topology::migrations::apply_retention(
        &ch.client(),
        &ch.database,
        ch.layout(),
        settings.consumer.retention_days,
    )
    .await?
    {
        tracing::info!(
            days = settings.consumer.retention_days,
            "raw events TTL updated"
        );
    }
    Ok(applied)
}

/// Create or update the events, dead-letter and erasure streams: what `consumer migrate`
/// does for NATS, as the one user allowed to (compose/nats/auth.conf).
pub async fn ensure_streams(settings: &Settings) -> Result<(), ConsumerError> {
    let client = settings
        .nats
        .connect_options("telemetry-migrate")
        .connect(settings.nats.servers())
        .await
        .map_err(|e| ConsumerError::Nats(e.into()))?;
    let js = async_nats::jetstream::new(client.clone());
    for config in [
        settings.nats.events_stream(),
        settings.nats.dlq_stream(),
        settings.erasure_stream(),
    ] {
        js.create_or_update_stream(config)
            .await
            .map_err(|e| ConsumerError::Nats(e.into()))?;
    }
    let _ = client.drain().await;
    Ok(())
}

/// What `consumer migrate` does: the ClickHouse schema and retention, then the streams,
/// each tried again with backoff until it succeeds or `deadline` has passed.
///
/// A start is often a restart of everything: ClickHouse still loading its tables, a
/// JetStream cluster still electing the leaders of streams it already holds (where a
/// stream request times out for a while). A migration that gave up at the first error
/// would leave compose's consumer, which waits for it, never starting.
pub async fn migrate_all(
    settings: &Settings,
    deadline: Duration,
) -> Result<Vec<&'static str>, ConsumerError> {
    let until = std::time::Instant::now() + deadline;
    let applied = retry_until(until, "the ClickHouse migrations", || migrate(settings)).await?;
    retry_until(until, "the streams", || ensure_streams(settings)).await?;
    Ok(applied)
}

/// Retry `attempt` with a capped backoff until it succeeds, or return its last error at
/// `until`. An edited migration is not retried: no wait can mend it.
async fn retry_until<T, F: Future<Output = Result<T, ConsumerError>>>(
    until: std::time::Instant,
    what: &str,
    mut attempt: impl FnMut() -> F,
) -> Result<T, ConsumerError> {
    let mut backoff =
        runtime::backoff::Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
    loop {
        match attempt().await {
            Ok(v) => return Ok(v),
            Err(
                e @ ConsumerError::Migration(topology::migrations::MigrationError::Edited {
                    ..
                }),
            ) => {
                return Err(e);
            }
            Err(e) if std::time::Instant::now() >= until => return Err(e),
            Err(e) => tracing::warn!(error = %e, what, "not done yet; retrying"),
        }
        tokio::time::sleep(backoff.next_wait()).await;
    }
}

/// Run the consumer until `shutdown` resolves, serving `/metrics` and `/healthz` on
/// `listener`. Dependencies that are down at start are waited for, not fatal.
pub async fn run(
    settings: Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ConsumerError> {
    let c = &settings.consumer;
    if c.max_ack_pending < (c.batch_rows * c.workers.max(1)) as i64 {
        return Err(ConsumerError::Config(format!(
            "consumer.max_ack_pending ({}) must be at least consumer.batch_rows × consumer.workers ({} × {}), or full batches can never form",
            c.max_ack_pending, c.batch_rows, c.workers
        )));
    }
    metric_names::describe();
    let stop = stop_signal(shutdown);
    let ops = runtime::ops::router::<()>();
    let mut ops_stop = stop.clone();
    let ops_server = tokio::spawn(async move {
        runtime::http::serve(listener, ops, async move {
            let _ = ops_stop.wait_for(|s| *s).await;
        })
        .await
    });

    if settings.consumer.migrate {
        match retry_until_stopped("migrations", &stop, || migrate(&settings)).await {
            Some(applied) if !applied.is_empty() => {
                tracing::info!(?applied, "migrations applied");
            }
            Some(_) => {}
            None => return Ok(()),
        }
    } else {
        let client = settings.clickhouse.client();
        let schema = retry_until_stopped("the migrated schema", &stop, || async {
            match topology::migrations::pending(&client).await {
                Ok(pending) if pending.is_empty() => Ok(()),
                Ok(pending) => Err(format!("migrations not applied yet: {pending:?}")),
                Err(e) => Err(e.to_string()),
            }
        })
        .await;
        if schema.is_none() {
            return Ok(());
        }
    }

    let client = connect(&settings).await?;
    let js = async_nats::jetstream::new(client.clone());
    let clickhouse = settings.clickhouse.client();
    let Some(writer) = retry_until_stopped("durable consumer", &stop, || {
        writer::Writer::new(js.clone(), clickhouse.clone(), settings.clone())
    })
    .await
    else {
        return Ok(());
    };
    let lag = tokio::spawn(report_lag(
        writer.consumer(),
        js.clone(),
        settings.nats.stream.clone(),
    ));
    // Erasures are carried out beside the writers, by whichever process takes the record.
    let purger = tokio::spawn(run_purger(js.clone(), settings.nats.clone(), stop.clone()));
    tracing::info!(durable = %settings.consumer.durable, "consumer running");
    // Several batches in progress at once: while one is being inserted, another is pulled
    // or acked, so neither NATS nor ClickHouse waits for the other.
    let writer = std::sync::Arc::new(writer);
    let workers: Vec<_> = (0..settings.consumer.workers.max(1))
        .map(|_| {
            let (writer, stop) = (writer.clone(), stop.clone());
            tokio::spawn(async move {
                while !*stop.borrow() {
                    if let Err(e) = writer.run(stop.clone()).await {
                        tracing::warn!(error = %e, "pulling failed; pulling again");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.await;
    }
    // An erasure in progress is not lost: its record stays unacked and is taken up again.
    purger.abort();
    lag.abort();
    // Acks are confirmed per batch already; this only must not hang with NATS gone.
    let _ = tokio::time::timeout(Duration::from_secs(1), client.flush()).await;
    let _ = ops_server.await;
    tracing::info!("consumer stopped");
    Ok(())
}

/// Carry out erasure records until `shutdown` resolves, and store nothing: what every
/// consumer process does beside its writers (`run`). Alone, it is how an operator clears
/// the queue of erased installations while the writers are held (and how the tests hold
/// them still).
pub async fn carry_out_erasures(
    settings: &Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ConsumerError> {
    let stop = stop_signal(shutdown);
    let js = async_nats::jetstream::new(connect(settings).await?);
    run_purger(js, settings.nats.clone(), stop).await;
    Ok(())
}

/// A stop flag that turns true when `shutdown` resolves.
fn stop_signal(shutdown: impl Future<Output = ()> + Send + 'static) -> watch::Receiver<bool> {
    let (stop_tx, stop) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    stop
}

/// The consumer's NATS connection, which waits for NATS rather than fail without it.
async fn connect(settings: &Settings) -> Result<async_nats::Client, ConsumerError> {
    settings
        .nats
        .connect_options("telemetry-consumer")
        .retry_on_initial_connect()
        .connect(settings.nats.servers())
        .await
        .map_err(|e| ConsumerError::Nats(e.into()))
}

/// The purger of one process, bound once its durable can be, until `stop`.
async fn run_purger(
    js: async_nats::jetstream::Context,
    nats: topology::stream::NatsSettings,
    stop: watch::Receiver<bool>,
) {
    let purger = retry_until_stopped("the erasure records", &stop, || {
        purge::Purger::new(js.clone(), nats.clone())
    })
    .await;
    if let Some(purger) = purger {
        purger.run(stop).await;
    }
}

/// Retry `attempt` with a capped backoff until it succeeds, or `None` once asked to stop.
async fn retry_until_stopped<T, E: std::fmt::Display, F: Future<Output = Result<T, E>>>(
    what: &str,
    stop: &watch::Receiver<bool>,
    mut attempt: impl FnMut() -> F,
) -> Option<T> {
    let mut backoff =
        runtime::backoff::Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
    let mut stop = stop.clone();
    loop {
        match attempt().await {
            Ok(v) => return Some(v),
            Err(e) => tracing::warn!(error = %e, what, "not ready; retrying"),
        }
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return None,
            () = tokio::time::sleep(backoff.next_wait()) => {}
        }
    }
}

/// Publish the consumer's backlog as a gauge: messages not yet delivered plus delivered
/// but not yet acknowledged.
/// The stream's size too, so that Grafana shows how full the queue is (its `max_bytes`
/// is where ingest starts answering 503).
///
/// And the age of the oldest message in it: on a work-queue stream a message leaves when
/// it is acked, so the first one is the oldest not yet stored. It tells, long before
/// `nats.max_age` would drop it, that an event is stuck (the alert fires at an hour).
async fn report_lag(
    mut consumer: async_nats::jetstream::consumer::PullConsumer,
    js: async_nats::jetstream::Context,
    stream: String,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tick.tick().await;
        if let Ok(info) = consumer.info().await {
            metrics::gauge!(crate::metric_names::PENDING_MESSAGES)
                .set((info.num_pending + info.num_ack_pending as u64) as f64);
        }
        if let Ok(mut s) = js.get_stream(&stream).await
            && let Ok(info) = s.info().await
        {
            let state = &info.state;
            metrics::gauge!(crate::metric_names::STREAM_MESSAGES).set(state.messages as f64);
            metrics::gauge!(crate::metric_names::STREAM_BYTES).set(state.bytes as f64);
            let age = if state.messages == 0 {
                0.0
            } else {
                (time::OffsetDateTime::now_utc() - state.first_timestamp)
                    .as_seconds_f64()
                    .max(0.0)
            };
            metrics::gauge!(crate::metric_names::OLDEST_MESSAGE_AGE_SECONDS).set(age);
        }
    }
}
