//! The runs erased on request, as the erasure stream records them.
//!
//! Ingest groups the events of many runs into one message, so a deletion request cannot
//! purge a run's queued events by subject alone. The aggregator records the erasure in
//! the erasure stream first; the consumer reads that record before every insert and drops
//! the run's events, wherever they waited. Reading is one stream-info request per batch:
//! the records themselves are read again only when the stream's sequences moved, which
//! happens once per deletion request.

use std::collections::HashSet;
use std::sync::Arc;

use async_nats::jetstream::ErrorCode;
use async_nats::jetstream::{self, context::GetStreamErrorKind, stream::RawMessageErrorKind};
use schemas::stream::NatsSettings;
use tokio::sync::Mutex;
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

    /// The runs erased so far: every erasure recorded before this call is in it.
    ///
    /// A missing stream holds no erasure: the aggregator refuses a deletion request
    /// unless the stream exists, so none can have been recorded.
    pub async fn current(&self) -> Result<Arc<HashSet<Uuid>>, async_nats::Error> {
        let stream = match self.js.get_stream(&self.nats.erasure_stream).await {
            Ok(stream) => stream,
            Err(e)
                if matches!(e.kind(), GetStreamErrorKind::JetStream(ref j)
                    if j.error_code() == ErrorCode::STREAM_NOT_FOUND) =>
            {
                return Ok(Arc::default());
            }
            Err(e) => return Err(e.into()),
        };
        let state = stream.cached_info().state.clone();
        let mut known = self.known.lock().await;
        if (state.first_sequence, state.last_sequence) == (known.first, known.last) {
            return Ok(known.runs.clone());
        }
        let mut runs = HashSet::new();
        if state.messages > 0 {
            for sequence in state.first_sequence..=state.last_sequence {
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
