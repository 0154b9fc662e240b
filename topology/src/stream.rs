//! JetStream stream definitions, shared by ingest (which creates the events stream if it
//! is absent), the consumer (which reads it and dead-letters into the DLQ stream) and the
//! aggregator (which purges one installation's messages from both on a deletion request).
//!
//! Every message is published on a subject that ends in its installation's `random_id`
//! (`telemetry.events.<uuid>`, `telemetry.dlq.<uuid>`), so that one subject-filtered
//! purge removes exactly one installation's messages, however long the backlog. The bare
//! subjects stay bound too: an older ingest publishes there during a rolling upgrade, and
//! the consumer dead-letters there what names no installation.

use std::time::Duration;

use async_nats::jetstream::stream::{Config, DiscardPolicy, RetentionPolicy, StorageType};
use uuid::Uuid;

use crate::names;

/// The `[nats]` settings section, shared by ingest, the consumer and the aggregator so
/// that all three name the streams and subjects identically.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct NatsSettings {
    /// Server URL(s), comma-separated for a cluster.
    pub url: String,
    /// The NATS user this service logs in as (compose/nats/auth.conf gives each service
    /// its own, with only the permissions it needs); empty for none.
    pub user: String,
    /// Its password; set it from the environment (`TELEMETRY__NATS__PASSWORD`).
    pub password: crate::secret::Secret,
    /// Whether ingest and the consumer create and update the streams themselves. With
    /// NATS users (compose), only `consumer migrate` as the admin user may: set it false
    /// for the long-running services, which then only look the streams up.
    pub manage_streams: bool,
    pub stream: String,
    pub subject: String,
    pub dlq_stream: String,
    pub dlq_subject: String,
    pub erasure_stream: String,
    pub erasure_subject: String,
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
            user: String::new(),
            password: Default::default(),
            manage_streams: true,
            stream: names::STREAM.into(),
            subject: names::SUBJECT.into(),
            dlq_stream: names::DLQ_STREAM.into(),
            dlq_subject: names::DLQ_SUBJECT.into(),
            erasure_stream: names::ERASURE_STREAM.into(),
            erasure_subject: names::ERASURE_SUBJECT.into(),
            max_age: Duration::from_secs(7 * 24 * 3600),
            max_bytes: 8 * 1024 * 1024 * 1024,
            replicas: 1,
            duplicate_window: Duration::from_secs(120),
            dlq_max_age: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

impl NatsSettings {
    /// The servers `url` names: one URL, or a cluster's, separated by commas.
    pub fn servers(&self) -> Vec<&str> {
        self.url
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect()
    }

    /// Connection options with this service's name and credentials.
    ///
    /// A user receives its replies under an inbox of its own, `_INBOX_<user>`, the only
    /// subjects compose/nats/auth.conf lets it subscribe to: ingest, the internet-facing
    /// service, cannot read what the consumer or the aggregator are answered.
    pub fn connect_options(&self, name: &str) -> async_nats::ConnectOptions {
        let options = async_nats::ConnectOptions::new().name(name);
        if self.user.is_empty() {
            options
        } else {
            options
                .user_and_password(self.user.clone(), self.password.expose().to_owned())
                .custom_inbox_prefix(self.inbox_prefix())
        }
    }

    /// Where this user's replies arrive: `_INBOX_<user>`, or NATS's own `_INBOX`
    /// without a user.
    pub fn inbox_prefix(&self) -> String {
        if self.user.is_empty() {
            "_INBOX".into()
        } else {
            format!("_INBOX_{}", self.user)
        }
    }

    /// The subject an event of installation `random_id` is published on.
    pub fn event_subject(&self, random_id: Uuid) -> String {
        installation_subject(&self.subject, random_id)
    }

    /// The subject of a message that groups several events (ingest's group commit). It
    /// is under the events subject, where ingest may publish, and names no installation.
    pub fn group_subject(&self) -> String {
        format!("{}.group", self.subject)
    }

    /// The subject that records the erasure of installation `random_id`.
    pub fn erasure_subject_of(&self, random_id: Uuid) -> String {
        installation_subject(&self.erasure_subject, random_id)
    }

    /// The subject of the consumer's receipt for the erasure of `random_id`: under the
    /// erasure subject, one token deeper, so that the aggregator (which may publish
    /// `<erasure_subject>.*` only) cannot write one.
    pub fn erasure_receipt_subject(&self, random_id: Uuid) -> String {
        format!("{}.done", self.erasure_subject_of(random_id))
    }

    /// The subjects of the erasure records, without the receipts.
    pub fn erasure_records(&self) -> String {
        format!("{}.*", self.erasure_subject)
    }

    /// The installation an erasure subject names (a record, not a receipt).
    pub fn erased_installation(&self, subject: &str) -> Option<Uuid> {
        let token = subject
            .strip_prefix(self.erasure_subject.as_str())?
            .strip_prefix('.')?;
        Uuid::try_parse(token).ok()
    }

    /// The subject a dead letter is published on: its installation's, when known.
    pub fn dead_letter_subject(&self, random_id: Option<Uuid>) -> String {
        match random_id {
            Some(id) => installation_subject(&self.dlq_subject, id),
            None => self.dlq_subject.clone(),
        }
    }

    /// The installation an events subject names, if it is `<subject>.<uuid>`: how an
    /// undecodable payload is still traced to its installation.
    pub fn installation_of(&self, subject: &str) -> Option<Uuid> {
        let token = subject
            .strip_prefix(self.subject.as_str())?
            .strip_prefix('.')?;
        // Only the hyphenated form, the one ingest writes: a subject of any other shape
        // was not published by ingest, and names nothing this code could purge by.
        if token.len() != 36 {
            return None;
        }
        Uuid::try_parse(token).ok()
    }

    /// The events stream.
    ///
    /// Work-queue retention: a message leaves the stream once the consumer has acked it,
    /// so the stream's size is the real backlog and `max_bytes` bounds it. Discard-new:
    /// when the backlog is full the publish fails and ingest answers 503, instead of
    /// JetStream silently dropping the oldest events that clients were told were accepted.
    pub fn events_stream(&self) -> Config {
        Config {
            name: self.stream.clone(),
            subjects: both_forms(&self.subject),
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

    /// The erasure stream: a record of each deletion request, which the consumer reads
    /// before every insert (and `consumer import` before every batch), so that an event
    /// of an erased run is never stored, wherever it waited or came from; and the
    /// consumer's receipt once it has removed the run's queued messages and dead
    /// letters.
    ///
    /// A record is kept while a copy of the run's events could still be stored: for the
    /// raw table's `retention` (a row of the old service's table, imported, is stored if
    /// it is younger than that), plus the queue's `max_age`, plus a day. docs/ROPA.md
    /// says what that keeps.
    pub fn erasure_stream(&self, retention: Duration) -> Config {
        Config {
            name: self.erasure_stream.clone(),
            subjects: vec![format!("{}.>", self.erasure_subject)],
            storage: StorageType::File,
            retention: RetentionPolicy::Limits,
            discard: DiscardPolicy::Old,
            max_age: retention + self.max_age + Duration::from_secs(24 * 3600),
            num_replicas: self.replicas,
            description: Some("Runs erased on request: their queued events are not stored".into()),
            ..Default::default()
        }
    }

    /// The dead-letter stream: messages that can never be stored, kept for inspection.
    pub fn dlq_stream(&self) -> Config {
        Config {
            name: self.dlq_stream.clone(),
            subjects: both_forms(&self.dlq_subject),
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

/// What the consumer removed from the queue for one erasure: its receipt, published on
/// `NatsSettings::erasure_receipt_subject` for the aggregator to answer the request with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ErasureReceipt {
    /// Messages of the installation's own subject removed from the events stream:
    /// waiting, or pulled and not yet acked.
    pub queued: u64,
    /// Dead letters removed, on its subject and among those that name no installation.
    pub dead_letters: u64,
    /// Every consumer that may have been handed one of its messages before the record
    /// was done with it. If not, a row may still be stored after the rows are deleted,
    /// and the request should be repeated.
    pub settled: bool,
}

/// `<base>.<uuid>`, the uuid hyphenated and in lower case, as `Uuid`'s `Display` writes it:
/// publisher and purger must spell it byte for byte alike.
fn installation_subject(base: &str, random_id: Uuid) -> String {
    format!("{base}.{random_id}")
}

/// A stream's subjects: the bare one and every installation's under it.
fn both_forms(base: &str) -> Vec<String> {
    vec![base.to_owned(), format!("{base}.>")]
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_cluster_url_names_every_server() {
        let one = super::NatsSettings::default();
        assert_eq!(one.servers(), ["nats://127.0.0.1:4222"]);
        let three = super::NatsSettings {
            url: "nats://a:4222, nats://b:4222,nats://c:4222,".into(),
            ..Default::default()
        };
        assert_eq!(
            three.servers(),
            ["nats://a:4222", "nats://b:4222", "nats://c:4222"]
        );
    }

    use super::*;

    const ID: &str = "5f0c7d3e-2a47-4b8e-9d6f-0a1b2c3d4e5f";

    #[test]
    fn an_installation_has_its_own_subject_in_each_stream() {
        let settings = NatsSettings::default();
        let id = Uuid::parse_str(ID).unwrap();
        assert_eq!(settings.event_subject(id), format!("telemetry.events.{ID}"));
        assert_eq!(
            settings.dead_letter_subject(Some(id)),
            format!("telemetry.dlq.{ID}")
        );
        assert_eq!(settings.dead_letter_subject(None), "telemetry.dlq");
        assert_eq!(
            settings.erased_installation(&settings.erasure_subject_of(id)),
            Some(id)
        );
        // A group names no installation, and is still under the events subject.
        assert_eq!(settings.installation_of(&settings.group_subject()), None);
        assert!(settings.group_subject().starts_with("telemetry.events."));
        // Upper-case input still gives the one spelling that a purge will look for.
        let upper = Uuid::parse_str(&ID.to_uppercase()).unwrap();
        assert_eq!(settings.event_subject(upper), settings.event_subject(id));
    }

    #[test]
    fn each_stream_binds_the_bare_subject_and_every_installation_s() {
        let settings = NatsSettings::default();
        assert_eq!(
            settings.events_stream().subjects,
            ["telemetry.events", "telemetry.events.>"]
        );
        assert_eq!(
            settings.dlq_stream().subjects,
            ["telemetry.dlq", "telemetry.dlq.>"]
        );
    }

    #[test]
    fn the_installation_is_read_back_from_an_events_subject_only() {
        let settings = NatsSettings::default();
        let id = Uuid::parse_str(ID).unwrap();
        assert_eq!(
            settings.installation_of(&settings.event_subject(id)),
            Some(id)
        );
        for other in [
            "telemetry.events".to_owned(),
            "telemetry.events.".to_owned(),
            "telemetry.events.not-a-uuid".to_owned(),
            format!("telemetry.events.{ID}.more"),
            format!("telemetry.eventsx.{ID}"),
            format!("telemetry.dlq.{ID}"),
            // Other spellings of a UUID are not what ingest publishes.
            format!("telemetry.events.{}", id.simple()),
            format!("telemetry.events.{{{ID}}}"),
        ] {
            assert_eq!(settings.installation_of(&other), None, "{other}");
        }
    }

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
