//! Every metric ingest exports: its name, once, and its description (`describe`).
//! Names follow the Prometheus conventions (`_total`, `_seconds`, `_bytes`), and every
//! label has a closed set of values.

pub const EVENTS_ACCEPTED_TOTAL: &str = "ingest_events_accepted_total";
pub const HTTP_REQUEST_BODY_BYTES: &str = "ingest_http_request_body_bytes";
pub const HTTP_REQUEST_DURATION_SECONDS: &str = "ingest_http_request_duration_seconds";
pub const HTTP_REQUESTS_IN_FLIGHT: &str = "ingest_http_requests_in_flight";
pub const HTTP_REQUESTS_TOTAL: &str = "ingest_http_requests_total";
pub const PUBLISH_DURATION_SECONDS: &str = "ingest_publish_duration_seconds";
pub const PUBLISH_MESSAGE_EVENTS: &str = "ingest_publish_message_events";
pub const PUBLISH_FAILURES_TOTAL: &str = "ingest_publish_failures_total";
pub const REJECTIONS_TOTAL: &str = "ingest_rejections_total";

/// Counters start at zero, so that a dashboard or an alert sees "none yet" rather than
/// "no data" before the first failure. Labelled ones are initialised for every value of
/// their closed label set.
pub fn describe() {
    // Descriptions go to the installed recorder: install it first.
    let _ = runtime::ops::metrics();
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        HTTP_REQUESTS_TOTAL,
        "HTTP requests answered, by matched route and status"
    );
    describe_histogram!(
        HTTP_REQUEST_DURATION_SECONDS,
        Unit::Seconds,
        "Time to answer an HTTP request, by matched route"
    );
    describe_gauge!(HTTP_REQUESTS_IN_FLIGHT, "HTTP requests being answered now");
    describe_histogram!(
        HTTP_REQUEST_BODY_BYTES,
        Unit::Bytes,
        "Size of request bodies as received"
    );
    describe_counter!(
        EVENTS_ACCEPTED_TOTAL,
        "Events durably queued in JetStream (answered 202 or accepted in a batch)"
    );
    describe_counter!(
        REJECTIONS_TOTAL,
        "Requests or batch items refused, by reason"
    );
    describe_histogram!(
        PUBLISH_DURATION_SECONDS,
        Unit::Seconds,
        "Time from publishing a message to JetStream's acknowledgement"
    );
    describe_histogram!(
        PUBLISH_MESSAGE_EVENTS,
        "Events in each message published (group commit)"
    );
    describe_counter!(
        PUBLISH_FAILURES_TOTAL,
        "Publishes that failed or timed out (answered 503), by kind"
    );
    metrics::counter!(EVENTS_ACCEPTED_TOTAL).increment(0);
    for kind in [
        "stream_not_found",
        "timeout",
        "broken_pipe",
        "max_ack_pending",
        "max_payload",
        "other",
    ] {
        metrics::counter!(PUBLISH_FAILURES_TOTAL, "kind" => kind).increment(0);
    }
}
