//! Ingest's HTTP behaviour in-process: the real routers on a loopback socket, with a
//! [`MemoryPublisher`] in place of JetStream. Every answer that does not depend on the
//! queue's own behaviour is tested here, without NATS or ClickHouse; the end-to-end
//! tests in `tests/` keep what needs the real servers.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::sync::Arc;

use ingest::MemoryPublisher;
use serde_json::{Value, json};
use testkit::gzip;
use tokio::net::TcpListener;

const BODY: &str = include_str!("../../tests/fixtures/lxc_installing.json");
const INSTALLING: &str = BODY;
const CONTRACT_INSTALLING: &str = include_str!("../../tests/fixtures/contract/lxc_installing.json");

/// Ingest's public and internal routers served on ephemeral ports of this process.
struct Ingest {
    http: reqwest::Client,
    ingest_url: String,
    ingest_internal_url: String,
    ingest: ingest::Settings,
    publisher: Arc<MemoryPublisher>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Ingest {
    async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    async fn start_with(configure: impl FnOnce(&mut ingest::Settings)) -> Self {
        let mut settings = ingest::Settings::default();
        configure(&mut settings);
        let publisher = Arc::new(MemoryPublisher::default());
        let app = ingest::App::new(&settings.ingest, publisher.clone());
        let public = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let internal = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let ingest_url = format!("http://{}", public.local_addr().unwrap());
        let ingest_internal_url = format!("http://{}", internal.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let limits = settings.ingest.connection_limits();
        tokio::spawn(runtime::http::serve_public_and_internal(
            public,
            app.public,
            internal,
            app.internal,
            async move {
                let _ = stopped.await;
            },
            limits,
        ));
        Self {
            http: reqwest::Client::new(),
            ingest_url,
            ingest_internal_url,
            ingest: settings,
            publisher,
            stop: Some(stop),
        }
    }

    async fn post(&self, body: &str) -> reqwest::Response {
        let url = format!("{}/telemetry", self.ingest_url);
        testkit::post(&self.http, &url, "application/json", body.to_owned()).await
    }

    async fn get_text(&self, url: &str) -> String {
        testkit::text(&self.http, url).await
    }

    async fn get_json(&self, url: &str) -> Value {
        testkit::json(&self.http, url).await
    }

    /// Events the publisher holds: an answer of 202 means it is already there.
    fn queued(&self) -> usize {
        self.publisher.events().len()
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_a_json_reason_and_store_nothing() {
    let p = Ingest::start().await;

    let missing_nsapp = INSTALLING.replace("    \"nsapp\": \"jellyfin\",\n", "");
    let r = p.post(&missing_nsapp).await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "missing_field");
    assert_eq!(body["field"], "nsapp");

    let r = p
        .post(&INSTALLING.replace("\"core_count\": 2", "\"core_count\": 4096"))
        .await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        (body["error"].as_str(), body["field"].as_str()),
        (Some("out_of_range"), Some("core_count"))
    );

    let r = testkit::post(
        &p.http,
        &format!("{}/telemetry", p.ingest_url),
        "text/plain",
        INSTALLING,
    )
    .await;
    assert_eq!(r.status(), 415);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "unsupported_media_type"
    );

    let r = p.post("[1, 2, 3]").await;
    assert_eq!(r.status(), 400);

    // A valid event after the bad ones is the only thing stored.
    assert_eq!(p.post(INSTALLING).await.status(), 202);
    assert_eq!(p.queued(), 1);

    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_cannot_be_accepted_is_refused_naming_the_field() {
    let p = Ingest::start_with(|ingest| ingest.ingest.rate_limit_per_minute = 0).await;
    let base = CONTRACT_INSTALLING;
    let cases: &[(&str, String, &str, Option<&str>)] = &[
        (
            "no random_id",
            base.replace(
                "    \"random_id\": \"7b1f5c2e-3d4a-4e8b-9c0d-1e2f3a4b5c6d\",\n",
                "",
            ),
            "missing_field",
            Some("random_id"),
        ),
        (
            "random_id neither a UUID nor a safe id",
            base.replace("7b1f5c2e-3d4a-4e8b-9c0d-1e2f3a4b5c6d", "abc def"),
            "invalid_value",
            Some("random_id"),
        ),
        (
            "unknown type",
            base.replace("\"type\": \"lxc\"", "\"type\": \"container\""),
            "invalid_value",
            Some("type"),
        ),
        (
            "unknown status",
            base.replace("\"installing\"", "\"finished\""),
            "invalid_value",
            Some("status"),
        ),
        (
            "no status",
            base.replace("    \"status\": \"installing\",\n", ""),
            "missing_field",
            Some("status"),
        ),
        (
            "cores out of range",
            base.replace("\"core_count\": 2", "\"core_count\": 999"),
            "out_of_range",
            Some("core_count"),
        ),
        (
            "negative disk",
            base.replace("\"disk_size\": 8", "\"disk_size\": -8"),
            "out_of_range",
            Some("disk_size"),
        ),
        (
            "disk in MB is ambiguous",
            base.replace("\"disk_size\": 8", "\"disk_size\": 32M"),
            "invalid_type",
            Some("disk_size"),
        ),
        (
            "nsapp with a space",
            base.replace("\"jellyfin\"", "\"jelly fin\""),
            "invalid_value",
            Some("nsapp"),
        ),
        (
            "shell in os_type",
            base.replace("\"debian\"", "\"$(reboot)\""),
            "invalid_value",
            Some("os_type"),
        ),
        (
            "has_arm not a boolean",
            base.replace("\"has_arm\": false", "\"has_arm\": \"maybe\""),
            "invalid_value",
            Some("has_arm"),
        ),
        (
            "cut off",
            base[..base.len() / 2].to_owned(),
            "invalid_json",
            None,
        ),
        (
            "missing comma",
            base.replace("\"nsapp\": \"jellyfin\",", "\"nsapp\": \"jellyfin\""),
            "invalid_json",
            None,
        ),
        (
            "not an object",
            "[\"lxc\"]".to_owned(),
            "not_an_object",
            None,
        ),
    ];
    for (what, body, code, field) in cases {
        let r = p.post(body).await;
        assert_eq!(r.status(), 400, "{what}");
        let answer: Value = r.json().await.unwrap();
        assert_eq!(answer["error"], *code, "{what}: {answer}");
        assert_eq!(answer["field"].as_str(), *field, "{what}: {answer}");
        assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    assert_eq!(p.queued(), 0);
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_compressed_and_misdirected_requests_get_clear_answers() {
    let p = Ingest::start_with(|ingest| ingest.ingest.rate_limit_per_minute = 0).await;
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

    assert_eq!(p.queued(), 1);
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_past_the_burst_in_a_minute_is_refused() {
    // One a minute, bursts of 30, so that the request past the burst is refused however
    // slowly the test runs. The defaults are sized in ingest/tests/client_traffic.rs.
    let p = Ingest::start_with(|s| {
        s.ingest.rate_limit_per_minute = 1;
        s.ingest.rate_limit_burst = 30;
    })
    .await;

    let mut statuses = Vec::new();
    for _ in 0..31 {
        let r = p.post(BODY).await;
        statuses.push((r.status().as_u16(), r.headers().get("retry-after").cloned()));
    }
    assert!(
        statuses[..30].iter().all(|(s, _)| *s == 202),
        "the burst passes"
    );
    let (last, retry_after) = &statuses[30];
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
        .get_text(&format!("{}/metrics", p.ingest_internal_url))
        .await;
    assert!(metrics.contains("ingest_rate_limited_total"));
    // Operators see how many connections are held, and whether the limit closes them.
    assert!(
        metrics.contains("ingest_http_connections_held "),
        "{metrics}"
    );
    assert!(metrics.contains("ingest_http_connections_closed_at_limit_total "));
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_that_is_down_gives_503_and_not_ready_never_a_202() {
    let p = Ingest::start_with(|ingest| ingest.ingest.rate_limit_per_minute = 0).await;
    let ready = |p: &Ingest| {
        let url = format!("{}/readyz", p.ingest_internal_url);
        let http = p.http.clone();
        async move { http.get(url).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(ready(&p).await, 200);

    p.publisher.set_down(true);
    assert_eq!(ready(&p).await, 503);
    let r = p.post(INSTALLING).await;
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "1");
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "queue_unavailable"
    );
    let batch: Value = serde_json::from_str(INSTALLING).unwrap();
    let r = p
        .http
        .post(format!("{}/v1/events", p.ingest_url))
        .json(&json!([batch]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503, "a batch is all or nothing for the client");
    assert_eq!(p.queued(), 0);

    p.publisher.set_down(false);
    assert_eq!(ready(&p).await, 200);
    assert_eq!(p.post(INSTALLING).await.status(), 202);
    assert_eq!(p.queued(), 1);
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identical_retry_is_answered_as_a_duplicate_and_queued_once() {
    let p = Ingest::start().await;
    let first: Value = p.post(INSTALLING).await.json().await.unwrap();
    assert_eq!(first["status"], "accepted");
    assert!(first.get("duplicate").is_none(), "{first}");
    assert!(first["event_id"].is_string(), "{first}");

    let r = p.post(INSTALLING).await;
    assert_eq!(r.status(), 202);
    let again: Value = r.json().await.unwrap();
    assert_eq!(again["duplicate"], true);
    assert!(again.get("event_id").is_none(), "{again}");
    assert_eq!(p.queued(), 1);
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_split_and_each_bad_item_named_by_index() {
    let p = Ingest::start().await;
    let url = format!("{}/v1/events", p.ingest_url);
    let good: Value = serde_json::from_str(INSTALLING).unwrap();
    let mut other = good.clone();
    other["nsapp"] = json!("nextcloud");

    let r = p
        .http
        .post(&url)
        .json(&json!([good, {"type": "lxc"}, other]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["accepted"], 2, "{answer}");
    assert_eq!(answer["rejected"][0]["index"], 1);
    assert_eq!(answer["rejected"][0]["error"], "missing_field");
    assert_eq!(p.queued(), 2);

    let ndjson = format!("{good}\n{{\"random_id\": oops\n\n{other}\n");
    let r = testkit::post(&p.http, &url, "application/x-ndjson", ndjson).await;
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["accepted"], 2, "{answer}");
    assert_eq!(answer["duplicates"], 2, "{answer}");
    assert_eq!(answer["rejected"][0]["index"], 1);
    assert_eq!(answer["rejected"][0]["error"], "invalid_json");

    for (kind, body, error) in [
        ("application/json", "{}".to_owned(), "not_an_object"),
        ("text/csv", "[]".to_owned(), "unsupported_media_type"),
        (
            "application/json",
            serde_json::to_string(&vec![&good; p.ingest.ingest.max_batch + 1]).unwrap(),
            "batch_too_large",
        ),
    ] {
        let r = testkit::post(&p.http, &url, kind, body).await;
        assert!(r.status().is_client_error(), "{kind}: {}", r.status());
        let answer: Value = r.json().await.unwrap();
        assert_eq!(answer["error"], error, "{answer}");
        assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    assert_eq!(p.queued(), 2);
    p.stop().await;
}
