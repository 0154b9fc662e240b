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
/// Durable pull consumer shared by every consumer process.
pub const DURABLE: &str = "clickhouse-writer";
/// ClickHouse database of the pipeline.
pub const DATABASE: &str = "telemetry";
/// Raw events table, one row per accepted event.
pub const EVENTS_TABLE: &str = "events";
/// Header on dead-lettered messages that says why they could not be stored.
pub const DLQ_REASON_HEADER: &str = "Telemetry-Dlq-Reason";
