//! Where accepted events go: the [`Publisher`] trait, JetStream behind it in service
//! ([`JetStreamPublisher`]), and an in-memory one ([`MemoryPublisher`]) with which the
//! HTTP behaviour is tested without a NATS server.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::connection::State;
use async_nats::jetstream;
use futures::future::BoxFuture;
use schemas::Event;
use topology::stream::NatsSettings;
use uuid::Uuid;

use crate::group::{Group, ServerLimit};

use crate::settings::Settings;

/// What the queue said about an accepted event.
#[derive(Debug, Clone, Copy)]
pub struct Accepted {
    /// The queue had already stored an identical event within its duplicate window: the
    /// client retried after a lost answer. It is still a success for the client.
    pub duplicate: bool,
    /// The event's identity, derived from its content (`Event::content_id`).
    pub event_id: Uuid,
}

/// Why an event was not queued. `error.rs` maps these to HTTP statuses.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PublishError {
    /// The queue did not take it, or did not say so in time: the client retries.
    #[error("{0}")]
    Unavailable(&'static str),
    /// The event itself could not be encoded: a retry meets the same fault.
    #[error("the event could not be encoded")]
    Encode,
    /// The event, encoded, is larger than the queue takes in one message (NATS's
    /// `max_payload`, when it is below `ingest.body_limit_bytes`).
    #[error("the event is larger than the queue takes ({limit} bytes)")]
    TooLarge { limit: usize },
}

/// A durable queue for accepted events. `publish` resolves `Ok` only once the event is
/// stored for good: that is what makes a 202 a promise. The event's `event_id` is not
/// read: the queue stores it under its content identity, which `Accepted` names.
pub trait Publisher: Send + Sync + 'static {
    fn publish<'a>(&'a self, event: &'a Event) -> BoxFuture<'a, Result<Accepted, PublishError>>;
    /// Whether `publish` can succeed now; readiness reports it.
    fn ready(&self) -> BoxFuture<'_, bool>;
}

/// Accepted events kept in memory, recognising a repeated content id as a duplicate the
/// way JetStream's duplicate window does, and able to play an outage. For tests.
#[derive(Default)]
pub struct MemoryPublisher {
    events: Mutex<Vec<Event>>,
    seen: Mutex<HashSet<Uuid>>,
    down: AtomicBool,
}

impl MemoryPublisher {
    /// Every event published so far, in order.
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }

    /// Make the queue unreachable (`true`) or bring it back (`false`).
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }
}

impl Publisher for MemoryPublisher {
    fn publish<'a>(&'a self, event: &'a Event) -> BoxFuture<'a, Result<Accepted, PublishError>> {
        Box::pin(async move {
            if self.down.load(Ordering::SeqCst) {
                return Err(PublishError::Unavailable("the queue is down"));
            }
            let encoded = event.encode().map_err(|_| PublishError::Encode)?;
            let (Ok(mut seen), Ok(mut events)) = (self.seen.lock(), self.events.lock()) else {
                return Err(PublishError::Unavailable("the queue is poisoned"));
            };
            let duplicate = !seen.insert(encoded.event_id);
            if !duplicate {
                let mut stored = event.clone();
                stored.event_id = encoded.event_id;
                events.push(stored);
            }
            Ok(Accepted {
                duplicate,
                event_id: encoded.event_id,
            })
        })
    }

    fn ready(&self) -> BoxFuture<'_, bool> {
        Box::pin(async move { !self.down.load(Ordering::SeqCst) })
    }
}

pub struct JetStreamPublisher {
    client: async_nats::Client,
    js: jetstream::Context,
    nats: NatsSettings,
    group: Group,
    timeout: Duration,
    /// The most bytes the server takes in one message (`ServerLimit`).
    server_max: Arc<AtomicUsize>,
}

impl JetStreamPublisher {
    /// Connect without waiting for NATS: ingest must start, answer 503 and report
    /// not-ready while NATS is down, and recover by itself when it comes back.
    pub async fn connect(settings: &Settings) -> std::io::Result<Self> {
        let client = settings
            .nats
            .connect_options("telemetry-ingest")
            .retry_on_initial_connect()
            .connection_timeout(Duration::from_secs(2))
            .connect(settings.nats.servers())
            .await
            .map_err(std::io::Error::other)?;
        let mut js = jetstream::new(client.clone());
        js.set_timeout(settings.ingest.publish_timeout);
        let limits = settings.ingest.group_limits();
        let server_max = ServerLimit::watch(
            client.clone(),
            limits.max_bytes,
            settings.ingest.body_limit_bytes,
        );
        let group = Group::start(
            js.clone(),
            settings.nats.clone(),
            settings.ingest.publish_timeout,
            limits,
            server_max.clone(),
        );
        Ok(Self {
            client,
            js,
            nats: settings.nats.clone(),
            group,
            timeout: settings.ingest.publish_timeout,
            server_max,
        })
    }

    /// Create or update the events stream in the background until it succeeds once.
    pub fn keep_stream_ensured(self: Arc<Self>) {
        tokio::spawn(async move {
            let mut backoff =
                runtime::backoff::Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
            while let Err(e) = self.ensure_stream().await {
                tracing::warn!(error = %e, stream = %self.nats.stream, "events stream not ready; retrying");
                tokio::time::sleep(backoff.next_wait()).await;
            }
        });
    }

    async fn ensure_stream(&self) -> Result<(), async_nats::Error> {
        if self.nats.manage_streams {
            self.js
                .create_or_update_stream(self.nats.events_stream())
                .await?;
        } else {
            // Created by `consumer migrate`; ingest may only look it up.
            self.js.get_stream(&self.nats.stream).await?;
        }
        tracing::info!(stream = %self.nats.stream, "events stream ready");
        Ok(())
    }

    /// Encode one event here, on the request's task, and hand it to the group commit.
    ///
    /// The wait is bounded by the publish timeout as a whole: in the group's queue and
    /// for the PubAck. A timeout is reported as unavailable; the message may still be
    /// stored, and the client's retry then collapses with it (same content, same
    /// identity).
    async fn publish_now(&self, event: &Event) -> Result<Accepted, PublishError> {
        let encoded = event.encode().map_err(|_| PublishError::Encode)?;
        let limit = ServerLimit::current(&self.server_max, &self.client);
        if encoded.payload.len() > limit {
            return Err(PublishError::TooLarge { limit });
        }
        let queued = self
            .group
            .publish(encoded.payload, event.random_id, encoded.event_id);
        match tokio::time::timeout(self.timeout, queued).await {
            Ok(Ok(duplicate)) => Ok(Accepted {
                duplicate,
                event_id: encoded.event_id,
            }),
            Ok(Err(reason)) => Err(PublishError::Unavailable(reason.0)),
            Err(_) => {
                metrics::counter!(crate::metric_names::PUBLISH_FAILURES_TOTAL, "kind" => "timeout")
                    .increment(1);
                Err(PublishError::Unavailable(
                    "JetStream did not acknowledge in time",
                ))
            }
        }
    }

    /// Ready when connected and the events stream answers.
    async fn ready_now(&self) -> bool {
        if self.client.connection_state() != State::Connected {
            return false;
        }
        let probe = tokio::time::timeout(
            Duration::from_secs(1),
            self.js.get_stream(&self.nats.stream),
        );
        match probe.await {
            Ok(Ok(_)) => true,
            Ok(Err(_)) => {
                // Deleted under us (or never created): recreate it rather than wait.
                self.ensure_stream().await.is_ok()
            }
            Err(_) => false,
        }
    }

    /// Flush what is buffered for NATS, but never hold up a shutdown for long: with NATS
    /// down there is nothing to flush to, and every such request was answered 503.
    pub async fn flush(&self) {
        match tokio::time::timeout(Duration::from_secs(2), self.client.flush()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "flushing the NATS connection failed"),
            Err(_) => tracing::warn!("NATS did not take the flush in time"),
        }
    }
}

impl Publisher for JetStreamPublisher {
    fn publish<'a>(&'a self, event: &'a Event) -> BoxFuture<'a, Result<Accepted, PublishError>> {
        Box::pin(self.publish_now(event))
    }

    fn ready(&self) -> BoxFuture<'_, bool> {
        Box::pin(self.ready_now())
    }
}
