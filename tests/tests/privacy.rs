//! The ROPA's privacy promises, shown on the real pipeline: no client address and no
//! personal data from free text is stored, published or logged, and `error` is at most
//! 120 characters.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use tests::{Pipeline, poll};

/// Every log line of this test process, at every level.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const CLIENT: &str = "203.0.113.7";
const PROXY: &str = "127.0.0.2";

/// Personal data planted in the free-text fields, none of which may come out again.
const PLANTED: &[&str] = &[
    "192.168.1.50",
    "10.20.30.40",
    "fe80::1c2:3ff:fe4d:5e6f",
    "2001:db8::7",
    "bc:24:11:12:34:56",
    "BC-24-11-AB-CD-EF",
    "alice@example.org",
    "bob.smith+pve@mail.example.com",
    "s3cret",
    "/home/alice",
];

fn body(n: usize) -> String {
    let error = format!(
        "ssh {} failed: {} / {} mac {} {} mail {} or {} via https://bob:s3cret@git.example.com in /home/alice/x",
        PLANTED[0], PLANTED[1], PLANTED[2], PLANTED[4], PLANTED[5], PLANTED[6], PLANTED[7]
    );
    format!(
        r#"{{
    "random_id": "5f0c7d3e-2a47-4b8e-9d6f-{n:012}",
    "type": "lxc",
    "nsapp": "nextcloud",
    "status": "failed",
    "exit_code": 1,
    "error": "{error} {pad}",
    "cpu_model": "Xeon at {v6}",
    "gpu_model": "GPU of alice@example.org",
    "failed_command": "curl http://10.20.30.40:8080 -o /home/alice/f",
    "platform": "pve"
}}"#,
        pad = "and more log text ".repeat(40),
        v6 = PLANTED[3],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_address_or_personal_data_is_stored_published_or_logged() {
    let logs = Captured::default();
    let writer = logs.clone();
    // Every level, through the services' own filter (which keeps libraries that log
    // subjects, and so installation ids, at info).
    tracing_subscriber::fmt()
        .with_env_filter(runtime::logging::filter("trace"))
        .with_writer(move || writer.clone())
        .json()
        .init();

    let p = Pipeline::start_with(|ingest, _| {
        ingest.ingest.trusted_proxies = vec![format!("{PROXY}/32").parse().unwrap()];
    })
    .await;

    // Everything ingest publishes, as a NATS subscriber would see it (the operator's login:
    // no service may read it): each event goes to its installation's subject under the
    // events subject.
    let nats = tests::nats_admin(&p.consumer.nats.url).await;
    let mut published = nats
        .subscribe(format!("{}.>", p.consumer.nats.subject))
        .await
        .unwrap();
    nats.flush().await.unwrap();

    let via_proxy = reqwest::Client::builder()
        .local_address(PROXY.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    for n in 0..3 {
        let r = via_proxy
            .post(format!("{}/telemetry", p.ingest_url))
            .header("Content-Type", "application/json")
            .header("X-Forwarded-For", format!("{CLIENT}, 10.0.0.1"))
            .body(body(n))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    }
    p.wait_stored(3).await;

    let mut needles: Vec<&str> = PLANTED.to_vec();
    needles.extend([CLIENT, PROXY]);

    // Every String column of every table in the pipeline's database.
    let columns = p
        .rows("SELECT table, name FROM system.columns WHERE database = currentDatabase() AND type LIKE '%String%'")
        .await;
    assert!(
        columns.len() > 20,
        "the raw table's text columns are searched"
    );
    for column in &columns {
        let (table, name) = (
            column["table"].as_str().unwrap(),
            column["name"].as_str().unwrap(),
        );
        for needle in &needles {
            let hits = p
                .count(&format!(
                    "SELECT count() FROM `{table}` WHERE positionCaseInsensitive(toString(`{name}`), '{needle}') > 0"
                ))
                .await
                .unwrap();
            assert_eq!(hits, 0, "{needle} found in {table}.{name}");
        }
    }
    assert_eq!(
        p.count("SELECT max(char_length(error)) FROM events").await,
        Some(schemas::parse::FREE_TEXT_MAX_CHARS as u64),
        "errors are cut to the promised length"
    );
    let scrubbed = p.rows("SELECT error FROM events LIMIT 1").await;
    assert!(
        scrubbed[0]["error"]
            .as_str()
            .unwrap()
            .starts_with("ssh <ip> failed: <ip> / <ip> mac <mac> <mac> mail <email>"),
        "{scrubbed:?}"
    );

    // Every message published to the stream, subject and headers included.
    let mut messages = Vec::new();
    for _ in 0..3 {
        let m = tokio::time::timeout(Duration::from_secs(5), published.next())
            .await
            .unwrap()
            .unwrap();
        messages.push(format!(
            "{} {:?} {}",
            m.subject,
            m.headers,
            String::from_utf8_lossy(&m.payload)
        ));
    }
    for (m, needle) in messages
        .iter()
        .flat_map(|m| needles.iter().map(move |n| (m, n)))
    {
        assert!(
            !m.to_lowercase().contains(&needle.to_lowercase()),
            "{needle} published: {m}"
        );
    }

    // An erasure request is logged by its counts, never by the id it erases.
    let erased = "5f0c7d3e-2a47-4b8e-9d6f-000000000001";
    let r = p
        .http
        .delete(format!(
            "{}/admin/v1/installations/{erased}",
            p.aggregator_internal_url
        ))
        .bearer_auth(tests::ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());

    // Every log line, at every level, of all three services.
    p.stop().await;
    let logs = poll(Duration::from_secs(5), "logs", || async {
        let text = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
        (!text.is_empty()).then_some(text)
    })
    .await;
    assert!(logs.lines().count() > 10, "trace logging was on");
    assert!(
        logs.contains("installation erased on request"),
        "the erasure is on record"
    );
    // No installation's id either: "5f0c7d3e-2a47-4b8e-9d6f-" starts all three.
    for needle in [CLIENT, PROXY, "5f0c7d3e-2a47-4b8e-9d6f-"] {
        let line = logs.lines().find(|l| l.contains(needle));
        assert!(line.is_none(), "{needle} was logged: {line:?}");
    }
}
