//! Group commit: the events of many requests published as one JetStream message.
//!
//! Every handler hands its encoded event to the one [`Group`] of the process and waits.
//! The group publishes as soon as a publish slot is free; while every slot waits for its
//! PubAck, the next events gather in the queue, and the first free slot takes them all
//! (up to `ingest.group_max_events` and `ingest.group_max_bytes`) as one message. At low load a slot
//! is always free, so an event goes out alone and at once: latency does not grow. Under
//! load a message carries many events, and the per-message costs (a publish, a stored
//! record, a PubAck; a delivery, an ack and a delete at the consumer) are paid once for
//! all of them. Kafka's producer does the same with `linger.ms`, without the linger.
//!
//! Each waiting request is answered with the outcome of the message that holds its
//! event: 202 only after that message's PubAck, 503 if it failed or timed out.
//!
//! A message of one event is published as before group commit: on its installation's
//! subject, with its identity as `Nats-Msg-Id`, so JetStream drops an identical retry at
//! once. A message of several is NDJSON on `<subject>.group`; a retry among them
//! is collapsed by the raw table's identity instead (ARCHITECTURE.md, "Exactly once").

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_nats::jetstream::{self, message::PublishMessage};
use tokio::sync::{Semaphore, mpsc, oneshot};
use topology::stream::NatsSettings;
use uuid::Uuid;

/// Why a message was not acknowledged; the publisher maps it to its own error.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("{0}")]
pub struct Unacknowledged(pub &'static str);

/// What JetStream said of a message: whether it knew its message id already (a message
/// of one event, sent again within the duplicate window).
pub type Outcome = Result<bool, Unacknowledged>;

/// How events are grouped into messages (`ingest.group_*` in the configuration).
#[derive(Debug, Clone, Copy)]
pub struct GroupLimits {
    /// Most events in one message.
    pub max_events: usize,
    /// Most payload bytes in one message.
    pub max_bytes: usize,
    /// Messages published and not yet acknowledged at once.
    pub in_flight: usize,
}

/// One event waiting for the message that will hold it.
struct Waiting {
    payload: Vec<u8>,
    random_id: Uuid,
    event_id: Uuid,
    reply: oneshot::Sender<Outcome>,
}

/// The handle the request handlers share: the sending side of the group's queue.
pub struct Group {
    queue: mpsc::Sender<Waiting>,
}

/// What publishes a gathered message.
struct Sender {
    js: jetstream::Context,
    nats: NatsSettings,
    timeout: Duration,
}

impl Group {
    /// Start the group's task on the current runtime. `server_max` is the most payload
    /// bytes the NATS server takes in one message, as it last said (see
    /// [`ServerLimit`]): a group is never larger, whatever `limits.max_bytes` says.
    pub fn start(
        js: jetstream::Context,
        nats: NatsSettings,
        timeout: Duration,
        limits: GroupLimits,
        server_max: Arc<AtomicUsize>,
    ) -> Self {
        let limits = GroupLimits {
            max_events: limits.max_events.max(1),
            max_bytes: limits.max_bytes.max(1),
            in_flight: limits.in_flight.max(1),
        };
        // Room for every slot's next message: beyond that, handlers wait to enqueue, and
        // their own deadline answers 503 if the queue does not move.
        let (queue, waiting) = mpsc::channel(limits.max_events * limits.in_flight * 2);
        let sender = Arc::new(Sender { js, nats, timeout });
        tokio::spawn(gather(waiting, sender, limits, server_max));
        Self { queue }
    }

    /// Queue one encoded event and wait for the acknowledgement of its message.
    pub async fn publish(&self, payload: Vec<u8>, random_id: Uuid, event_id: Uuid) -> Outcome {
        let (reply, answer) = oneshot::channel();
        let waiting = Waiting {
            payload,
            random_id,
            event_id,
            reply,
        };
        const STOPPED: Unacknowledged = Unacknowledged("the publisher has stopped");
        if self.queue.send(waiting).await.is_err() {
            return Err(STOPPED);
        }
        answer.await.unwrap_or(Err(STOPPED))
    }
}

/// Take events off the queue into messages, one per free slot.
async fn gather(
    mut queue: mpsc::Receiver<Waiting>,
    sender: Arc<Sender>,
    limits: GroupLimits,
    server_max: Arc<AtomicUsize>,
) {
    let slots = Arc::new(Semaphore::new(limits.in_flight));
    let mut carried: Option<Waiting> = None;
    loop {
        let first = match carried.take() {
            Some(w) => w,
            None => match queue.recv().await {
                Some(w) => w,
                None => return,
            },
        };
        // Waiting here for a slot is what lets the next events gather.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let limits = GroupLimits {
            max_bytes: limits.max_bytes.min(server_max.load(Ordering::Relaxed)),
            ..limits
        };
        let (group, over) = take(first, &mut queue, limits);
        carried = over;
        let sender = sender.clone();
        tokio::spawn(async move {
            sender.publish(group).await;
            drop(slot);
        });
    }
}

/// The largest group the NATS server takes, kept current from what it says when the
/// connection is made (and again after every reconnect, which may reach another server).
pub struct ServerLimit;

impl ServerLimit {
    /// Room left in a message for its headers and protocol line: a group carries none,
    /// a lone event its `Nats-Msg-Id`.
    const HEADROOM: usize = 1024;

    /// A cell holding the server's limit, `usize::MAX` until it is known, and a task that
    /// keeps it current and says once when it is below what the settings ask for.
    pub fn watch(
        client: async_nats::Client,
        configured: usize,
        body_limit: usize,
    ) -> Arc<AtomicUsize> {
        let cell = Arc::new(AtomicUsize::new(usize::MAX));
        let shared = cell.clone();
        tokio::spawn(async move {
            let mut said = 0;
            loop {
                let max_payload = client.server_info().max_payload;
                if max_payload > 0 {
                    let limit = Self::of(max_payload);
                    shared.store(limit, Ordering::Relaxed);
                    if max_payload != said {
                        said = max_payload;
                        if configured > limit {
                            tracing::warn!(
                                group_max_bytes = configured,
                                max_payload,
                                "ingest.group_max_bytes is above what the NATS server takes in one message (max_payload); groups are capped at the server's limit"
                            );
                        }
                        if body_limit > limit {
                            tracing::warn!(
                                body_limit_bytes = body_limit,
                                max_payload,
                                "ingest.body_limit_bytes is above the NATS server's max_payload: an event that large is refused with 413"
                            );
                        }
                    }
                }
                // Soon after a start, until the first connection says; then now and
                // then, for a reconnect to another server.
                let pause = if said == 0 { 50 } else { 1_000 };
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
        });
        cell
    }

    /// The limit in `cell`, learnt from `client` now if the watch has not yet: a request
    /// right after the connection must not be grouped past it.
    pub fn current(cell: &AtomicUsize, client: &async_nats::Client) -> usize {
        let known = cell.load(Ordering::Relaxed);
        if known != usize::MAX {
            return known;
        }
        let max_payload = client.server_info().max_payload;
        if max_payload == 0 {
            return known;
        }
        let limit = Self::of(max_payload);
        cell.store(limit, Ordering::Relaxed);
        limit
    }

    /// The payload room of a message under the server's `max_payload`.
    fn of(max_payload: usize) -> usize {
        max_payload.saturating_sub(Self::HEADROOM).max(1)
    }
}

/// A message's worth of events: `first` and what waits behind it, up to the limits (a
/// newline between two). The event that would pass the byte limit is handed back for the
/// next message; one event alone always makes a message, however large.
fn take(
    first: Waiting,
    queue: &mut mpsc::Receiver<Waiting>,
    limits: GroupLimits,
) -> (Vec<Waiting>, Option<Waiting>) {
    let mut bytes = first.payload.len();
    let mut group = vec![first];
    while group.len() < limits.max_events {
        match queue.try_recv() {
            Ok(next) if bytes + 1 + next.payload.len() > limits.max_bytes => {
                return (group, Some(next));
            }
            Ok(next) => {
                bytes += 1 + next.payload.len();
                group.push(next);
            }
            Err(_) => break,
        }
    }
    (group, None)
}

impl Sender {
    async fn publish(&self, mut group: Vec<Waiting>) {
        metrics::histogram!(crate::metric_names::PUBLISH_MESSAGE_EVENTS).record(group.len() as f64);
        // The payloads are moved into the message: only the replies are needed after.
        let (subject, message) = match group.as_mut_slice() {
            [one] => (
                self.nats.event_subject(one.random_id),
                PublishMessage::build()
                    .payload(std::mem::take(&mut one.payload).into())
                    .message_id(one.event_id.to_string()),
            ),
            many => {
                let size = many.iter().map(|w| w.payload.len() + 1).sum();
                let mut lines = Vec::with_capacity(size);
                for (i, w) in many.iter_mut().enumerate() {
                    if i > 0 {
                        lines.push(b'\n');
                    }
                    lines.append(&mut w.payload);
                }
                (
                    self.nats.group_subject(),
                    PublishMessage::build().payload(lines.into()),
                )
            }
        };
        let outcome = self.send(subject, message).await;
        for w in group {
            // A request that gave up waiting has dropped its receiver: nothing to tell.
            let _ = w.reply.send(outcome);
        }
    }

    /// Publish and wait for the PubAck.
    async fn send(&self, subject: String, message: PublishMessage) -> Outcome {
        let started = std::time::Instant::now();
        let outcome = tokio::time::timeout(self.timeout, async {
            self.js.send_publish(subject, message).await?.await
        })
        .await;
        metrics::histogram!(crate::metric_names::PUBLISH_DURATION_SECONDS)
            .record(started.elapsed().as_secs_f64());
        match outcome {
            Ok(Ok(ack)) => Ok(ack.duplicate),
            Ok(Err(e)) => {
                metrics::counter!(crate::metric_names::PUBLISH_FAILURES_TOTAL, "kind" => publish_failure_kind(&e)).increment(1);
                tracing::warn!(error = %e, "publish failed");
                Err(Unacknowledged("JetStream did not accept the event"))
            }
            Err(_) => {
                metrics::counter!(crate::metric_names::PUBLISH_FAILURES_TOTAL, "kind" => "timeout")
                    .increment(1);
                Err(Unacknowledged("JetStream did not acknowledge in time"))
            }
        }
    }
}

fn publish_failure_kind(e: &jetstream::context::PublishError) -> &'static str {
    use jetstream::context::PublishErrorKind as K;
    match e.kind() {
        K::StreamNotFound => "stream_not_found",
        K::TimedOut => "timeout",
        K::BrokenPipe => "broken_pipe",
        K::MaxAckPending => "max_ack_pending",
        K::MaxPayloadExceeded => "max_payload",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiting(size: usize) -> Waiting {
        Waiting {
            payload: vec![b'x'; size],
            random_id: Uuid::nil(),
            event_id: Uuid::nil(),
            reply: oneshot::channel().0,
        }
    }

    fn sizes(group: &[Waiting]) -> Vec<usize> {
        group.iter().map(|w| w.payload.len()).collect()
    }

    const LIMITS: GroupLimits = GroupLimits {
        max_events: 3,
        max_bytes: 100,
        in_flight: 1,
    };

    #[tokio::test]
    async fn a_lone_event_goes_alone() {
        let (_tx, mut rx) = mpsc::channel(8);
        let (group, carried) = take(waiting(10), &mut rx, LIMITS);
        assert_eq!(sizes(&group), [10]);
        assert!(carried.is_none());
    }

    #[tokio::test]
    async fn what_waits_is_taken_up_to_the_event_limit() {
        let (tx, mut rx) = mpsc::channel(8);
        for _ in 0..4 {
            tx.send(waiting(10)).await.unwrap();
        }
        let (group, carried) = take(waiting(10), &mut rx, LIMITS);
        assert_eq!(sizes(&group), [10, 10, 10]);
        assert!(carried.is_none());
        // The rest waits for the next message.
        let (next, _) = take(rx.try_recv().unwrap(), &mut rx, LIMITS);
        assert_eq!(sizes(&next), [10, 10]);
    }

    #[tokio::test]
    async fn the_event_that_would_pass_the_byte_limit_opens_the_next_message() {
        let (tx, mut rx) = mpsc::channel(8);
        // 60 + 1 + 39 = 100 fits; another byte would not.
        tx.send(waiting(39)).await.unwrap();
        tx.send(waiting(1)).await.unwrap();
        let (group, carried) = take(waiting(60), &mut rx, LIMITS);
        assert_eq!(sizes(&group), [60, 39]);
        assert_eq!(carried.map(|w| w.payload.len()), Some(1));
        // An event over the limit on its own is still published, alone.
        let (alone, _) = take(waiting(500), &mut rx, LIMITS);
        assert_eq!(sizes(&alone), [500]);
    }
}
