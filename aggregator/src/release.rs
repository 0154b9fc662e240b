//! The public release: what the public API, the dashboard and the export read.
//!
//! The statistics are recomputed every `refresh_interval`, but a document that changed
//! with every refresh would show, to anyone polling it, the runs of the last minute one
//! by one: their app, OS, resources and exit code. So the public sees only complete UTC
//! days, and only as they were when they were released. A release through day D is cut
//! by the first refresh after D has ended and its runs have had `release_delay` to
//! finish (a run without a terminal status is `unfinished` after `stuck_after`, which
//! the delay exceeds); it pins the generation of every day up to D that was then current
//! (migration 0007). Until the next release every public number stays exactly as it
//! was, whatever the refreshes recompute meanwhile; "today" is never public.
//!
//! Only the latest release is kept. The generations it pins survive the refreshes'
//! clean-up (crate::materialize) until a later release pins others.

use std::time::Duration;

use clickhouse::{Client, Row};
use serde::Deserialize;
use time::{Date, OffsetDateTime};

/// The filter that selects, in a statistics table, the days of the latest release in
/// the generations it pinned: every public read goes through it.
pub const RELEASED: &str = "(day, generation) IN (SELECT day, generation FROM stats_releases FINAL
     WHERE through = (SELECT max(through) FROM stats_releases))";

/// The latest release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Release {
    /// The last day it covers: every public window ends here.
    pub through: Date,
    /// When it was cut: every document's `generated_at`.
    pub released_at: OffsetDateTime,
}

/// The (day, generation) pairs the latest release pinned, days as ClickHouse counts them.
async fn pins(client: &Client) -> clickhouse::error::Result<Vec<(u16, u64)>> {
    client
        .query(
            "SELECT toUInt16(day), generation FROM stats_releases FINAL
             WHERE through = (SELECT max(through) FROM stats_releases)",
        )
        .fetch_all()
        .await
}

/// The latest release, if one has been cut.
pub async fn latest(client: &Client) -> clickhouse::error::Result<Option<Release>> {
    #[derive(Row, Deserialize)]
    struct Latest {
        #[serde(with = "clickhouse::serde::time::date")]
        last: Date,
        #[serde(with = "clickhouse::serde::time::datetime64::millis")]
        at: OffsetDateTime,
        rows: u64,
    }
    let latest: Latest = client
        .query(
            "SELECT max(r.through) AS last, max(r.released_at) AS at, count() AS rows
             FROM stats_releases AS r FINAL
             WHERE r.through = (SELECT max(through) FROM stats_releases)",
        )
        .fetch_one()
        .await?;
    Ok((latest.rows > 0).then_some(Release {
        through: latest.last,
        released_at: latest.at,
    }))
}

/// The last day a release cut at `now` may cover: the last complete UTC day whose runs
/// have had `delay` to finish.
pub fn due(now: OffsetDateTime, delay: Duration) -> Option<Date> {
    (now - delay).date().previous_day()
}

/// Cut the release that is due at `now`, unless it has been cut already. Returns the day
/// it goes through when it cut one (none while no day up to it has statistics).
pub async fn cut_due(
    client: &Client,
    now: OffsetDateTime,
    delay: Duration,
) -> clickhouse::error::Result<Option<Date>> {
    let Some(through) = due(now, delay) else {
        return Ok(None);
    };
    if latest(client).await?.is_some_and(|r| r.through >= through) {
        return Ok(None);
    }
    let days = cut(client, through, now).await?;
    Ok((days > 0).then_some(through))
}

/// Release every materialised day up to `through`, in its current generation, as the
/// only release (replacing one through the same day). The refresh calls it through
/// [`cut_due`] only, so releases only move forward; the tests call it to release a day
/// that has not ended yet. Returns how many days it released: none while no day up to
/// `through` has statistics, and then nothing is cut.
pub async fn cut(
    client: &Client,
    through: Date,
    now: OffsetDateTime,
) -> clickhouse::error::Result<u64> {
    let days: u64 = client
        .query("SELECT count() FROM stats_days FINAL WHERE day <= toDate(?)")
        .bind(through.to_string())
        .fetch_one()
        .await?;
    if days == 0 {
        return Ok(0);
    }
    // Nothing is published without its noise (crate::noise).
    crate::noise::ensure_secret(client).await?;
    let previous = pins(client).await?;
    client
        .query(
            "INSERT INTO stats_releases (through, day, generation, runs, released_at)
             SELECT toDate(?), day, generation, runs, fromUnixTimestamp64Milli(toInt64(?))
             FROM stats_days FINAL WHERE day <= toDate(?)",
        )
        .bind(through.to_string())
        .bind(i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX))
        .bind(through.to_string())
        .execute()
        .await?;
    client
        .query("DELETE FROM stats_releases WHERE through != toDate(?)")
        .bind(through.to_string())
        .execute()
        .await?;
    // The generations only the previous release pinned are no longer read: a day still
    // recomputed would lose them at its next refresh, but a day frozen since would keep
    // them for good.
    let pinned: std::collections::HashSet<(u16, u64)> = pins(client).await?.into_iter().collect();
    let stale: Vec<u16> = previous
        .into_iter()
        .filter(|pin| !pinned.contains(pin))
        .map(|(day, _)| day)
        .collect();
    if !stale.is_empty() {
        for table in ["stats_groups", "stats_durations"] {
            client
                .query(&format!(
                    "DELETE FROM {table} WHERE toUInt16(day) IN ?
                       AND (day, generation) NOT IN (SELECT day, generation FROM stats_days FINAL)
                       AND (day, generation) NOT IN (SELECT day, generation FROM stats_releases)"
                ))
                .bind(&stale)
                .with_setting("lightweight_deletes_sync", "0")
                .execute()
                .await?;
        }
    }
    Ok(days)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_day_is_due_once_it_has_ended_and_its_runs_had_the_delay_to_finish() {
        let delay = Duration::from_secs(3 * 3600);
        assert_eq!(
            due(datetime!(2026-12-07 02:59 UTC), delay),
            Some(time::macros::date!(2026 - 12 - 05))
        );
        assert_eq!(
            due(datetime!(2026-12-07 03:00 UTC), delay),
            Some(time::macros::date!(2026 - 12 - 06))
        );
        assert_eq!(
            due(datetime!(2026-12-07 23:59 UTC), delay),
            Some(time::macros::date!(2026 - 12 - 06))
        );
    }
}
