//! A mutation fuzzer over parse, repair and validate, seeded with the committed corpus of
//! real client bodies (`tests/fixtures/contract/` and `schemas/fuzz/corpus/`).
//!
//! `cargo test` runs a fixed, deterministic number of mutations. `make fuzz` runs it for
//! as long as asked (`FUZZ_SECONDS`, with a fresh seed each time, printed), which is how
//! cargo-fuzz would be used if this machine had a nightly toolchain; an input that
//! panics or breaks an invariant is written to `target/fuzz-crashes/` and fails the run.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use schemas::parse::{self, FREE_TEXT_MAX_CHARS, ParseOptions};
use schemas::{Event, parse_event};
use time::OffsetDateTime;
use uuid::Uuid;

/// Tokens that break JSON, or that the repairer and scrubber treat specially.
const DICTIONARY: &[&str] = &[
    "\"",
    "\\",
    "\\x",
    "\\'",
    "\\u00",
    "\\ud800",
    "'",
    ",",
    ",}",
    "}",
    "{",
    "[",
    "]",
    ":",
    "null",
    "true",
    "-",
    "-1",
    "0",
    "255",
    "256",
    "99999999999999999999",
    "1e309",
    "32G",
    "4G",
    "2 cores",
    "\t",
    "\n",
    "\u{1b}[31m",
    "\u{0}",
    "é",
    "💥",
    "192.168.1.1",
    "fe80::1",
    "aa:bb:cc:dd:ee:ff",
    "a@b.de",
    "https://u:p@h/",
    "/home/bob/",
    "success",
    "sucess",
    "done",
    "failed",
    "aborted",
    "\"status\"",
    "\"error\"",
    "\"exit_code\"",
    "\"nsapp\"",
    "\"random_id\"",
];

/// xorshift64*: small, fast, reproducible from a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn corpus() -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut seeds = Vec::new();
    for dir in [
        root.join("../tests/fixtures/contract"),
        root.join("fuzz/corpus"),
    ] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        seeds.extend(files.iter().map(|f| std::fs::read(f).unwrap()));
    }
    assert!(seeds.len() >= 15, "the seed corpus is missing");
    seeds
}

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut input = seeds[rng.below(seeds.len())].clone();
    for _ in 0..1 + rng.below(8) {
        let at = rng.below(input.len() + 1);
        match rng.below(7) {
            0 if !input.is_empty() => {
                let i = rng.below(input.len());
                input[i] ^= 1 << rng.below(8);
            }
            1 => {
                let token = DICTIONARY[rng.below(DICTIONARY.len())].as_bytes();
                input.splice(at..at, token.iter().copied());
            }
            2 if !input.is_empty() => {
                let end = (at + 1 + rng.below(16)).min(input.len());
                input.drain(at.min(end)..end);
            }
            3 => {
                let end = (at + rng.below(32)).min(input.len());
                let copy = input[at.min(end)..end].to_vec();
                input.splice(at..at, copy);
            }
            4 => {
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len());
                input.truncate(at);
                input.extend_from_slice(&other[from..]);
            }
            5 => input.truncate(at),
            _ => {
                let byte = rng.next() as u8;
                input.insert(at, byte);
            }
        }
    }
    input
}

/// What every accepted event must satisfy; the reason it does not, if it does not.
fn broken(e: &Event) -> Option<String> {
    if e.error.chars().count() > FREE_TEXT_MAX_CHARS {
        return Some(format!(
            "error longer than {FREE_TEXT_MAX_CHARS} characters"
        ));
    }
    if e.nsapp.is_empty()
        || !e
            .nsapp
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Some(format!("nsapp {:?}", e.nsapp));
    }
    for text in [&e.error, &e.failed_command, &e.cpu_model, &e.gpu_model] {
        if scrub::scrub(text) != **text {
            return Some(format!("{text:?} is not scrubbed"));
        }
        // Line breaks stay (an error's log tail is lines); no other control character.
        if text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            return Some(format!("{text:?} holds a control character"));
        }
    }
    None
}

/// Feed `iterations` mutations (or until `deadline`) to the parser; panics on a finding.
fn fuzz(seed: u64, iterations: u64, deadline: Option<Instant>) -> u64 {
    let seeds = corpus();
    let mut rng = Rng(seed | 1);
    let opts = ParseOptions::default();
    let mut done = 0;
    while done < iterations && deadline.is_none_or(|d| Instant::now() < d) {
        let input = mutate(&mut rng, &seeds);
        let outcome = std::panic::catch_unwind(|| {
            let parsed = parse_event(&input, &opts, Uuid::nil(), OffsetDateTime::UNIX_EPOCH);
            // The fast path (fields borrowed from the body) and the general one (through
            // `serde_json::Value`) must agree on every input, accepted or rejected.
            let general = parse::parse_json(&input).and_then(|v| {
                parse::from_value(&v, &opts, Uuid::nil(), OffsetDateTime::UNIX_EPOCH)
            });
            if parsed != general {
                return Some(format!(
                    "the two parse paths disagree: {parsed:?} against {general:?}"
                ));
            }
            parsed.ok().and_then(|e| broken(&e))
        });
        let finding = match outcome {
            Ok(None) => None,
            Ok(Some(reason)) => Some(reason),
            Err(_) => Some("panic".to_owned()),
        };
        if let Some(reason) = finding {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/fuzz-crashes");
            std::fs::create_dir_all(&dir).unwrap();
            let file = dir.join(format!("seed-{seed}-{done}.json"));
            std::fs::write(&file, &input).unwrap();
            panic!("{reason}: input written to {}", file.display());
        }
        done += 1;
    }
    done
}

#[test]
fn twenty_thousand_mutations_of_real_bodies_never_panic_or_break_an_invariant() {
    assert_eq!(fuzz(0x7e1e_3e7f, 20_000, None), 20_000);
}

/// `make fuzz` (FUZZ_SECONDS=N): as many mutations as fit, from a fresh seed.
#[test]
#[ignore = "long-running: make fuzz"]
fn fuzz_for_a_while() {
    let seconds: u64 = std::env::var("FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let seed = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| OffsetDateTime::now_utc().unix_timestamp_nanos() as u64);
    eprintln!("[fuzz] seed {seed} (FUZZ_SEED={seed} repeats this run), {seconds} s");
    let done = fuzz(
        seed,
        u64::MAX,
        Some(Instant::now() + Duration::from_secs(seconds)),
    );
    eprintln!("[fuzz] {done} inputs, no finding");
}
