//! Every metric consumer exports: its name, once, and its description (`describe`).
//! Names follow the Prometheus conventions (`_total`, `_seconds`, `_bytes`), and every
//! label has a closed set of values.

pub const ACK_FAILURES_TOTAL: &str = "consumer_ack_failures_total";
pub const BATCH_SIZE_ROWS: &str = "consumer_batch_size_rows";
pub const CLICKHOUSE_ERRORS_TOTAL: &str = "consumer_clickhouse_errors_total";
pub const DEAD_LETTERED_TOTAL: &str = "consumer_dead_lettered_total";
pub const ERASURE_FAILURES_TOTAL: &str = "consumer_erasure_failures_total";
pub const ERASURE_RECORDS_AVAILABLE: &str = "consumer_erasure_records_available";
pub const ERASURES_CARRIED_OUT_TOTAL: &str = "consumer_erasures_carried_out_total";
pub const EVENTS_ERASED_TOTAL: &str = "consumer_events_erased_total";
pub const INSERT_DURATION_SECONDS: &str = "consumer_insert_duration_seconds";
pub const OLDEST_MESSAGE_AGE_SECONDS: &str = "consumer_oldest_message_age_seconds";
pub const PENDING_MESSAGES: &str = "consumer_pending_messages";
pub const REDELIVERIES_TOTAL: &str = "consumer_redeliveries_total";
pub const ROWS_INSERTED_TOTAL: &str = "consumer_rows_inserted_total";
pub const STREAM_BYTES: &str = "consumer_stream_bytes";
pub const STREAM_MESSAGES: &str = "consumer_stream_messages";

/// Counters start at zero, so that a dashboard or an alert sees "none yet" rather than
/// "no data" before the first failure.
pub fn describe() {
    // Descriptions go to the installed recorder: install it first.
    let _ = runtime::ops::metrics();
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(ROWS_INSERTED_TOTAL, "Rows stored in ClickHouse");
    describe_counter!(
        EVENTS_ERASED_TOTAL,
        "Queued events not stored because their run was erased on request"
    );
    metrics::counter!(EVENTS_ERASED_TOTAL).increment(0);
    describe_gauge!(
        ERASURE_RECORDS_AVAILABLE,
        "1 when the erasure records could be read; 0 while inserts wait until they can"
    );
    describe_counter!(
        ERASURES_CARRIED_OUT_TOTAL,
        "Erasures whose queued messages and dead letters were removed, receipt published"
    );
    describe_counter!(
        ERASURE_FAILURES_TOTAL,
        "Attempts to carry out an erasure in the queue that failed (retried)"
    );
    describe_gauge!(
        OLDEST_MESSAGE_AGE_SECONDS,
        Unit::Seconds,
        "Age of the oldest message in the events stream, not yet stored (0 when empty)"
    );
    describe_histogram!(BATCH_SIZE_ROWS, "Rows per batch written to ClickHouse");
    describe_histogram!(
        INSERT_DURATION_SECONDS,
        Unit::Seconds,
        "Time of one batch INSERT into ClickHouse"
    );
    describe_counter!(
        REDELIVERIES_TOTAL,
        "Messages JetStream delivered more than once"
    );
    describe_counter!(
        DEAD_LETTERED_TOTAL,
        "Messages that can never be stored, moved to the dead-letter stream"
    );
    describe_counter!(
        ACK_FAILURES_TOTAL,
        "Acknowledgements JetStream did not confirm (the message is redelivered)"
    );
    describe_counter!(CLICKHOUSE_ERRORS_TOTAL, "Failed INSERTs, by kind");
    describe_gauge!(
        PENDING_MESSAGES,
        "Messages in the queue not yet stored: undelivered plus unacknowledged"
    );
    describe_gauge!(STREAM_MESSAGES, "Messages in the events stream");
    describe_gauge!(
        STREAM_BYTES,
        Unit::Bytes,
        "Bytes in the events stream (ingest answers 503 at nats.max_bytes)"
    );
    for name in [
        ROWS_INSERTED_TOTAL,
        REDELIVERIES_TOTAL,
        DEAD_LETTERED_TOTAL,
        ACK_FAILURES_TOTAL,
        ERASURES_CARRIED_OUT_TOTAL,
        ERASURE_FAILURES_TOTAL,
    ] {
        metrics::counter!(name).increment(0);
    }
    for kind in crate::sink::ERROR_KINDS {
        metrics::counter!(CLICKHOUSE_ERRORS_TOTAL, "kind" => kind).increment(0);
    }
}
