//! Ingest on the local cluster of `make cluster`: accepted events/s and latency with the
//! stream on three replicas against one, on the same three NATS servers, so that the
//! difference is the replication alone. A 202 waits for the PubAck, which with three
//! replicas means a quorum has written the event.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use anyhow::Context;

use crate::ingest::{closed_loop, percentiles, start_ingest};
use crate::report::{Cluster, ClusterRun};
use crate::scratch;

/// The three NATS servers of `make cluster`.
const CLUSTER_NATS: &str = "nats://127.0.0.1:4232,nats://127.0.0.1:4233,nats://127.0.0.1:4234";

pub async fn run(seconds: u64, concurrency: usize) -> anyhow::Result<Cluster> {
    let mut runs = Vec::new();
    for replicas in [1, 3] {
        let ns = scratch::namespace();
        let mut nats = scratch::nats("bench_c", &ns, 2 << 30);
        nats.url = CLUSTER_NATS.into();
        nats.replicas = replicas;
        eprintln!("[bench] ingest on the cluster, {replicas} replica(s), {seconds} s");
        let result = measure(&nats, seconds, concurrency).await;
        if let Ok(client) = crate::scratch::connect(&nats).await {
            let _ = async_nats::jetstream::new(client)
                .delete_stream(&nats.stream)
                .await;
        }
        runs.push(result?);
    }
    Ok(Cluster {
        seconds,
        concurrency,
        runs,
    })
}

async fn measure(
    nats: &topology::stream::NatsSettings,
    seconds: u64,
    concurrency: usize,
) -> anyhow::Result<ClusterRun> {
    let ingesting = start_ingest(nats)
        .await
        .context("ingest on the cluster (run `make cluster`)")?;
    let port = ingesting.port;
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let duration = Duration::from_secs(seconds);
    let (accepted, mut latencies) =
        closed_loop(addr, concurrency, duration, Arc::new(AtomicU64::new(0))).await;
    let (p50_ms, p99_ms, _) = percentiles(&mut latencies);
    Ok(ClusterRun {
        replicas: nats.replicas,
        accepted_per_s: accepted as f64 / duration.as_secs_f64(),
        p50_ms,
        p99_ms,
    })
}
