-- The raw table keyed by the event's identity alone (ARCHITECTURE.md, "Exactly once").
--
-- 0001 keyed rows by (nsapp, received_at, event_id) with a random event_id, so only a
-- redelivered copy of one message collapsed. Ingest now sets event_id to the event's
-- content identity and groups many events into one message, so the key is
-- (nsapp, event_id): a client's retry and a redelivered copy are one row, whenever and
-- in whichever message they arrived. Older rows keep their ids, unique as they were.
--
-- A sorting key cannot lose a column in place, so the table is rebuilt beside the old
-- one and exchanged with it. Every step is safe to repeat after a crash: the `when`
-- guards (read by the migration runner) tell the old table from the new one. Rows that a
-- consumer of the previous release stored during the copy are copied over after the
-- exchange; repeated copies collapse like any other.
-- when: SELECT count() = 0 FROM system.columns WHERE database = currentDatabase() AND table = 'events' AND name = 'received_rank'
DROP TABLE IF EXISTS events_rekeyed;

-- when: SELECT count() = 0 FROM system.columns WHERE database = currentDatabase() AND table = 'events' AND name = 'received_rank'
CREATE TABLE IF NOT EXISTS events_rekeyed
(
    event_id         UUID,
    received_at      DateTime64(3, 'UTC'),
    random_id        UUID,
    execution_id     Nullable(UUID),
    type             LowCardinality(String),
    nsapp            LowCardinality(String),
    status           LowCardinality(String),
    ct_type          Nullable(UInt8),
    disk_size        Nullable(UInt32),
    core_count       Nullable(UInt16),
    ram_size         Nullable(UInt32),
    os_type          LowCardinality(String),
    os_version       LowCardinality(String),
    pve_version      LowCardinality(String),
    method           LowCardinality(String),
    exit_code        Nullable(UInt8),
    error            String CODEC(ZSTD(3)),
    error_category   LowCardinality(String),
    install_duration Nullable(UInt32),
    cpu_vendor       LowCardinality(String),
    cpu_model        LowCardinality(String),
    gpu_vendor       LowCardinality(String),
    gpu_model        LowCardinality(String),
    gpu_passthrough  LowCardinality(String),
    ram_speed        LowCardinality(String),
    arch             LowCardinality(String),
    platform         LowCardinality(String),
    has_arm          Nullable(Bool),
    repo_source      LowCardinality(String),
    repo_slug        LowCardinality(String),
    payload_version  Nullable(UInt8),
    kernel_version   LowCardinality(String),
    app_version      LowCardinality(String),
    failed_command   String CODEC(ZSTD(3)),
    failed_line      Nullable(UInt32),
    -- Which copy of an event the table keeps: the first received. ReplacingMergeTree
    -- keeps the highest version, so the version falls as received_at grows.
    received_rank    UInt64 MATERIALIZED 18446744073709551615 - toUInt64(toUnixTimestamp64Milli(received_at)),
    INDEX received_at_range received_at TYPE minmax GRANULARITY 4
)
ENGINE = ReplacingMergeTree(received_rank)
PARTITION BY toYYYYMM(received_at)
ORDER BY (nsapp, event_id)
TTL received_at + INTERVAL 365 DAY DELETE;

-- when: SELECT count() = 0 FROM system.columns WHERE database = currentDatabase() AND table = 'events' AND name = 'received_rank'
INSERT INTO events_rekeyed SELECT * FROM events;

-- when: SELECT count() = 0 FROM system.columns WHERE database = currentDatabase() AND table = 'events' AND name = 'received_rank'
EXCHANGE TABLES events AND events_rekeyed;

-- when: SELECT count() > 0 FROM system.tables WHERE database = currentDatabase() AND name = 'events_rekeyed'
INSERT INTO events SELECT * FROM events_rekeyed WHERE event_id NOT IN (SELECT event_id FROM events);

DROP TABLE IF EXISTS events_rekeyed;
