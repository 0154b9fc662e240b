//! The runs erased on request, as the erasure stream records them.
//!
//! Ingest groups the events of many runs into one message, so a deletion request cannot
//! purge a run's queued events by subject alone. The aggregator records the erasure in
//! the erasure stream first; the consumer reads the records before every insert and drops
//! the run's events, wherever they waited; `consumer import` reads them before every
//! batch of the old service's rows. Reading is one stream-info request per batch: only
//! records added since the last read are fetched, and all of them again only when old
//! ones have expired (`nats.erasure_max_age`).
//!
//! It fails closed: if the records cannot be read, for whatever reason (NATS away, the
//! stream missing or renamed), nothing is inserted until they can be. A missing stream is
//! not "no erasures": it may have been deleted with the records in it.

use std::collections::HashSet;
use std::sync::Arc;

use async_nats::jetstream::{self, stream::RawMessageErrorKind};
use tokio::sync::Mutex;
use topology::stream::NatsSettings;
use uuid::Uuid;

pub struct Erasures {
    js: jetstream::Context,
    nats: NatsSettings,
    known: Mutex<Known>,
}

#[derive(Default)]
struct Known {
    /// The stream's first and last sequence when `runs` was read.
    first: u64,
    last: u64,
    runs: Arc<HashSet<Uuid>>,
}

impl Erasures {
    pub fn new(js: jetstream::Context, nats: NatsSettings) -> Self {
        Self {
            js,
            nats,
            known: Mutex::new(Known::default()),
        }
    }

    /// The runs erased so far: every erasure recorded before this call is in it. An error
    /// when the records cannot be read; `consumer_erasure_records_available` says which.
    pub async fn current(&self) -> Result<Arc<HashSet<Uuid>>, async_nats::Error> {
        let read = self.read().await;
        metrics::gauge!(crate::metric_names::ERASURE_RECORDS_AVAILABLE).set(if read.is_ok() {
            1.0
        } else {
            0.0
        });
        read
    }

    async fn read(&self) -> Result<Arc<HashSet<Uuid>>, async_nats::Error> {
        let stream = self.js.get_stream(&self.nats.erasure_stream).await?;
        let state = stream.cached_info().state.clone();
        let mut known = self.known.lock().await;
        if (state.first_sequence, state.last_sequence) == (known.first, known.last) {
            return Ok(known.runs.clone());
        }
        // Records are only appended, and leave only by age: if none has left since the
        // last read, the new ones are all that is needed.
        let (mut runs, from) = if state.first_sequence == known.first && known.last > 0 {
            ((*known.runs).clone(), known.last + 1)
        } else {
            (HashSet::new(), state.first_sequence)
        };
        if state.messages > 0 {
            for sequence in from..=state.last_sequence {
                match stream.get_raw_message(sequence).await {
                    Ok(record) => {
                        if let Some(id) = self.nats.erased_installation(record.subject.as_str()) {
                            runs.insert(id);
                        }
                    }
                    // Expired or deleted between the info and the read.
                    Err(e) if e.kind() == RawMessageErrorKind::NoMessageFound => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        tracing::info!(runs = runs.len(), "erasure records read");
        *known = Known {
            first: state.first_sequence,
            last: state.last_sequence,
            runs: Arc::new(runs),
        };
        Ok(known.runs.clone())
    }
}
