-- The public release of the statistics.
--
-- The public API, the dashboard and the export read the days of the latest release, each
-- in the generation the release pinned, and nothing else: the statistics are recomputed
-- every minute, but what the public sees changes once a day, when a complete UTC day is
-- released, so that polling cannot tell one run from the next. A release through day D
-- is cut once D has ended and its runs have had `aggregator.release_delay` to finish; it
-- pins the generation of every day up to D then current. Generations a release pins are
-- kept until a later release no longer does. Only the latest release is kept.
CREATE TABLE IF NOT EXISTS stats_releases
(
    through     Date,
    day         Date,
    generation  UInt64,
    runs        UInt64,
    released_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(released_at)
ORDER BY (through, day);
