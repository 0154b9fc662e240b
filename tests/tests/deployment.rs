//! The deployment's observability, checked against the live services: the Grafana
//! dashboards name only metrics the services export, `promtool check metrics` accepts
//! each service's `/metrics`, and a real Prometheus (Debian's `prometheus`, which
//! `make test` installs) scrapes all three until `up == 1`.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use tests::{KillOnDrop, Pipeline, free_port, poll, seeded, workspace_root};

fn spawn(binary: &str, args: &[&str], env: Vec<(String, String)>) -> KillOnDrop {
    KillOnDrop(
        Command::new(tests::binary(binary))
            .args(args)
            .envs(env)
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{binary} starts: {e}")),
    )
}

fn tool(name: &str) -> PathBuf {
    let path = PathBuf::from("/usr/bin").join(name);
    assert!(
        path.exists(),
        "{} is missing: `make test` installs Debian's prometheus package",
        path.display()
    );
    path
}

/// The metric family of a sample name: histogram suffixes taken off.
fn family(name: &str) -> String {
    ["_bucket", "_sum", "_count"]
        .iter()
        .find_map(|s| name.strip_suffix(s))
        .unwrap_or(name)
        .to_owned()
}

/// Metric families named in an exposition: the name of every sample line.
fn exported(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(family)
        .collect()
}

/// The service metrics a PromQL expression names: its identifiers with a service's
/// prefix (label names and functions have none).
fn named(expr: &str) -> Vec<String> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| {
            ["ingest_", "consumer_", "aggregator_"]
                .iter()
                .any(|p| word.starts_with(p))
        })
        .map(family)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_services_metrics_pass_promtool_feed_every_dashboard_and_are_scraped() {
    // The consumer runs only as a process of its own, so that the rows go through it.
    let p = Pipeline::start_without_consumer(|_, _| {}).await;

    // The three services as processes of their own, each with its own /metrics.
    let (ingest_port, consumer_port, aggregator_port) = (free_port(), free_port(), free_port());
    let (ingest_internal, aggregator_internal) = (free_port(), free_port());
    let mut ingest = p.ingest.clone();
    ingest.ingest.listen = format!("127.0.0.1:{ingest_port}");
    ingest.ingest.internal_listen = format!("127.0.0.1:{ingest_internal}");
    ingest.log.level = "warn".into();
    let mut consumer = p.consumer.clone();
    consumer.consumer.internal_listen = format!("127.0.0.1:{consumer_port}");
    consumer.log.level = "warn".into();
    let mut aggregator = p.aggregator_settings();
    aggregator.aggregator.listen = format!("127.0.0.1:{aggregator_port}");
    aggregator.aggregator.internal_listen = format!("127.0.0.1:{aggregator_internal}");
    aggregator.aggregator.refresh_interval = Duration::from_secs(1);
    aggregator.log.level = "warn".into();
    let _processes = [
        spawn("ingest", &[], runtime::settings::to_env(&ingest)),
        spawn("consumer", &[], runtime::settings::to_env(&consumer)),
        spawn(
            "aggregator",
            &["serve"],
            runtime::settings::to_env(&aggregator),
        ),
    ];
    seeded::post(&p).await;
    // A rejection, so that the rejections panel's metric exists too.
    assert_eq!(p.post("{not json").await.status(), 400);
    let urls = [
        (
            "ingest",
            format!("http://127.0.0.1:{ingest_internal}/metrics"),
        ),
        (
            "consumer",
            format!("http://127.0.0.1:{consumer_port}/metrics"),
        ),
        (
            "aggregator",
            format!("http://127.0.0.1:{aggregator_internal}/metrics"),
        ),
    ];
    // Traffic through the ingest process, so that its request metrics exist.
    let body = r#"{"random_id":"5f0c7d3e-2a47-4b8e-9d6f-0a1b2c3d4e5f","type":"lxc","nsapp":"deploy-test","status":"installing"}"#;
    poll(Duration::from_secs(30), "the ingest process", || async {
        let r = p
            .http
            .post(format!("http://127.0.0.1:{ingest_port}/telemetry"))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .ok()?;
        (r.status() == 202).then_some(())
    })
    .await;
    let _ = p
        .http
        .post(format!("http://127.0.0.1:{ingest_port}/telemetry"))
        .body("{")
        .send()
        .await;

    // Every service's exposition, once the gauges that appear after a first cycle are in.
    let mut all = BTreeSet::new();
    for (service, url) in &urls {
        let want = match *service {
            "consumer" => "consumer_batch_size_rows",
            "aggregator" => "aggregator_statistics_age_seconds",
            _ => "ingest_http_request_duration_seconds",
        };
        let text = poll(
            Duration::from_secs(30),
            &format!("{service}'s metrics"),
            || async {
                let text = p.http.get(url).send().await.ok()?.text().await.ok()?;
                text.contains(want).then_some(text)
            },
        )
        .await;
        // promtool's linter: names, types, HELP, units, counters ending in _total.
        let mut check = Command::new(tool("promtool"))
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        {
            use std::io::Write;
            check
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
        }
        let out = check.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "promtool check metrics on {service}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        all.extend(exported(&text));
    }

    // Every Grafana panel: a Prometheus query, naming metrics the services export.
    let dir = workspace_root().join("compose/grafana/dashboards");
    let mut panels = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let dashboard: Value = serde_json::from_slice(&std::fs::read(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(dashboard["uid"].is_string() && dashboard["title"].is_string());
        for panel in dashboard["panels"].as_array().unwrap() {
            // The runs dashboard reads ClickHouse: tests/tests/grafana.rs runs its SQL.
            if panel["datasource"]["uid"] == "clickhouse" {
                continue;
            }
            panels += 1;
            let title = panel["title"].as_str().unwrap();
            assert_eq!(panel["datasource"]["uid"], "prometheus", "{title}");
            let targets = panel["targets"].as_array().unwrap();
            assert!(!targets.is_empty(), "{title}");
            for target in targets {
                let expr = target["expr"].as_str().unwrap();
                let names = named(expr);
                assert!(!names.is_empty(), "{title}: {expr} names no service metric");
                for name in names {
                    assert!(
                        all.contains(&name),
                        "{}: {title}: {name} is not exported",
                        path.display()
                    );
                }
            }
        }
    }
    assert!(panels >= 16, "{panels} panels");

    // A real Prometheus scrapes the three until each target is up.
    let prom_dir =
        std::env::temp_dir().join(format!("prometheus-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&prom_dir).unwrap();
    let config = format!(
        "global: {{ scrape_interval: 1s }}\nscrape_configs:\n  - job_name: ingest\n    static_configs: [{{ targets: ['127.0.0.1:{ingest_internal}'] }}]\n  - job_name: consumer\n    static_configs: [{{ targets: ['127.0.0.1:{consumer_port}'] }}]\n  - job_name: aggregator\n    static_configs: [{{ targets: ['127.0.0.1:{aggregator_internal}'] }}]\n"
    );
    std::fs::write(prom_dir.join("prometheus.yml"), config).unwrap();
    let check = Command::new(tool("promtool"))
        .args(["check", "config"])
        .arg(prom_dir.join("prometheus.yml"))
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    let prom_port = free_port();
    let _prometheus = KillOnDrop(
        Command::new(tool("prometheus"))
            .arg(format!(
                "--config.file={}",
                prom_dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                prom_dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus starts"),
    );
    let query = format!("http://127.0.0.1:{prom_port}/api/v1/query?query=up");
    poll(
        Duration::from_secs(60),
        "up == 1 for all three services",
        || async {
            let v: Value = p.http.get(&query).send().await.ok()?.json().await.ok()?;
            let up: BTreeSet<String> = v["data"]["result"]
                .as_array()?
                .iter()
                .filter(|r| r["value"][1] == "1")
                .filter_map(|r| r["metric"]["job"].as_str().map(str::to_owned))
                .collect();
            (up.len() == 3).then_some(())
        },
    )
    .await;
    let _ = std::fs::remove_dir_all(&prom_dir);
    p.stop().await;
}
