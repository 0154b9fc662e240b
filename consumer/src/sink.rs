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
    /// ClickHouse could not be reached or failed for reasons of its own: retry later.
    #[error("ClickHouse unavailable: {0}")]
    Unavailable(clickhouse::error::Error),
    /// ClickHouse refused the data itself: retrying the same rows cannot succeed.
    #[error("ClickHouse rejected the rows: {0}")]
    Rejected(clickhouse::error::Error),
}

impl InsertError {
    /// A bounded label for `consumer_clickhouse_errors_total`.
    pub fn kind(&self) -> &'static str {
        match self {
            InsertError::Rejected(_) => "rejected",
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

fn classify(e: clickhouse::error::Error) -> InsertError {
    use clickhouse::error::Error as E;
    match &e {
        // Serialising a row failed on our side: that row can never be written.
        E::Custom(_) | E::InvalidUtf8Encoding(_) => InsertError::Rejected(e),
        E::BadResponse(text) if error_code(text).is_some_and(|c| DATA_ERROR_CODES.contains(&c)) => {
            InsertError::Rejected(e)
        }
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
    fn reads_the_error_code() {
        assert_eq!(
            error_code("Code: 27. DB::Exception: Cannot parse input"),
            Some(27)
        );
        assert_eq!(error_code("connection refused"), None);
    }

    #[test]
    fn data_errors_are_rejections_and_the_rest_is_unavailability() {
        let bad =
            clickhouse::error::Error::BadResponse("Code: 53. DB::Exception: Type mismatch".into());
        assert!(matches!(classify(bad), InsertError::Rejected(_)));
        let down =
            clickhouse::error::Error::BadResponse("Code: 241. DB::Exception: Memory limit".into());
        assert!(matches!(classify(down), InsertError::Unavailable(_)));
        assert!(matches!(
            classify(clickhouse::error::Error::TimedOut),
            InsertError::Unavailable(_)
        ));
    }
}
