-- The raw events table: one row per event that ingest acknowledged.
--
-- Each client field is a column named exactly as its JSON key (client-contract.md).
-- Strings of small, open-ended vocabularies are LowCardinality; absent numbers are NULL
-- because 0 means something for most of them (exit code 0, privileged ct_type 0).
--
-- ReplacingMergeTree with event_id in the sorting key: a redelivered message carries the
-- same event_id and received_at, so its row is an exact copy that merges collapse, and
-- `FINAL` (or `uniqExact(event_id)`) hides before the merge. See ARCHITECTURE.md.
--
-- Monthly partitions keep at most ~13 live partitions under a 365-day TTL. The TTL
-- deletes rows (not whole parts), so nothing outlives the window by a month; the
-- consumer rewrites the interval on start when `retention_days` changes.
CREATE TABLE IF NOT EXISTS events
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
    failed_line      Nullable(UInt32)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(received_at)
ORDER BY (nsapp, received_at, event_id)
TTL received_at + INTERVAL 365 DAY DELETE;
