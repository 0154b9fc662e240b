//! What the tests of several crates share, with no service in it, so that ingest's
//! in-process tests and the end-to-end tests in `tests/` send and read requests the same
//! way: [`post`] a body as a client does, [`get`], [`text`] and [`json`] of a GET, [`revalidate`],
//! and [`gzip`]; and what the real client does, in time ([`BASH_LXC_INSTALL`]).
//!
//! Each panics when nothing answers or the answer is not what it reads: in a test that
//! is the failure to report, with the URL.

use std::io::Write;

/// One LXC install of the bash client (community-scripts/ProxmoxVE, `misc/api.func`,
/// `misc/build.func`): seconds after its start, and the status it sends. `installing`
/// and `validation` from the host, `configuring` when the container is created, five
/// pings from inside the container (after its network is up, after the OS update, after
/// the app is installed, and around the clean-up), then the final status from the host.
/// The app install (between the third and the fourth ping) takes one to five minutes.
pub const BASH_LXC_INSTALL: [(u64, &str); 9] = [
    (0, "installing"),
    (1, "validation"),
    (20, "configuring"),
    (65, "configuring"),
    (95, "configuring"),
    (215, "configuring"),
    (217, "configuring"),
    (222, "configuring"),
    (224, "success"),
];

/// POST `body` to `url` as `content_type`.
pub async fn post(
    http: &reqwest::Client,
    url: &str,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    http.post(url)
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {url}: no answer: {e}"))
}

/// The answer to a GET of `url`, whatever its status.
pub async fn get(http: &reqwest::Client, url: &str) -> reqwest::Response {
    http.get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: no answer: {e}"))
}

/// The text a GET of `url` answers (metrics, a script, a page).
pub async fn text(http: &reqwest::Client, url: &str) -> String {
    http.get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: no answer: {e}"))
        .text()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: not a text: {e}"))
}

/// The JSON document a GET of `url` answers.
pub async fn json(http: &reqwest::Client, url: &str) -> serde_json::Value {
    http.get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: no answer: {e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: not a JSON document: {e}"))
}

/// `bytes` compressed as gzip, the way a client compresses a body.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing to memory does not fail.
    encoder.write_all(bytes).expect("gzip into memory");
    encoder.finish().expect("gzip into memory")
}

/// GET `url` again with the `etag` of an earlier answer (`If-None-Match`): 304 when the
/// document is unchanged.
pub async fn revalidate(http: &reqwest::Client, url: &str, etag: &str) -> reqwest::Response {
    http.get(url)
        .header("If-None-Match", etag)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: no answer: {e}"))
}
