//! `consumer import` over a generated copy of the old service's table: rows per second
//! from the old table to stored events, with every row parsed and scrubbed as live.

use std::time::Instant;

use anyhow::Context;

use crate::report::Import;
use crate::scratch;

pub async fn run(rows: u64, batch_rows: u64) -> anyhow::Result<Import> {
    let ns = scratch::namespace();
    let target = scratch::clickhouse("bench", &ns);
    let source = scratch::clickhouse("bench_old", &ns);
    let mut settings = consumer::Settings {
        clickhouse: target.clone(),
        ..Default::default()
    };
    settings.log.level = "warn".into();
    let result = measure(&settings, &source, rows, batch_rows).await;
    scratch::remove(None, &target).await;
    scratch::remove(None, &source).await;
    result
}

async fn measure(
    settings: &consumer::Settings,
    source: &topology::store::ClickHouseSettings,
    rows: u64,
    batch_rows: u64,
) -> anyhow::Result<Import> {
    consumer::migrate(settings)
        .await
        .context("migrating the bench database (run `make stack`)")?;
    let server = source.server_client();
    server
        .query(&format!("CREATE DATABASE {}", source.database))
        .execute()
        .await?;
    eprintln!("[bench] generating {rows} rows of the old service's table");
    // The old layout with its later columns; a year of runs, two rows each, a failure
    // in ten with a kilobyte of log that names hosts and addresses.
    server
        .query(&format!(
            "CREATE TABLE {db}.telemetry (
                id String, nsapp String, type String, status String, method String,
                created DateTime64(3), core_count UInt8, ct_type UInt8, disk_size UInt32,
                ram_size UInt32, exit_code Int16, error String, error_category String,
                os_type String, os_version String, pve_version String, random_id String,
                execution_id String, repo_source String, repo_slug String, has_arm UInt8,
                cpu_vendor String, cpu_model String, gpu_vendor String, gpu_model String,
                gpu_passthrough String, ram_speed String, install_duration UInt32
             ) ENGINE = MergeTree ORDER BY (created, nsapp) PARTITION BY toYYYYMM(created)",
            db = source.database
        ))
        .execute()
        .await?;
    server
        .query(&format!(
            "INSERT INTO {db}.telemetry
             SELECT lower(hex(sipHash128(number))),
                    ['jellyfin', 'nextcloud', 'homeassistant', 'pihole', 'docker'][number % 5 + 1],
                    'lxc',
                    multiIf(number % 2 = 0, 'installing', number % 20 = 1, 'failed', 'success'),
                    'default',
                    now64(3) - toIntervalSecond(intDiv(number, 2) * 30),
                    2, 1, 8, 2048,
                    if(number % 20 = 1, 1, 0),
                    if(number % 20 = 1,
                       concat('exit_code=1 | curl: (7) Failed to connect to nas-', toString(number % 97),
                              '.lan (10.0.', toString(number % 250), '.7) port 443\\n---\\n',
                              repeat('E: could not reach 192.168.1.23 as root from pve-home\\n', 20)),
                       ''),
                    if(number % 20 = 1, 'network', ''),
                    'debian', '12', '8.4.14',
                    concat('00000000-0000-4000-8000-', leftPad(toString(intDiv(number, 2)), 12, '0')),
                    concat('00000000-0000-4000-9000-', leftPad(toString(intDiv(number, 2)), 12, '0')),
                    'ProxmoxVE', 'community-scripts/ProxmoxVE', 0,
                    'intel', 'Intel N100', 'intel', 'UHD Graphics', 'igpu', '4800',
                    if(number % 2 = 1, 300, 0)
             FROM numbers({rows})",
            db = source.database
        ))
        .execute()
        .await?;

    let args = consumer::ImportArgs {
        source: consumer::Source {
            url: source.url.clone(),
            user: source.user.clone(),
            password: source.password.expose().to_owned(),
            database: source.database.clone(),
            table: "telemetry".into(),
        },
        batch_rows,
        from_start: false,
    };
    eprintln!("[bench] importing");
    let started = Instant::now();
    let report = consumer::import(settings, &args, time::OffsetDateTime::now_utc()).await?;
    let seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        report.read == rows && report.stored + report.expired == rows,
        "the import did not store every row: {report:?}"
    );
    Ok(Import {
        rows,
        batch_rows,
        seconds,
        rows_per_s: rows as f64 / seconds,
        stored: report.stored,
        expired: report.expired,
    })
}
