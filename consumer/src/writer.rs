//! The batch loop: pull from the durable consumer, write to ClickHouse, then ack.
//!
//! A message holds one event, or several that ingest grouped (NDJSON, one per line).
//!
//! The order is the whole guarantee. A message is acked only after every one of its
//! events is stored or dead-lettered, so a crash at any point leaves it unacked and
//! JetStream redelivers it; a redelivered event has the same `event_id` (its content
//! identity), and the table's ReplacingMergeTree collapses the copy (ARCHITECTURE.md,
//! "Exactly once").

use std::collections::HashSet;
use std::ops::Range;
use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use async_nats::jetstream::consumer::{AckPolicy, PullConsumer, pull};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::{self, AckKind, Message};
use bytes::Bytes;
use futures::StreamExt;
use runtime::backoff::Backoff;
use schemas::Event;
use tokio::sync::watch;
use topology::names::DLQ_REASON_HEADER;
use uuid::Uuid;

use crate::erasures::Erasures;
use crate::settings::Settings;
use crate::sink::ClickHouseSink;
use crate::store;

/// How long a shutdown may spend finishing the batch in hand before giving it back.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(8);

pub struct Writer {
    js: jetstream::Context,
    consumer: PullConsumer,
    sink: ClickHouseSink,
    erasures: Erasures,
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
            js.create_or_update_stream(settings.erasure_stream())
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
            erasures: Erasures::new(js.clone(), settings.nats.clone()),
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
        // Set when the last pull came back empty because the next message alone is larger
        // than `batch_bytes`: the next pull then takes that one message, whatever its size
        // (at most NATS's max_payload), instead of asking for it in vain forever.
        let mut oversized = false;
        while !*stop.borrow() {
            let request = self.consumer.batch().expires(c.batch_max_wait);
            let request = if std::mem::take(&mut oversized) {
                tracing::info!(
                    batch_bytes = c.batch_bytes,
                    "the next message is larger than consumer.batch_bytes; taking it alone"
                );
                request.max_messages(1)
            } else {
                request.max_messages(c.batch_rows).max_bytes(c.batch_bytes)
            };
            let mut pulled = request.messages().await?;
            // Each message is decoded as it arrives, so that closing a batch costs only
            // the insert: decoding thousands at once was a burst of CPU that the
            // ingest processes on the same cores felt as latency.
            let mut batch: Vec<Pulled> = Vec::new();
            while let Some(next) = pulled.next().await {
                match next {
                    Ok(message) => {
                        let events = decode(&message.payload);
                        batch.push(Pulled { message, events });
                    }
                    // The server ends a batch that is full by bytes with a 409 status,
                    // which async-nats reports as an error with only a text: the batch is
                    // complete, not failed. If it is empty, the next message alone is
                    // over the limit.
                    Err(e) if e.to_string().contains("Message Size Exceeds MaxBytes") => {
                        oversized = batch.is_empty();
                        break;
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
        // Read after the batch was pulled: an erasure recorded before this read is
        // honoured, and the aggregator waits for batches read before it (erasure.rs).
        let Some(erased) = self.erased(&batch, stop).await else {
            for pulled in &batch {
                let _ = pulled.message.ack_with(AckKind::Nak(None)).await;
            }
            return;
        };
        let mut dropped = 0u64;
        let mut messages = Vec::with_capacity(batch.len());
        // Per row: the event, its line in its message (what a dead letter carries) and
        // the message it came in.
        let mut rows = Vec::with_capacity(batch.len());
        let mut lines: Vec<Bytes> = Vec::with_capacity(batch.len());
        let mut owners = Vec::with_capacity(batch.len());
        let mut letters: Vec<Letter> = Vec::new();
        let mut seen = HashSet::with_capacity(batch.len());
        for (owner, Pulled { message, events }) in batch.into_iter().enumerate() {
            if message.info().is_ok_and(|i| i.delivered > 1) {
                metrics::counter!(crate::metric_names::REDELIVERIES_TOTAL).increment(1);
            }
            let single = events.len() == 1;
            for item in events {
                match item {
                    Decoded::Event(event, _) if erased.contains(&event.random_id) => {
                        dropped += 1;
                    }
                    Decoded::Event(event, range) => {
                        // A copy of a row already in this batch needs no second row.
                        if seen.insert(event.event_id) {
                            rows.push(*event);
                            lines.push(message.payload.slice(range));
                            owners.push(owner);
                        }
                    }
                    Decoded::Undecodable(range, error) => {
                        let line = message.payload.slice(range);
                        // The line may still name its run; a message of one event was
                        // published on its installation's subject, which does.
                        let installation = installation_in(&line).or_else(|| {
                            single
                                .then(|| self.settings.nats.installation_of(&message.subject))
                                .flatten()
                        });
                        let erased_here = match installation {
                            Some(id) => erased.contains(&id),
                            // Unattributed: it must not carry an erased id to the
                            // dead letters either.
                            None => erased
                                .iter()
                                .any(|id| crate::purge::names_installation(&line, *id)),
                        };
                        if erased_here {
                            dropped += 1;
                            continue;
                        }
                        letters.push(Letter {
                            owner,
                            line,
                            installation,
                            reason: format!("undecodable: {error}"),
                        });
                    }
                }
            }
            messages.push(message);
        }
        if dropped > 0 {
            metrics::counter!(crate::metric_names::EVENTS_ERASED_TOTAL).increment(dropped);
        }
        if !rows.is_empty() {
            let Some(rejected) = self.store(&rows, &messages, stop).await else {
                // Shutting down while ClickHouse is away: give the batch back at once.
                for m in &messages {
                    let _ = m.ack_with(AckKind::Nak(None)).await;
                }
                return;
            };
            for (i, reason) in rejected {
                letters.push(Letter {
                    owner: owners[i],
                    line: lines[i].clone(),
                    installation: Some(rows[i].random_id),
                    reason,
                });
            }
        }
        // A message whose dead letter could not be parked stays unacked and comes back;
        // its stored events then collapse with their copies.
        let mut parked = vec![true; messages.len()];
        for letter in letters {
            let owner = letter.owner;
            if !self.dead_letter(&messages[owner], letter).await {
                parked[owner] = false;
            }
        }
        ack_all(
            messages
                .iter()
                .zip(parked)
                .filter_map(|(m, parked)| parked.then_some(m)),
        )
        .await;
    }

    /// The runs erased so far, waiting out a NATS that cannot tell, or `None` once asked
    /// to stop: nothing is inserted without knowing.
    async fn erased(
        &self,
        batch: &[Pulled],
        stop: &watch::Receiver<bool>,
    ) -> Option<std::sync::Arc<HashSet<Uuid>>> {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        let mut last_progress = Instant::now();
        loop {
            match self.erasures.current().await {
                Ok(erased) => return Some(erased),
                Err(e) => tracing::warn!(error = %e, "reading the erasure records; retrying"),
            }
            if *stop.borrow() {
                return None;
            }
            if last_progress.elapsed() >= self.settings.consumer.ack_wait / 3 {
                for pulled in batch {
                    let _ = pulled.message.ack_with(AckKind::Progress).await;
                }
                last_progress = Instant::now();
            }
            tokio::time::sleep(backoff.next_wait()).await;
        }
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

    /// Park one event that can never be stored in the dead-letter stream, with the
    /// reason; whether it was parked. It goes to its installation's subject when that is
    /// known, where a deletion request purges it; otherwise to the bare dead-letter
    /// subject.
    async fn dead_letter(&self, message: &Message, letter: Letter) -> bool {
        let mut headers = HeaderMap::new();
        headers.insert(DLQ_REASON_HEADER, truncate(&letter.reason, 512));
        if let Ok(info) = message.info() {
            headers.insert(
                "Telemetry-Dlq-Stream-Sequence",
                info.stream_sequence.to_string().as_str(),
            );
        }
        let publish = PublishMessage::build()
            .payload(letter.line)
            .headers(headers);
        let sent = async {
            self.js
                .send_publish(
                    self.settings.nats.dead_letter_subject(letter.installation),
                    publish,
                )
                .await?
                .await
        }
        .await;
        match sent {
            Ok(_) => {
                metrics::counter!(crate::metric_names::DEAD_LETTERED_TOTAL).increment(1);
                tracing::warn!(reason = letter.reason, "event dead-lettered");
                true
            }
            Err(e) => {
                tracing::error!(error = %e, "could not dead-letter an event; its message will be redelivered");
                false
            }
        }
    }
}

/// An event to park in the dead-letter stream.
struct Letter {
    /// The index of its message in the batch.
    owner: usize,
    line: Bytes,
    installation: Option<Uuid>,
    reason: String,
}

/// A pulled message and its payload, decoded.
struct Pulled {
    message: Message,
    events: Vec<Decoded>,
}

/// One line of a message's payload: where it is, and what it holds.
#[derive(Debug)]
enum Decoded {
    Event(Box<Event>, Range<usize>),
    Undecodable(Range<usize>, serde_json::Error),
}

/// The events of a payload: one JSON event per line. A message of one event has one
/// line; ingest's encoding never holds a raw newline, so a line is always a whole event.
fn decode(payload: &[u8]) -> Vec<Decoded> {
    let mut out = Vec::with_capacity(1);
    let mut start = 0;
    for end in payload
        .iter()
        .enumerate()
        .filter_map(|(i, b)| (*b == b'\n').then_some(i))
        .chain(std::iter::once(payload.len()))
    {
        let range = start..end;
        start = end + 1;
        let line = &payload[range.clone()];
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        out.push(match serde_json::from_slice::<Event>(line) {
            Ok(event) => Decoded::Event(Box::new(event), range),
            Err(e) => Decoded::Undecodable(range, e),
        });
    }
    if out.is_empty() {
        // An empty message is still something that was published: keep it visible.
        let e = serde_json::from_slice::<Event>(payload).err();
        if let Some(e) = e {
            out.push(Decoded::Undecodable(0..payload.len(), e));
        }
    }
    out
}

/// The run an undecodable line names, if its `random_id` can still be read.
fn installation_in(line: &[u8]) -> Option<Uuid> {
    #[derive(serde::Deserialize)]
    struct Named {
        random_id: Uuid,
    }
    serde_json::from_slice::<Named>(line)
        .ok()
        .map(|n| n.random_id)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn event(app: &str) -> Vec<u8> {
        let event = schemas::parse_event(
            format!(r#"{{"random_id":"5f0c7d3e-2a47-4b8e-9d6f-0a1b2c3d4e5f","type":"lxc","nsapp":"{app}","status":"installing"}}"#).as_bytes(),
            &Default::default(),
            Uuid::nil(),
            time::OffsetDateTime::now_utc(),
        )
        .expect("valid");
        event.encode().expect("encodes").payload
    }

    fn apps(decoded: &[Decoded]) -> Vec<String> {
        decoded
            .iter()
            .map(|d| match d {
                Decoded::Event(e, _) => e.nsapp.clone(),
                Decoded::Undecodable(..) => "?".into(),
            })
            .collect()
    }

    #[test]
    fn a_message_of_one_event_is_one_event() {
        let payload = event("debian");
        let decoded = decode(&payload);
        assert_eq!(apps(&decoded), ["debian"]);
        let Decoded::Event(_, range) = &decoded[0] else {
            panic!("decoded");
        };
        assert_eq!(range, &(0..payload.len()));
    }

    #[test]
    fn a_group_is_one_event_per_line_and_a_bad_line_fails_alone() {
        let mut payload = event("a");
        payload.push(b'\n');
        payload.extend_from_slice(
            br#"{"random_id":"5f0c7d3e-2a47-4b8e-9d6f-0a1b2c3d4e5f","nsapp":7}"#,
        );
        payload.push(b'\n');
        let third = payload.len();
        payload.extend_from_slice(&event("c"));
        let decoded = decode(&payload);
        assert_eq!(apps(&decoded), ["a", "?", "c"]);
        let Decoded::Undecodable(bad, _) = &decoded[1] else {
            panic!("the second line is not an event");
        };
        // The bad line still names its run, for the dead letter's subject.
        assert_eq!(
            installation_in(&payload[bad.clone()]),
            Some(Uuid::parse_str("5f0c7d3e-2a47-4b8e-9d6f-0a1b2c3d4e5f").unwrap())
        );
        let Decoded::Event(_, last) = &decoded[2] else {
            panic!("decoded");
        };
        assert_eq!(last, &(third..payload.len()));
    }

    #[test]
    fn an_empty_or_garbled_message_is_still_one_thing_to_dead_letter() {
        assert_eq!(apps(&decode(b"")), ["?"]);
        assert_eq!(apps(&decode(b"not json")), ["?"]);
        assert_eq!(installation_in(b"not json"), None);
    }
}
