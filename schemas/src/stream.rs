//! JetStream stream definitions, shared by ingest (which creates the events stream if it
//! is absent) and the consumer (which reads it and dead-letters into the DLQ stream).

use std::time::Duration;

use async_nats::jetstream::stream::{Config, DiscardPolicy, RetentionPolicy, StorageType};

use crate::names;

/// The `[nats]` settings section, shared by ingest and the consumer so that both define
/// the streams identically.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct NatsSettings {
    /// Server URL(s), comma-separated for a cluster.
    pub url: String,
    pub stream: String,
    pub subject: String,
    pub dlq_stream: String,
    pub dlq_subject: String,
    /// Events older than this leave the queue even if not yet stored.
    #[serde(with = "humantime_serde")]
    pub max_age: Duration,
    /// Bytes of backlog after which ingest is refused (503) rather than anything dropped.
    pub max_bytes: i64,
    pub replicas: usize,
    /// How long JetStream remembers a `Nats-Msg-Id`, to drop identical client retries.
    #[serde(with = "humantime_serde")]
    pub duplicate_window: Duration,
    #[serde(with = "humantime_serde")]
    pub dlq_max_age: Duration,
}

impl Default for NatsSettings {
    fn default() -> Self {
        Self {
            url: "nats://127.0.0.1:4222".into(),
            stream: names::STREAM.into(),
            subject: names::SUBJECT.into(),
            dlq_stream: names::DLQ_STREAM.into(),
            dlq_subject: names::DLQ_SUBJECT.into(),
            max_age: Duration::from_secs(7 * 24 * 3600),
            max_bytes: 8 * 1024 * 1024 * 1024,
            replicas: 1,
            duplicate_window: Duration::from_secs(120),
            dlq_max_age: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

impl NatsSettings {
    /// The events stream.
    ///
    /// Work-queue retention: a message leaves the stream once the consumer has acked it,
    /// so the stream's size is the real backlog and `max_bytes` bounds it. Discard-new:
    /// when the backlog is full the publish fails and ingest answers 503, instead of
    /// JetStream silently dropping the oldest events that clients were told were accepted.
    pub fn events_stream(&self) -> Config {
        Config {
            name: self.stream.clone(),
            subjects: vec![self.subject.clone()],
            storage: StorageType::File,
            retention: RetentionPolicy::WorkQueue,
            discard: DiscardPolicy::New,
            max_age: self.max_age,
            max_bytes: self.max_bytes,
            num_replicas: self.replicas,
            duplicate_window: self.duplicate_window,
            description: Some("Accepted telemetry events waiting to be stored".into()),
            ..Default::default()
        }
    }

    /// The dead-letter stream: messages that can never be stored, kept for inspection.
    pub fn dlq_stream(&self) -> Config {
        Config {
            name: self.dlq_stream.clone(),
            subjects: vec![self.dlq_subject.clone()],
            storage: StorageType::File,
            retention: RetentionPolicy::Limits,
            discard: DiscardPolicy::Old,
            max_age: self.dlq_max_age,
            num_replicas: self.replicas,
            description: Some(
                "Telemetry messages that could not be stored, with the reason".into(),
            ),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_replica_count_reaches_both_streams() {
        let settings = NatsSettings {
            replicas: 3,
            ..Default::default()
        };
        assert_eq!(settings.events_stream().num_replicas, 3);
        assert_eq!(settings.dlq_stream().num_replicas, 3);
        assert_eq!(NatsSettings::default().events_stream().num_replicas, 1);
    }
}
