//! The real client's ids that are not UUIDs (`misc/api.func`): `tool-<epoch>` and
//! `addon-<epoch>` where the host has no UUID source, `<uuid>-r<n>` for a retried
//! attempt. They are accepted, stored as their UUIDv5 (never as sent), and a run sent
//! under one of them is one run in the statistics.

use serde_json::json;
use tests::Pipeline;

const INSTALLATION: &str = "5f0c7d3e-2a47-4b8e-9d6f-0a1b2c3d4e5f";

fn body(random_id: &str, execution_id: &str, kind: &str, nsapp: &str, status: &str) -> String {
    serde_json::to_string_pretty(&json!({
        "random_id": random_id,
        "execution_id": execution_id,
        "type": kind,
        "nsapp": nsapp,
        "status": status,
        "exit_code": if status == "failed" { 1 } else { 0 },
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_s_own_ids_are_accepted_and_each_run_counts_once() {
    let p = Pipeline::start().await;
    let retry = format!("{INSTALLATION}-r12345");
    let events = [
        // A host tool and an addon on hosts without a UUID source: one event each.
        body(
            "tool-1732870000",
            "tool-1732870000",
            "pve",
            "ids-tool",
            "success",
        ),
        body(
            "addon-1732870001",
            "addon-1732870001",
            "addon",
            "ids-addon",
            "failed",
        ),
        // One installation, two attempts: the first fails, the retry succeeds.
        body(INSTALLATION, INSTALLATION, "lxc", "ids-app", "installing"),
        body(INSTALLATION, INSTALLATION, "lxc", "ids-app", "failed"),
        body(INSTALLATION, &retry, "lxc", "ids-app", "installing"),
        body(INSTALLATION, &retry, "lxc", "ids-app", "success"),
    ];
    for e in &events {
        let r = p.post(e).await;
        assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    }
    p.wait_stored(events.len() as u64).await;

    // Stored as UUIDs: the installation's own, and UUIDv5s for the others.
    let ids = p
        .rows("SELECT DISTINCT toString(random_id) AS id, toString(execution_id) AS run FROM events ORDER BY id, run")
        .await;
    let uuid = |text: &str| schemas::ids::client_id(text).unwrap().to_string();
    let expected = {
        let mut e = vec![
            (uuid("tool-1732870000"), uuid("tool-1732870000")),
            (uuid("addon-1732870001"), uuid("addon-1732870001")),
            (INSTALLATION.to_owned(), INSTALLATION.to_owned()),
            (INSTALLATION.to_owned(), uuid(&retry)),
        ];
        e.sort();
        e
    };
    let stored: Vec<(String, String)> = ids
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_owned(),
                r["run"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(stored, expected);
    assert_eq!(
        uuid("tool-1732870000").as_bytes()[14],
        b'5',
        "a version 5 UUID"
    );

    // The texts themselves are stored nowhere.
    for text in ["tool-1732870000", "addon-1732870001", "-r12345"] {
        assert_eq!(
            p.count(&format!(
                "SELECT count() FROM events WHERE positionCaseInsensitive(toString(tuple(*)), '{text}') > 0"
            ))
            .await,
            Some(0),
            "{text}"
        );
    }

    // One run per tool and addon, two runs (two attempts) of the app's installation.
    p.refresh().await;
    assert_eq!(
        p.rollup("app").await,
        [
            json!({"value": "ids-addon", "runs": 1}),
            json!({"value": "ids-app", "runs": 2}),
            json!({"value": "ids-tool", "runs": 1}),
        ]
    );
    p.stop().await;
}
