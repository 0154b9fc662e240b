//! Erasing one installation from the queue, for a deletion request.
//!
//! The aggregator serves the public statistics, so it may remove nothing from the streams
//! itself (compose/nats/auth.conf): it records the erasure in the erasure stream and
//! waits for the consumer's receipt. From the moment the record is stored, no event of
//! the installation is stored any more, wherever it waits (the consumer reads the records
//! before every insert, `consumer import` before every batch). The consumer then removes
//! the installation's queued messages and dead letters, waits until no batch read before
//! the record can still store one of its rows, and publishes the receipt
//! (consumer/src/purge.rs). Only then does `admin.rs` delete the rows: nothing can bring
//! them back after that.

use std::time::{Duration, Instant};

use async_nats::connection::State;
use async_nats::jetstream::{self, stream::LastRawMessageErrorKind};
use topology::stream::{ErasureReceipt, NatsSettings};
use uuid::Uuid;

/// How often the receipt is looked for.
const POLL: Duration = Duration::from_millis(200);

/// The aggregator's connection to JetStream, used by deletion requests only.
pub struct Queues {
    client: async_nats::Client,
    js: jetstream::Context,
    nats: NatsSettings,
    /// How long a request waits for the consumer's receipt.
    timeout: Duration,
}

/// Why an erasure could not be recorded: nothing was deleted.
#[derive(Debug, thiserror::Error)]
#[error("{stage}: {source}")]
pub struct QueueError {
    /// What was being done.
    pub stage: String,
    #[source]
    pub source: async_nats::Error,
}

/// `map_err` for one stage of an erasure.
fn failed<E>(stage: &str) -> impl FnOnce(E) -> QueueError
where
    E: std::error::Error + Send + Sync + 'static,
{
    let stage = stage.to_owned();
    move |e| QueueError {
        stage,
        source: Box::new(e),
    }
}

impl Queues {
    /// Connect without waiting for NATS: the statistics API must start and serve while
    /// NATS is down; only deletion requests need it, and they answer 503 meanwhile.
    pub async fn connect(
        nats: &NatsSettings,
        timeout: Duration,
    ) -> Result<Self, async_nats::ConnectError> {
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
            timeout,
        })
    }

    /// Record the erasure of installation `id`, and wait for the consumer's receipt:
    /// `None` if none came within the timeout (no consumer running, or one still busy
    /// with the erasure); the record stands either way.
    ///
    /// Nothing is recorded unless NATS is connected and all three streams exist: a
    /// stream that is missing means the names are not the ones ingest and the consumer
    /// use, and an erasure recorded where no consumer reads it would be a false promise.
    pub async fn erase(&self, id: Uuid) -> Result<Option<ErasureReceipt>, QueueError> {
        if self.client.connection_state() != State::Connected {
            return Err(QueueError {
                stage: "connecting to NATS".into(),
                source: "not connected".into(),
            });
        }
        for (role, name) in [
            ("events", &self.nats.stream),
            ("dead-letter", &self.nats.dlq_stream),
        ] {
            self.js
                .get_stream(name)
                .await
                .map_err(failed(&format!("the {role} stream {name}")))?;
        }
        let records = self
            .js
            .get_stream(&self.nats.erasure_stream)
            .await
            .map_err(failed(&format!(
                "the erasure stream {}",
                self.nats.erasure_stream
            )))?;
        let recorded = self
            .js
            .publish(self.nats.erasure_subject_of(id), Default::default())
            .await
            .map_err(failed("recording the erasure"))?
            .await
            .map_err(failed("recording the erasure"))?
            .sequence;

        let subject = self.nats.erasure_receipt_subject(id);
        let started = Instant::now();
        let mut told = false;
        loop {
            match records.get_last_raw_message_by_subject(&subject).await {
                // A receipt for this record: one published after it.
                Ok(receipt) if receipt.sequence > recorded => {
                    match serde_json::from_slice::<ErasureReceipt>(&receipt.payload) {
                        Ok(receipt) => return Ok(Some(receipt)),
                        Err(e) => {
                            tracing::warn!(error = %e, "an erasure receipt that cannot be read")
                        }
                    }
                }
                Ok(_) => {}
                Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => {}
                Err(e) => tracing::warn!(error = %e, "looking for an erasure receipt"),
            }
            if started.elapsed() >= self.timeout {
                tracing::warn!(
                    waited = ?started.elapsed(),
                    "no consumer confirmed an erasure in time; it is recorded and will be carried out"
                );
                return Ok(None);
            }
            if !told && started.elapsed() >= Duration::from_secs(2) {
                tracing::info!("waiting for the consumer to carry out an erasure");
                told = true;
            }
            tokio::time::sleep(POLL).await;
        }
    }
}
