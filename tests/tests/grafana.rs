//! Grafana's ClickHouse data source and the maintainers' runs dashboard, as far as they
//! can be tried without Grafana (which cannot run here): the provisioning says what the
//! plugin reads and names a user that exists with a profile the plugin's driver can
//! use, and every panel's SQL, with the plugin's macros expanded as it expands them,
//! runs as that user against the seeded dataset and returns rows.

use std::collections::BTreeSet;

use serde_json::Value;
use tests::analysts::constraint_max;
use tests::{Pipeline, seeded, workspace_root};
use yaml_rust2::{Yaml, YamlLoader};

fn yaml(path: &str) -> Yaml {
    let text = std::fs::read_to_string(workspace_root().join(path)).unwrap();
    YamlLoader::load_from_str(&text)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .remove(0)
}

/// The provisioned ClickHouse data source.
fn datasource() -> Yaml {
    let file = yaml("compose/grafana/provisioning/datasources/clickhouse.yml");
    assert_eq!(file["apiVersion"].as_i64(), Some(1));
    let sources = file["datasources"].as_vec().unwrap();
    assert_eq!(sources.len(), 1);
    sources[0].clone()
}

#[test]
fn the_data_source_is_provisioned_for_the_plugin_and_the_grafana_user() {
    let ds = datasource();
    assert_eq!(ds["type"].as_str(), Some("grafana-clickhouse-datasource"));
    assert_eq!(ds["uid"].as_str(), Some("clickhouse"));
    let json = &ds["jsonData"];
    assert_eq!(
        json["host"].as_str(),
        Some("clickhouse"),
        "compose's service"
    );
    assert_eq!(json["port"].as_i64(), Some(8123));
    assert_eq!(json["protocol"].as_str(), Some("http"));
    assert_eq!(json["username"].as_str(), Some("grafana"));
    // The plugin reads `defaultDatabase`, not `database`.
    assert_eq!(json["defaultDatabase"].as_str(), Some("telemetry"));
    // The driver sends max_execution_time = queryTimeout + 5: the profile must allow it.
    let timeout = u64::try_from(json["queryTimeout"].as_i64().unwrap()).unwrap();
    assert!(timeout + 5 <= constraint_max("telemetry_grafana", "max_execution_time"));

    // The password is the environment's, and compose gives Grafana that variable.
    let password = ds["secureJsonData"]["password"].as_str().unwrap();
    let var = password
        .strip_prefix('$')
        .expect("an environment reference");
    let compose = yaml("compose/docker-compose.yml");
    let grafana = &compose["services"]["grafana"];
    let env = grafana["environment"].as_hash().unwrap();
    assert!(env.contains_key(&Yaml::String(var.into())), "{var}");
    let plugins = grafana["environment"]["GF_PLUGINS_PREINSTALL_SYNC"]
        .as_str()
        .expect("the plugin is installed before Grafana starts");
    let version = plugins
        .strip_prefix("grafana-clickhouse-datasource@")
        .expect("the ClickHouse plugin, pinned");
    // 4.15 and later need Grafana 11.6 or later.
    let image = grafana["image"].as_str().unwrap();
    let grafana_major: u32 = image
        .rsplit(':')
        .next()
        .and_then(|v| v.split('.').next())
        .and_then(|m| m.parse().ok())
        .unwrap();
    assert!(
        version.starts_with('4') && grafana_major >= 12,
        "{version} on {image}"
    );
    // ClickHouse gets the same variable, for users.d's `from_env`.
    let ch_env = compose["services"]["clickhouse"]["environment"]
        .as_hash()
        .unwrap();
    assert!(ch_env.contains_key(&Yaml::String(var.into())));
}

/// A dashboard's variables with their current values.
type Variables = Vec<(String, Vec<String>)>;

/// Every ClickHouse panel target of the dashboards: (dashboard, title, SQL), and the
/// dashboard's variables.
fn panels() -> Vec<(String, String, String, Variables)> {
    let dir = workspace_root().join("compose/grafana/dashboards");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let d: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let vars: Variables = d["templating"]["list"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|v| {
                let current = &v["current"]["value"];
                let values = match current {
                    Value::Array(a) => a.iter().map(|x| x.as_str().unwrap().to_owned()).collect(),
                    Value::String(s) => vec![s.clone()],
                    _ => panic!("{v}"),
                };
                (v["name"].as_str().unwrap().to_owned(), values)
            })
            .collect();
        let mut ids = BTreeSet::new();
        for panel in d["panels"].as_array().unwrap() {
            if panel["datasource"]["uid"] != "clickhouse" {
                continue;
            }
            assert!(
                ids.insert(panel["id"].as_u64().unwrap()),
                "panel ids are unique"
            );
            let title = panel["title"].as_str().unwrap().to_owned();
            for t in panel["targets"].as_array().unwrap() {
                assert_eq!(t["datasource"]["uid"], "clickhouse", "{title}");
                assert_eq!(t["editorType"], "sql", "{title}");
                assert!(matches!(t["format"].as_u64(), Some(0 | 1)), "{title}");
                let sql = t["rawSql"].as_str().unwrap().to_owned();
                out.push((path.display().to_string(), title.clone(), sql, vars.clone()));
            }
        }
    }
    out
}

/// The SQL as the plugin sends it for a range `[from, to]` (Unix seconds): Grafana's
/// variables replaced by their current values, then the plugin's macros
/// (grafana/clickhouse-datasource, pkg/macros).
fn expand(sql: &str, vars: &Variables, from: i64, to: i64) -> String {
    let mut out = sql.to_owned();
    for (name, values) in vars {
        let quoted: Vec<String> = values.iter().map(|v| format!("'{v}'")).collect();
        out = out.replace(&format!("${{{name}:singlequote}}"), &quoted.join(","));
        out = out.replace(&format!("${{{name}}}"), &values.join(","));
    }
    out = out
        .replace("$__fromTime", &format!("toDateTime({from})"))
        .replace("$__toTime", &format!("toDateTime({to})"));
    assert!(
        !out.contains("$__") && !out.contains("${"),
        "unexpanded: {out}"
    );
    out
}

#[tokio::test]
async fn every_panel_of_the_runs_dashboard_answers_as_the_grafana_user() {
    let panels = panels();
    assert!(panels.len() >= 3, "{} ClickHouse panels", panels.len());
    let titles: Vec<&str> = panels.iter().map(|(_, t, _, _)| t.as_str()).collect();
    for wanted in [
        "Failure rate by app",
        "Top error patterns",
        "Runs per day by repository",
    ] {
        assert!(
            titles.iter().any(|t| t.starts_with(wanted)),
            "{wanted}: {titles:?}"
        );
    }

    let p = Pipeline::start().await;
    seeded::post(&p).await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    // What the plugin's driver sends: its database and queryTimeout + 5.
    let driver = [
        ("max_execution_time", "35"),
        ("default_format", "JSONEachRow"),
    ];
    for (file, title, sql, vars) in &panels {
        let sql = expand(sql, vars, now - 30 * 86_400, now + 60);
        let body = p
            .query_as("grafana", &sql, &driver)
            .await
            .unwrap_or_else(|e| panic!("{file}: {title}:\n{sql}\n{e}"));
        assert!(
            !body.trim().is_empty(),
            "{file}: {title} returns no rows:\n{sql}"
        );
    }
    // The views only: not the raw events, and nothing past the profile's timeout.
    let err = p
        .query_as("grafana", "SELECT count() FROM events", &driver)
        .await
        .unwrap_err();
    assert!(err.contains("ACCESS_DENIED"), "{err}");
    let err = p
        .query_as("grafana", "SELECT 1", &[("max_execution_time", "65")])
        .await
        .unwrap_err();
    assert!(err.contains("max_execution_time"), "{err}");
    p.stop().await;
}
