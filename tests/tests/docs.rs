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

/// The columns of the raw table, read from its DDL and the columns later migrations
/// add to it (`ALTER TABLE events ADD COLUMN IF NOT EXISTS c T ... AFTER b`).
fn raw_columns() -> Vec<String> {
    let ddl = include_str!("../../topology/sql/0001_events.sql");
    let body = ddl
        .split("CREATE TABLE IF NOT EXISTS events")
        .nth(1)
        .and_then(|rest| rest.split(")\nENGINE").next())
        .expect("the events DDL");
    let mut columns: Vec<String> = body
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && *l != "(" && !l.starts_with("--"))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    for m in topology::migrations::MIGRATIONS {
        for statement in m.statements() {
            let Some(rest) = statement.strip_prefix("ALTER TABLE events ADD COLUMN IF NOT EXISTS ")
            else {
                continue;
            };
            let name = rest.split_whitespace().next().expect("a column").to_owned();
            let at = match rest.split(" AFTER ").nth(1) {
                Some(after) => {
                    let after = after.trim().trim_end_matches(';');
                    columns
                        .iter()
                        .position(|c| c == after)
                        .expect("AFTER a column")
                        + 1
                }
                None => columns.len(),
            };
            columns.insert(at, name);
        }
    }
    columns
}

/// The rows of docs/ROPA.md's table of the fields stored per event.
fn ropa_field_rows() -> impl Iterator<Item = &'static str> {
    include_str!("../../docs/ROPA.md")
        .split("**Fields stored per event**")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("the field list of docs/ROPA.md")
        .lines()
        .filter(|l| l.starts_with("| `"))
}

#[test]
fn the_ropa_lists_exactly_the_stored_fields() {
    let listed: Vec<String> = ropa_field_rows()
        .filter_map(|l| l.split('`').nth(1))
        .map(str::to_owned)
        .collect();
    let columns = raw_columns();
    assert!(columns.len() > 30, "{columns:?}");
    assert_eq!(
        listed, columns,
        "docs/ROPA.md and the raw table's migrations disagree"
    );
}

/// The fields the processing record of the service we replace lists; docs/ROPA.md
/// ("Data subjects and data") must name a purpose for every stored field beyond them.
const RECORD_FIELDS: [&str; 16] = [
    "random_id",
    "type",
    "nsapp",
    "status",
    "disk_size",
    "core_count",
    "ram_size",
    "os_type",
    "os_version",
    "pve_version",
    "method",
    "error",
    "exit_code",
    "gpu_vendor",
    "cpu_vendor",
    "install_duration",
];

#[test]
fn every_stored_field_beyond_the_record_names_its_purpose() {
    let mut rows = 0;
    for line in ropa_field_rows() {
        let cells: Vec<&str> = line.split(" | ").collect();
        let field = cells[0].trim_start_matches("| ").trim_matches('`');
        let purpose = cells.get(2).copied().unwrap_or_default();
        if RECORD_FIELDS.contains(&field) {
            assert_eq!(purpose, "record", "{field} is in the record");
        } else {
            assert!(
                ["quality", "prioritisation", "trends", "processing"]
                    .iter()
                    .any(|p| purpose.starts_with(p)),
                "{field} is beyond the record and must name its purpose: {purpose:?}"
            );
        }
        rows += 1;
    }
    assert_eq!(rows, raw_columns().len());
}
