//! Properties of parse, repair and validate over generated input: nothing panics, and
//! every event that is accepted satisfies the promises the table relies on.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use proptest::prelude::*;
use schemas::parse::{FREE_TEXT_MAX_CHARS, ParseOptions};
use schemas::{Event, Kind, Status, parse_event, repair::repair};
use scrub::{PLACEHOLDERS, is_system_account, scrub};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

const SEEDS: &[&str] = &[
    include_str!("../../tests/fixtures/contract/lxc_installing.json"),
    include_str!("../../tests/fixtures/contract/lxc_failed_long_error.json"),
    include_str!("../../tests/fixtures/contract/v2_failed.json"),
    include_str!("../../tests/fixtures/contract/broken_units_and_strings.json"),
    include_str!("../../tests/fixtures/contract/broken_escapes.json"),
    include_str!("../../tests/fixtures/contract/broken_controls_quotes_empty.json"),
    include_str!("../../tests/fixtures/contract/ping_configuring.json"),
];

fn parse(body: &[u8]) -> Result<Event, schemas::Rejection> {
    parse_event(
        body,
        &ParseOptions::default(),
        Uuid::nil(),
        OffsetDateTime::UNIX_EPOCH,
    )
}

/// What every accepted event must satisfy.
fn check_invariants(e: &Event) -> Result<(), TestCaseError> {
    prop_assert!(e.error.chars().count() <= FREE_TEXT_MAX_CHARS);
    prop_assert!(!e.nsapp.is_empty());
    prop_assert!(
        e.nsapp
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    );
    prop_assert!(Kind::ALL.iter().any(|k| k.as_str() == e.kind));
    prop_assert!(Status::ALL.iter().any(|s| s.as_str() == e.status));
    prop_assert!(e.ct_type.is_none_or(|v| v <= 2));
    prop_assert!(e.disk_size.is_none_or(|v| v <= 100_000));
    prop_assert!(e.core_count.is_none_or(|v| v <= 256));
    prop_assert!(e.ram_size.is_none_or(|v| v <= 1_048_576));
    prop_assert!(e.install_duration.is_none_or(|v| v <= 86_400));
    for text in [&e.error, &e.cpu_model, &e.gpu_model, &e.failed_command] {
        // Scrubbed already: scrubbing again finds nothing left to remove.
        prop_assert_eq!(&scrub(text), text);
        prop_assert!(text.chars().count() <= FREE_TEXT_MAX_CHARS);
        prop_assert!(
            !text
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t')
        );
    }
    for token in [
        &e.os_type,
        &e.os_version,
        &e.pve_version,
        &e.method,
        &e.arch,
        &e.platform,
        &e.cpu_vendor,
        &e.gpu_vendor,
        &e.gpu_passthrough,
        &e.ram_speed,
        &e.kernel_version,
        &e.app_version,
    ] {
        // One word, scrubbed; `<` and `>` only as part of a placeholder.
        prop_assert_eq!(&scrub(token), token);
        let unplaced = PLACEHOLDERS
            .iter()
            .fold(token.to_string(), |t, p| t.replace(p, ""));
        prop_assert!(
            unplaced
                .chars()
                .all(|c| !c.is_control() && !c.is_whitespace() && !"\"'`$;&|<>()".contains(c))
        );
        prop_assert_eq!(token.to_lowercase(), token.as_str());
    }
    prop_assert!(matches!(
        e.repo_source.as_str(),
        "ProxmoxVE" | "ProxmoxVED" | "external"
    ));
    prop_assert!(
        e.repo_slug.is_empty()
            || e.repo_slug.starts_with("community-scripts/")
            || e.repo_slug.starts_with("fork/")
    );
    Ok(())
}

/// A seed body with a few bytes changed, inserted or removed.
fn mutated() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::sample::select(SEEDS),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..8),
    )
        .prop_map(|(seed, edits)| {
            let mut body = seed.as_bytes().to_vec();
            for (at, byte, op) in edits {
                if body.is_empty() {
                    break;
                }
                let i = at.index(body.len());
                match op {
                    0 => body[i] = byte,
                    1 => body.insert(i, byte),
                    _ => {
                        body.remove(i);
                    }
                }
            }
            body
        })
}

/// Text with the kinds of things scrubbing and repair must cope with.
fn nasty_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("192.168.0.1".to_owned()),
            Just("fe80::1".to_owned()),
            Just("aa:bb:cc:dd:ee:ff".to_owned()),
            Just("x@example.com".to_owned()),
            Just("https://u:p@h/".to_owned()),
            Just("/home/bob".to_owned()),
            Just("\u{1b}[31m".to_owned()),
            Just("\"".to_owned()),
            Just("\\".to_owned()),
            "[a-z0-9 .:@/-]{0,12}",
            any::<String>(),
        ],
        0..12,
    )
    .prop_map(|parts| parts.concat())
}

fn any_scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (0u64..2_000_000).prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        nasty_text().prop_map(Value::String),
    ]
}

/// A value for one key: mostly plausible for that key, sometimes anything at all.
fn value_for(key: &'static str) -> BoxedStrategy<Value> {
    let plausible: BoxedStrategy<Value> = match key {
        "ct_type" | "disk_size" | "core_count" | "ram_size" | "exit_code" | "install_duration"
        | "payload_version" | "failed_line" => prop_oneof![
            6 => (0u64..3).prop_map(Value::from),
            2 => (0u64..3).prop_map(|n| Value::String(n.to_string())),
            1 => (0u64..300).prop_map(Value::from),
            1 => (0u64..300, prop::sample::select(&["G", " MiB", "c"][..]))
                .prop_map(|(n, unit)| Value::String(format!("{n}{unit}"))),
        ]
        .boxed(),
        "error" | "cpu_model" | "gpu_model" | "failed_command" => {
            nasty_text().prop_map(Value::String).boxed()
        }
        "has_arm" => any::<bool>().prop_map(Value::Bool).boxed(),
        "execution_id" => Just(Value::from("0c8e3f4a-1b2c-4d5e-8f90-a1b2c3d4e5f6")).boxed(),
        "repo_slug" => "[A-Za-z0-9_-]{1,10}/[A-Za-z0-9_.-]{1,10}"
            .prop_map(Value::String)
            .boxed(),
        _ => "[A-Za-z0-9 ._-]{0,20}".prop_map(Value::String).boxed(),
    };
    prop_oneof![40 => plausible, 1 => any_scalar()].boxed()
}

/// The keys the strategy may leave out: every key an event is read from but the four
/// required ones, which it always sets, plus one the parser must ignore.
fn optional_keys() -> Vec<&'static str> {
    schemas::body::KEYS
        .into_iter()
        .filter(|k| !matches!(*k, "random_id" | "type" | "nsapp" | "status"))
        .chain(["extra"])
        .collect()
}

/// An object with the contract's keys (and an unknown one), each present or not.
fn event_like_object() -> impl Strategy<Value = Map<String, Value>> {
    let keys = optional_keys();
    let values: Vec<_> = keys
        .iter()
        .map(|k| prop::option::weighted(0.6, value_for(k)))
        .collect();
    let required = (
        prop_oneof![9 => Just(Value::from("5f0c7d3e-2a47-4b8e-9d6f-0a1b2c3d4e5f")), 1 => any_scalar()],
        prop_oneof![9 => prop::sample::select(&["lxc", "VM", "tool", "Addon", "pve", "turnkey"][..]).prop_map(Value::from), 1 => any_scalar()],
        prop_oneof![9 => "[a-z0-9-]{1,20}".prop_map(Value::String), 1 => any_scalar()],
        prop_oneof![9 => prop::sample::select(&["installing", "failed", "Done", "sucess", "aborted", "unknown"][..]).prop_map(Value::from), 1 => any_scalar()],
    );
    (values, required).prop_map(move |(values, (random_id, kind, nsapp, status))| {
        let mut map: Map<String, Value> = keys
            .iter()
            .zip(values)
            .filter_map(|(k, v)| v.map(|v| ((*k).to_owned(), v)))
            .collect();
        map.insert("random_id".into(), random_id);
        map.insert("type".into(), kind);
        map.insert("nsapp".into(), nsapp);
        map.insert("status".into(), status);
        map
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(e) = parse(&body) {
            check_invariants(&e)?;
        }
    }

    #[test]
    fn mutated_client_bodies_never_panic_and_accepted_ones_hold(body in mutated()) {
        if let Ok(e) = parse(&body) {
            check_invariants(&e)?;
        }
    }

    #[test]
    fn arbitrary_field_values_are_accepted_only_within_the_rules(map in event_like_object()) {
        let body = serde_json::to_vec_pretty(&Value::Object(map)).unwrap();
        if let Ok(e) = parse(&body) {
            check_invariants(&e)?;
        }
    }

    #[test]
    fn repair_leaves_valid_objects_of_scalars_as_they_are(map in event_like_object()) {
        let text = serde_json::to_string_pretty(&Value::Object(map)).unwrap();
        let repaired = repair(text.as_bytes()).unwrap();
        prop_assert_eq!(
            serde_json::from_str::<Value>(&repaired).unwrap(),
            serde_json::from_str::<Value>(&text).unwrap()
        );
    }
}

/// A scrubbed text without its placeholders: `<user>` holds `use`, which is no leak.
fn without_placeholders(text: &str) -> String {
    PLACEHOLDERS
        .iter()
        .fold(text.to_owned(), |t, p| t.replace(p, " "))
}

/// Filler around what is planted: upper case, digits and punctuation, so that it can
/// never spell a planted (lower-case) name by chance.
fn filler() -> impl Strategy<Value = String> {
    "[A-Z0-9 .,:;=/_()\\[\\]-]{0,30}"
}

/// A host name of one to three labels, with a hyphen so that it is nobody's word.
fn host_name() -> impl Strategy<Value = String> {
    ("[a-z]{3,8}-[a-z]{3,8}", prop::option::of("[a-z]{3,8}")).prop_map(|(a, b)| match b {
        Some(b) => format!("{a}{b}"),
        None => a,
    })
}

/// A host name and a text that names it.
fn planted_host() -> impl Strategy<Value = (String, String)> {
    (
        host_name(),
        prop::sample::select(
            &[
                "{} .lan",
                "-hostname {}",
                "--hostname={}",
                "HOSTNAME={}",
                "search {}.home.arpa",
                "Could not resolve host: {}",
                "Could not resolve host: {}.some-family.de",
                "ssh root@{}",
                "sudo: unable to resolve host {}: Name or service not known",
                "http://{}:8096/web",
                "//{}/media",
                "mount {}:/volume1 /mnt",
                "/etc/pve/nodes/{}/lxc/100.conf",
                "cloud.{}.de",
                "{}.duckdns.org",
                "node '{}'",
            ][..],
        ),
    )
        .prop_map(|(name, template)| {
            let text = template.replace("{} .lan", "{}.lan").replace("{}", &name);
            (name, text)
        })
}

/// A secret and a text that carries it.
fn planted_secret() -> impl Strategy<Value = (String, String)> {
    (
        "[a-z][a-zA-Z0-9]{7,15}",
        "[A-Za-z0-9]{36}",
        "[A-Z0-9]{16}",
        prop::sample::select(
            &[
                "-password {}",
                "--password={}",
                "PASSWORD={}",
                "DB_TOKEN={}",
                "API_SECRET={}",
                "Authorization: Bearer {}",
                "mysql -u root -p{}",
                "https://bob:{}@git.example.net/x.git",
                "IDENTIFIED BY '{}'",
                "ghp_{36}",
                "AKIA{16}",
            ][..],
        ),
    )
        .prop_map(|(word, long, upper, template)| {
            if template.contains("{36}") {
                let token = template.replace("{36}", &long);
                (token.clone(), token)
            } else if template.contains("{16}") {
                let token = template.replace("{16}", &upper);
                (token.clone(), token)
            } else {
                (word.clone(), template.replace("{}", &word))
            }
        })
}

/// A user name and a text that gives it away.
fn planted_user() -> impl Strategy<Value = (String, String)> {
    (
        "[a-z]{3,8}[0-9]{0,2}",
        prop::sample::select(
            &[
                "/home/{}/app",
                r"C:\Users\{}\Desktop",
                "sudo -u {} make",
                "for user \"{}\"",
                "{}@nas:~$ ls",
                "ssh {}@10.0.0.5",
                "psql -U {} -d x",
                "su - {}",
                "user {}@pve",
                "ls ~{}/x",
            ][..],
        ),
    )
        .prop_map(|(name, template)| (name.clone(), template.replace("{}", &name)))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn a_planted_host_never_survives((name, planted) in planted_host(), before in filler(), after in filler()) {
        // The template's own words may hold the name (`user` holds `use`).
        prop_assume!(planted.matches(name.as_str()).count() == 1);
        let text = format!("{before} {planted} {after}");
        let scrubbed = without_placeholders(&scrub(&text));
        prop_assert!(!scrubbed.contains(&name), "{name} survived in {scrubbed}");
    }

    #[test]
    fn a_planted_secret_never_survives((secret, planted) in planted_secret(), before in filler(), after in filler()) {
        prop_assume!(planted.matches(secret.as_str()).count() == 1);
        let text = format!("{before} {planted} {after}");
        let scrubbed = without_placeholders(&scrub(&text));
        prop_assert!(!scrubbed.contains(&secret), "{secret} survived in {scrubbed}");
    }

    #[test]
    fn a_planted_user_never_survives((name, planted) in planted_user(), before in filler(), after in filler()) {
        // Words that a user name could be but never is, which contexts read as words.
        prop_assume!(!["and", "the", "for", "with", "from", "not", "was", "all", "any", "via", "null", "none", "true", "false", "yes", "auto", "self", "port", "host", "name", "node", "failed", "error", "found", "unknown", "static", "manual", "dhcp", "domain", "search", "server", "client", "socket", "address", "bus", "nil", "localhost", "hosts", "nodes", "hostname", "this", "that"].contains(&name.as_str()));
        // Accounts that name no person, which the scrubber keeps by design: its own list,
        // not a copy of part of it (a copy missed `uucp`).
        prop_assume!(!is_system_account(&name));
        // The template's own words may hold the name (`user` holds `use`).
        prop_assume!(planted.matches(name.as_str()).count() == 1);
        let text = format!("{before} {planted} {after}");
        let scrubbed = without_placeholders(&scrub(&text));
        prop_assert!(!scrubbed.contains(&name), "{name} survived in {scrubbed}");
    }

    #[test]
    fn scrubbing_is_idempotent(text in nasty_text()) {
        let once = scrub(&text);
        prop_assert_eq!(scrub(&once), once);
    }

    #[test]
    fn scrubbing_planted_text_is_idempotent((_, planted) in planted_host(), (_, secret) in planted_secret(), (_, user) in planted_user(), before in filler()) {
        let once = scrub(&format!("{before} {planted} {secret}\n{user}"));
        prop_assert_eq!(scrub(&once), once);
    }
}

#[test]
fn every_seed_is_accepted() {
    for seed in SEEDS {
        let e = parse(seed.as_bytes()).expect("the seed corpus is valid client output");
        check_invariants(&e).unwrap();
    }
}

/// Harmless texts of the kind failing installs send, with every word a vocabulary knows.
const HARMLESS: &[&str] = &[
    "exit_code=100 | APT: Package manager error | at line 42: apt-get install -y jellyfin",
    "E: Unable to locate package libssl1.1",
    "nginx: [emerg] bind() to 0.0.0.0:80 failed (98: Address already in use)",
    "Verbindung zum Server fehlgeschlagen: Zeitüberschreitung",
    "ModuleNotFoundError: No module named 'yaml'",
];

/// A token that no vocabulary holds and no safe shape covers: letters, then digits and
/// letters, as a host's, a user's or a key's name could be.
fn unknown_token() -> impl Strategy<Value = String> {
    "[a-z]{3,6}[0-9]{0,2}[a-z]{3,8}"
        .prop_filter("in no vocabulary", |t| !scrub::net::is_recognised(t))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Issue 23: what the vocabulary net does not recognise is never stored, wherever in
    /// a harmless text it stands.
    #[test]
    fn an_unknown_token_anywhere_in_a_harmless_text_is_never_stored(
        token in unknown_token(),
        which in 0..HARMLESS.len(),
        at in 0usize..20,
    ) {
        let words: Vec<&str> = HARMLESS[which].split(' ').collect();
        let at = at % (words.len() + 1);
        let mut planted = words.clone();
        planted.insert(at, &token);
        let text = planted.join(" ");
        let body = format!(
            r#"{{"random_id":"5f0c7d3e-2a47-4b8e-9d6f-0a1b2c3d4e5f","type":"lxc","nsapp":"corpus","status":"failed","exit_code":1,"error":{}}}"#,
            serde_json::to_string(&text).unwrap()
        );
        let event = parse(body.as_bytes()).unwrap();
        prop_assert!(!event.error.to_lowercase().contains(&token), "{} stored in {:?}", token, event.error);
    }
}

/// Every meaning of the scripts' exit codes, and the slugs the contract names, come
/// through the net whole: a maintainer reads them.
#[test]
fn exit_code_meanings_and_app_slugs_survive_the_net() {
    let table = include_str!("../data/exit-codes.tsv");
    let mut lost = Vec::new();
    for line in table.lines().skip(1) {
        let meaning = line.split('\t').nth(1).unwrap_or_default();
        if scrub::net::filter(meaning, &[]) != meaning {
            lost.push(format!("{meaning} -> {}", scrub::net::filter(meaning, &[])));
        }
    }
    assert!(lost.is_empty(), "{}", lost.join("\n"));
    for slug in [
        "jellyfin",
        "haos-vm",
        "turnkey-nextcloud",
        "homeassistant",
        "vaultwarden",
    ] {
        assert!(scrub::net::is_recognised(slug), "{slug}");
    }
}
