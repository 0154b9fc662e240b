//! Names shared by the services. The stream, subject and database are configurable so
//! that tests and staging can run side by side on one server; these are the defaults.

/// JetStream stream that holds accepted events until the consumer has stored them.
pub const STREAM: &str = "TELEMETRY";
/// Subject that ingest publishes accepted events to.
pub const SUBJECT: &str = "telemetry.events";
/// Stream for messages that can never be stored, with the reason in a header.
pub const DLQ_STREAM: &str = "TELEMETRY_DLQ";
/// Subject of the dead-letter stream.
pub const DLQ_SUBJECT: &str = "telemetry.dlq";
/// Stream of erasures: one message per deletion request, on `<subject>.<random_id>`,
/// kept while a copy of that run's events could still be stored (the raw retention plus
/// the queue's), and the consumer's receipt of each on `<subject>.<random_id>.done`.
pub const ERASURE_STREAM: &str = "TELEMETRY_ERASURES";
/// Subject of the erasure stream.
pub const ERASURE_SUBJECT: &str = "telemetry.erasures";
/// Durable pull consumer shared by every consumer process.
pub const DURABLE: &str = "clickhouse-writer";
/// Durable pull consumer on the erasure stream, through which the consumer processes
/// carry out each erasure once (compose/nats/auth.conf names it).
pub const ERASURE_DURABLE: &str = "erasure-purger";
/// ClickHouse database of the pipeline.
pub const DATABASE: &str = "telemetry";
/// Raw events table, one row per accepted event.
pub const EVENTS_TABLE: &str = "events";
/// The Distributed table over every shard's `events`, on a cluster.
pub const EVENTS_ALL_TABLE: &str = "events_all";

/// Header on dead-lettered messages that says why they could not be stored.
pub const DLQ_REASON_HEADER: &str = "Telemetry-Dlq-Reason";
