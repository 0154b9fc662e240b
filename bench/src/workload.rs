//! Synthetic events with the shape of real ones: the field distributions of the client
//! contract, deterministic for a given index so that runs are comparable.

/// Events per message in the backlog: what ingest's group commit publishes at full load
/// (64 clients over its 2 publish slots gather 13 a message on average; `bench ingest`
/// reports the measured histogram).
pub const GROUP: usize = 16;

use schemas::Event;
use schemas::parse::ParseOptions;
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

const APPS: &[&str] = &[
    "jellyfin",
    "homeassistant",
    "nextcloud",
    "pihole",
    "vaultwarden",
    "adguard",
    "immich",
    "paperless-ngx",
    "plex",
    "docker",
    "debian",
    "nginxproxymanager",
    "frigate",
    "gitea",
    "uptimekuma",
    "zigbee2mqtt",
    "mqtt",
    "influxdb",
    "grafana",
    "wireguard",
];
const OSES: &[(&str, &str)] = &[
    ("debian", "12"),
    ("debian", "13"),
    ("ubuntu", "24.04"),
    ("alpine", "3.22"),
];
const STEPS: &[&str] = &[
    "installing",
    "validation",
    "configuring",
    "configuring",
    "success",
];

/// The client's JSON body of event `i`: runs of five events (installing, validation, a
/// configuring ping from the host and a minimal one from inside the container, a
/// terminal status), one in ten of them failing.
pub fn body(i: u64) -> Value {
    let run = i / STEPS.len() as u64;
    let step = STEPS[(i % STEPS.len() as u64) as usize];
    if i % STEPS.len() as u64 == 3 {
        return json!({
            "random_id": Uuid::from_u64_pair(0x5f0c_7d3e_2a47_4b8e, 0x9d6f_0000_0000_0000 | run).to_string(),
            "execution_id": Uuid::from_u64_pair(0x0c8e_3f4a_1b2c_4d5e, 0x8f90_0000_0000_0000 | run).to_string(),
            "type": "lxc",
            "nsapp": APPS[(run % APPS.len() as u64) as usize],
            "status": "configuring",
            "platform": "pve",
            "repo_source": "ProxmoxVE",
            "repo_slug": "community-scripts/ProxmoxVE",
        });
    }
    let failed = run % 10 == 7 && step == "success";
    let (os, version) = OSES[(run % OSES.len() as u64) as usize];
    let pick = |choices: &[u64]| choices[(run % choices.len() as u64) as usize];
    let pve = ["8.4.14", "9.0.10", "9.1.1"][(run % 3) as usize];
    let mut body = json!({
        "random_id": Uuid::from_u64_pair(0x5f0c_7d3e_2a47_4b8e, 0x9d6f_0000_0000_0000 | run).to_string(),
        "execution_id": Uuid::from_u64_pair(0x0c8e_3f4a_1b2c_4d5e, 0x8f90_0000_0000_0000 | run).to_string(),
        "type": if run.is_multiple_of(9) { "vm" } else { "lxc" },
        "nsapp": APPS[(run % APPS.len() as u64) as usize],
        "status": if failed { "failed" } else { step },
        "ct_type": 1,
        "disk_size": pick(&[4, 8, 16, 32]),
        "core_count": pick(&[1, 2, 4]),
        "ram_size": pick(&[512, 1024, 2048, 4096]),
        "os_type": os,
        "os_version": version,
        "pve_version": pve,
        "method": if run.is_multiple_of(5) { "advanced" } else { "default" },
        "cpu_vendor": if run.is_multiple_of(3) { "amd" } else { "intel" },
        "cpu_model": if run.is_multiple_of(3) { "AMD Ryzen 7 5800U" } else { "Intel N100" },
        "gpu_vendor": "intel",
        "gpu_passthrough": "none",
        "arch": "amd64",
        "platform": "pve",
        "repo_source": "ProxmoxVE",
        "repo_slug": "community-scripts/ProxmoxVE",
    });
    if step == "success" {
        body["exit_code"] = json!(if failed { 100 } else { 0 });
        body["install_duration"] = json!(60 + run % 600);
        if failed {
            body["error"] = json!(
                "exit_code=100 | apt-get install failed | at line 42: apt-get install -y pkg\n---\nE: Unable to locate package pkg"
            );
        }
    }
    body
}

/// Event `i` as ingest would store it.
pub fn event(i: u64) -> Event {
    let bytes = serde_json::to_vec(&body(i)).unwrap_or_default();
    // The workload is built from valid values; a failure here is a bug in this file.
    schemas::parse_event(
        &bytes,
        &ParseOptions::default(),
        Uuid::now_v7(),
        OffsetDateTime::now_utc(),
    )
    .unwrap_or_else(|e| panic!("synthetic event {i} is invalid: {e}"))
}
