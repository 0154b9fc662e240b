//! Carrying out an erasure in the queue: removing one installation's queued messages and
//! dead letters, once no consumer can still store one of them, and saying so.
//!
//! The aggregator answers the deletion request, but it is internet-facing and may not
//! remove anything from the streams (compose/nats/auth.conf). It records the erasure in
//! the erasure stream; every consumer process runs a [`Purger`] that takes the records
//! from a durable of its own (`names::ERASURE_DURABLE`, so each record is carried out
//! once, and again after a crash) and publishes a receipt (`ErasureReceipt`) on
//! `<erasure_subject>.<random_id>.done`, which the aggregator waits for before it deletes
//! the rows. Removing queued messages gives the consumer no new power: on a work-queue
//! stream its ack already deletes one.
//!
//! What the record alone already guarantees: the writers read the records before every
//! insert (`erasures.rs`), so from then on no event of the run is stored, wherever it
//! waits, grouped with other runs' events or not. The purge removes from disk at once
//! what would otherwise wait there until consumed: messages on the installation's own
//! subject, and its dead letters.
//!
//! What neither reaches is a batch that a writer read the records for before the
//! erasure was recorded and is still inserting: its rows may reach ClickHouse after they
//! were deleted. Such a batch holds only messages handed out before the record, so the
//! purger marks, for each consumer, the last stream sequence handed out once the record
//! is in, and waits until every message up to it is acked (a writer acks a message only
//! once its events are stored or dead-lettered).
//!
//! A purge adds one more case. A subject-filtered purge drops the purged messages from
//! the pending set of every consumer whose filter is wider (`consumer.purge` with
//! `isWider` in nats-server 2.10 to 2.15): the ack floor moves past them at once, and
//! their later acks and progress acks are no-ops, so a batch made only of the
//! installation's messages leaves no trace at all. (The purge also moves a consumer's
//! delivered stream sequence past purged messages at the head of the stream, as if it
//! had handed them out; only its delivered consumer sequence, which counts deliveries,
//! tells that nothing was handed out meanwhile.) What bounds that window is the
//! consumer's own contract: it finishes a pulled batch within its ack wait, and holds it
//! longer only while ClickHouse fails, with progress acks that keep the batch's other
//! messages pending. So when a purged message may have been handed to a consumer, the
//! purger also waits that consumer's ack wait. Only then are the dead letters purged (a
//! held message may still be dead-lettered) and the receipt published.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull};
use async_nats::jetstream::context::ConsumerInfoErrorKind;
use async_nats::jetstream::stream::{RawMessageErrorKind, Stream};
use async_nats::jetstream::{self, AckKind, Message, consumer};
use futures::{StreamExt, TryStreamExt};
use tokio::sync::watch;
use topology::stream::{ErasureReceipt as Receipt, NatsSettings};
use uuid::Uuid;

/// How long past a consumer's ack wait an erasure still waits for the messages that
/// were pending at the purge: time for a batch redelivered after a consumer's crash to
/// be stored by another.
const GRACE: Duration = Duration::from_secs(10);

/// How often the consumers are read while an erasure waits for them.
const POLL: Duration = Duration::from_millis(250);

/// How long the purger holds a record before JetStream hands it to another purger; the
/// purger keeps it with progress acks while it waits for the writers.
const RECORD_ACK_WAIT: Duration = Duration::from_secs(30);

/// Takes the erasure records, one at a time, and carries each out.
pub struct Purger {
    js: jetstream::Context,
    nats: NatsSettings,
    records: PullConsumer,
}

impl Purger {
    /// Bind to the purgers' durable on the erasure stream (creating it if needed).
    pub async fn new(
        js: jetstream::Context,
        nats: NatsSettings,
    ) -> Result<Self, async_nats::Error> {
        let records = js
            .get_stream(&nats.erasure_stream)
            .await?
            .create_consumer(pull::Config {
                durable_name: Some(topology::names::ERASURE_DURABLE.into()),
                description: Some("Carries out erasures in the queue".into()),
                filter_subject: nats.erasure_records(),
                deliver_policy: DeliverPolicy::All,
                ack_policy: AckPolicy::Explicit,
                ack_wait: RECORD_ACK_WAIT,
                max_deliver: -1,
                ..Default::default()
            })
            .await?;
        Ok(Self { js, nats, records })
    }

    /// Carry out records until `stop` turns true, one at a time: an erasure may wait for
    /// the writers for a while, and a record fetched with it would meanwhile wait
    /// unattended, past its ack wait.
    pub async fn run(&self, stop: watch::Receiver<bool>) {
        let mut backoff =
            runtime::backoff::Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
        while !*stop.borrow() {
            let batch = self
                .records
                .fetch()
                .max_messages(1)
                .expires(Duration::from_secs(1))
                .messages()
                .await;
            let mut batch = match batch {
                Ok(batch) => batch,
                Err(e) => {
                    tracing::warn!(error = %e, "reading the erasure records");
                    tokio::time::sleep(backoff.next_wait()).await;
                    continue;
                }
            };
            while let Some(record) = batch.next().await {
                let Ok(record) = record else { break };
                if let Err(e) = self.carry_out(&record).await {
                    metrics::counter!(crate::metric_names::ERASURE_FAILURES_TOTAL).increment(1);
                    tracing::warn!(error = %e, "carrying out an erasure failed; it will be retried");
                    let _ = record
                        .ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
                        .await;
                }
            }
        }
    }

    async fn carry_out(&self, record: &Message) -> Result<(), async_nats::Error> {
        let Some(id) = self.nats.erased_installation(record.subject.as_str()) else {
            record.ack().await?;
            return Ok(());
        };
        let receipt = self.erase(id, record).await?;
        self.js
            .publish(
                self.nats.erasure_receipt_subject(id),
                serde_json::to_vec(&receipt)?.into(),
            )
            .await?
            .await?;
        record.double_ack().await?;
        metrics::counter!(crate::metric_names::ERASURES_CARRIED_OUT_TOTAL).increment(1);
        // Counts only: a log that named the installation would keep the one identifier
        // the request asked to have erased.
        tracing::info!(
            queued = receipt.queued,
            dead_letters = receipt.dead_letters,
            settled = receipt.settled,
            "erasure carried out in the queue"
        );
        Ok(())
    }

    /// Purge installation `id`'s messages from the events stream, wait until no
    /// consumer can still be storing one of them, then purge its dead letters.
    async fn erase(&self, id: Uuid, record: &Message) -> Result<Receipt, async_nats::Error> {
        let events = self.js.get_stream(&self.nats.stream).await?;
        let dlq = self.js.get_stream(&self.nats.dlq_stream).await?;
        // The order matters: `last` before `first`, both before the purge (see may_hold).
        let last = events.cached_info().state.last_sequence;
        let subject = self.nats.event_subject(id);
        let first = match events.get_first_raw_message_by_subject(&subject, 1).await {
            Ok(message) => Some(message.sequence),
            Err(e) if e.kind() == RawMessageErrorKind::NoMessageFound => None,
            Err(e) => return Err(e.into()),
        };
        let before: HashMap<String, Delivered> = events
            .consumers()
            .map_ok(|c| (c.name.clone(), Delivered::from(&c)))
            .try_collect()
            .await?;
        let queued = events.purge().filter(subject).await?.purged;
        let purged_at = Instant::now();

        let consumers: Vec<consumer::Info> = events.consumers().try_collect().await?;
        let marks: Vec<Mark> = consumers
            .iter()
            .map(|c| {
                let delivered = handed_out(before.get(&c.name).copied(), Delivered::from(c));
                Mark {
                    consumer: c.name.clone(),
                    delivered,
                    ack_wait: c.config.ack_wait,
                    purged_held: may_hold(queued, last, first, delivered),
                }
            })
            .collect();
        let settled = wait_settled(&events, marks, purged_at, record).await;

        let mut dead_letters = dlq
            .purge()
            .filter(self.nats.dead_letter_subject(Some(id)))
            .await?
            .purged;
        dead_letters += self.remove_unattributed(&dlq, id).await?;
        Ok(Receipt {
            queued,
            dead_letters,
            settled,
        })
    }

    /// Delete the dead letters on the bare subject (lines in which the consumer could not
    /// read an installation) that hold `id` anyhow. They are few: lines no ingest wrote.
    async fn remove_unattributed(&self, dlq: &Stream, id: Uuid) -> Result<u64, async_nats::Error> {
        let bare = self.nats.dead_letter_subject(None);
        let mut removed = 0;
        let mut from = 1;
        loop {
            let letter = match dlq.get_first_raw_message_by_subject(&bare, from).await {
                Ok(letter) => letter,
                Err(e) if e.kind() == RawMessageErrorKind::NoMessageFound => return Ok(removed),
                Err(e) => return Err(e.into()),
            };
            from = letter.sequence + 1;
            if names_installation(&letter.payload, id) {
                dlq.delete_message(letter.sequence).await?;
                removed += 1;
            }
        }
    }
}

/// Whether `bytes` spell `id` anywhere, in any of the forms a client or ingest writes a
/// UUID (hyphenated or not, either case).
pub fn names_installation(bytes: &[u8], id: Uuid) -> bool {
    let forms = [id.hyphenated().to_string(), id.simple().to_string()];
    let lower = bytes.to_ascii_lowercase();
    forms
        .iter()
        .any(|form| lower.windows(form.len()).any(|w| w == form.as_bytes()))
}

/// A consumer that may have been handed one of the purged messages, and where it stood
/// at the purge.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mark {
    consumer: String,
    /// The last stream sequence it had been handed.
    delivered: u64,
    ack_wait: Duration,
    /// It may have been handed a purged message, which leaves no trace in its state:
    /// only its ack wait tells that it is done with it.
    purged_held: bool,
}

/// How far a consumer has delivered, as the server reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Delivered {
    /// Deliveries so far (redeliveries included): a purge leaves it alone.
    consumer_sequence: u64,
    /// The last stream sequence handed out, or skipped by a purge.
    stream_sequence: u64,
}

impl From<&consumer::Info> for Delivered {
    fn from(info: &consumer::Info) -> Self {
        Self {
            consumer_sequence: info.delivered.consumer_sequence,
            stream_sequence: info.delivered.stream_sequence,
        }
    }
}

/// The last stream sequence a consumer can have handed out by the purge, from its state
/// read before and after it. The purge may have moved the stream sequence past purged
/// messages it never handed out; if no delivery happened between the two reads, the
/// sequence read before is the one that counts. Otherwise, or for a consumer created
/// meanwhile, only the one read after is sure to be high enough.
fn handed_out(before: Option<Delivered>, after: Delivered) -> u64 {
    match before {
        Some(before) if before.consumer_sequence == after.consumer_sequence => {
            before.stream_sequence
        }
        _ => after.stream_sequence,
    }
}

/// A consumer's state as the server reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Progress {
    ack_pending: usize,
    ack_floor: u64,
}

impl From<&consumer::Info> for Progress {
    fn from(info: &consumer::Info) -> Self {
        Self {
            ack_pending: info.num_ack_pending,
            ack_floor: info.ack_floor.stream_sequence,
        }
    }
}

/// Whether a consumer that had been handed stream sequences up to `delivered` just
/// after the purge may have been handed one of the `purged` messages. Each of them was
/// in the stream when the installation's first sequence `first` was read (so at or above
/// it), or was published after the stream's last sequence `last` was read, before that
/// (so above it).
fn may_hold(purged: u64, last: u64, first: Option<u64>, delivered: u64) -> bool {
    let lowest = first.unwrap_or(u64::MAX).min(last.saturating_add(1));
    purged > 0 && delivered >= lowest
}

/// Whether a consumer marked at the erasure is done with everything it had been handed:
/// no message it had been handed by then is still unacked, and, if it may have held a
/// purged message, its ack wait has passed since the purge. A consumer deleted meanwhile
/// (`None`) has nothing left pending, but its process may still be storing a batch, so
/// its ack wait holds for it in any case.
fn settled(mark: &Mark, since_purge: Duration, now: Option<Progress>) -> bool {
    let waited = since_purge >= mark.ack_wait;
    match now {
        None => waited,
        Some(now) => {
            (waited || !mark.purged_held)
                && (now.ack_pending == 0 || now.ack_floor >= mark.delivered)
        }
    }
}

/// Wait until every marked consumer is [`settled`], or give up at the longest ack wait
/// plus [`GRACE`]; whether they all settled. The record is kept with progress acks
/// meanwhile, so that no other purger takes it up.
async fn wait_settled(
    events: &Stream,
    mut waiting: Vec<Mark>,
    purged_at: Instant,
    record: &Message,
) -> bool {
    let Some(longest) = waiting.iter().map(|m| m.ack_wait).max() else {
        return true;
    };
    let deadline = longest + GRACE;
    let mut told = false;
    let mut last_progress = Instant::now();
    loop {
        let since_purge = purged_at.elapsed();
        let mut still = Vec::with_capacity(waiting.len());
        for mark in waiting {
            let now = match events.consumer_info(&mark.consumer).await {
                Ok(info) => Some(Progress::from(&info)),
                Err(e) if e.kind() == ConsumerInfoErrorKind::NotFound => None,
                Err(e) => {
                    tracing::warn!(error = %e, consumer = %mark.consumer, "reading a consumer while erasing");
                    still.push(mark);
                    continue;
                }
            };
            if !settled(&mark, since_purge, now) {
                still.push(mark);
            }
        }
        if still.is_empty() {
            return true;
        }
        if since_purge >= deadline {
            let names: Vec<&str> = still.iter().map(|m| m.consumer.as_str()).collect();
            tracing::warn!(consumers = ?names, "consumers still hold messages from before an erasure");
            return false;
        }
        if !told {
            tracing::info!(
                consumers = still.len(),
                "consumers may hold events of an erased run; waiting until they are done"
            );
            told = true;
        }
        if last_progress.elapsed() >= RECORD_ACK_WAIT / 3 {
            let _ = record.ack_with(AckKind::Progress).await;
            last_progress = Instant::now();
        }
        waiting = still;
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_installation_is_found_in_any_spelling_of_its_id() {
        let id = Uuid::parse_str("5f0c7d3e-2a47-4b8e-9d6f-0a1b2c3d4e5f").unwrap();
        assert!(names_installation(
            br#"{"random_id":"5f0c7d3e-2a47-4b8e-9d6f-0a1b2c3d4e5f","nsapp":7"#,
            id
        ));
        assert!(names_installation(
            b"garbled 5F0C7D3E2A474B8E9D6F0A1B2C3D4E5F",
            id
        ));
        assert!(!names_installation(
            br#"{"random_id":"0e9d8c7b-6a5f-4e3d-8c2b-1a0f9e8d7c6b"}"#,
            id
        ));
        assert!(!names_installation(b"", id));
    }

    #[test]
    fn nothing_purged_or_nothing_handed_out_means_nothing_is_held() {
        // Nothing of the installation was queued: no consumer can hold any of it.
        assert!(!may_hold(0, 100, None, 100));
        assert!(!may_hold(0, 100, Some(50), 100));
        // Its first message is past everything handed out: a backlog, the consumer
        // behind (or stopped) before it.
        assert!(!may_hold(3, 100, Some(80), 79));
        // Nothing was queued when it was looked for, and nothing published since has
        // been handed out.
        assert!(!may_hold(1, 100, None, 100));
    }

    #[test]
    fn a_consumer_past_the_installation_s_first_message_may_hold_it() {
        assert!(may_hold(3, 100, Some(80), 80));
        assert!(may_hold(3, 100, Some(80), 100));
        // Published between the look and the purge, and already handed out.
        assert!(may_hold(1, 100, None, 101));
        assert!(may_hold(1, u64::MAX, None, u64::MAX));
    }

    #[test]
    fn a_purge_s_skip_is_not_taken_for_a_delivery() {
        let before = Delivered {
            consumer_sequence: 9,
            stream_sequence: 9,
        };
        // The purge removed 10..=12 at the head of the stream: the stream sequence moved,
        // no delivery happened.
        let skipped = Delivered {
            consumer_sequence: 9,
            stream_sequence: 12,
        };
        assert_eq!(handed_out(Some(before), skipped), 9);
        // A delivery between the reads: it may have been any of them.
        let delivered = Delivered {
            consumer_sequence: 10,
            stream_sequence: 13,
        };
        assert_eq!(handed_out(Some(before), delivered), 13);
        // A consumer created meanwhile: nothing to compare with.
        assert_eq!(handed_out(None, skipped), 12);
    }

    fn mark() -> Mark {
        Mark {
            consumer: "writer".into(),
            delivered: 100,
            ack_wait: Duration::from_secs(30),
            purged_held: true,
        }
    }

    #[test]
    fn without_a_purged_message_a_consumer_settles_once_its_acks_pass_the_mark() {
        let unpurged = Mark {
            purged_held: false,
            ..mark()
        };
        let at_once = Duration::from_millis(1);
        let idle = Some(Progress {
            ack_pending: 0,
            ack_floor: 7,
        });
        assert!(settled(&unpurged, at_once, idle));
        let holding = Some(Progress {
            ack_pending: 3,
            ack_floor: 99,
        });
        assert!(!settled(&unpurged, at_once, holding));
        let past = Some(Progress {
            ack_pending: 3,
            ack_floor: 100,
        });
        assert!(settled(&unpurged, at_once, past));
        // Gone: its process may still be inserting; only its ack wait tells.
        assert!(!settled(&unpurged, at_once, None));
        assert!(settled(&unpurged, Duration::from_secs(30), None));
    }

    #[test]
    fn a_consumer_settles_only_after_its_ack_wait() {
        let idle = Some(Progress {
            ack_pending: 0,
            ack_floor: 100,
        });
        // The server shows nothing pending at once: a batch of only purged messages.
        assert!(!settled(&mark(), Duration::from_secs(1), idle));
        assert!(!settled(&mark(), Duration::from_millis(29_999), idle));
        assert!(settled(&mark(), Duration::from_secs(30), idle));
    }

    #[test]
    fn a_consumer_settles_once_everything_handed_out_by_the_purge_is_acked() {
        let late = Duration::from_secs(31);
        let holding = Progress {
            ack_pending: 5,
            ack_floor: 99,
        };
        assert!(!settled(&mark(), late, Some(holding)));
        // Pending messages all handed out after the purge do not hold it up.
        let moved_on = Progress {
            ack_pending: 5,
            ack_floor: 100,
        };
        assert!(settled(&mark(), late, Some(moved_on)));
        // A consumer deleted meanwhile has nothing pending, but its process may still
        // be storing what it was handed.
        assert!(!settled(&mark(), Duration::from_secs(1), None));
        assert!(settled(&mark(), late, None));
    }
}
