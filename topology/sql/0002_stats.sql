-- Materialised run statistics, kept indefinitely (no TTL).
--
-- A day's statistics are computed from the raw events of the runs that started that
-- day, as one generation; `stats_days` names the current generation of each day, so a
-- recomputation is switched in at once and readers never see half of it. A day is frozen
-- once no event can still change it; its numbers are then never recomputed, and so stay
-- the same after its raw rows have expired.
CREATE TABLE IF NOT EXISTS stats_days
(
    day         Date,
    generation  UInt64,
    frozen      Bool,
    runs        UInt64,
    computed_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(generation)
ORDER BY day;

-- Runs by outcome, per dimension value. `nsapp` is empty for the rollup over all apps,
-- and names the app for the per-app breakdowns.
CREATE TABLE IF NOT EXISTS stats_daily
(
    day        Date,
    generation UInt64,
    dimension  LowCardinality(String),
    value      String,
    nsapp      LowCardinality(String),
    outcome    LowCardinality(String),
    runs       UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, generation, dimension, nsapp, value, outcome);

-- Install durations of successful runs per app, as mergeable quantile states so that
-- p50 and p90 can be read over any window of days.
CREATE TABLE IF NOT EXISTS stats_durations
(
    day        Date,
    generation UInt64,
    nsapp      LowCardinality(String),
    runs       UInt64,
    durations  AggregateFunction(quantilesTDigest(0.5, 0.9), UInt32)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, generation, nsapp);
