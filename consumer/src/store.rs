//! Storing a batch: retry outages, and find the rows that can never be stored.
//!
//! Kept apart from the NATS side so that its decisions can be tested with a fake sink.

use std::collections::HashSet;
use std::ops::Range;

use schemas::Event;

use crate::sink::{InsertError, Sink};

/// The rows ClickHouse refused as data: index in the batch, and why.
pub type Rejected = Vec<(usize, String)>;

/// How many times an error that is on neither list (`sink::InsertError::Unexplained`) is
/// retried before it is taken for the rows' fault. With the writer's backoff, about two
/// seconds: far below `nats.max_age`, after which a waiting batch would be lost.
pub const UNEXPLAINED_TRIES: u32 = 5;

/// Storing one batch, resumable across outages.
///
/// A batch that ClickHouse rejects as data is split in halves until the bad rows are
/// alone, so the good rows still land. An outage stops the work where it is; the caller
/// decides how long to wait, then resumes. An unexplained error stops it too, but only
/// [`UNEXPLAINED_TRIES`] times: then its code is taken for the data's, and the batch is
/// split like a rejected one, at once for every later failure with that code.
pub struct Storing {
    /// Ranges of the batch still to insert: the whole batch, split on rejection.
    pending: Vec<Range<usize>>,
    rejected: Rejected,
    /// Unexplained failures waited out so far.
    unexplained: u32,
    /// Codes taken for the data's after the bounded tries.
    condemned: HashSet<u32>,
}

impl Storing {
    pub fn new(rows: usize) -> Self {
        let mut pending = Vec::with_capacity(8);
        pending.push(0..rows);
        Self {
            pending,
            rejected: Vec::new(),
            unexplained: 0,
            condemned: HashSet::new(),
        }
    }

    /// Whether a failure blames the rows: a rejection, or an unexplained code that has
    /// been retried enough.
    fn blames_rows(&mut self, e: &InsertError) -> bool {
        match e {
            InsertError::Rejected(_) => true,
            InsertError::Unavailable(_) => false,
            InsertError::Unexplained { code, .. } => {
                if self.condemned.contains(code) {
                    return true;
                }
                self.unexplained += 1;
                if self.unexplained >= UNEXPLAINED_TRIES {
                    tracing::warn!(
                        code,
                        tries = self.unexplained,
                        "ClickHouse keeps failing with an unlisted code; taking it for the rows' fault"
                    );
                    self.condemned.insert(*code);
                    return true;
                }
                false
            }
        }
    }

    /// Insert what is left of `rows`. `Ok` holds the rejected rows once everything else is
    /// stored; `Err` is an outage, after which `resume` may be called again.
    pub async fn resume<S: Sink>(
        &mut self,
        sink: &S,
        rows: &[Event],
    ) -> Result<Rejected, InsertError> {
        while let Some(range) = self.pending.pop() {
            if range.is_empty() {
                continue;
            }
            let started = std::time::Instant::now();
            match sink.insert(&rows[range.clone()]).await {
                Ok(()) => {
                    metrics::histogram!(crate::metric_names::INSERT_DURATION_SECONDS)
                        .record(started.elapsed().as_secs_f64());
                    metrics::histogram!(crate::metric_names::BATCH_SIZE_ROWS)
                        .record(range.len() as f64);
                    metrics::counter!(crate::metric_names::ROWS_INSERTED_TOTAL)
                        .increment(range.len() as u64);
                }
                Err(e) => {
                    metrics::counter!(crate::metric_names::CLICKHOUSE_ERRORS_TOTAL, "kind" => e.kind())
                        .increment(1);
                    if !self.blames_rows(&e) {
                        self.pending.push(range);
                        return Err(e);
                    }
                    if range.len() == 1 {
                        self.rejected.push((range.start, e.to_string()));
                    } else {
                        let mid = range.start + range.len() / 2;
                        self.pending.push(mid..range.end);
                        self.pending.push(range.start..mid);
                    }
                }
            }
        }
        Ok(std::mem::take(&mut self.rejected))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// A sink that refuses rows whose app is "bad", and is down on the given calls (1-based).
    struct Fake {
        down_on: Vec<usize>,
        stored: Mutex<Vec<String>>,
        calls: Mutex<usize>,
    }

    impl Fake {
        fn new(down_on: &[usize]) -> Self {
            Self {
                down_on: down_on.to_vec(),
                stored: Mutex::new(Vec::new()),
                calls: Mutex::new(0),
            }
        }
    }

    impl Sink for Fake {
        async fn insert(&self, rows: &[Event]) -> Result<(), InsertError> {
            let call = {
                let mut calls = self.calls.lock().unwrap();
                *calls += 1;
                *calls
            };
            if self.down_on.contains(&call) {
                return Err(InsertError::Unavailable(clickhouse::error::Error::TimedOut));
            }
            if rows.iter().any(|r| r.nsapp == "bad") {
                return Err(InsertError::Rejected(
                    clickhouse::error::Error::BadResponse(
                        "Code: 53. DB::Exception: Type mismatch".into(),
                    ),
                ));
            }
            if rows.iter().any(|r| r.nsapp == "odd") {
                return Err(InsertError::Unexplained {
                    code: 4242,
                    error: clickhouse::error::Error::BadResponse(
                        "Code: 4242. DB::Exception: nobody listed this".into(),
                    ),
                });
            }
            self.stored
                .lock()
                .unwrap()
                .extend(rows.iter().map(|r| r.nsapp.clone()));
            Ok(())
        }
    }

    fn rows(apps: &[&str]) -> Vec<Event> {
        apps.iter()
            .map(|app| {
                schemas::parse_event(
                    format!(r#"{{"random_id":"5f0c7d3e-2a47-4b8e-9d6f-0a1b2c3d4e5f","type":"lxc","nsapp":"{app}","status":"installing"}}"#).as_bytes(),
                    &Default::default(),
                    uuid::Uuid::now_v7(),
                    time::OffsetDateTime::now_utc(),
                )
                .unwrap()
            })
            .collect()
    }

    #[tokio::test]
    async fn bad_rows_are_found_by_splitting_and_the_good_ones_land() {
        let sink = Fake::new(&[]);
        let batch = rows(&["a", "b", "bad", "c", "d", "e", "bad", "f"]);
        let rejected = Storing::new(batch.len())
            .resume(&sink, &batch)
            .await
            .unwrap();
        let indices: Vec<usize> = rejected.iter().map(|(i, _)| *i).collect();
        assert_eq!(indices, [2, 6]);
        assert!(rejected[0].1.contains("Type mismatch"));
        let mut stored = sink.stored.lock().unwrap().clone();
        stored.sort();
        assert_eq!(stored, ["a", "b", "c", "d", "e", "f"]);
    }

    #[tokio::test]
    async fn a_row_failing_with_an_unlisted_code_is_rejected_after_bounded_tries() {
        let sink = Fake::new(&[]);
        let batch = rows(&["a", "b", "c", "odd", "d", "e", "f", "g"]);
        let mut storing = Storing::new(batch.len());
        let mut waits = 0;
        let rejected = loop {
            match storing.resume(&sink, &batch).await {
                Ok(rejected) => break rejected,
                Err(InsertError::Unexplained { code: 4242, .. }) => waits += 1,
                Err(e) => panic!("{e}"),
            }
        };
        // The caller waited out the first tries, and no more: once the code is taken
        // for the data's, the split finds the row without waiting again.
        assert_eq!(waits, UNEXPLAINED_TRIES - 1);
        assert_eq!(rejected.len(), 1);
        assert_eq!(rejected[0].0, 3);
        assert!(rejected[0].1.contains("4242"), "{}", rejected[0].1);
        let mut stored = sink.stored.lock().unwrap().clone();
        stored.sort();
        assert_eq!(stored, ["a", "b", "c", "d", "e", "f", "g"]);
        // Seven stored in the halves and quarters, and every try counted: the first
        // tries of the whole batch, then the split.
        assert!(*sink.calls.lock().unwrap() <= UNEXPLAINED_TRIES as usize + 2 * 3 + 1);
    }

    #[tokio::test]
    async fn a_single_row_batch_with_an_unlisted_code_does_not_wait_forever() {
        let sink = Fake::new(&[]);
        let batch = rows(&["odd"]);
        let mut storing = Storing::new(batch.len());
        let mut waits = 0;
        let rejected = loop {
            match storing.resume(&sink, &batch).await {
                Ok(rejected) => break rejected,
                Err(_) => waits += 1,
            }
            assert!(waits < 100, "still waiting");
        };
        assert_eq!(waits, UNEXPLAINED_TRIES - 1);
        assert_eq!(rejected.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [0]);
    }

    #[tokio::test]
    async fn outages_are_waited_out_and_nothing_is_rejected_for_them() {
        let sink = Fake::new(&[1, 2, 3]);
        let batch = rows(&["a", "b"]);
        let mut storing = Storing::new(batch.len());
        let mut outages = 0;
        let rejected = loop {
            match storing.resume(&sink, &batch).await {
                Ok(rejected) => break rejected,
                Err(InsertError::Unavailable(_)) => outages += 1,
                Err(e) => panic!("{e}"),
            }
        };
        assert!(rejected.is_empty());
        assert_eq!(outages, 3);
        assert_eq!(sink.stored.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn an_outage_mid_split_resumes_where_it_stopped() {
        // Call 1 rejects the whole batch and splits it; call 2 (the first half) meets an
        // outage; resuming carries on with that half, not with the whole batch again.
        let sink = Fake::new(&[2]);
        let batch = rows(&["a", "bad", "c", "d"]);
        let mut storing = Storing::new(batch.len());
        assert!(matches!(
            storing.resume(&sink, &batch).await,
            Err(InsertError::Unavailable(_))
        ));
        assert!(sink.stored.lock().unwrap().is_empty());
        let rejected = storing.resume(&sink, &batch).await.unwrap();
        assert_eq!(rejected.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [1]);
        let mut stored = sink.stored.lock().unwrap().clone();
        stored.sort();
        assert_eq!(stored, ["a", "c", "d"]);
        assert_eq!(*sink.calls.lock().unwrap(), 6);
    }
}
