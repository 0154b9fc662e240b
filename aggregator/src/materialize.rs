//! Materialising the run statistics: each day's numbers, computed from the runs that
//! started that day, as one generation, switched in at once.
//!
//! What a run is (its id, environment, terminal status, repository and platform) is
//! ClickHouse's view `runs_between` (migration 0011), the one definition the analysts and
//! Grafana read too. Here is what depends on this service's settings and rules: a run
//! without a terminal status is `in_progress` until `stuck_after` has passed since its
//! first event, then `unfinished`; its error pattern is the first line of its terminal
//! error text with numbers, paths and the like masked (crate::patterns).
//!
//! Every group also keeps which 16-bit buckets its runs' installations fall in (see
//! migration 0004): what the k rule over installations needs after the raw rows expire.
//!
//! A day is recomputed on every refresh until it is frozen: `freeze_after` past its end,
//! when no late event can arrive any more (a queue backlog is at most `nats.max_age`, 7
//! days, and a run at most a day long). A frozen day is never recomputed, so its numbers
//! stay as they are after its raw rows expire. The one exception is a day that an import
//! of the old service's history added raw events to (`stats_pending_days`, migration
//! 0005): it is recomputed once more, frozen or not, while its raw events exist.

use std::time::Duration;

use clickhouse::Client;
use time::{Date, OffsetDateTime};

use crate::counts::Outcome;
use crate::dimension::Dimension;

/// The materialisation's version, kept with each day in `stats_days`: a day computed by
/// an older version (before repositories and installations were kept) is computed again
/// while its raw events exist, frozen or not.
pub const VERSION: u16 = 2;

/// One row per run that started on `{day}`, with its outcome and dimensions.
///
/// The run itself is ClickHouse's `runs_between` (migration 0011), the definition that
/// analysts and Grafana read too, so the dashboard and their SQL cannot disagree on what
/// a run, its repository or its outcome is. What stays here depends on this service's
/// settings and rules: the outcome of an unfinished run (`stuck_after`, and `now` as
/// the refresh sees it), the buckets, and the error patterns, whose rules live in Rust.
fn runs_sql() -> String {
    let pattern = crate::patterns::sql("error");
    // The command that failed (the v2 client's `failed_command`), masked by the same
    // rules: what differs between two runs of it is versions, paths and numbers.
    let command = crate::patterns::sql("failed_command");
    let failures = Outcome::failures_sql();
    let (unfinished, in_progress) = (Outcome::Unfinished.name(), Outcome::InProgress.name());
    format!(
        "SELECT
            run, random_id, repo, host,
            nsapp, type, os_type, pve_version, platform, method, cpu_vendor, gpu_vendor,
            gpu_passthrough, gpu_type, arch, repo_source, payload_version,
            if(os_type = '', '', concat(os_type, ' ', os_version)) AS os,
            ifNull(toString(ct_type), '') AS ct_type,
            multiIf(core_count IS NULL, '', core_count <= 1, '1', core_count <= 2, '2',
                    core_count <= 4, '3-4', core_count <= 8, '5-8', core_count <= 16, '9-16', '17+') AS cores,
            multiIf(ram_size IS NULL, '', ram_size <= 512, '<=512MiB', ram_size <= 1024, '<=1GiB',
                    ram_size <= 2048, '<=2GiB', ram_size <= 4096, '<=4GiB', ram_size <= 8192, '<=8GiB',
                    ram_size <= 16384, '<=16GiB', '>16GiB') AS ram,
            multiIf(disk_size IS NULL, '', disk_size <= 4, '<=4GB', disk_size <= 8, '<=8GB',
                    disk_size <= 16, '<=16GB', disk_size <= 32, '<=32GB', disk_size <= 64, '<=64GB',
                    disk_size <= 128, '<=128GB', '>128GB') AS disk,
            multiIf(terminal_status != '', terminal_status,
                    started < parseDateTime64BestEffort({{now:String}}, 3) - toIntervalSecond({{stuck:UInt32}}), '{unfinished}',
                    '{in_progress}') AS outcome,
            if(terminal_status IN {failures}, error_category, '') AS error_category,
            if(terminal_status != '', ifNull(toString(exit_code), ''), '') AS exit_code,
            if(terminal_status IN {failures}, {pattern}, '') AS pattern,
            if(terminal_status IN {failures}, {command}, '') AS command,
            install_duration AS duration
        FROM runs_between(from = toDate({{day:String}}), to = toDate({{day:String}}) + 1)"
    )
}

#[derive(Debug, Clone)]
pub struct Refresh {
    pub stuck_after: Duration,
    pub freeze_after: Duration,
    /// How long after a day has ended it is released (crate::release).
    pub release_delay: Duration,
    /// The raw events: `events`, or on a cluster `events_all`.
    pub events: &'static str,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RefreshReport {
    pub days_computed: usize,
    pub days_frozen: usize,
    /// The last day of the release this refresh cut, if it cut one.
    pub released_through: Option<Date>,
}

impl Refresh {
    /// Recompute every day that has raw events and is not frozen yet, and every day an
    /// import has added raw events to since; then cut the release that is due, if any.
    pub async fn run(
        &self,
        client: &Client,
        now: OffsetDateTime,
    ) -> clickhouse::error::Result<RefreshReport> {
        // The marks this refresh acts on: those made before it looked. A mark made while
        // it computes stays for the next refresh.
        let marked_until: i64 = client
            .query("SELECT toUnixTimestamp64Milli(max(marked_at)) FROM stats_pending_days")
            .fetch_one()
            .await?;
        let days: Vec<Date> = client
            .query(&format!(
                "SELECT DISTINCT toDate(received_at) AS day FROM {}
                 WHERE day NOT IN (SELECT day FROM stats_days FINAL WHERE frozen AND version >= ?)
                    OR day IN (SELECT day FROM stats_pending_days)
                 ORDER BY day",
                self.events
            ))
            .bind(VERSION)
            .fetch_all::<u16>()
            .await?
            .into_iter()
            .filter_map(date_of)
            .collect();
        let mut report = RefreshReport::default();
        for &day in &days {
            let frozen = self.compute_day(client, day, now).await?;
            report.days_computed += 1;
            report.days_frozen += usize::from(frozen);
        }
        if !days.is_empty() {
            // Earlier generations of these days are no longer read, except those the
            // public release pinned (crate::release); remove them, in one statement per
            // table (every day of a cycle has the same generation). The
            // delete is asynchronous: readers never see old generations anyway, and
            // waiting for the mutation would cost seconds per cycle. Only generations
            // older than this one go, so a concurrent refresh's newer one is safe.
            let generation = generation_at(now);
            let days: Vec<String> = days.iter().map(Date::to_string).collect();
            for table in ["stats_groups", "stats_durations"] {
                client
                    .query(&format!(
                        "DELETE FROM {table} WHERE day IN ? AND generation < {generation}
                           AND (day, generation) NOT IN (SELECT day, generation FROM stats_releases)"
                    ))
                    .bind(&days)
                    .with_setting("lightweight_deletes_sync", "0")
                    .execute()
                    .await?;
            }
            // What an older version materialised for these days (migration 0004).
            client
                .query("DELETE FROM stats_runs WHERE day IN ?")
                .bind(&days)
                .with_setting("lightweight_deletes_sync", "0")
                .execute()
                .await?;
            // Synchronous: a mark still visible to the next refresh would only cost a
            // recomputation, but an operator checking an import should see it gone.
            client
                .query(
                    "DELETE FROM stats_pending_days
                     WHERE day IN ? AND marked_at <= fromUnixTimestamp64Milli(toInt64(?))",
                )
                .bind(&days)
                .bind(marked_until)
                .execute()
                .await?;
        }
        // Only after the days have been computed at `now`: the release pins each day as
        // it stands once its runs have had the delay to finish.
        report.released_through = crate::release::cut_due(client, now, self.release_delay).await?;
        Ok(report)
    }

    /// Compute one day as a new generation and switch it in. Returns whether it is now frozen.
    pub async fn compute_day(
        &self,
        client: &Client,
        day: Date,
        now: OffsetDateTime,
    ) -> clickhouse::error::Result<bool> {
        let generation = generation_at(now);
        let day_end = day.next_day().unwrap_or(day).midnight().assume_utc();
        let frozen = now - day_end >= self.freeze_after;
        let runs = runs_sql();
        let day_s = day.to_string();
        let now_s = now
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let stuck = u32::try_from(self.stuck_after.as_secs()).unwrap_or(u32::MAX);
        // The day's query parameters, for every statement below (unused ones are ignored).
        let client = client
            .clone()
            .with_setting("param_day", &day_s)
            .with_setting("param_now", &now_s)
            .with_setting("param_stuck", stuck.to_string());

        // Every dimension over all apps, then those kept per app as well.
        let over_all = Dimension::ALL.into_iter().map(|d| (d, false));
        let per_app = Dimension::ALL
            .into_iter()
            .filter(|d| d.per_app())
            .map(|d| (d, true));
        let dims: Vec<String> = over_all
            .chain(per_app)
            .map(|(d, per_app)| format!("('{}', {}, {per_app})", d.name(), d.of_a_run()))
            .collect();
        client
            .query(&format!(
                "INSERT INTO stats_groups (day, generation, repo, platform, dimension, value, nsapp, outcome, runs, installs, cell_key)
                 SELECT toDate({{day:String}}), {generation}, repo, host, d.1, d.2, if(d.3, nsapp, ''), outcome, count(),
                        groupBitmapState({}), groupBitXor({CELL_KEY})
                 FROM ({runs}) ARRAY JOIN [{}] AS d
                 GROUP BY repo, host, d.1, d.2, if(d.3, nsapp, ''), outcome",
                bucket("d.1, d.3"),
                dims.join(", ")
            ))
            .execute()
            .await?;
        client
            .query(&format!(
                "INSERT INTO stats_durations (day, generation, repo, platform, nsapp, runs, durations, installs)
                 SELECT toDate({{day:String}}), {generation}, repo, host, nsapp, count(),
                        quantilesTDigestState(0.5, 0.9)(toUInt32(assumeNotNull(duration))),
                        groupBitmapState({})
                 FROM ({runs}) WHERE outcome = '{}' AND duration IS NOT NULL
                 GROUP BY repo, host, nsapp",
                bucket("'duration'"),
                Outcome::Success.name()
            ))
            .execute()
            .await?;
        // The switch: from here on readers see this generation of the day.
        client
            .query(&format!(
                "INSERT INTO stats_days (day, generation, frozen, runs, computed_at, version)
                 SELECT toDate({{day:String}}), {generation}, {frozen}, sum(runs), now64(3), {VERSION}
                 FROM stats_groups WHERE day = toDate({{day:String}}) AND generation = {generation}
                   AND dimension = 'all' AND nsapp = ''"
            ))
            .execute()
            .await?;
        Ok(frozen)
    }
}

/// A run's share of its rows' `cell_key` (migration 0008, crate::noise). Unlike the
/// buckets it is not salted per dimension: a count made of the same runs must get the
/// same noise in every table, or a reader would average one run's noise away over the
/// tables that each count it.
const CELL_KEY: &str = "sipHash64('cell', run)";

/// The installation bucket of a run, salted with `salt` (SQL expressions): the same
/// installation falls in unrelated buckets in different dimensions, so that one run's
/// rows cannot be joined across them.
fn bucket(salt: &str) -> String {
    format!("toUInt16(sipHash64({salt}, random_id) % 65536)")
}

/// A refresh's generation: its time in microseconds, so that later refreshes win.
fn generation_at(now: OffsetDateTime) -> u64 {
    u64::try_from(now.unix_timestamp_nanos() / 1_000).unwrap_or(u64::MAX)
}

/// `Date` counts Julian days; ClickHouse's `Date` counts days since 1970-01-01.
const UNIX_EPOCH_JULIAN: i32 = 2_440_588;

/// The date of a ClickHouse `Date` (`toUInt16(day)`); every one is a `Date` too.
pub(crate) fn date_of(days_since_1970: u16) -> Option<Date> {
    Date::from_julian_day(UNIX_EPOCH_JULIAN + i32::from(days_since_1970)).ok()
}

/// The filter that selects the current generation of each day: what the internal views
/// read (the public ones read crate::release::RELEASED).
pub const CURRENT: &str = "(day, generation) IN (SELECT day, generation FROM stats_days FINAL)";
