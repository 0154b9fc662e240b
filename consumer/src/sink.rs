//! Writing rows to ClickHouse, and telling a passing outage from data it will never take.

use clickhouse::Client;
use schemas::Event;

/// Where rows go: ClickHouse in production ([`ClickHouseSink`]), a fake in the unit
/// tests of `store`.
pub trait Sink {
    fn insert(&self, rows: &[Event]) -> impl Future<Output = Result<(), InsertError>> + Send;
}

#[derive(Debug, thiserror::Error)]
pub enum InsertError {
    /// ClickHouse could not be reached or failed for reasons of its own: retry later,
    /// however long it takes.
    #[error("ClickHouse unavailable: {0}")]
    Unavailable(clickhouse::error::Error),
    /// ClickHouse refused the data itself: retrying the same rows cannot succeed.
    #[error("ClickHouse rejected the rows: {0}")]
    Rejected(clickhouse::error::Error),
    /// ClickHouse answered with an error code on neither list: it may be passing or may
    /// be the rows'. `store` retries it a bounded number of times, then treats it as the
    /// rows' fault, so that no batch waits forever (and expires from the queue).
    #[error("ClickHouse failed with code {code}: {error}")]
    Unexplained {
        code: u32,
        error: clickhouse::error::Error,
    },
}

/// The values of the `kind` label of `consumer_clickhouse_errors_total`.
pub const ERROR_KINDS: [&str; 6] = [
    "rejected",
    "unexplained",
    "network",
    "timeout",
    "server",
    "other",
];

impl InsertError {
    /// A bounded label for `consumer_clickhouse_errors_total`.
    pub fn kind(&self) -> &'static str {
        match self {
            InsertError::Rejected(_) => "rejected",
            InsertError::Unexplained { .. } => "unexplained",
            InsertError::Unavailable(clickhouse::error::Error::Network(_)) => "network",
            InsertError::Unavailable(clickhouse::error::Error::TimedOut) => "timeout",
            InsertError::Unavailable(clickhouse::error::Error::BadResponse(_)) => "server",
            InsertError::Unavailable(_) => "other",
        }
    }
}

/// The raw events table in ClickHouse, written with one RowBinary INSERT per call
/// (LZ4-compressed on the wire; the client's schema validation is on, so a row type that
/// no longer matches the table fails loudly instead of writing garbage).
pub struct ClickHouseSink {
    pub client: Client,
    /// `events`, or on a cluster the Distributed `events_all`.
    pub table: &'static str,
}

impl Sink for ClickHouseSink {
    async fn insert(&self, rows: &[Event]) -> Result<(), InsertError> {
        let result = async {
            let mut insert = self.client.insert::<Event>(self.table).await?;
            for row in rows {
                insert.write(row).await?;
            }
            insert.end().await
        }
        .await;
        result.map_err(classify)
    }
}

/// ClickHouse error codes that blame the data, not the server.
const DATA_ERROR_CODES: &[u32] = &[
    6,   // CANNOT_PARSE_TEXT
    26,  // CANNOT_PARSE_QUOTED_STRING
    27,  // CANNOT_PARSE_INPUT_ASSERTION_FAILED
    32,  // ATTEMPT_TO_READ_AFTER_EOF
    33,  // CANNOT_READ_ALL_DATA
    38,  // CANNOT_PARSE_DATE
    41,  // CANNOT_PARSE_DATETIME
    53,  // TYPE_MISMATCH
    69,  // ARGUMENT_OUT_OF_BOUND
    70,  // CANNOT_CONVERT_TYPE
    72,  // CANNOT_PARSE_NUMBER
    117, // INCORRECT_DATA
    131, // TOO_LARGE_STRING_SIZE
    349, // CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN
];

/// ClickHouse error codes that blame the server or its state, whatever the rows: an
/// outage to wait out, never a reason to give up on data.
const SERVER_ERROR_CODES: &[u32] = &[
    3,   // UNEXPECTED_END_OF_FILE
    16,  // NO_SUCH_COLUMN_IN_TABLE (a schema behind the consumer's: migrate)
    60,  // UNKNOWN_TABLE
    81,  // UNKNOWN_DATABASE
    159, // TIMEOUT_EXCEEDED
    164, // READONLY
    173, // CANNOT_ALLOCATE_MEMORY
    202, // TOO_MANY_SIMULTANEOUS_QUERIES
    209, // SOCKET_TIMEOUT
    210, // NETWORK_ERROR
    225, // NO_ZOOKEEPER
    236, // ABORTED
    241, // MEMORY_LIMIT_EXCEEDED
    242, // TABLE_IS_READ_ONLY
    243, // NOT_ENOUGH_SPACE
    252, // TOO_MANY_PARTS
    279, // ALL_CONNECTION_TRIES_FAILED
    285, // TOO_FEW_LIVE_REPLICAS
    319, // UNKNOWN_STATUS_OF_INSERT
    394, // QUERY_WAS_CANCELLED
    425, // SYSTEM_ERROR
    439, // CANNOT_SCHEDULE_TASK
    497, // ACCESS_DENIED (a grant missing: fix it, the rows are fine)
    516, // AUTHENTICATION_FAILED
    999, // KEEPER_EXCEPTION
];

fn classify(e: clickhouse::error::Error) -> InsertError {
    use clickhouse::error::Error as E;
    match &e {
        // Serialising a row failed on our side: that row can never be written.
        E::Custom(_) | E::InvalidUtf8Encoding(_) => InsertError::Rejected(e),
        E::BadResponse(text) => match error_code(text) {
            Some(code) if DATA_ERROR_CODES.contains(&code) => InsertError::Rejected(e),
            Some(code) if !SERVER_ERROR_CODES.contains(&code) => {
                InsertError::Unexplained { code, error: e }
            }
            // A listed server error, or an answer without a code (a proxy's): an outage.
            _ => InsertError::Unavailable(e),
        },
        _ => InsertError::Unavailable(e),
    }
}

/// The `Code: N.` that ClickHouse puts in its error text.
fn error_code(text: &str) -> Option<u32> {
    let rest = &text[text.find("Code: ")? + "Code: ".len()..];
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_code_is_both_the_data_s_and_the_server_s() {
        for code in DATA_ERROR_CODES {
            assert!(!SERVER_ERROR_CODES.contains(code), "{code}");
        }
    }

    #[test]
    fn reads_the_error_code() {
        assert_eq!(
            error_code("Code: 27. DB::Exception: Cannot parse input"),
            Some(27)
        );
        assert_eq!(error_code("connection refused"), None);
    }

    #[test]
    fn data_errors_are_rejections_server_errors_outages_and_the_rest_unexplained() {
        let bad =
            clickhouse::error::Error::BadResponse("Code: 53. DB::Exception: Type mismatch".into());
        assert!(matches!(classify(bad), InsertError::Rejected(_)));
        let down =
            clickhouse::error::Error::BadResponse("Code: 241. DB::Exception: Memory limit".into());
        assert!(matches!(classify(down), InsertError::Unavailable(_)));
        let denied =
            clickhouse::error::Error::BadResponse("Code: 497. DB::Exception: Not enough".into());
        assert!(matches!(classify(denied), InsertError::Unavailable(_)));
        let proxy = clickhouse::error::Error::BadResponse("502 Bad Gateway".into());
        assert!(matches!(classify(proxy), InsertError::Unavailable(_)));
        let constraint = clickhouse::error::Error::BadResponse(
            "Code: 469. DB::Exception: Constraint `c` is violated".into(),
        );
        assert!(matches!(
            classify(constraint),
            InsertError::Unexplained { code: 469, .. }
        ));
        assert!(matches!(
            classify(clickhouse::error::Error::TimedOut),
            InsertError::Unavailable(_)
        ));
    }
}
