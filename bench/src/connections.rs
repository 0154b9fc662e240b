//! Ingest's memory with many open connections (issue 28, point 6): what each keep-alive
//! connection costs while it waits, and the peak when all of them post at once.
//!
//! The half-load phase of `bench ingest` opens thousands of connections too, but how
//! many depends on how long answers take there, so its peak mixes the cost of
//! connections with that of a backlog. Here the count is fixed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::http1;
use crate::report::{Connections, ConnectionsRound};
use crate::scratch;
use crate::workload;

pub async fn run(connections: usize, rounds: usize) -> anyhow::Result<Connections> {
    let ns = scratch::namespace();
    let nats = scratch::nats("bench_c", &ns, 1 << 30);
    let clickhouse = scratch::clickhouse("bench_c", &ns);
    let result = measure(&nats, connections, rounds).await;
    scratch::remove(Some(&nats), &clickhouse).await;
    result
}

async fn measure(
    nats: &topology::stream::NatsSettings,
    connections: usize,
    rounds: usize,
) -> anyhow::Result<Connections> {
    let ingesting = crate::ingest::start_ingest(nats).await?;
    let pid = ingesting.process.0.id();
    let addr: SocketAddr = format!("127.0.0.1:{}", ingesting.port).parse()?;
    let next = Arc::new(AtomicU64::new(0));

    // A few events first, so that the idle figure includes what the first requests set
    // up once (the scrubber's tables, the publisher's buffers), not only the start.
    let mut warm = None;
    for _ in 0..100 {
        let body = body(&next);
        send(&mut warm, addr, &body).await;
    }
    drop(warm);
    let idle_mb = resident(pid).0;

    eprintln!("[bench] opening {connections} connections");
    let mut open = Vec::with_capacity(connections);
    top_up(&mut open, connections, addr).await?;
    let connected_mb = resident(pid).0;

    // Every connection posts once, a few hundred at a time (well under the load
    // shedder's limit): what an open connection keeps after its first answer, apart from
    // what requests in flight take.
    eprintln!("[bench] every connection posts one event, {PACED} at a time");
    let mut paced = Vec::with_capacity(open.len());
    while !open.is_empty() {
        let group: Vec<_> = open.drain(..open.len().min(PACED)).collect();
        let (kept, _) = post_all(group, &next, addr).await;
        paced.extend(kept);
    }
    open = paced;
    top_up(&mut open, connections, addr).await?;
    let posted_once_mb = resident(pid).0;

    let mut results = Vec::with_capacity(rounds);
    for round in 1..=rounds {
        eprintln!("[bench] round {round}: every connection posts one event at once");
        let (kept, counts) = post_all(std::mem::take(&mut open), &next, addr).await;
        open = kept;
        let (accepted, shed, failed) = counts;
        let (rss_mb, peak_mb) = resident(pid);
        let open_after = open.len();
        top_up(&mut open, connections, addr).await?;
        results.push(ConnectionsRound {
            accepted,
            shed,
            failed,
            open_after,
            rss_after_mb: rss_mb,
            peak_mb,
        });
    }
    let (_, peak_mb) = resident(pid);
    drop(open);
    // Ingest is killed when `ingesting` drops here.
    drop(ingesting);
    Ok(Connections {
        connections,
        idle_mb,
        connected_mb,
        posted_once_mb,
        rounds: results,
        peak_mb,
    })
}

/// Open connections until there are `count`: those the server closed after answering
/// are replaced, so that every round starts with `count` open. A connection past the
/// server's own limit is completed by the kernel and waits in its queue.
async fn top_up(
    open: &mut Vec<http1::Connection>,
    count: usize,
    addr: SocketAddr,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while open.len() < count {
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {} of {count} connections opened in 60 s",
            open.len()
        );
        let mut connecting = tokio::task::JoinSet::new();
        for _ in 0..(count - open.len()).min(500) {
            // A connect past the kernel's queue waits for SYN retries: bounded, so that the
            // deadline above is kept.
            connecting.spawn(tokio::time::timeout(
                Duration::from_secs(5),
                http1::Connection::connect(addr),
            ));
        }
        while let Some(c) = connecting.join_next().await {
            if let Ok(Ok(Ok(c))) = c {
                open.push(c);
            }
        }
    }
    Ok(())
}

/// Requests in flight at a time in the paced pass.
const PACED: usize = 256;

/// Each connection posts one event, all at once, as a client would: a connection that
/// the server closed while it was idle (its header read timeout) is opened again for
/// the request. The connections that stay open, and the answers counted as accepted,
/// shed (503) and failed.
async fn post_all(
    connections: Vec<http1::Connection>,
    next: &AtomicU64,
    addr: SocketAddr,
) -> (Vec<http1::Connection>, (u64, u64, u64)) {
    let mut posting = tokio::task::JoinSet::new();
    for c in connections {
        let body = body(next);
        posting.spawn(async move {
            let mut c = Some(c);
            let mut status = None;
            for _ in 0..2 {
                if c.is_none() {
                    c = http1::Connection::connect(addr).await.ok();
                }
                let Some(open) = c.as_mut() else { break };
                match open.post_json("/telemetry", &body).await {
                    Ok(answer) => {
                        status = Some(answer);
                        break;
                    }
                    Err(_) => c = None,
                }
            }
            (c, status)
        });
    }
    let mut open = Vec::new();
    let (mut accepted, mut shed, mut failed) = (0u64, 0u64, 0u64);
    while let Some(done) = posting.join_next().await {
        let Ok((Some(c), Some((status, keep_alive)))) = done else {
            failed += 1;
            continue;
        };
        match status {
            202 => accepted += 1,
            503 => shed += 1,
            _ => failed += 1,
        }
        if keep_alive {
            open.push(c);
        }
    }
    (open, (accepted, shed, failed))
}

fn body(next: &AtomicU64) -> Vec<u8> {
    let i = next.fetch_add(1, Ordering::Relaxed);
    serde_json::to_vec(&workload::body(i)).unwrap_or_default()
}

async fn send(connection: &mut Option<http1::Connection>, addr: SocketAddr, body: &[u8]) {
    if connection.is_none() {
        *connection = http1::Connection::connect(addr).await.ok();
    }
    if let Some(c) = connection.as_mut()
        && c.post_json("/telemetry", body).await.is_err()
    {
        *connection = None;
    }
}

/// Resident memory now and its peak so far (MB), from /proc.
fn resident(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}
