//! Parsing, normalising and scrubbing, on one core, without servers: what every accepted
//! event costs ingest before it is published, next to what decoding its JSON alone costs.

use std::hint::black_box;
use std::time::Instant;

use schemas::parse::ParseOptions;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::report::{Parse, ParseCase};

/// A failing install as the client reports it: the summary line, then a log tail with
/// the addresses, names and secrets that scrubbing removes.
fn failed_body(tail_lines: usize) -> Vec<u8> {
    let mut log = String::from(
        "exit_code=100 | APT: package manager error | at line 42: pct create 105 local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst -hostname nas-alice -password Hunter2 -net0 name=eth0,bridge=vmbr0,ip=192.168.1.50/24,gw=192.168.1.1,hwaddr=BC:24:11:AB:CD:EF\n---\n",
    );
    for i in 0..tail_lines {
        log.push_str(&format!(
            "Get:{i} http://deb.debian.org/debian bookworm/main amd64 libssl3 amd64 3.0.15-1~deb12u1 [2025 kB]\nErr:{i} http://apt-cacher.smith.lan:3142/debian bookworm InRelease Could not resolve host: apt-cacher.smith.lan\nsudo: unable to resolve host nas-alice: Name or service not known\n"
        ));
    }
    serde_json::to_vec(&serde_json::json!({
        "random_id": "5f0c7d3e-2a47-4b8e-9d6f-0a1b2c3d4e5f",
        "type": "lxc",
        "nsapp": "jellyfin",
        "status": "failed",
        "exit_code": 100,
        "error": log,
        "failed_command": "apt-get install -y jellyfin",
        "os_type": "debian",
        "os_version": "12",
        "pve_version": "8.4.14",
        "cpu_model": "Intel N100",
        "repo_source": "ProxmoxVE",
        "repo_slug": "community-scripts/ProxmoxVE",
    }))
    .unwrap_or_default()
}

/// Time `f` over `bodies`, `rounds` times, in µs per body.
fn per_body(bodies: &[Vec<u8>], rounds: usize, f: impl Fn(&[u8])) -> f64 {
    let started = Instant::now();
    for _ in 0..rounds {
        for body in bodies {
            f(body);
        }
    }
    started.elapsed().as_secs_f64() * 1e6 / (rounds * bodies.len()) as f64
}

fn case(what: &str, bodies: &[Vec<u8>], rounds: usize) -> ParseCase {
    let opts = ParseOptions::default();
    let parse_us = per_body(bodies, rounds, |b| {
        let _ = black_box(schemas::parse_event(
            b,
            &opts,
            Uuid::nil(),
            OffsetDateTime::UNIX_EPOCH,
        ));
    });
    let json_us = per_body(bodies, rounds, |b| {
        let _ = black_box(serde_json::from_slice::<serde_json::Value>(b));
    });
    let bytes = bodies.iter().map(Vec::len).sum::<usize>() / bodies.len().max(1);
    ParseCase {
        what: what.to_owned(),
        bytes,
        parse_us,
        json_us,
    }
}

/// Every text of the scrubber's corpus files (tests/fixtures/scrub/), each as the failed
/// run that carries it: a few thousand failing installs written by different hands.
fn corpus_bodies() -> Vec<Vec<u8>> {
    let id = "5f0c7d3e-2a47-4b8e-9d6f-0a1b2c3d4e5f";
    tests::corpus::all_files()
        .flat_map(|file| {
            let corpus = tests::corpus::Corpus::load_file(file);
            let leaks = corpus.leak.iter().map(|l| l.body(id));
            let harmless = corpus.harmless.iter().map(|h| h.body(id));
            leaks.chain(harmless).collect::<Vec<_>>()
        })
        .map(String::into_bytes)
        .collect()
}

pub fn run() -> Parse {
    let mix: Vec<Vec<u8>> = (0..10_000)
        .map(|i| serde_json::to_vec(&crate::workload::body(i)).unwrap_or_default())
        .collect();
    // First and once each: the regex engines build their automata's states as texts need
    // them, so the same body scrubbed again and again (the cases below) finds every state
    // built, and text it has not seen does not. The rules are compiled first, on one body,
    // so that their one-off cost is not counted.
    let corpus = corpus_bodies();
    if let Some(first) = corpus.first() {
        let _ = black_box(schemas::parse_event(
            first,
            &ParseOptions::default(),
            Uuid::nil(),
            OffsetDateTime::UNIX_EPOCH,
        ));
    }
    Parse {
        cases: vec![
            case(
                "the corpus's failing installs, each once (new text)",
                &corpus,
                1,
            ),
            case("the workload's mix (one run in ten fails)", &mix, 10),
            case("a failed install, 1 KB of log", &[failed_body(4)], 20_000),
            case("a failed install, 10 KB of log", &[failed_body(40)], 20_000),
        ],
    }
}
