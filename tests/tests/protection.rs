//! Ingest's protections, against the real server: body limits, gzip, methods, media
//! types and the per-client rate limit.

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::Value;
use tests::Pipeline;

const BODY: &str = include_str!("../fixtures/lxc_installing.json");

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_compressed_and_misdirected_requests_get_clear_answers() {
    let p = Pipeline::start_with(|ingest, _| ingest.ingest.rate_limit_per_minute = 0).await;
    let url = format!("{}/telemetry", p.ingest_url);

    // 1 MiB of otherwise valid JSON.
    let big = BODY.replace(
        "\"jellyfin\"",
        &format!("\"jellyfin\", \"pad\": \"{}\"", "x".repeat(1 << 20)),
    );
    let r = p.post(&big).await;
    assert_eq!(r.status(), 413);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "payload_too_large"
    );

    // A gzip bomb: 16 KiB on the wire, 64 MiB inflated. It stops at the limit.
    let bomb = gzip(&vec![b' '; 64 << 20]);
    assert!(bomb.len() < 128 * 1024);
    let r = p
        .http
        .post(&url)
        .header("Content-Type", "application/json")
        .header("Content-Encoding", "gzip")
        .body(bomb)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "payload_too_large"
    );

    // An honest gzip body is welcome.
    let r = p
        .http
        .post(&url)
        .header("Content-Type", "application/json")
        .header("Content-Encoding", "gzip")
        .body(gzip(BODY.as_bytes()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);

    let r = p
        .http
        .post(&url)
        .header("Content-Type", "application/json")
        .header("Content-Encoding", "br")
        .body(BODY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "unsupported_media_type"
    );

    let r = p.http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 405);
    let allow = r
        .headers()
        .get("allow")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(allow.contains("POST"), "{allow}");
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "method_not_allowed"
    );

    let r = p
        .http
        .get(format!("{}/nope", p.ingest_url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "not_found");

    // The OpenAPI document describes both endpoints.
    let doc: Value = p.get_json(&format!("{}/openapi.json", p.ingest_url)).await;
    assert!(doc["paths"]["/telemetry"]["post"].is_object());
    assert!(doc["paths"]["/v1/events"]["post"].is_object());

    p.wait_stored(1).await;
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_61st_request_in_a_minute_from_one_client_is_refused() {
    // The defaults: 60 per minute, bursts of 30.
    let p = Pipeline::start().await;
    assert_eq!(p.ingest.ingest.rate_limit_per_minute, 60);

    let mut statuses = Vec::new();
    for _ in 0..61 {
        let r = p.post(BODY).await;
        statuses.push((r.status().as_u16(), r.headers().get("retry-after").cloned()));
    }
    assert!(
        statuses[..30].iter().all(|(s, _)| *s == 202),
        "the burst passes"
    );
    let (last, retry_after) = &statuses[60];
    assert_eq!(*last, 429);
    let retry_after: u64 = retry_after
        .as_ref()
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after));

    let metrics = p
        .http
        .get(format!("{}/metrics", p.ingest_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("ingest_rate_limited_total"));
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
