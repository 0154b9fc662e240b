//! `consumer import`: the old service's history (community-scripts/telemetry-service,
//! its table `telemetry_db.telemetry`) brought into the events table.
//!
//! Every row takes the live path: it becomes the body a client would have sent
//! (`row`), and the same parser, rules, scrubbing and limits make it an event or refuse
//! it, with the reason counted. The row's `created` becomes `received_at`; a row older
//! than the retention is skipped and counted. The event id is a UUIDv5 of the row's
//! `id`, so a row is always the same event, and one whose id is already stored is not
//! stored again: an import run twice, or resumed after a kill, stores each row once.
//!
//! An erased installation stays erased: before each batch the erasure records are read
//! (as the live consumer reads them before each insert), and rows of an erased run are
//! counted and left out. Without the records the import stores nothing. A row that
//! ClickHouse refuses is counted by its error code and left out, and the rest of the
//! batch is stored (`store`, as the live consumer does).
//!
//! After each batch is stored, the position in the old table is saved
//! (`import_checkpoints`), and a rerun starts after it: after a kill, and at the
//! switch-over, for the rows written in between. The days an import adds to are marked
//! (`stats_pending_days`), so that the aggregator's next refresh materialises them, even
//! those already frozen.

mod progress;
mod row;
mod source;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use clickhouse::Client;
use schemas::Event;
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::erasures::Erasures;
use crate::settings::Settings;
use crate::sink::{ClickHouseSink, InsertError};
use crate::store::Storing;
pub use source::Source;
use source::{Position, Reader};

/// The namespace of imported events' ids: `Uuid::new_v5(&IMPORT_NAMESPACE, id)`.
const IMPORT_NAMESPACE: Uuid = Uuid::from_u128(0x6a1c_3b5e_0f42_4d7a_9e18_b27c_5d90_e341);

/// `consumer import`'s options.
#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub source: Source,
    /// Rows read, checked and stored at a time.
    #[arg(long, default_value_t = 10_000)]
    pub batch_rows: u64,
    /// Read the table from its first row, not from the saved position. Rows already
    /// stored are still not stored again.
    #[arg(long)]
    pub from_start: bool,
}

/// What an import did, by outcome.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Rows read from the old table.
    pub read: u64,
    /// Events stored by this run.
    pub stored: u64,
    /// Rows whose event an earlier run had stored.
    pub already_stored: u64,
    /// Rows older than the retention.
    pub expired: u64,
    /// Rows of installations erased on request.
    pub erased: u64,
    /// Rows refused as a client body would be, by `<code> <field>`, and rows ClickHouse
    /// refused, by `clickhouse <code>`.
    pub rejected: BTreeMap<String, u64>,
}

impl ImportReport {
    pub fn skipped(&self) -> u64 {
        self.expired + self.erased + self.rejected.values().sum::<u64>()
    }

    /// `invalid_value nsapp=3, missing_field random_id=1`, for a log line.
    pub fn rejected_summary(&self) -> String {
        let parts: Vec<String> = self
            .rejected
            .iter()
            .map(|(reason, n)| format!("{reason}={n}"))
            .collect();
        parts.join(", ")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("reading the old table: {0}")]
    Source(clickhouse::error::Error),
    #[error("the events table: {0}")]
    Target(#[from] clickhouse::error::Error),
    #[error(transparent)]
    Insert(#[from] InsertError),
    #[error("the erasure records cannot be read, so nothing is imported: {0}")]
    Erasures(async_nats::Error),
}

/// Import every row after the saved position (or all, with `--from-start`), as of `now`.
pub async fn import(
    settings: &Settings,
    args: &ImportArgs,
    now: OffsetDateTime,
) -> Result<ImportReport, ImportError> {
    let reader = Reader::open(&args.source)
        .await
        .map_err(ImportError::Source)?;
    let nats = settings
        .nats
        .connect_options("telemetry-import")
        .connect(settings.nats.servers())
        .await
        .map_err(|e| ImportError::Erasures(e.into()))?;
    let erasures = Erasures::new(async_nats::jetstream::new(nats), settings.nats.clone());
    let target = settings.clickhouse.client();
    let name = args.source.name();
    let mut position = if args.from_start {
        Position::default()
    } else {
        checkpoint(&target, &name).await?
    };
    let remaining = reader
        .remaining(&position)
        .await
        .map_err(ImportError::Source)?;
    tracing::info!(source = %name, remaining, after_id = %position.id, "import starting");
    let mut progress = progress::Progress::new(remaining);
    let expired_before = now - time::Duration::days(i64::from(settings.consumer.retention_days));
    // The record's limit on free text, as ingest applies it by default.
    let parse = schemas::parse::ParseOptions::default();
    let sink = ClickHouseSink {
        client: target.clone(),
        table: settings.clickhouse.events_table(),
    };
    let mut report = ImportReport::default();
    loop {
        let rows = reader
            .page(&position, args.batch_rows.max(1))
            .await
            .map_err(ImportError::Source)?;
        let Some(last) = rows.last() else { break };
        let next = Position {
            created_ms: last.created_ms,
            id: last.id.clone(),
        };
        let erased = erasures.current().await.map_err(ImportError::Erasures)?;
        let mut events = Vec::with_capacity(rows.len());
        for row in &rows {
            report.read += 1;
            let Some(received_at) =
                OffsetDateTime::from_unix_timestamp_nanos(i128::from(row.created_ms) * 1_000_000)
                    .ok()
            else {
                *report
                    .rejected
                    .entry("invalid_value created".into())
                    .or_default() += 1;
                continue;
            };
            if received_at < expired_before {
                report.expired += 1;
                continue;
            }
            let event_id = Uuid::new_v5(&IMPORT_NAMESPACE, row.id.as_bytes());
            match schemas::parse::from_value(&row::client_body(row), &parse, event_id, received_at)
            {
                Ok(event) if erased.contains(&event.random_id) => report.erased += 1,
                Ok(event) => events.push(event),
                Err(refused) => {
                    let reason = format!(
                        "{} {}",
                        refused.code.as_str(),
                        refused.field.unwrap_or("body")
                    );
                    *report.rejected.entry(reason).or_default() += 1;
                }
            }
        }
        let parsed = events.len();
        let new = not_yet_stored(&target, settings.clickhouse.events_table(), events).await?;
        report.already_stored += (parsed - new.len()) as u64;
        if !new.is_empty() {
            mark_days(&target, &new).await?;
            let refused = store(&sink, &new).await?;
            for (_, reason) in &refused {
                *report.rejected.entry(reason.clone()).or_default() += 1;
            }
            report.stored += (new.len() - refused.len()) as u64;
        }
        save_checkpoint(&target, &name, &next, report.read).await?;
        position = next;
        progress.update(&report);
    }
    progress.finish(&report);
    Ok(report)
}

/// Store `events`, leaving out the rows ClickHouse refuses (returned with their reason,
/// `clickhouse <code>`). An outage ends the import: a rerun resumes at the position, which
/// is saved only after a batch is stored.
async fn store(
    sink: &ClickHouseSink,
    events: &[Event],
) -> Result<Vec<(usize, String)>, ImportError> {
    let mut storing = Storing::new(events.len());
    let mut backoff =
        runtime::backoff::Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
    loop {
        match storing.resume(sink, events).await {
            Ok(refused) => {
                return Ok(refused
                    .into_iter()
                    .map(|(i, why)| (i, format!("clickhouse {}", code_of(&why))))
                    .collect());
            }
            // Retried a bounded number of times by `Storing` before it blames the rows.
            Err(InsertError::Unexplained { .. }) => tokio::time::sleep(backoff.next_wait()).await,
            Err(e) => return Err(e.into()),
        }
    }
}

/// `code 53` of a ClickHouse error text, or `error` if it has none: a bounded reason.
fn code_of(error: &str) -> String {
    error
        .split("Code: ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .filter(|digits| !digits.is_empty())
        .map_or_else(|| "error".into(), |digits| format!("code {digits}"))
}

/// Where the last run over `source` stopped; the start when none did.
async fn checkpoint(target: &Client, source: &str) -> clickhouse::error::Result<Position> {
    let saved = target
        .query(
            "SELECT toUnixTimestamp64Milli(created), id FROM import_checkpoints FINAL
             WHERE source = ?",
        )
        .bind(source)
        .fetch_optional::<(i64, String)>()
        .await?;
    Ok(saved
        .map(|(created_ms, id)| Position { created_ms, id })
        .unwrap_or_default())
}

async fn save_checkpoint(
    target: &Client,
    source: &str,
    position: &Position,
    rows_read: u64,
) -> clickhouse::error::Result<()> {
    target
        .query(
            "INSERT INTO import_checkpoints (source, created, id, rows_read, updated_at)
             SELECT ?, fromUnixTimestamp64Milli(toInt64(?), 'UTC'), ?, ?, now64(3)",
        )
        .bind(source)
        .bind(position.created_ms)
        .bind(&position.id)
        .bind(rows_read)
        .execute()
        .await
}

/// Event ids looked up in one query.
const LOOKUP_IDS: usize = 2_000;

/// `events` without those an earlier run stored. The batch's time range narrows the
/// look-up to the partitions it can be in.
async fn not_yet_stored(
    target: &Client,
    table: &str,
    events: Vec<Event>,
) -> clickhouse::error::Result<Vec<Event>> {
    let (Some(first), Some(last)) = (
        events.iter().map(|e| e.received_at).min(),
        events.iter().map(|e| e.received_at).max(),
    ) else {
        return Ok(events);
    };
    let ids: Vec<String> = events.iter().map(|e| e.event_id.to_string()).collect();
    let mut stored = BTreeSet::new();
    // In slices: the ids are part of the query's text, which ClickHouse caps at 256 KiB
    // (`max_query_size`), about 6 000 of them.
    for slice in ids.chunks(LOOKUP_IDS) {
        stored.extend(
            target
                .query(&format!(
                    "SELECT toString(event_id) FROM {table}
                     WHERE received_at BETWEEN fromUnixTimestamp64Milli(toInt64(?), 'UTC')
                                           AND fromUnixTimestamp64Milli(toInt64(?), 'UTC')
                       AND event_id IN ?"
                ))
                .bind(millis(first))
                .bind(millis(last))
                .bind(slice)
                .fetch_all::<String>()
                .await?,
        );
    }
    Ok(events
        .into_iter()
        .filter(|e| !stored.contains(&e.event_id.to_string()))
        .collect())
}

/// Mark the days of `events` for the aggregator to materialise again, before the
/// events are stored: a kill in between leaves a mark too many, never one too few.
async fn mark_days(target: &Client, events: &[Event]) -> clickhouse::error::Result<()> {
    let days: BTreeSet<String> = events
        .iter()
        .map(|e| e.received_at.date().to_string())
        .collect();
    let days: Vec<String> = days.into_iter().collect();
    target
        .query(
            "INSERT INTO stats_pending_days (day, marked_at)
             SELECT toDate(d), now64(3) FROM (SELECT arrayJoin(?) AS d)",
        )
        .bind(&days)
        .execute()
        .await
}

fn millis(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}
