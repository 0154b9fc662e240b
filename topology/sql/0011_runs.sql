-- One definition of a run, in ClickHouse, read by everyone: the aggregator's statistics
-- and its 24-hour gauges, the analysts' SQL and Grafana's panels (docs/analysts.md).
--
-- A run is one `execution_id`, or the `random_id` when the client sent none. Its
-- environment comes from its installing event, else from the first event that carries
-- the field; its terminal fields from its first success, failed or aborted event
-- (repeats are ignored). "First" is by `received_at`, and events of one batch share it,
-- so ties are broken by the event's identity: every read picks the same event. `env_key` sorts installing events before all
-- others (2^42 ms is past any timestamp), then by the same order.
--
-- A view, not a stored copy: late events, an erasure and the retention TTL are whatever
-- `events` holds when it is read, with nothing more to erase or expire. No FINAL: every
-- field is a min or an argMin, which a stored copy of an event (same content, later
-- `received_at`) cannot change; only a count of events must use distinct ids.
--
-- `runs_between(from, to)` gives the runs that started in [from, to). It reads
-- `received_at` from a day before `from` to a day after `to`: a run lasts at most a day,
-- so each run is seen whole, and one that started before `from` is not counted again
-- from its later events. Because it is parameterised, ClickHouse reads only the
-- partitions of the window. DEFINER: a reader needs SELECT on the view, not on `events`.
-- On a cluster it reads `events_all` (topology::migrations::for_cluster).
CREATE OR REPLACE VIEW runs_between
SQL SECURITY DEFINER
AS SELECT
    run, installation AS random_id, started, last_seen, events, nsapp, type,
    multiIf(repo_source = 'ProxmoxVED', 'development', repo_source = 'external', 'external', 'production') AS repo,
    if(platform = 'incus' OR startsWith(pve_version, 'incus'), 'incus', 'pve') AS host,
    repo_source, payload_version, os_type, os_version, pve_version, kernel_version, platform, method,
    cpu_vendor, gpu_vendor, gpu_passthrough, gpu_type, arch, app_version,
    ct_type, core_count, ram_size, disk_size,
    multiIf(terminal.1 != '', terminal.1,
            started < now64(3) - INTERVAL 2 HOUR, 'unfinished', 'in_progress') AS outcome,
    terminal.1 AS terminal_status, terminal.2 AS exit_code, terminal.3 AS error_category,
    terminal.4 AS install_duration, terminal.5 AS error, terminal.6 AS failed_command,
    terminal.7 AS failed_line
FROM
(
    SELECT
        coalesce(execution_id, random_id) AS run,
        min(received_at) AS started,
        max(received_at) AS last_seen,
        uniqExact(event_id) AS events,
        -- Not named random_id inside: it would shadow the column the key is made of.
        argMin(random_id, time_key) AS installation,
        argMin(nsapp, time_key) AS nsapp,
        argMin(type, time_key) AS type,
        argMinIf(os_type, env_key, status = 'installing' OR os_type != '') AS os_type,
        argMinIf(os_version, env_key, status = 'installing' OR os_version != '') AS os_version,
        argMinIf(pve_version, env_key, status = 'installing' OR pve_version != '') AS pve_version,
        argMinIf(kernel_version, env_key, status = 'installing' OR kernel_version != '') AS kernel_version,
        argMinIf(platform, env_key, status = 'installing' OR platform != '') AS platform,
        argMinIf(method, env_key, status = 'installing' OR method != '') AS method,
        argMinIf(cpu_vendor, env_key, status = 'installing' OR cpu_vendor != '') AS cpu_vendor,
        argMinIf(gpu_vendor, env_key, status = 'installing' OR gpu_vendor != '') AS gpu_vendor,
        argMinIf(gpu_passthrough, env_key, status = 'installing' OR gpu_passthrough != '') AS gpu_passthrough,
        argMinIf(gpu_type, env_key, status = 'installing' OR gpu_type != '') AS gpu_type,
        argMinIf(arch, env_key, status = 'installing' OR arch != '') AS arch,
        argMinIf(app_version, env_key, status = 'installing' OR app_version != '') AS app_version,
        argMinIf(repo_source, env_key, status = 'installing' OR repo_source != '') AS repo_source,
        argMinIf(ct_type, env_key, status = 'installing' OR isNotNull(ct_type)) AS ct_type,
        argMinIf(core_count, env_key, status = 'installing' OR isNotNull(core_count)) AS core_count,
        argMinIf(ram_size, env_key, status = 'installing' OR isNotNull(ram_size)) AS ram_size,
        argMinIf(disk_size, env_key, status = 'installing' OR isNotNull(disk_size)) AS disk_size,
        argMinIf(payload_version, env_key, status = 'installing' OR isNotNull(payload_version)) AS payload_version,
        -- One tuple, not a field each: aggregate functions skip NULL arguments, so a
        -- field apart would come from a later terminal event when the first lacks it.
        argMinIf((status, exit_code, error_category, install_duration, error, failed_command, failed_line),
                 time_key, status IN ('success', 'failed', 'aborted')) AS terminal
    FROM
    (
        SELECT *,
            bitOr(bitShiftLeft(toUInt128(toUInt64(toUnixTimestamp64Milli(received_at))), 64),
                  toUInt128(sipHash64(event_id))) AS time_key,
            bitOr(bitShiftLeft(toUInt128(toUInt64(status != 'installing') * 4398046511104
                                         + toUInt64(toUnixTimestamp64Milli(received_at))), 64),
                  toUInt128(sipHash64(event_id))) AS env_key
        FROM events
        WHERE received_at >= {from:DateTime64(3, 'UTC')} - INTERVAL 1 DAY
          AND received_at < {to:DateTime64(3, 'UTC')} + INTERVAL 1 DAY
    )
    GROUP BY run
    HAVING started >= {from:DateTime64(3, 'UTC')} AND started < {to:DateTime64(3, 'UTC')}
);

-- Every retained run. The call names the database (filled in by the migration runner),
-- or a reader whose current database is another would not find the function. The oldest
-- retained day is partial: a run whose first events expired shows a later start and
-- lacks its installing fields.
CREATE OR REPLACE VIEW runs
SQL SECURITY DEFINER
AS SELECT * FROM {database}.runs_between(from = '1970-01-02 00:00:00', to = '2105-12-31 00:00:00');
