//! Fault scenarios over real processes, each ending with an exact account: the events
//! answered 202 are the events stored, each exactly once, and nothing else is stored,
//! across a NATS restart too.
//! (SIGKILLs of the consumer, a ClickHouse outage and a full queue are in
//! exactly_once.rs.) `make chaos` runs these and those with more load.
//!
//! The load: `CHAOS_CLIENTS` clients, each posting its own events one per request to
//! `POST /telemetry` as the bash client does, retrying after a 1 s pause on anything but
//! a 2xx. The real client gives up after four attempts; these keep trying until a
//! deadline, so that every event ends with a 202 and the account can be exact.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tests::{KillOnDrop, NatsServer, Pipeline, free_port, poll};

fn clients() -> usize {
    std::env::var("CHAOS_CLIENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8)
}

fn events_per_client() -> usize {
    std::env::var("CHAOS_EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(150)
}

/// Event `i` of client `c`: its own run, so that every event is distinct.
fn body(c: usize, i: usize) -> String {
    serde_json::json!({
        "random_id": format!("00000000-0000-4000-8000-{c:012}"),
        "execution_id": format!("00000000-0000-4000-9000-{:012}", c * 1_000_000 + i),
        "type": "lxc",
        "nsapp": "chaos",
        "status": "installing",
    })
    .to_string()
}

/// The bash client's pause between attempts (docs/client-contract.md, "Transport"): part
/// of the load's behaviour, not a wait for anything.
const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// Each client's rate: a real one sends a few events a minute; these send a hundred a
/// second, so that the faults land in the middle of the load.
const CLIENT_INTERVAL: Duration = Duration::from_millis(10);

/// What the clients saw: the execution ids answered 202, and those of them that had to
/// be sent again first (an earlier attempt got a 503 or no answer).
struct Outcome {
    accepted: BTreeSet<String>,
    retried: BTreeSet<String>,
}

/// Post every event of every client to `url` until each got a 2xx.
async fn load(url: String, progress: Arc<AtomicUsize>) -> Outcome {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let accepted = Arc::new(Mutex::new(BTreeSet::new()));
    let retried = Arc::new(Mutex::new(BTreeSet::new()));
    let mut tasks = Vec::new();
    for c in 0..clients() {
        let (http, url, accepted, retried, progress) = (
            http.clone(),
            url.clone(),
            accepted.clone(),
            retried.clone(),
            progress.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut pace = tokio::time::interval(CLIENT_INTERVAL);
            for i in 0..events_per_client() {
                pace.tick().await;
                let body = body(c, i);
                let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
                let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                let id = v["execution_id"].as_str().unwrap().to_owned();
                loop {
                    let r = http
                        .post(format!("{url}/telemetry"))
                        .header("Content-Type", "application/json")
                        .body(body.clone())
                        .send()
                        .await;
                    if let Ok(r) = r
                        && r.status().is_success()
                    {
                        assert_eq!(r.status(), 202);
                        accepted.lock().unwrap().insert(id.clone());
                        progress.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    retried.lock().unwrap().insert(id.clone());
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "client {c} could not deliver event {i}"
                    );
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    Outcome {
        accepted: Arc::try_unwrap(accepted).unwrap().into_inner().unwrap(),
        retried: Arc::try_unwrap(retried).unwrap().into_inner().unwrap(),
    }
}

/// Wait until `fraction` of all events were answered 202: the faults land at fixed
/// points of the load, however fast or slow this machine is today.
async fn reached(progress: &AtomicUsize, fraction: f64) {
    let target = ((clients() * events_per_client()) as f64 * fraction) as usize;
    poll(Duration::from_secs(120), "the load's progress", || async {
        (progress.load(Ordering::Relaxed) >= target).then_some(())
    })
    .await;
}

/// The exact account: every accepted event stored once, and nothing else.
async fn assert_exact(p: &Pipeline, outcome: &Outcome) {
    let accepted = &outcome.accepted;
    let n = accepted.len() as u64;
    assert_eq!(n, (clients() * events_per_client()) as u64);
    p.assert_stored_exactly(n, Duration::from_secs(120)).await;
    let stored: Vec<serde_json::Value> = p
        .rows("SELECT toString(execution_id) AS id, count() AS n FROM events FINAL GROUP BY id")
        .await;
    assert_eq!(stored.len() as u64, n, "distinct runs stored");
    for row in &stored {
        assert_eq!(row["n"], 1, "{row}");
        assert!(
            accepted.contains(row["id"].as_str().unwrap()),
            "stored without a 202: {row}"
        );
    }
}

/// The account across a NATS restart: every accepted event stored once, nothing that
/// was never sent. A restart is where a client's retry used to be stored twice: a first
/// attempt that JetStream stored, whose acknowledgement did not reach ingest in time (a
/// 503), was stored and acked before NATS was killed, and the restarted server no longer
/// knew its message id. The retry has the same content identity, so the table keeps one
/// row (ARCHITECTURE.md, "Exactly once"). The line printed says how many retries there
/// were to collapse.
async fn assert_restart_account(p: &Pipeline, outcome: &Outcome) {
    let n = outcome.accepted.len() as u64;
    assert_eq!(n, (clients() * events_per_client()) as u64);
    let stored: Vec<serde_json::Value> = poll(
        Duration::from_secs(120),
        "every accepted event stored",
        || async {
            let rows = p
                .rows("SELECT toString(execution_id) AS id, toUInt32(count()) AS n FROM events FINAL GROUP BY id")
                .await;
            (rows.len() as u64 == n && p.queued().await == 0).then_some(rows)
        },
    )
    .await;
    for row in &stored {
        let id = row["id"].as_str().unwrap();
        assert!(outcome.accepted.contains(id), "stored without a 202: {row}");
        assert_eq!(row["n"], 1, "stored more than once: {row}");
    }
    let copies = p
        .count("SELECT count() - uniqExact(event_id) FROM events")
        .await
        .unwrap_or_default();
    println!(
        "{n} events accepted, {} retried, {copies} copies in the table not yet merged away",
        outcome.retried.len()
    );
}

/// Ingest as a process of its own on `port` (and `internal` for its operators' routes),
/// so that the test can SIGKILL it.
fn spawn_ingest(settings: &ingest::Settings, port: u16, internal: u16) -> KillOnDrop {
    let mut s = settings.clone();
    s.ingest.listen = format!("127.0.0.1:{port}");
    s.ingest.internal_listen = format!("127.0.0.1:{internal}");
    s.log.level = "warn".into();
    KillOnDrop(
        Command::new(tests::binary("ingest"))
            .envs(runtime::settings::to_env(&s))
            .stdout(Stdio::null())
            .spawn()
            .expect("ingest starts"),
    )
}

async fn ready(p: &Pipeline, url: &str) {
    poll(Duration::from_secs(30), "ingest readiness", || async {
        let r = p.http.get(format!("{url}/readyz")).send().await.ok()?;
        r.status().is_success().then_some(())
    })
    .await;
}

fn no_rate_limit(i: &mut ingest::Settings, _: &mut consumer::Settings) {
    i.ingest.rate_limit_per_minute = 0;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilling_ingest_under_load_loses_nothing_the_clients_were_told_was_queued() {
    let p = Pipeline::start_with(no_rate_limit).await;
    let (port, internal) = (free_port(), free_port());
    let url = format!("http://127.0.0.1:{port}");
    let internal_url = format!("http://127.0.0.1:{internal}");
    let mut ingest = Some(spawn_ingest(&p.ingest, port, internal));
    ready(&p, &internal_url).await;
    let progress = Arc::new(AtomicUsize::new(0));
    let load = tokio::spawn(load(url.clone(), progress.clone()));
    for fault in 1..=3 {
        // Kill it while the load flows through it, then bring it back on the same port,
        // as a supervisor would.
        reached(&progress, f64::from(fault) / 4.0).await;
        assert!(!load.is_finished());
        if let Some(mut i) = ingest.take() {
            let _ = i.0.kill();
        }
        ingest = Some(spawn_ingest(&p.ingest, port, internal));
        ready(&p, &internal_url).await;
    }
    let outcome = load.await.unwrap();
    assert_exact(&p, &outcome).await;
    drop(ingest);
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarting_nats_under_load_loses_nothing_the_clients_were_told_was_queued() {
    let mut nats = NatsServer::start().await;
    let url = nats.url();
    let p = Pipeline::start_with(move |i, c| {
        no_rate_limit(i, c);
        i.nats.url = url.clone();
        c.nats.url = url;
    })
    .await;
    let progress = Arc::new(AtomicUsize::new(0));
    let load = tokio::spawn(load(p.ingest_url.clone(), progress.clone()));
    for fault in 1..=2 {
        reached(&progress, f64::from(fault) / 3.0).await;
        assert!(!load.is_finished());
        nats.stop();
        // Down long enough for clients to see 503s and retry.
        poll(Duration::from_secs(30), "ingest to notice", || async {
            let r = p
                .http
                .get(format!("{}/readyz", p.ingest_internal_url))
                .send()
                .await
                .ok()?;
            (r.status() == 503).then_some(())
        })
        .await;
        nats.resume().await;
        ready(&p, &p.ingest_internal_url).await;
    }
    let outcome = load.await.unwrap();
    assert_restart_account(&p, &outcome).await;
    p.stop().await;
    drop(nats);
}
