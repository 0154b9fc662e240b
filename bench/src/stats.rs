//! The aggregator over a year of data: a generated raw table of millions of events,
//! the first full materialisation (every day), one steady-state refresh cycle (the days
//! not yet frozen), and the latency of the statistics API over HTTP.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context;
use topology::store::ClickHouseSettings;

use crate::report::Stats;
use crate::scratch;

/// Events per run: installing, validation, configuring, terminal (or a last configuring
/// ping for runs that never finish).
const EVENTS_PER_RUN: u64 = 4;

pub async fn run(events: u64, requests: usize) -> anyhow::Result<Stats> {
    let clickhouse = scratch::migrated_clickhouse("bench_stats").await?;
    let result = measure(&clickhouse, events, requests).await;
    if std::env::var_os("BENCH_KEEP").is_some() {
        eprintln!("[bench] kept database {}", clickhouse.database);
        return result;
    }
    scratch::remove(None, &clickhouse).await;
    result
}

async fn measure(
    clickhouse: &ClickHouseSettings,
    events: u64,
    requests: usize,
) -> anyhow::Result<Stats> {
    let ch = clickhouse.client();
    eprintln!("[bench] generating {events} raw events over 364 days");
    let started = Instant::now();
    generate(&ch, events).await?;
    let generate_secs = started.elapsed().as_secs_f64();
    let stored: u64 = ch.query("SELECT count() FROM events").fetch_one().await?;
    let days: u64 = ch
        .query("SELECT uniqExact(toDate(received_at)) FROM events")
        .fetch_one()
        .await?;

    let refresh = aggregator::AggregatorSettings::default().refresh();
    eprintln!("[bench] first materialisation: every day");
    let started = Instant::now();
    let first = refresh.run(&ch, time::OffsetDateTime::now_utc()).await?;
    let backfill_secs = started.elapsed().as_secs_f64();

    eprintln!("[bench] steady-state refresh cycles: the days not yet frozen");
    let mut cycles = Vec::new();
    let mut cycle_days = 0;
    for _ in 0..3 {
        let started = Instant::now();
        let report = refresh.run(&ch, time::OffsetDateTime::now_utc()).await?;
        cycles.push(started.elapsed().as_secs_f64());
        cycle_days = report.days_computed;
    }
    cycles.sort_by(f64::total_cmp);

    eprintln!("[bench] API latency: {requests} requests per document");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let mut agg = aggregator::Settings {
        clickhouse: clickhouse.clone(),
        ..Default::default()
    };
    // The bench times requests, not the periodic refresh.
    agg.aggregator.refresh_interval = Duration::from_secs(24 * 3600);
    agg.log.level = "warn".into();
    // One client asks for everything; its operators' routes are not measured.
    agg.aggregator.rate_limit_per_minute = 0;
    agg.aggregator.internal_listen = "127.0.0.1:0".into();
    let agg_settings = agg.aggregator.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(aggregator::serve(agg, listener, async move {
        let _ = stopped.await;
    }));
    let mut latency = Vec::new();
    for path in [
        "/v1/stats/summary?days=30",
        "/v1/stats/summary?days=all",
        "/v1/stats/apps?days=365",
        "/v1/stats/daily?days=365",
    ] {
        latency.push(time_requests(addr, &[path.to_owned()], requests).await?);
    }
    // Every document of every repository and window once: each request misses the
    // document cache and is built from the materialised tables, as the first request
    // after a refresh is.
    let mut scopes = Vec::new();
    for doc in [
        "summary", "apps", "daily", "os", "pve", "hardware", "errors",
    ] {
        for repo in ["production", "development", "external", "all"] {
            for days in ["1", "7", "30", "90", "365", "all"] {
                scopes.push(format!("/v1/stats/{doc}?days={days}&repo={repo}"));
            }
        }
    }
    let mut uncached = time_requests(addr, &scopes, scopes.len()).await?;
    uncached.path = "/v1/stats/{7 documents}?days={6 windows}&repo={4 choices} (uncached)".into();
    latency.push(uncached);
    let _ = stop.send(());
    let _ = server.await;

    eprintln!("[bench] export: every scope");
    let out = std::env::temp_dir().join(format!("bench-export-{}", std::process::id()));
    let documents = aggregator::Documents::new(ch.clone(), &agg_settings);
    let started = Instant::now();
    let export = aggregator::export(&documents, &out).await?;
    let export_secs = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&out);

    Ok(Stats {
        events: stored,
        days,
        generate_secs,
        backfill_secs,
        backfill_days: first.days_computed as u64,
        refresh_cycle_secs_median: cycles[cycles.len() / 2],
        refresh_cycle_secs_max: cycles[cycles.len() - 1],
        refresh_cycle_days: cycle_days as u64,
        latency,
        export_secs,
        export_files: export.files,
    })
}

/// Fill the raw table from ClickHouse's own `numbers()`: runs spread evenly over the
/// last 364 days, 40 apps with a skewed popularity, realistic outcome, OS, version and
/// hardware mixes. Deterministic but for the event ids.
pub async fn generate(ch: &clickhouse::Client, events: u64) -> anyhow::Result<()> {
    let runs = events / EVENTS_PER_RUN;
    let span = 364 * 86_400u64;
    ch.query(&format!(
        "INSERT INTO events (event_id, received_at, random_id, execution_id, type, nsapp, status,
            ct_type, disk_size, core_count, ram_size, os_type, os_version, pve_version, method,
            exit_code, error_category, install_duration, cpu_vendor, arch, platform, repo_source, error)
         SELECT
            generateUUIDv7(number),
            toDateTime64(now() - {span} - 3600, 3) + toIntervalMillisecond(intDiv(run * {span}, {runs}) * 1000 + step * 60000),
            toUUID(concat('00000000-0000-4000-8000-', leftPad(toString(run % 1000000), 12, '0'))),
            toUUID(concat('00000000-0000-4000-9000-', leftPad(toString(run), 12, '0'))),
            if(app % 7 = 3, 'vm', 'lxc'),
            concat('app', toString(app)),
            multiIf(step = 0, 'installing', step = 1, 'validation', step = 2 OR fate >= 97, 'configuring',
                    fate < 85, 'success', fate < 95, 'failed', 'aborted'),
            if(app % 7 = 3, NULL, toUInt8(h % 4 = 0)),
            [4, 8, 16, 32, 64][1 + h % 5],
            [1, 2, 2, 4, 4, 8][1 + h % 6],
            [512, 1024, 2048, 2048, 4096, 8192][1 + intDiv(h, 7) % 6],
            ['debian', 'debian', 'debian', 'ubuntu', 'alpine'][1 + intDiv(h, 11) % 5],
            ['12', '13', '24.04', '3.22'][1 + intDiv(h, 13) % 4],
            ['8.3', '8.4', '9.0', '9.1'][1 + intDiv(h, 17) % 4],
            ['default', 'advanced'][1 + intDiv(h, 19) % 2],
            multiIf(step < 3 OR fate >= 97, NULL, fate < 85, 0, fate < 95, [100, 127, 28, 6, 1][1 + h % 5], 130),
            multiIf(step < 3 OR fate < 85 OR fate >= 97, '', fate < 95, ['apt', 'command_not_found', 'timeout', 'network', 'unknown'][1 + h % 5], 'user_aborted'),
            if(step = 3 AND fate < 85, toUInt32(60 + h % 600), NULL),
            ['intel', 'amd'][1 + intDiv(h, 23) % 2],
            'amd64', 'pve',
            multiIf(intDiv(h, 29) % 100 < 90, 'ProxmoxVE', intDiv(h, 29) % 100 < 97, 'ProxmoxVED', 'external'),
            if(step = 3 AND fate >= 85 AND fate < 95,
               concat('exit_code=', toString([100, 127, 28, 6, 1][1 + h % 5]), ' | E: Unable to locate package app', toString(app),
                      '-', toString(h % 50), ' at line ', toString(100 + h % 400), ': /opt/app', toString(app), '/install.sh'),
               '')
         FROM (
            SELECT number, intDiv(number, {EVENTS_PER_RUN}) AS run, number % {EVENTS_PER_RUN} AS step,
                   cityHash64(intDiv(number, {EVENTS_PER_RUN})) AS h,
                   toUInt32(pow((h % 1000) / 1000, 2) * 40) AS app,
                   intDiv(h, 1000) % 100 AS fate
            FROM numbers({events})
         )",
        events = runs * EVENTS_PER_RUN
    ))
    .with_setting("max_insert_threads", "2")
    .execute()
    .await
    .context("generating the raw events")?;
    Ok(())
}

/// `n` sequential keep-alive GETs, cycling through `paths`: p50, p99 and max in ms.
async fn time_requests(
    addr: SocketAddr,
    paths: &[String],
    n: usize,
) -> anyhow::Result<crate::report::Latency> {
    let http = reqwest::Client::new();
    let urls: Vec<String> = paths.iter().map(|p| format!("http://{addr}{p}")).collect();
    // Warm up the connection (not the documents: the stylesheet).
    for _ in 0..5 {
        http.get(format!("http://{addr}/dashboard.css"))
            .send()
            .await?;
    }
    let mut ms = Vec::with_capacity(n);
    for url in urls.iter().cycle().take(n) {
        let t = Instant::now();
        let body = http
            .get(url)
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(!body.is_empty(), "{url} answered an empty body");
    }
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((q * ms.len() as f64) as usize).min(ms.len() - 1)];
    Ok(crate::report::Latency {
        path: paths.first().cloned().unwrap_or_default(),
        requests: n,
        p50_ms: at(0.5),
        p99_ms: at(0.99),
        max_ms: ms[ms.len() - 1],
    })
}
