//! The scrubber against the corpus of failing-install texts (tests/fixtures/scrub/), as
//! the parser applies it to each field: nothing planted survives, and what it replaces
//! in harmless texts and in every fixture body is counted. `pipeline_scrubbing.rs` sends
//! the same corpus through the real ingest into ClickHouse. The fresh sets, written for
//! the vocabulary net, are held to the rates measured on them (`FRESH_SETS`).
//!
//! To measure a new set written the same way (without sight of the rules):
//! `CORPUS_FILE=/path/to/set.toml cargo test -p tests --test scrubbing -- --ignored
//! --nocapture measure`.

use std::path::Path;

use schemas::parse::ParseOptions;
use serde_json::Value;
use tests::corpus::{Corpus, body, placeholders, strings, survivors};
use time::OffsetDateTime;
use uuid::Uuid;

/// Long enough that nothing is cut: what does not survive was scrubbed, not truncated.
fn uncut() -> ParseOptions {
    ParseOptions {
        error_max_chars: 100_000,
    }
}

/// The stored strings of the event a body becomes, or why it was refused.
fn stored(body: &str, opts: &ParseOptions) -> Result<Vec<String>, String> {
    let event = schemas::parse_event(
        body.as_bytes(),
        opts,
        Uuid::nil(),
        OffsetDateTime::UNIX_EPOCH,
    )
    .map_err(|r| r.to_string())?;
    let mut out = Vec::new();
    strings(
        &serde_json::to_value(&event).expect("an event encodes"),
        &mut out,
    );
    Ok(out)
}

#[test]
fn no_planted_string_survives_the_parser() {
    let corpus = Corpus::selected();
    let mut failures = Vec::new();
    let mut unreachable = 0;
    for leak in &corpus.leak {
        let strings = match stored(&leak.body("corpus-1"), &uncut()) {
            Ok(s) => s,
            Err(e) => {
                failures.push(format!("{}: refused: {e}", leak.name));
                continue;
            }
        };
        let left = survivors(&leak.planted, &strings);
        if !left.is_empty() {
            failures.push(format!(
                "{} [{}]: {left:?}\n    {strings:?}",
                leak.name, leak.kind
            ));
        }
        // A limit on record that a rule now catches belongs with the planted strings.
        let known = survivors(&leak.unreachable, &strings);
        assert_eq!(
            known.len(),
            leak.unreachable.len(),
            "{}: {:?} no longer survives: plant it",
            leak.name,
            leak.unreachable
        );
        unreachable += known.len();
    }
    println!(
        "corpus: {} texts, {} planted strings, {} texts with survivors; {} strings on record as out of reach",
        corpus.leak.len(),
        corpus.planted(),
        failures.len(),
        unreachable
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The false positives of one text: the rules' placeholders the stored field gained, the
/// words the vocabulary net replaced, and the field as stored.
fn false_positives(field: &str, text: &str) -> (usize, usize, String) {
    let strings =
        stored(&body(field, text, "corpus-1"), &uncut()).expect("harmless text is accepted");
    let field_value = strings
        .iter()
        .find(|s| s.contains(text.split_whitespace().next().unwrap_or_default()))
        .cloned()
        .unwrap_or_default();
    let net = |s: &str| s.matches(scrub::net::PLACEHOLDER).count();
    let netted: usize = strings
        .iter()
        .map(|s| net(s))
        .sum::<usize>()
        .saturating_sub(net(text));
    let gained = strings.iter().map(|s| placeholders(s)).sum::<usize>();
    (
        gained
            .saturating_sub(placeholders(text))
            .saturating_sub(netted),
        netted,
        field_value,
    )
}

/// The words of a text, as the vocabulary net reads them.
fn words(text: &str) -> usize {
    text.split(|c: char| !(c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | '+')))
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .count()
}

#[test]
fn harmless_texts_and_fixture_bodies_keep_their_words() {
    let corpus = Corpus::selected();
    let mut report = Vec::new();
    let (mut harmless_fp, mut netted, mut harmless_words) = (0, 0, 0);
    for harmless in &corpus.harmless {
        let (n, replaced, scrubbed) = false_positives(&harmless.field, &harmless.text);
        if n > 0 {
            report.push(format!(
                "{} [{}]: {n}\n    {scrubbed}",
                harmless.name, harmless.kind
            ));
        }
        harmless_fp += n;
        netted += replaced;
        harmless_words += words(&harmless.text);
    }
    // Every string of every client body among the fixtures, scrubbed as its field is.
    let mut fixture_fp = 0;
    let mut fixture_strings = 0;
    let dirs = [Path::new("fixtures"), Path::new("fixtures/contract")];
    for dir in dirs
        .iter()
        .map(|d| Path::new(env!("CARGO_MANIFEST_DIR")).join(d))
    {
        for entry in std::fs::read_dir(&dir).expect("fixtures") {
            let path = entry.expect("a fixture").path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let raw = std::fs::read(&path).expect("readable");
            let Ok(Value::Object(sent)) = schemas::parse::parse_json(&raw) else {
                continue;
            };
            let Ok(event) = schemas::parse_event(
                &raw,
                &ParseOptions::default(),
                Uuid::nil(),
                OffsetDateTime::UNIX_EPOCH,
            ) else {
                continue;
            };
            let event = serde_json::to_value(&event).expect("encodes");
            for (key, value) in &sent {
                let (Value::String(before), Some(Value::String(after))) = (value, event.get(key))
                else {
                    continue;
                };
                fixture_strings += 1;
                let n = placeholders(after).saturating_sub(placeholders(before));
                if n > 0 {
                    report.push(format!(
                        "{}: {key}: {before:?} -> {after:?}",
                        path.display()
                    ));
                }
                fixture_fp += n;
            }
        }
    }
    let kept = 1.0 - netted as f64 / harmless_words.max(1) as f64;
    println!(
        "false positives: {harmless_fp} of the rules in {} harmless texts, {fixture_fp} in {fixture_strings} fixture strings; \
         the vocabulary net replaced {netted} of their {harmless_words} words ({:.1} % kept, in the whole texts)\n{}",
        corpus.harmless.len(),
        100.0 * kept,
        report.join("\n")
    );
    assert!(fixture_strings > 100, "the fixtures were read");
    // The rules' budget is what the corpus says today; a rule that replaces more must say
    // why. Every fixture body, the real clients' own, comes through whole, net included.
    assert_eq!(harmless_fp + fixture_fp, 0, "{}", report.join("\n"));
    // The net replaces what no vocabulary has (hashes, ids, a module's name): the share
    // of words kept may not fall below what it is (issue 23's target for the parts a
    // maintainer needs is 97 %).
    assert!(
        kept >= KEPT_WORDS,
        "{:.2} % of the words kept",
        100.0 * kept
    );
}

/// The share of the harmless texts' words the vocabulary net keeps, at least.
const KEPT_WORDS: f64 = 0.98;

/// What a set measures: of its planted strings, how many survive as the real ingest
/// stores them (free text cut to 120 characters) and in the whole text; of the parts of
/// its harmless texts that must survive, how many do; and what was lost, to read.
struct Measure {
    planted: usize,
    stored_left: usize,
    uncut_left: usize,
    parts: usize,
    kept: usize,
    leaks: Vec<String>,
    lost: Vec<String>,
}

fn measure(corpus: &Corpus, show: bool) -> Measure {
    let mut m = Measure {
        planted: 0,
        stored_left: 0,
        uncut_left: 0,
        parts: 0,
        kept: 0,
        leaks: Vec::new(),
        lost: Vec::new(),
    };
    for leak in &corpus.leak {
        let body = leak.body("corpus-1");
        let as_stored = stored(&body, &ParseOptions::default()).unwrap_or_default();
        let whole = stored(&body, &uncut()).unwrap_or_default();
        m.planted += leak.planted.len();
        let left = survivors(&leak.planted, &as_stored);
        m.stored_left += left.len();
        let whole_left = survivors(&leak.planted, &whole);
        m.uncut_left += whole_left.len();
        if !whole_left.is_empty() {
            let cut = if left.is_empty() {
                " (cut off when stored)"
            } else {
                ""
            };
            m.leaks.push(format!(
                "{} [{}] {}: {whole_left:?}{cut}",
                leak.name, leak.kind, leak.field
            ));
            if show {
                m.leaks.push(format!("    stored: {whole:?}"));
            }
        }
    }
    for harmless in &corpus.harmless {
        let whole = stored(&harmless.body("corpus-1"), &uncut()).unwrap_or_default();
        for part in &harmless.keep {
            m.parts += 1;
            if whole.iter().any(|s| s.contains(part.as_str())) {
                m.kept += 1;
            } else {
                m.lost
                    .push(format!("{} [{}]: {part:?}", harmless.name, harmless.kind));
                if show {
                    m.lost.push(format!("    stored: {whole:?}"));
                }
            }
        }
    }
    m
}

/// The fresh sets, each written without sight of the code and measured before anything
/// was changed for it (its header gives those rates), then kept as it was: the most of
/// its planted strings that may survive as stored, and the fewest of its parts to keep
/// that must be kept, as measured when it was last worked on. A change that lets one
/// more through, or loses one more part, fails here.
const FRESH_SETS: [(&str, usize, usize); 14] = [
    ("fourth.toml", 1, 272),
    ("fifth.toml", 4, 379),
    ("sixth.toml", 0, 304),
    ("seventh.toml", 1, 343),
    ("eighth.toml", 2, 360),
    ("ninth.toml", 0, 411),
    ("tenth.toml", 1, 186),
    ("eleventh.toml", 1, 217),
    ("twelfth.toml", 1, 183),
    ("thirteenth.toml", 2, 241),
    ("fifteenth.toml", 0, 297),
    ("fourteenth.toml", 0, 335),
    ("sixteenth.toml", 0, 421),
    ("seventeenth.toml", 0, 382),
];

#[test]
fn the_fresh_sets_hold_their_measured_rates() {
    assert_eq!(
        FRESH_SETS.map(|(file, _, _)| file),
        tests::corpus::FRESH,
        "every fresh set has its measured rates here"
    );
    let mut failures = Vec::new();
    for (file, most_left, fewest_kept) in FRESH_SETS {
        let m = measure(&Corpus::load_file(file), false);
        if m.stored_left > most_left {
            failures.push(format!(
                "{file}: {} planted strings survive as stored (at most {most_left}):\n  {}",
                m.stored_left,
                m.leaks.join("\n  ")
            ));
        }
        if m.kept < fewest_kept {
            failures.push(format!(
                "{file}: {} of {} parts kept (at least {fewest_kept}):\n  {}",
                m.kept,
                m.parts,
                m.lost.join("\n  ")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The measure of a fresh set (`CORPUS_FILE=/path/to/set.toml`), written without sight of
/// the rules, before anything is changed for it.
///
/// `CORPUS_FILE=… cargo test -p tests --test scrubbing -- --ignored --nocapture measure`
/// (`CORPUS_SHOW=1` prints what was stored beside each loss, to read why).
#[test]
#[ignore = "a measurement of a fresh set: CORPUS_FILE=…"]
fn measure_a_fresh_set() {
    let corpus = Corpus::selected();
    let m = measure(&corpus, std::env::var_os("CORPUS_SHOW").is_some());
    let rate = |n: usize, of: usize| 100.0 * n as f64 / of.max(1) as f64;
    println!("survived:\n  {}", m.leaks.join("\n  "));
    println!("harmless parts lost:\n  {}", m.lost.join("\n  "));
    println!(
        "{} leak texts, {} planted strings: {} survive as stored ({:.1} %), \
         {} in the whole text ({:.1} %); {} harmless texts, {} parts to keep: \
         {} kept ({:.1} %)",
        corpus.leak.len(),
        m.planted,
        m.stored_left,
        rate(m.stored_left, m.planted),
        m.uncut_left,
        rate(m.uncut_left, m.planted),
        corpus.harmless.len(),
        m.parts,
        m.kept,
        rate(m.kept, m.parts),
    );
}
