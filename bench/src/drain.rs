//! The consumer's drain rate, next to a bare RowBinary insert into the same ClickHouse and
//! to the peer's one-INSERT-per-event design.

use std::time::{Duration, Instant};

use anyhow::Context;
use async_nats::jetstream::{self, message::PublishMessage};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use topology::store::ClickHouseSettings;
use topology::stream::NatsSettings;

use crate::report::Drain;
use crate::scratch;
use crate::workload;
use crate::workload::GROUP;

/// Publishes in flight at once while filling the backlog: below async-nats's own limit
/// of 5 000 unacknowledged publishes, past which `send_publish` waits for a permit that
/// only the acks we are not yet polling would free.
const IN_FLIGHT: usize = 4_096;
const CHUNK: u64 = 10_000;

pub async fn run(events: u64, single_inserts: u64) -> anyhow::Result<Drain> {
    let ns = scratch::namespace();
    // Room for the backlog (about 1 KB an event) without reserving the whole disk.
    let nats = scratch::nats("bench", &ns, (events as i64 * 2048).max(64 << 20));
    let clickhouse = scratch::clickhouse("bench", &ns);
    let mut settings = consumer::Settings {
        nats: nats.clone(),
        clickhouse: clickhouse.clone(),
        ..Default::default()
    };
    settings.consumer.durable = format!("bench_{ns}");
    settings.consumer.internal_listen = "127.0.0.1:0".into();
    settings.log.level = "warn".into();
    consumer::migrate(&settings)
        .await
        .context("migrating the bench database")?;

    let client = crate::scratch::connect(&nats)
        .await
        .context("NATS (run `make stack`)")?;
    let js = jetstream::new(client);
    let result = measure(&js, &nats, &clickhouse, &settings, events, single_inserts).await;
    scratch::remove(Some(&nats), &clickhouse).await;
    result
}

async fn measure(
    js: &jetstream::Context,
    nats: &NatsSettings,
    clickhouse: &ClickHouseSettings,
    settings: &consumer::Settings,
    events: u64,
    single_inserts: u64,
) -> anyhow::Result<Drain> {
    js.create_or_update_stream(nats.events_stream()).await?;

    eprintln!("[bench] filling a backlog of {events} events");
    let (publish_rate, payload_bytes) = fill(js, nats, events).await?;

    eprintln!("[bench] draining it with the consumer");
    let binary = std::env::current_exe()?.with_file_name("consumer");
    let mut child = std::process::Command::new(&binary)
        .envs(runtime::settings::to_env(settings))
        .spawn()
        .with_context(|| format!("starting {binary:?}"))?;
    let processes = crate::processes::Processes::find(&[("consumer", child.id())]);
    let before = processes.cpu();
    let started = Instant::now();
    let ch = clickhouse.client();
    loop {
        let stored: u64 = ch
            .query("SELECT count() FROM events")
            .fetch_one()
            .await
            .unwrap_or(0);
        if stored >= events {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "drain stalled at {stored}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let drain_secs = started.elapsed().as_secs_f64();
    let after = processes.cpu();
    let cpu_split = processes.split(&before, &after, &after, events, started.elapsed());
    let (rss_mb, cpu_s) = crate::processes::stats(child.id());
    let _ = child.kill();
    let _ = child.wait();

    eprintln!("[bench] bare RowBinary insert of the same rows");
    ch.query("CREATE TABLE bare AS events").execute().await?;
    let mut insert_secs = 0.0;
    for start in (0..events).step_by(CHUNK as usize) {
        let rows: Vec<_> = (start..(start + CHUNK).min(events))
            .map(workload::event)
            .collect();
        let t = Instant::now();
        let mut insert = ch.insert::<schemas::Event>("bare").await?;
        for row in &rows {
            insert.write(row).await?;
        }
        insert.end().await?;
        insert_secs += t.elapsed().as_secs_f64();
    }

    eprintln!("[bench] the peer's design: {single_inserts} single-row INSERTs");
    ch.query("CREATE TABLE single AS events").execute().await?;
    let rows: Vec<_> = (0..single_inserts).map(workload::event).collect();
    let t = Instant::now();
    for row in &rows {
        let mut insert = ch.insert::<schemas::Event>("single").await?;
        insert.write(row).await?;
        insert.end().await?;
    }
    let single_secs = t.elapsed().as_secs_f64();

    Ok(Drain {
        events,
        payload_bytes_mean: payload_bytes,
        jetstream_publish_per_s: publish_rate,
        consumer_drain_rows_per_s: events as f64 / drain_secs,
        bare_rowbinary_rows_per_s: events as f64 / insert_secs,
        single_insert_events_per_s: single_inserts as f64 / single_secs,
        consumer_peak_rss_mb: rss_mb,
        consumer_cpu_s_per_100k: cpu_s * 100_000.0 / events as f64,
        cpu_split,
    })
}

/// Publish `events` workload events as ingest does at full load: [`GROUP`] events to a
/// message, as NDJSON on the group subject, many acks outstanding. Returns events/s and
/// the mean message size.
async fn fill(
    js: &jetstream::Context,
    nats: &NatsSettings,
    events: u64,
) -> anyhow::Result<(f64, u64)> {
    let mut bytes = 0u64;
    let mut messages = 0u64;
    let mut publish_secs = 0.0;
    for start in (0..events).step_by(CHUNK as usize) {
        // Building the payloads is the workload's cost, not the queue's: not timed.
        let encoded: Vec<Vec<u8>> = (start..(start + CHUNK).min(events))
            .map(|i| {
                workload::event(i)
                    .encode()
                    .map(|x| x.payload)
                    .unwrap_or_default()
            })
            .collect();
        let payloads: Vec<Vec<u8>> = encoded
            .chunks(GROUP)
            .map(|group| group.join(&b'\n'))
            .collect();
        let t = Instant::now();
        let mut acks: FuturesUnordered<_> = FuturesUnordered::new();
        for payload in payloads {
            bytes += payload.len() as u64;
            messages += 1;
            if acks.len() >= IN_FLIGHT
                && let Some(ack) = acks.next().await
            {
                let _: async_nats::jetstream::publish::PublishAck = ack?;
            }
            let ack = js
                .send_publish(
                    nats.group_subject(),
                    PublishMessage::build().payload(payload.into()),
                )
                .await?;
            acks.push(ack.into_future());
        }
        while let Some(ack) = acks.next().await {
            let _: async_nats::jetstream::publish::PublishAck = ack?;
        }
        publish_secs += t.elapsed().as_secs_f64();
    }
    Ok((events as f64 / publish_secs, bytes / messages.max(1)))
}
