//! A service refuses to start with a secret nobody chose, and names the setting: the
//! placeholders of compose/.env.example, or an admin token too short to resist guessing.

use std::process::{Command, Stdio};
use std::time::Duration;

/// Start `binary` with `env`; it must exit with a failure, whose stderr is returned.
fn refused(binary: &str, args: &[&str], env: &[(&str, &str)]) -> String {
    let child = Command::new(tests::binary(binary))
        .args(args)
        .envs(env.iter().copied())
        // Nothing to reach: the check comes before any connection.
        .env("TELEMETRY__CLICKHOUSE__URL", "http://127.0.0.1:1")
        .env("TELEMETRY__NATS__URL", "nats://127.0.0.1:1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let pid = child.id();
    // Wait for the exit on a thread, so that a binary that starts after all (and would
    // never exit) fails the test at the deadline instead of hanging it.
    let (done, exited) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    match exited.recv_timeout(Duration::from_secs(20)) {
        Ok(out) => {
            let out = out.expect("the binary's output");
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            assert!(!out.status.success(), "{binary} started: {stderr}");
            stderr
        }
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            panic!("{binary} {args:?} did not refuse to start");
        }
    }
}

#[test]
fn placeholder_secrets_and_short_tokens_stop_the_start() {
    let stderr = refused(
        "aggregator",
        &["serve"],
        &[(
            "TELEMETRY__AGGREGATOR__ADMIN_TOKEN",
            "CHANGE-ME-admin-token",
        )],
    );
    assert!(
        stderr.contains("TELEMETRY__AGGREGATOR__ADMIN_TOKEN is still the placeholder"),
        "{stderr}"
    );
    let stderr = refused(
        "aggregator",
        &["serve"],
        &[("TELEMETRY__AGGREGATOR__ADMIN_TOKEN", "hunter2hunter2")],
    );
    assert!(
        stderr.contains("TELEMETRY__AGGREGATOR__ADMIN_TOKEN has 14 characters"),
        "{stderr}"
    );
    let stderr = refused(
        "aggregator",
        &["export", "--out", "/nonexistent"],
        &[("TELEMETRY__CLICKHOUSE__PASSWORD", "CHANGE-ME-aggregator")],
    );
    assert!(
        stderr.contains("TELEMETRY__CLICKHOUSE__PASSWORD is still the placeholder"),
        "{stderr}"
    );
    for command in ["run", "migrate"] {
        let stderr = refused(
            "consumer",
            &[command],
            &[("TELEMETRY__CLICKHOUSE__PASSWORD", "CHANGE-ME-consumer")],
        );
        assert!(
            stderr.contains("TELEMETRY__CLICKHOUSE__PASSWORD is still the placeholder"),
            "{command}: {stderr}"
        );
    }
}
