//! Ingest's protections that need a real process or a proxy: the rate limit behind
//! trusted proxies, slow headers, and memory under a flood of tiny batch items. Body
//! limits, gzip, methods, media types and the plain rate limit are tested in-process in
//! ingest/tests/http.rs.

use serde_json::Value;
use tests::Pipeline;

const BODY: &str = include_str!("../fixtures/lxc_installing.json");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_the_proxy_a_client_cannot_spoof_or_spread_its_way_to_more_budget() {
    // Ingest behind a proxy on loopback; one request a minute after a burst of 30, so
    // that no budget comes back while the test runs.
    let p = Pipeline::start_with(|ingest, _| {
        ingest.ingest.rate_limit_per_minute = 1;
        ingest.ingest.rate_limit_burst = 30;
        ingest.ingest.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let url = format!("{}/telemetry", p.ingest_url);
    let send = |xff: String| {
        let (http, url) = (p.http.clone(), url.clone());
        async move {
            http.post(url)
                .header("Content-Type", "application/json")
                .header("X-Forwarded-For", xff)
                .body(BODY)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    // The proxy appends the address it saw; whatever the client put before it is its
    // own invention, and a new one each time buys nothing.
    let mut statuses = Vec::new();
    for i in 0..31 {
        statuses.push(send(format!("198.51.100.{i}, 203.0.113.7")).await);
    }
    assert!(statuses[..30].iter().all(|s| *s == 202), "{statuses:?}");
    assert_eq!(statuses[30], 429);
    assert_eq!(send("203.0.113.8".into()).await, 202, "another client");

    // 70 addresses of one IPv6 /64 are one host: one budget of 30.
    let mut accepted = 0;
    for i in 0..70u32 {
        if send(format!("2001:db8:1:2::{i:x}")).await == 202 {
            accepted += 1;
        }
    }
    assert_eq!(accepted, 30);
    assert_eq!(send("2001:db8:1:3::1".into()).await, 202, "the next /64");
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let p = Pipeline::start_with(|ingest, _| {
        ingest.ingest.header_read_timeout = std::time::Duration::from_millis(300);
    })
    .await;
    let address = p.ingest_url.trim_start_matches("http://");
    let mut slow = tokio::net::TcpStream::connect(address).await.unwrap();
    slow.write_all(b"POST /telemetry HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // The server must end the connection by itself, long before this deadline.
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        slow.read_to_end(&mut rest),
    )
    .await;
    assert!(closed.is_ok(), "the connection was left open");
    let answer = String::from_utf8_lossy(&rest);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    p.stop().await;
}

/// Resident memory of a process, in bytes, from /proc.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|kb| kb.trim().parse::<u64>().ok())
        .expect("VmHWM in /proc/pid/status")
        * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_millions_of_tiny_values_is_refused_without_decoding_them() {
    let p = Pipeline::start().await;
    // Ingest as a process of its own, so that its memory is its own.
    let (port, internal) = (tests::free_port(), tests::free_port());
    let mut settings = p.ingest.clone();
    settings.ingest.listen = format!("127.0.0.1:{port}");
    settings.ingest.internal_listen = format!("127.0.0.1:{internal}");
    settings.ingest.rate_limit_per_minute = 0;
    settings.log.level = "warn".into();
    let child = tests::KillOnDrop(
        std::process::Command::new(tests::binary("ingest"))
            .envs(runtime::settings::to_env(&settings))
            .spawn()
            .unwrap(),
    );
    let url = format!("http://127.0.0.1:{port}/v1/events");
    tests::poll(
        std::time::Duration::from_secs(30),
        "ingest to listen",
        || async {
            let r = p
                .http
                .get(format!("http://127.0.0.1:{internal}/healthz"))
                .send()
                .await
                .ok()?;
            r.status().is_success().then_some(())
        },
    )
    .await;
    let pid = child.0.id();

    // 4 MiB of `1` lines, two million items, is over the body limit; just under the
    // limit it is still a million items, and is stopped by the count.
    let limit = settings.ingest.batch_body_limit_bytes;
    let under = limit / 2 - 8;
    for (kind, body, error) in [
        (
            "application/x-ndjson",
            "1\n".repeat(2 << 20),
            "payload_too_large",
        ),
        (
            "application/x-ndjson",
            "1\n".repeat(under),
            "batch_too_large",
        ),
        (
            "application/json",
            format!("[{}1]", "1,".repeat(under)),
            "batch_too_large",
        ),
    ] {
        let body_len = body.len();
        let started = std::time::Instant::now();
        let r = testkit::post(&p.http, &url, kind, body).await;
        let took = started.elapsed();
        assert_eq!(r.status(), 413, "{kind}");
        let answer: Value = r.json().await.unwrap();
        assert_eq!(answer["error"], error, "{kind}: {answer}");
        eprintln!("{kind}, {} bytes: 413 {error} after {took:?}", body_len);
    }
    // A full batch still goes through.
    let batch: Vec<Value> = (0..500).map(tests::synthetic_event).collect();
    let r = p.http.post(&url).json(&batch).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let peak = rss(pid);
    eprintln!("ingest's peak RSS: {:.1} MB", peak as f64 / 1e6);
    assert!(peak < 100_000_000, "ingest peaked at {peak} bytes");
    p.stop().await;
}
