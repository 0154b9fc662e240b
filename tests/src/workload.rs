//! Synthetic events and load, and reading run counts back from documents.

use std::time::Duration;

use crate::Pipeline;

/// The run counts every statistics document names, in this order.
pub const COUNT_NAMES: [&str; 6] = [
    "runs",
    "success",
    "failed",
    "aborted",
    "unfinished",
    "in_progress",
];

/// The run counts of a statistics document or group, in `COUNT_NAMES` order.
pub fn run_counts(doc: &serde_json::Value) -> [u64; 6] {
    COUNT_NAMES.map(|k| doc[k].as_u64().unwrap_or_else(|| panic!("{k} in {doc}")))
}

/// Post `n` distinct events through `POST /v1/events`, 500 at a time, a few requests in
/// flight, and return how many were accepted (durably queued). Events `offset..offset+n` are distinct
/// runs with an installing and a terminal event each.
pub async fn load(p: &Pipeline, offset: usize, n: usize) -> u64 {
    use futures::StreamExt;
    let url = format!("{}/v1/events", p.ingest_url);
    let chunks: Vec<Vec<serde_json::Value>> = (offset..offset + n)
        .map(synthetic_event)
        .collect::<Vec<_>>()
        .chunks(500)
        .map(<[serde_json::Value]>::to_vec)
        .collect();
    futures::stream::iter(chunks)
        .map(|chunk| {
            let (http, url) = (p.http.clone(), url.clone());
            async move {
                // A 503 (the queue briefly unavailable) is retried, as a client would.
                for _ in 0..100 {
                    let r = http
                        .post(&url)
                        .json(&chunk)
                        .send()
                        .await
                        .expect("ingest answers");
                    if r.status() == 200 {
                        let body: serde_json::Value = r.json().await.expect("JSON");
                        assert!(
                            body["rejected"].as_array().is_some_and(Vec::is_empty),
                            "{body}"
                        );
                        // After a 503 some items may already have been queued; the retry
                        // reports them as duplicates, and they count as accepted once.
                        return body["accepted"].as_u64().expect("count");
                    }
                    assert_eq!(r.status(), 503, "{}", r.text().await.unwrap_or_default());
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                panic!("ingest kept answering 503");
            }
        })
        .buffer_unordered(4)
        .fold(0, |sum, n| async move { sum + n })
        .await
}

/// The bash client's installing event of an LXC (tests/fixtures/lxc_installing.json)
/// with `fields` set: the one builder of a test's variations of it (a run of its own, an
/// app, a size).
pub fn installing_with(fields: serde_json::Value) -> String {
    let mut body: serde_json::Value =
        serde_json::from_str(include_str!("../fixtures/lxc_installing.json"))
            .expect("the fixture is JSON");
    if let (Some(body), serde_json::Value::Object(fields)) = (body.as_object_mut(), fields) {
        body.extend(fields);
    }
    body.to_string()
}

/// Event `i` of a synthetic load: run `i / 2`, installing when even, success when odd.
pub fn synthetic_event(i: usize) -> serde_json::Value {
    let run = i / 2;
    let app = ["jellyfin", "nextcloud", "homeassistant", "pihole"][run % 4];
    serde_json::json!({
        "random_id": format!("00000000-0000-4000-8000-{run:012}"),
        "execution_id": format!("00000000-0000-4000-9000-{run:012}"),
        "type": "lxc",
        "nsapp": app,
        "status": if i.is_multiple_of(2) { "installing" } else { "success" },
        "ct_type": 1,
        "disk_size": 8,
        "core_count": 2,
        "ram_size": 2048,
        "os_type": "debian",
        "os_version": "12",
        "pve_version": "8.4.14",
        "method": "default",
        "exit_code": if i.is_multiple_of(2) { serde_json::Value::Null } else { 0.into() },
        "platform": "pve",
        "repo_source": "ProxmoxVE",
    })
}

/// The value of series `name` (with its labels, as rendered) in a Prometheus text, if
/// the text has it.
pub fn metric_value(metrics: &str, name: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
}

/// The event `body` becomes when ingest receives it at `received_at` (default options,
/// a fresh id); panics on a body ingest would refuse.
pub fn stored_event(body: &str, received_at: time::OffsetDateTime) -> schemas::Event {
    schemas::parse_event(
        body.as_bytes(),
        &Default::default(),
        uuid::Uuid::now_v7(),
        received_at,
    )
    .unwrap_or_else(|r| panic!("ingest refuses the body: {r}"))
}

/// `body` as ingest encodes it onto the queue, received now: a line of a group of the
/// test's own making.
pub fn queued_payload(body: &str) -> Vec<u8> {
    schemas::parse_event(
        body.as_bytes(),
        &Default::default(),
        uuid::Uuid::nil(),
        time::OffsetDateTime::now_utc(),
    )
    .unwrap_or_else(|r| panic!("ingest refuses the body: {r}"))
    .encode()
    .unwrap_or_else(|e| panic!("the event encodes: {e}"))
    .payload
}
