//! Erasing one run from the queue, for a deletion request: its events still waiting in
//! the events stream and its dead letters.
//!
//! Ingest groups the events of many runs into one message under load, so no purge can
//! remove one run's events from those. The erasure is therefore first recorded in the
//! erasure stream (`schemas::stream`), and the consumer reads the records before every
//! insert and drops the run's events wherever they waited. A message that holds one
//! event is published on `<nats.subject>.<random_id>`, and dead letters on
//! `<nats.dlq_subject>.<random_id>`, so those are also purged by subject, which frees
//! them from disk at once.
//!
//! What neither reaches is a batch that a consumer read the records for before the
//! erasure was recorded and is still inserting: its rows may reach ClickHouse after the
//! rows were deleted. Such a batch holds only messages handed out before the record, so
//! the erasure marks, for each consumer, the last stream sequence handed out once the
//! record is in, and waits until every message up to it is acked (the consumer acks a
//! message only once its events are stored or dead-lettered).
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
//! erasure also waits that consumer's ack wait. Only then are the dead letters purged (a
//! held message may still be dead-lettered) and the rows deleted.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use async_nats::connection::State;
use async_nats::jetstream::context::ConsumerInfoErrorKind;
use async_nats::jetstream::stream::{RawMessageErrorKind, Stream};
use async_nats::jetstream::{self, consumer};
use futures::TryStreamExt;
use schemas::stream::NatsSettings;
use uuid::Uuid;

/// How long past a consumer's ack wait an erasure still waits for the messages that
/// were pending at the purge: time for a batch redelivered after a consumer's crash to
/// be stored by another.
const GRACE: Duration = Duration::from_secs(10);

/// How often the consumers are read while an erasure waits for them.
const POLL: Duration = Duration::from_millis(250);

/// The aggregator's connection to JetStream, used by deletion requests only.
pub struct Queues {
    client: async_nats::Client,
    js: jetstream::Context,
    nats: NatsSettings,
}

/// What an erasure removed from the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    /// Messages removed from the events stream: waiting, or pulled and not yet acked.
    pub queued: u64,
    /// Messages removed from the dead-letter stream.
    pub dead_letters: u64,
    /// Every consumer that may have been handed one of the purged messages was done
    /// with it before the dead letters were purged. If not, its row may still be stored
    /// after the rows are deleted, and the request should be repeated.
    pub settled: bool,
}

/// Why an erasure could not purge the queue.
#[derive(Debug, thiserror::Error)]
#[error("{stage}: {source}")]
pub struct QueueError {
    /// What was being done.
    pub stage: String,
    /// What had been purged from the events stream already, if it got that far.
    pub purged_queued: Option<u64>,
    #[source]
    pub source: async_nats::Error,
}

/// `map_err` for one stage of an erasure.
fn failed<E>(stage: &str, purged_queued: Option<u64>) -> impl FnOnce(E) -> QueueError
where
    E: std::error::Error + Send + Sync + 'static,
{
    let stage = stage.to_owned();
    move |e| QueueError {
        stage,
        purged_queued,
        source: Box::new(e),
    }
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

impl Queues {
    /// Connect without waiting for NATS: the statistics API must start and serve while
    /// NATS is down; only deletion requests need it, and they answer 503 meanwhile.
    pub async fn connect(nats: &NatsSettings) -> Result<Self, async_nats::ConnectError> {
        let client = nats
            .connect_options("telemetry-aggregator")
            .retry_on_initial_connect()
            .connection_timeout(Duration::from_secs(2))
            .connect(nats.servers())
            .await?;
        Ok(Self {
            js: jetstream::new(client.clone()),
            client,
            nats: nats.clone(),
        })
    }

    /// One of the streams an erasure needs; an error naming it if it is missing.
    async fn stream(&self, role: &str, name: &str) -> Result<Stream, QueueError> {
        self.js
            .get_stream(name)
            .await
            .map_err(failed(&format!("the {role} stream {name}"), None))
    }

    /// Purge installation `id`'s messages from the events stream, wait until no
    /// consumer can still be storing one of them, then purge its dead letters.
    ///
    /// Nothing is purged unless NATS is connected and both streams exist: a stream that
    /// is missing means the names are not the ones ingest and the consumer use, and an
    /// erasure that found nothing there would be a false promise.
    pub async fn erase(&self, id: Uuid) -> Result<Purged, QueueError> {
        if self.client.connection_state() != State::Connected {
            return Err(QueueError {
                stage: "connecting to NATS".into(),
                purged_queued: None,
                source: "not connected".into(),
            });
        }
        let events = self.stream("events", &self.nats.stream).await?;
        let dlq = self.stream("dead-letter", &self.nats.dlq_stream).await?;
        self.stream("erasure", &self.nats.erasure_stream).await?;
        // Recorded before anything is read: every consumer state read below is from
        // after the record, which a consumer honours from its next batch on.
        self.js
            .publish(self.nats.erasure_subject_of(id), Default::default())
            .await
            .map_err(failed("recording the erasure", None))?
            .await
            .map_err(failed("recording the erasure", None))?;

        // The order matters: `last` before `first`, both before the purge (see may_hold).
        let last = events.cached_info().state.last_sequence;
        let subject = self.nats.event_subject(id);
        let first = match events.get_first_raw_message_by_subject(&subject, 1).await {
            Ok(message) => Some(message.sequence),
            Err(e) if e.kind() == RawMessageErrorKind::NoMessageFound => None,
            Err(e) => return Err(failed("reading the events stream", None)(e)),
        };
        let before: HashMap<String, Delivered> = events
            .consumers()
            .map_ok(|c| (c.name.clone(), Delivered::from(&c)))
            .try_collect()
            .await
            .map_err(failed("reading the events stream's consumers", None))?;
        let queued = events
            .purge()
            .filter(subject)
            .await
            .map_err(failed("purging the events stream", None))?
            .purged;
        let purged_at = Instant::now();

        let consumers: Vec<consumer::Info> = events.consumers().try_collect().await.map_err(
            failed("reading the events stream's consumers", Some(queued)),
        )?;
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
        let settled = wait_settled(&events, marks, purged_at).await;

        let dead_letters = dlq
            .purge()
            .filter(self.nats.dead_letter_subject(Some(id)))
            .await
            .map_err(failed("purging the dead-letter stream", Some(queued)))?
            .purged;
        Ok(Purged {
            queued,
            dead_letters,
            settled,
        })
    }
}

/// Wait until every marked consumer is [`settled`], or give up at the longest ack wait
/// plus [`GRACE`]; whether they all settled.
async fn wait_settled(events: &Stream, mut waiting: Vec<Mark>, purged_at: Instant) -> bool {
    let Some(longest) = waiting.iter().map(|m| m.ack_wait).max() else {
        return true;
    };
    let deadline = longest + GRACE;
    let mut told = false;
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
        waiting = still;
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
