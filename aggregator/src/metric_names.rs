//! Every metric aggregator exports: its name, once, and its description (`describe`).
//! Names follow the Prometheus conventions (`_total`, `_seconds`, `_bytes`), and every
//! label has a closed set of values.

pub const ERASURES_TOTAL: &str = "aggregator_erasures_total";
pub const FAILED_RUNS_24H: &str = "aggregator_failed_runs_24h";
pub const HTTP_REQUEST_DURATION_SECONDS: &str = "aggregator_http_request_duration_seconds";
pub const HTTP_REQUESTS_TOTAL: &str = "aggregator_http_requests_total";
pub const LAST_REFRESH_DURATION_SECONDS: &str = "aggregator_last_refresh_duration_seconds";
pub const LAST_REFRESH_TIMESTAMP_SECONDS: &str = "aggregator_last_refresh_timestamp_seconds";
pub const REFRESH_FAILURES_TOTAL: &str = "aggregator_refresh_failures_total";
pub const RELEASED_UNTIL_TIMESTAMP_SECONDS: &str = "aggregator_released_until_timestamp_seconds";
pub const RUNS_24H: &str = "aggregator_runs_24h";
pub const STATISTICS_AGE_SECONDS: &str = "aggregator_statistics_age_seconds";

pub fn describe() {
    // Descriptions go to the installed recorder: install it first.
    let _ = runtime::ops::metrics();
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        HTTP_REQUESTS_TOTAL,
        "Public requests answered, by route and status"
    );
    describe_histogram!(
        HTTP_REQUEST_DURATION_SECONDS,
        Unit::Seconds,
        "Time to answer a public request, by route"
    );
    describe_gauge!(
        LAST_REFRESH_TIMESTAMP_SECONDS,
        Unit::Seconds,
        "Unix time of the last successful refresh of the statistics"
    );
    describe_gauge!(
        LAST_REFRESH_DURATION_SECONDS,
        Unit::Seconds,
        "How long the last successful refresh took"
    );
    describe_gauge!(
        RELEASED_UNTIL_TIMESTAMP_SECONDS,
        Unit::Seconds,
        "Unix time at which the last day of the public release ends"
    );
    describe_counter!(
        REFRESH_FAILURES_TOTAL,
        "Refreshes of the statistics that failed"
    );
    describe_gauge!(
        STATISTICS_AGE_SECONDS,
        Unit::Seconds,
        "Seconds since the last successful refresh"
    );
    describe_gauge!(
        RUNS_24H,
        "Runs that started in the last 24 hours, by repository (production, development, external)"
    );
    describe_gauge!(
        FAILED_RUNS_24H,
        "Runs that started in the last 24 hours whose outcome is failed"
    );
    describe_counter!(
        ERASURES_TOTAL,
        "Deletion requests for an installation, by outcome: complete, incomplete (repeat it), failed"
    );
}
