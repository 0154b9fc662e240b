//! The client contract, table-driven: bodies byte for byte as the bash heredocs produce
//! them (tests/fixtures/contract/), through ingest and the consumer into ClickHouse.

use std::collections::HashMap;

use serde_json::{Value, json};
use tests::Pipeline;

macro_rules! fixture {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!("../fixtures/contract/", $name, ".json")),
        )
    };
}

const ACCEPTED: &[(&str, &str)] = &[
    fixture!("lxc_installing"),
    fixture!("lxc_validation"),
    fixture!("ping_configuring"),
    fixture!("lxc_success"),
    fixture!("lxc_failed_long_error"),
    fixture!("lxc_aborted"),
    fixture!("vm_success"),
    fixture!("pve_tool"),
    fixture!("addon"),
    fixture!("turnkey"),
    fixture!("v2_failed"),
    fixture!("broken_units_and_strings"),
    fixture!("broken_escapes"),
    fixture!("broken_controls_quotes_empty"),
];

/// What each fixture must look like once stored.
fn expected(name: &str) -> Value {
    match name {
        "lxc_installing" => {
            json!({"type": "lxc", "status": "installing", "os_type": "debian", "disk_size": 8, "gpu_passthrough": "", "gpu_type": "igpu"})
        }
        "lxc_validation" => json!({"status": "validation"}),
        "ping_configuring" => {
            json!({"status": "configuring", "disk_size": null, "os_type": "", "platform": "pve"})
        }
        "lxc_success" => {
            json!({"status": "success", "error_category": "", "gpu_passthrough": "", "gpu_type": "none", "install_duration": 187, "method": "advanced"})
        }
        // exit 100 is "APT: Package manager error" in the client's table, category dependency:
        // the server's reading (from the table) wins over what the client sent.
        "lxc_failed_long_error" => {
            json!({"status": "failed", "exit_code": 100, "error_category": "dependency",
            "error": "exit_code=100 | Unable to locate package | at line 212: $STD apt-get install -y jellyfin-ffmpeg7\n---\nSetting up nginx (1",
            "cpu_model": "Intel(R) Core(TM) i5-8500T CPU @ 2.10GHz"})
        }
        "lxc_aborted" => {
            json!({"status": "aborted", "exit_code": 130, "error_category": "user_aborted"})
        }
        "vm_success" => {
            json!({"type": "vm", "ct_type": 2, "nsapp": "haos-vm", "os_type": "homeassistant"})
        }
        "pve_tool" => {
            json!({"type": "pve", "nsapp": "post-pve-install", "disk_size": null, "status": "success"})
        }
        "addon" => json!({"type": "addon", "nsapp": "netdata"}),
        "turnkey" => json!({"type": "turnkey", "nsapp": "turnkey-nextcloud", "os_type": "turnkey"}),
        "v2_failed" => {
            json!({"payload_version": 2, "failed_line": 42, "kernel_version": "6.8.12-4-pve", "app_version": "10.10.3", "error_category": "dependency",
                   "gpu_passthrough": "yes", "gpu_type": ""})
        }
        "broken_units_and_strings" => {
            json!({"type": "lxc", "nsapp": "paperless-ngx", "status": "success", "ct_type": 0,
            "disk_size": 32, "core_count": 4, "ram_size": 4096, "os_type": "debian", "method": "", "exit_code": 0,
            "install_duration": 300, "has_arm": false, "repo_source": "ProxmoxVED"})
        }
        "broken_escapes" => {
            json!({"error": "exit_code=1 | npm ERR! can't build \\d\\q | at line 7: npm ci", "error_category": "build"})
        }
        "broken_controls_quotes_empty" => {
            json!({"error": "exit_code=1 | build failed\tcolumn bold\nsecond line \"quoted\" and \"unescaped\" words",
            "core_count": null, "repo_source": "external"})
        }
        other => panic!("no expectation for {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_body_the_clients_send_is_accepted_and_stored_normalised() {
    let p = Pipeline::start_with(|ingest, _| ingest.ingest.rate_limit_per_minute = 0).await;

    let mut ids = HashMap::new();
    for (name, body) in ACCEPTED {
        let r = p.post(body).await;
        let status = r.status();
        let answer: Value = r.json().await.unwrap();
        assert_eq!(status, 202, "{name}: {answer}");
        ids.insert(answer["event_id"].as_str().unwrap().to_owned(), *name);
    }
    p.wait_stored(ACCEPTED.len() as u64).await;

    for row in p.rows("SELECT * FROM events FINAL").await {
        let name = ids[row["event_id"].as_str().unwrap()];
        for (column, value) in expected(name).as_object().unwrap() {
            assert_eq!(&row[column], value, "{name}: column {column}");
        }
        let error = row["error"].as_str().unwrap();
        assert!(
            error.chars().count() <= schemas::parse::FREE_TEXT_MAX_CHARS,
            "{name}: error of {} chars",
            error.chars().count()
        );
    }
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_takes_arrays_and_ndjson_and_names_each_rejection() {
    let p = Pipeline::start().await;
    let good: Vec<Value> = ACCEPTED[..4]
        .iter()
        .map(|(_, b)| serde_json::from_str(b).unwrap())
        .collect();
    let mut items = good.clone();
    items.insert(1, json!({"type": "lxc"}));

    let r = p
        .http
        .post(format!("{}/v1/events", p.ingest_url))
        .json(&items)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["accepted"], 4);
    assert_eq!(answer["rejected"][0]["index"], 1);
    assert_eq!(answer["rejected"][0]["field"], "random_id");

    // The same four again as NDJSON, with a broken line: accepted, and stored once
    // (grouped into one message, they collapse in the table by their identity).
    let mut ndjson: String = good.iter().map(|v| format!("{v}\n")).collect();
    ndjson.push_str("{\"random_id\": oops\n\n");
    let r = testkit::post(
        &p.http,
        &format!("{}/v1/events", p.ingest_url),
        "application/x-ndjson",
        ndjson,
    )
    .await;
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["accepted"].as_u64(), Some(4), "{answer}");
    assert_eq!(answer["rejected"][0]["index"], 4);
    assert_eq!(answer["rejected"][0]["error"], "invalid_json");

    p.wait_stored(4).await;

    let too_many = vec![good[0].clone(); p.ingest.ingest.max_batch + 1];
    let r = p
        .http
        .post(format!("{}/v1/events", p.ingest_url))
        .json(&too_many)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "batch_too_large");
    p.stop().await;
}
