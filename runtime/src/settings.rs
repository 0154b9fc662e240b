//! Layered configuration: built-in defaults, then an optional file, then environment
//! variables `TELEMETRY__SECTION__KEY` (for example `TELEMETRY__NATS__URL`).
//!
//! Defaults live in the `Default` impls of each service's settings structs (with
//! `#[serde(default)]`), next to their doc comments; README.md lists every key.

use std::path::Path;

use serde::de::DeserializeOwned;

/// The environment variable that names a configuration file, when `--config` is not given.
pub const CONFIG_FILE_ENV: &str = "TELEMETRY_CONFIG";

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct SettingsError(#[from] config::ConfigError);

/// Load `T` from the layers. `list_keys` are keys whose environment value is a
/// comma-separated list (for example `ingest.trusted_proxies`).
pub fn load<T: DeserializeOwned>(
    file: Option<&Path>,
    list_keys: &[&str],
) -> Result<T, SettingsError> {
    let env_file = std::env::var_os(CONFIG_FILE_ENV);
    let file = file.or(env_file.as_deref().map(Path::new));
    let mut env = config::Environment::with_prefix("TELEMETRY")
        .prefix_separator("__")
        .separator("__")
        // An empty variable is an unset one: compose passes `${TRUSTED_PROXIES:-}` as
        // "", which must mean "no proxies", not a list holding one empty address.
        .ignore_empty(true)
        .try_parsing(true);
    if !list_keys.is_empty() {
        env = env.list_separator(",");
        for key in list_keys {
            env = env.with_list_parse_key(key);
        }
    }
    let mut builder = config::Config::builder();
    if let Some(path) = file {
        builder = builder.add_source(config::File::from(path).required(true));
    }
    Ok(builder.add_source(env).build()?.try_deserialize()?)
}

/// Settings as the `TELEMETRY__SECTION__KEY` environment variables that [`load`] reads
/// back: how a test or a benchmark configures a service it runs as a process.
pub fn to_env(settings: &impl serde::Serialize) -> Vec<(String, String)> {
    let mut vars = Vec::new();
    let Ok(value) = serde_json::to_value(settings) else {
        return vars;
    };
    for (section, fields) in value.as_object().into_iter().flatten() {
        for (key, v) in fields.as_object().into_iter().flatten() {
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Array(items) => items
                    .iter()
                    .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                    .collect::<Vec<_>>()
                    .join(","),
                other => other.to_string(),
            };
            vars.push((
                format!(
                    "TELEMETRY__{}__{}",
                    section.to_uppercase(),
                    key.to_uppercase()
                ),
                text,
            ));
        }
    }
    vars
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(default)]
    struct Section {
        database: String,
        url: String,
    }

    impl Default for Section {
        fn default() -> Self {
            Self {
                database: "telemetry".into(),
                url: "http://127.0.0.1:8123".into(),
            }
        }
    }

    #[derive(Debug, Deserialize, Default)]
    #[serde(default)]
    struct Probe {
        clickhouse: Section,
    }

    #[test]
    fn defaults_hold_without_file_or_environment() {
        let p: Probe = load(None, &[]).expect("defaults load");
        assert_eq!(p.clickhouse.database, "telemetry");
    }

    #[test]
    fn a_file_overrides_defaults() {
        let dir = std::env::temp_dir().join(format!("settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("t.toml");
        std::fs::write(&path, "[clickhouse]\ndatabase = \"other\"\n").expect("write");
        let p: Probe = load(Some(&path), &[]).expect("file loads");
        assert_eq!(p.clickhouse.database, "other");
        assert_eq!(p.clickhouse.url, "http://127.0.0.1:8123");
    }
}
