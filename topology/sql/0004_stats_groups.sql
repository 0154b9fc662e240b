-- Run statistics by repository, with what the k rule needs to stay true for good.
--
-- `stats_groups` replaces `stats_runs`. Every group (dimension value, per app or over
-- all apps, per day) is split by `repo`: `production` (ProxmoxVE), `development`
-- (ProxmoxVED) or `external` (forks), so that a filter by repository is exact on frozen
-- days, whose raw rows may have expired. `installs` is a bitmap of 16-bit buckets: each
-- run's installation (`random_id`) sets the bucket `sipHash64(dimension, scope,
-- random_id) % 65536`. Merged over any days, repositories and outcomes its cardinality is
-- at most the number of distinct installations (two installations can share a bucket,
-- one cannot set two), so "at least k buckets" proves "at least k installations". A
-- bucket is shared by every installation that hashes there, and is salted per dimension
-- so that the rows of one run cannot be joined across dimensions (ARCHITECTURE.md,
-- "k-anonymity").
--
-- Days materialised before this migration (into `stats_runs`) are recomputed from the
-- raw events, which still exist for every day not older than the retention; the
-- aggregator then deletes them from `stats_runs`. `stats_days.version` tells the two
-- apart.
CREATE TABLE IF NOT EXISTS stats_groups
(
    day        Date,
    generation UInt64,
    repo       LowCardinality(String),
    dimension  LowCardinality(String),
    value      String,
    nsapp      LowCardinality(String),
    outcome    LowCardinality(String),
    runs       UInt64,
    installs   AggregateFunction(groupBitmap, UInt16)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (dimension, nsapp, repo, day, generation, value, outcome);

ALTER TABLE stats_durations ADD COLUMN IF NOT EXISTS repo LowCardinality(String) DEFAULT '';

ALTER TABLE stats_durations ADD COLUMN IF NOT EXISTS installs AggregateFunction(groupBitmap, UInt16);

ALTER TABLE stats_days ADD COLUMN IF NOT EXISTS version UInt16 DEFAULT 1;
