//! Waiting for a condition with a deadline, never for a fixed time.

use std::future::Future;
use std::time::{Duration, Instant};

/// Poll `probe` until it yields `Some`, or fail the test after `deadline`.
pub async fn poll<T, F, Fut>(deadline: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let until = Instant::now() + deadline;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            Instant::now() < until,
            "timed out after {deadline:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
