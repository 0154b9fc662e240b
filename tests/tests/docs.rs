//! The documents stay true to the code: every configuration key that exists is in the
//! README's configuration table, with its default, and nothing is there that does not.

use std::collections::BTreeMap;

use serde_json::Value;

/// `section.key` → default, for every key of every service.
fn keys() -> BTreeMap<String, Value> {
    let mut all = BTreeMap::new();
    for settings in [
        serde_json::to_value(ingest::Settings::default()).unwrap(),
        serde_json::to_value(consumer::Settings::default()).unwrap(),
        serde_json::to_value(aggregator::Settings::default()).unwrap(),
    ] {
        for (section, fields) in settings.as_object().unwrap() {
            for (key, default) in fields.as_object().unwrap() {
                all.insert(format!("{section}.{key}"), default.clone());
            }
        }
    }
    all
}

#[test]
fn the_readme_lists_every_configuration_key_and_no_other() {
    let readme = include_str!("../../README.md");
    // Rows of the table: | `section.key` | `default` or empty | used by | meaning |
    let documented: BTreeMap<&str, &str> = readme
        .lines()
        .filter(|l| l.starts_with("| `") && l.contains("` | "))
        .filter_map(|l| {
            let mut cells = l.split(" | ");
            let key = cells.next()?.trim_start_matches("| ").trim_matches('`');
            let default = cells.next()?;
            let default = default.split('`').nth(1).unwrap_or(default.trim());
            Some((key, default))
        })
        .filter(|(k, _)| k.contains('.') && !k.contains('/') && !k.contains(' '))
        .collect();
    let keys = keys();
    for (key, default) in &keys {
        let Some(written) = documented.get(key.as_str()) else {
            panic!("{key} is missing from README.md");
        };
        let actual = match default {
            Value::String(s) if s.is_empty() => "empty".to_owned(),
            Value::Array(a) if a.is_empty() => "empty".to_owned(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        assert_eq!(
            *written, actual,
            "README.md gives the wrong default for {key}"
        );
    }
    for key in documented.keys() {
        assert!(
            keys.contains_key(*key),
            "README.md documents {key}, which does not exist"
        );
    }
}
