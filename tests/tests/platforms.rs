//! Proxmox VE and Incus apart: the v2 client also installs on Incus hosts
//! (`platform` = `incus`, `pve_version` = `incus-X`), and those runs are a platform of
//! their own in the statistics, a filter like the repository, so that they are not read
//! as PVE versions or PVE resources.

use serde_json::{Value, json};
use tests::Pipeline;
use tests::seeded;

/// `n` runs of `app` on Incus, from the v2 client, `failed` of them failed.
fn incus_runs(app: &str, n: usize, failed: usize) -> (Vec<Value>, Vec<Value>) {
    let session = |i: usize| format!("1ac05000-0000-4000-8000-{i:012}");
    let first = (0..n)
        .map(|i| {
            json!({"payload_version": 2, "random_id": session(i), "execution_id": session(i + 1000),
                   "type": "lxc", "nsapp": app, "status": "installing", "platform": "incus",
                   "pve_version": "incus-6.0.4", "os_type": "debian", "os_version": "13",
                   "core_count": 4, "ram_size": 4096, "disk_size": 16, "repo_source": "ProxmoxVE"})
        })
        .collect();
    let last = (0..n)
        .map(|i| {
            let status = if i < failed { "failed" } else { "success" };
            json!({"payload_version": 2, "random_id": session(i), "execution_id": session(i + 1000),
                   "type": "lxc", "nsapp": app, "status": status, "platform": "incus",
                   "exit_code": if i < failed { 1 } else { 0 }, "repo_source": "ProxmoxVE"})
        })
        .collect();
    (first, last)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incus_runs_are_a_platform_of_their_own() {
    let p = Pipeline::start().await;
    let (_, stored) = seeded::post(&p).await;
    let (first, last) = incus_runs("docker", 12, 2);
    let (a, _) = seeded::post_batch(&p, &first).await;
    let (b, _) = seeded::post_batch(&p, &last).await;
    p.wait_stored(stored + a + b).await;
    p.refresh().await;
    let get = |path: &str| {
        let url = format!("{}{path}", p.aggregator_url);
        let p = &p;
        async move { p.get_json(&url).await }
    };

    // The default is Proxmox VE: the seeded dataset's numbers, without the Incus runs.
    let pve = get("/v1/stats/summary?days=30").await;
    assert_eq!(pve["platform"], "pve");
    assert_eq!(pve["runs"], 1000);
    let incus = get("/v1/stats/summary?days=30&platform=incus").await;
    assert_eq!(incus["platform"], "incus");
    assert_eq!(
        (incus["runs"].as_u64(), incus["failed"].as_u64()),
        (Some(12), Some(2))
    );
    // Both: the sum of what each publishes.
    let all = get("/v1/stats/summary?days=30&platform=all").await;
    assert_eq!(all["runs"], 1012);

    // Incus versions are not PVE versions.
    let versions = |doc: &Value| -> Vec<String> {
        doc["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["value"].as_str().unwrap().to_owned())
            .collect()
    };
    let pve_versions = versions(&get("/v1/stats/pve?days=30").await);
    assert!(!pve_versions.is_empty());
    assert!(
        pve_versions.iter().all(|v| !v.starts_with("incus")),
        "{pve_versions:?}"
    );
    assert_eq!(
        versions(&get("/v1/stats/pve?days=30&platform=incus").await),
        ["incus-6.0.4"]
    );
    // An app's document too.
    let docker = get("/v1/stats/apps/docker?days=30&platform=incus").await;
    assert_eq!(docker["runs"], 12);

    // Anything else is a clear 400.
    let r = testkit::get(
        &p.http,
        &format!("{}/v1/stats/summary?platform=lxd", p.aggregator_url),
    )
    .await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_platform");
    assert_eq!(body["field"], "platform");
    p.stop().await;
}
