//! Ingest under load: the load generator, next to an axum handler that only answers 202
//! (the HTTP limit of this machine), and the end-to-end latency from a 202 to the row in
//! ClickHouse, with the real ingest and consumer processes on the same cores.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::Mutex;
use topology::store::ClickHouseSettings;
use topology::stream::NatsSettings;

use crate::http1;
use crate::processes::Processes;
use crate::report::Ingest;
use crate::scratch::{self, Child, free_port};
use crate::workload;

pub async fn run(seconds: u64, concurrency: usize) -> anyhow::Result<Ingest> {
    let ns = scratch::namespace();
    let nats = scratch::nats("bench_i", &ns, 2 << 30);
    let clickhouse = scratch::clickhouse("bench_i", &ns);
    let result = measure(&nats, &clickhouse, seconds, concurrency, &ns).await;
    scratch::remove(Some(&nats), &clickhouse).await;
    result
}

async fn measure(
    nats: &NatsSettings,
    clickhouse: &ClickHouseSettings,
    seconds: u64,
    concurrency: usize,
    ns: &str,
) -> anyhow::Result<Ingest> {
    let duration = Duration::from_secs(seconds);
    let mut consumer = consumer::Settings {
        nats: nats.clone(),
        clickhouse: clickhouse.clone(),
        ..Default::default()
    };
    consumer.consumer.durable = format!("bench_i_{ns}");
    consumer.consumer.internal_listen = format!("127.0.0.1:{}", free_port()?);
    consumer.log.level = "warn".into();
    consumer::migrate(&consumer)
        .await
        .context("migrating (run `make stack`)")?;
    let Ingesting {
        process: ingest_proc,
        port,
        ops,
    } = start_ingest(nats).await?;
    let exe = std::env::current_exe()?;
    let consumer_proc = Child(
        std::process::Command::new(exe.with_file_name("consumer"))
            .envs(runtime::settings::to_env(&consumer))
            .spawn()
            .context("starting the consumer")?,
    );
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency * 2)
        .build()?;

    eprintln!("[bench] the limit: an axum handler that only answers 202");
    let limit_addr = serve_202().await?;
    let next = Arc::new(AtomicU64::new(0));
    let (limit_done, _) = closed_loop(limit_addr, concurrency, duration, next.clone()).await;
    let axum_202_per_s = limit_done as f64 / duration.as_secs_f64();
    // Events sent to the limit server are not ingest's: count from here on.
    let first_ingest_event = next.load(Ordering::Relaxed);

    let processes = Processes::find(&[
        ("ingest", ingest_proc.0.id()),
        ("consumer", consumer_proc.0.id()),
    ]);
    eprintln!("[bench] ingest at idle: one event at a time, {IDLE_EVENTS} events 10 ms apart");
    let ingest_addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let mut idle = idle_latencies(ingest_addr, next.clone()).await;
    let idle = percentiles(&mut idle);
    let sizes_before = MessageSizes::scrape(&http, &ops).await?;
    let before = processes.cpu();
    eprintln!("[bench] ingest at full load: {concurrency} keep-alive clients for {seconds} s");
    let (accepted, mut latencies) =
        closed_loop(ingest_addr, concurrency, duration, next.clone()).await;
    let accepted_per_s = accepted as f64 / duration.as_secs_f64();
    let full = percentiles(&mut latencies);
    let during = processes.cpu();
    let sizes_full = MessageSizes::scrape(&http, &ops).await?;
    let (ingest_rss_full_load, _) = crate::processes::stats(ingest_proc.0.id());

    // The full-load phase leaves a backlog; the consumer drains it first, so that the
    // half-load phase measures half the load, not the drain.
    eprintln!("[bench] waiting for the consumer to drain the backlog");
    let js = async_nats::jetstream::new(crate::scratch::connect(nats).await?);
    let drained = Instant::now() + Duration::from_secs(300);
    loop {
        let mut stream = js.get_stream(&nats.stream).await?;
        if stream.info().await?.state.messages == 0 {
            break;
        }
        anyhow::ensure!(Instant::now() < drained, "the backlog did not drain");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Stored, not only pulled: the consumer acks after the insert.
    let after = processes.cpu();
    let cpu_split = processes.split(&before, &during, &after, accepted, duration);

    eprintln!("[bench] ingest at half that load, with end-to-end probes");
    let rate = accepted_per_s / 2.0;
    let probe = tokio::spawn(probe_end_to_end(
        http.clone(),
        base.clone(),
        clickhouse.client(),
        duration,
    ));
    let slow_before = SlowCounts::scrape(&http, &ops).await?;
    let (mut half, half_connections) =
        open_loop(ingest_addr, concurrency, rate, duration, next.clone()).await;
    let slow = SlowCounts::scrape(&http, &ops).await?.since(&slow_before);
    let sizes_half = MessageSizes::scrape(&http, &ops).await?;
    let half = percentiles(&mut half);
    let mut e2e = probe.await??;
    let e2e = percentiles(&mut e2e);

    // The same load with the consumer stopped (SIGSTOP, then SIGCONT): what ingest's
    // tail is when the batch work of the consumer and of ClickHouse does not share its
    // cores. The two figures side by side say where a long tail comes from.
    eprintln!("[bench] half load again, with the consumer paused");
    signal(consumer_proc.0.id(), "STOP")?;
    let paused_before = SlowCounts::scrape(&http, &ops).await?;
    let (mut alone, _) = open_loop(ingest_addr, concurrency, rate, duration, next.clone()).await;
    let paused_slow = SlowCounts::scrape(&http, &ops).await?.since(&paused_before);
    signal(consumer_proc.0.id(), "CONT")?;
    let alone = percentiles(&mut alone);

    // Last, and not counted: full load again while perf samples ingest, so that the
    // report can say what ingest's CPU goes to.
    eprintln!("[bench] full load again, with perf sampling ingest (not counted)");
    let profiling = closed_loop(ingest_addr, concurrency, PROFILE_LOAD, next.clone());
    let sampling = async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        crate::profile::record(
            ingest_proc.0.id(),
            "ingest",
            PROFILE_LOAD - Duration::from_secs(2),
            &std::env::temp_dir(),
        )
        .await
    };
    let (_, profile) = tokio::join!(profiling, sampling);

    let (ingest_rss, ingest_cpu) = crate::processes::stats(ingest_proc.0.id());
    let (consumer_rss, consumer_cpu) = crate::processes::stats(consumer_proc.0.id());
    // The probes' events are few (ten a second) and not counted.
    let events = (next.load(Ordering::Relaxed) - first_ingest_event) as f64;
    Ok(Ingest {
        seconds,
        concurrency,
        accepted_per_s,
        p50_ms: full.0,
        p99_ms: full.1,
        p999_ms: full.2,
        half_load_per_s: rate,
        half_load_p50_ms: half.0,
        half_load_p99_ms: half.1,
        half_load_over_25ms: slow.requests,
        half_load_publish_over_25ms: slow.publishes,
        half_load_consumer_paused_p50_ms: alone.0,
        half_load_consumer_paused_p99_ms: alone.1,
        half_load_consumer_paused_over_25ms: paused_slow.requests,
        half_load_consumer_paused_publish_over_25ms: paused_slow.publishes,
        e2e_p50_ms: e2e.0,
        e2e_p99_ms: e2e.1,
        axum_202_per_s,
        ingest_peak_rss_mb: ingest_rss,
        ingest_peak_rss_full_load_mb: ingest_rss_full_load,
        half_load_connections: half_connections,
        ingest_cpu_s_per_100k: ingest_cpu / (events / 100_000.0),
        consumer_peak_rss_mb: consumer_rss,
        consumer_cpu_s_per_100k: consumer_cpu / (events / 100_000.0),
        cpu_split,
        profile: Some(profile),
        idle_p50_ms: idle.0,
        idle_p99_ms: idle.1,
        events_per_message: vec![
            sizes_full.since(&sizes_before, "full load"),
            sizes_half.since(&sizes_full, "half load"),
        ],
    })
}

/// Ingest's `/metrics` as text, from its operators' listener at `base`.
async fn metrics_text(http: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    Ok(http
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .text()
        .await?)
}

/// Events posted one at a time at idle.
const IDLE_EVENTS: u64 = 500;

/// The latency of single events on an idle pipeline: one client, one request at a time,
/// paced so that no two meet (the pause is the load's shape, not a wait for anything).
async fn idle_latencies(addr: SocketAddr, next: Arc<AtomicU64>) -> Vec<f64> {
    let mut connection = None;
    let mut latencies = Vec::with_capacity(IDLE_EVENTS as usize);
    for _ in 0..IDLE_EVENTS {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let body = serde_json::to_vec(&workload::body(i)).unwrap_or_default();
        let t = Instant::now();
        if send(&mut connection, addr, &body).await == Some(202) {
            latencies.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    latencies
}

/// Ingest's `ingest_publish_message_events` histogram: how many events its group commit
/// put in each message.
#[derive(Debug, Default)]
struct MessageSizes {
    /// Cumulative message counts by upper bound (`le`), in bucket order.
    buckets: Vec<(f64, u64)>,
    sum: f64,
    count: u64,
}

impl MessageSizes {
    async fn scrape(http: &reqwest::Client, base: &str) -> anyhow::Result<Self> {
        let text = metrics_text(http, base).await?;
        let name = "ingest_publish_message_events";
        let mut sizes = Self::default();
        for line in text.lines().filter(|l| l.starts_with(name)) {
            let Some((key, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(value) = value.parse::<f64>() else {
                continue;
            };
            if let Some(le) = key
                .strip_prefix(&format!("{name}_bucket{{le=\""))
                .and_then(|rest| rest.strip_suffix("\"}"))
            {
                let bound = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().unwrap_or(f64::INFINITY)
                };
                sizes.buckets.push((bound, value as u64));
            } else if key == format!("{name}_sum") {
                sizes.sum = value;
            } else if key == format!("{name}_count") {
                sizes.count = value as u64;
            }
        }
        Ok(sizes)
    }

    fn since(&self, before: &Self, phase: &str) -> crate::report::MessageSizes {
        let at = |b: f64, of: &Self| {
            of.buckets
                .iter()
                .find(|(bound, _)| *bound == b)
                .map_or(0, |(_, n)| *n)
        };
        let count = self.count.saturating_sub(before.count);
        let mut shares = Vec::new();
        let mut below = 0u64;
        for (bound, cumulative) in &self.buckets {
            let cumulative = cumulative.saturating_sub(at(*bound, before));
            shares.push((
                *bound,
                (cumulative - below.min(cumulative)) as f64 / count.max(1) as f64,
            ));
            below = cumulative;
        }
        crate::report::MessageSizes {
            phase: phase.into(),
            messages: count,
            mean: (self.sum - before.sum) / count.max(1) as f64,
            shares,
        }
    }
}

/// An ingest process of the benchmark's own, ready to take events.
pub(crate) struct Ingesting {
    pub process: Child,
    pub port: u16,
    /// Its operators' listener: `/readyz` and `/metrics`.
    pub ops: String,
}

/// Start the release ingest beside this binary on `nats`, without a rate limit, and wait
/// until it is ready.
pub(crate) async fn start_ingest(nats: &NatsSettings) -> anyhow::Result<Ingesting> {
    let mut ingest = ingest::Settings {
        nats: nats.clone(),
        ..Default::default()
    };
    let (port, internal) = (free_port()?, free_port()?);
    ingest.ingest.listen = format!("127.0.0.1:{port}");
    ingest.ingest.internal_listen = format!("127.0.0.1:{internal}");
    ingest.ingest.rate_limit_per_minute = 0;
    ingest.log.level = "warn".into();
    let exe = std::env::current_exe()?;
    let process = Child(
        std::process::Command::new(exe.with_file_name("ingest"))
            .envs(runtime::settings::to_env(&ingest))
            .spawn()
            .context("starting ingest")?,
    );
    let ops = format!("http://127.0.0.1:{internal}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !http
        .get(format!("{ops}/readyz"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        anyhow::ensure!(Instant::now() < deadline, "ingest did not become ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(Ingesting { process, port, ops })
}

/// The length of the profiled phase.
const PROFILE_LOAD: Duration = Duration::from_secs(10);

/// From ingest's own histograms: requests to `/telemetry`, and JetStream publishes, that
/// took over 25 ms. The two side by side say whether a slow answer was spent waiting for
/// JetStream's ack or in ingest itself.
#[derive(Debug, Default)]
struct SlowCounts {
    requests: u64,
    publishes: u64,
}

impl SlowCounts {
    async fn scrape(http: &reqwest::Client, base: &str) -> anyhow::Result<Self> {
        let text = metrics_text(http, base).await?;
        let value = |prefix: &str| -> u64 {
            text.lines()
                .find(|l| l.starts_with(prefix))
                .and_then(|l| l.rsplit(' ').next())
                .and_then(|v| v.parse::<f64>().ok())
                .map_or(0, |v| v as u64)
        };
        let over = |name: &str, labels: &str| {
            let sep = if labels.is_empty() { "" } else { "," };
            value(&format!(
                "{name}_count{}",
                if labels.is_empty() {
                    String::new()
                } else {
                    format!("{{{labels}}}")
                }
            ))
            .saturating_sub(value(&format!(
                "{name}_bucket{{{labels}{sep}le=\"0.025\"}}"
            )))
        };
        Ok(Self {
            requests: over(
                "ingest_http_request_duration_seconds",
                "route=\"/telemetry\"",
            ),
            publishes: over("ingest_publish_duration_seconds", ""),
        })
    }

    fn since(&self, before: &Self) -> Self {
        Self {
            requests: self.requests.saturating_sub(before.requests),
            publishes: self.publishes.saturating_sub(before.publishes),
        }
    }
}

fn signal(pid: u32, name: &str) -> anyhow::Result<()> {
    let status = std::process::Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()?;
    anyhow::ensure!(status.success(), "kill -{name} {pid} failed");
    Ok(())
}

/// p50, p99, p99.9 of latencies in milliseconds.
pub(crate) fn percentiles(ms: &mut [f64]) -> (f64, f64, f64) {
    if ms.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((q * ms.len() as f64) as usize).min(ms.len() - 1)];
    (at(0.5), at(0.99), at(0.999))
}

/// An HTTP server that answers every POST with 202 and a small JSON body, as ingest
/// does, without parsing or publishing: what axum and hyper cost on this machine.
async fn serve_202() -> anyhow::Result<SocketAddr> {
    use axum::routing::post;
    let app = axum::Router::new().route(
        "/telemetry",
        post(|_body: axum::body::Bytes| async {
            (
                axum::http::StatusCode::ACCEPTED,
                [("content-type", "application/json")],
                r#"{"status":"accepted"}"#,
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

/// `concurrency` clients, each posting the next realistic event as soon as the last was
/// answered, for `duration`, each on its own keep-alive connection. Returns the 202s and
/// every answered request's latency (ms).
pub(crate) async fn closed_loop(
    addr: SocketAddr,
    concurrency: usize,
    duration: Duration,
    next: Arc<AtomicU64>,
) -> (u64, Vec<f64>) {
    let end = Instant::now() + duration;
    let accepted = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (next, accepted, latencies) = (next.clone(), accepted.clone(), latencies.clone());
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            let mut connection = None;
            while Instant::now() < end {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let body = serde_json::to_vec(&workload::body(i)).unwrap_or_default();
                let t = Instant::now();
                if let Some(status) = send(&mut connection, addr, &body).await {
                    mine.push(t.elapsed().as_secs_f64() * 1000.0);
                    accepted.fetch_add(u64::from(status == 202), Ordering::Relaxed);
                }
            }
            latencies.lock().await.extend(mine);
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let latencies = std::mem::take(&mut *latencies.lock().await);
    (accepted.load(Ordering::Relaxed), latencies)
}

/// One request on `connection`, opening it first if there is none; the status, or
/// `None` if the request failed. A connection that failed or that the server is closing
/// is dropped, and the next request opens a new one.
async fn send(
    connection: &mut Option<http1::Connection>,
    addr: SocketAddr,
    body: &[u8],
) -> Option<u16> {
    if connection.is_none() {
        *connection = http1::Connection::connect(addr).await.ok();
    }
    match connection.as_mut()?.post_json("/telemetry", body).await {
        Ok((status, keep_alive)) => {
            if !keep_alive {
                *connection = None;
            }
            Some(status)
        }
        Err(_) => {
            *connection = None;
            None
        }
    }
}

/// Requests at a fixed total `rate`, whatever the answers take (open loop), spread over
/// `concurrency` senders. A sender whose connections are all busy when its next request
/// is due opens another one, so a slow answer never delays the next request. Returns
/// every answered request's latency (ms).
async fn open_loop(
    addr: SocketAddr,
    concurrency: usize,
    rate: f64,
    duration: Duration,
    next: Arc<AtomicU64>,
) -> (Vec<f64>, u64) {
    let connects = Arc::new(AtomicU64::new(0));
    let per_sender = Duration::from_secs_f64(concurrency as f64 / rate.max(1.0));
    let end = Instant::now() + duration;
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (next, latencies, connects) = (next.clone(), latencies.clone(), connects.clone());
        tasks.push(tokio::spawn(async move {
            let idle: Arc<std::sync::Mutex<Vec<http1::Connection>>> = Arc::default();
            let mut tick = tokio::time::interval(per_sender);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let mut inflight = tokio::task::JoinSet::new();
            while Instant::now() < end {
                tick.tick().await;
                let i = next.fetch_add(1, Ordering::Relaxed);
                let (idle, connects) = (idle.clone(), connects.clone());
                inflight.spawn(async move {
                    let body = serde_json::to_vec(&workload::body(i)).unwrap_or_default();
                    let mut connection = idle.lock().ok().and_then(|mut v| v.pop());
                    connects.fetch_add(u64::from(connection.is_none()), Ordering::Relaxed);
                    let t = Instant::now();
                    let answered = send(&mut connection, addr, &body).await;
                    let ms = t.elapsed().as_secs_f64() * 1000.0;
                    if let (Some(c), Ok(mut v)) = (connection, idle.lock()) {
                        v.push(c);
                    }
                    answered.map(|_| ms)
                });
            }
            let mut mine = Vec::new();
            while let Some(r) = inflight.join_next().await {
                if let Ok(Some(ms)) = r {
                    mine.push(ms);
                }
            }
            latencies.lock().await.extend(mine);
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    (
        std::mem::take(&mut *latencies.lock().await),
        connects.load(Ordering::Relaxed),
    )
}

/// Every 100 ms, one tagged event; the time from its 202 until ClickHouse returns its
/// row (polled every 20 ms), in ms.
async fn probe_end_to_end(
    http: reqwest::Client,
    base: String,
    ch: clickhouse::Client,
    duration: Duration,
) -> anyhow::Result<Vec<f64>> {
    let sent: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let done = Arc::new(AtomicBool::new(false));
    let poller = {
        let (sent, done, ch) = (sent.clone(), done.clone(), ch.clone());
        tokio::spawn(async move {
            let mut seen: std::collections::HashMap<String, f64> = Default::default();
            let give_up = Instant::now() + duration + Duration::from_secs(30);
            loop {
                let waiting: Vec<(String, Instant)> = sent
                    .lock()
                    .await
                    .iter()
                    .filter(|(id, _)| !seen.contains_key(id))
                    .cloned()
                    .collect();
                if waiting.is_empty() && done.load(Ordering::Relaxed) || Instant::now() > give_up {
                    break;
                }
                if !waiting.is_empty()
                    && let Ok(ids) = ch
                        .query("SELECT toString(random_id) FROM events WHERE nsapp = 'e2e-probe'")
                        .fetch_all::<String>()
                        .await
                {
                    let now = Instant::now();
                    for (id, at) in waiting {
                        if ids.contains(&id) {
                            seen.insert(id, (now - at).as_secs_f64() * 1000.0);
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            seen.into_values().collect::<Vec<f64>>()
        })
    };
    let end = Instant::now() + duration;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    while Instant::now() < end {
        tick.tick().await;
        let id = uuid::Uuid::now_v7().to_string();
        let body = serde_json::json!({
            "random_id": id, "execution_id": id, "type": "lxc",
            "nsapp": "e2e-probe", "status": "installing",
        });
        let r = http
            .post(format!("{base}/telemetry"))
            .json(&body)
            .send()
            .await?;
        if r.status() == 202 {
            sent.lock().await.push((id, Instant::now()));
        }
    }
    done.store(true, Ordering::Relaxed);
    Ok(poller.await?)
}
