-- What `consumer import` needs to be resumable and to reach the statistics.
--
-- `import_checkpoints`: per source table, the last row (by `created`, then `id`) whose
-- batch is stored. A rerun, after a kill or for the rows written since, starts after it.
--
-- `stats_pending_days`: days whose raw events an import added to. The aggregator's
-- refresh recomputes them even when they are frozen (a frozen day is otherwise never
-- recomputed), then deletes the marks it has acted on.
CREATE TABLE IF NOT EXISTS import_checkpoints
(
    source     String,
    created    DateTime64(3, 'UTC'),
    id         String,
    rows_read  UInt64,
    updated_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY source;

CREATE TABLE IF NOT EXISTS stats_pending_days
(
    day       Date,
    marked_at DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY (day, marked_at);
