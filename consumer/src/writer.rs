//! The batch loop: pull from the durable consumer, write to ClickHouse, then ack.
//!
//! The order is the whole guarantee. A message is acked only after the INSERT holding
//! its row has succeeded, so a crash at any point leaves it unacked and JetStream
//! redelivers it; the redelivered row has the same `event_id`, and the table's
//! ReplacingMergeTree collapses the copy (ARCHITECTURE.md, "Exactly once").

use std::collections::HashSet;
use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use async_nats::jetstream::consumer::{AckPolicy, PullConsumer, pull};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::{self, AckKind, Message};
use futures::StreamExt;
use runtime::backoff::Backoff;
use schemas::Event;
use schemas::names::DLQ_REASON_HEADER;
use tokio::sync::watch;
use uuid::Uuid;

use crate::settings::Settings;
use crate::sink::ClickHouseSink;
use crate::store;

/// How long a shutdown may spend finishing the batch in hand before giving it back.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(8);

pub struct Writer {
    js: jetstream::Context,
    consumer: PullConsumer,
    sink: ClickHouseSink,
    settings: Settings,
}

impl Writer {
    /// Bind to the durable consumer, creating the streams and the consumer if needed.
    pub async fn new(
        js: jetstream::Context,
        clickhouse: clickhouse::Client,
        settings: Settings,
    ) -> Result<Self, async_nats::Error> {
        if settings.nats.manage_streams {
            js.create_or_update_stream(settings.nats.events_stream())
                .await?;
            js.create_or_update_stream(settings.nats.dlq_stream())
                .await?;
        }
        let c = &settings.consumer;
        let stream = js.get_stream(&settings.nats.stream).await?;
        // Create or update: a changed ack wait or limit takes effect on the next start.
        let consumer: PullConsumer = stream
            .create_consumer(pull::Config {
                durable_name: Some(c.durable.clone()),
                description: Some("Writes telemetry events to ClickHouse".into()),
                ack_policy: AckPolicy::Explicit,
                ack_wait: c.ack_wait,
                max_ack_pending: c.max_ack_pending,
                // Never give up on a message: events wait for ClickHouse, however long.
                max_deliver: -1,
                ..Default::default()
            })
            .await?;
        Ok(Self {
            js,
            consumer,
            sink: ClickHouseSink {
                client: clickhouse,
                table: settings.clickhouse.events_table(),
            },
            settings,
        })
    }

    pub fn consumer(&self) -> PullConsumer {
        self.consumer.clone()
    }

    /// Run until `stop` turns true, then finish the batch in hand and return.
    ///
    /// Each batch is one pull request for up to `batch_rows` messages that expires after
    /// `batch_max_wait`, so a batch is written when it is full or when its time is up.
    /// Nothing is pulled ahead of the batch being written: messages that sat in a client
    /// buffer during a long insert would see their ack wait run out and be redelivered.
    pub async fn run(&self, stop: watch::Receiver<bool>) -> Result<(), async_nats::Error> {
        let c = &self.settings.consumer;
        while !*stop.borrow() {
            let mut pulled = self
                .consumer
                .batch()
                .max_messages(c.batch_rows)
                .expires(c.batch_max_wait)
                .messages()
                .await?;
            // Each message is decoded as it arrives, so that closing a batch costs only
            // the insert: decoding thousands at once was a burst of CPU that the
            // ingest processes on the same cores felt as latency.
            let mut batch: Vec<Pulled> = Vec::new();
            while let Some(next) = pulled.next().await {
                match next {
                    Ok(message) => {
                        let event = serde_json::from_slice::<Event>(&message.payload);
                        batch.push(Pulled { message, event });
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "pulling messages");
                        break;
                    }
                }
            }
            if !batch.is_empty() {
                self.flush(batch, &stop).await;
            }
        }
        Ok(())
    }

    async fn flush(&self, batch: Vec<Pulled>, stop: &watch::Receiver<bool>) {
        let mut rows = Vec::with_capacity(batch.len());
        let mut carriers = Vec::with_capacity(batch.len());
        let mut copies = Vec::new();
        let mut seen = HashSet::with_capacity(batch.len());
        for Pulled { message, event } in batch {
            if message.info().is_ok_and(|i| i.delivered > 1) {
                metrics::counter!(crate::metric_names::REDELIVERIES_TOTAL).increment(1);
            }
            match event {
                // A copy of a row already in this batch needs an ack, not a second row.
                Ok(event) if !seen.insert(event.event_id) => copies.push(message),
                Ok(event) => {
                    rows.push(event);
                    carriers.push(message);
                }
                Err(e) => {
                    // The payload names no installation; the subject ingest published
                    // it on does, so that a deletion request can still find it.
                    let installation = self.settings.nats.installation_of(&message.subject);
                    self.dead_letter(&message, installation, &format!("undecodable: {e}"))
                        .await
                }
            }
        }
        if rows.is_empty() {
            ack_all(copies.iter()).await;
            return;
        }
        let Some(rejected) = self.store(&rows, &carriers, stop).await else {
            // Shutting down while ClickHouse is away: give the batch back at once.
            for m in carriers.iter().chain(&copies) {
                let _ = m.ack_with(AckKind::Nak(None)).await;
            }
            return;
        };
        let mut stored = Vec::with_capacity(carriers.len());
        for (i, (message, row)) in carriers.iter().zip(&rows).enumerate() {
            match rejected.iter().find(|(idx, _)| *idx == i) {
                Some((_, reason)) => self.dead_letter(message, Some(row.random_id), reason).await,
                None => stored.push(message),
            }
        }
        ack_all(stored.into_iter().chain(&copies)).await;
    }

    /// Store the rows, waiting out ClickHouse outages with backoff for as long as it takes,
    /// or `None` once a shutdown has waited [`SHUTDOWN_GRACE`] for ClickHouse.
    async fn store(
        &self,
        rows: &[Event],
        carriers: &[Message],
        stop: &watch::Receiver<bool>,
    ) -> Option<store::Rejected> {
        let mut storing = store::Storing::new(rows.len());
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
        let mut last_progress = Instant::now();
        let mut stop_seen: Option<Instant> = None;
        loop {
            let e = match storing.resume(&self.sink, rows).await {
                Ok(rejected) => return Some(rejected),
                Err(e) => e,
            };
            tracing::warn!(error = %e, rows = rows.len(), "insert failed; retrying");
            if *stop.borrow()
                && stop_seen.get_or_insert_with(Instant::now).elapsed() >= SHUTDOWN_GRACE
            {
                return None;
            }
            // Keep the held messages ours while we wait, so that JetStream does not hand
            // them to another consumer and start a redelivery storm.
            if last_progress.elapsed() >= self.settings.consumer.ack_wait / 3 {
                for m in carriers {
                    let _ = m.ack_with(AckKind::Progress).await;
                }
                last_progress = Instant::now();
            }
            tokio::time::sleep(backoff.next_wait()).await;
        }
    }

    /// Park a message that can never be stored in the dead-letter stream, then ack it.
    /// If the DLQ itself is unreachable the message stays unacked and comes back later.
    /// It goes to its installation's subject when that is known, where a deletion request
    /// purges it; otherwise to the bare dead-letter subject.
    async fn dead_letter(&self, message: &Message, installation: Option<Uuid>, reason: &str) {
        let mut headers = HeaderMap::new();
        headers.insert(DLQ_REASON_HEADER, truncate(reason, 512));
        if let Ok(info) = message.info() {
            headers.insert(
                "Telemetry-Dlq-Stream-Sequence",
                info.stream_sequence.to_string().as_str(),
            );
        }
        let publish = PublishMessage::build()
            .payload(message.payload.clone())
            .headers(headers);
        let sent = async {
            self.js
                .send_publish(
                    self.settings.nats.dead_letter_subject(installation),
                    publish,
                )
                .await?
                .await
        }
        .await;
        match sent {
            Ok(_) => {
                metrics::counter!(crate::metric_names::DEAD_LETTERED_TOTAL).increment(1);
                tracing::warn!(reason, "message dead-lettered");
                if let Err(e) = message.double_ack().await {
                    tracing::warn!(error = %e, "ack after dead-lettering failed");
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "could not dead-letter a message; it will be redelivered")
            }
        }
    }
}

/// A pulled message and its payload, decoded.
struct Pulled {
    message: Message,
    event: Result<Event, serde_json::Error>,
}

/// Ack a stored batch and have the acks confirmed. Each message is acked with a plain
/// publish and the last one with a double ack: one connection's messages reach the server
/// in order and its consumer handles them in order, so the confirmation of the last ack
/// vouches for all before it. One round trip per batch instead of one per message. A lost
/// ack only means a redelivery, which the table's deduplication absorbs.
async fn ack_all<'a>(messages: impl Iterator<Item = &'a Message>) {
    let messages: Vec<&Message> = messages.collect();
    let Some((last, rest)) = messages.split_last() else {
        return;
    };
    for message in rest {
        if let Err(e) = message.ack().await {
            ack_failed(&e);
        }
    }
    if let Err(e) = last.double_ack().await {
        ack_failed(&e);
    }
}

fn ack_failed(e: &async_nats::Error) {
    metrics::counter!(crate::metric_names::ACK_FAILURES_TOTAL).increment(1);
    tracing::warn!(error = %e, "ack failed; the message will be redelivered and deduplicated");
}

fn truncate(s: &str, max: usize) -> String {
    schemas::text::truncate_chars(&s.replace(['\r', '\n'], " "), max)
}
