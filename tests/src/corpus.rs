//! The scrubber's corpus (`tests/fixtures/scrub/corpus.toml`): texts a failing install
//! sends, each with the strings that must not be stored, and harmless texts that must
//! come through unchanged. The file's header says how it is written.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Deserialize)]
pub struct Corpus {
    pub leak: Vec<Leak>,
    pub harmless: Vec<Harmless>,
}

/// What every case of a corpus has: where its text goes, and the text.
#[derive(Debug, Deserialize)]
pub struct Case {
    pub name: String,
    pub kind: String,
    #[serde(default = "error_field")]
    pub field: String,
    pub text: String,
    /// Other fields of the same event (`failed_command`, `gpu_model`, `os_version`…):
    /// a name one field gives away must go from all of them.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
pub struct Leak {
    #[serde(flatten)]
    pub case: Case,
    pub planted: Vec<String>,
    /// Strings of the text that no rule can tell from ordinary words, kept here so that
    /// the limit is on record; `why` says why.
    #[serde(default)]
    pub unreachable: Vec<String>,
    #[serde(default)]
    pub why: String,
}

#[derive(Debug, Deserialize)]
pub struct Harmless {
    #[serde(flatten)]
    pub case: Case,
    /// The parts of the text a maintainer needs, which must survive verbatim (the sets
    /// written for the vocabulary net name them; the older ones count placeholders).
    #[serde(default)]
    pub keep: Vec<String>,
}

// A case's own fields read as the leak's or the harmless text's.
impl std::ops::Deref for Leak {
    type Target = Case;
    fn deref(&self) -> &Case {
        &self.case
    }
}

impl std::ops::Deref for Harmless {
    type Target = Case;
    fn deref(&self) -> &Case {
        &self.case
    }
}

fn error_field() -> String {
    "error".into()
}

/// The corpus files: the first, and two written later without sight of the scrubber's
/// rules, each measured before the rules learned from it (their headers give the
/// numbers); every planted string of these must go. The fresh sets written for the
/// vocabulary net (`fourth.toml` to `eighth.toml`) are held to the rates measured on
/// them instead (scrubbing.rs, `FRESH_SETS`): a few of their strings are words of a
/// language no rule can tell from a name.
const FILES: [(&str, &str); 3] = [
    ("corpus.toml", include_str!("../fixtures/scrub/corpus.toml")),
    ("second.toml", include_str!("../fixtures/scrub/second.toml")),
    ("third.toml", include_str!("../fixtures/scrub/third.toml")),
];

/// The sets written for the vocabulary net, each without sight of the code and measured
/// before anything was changed for it, in the order they were written: held to the rates
/// measured on them (scrubbing.rs, `FRESH_SETS`).
pub const FRESH: [&str; 14] = [
    "fourth.toml",
    "fifth.toml",
    "sixth.toml",
    "seventh.toml",
    "eighth.toml",
    "ninth.toml",
    "tenth.toml",
    "eleventh.toml",
    "twelfth.toml",
    "thirteenth.toml",
    "fifteenth.toml",
    "fourteenth.toml",
    "sixteenth.toml",
    "seventeenth.toml",
];

/// Every corpus file of `tests/fixtures/scrub/`: the three whose planted strings must all
/// go, then the fresh sets.
pub fn all_files() -> impl Iterator<Item = &'static str> {
    FILES.iter().map(|(name, _)| *name).chain(FRESH)
}

impl Corpus {
    /// Every file, as one corpus.
    pub fn load() -> Self {
        let mut all = Corpus {
            leak: Vec::new(),
            harmless: Vec::new(),
        };
        for (name, _) in FILES {
            let one = Self::load_file(name);
            all.leak.extend(one.leak);
            all.harmless.extend(one.harmless);
        }
        all
    }

    /// What the scrubbing tests run on: every file, or the one named by `CORPUS_FILE`
    /// (`corpus.toml`, `second.toml`, `third.toml`, or the path of a new set to measure).
    pub fn selected() -> Self {
        match std::env::var("CORPUS_FILE") {
            Ok(name) => Self::load_file(&name),
            Err(_) => Self::load(),
        }
    }

    /// One file of `tests/fixtures/scrub/`, or a corpus file at a path.
    pub fn load_file(name: &str) -> Self {
        let read;
        let text = match FILES.iter().find(|(n, _)| *n == name) {
            Some((_, text)) => *text,
            None => {
                // A path, or the name of a file beside the corpus (`fifth.toml`).
                let beside = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("fixtures/scrub")
                    .join(name);
                let path = if beside.exists() { beside } else { name.into() };
                read = std::fs::read_to_string(&path).expect("a corpus file");
                read.as_str()
            }
        };
        let corpus: Corpus = toml::from_str(text).expect("the corpus is valid TOML");
        for leak in &corpus.leak {
            for planted in leak.planted.iter().chain(&leak.unreachable) {
                assert!(
                    std::iter::once(&leak.text)
                        .chain(leak.fields.values())
                        .any(|t| t.contains(planted.as_str())),
                    "{}: {planted:?} is not in its text",
                    leak.name
                );
            }
            assert!(
                leak.unreachable.is_empty() || !leak.why.is_empty(),
                "{}: say why",
                leak.name
            );
        }
        corpus
    }

    pub fn planted(&self) -> usize {
        self.leak.iter().map(|l| l.planted.len()).sum()
    }
}

impl Leak {
    /// The client body of this text, with its other fields.
    pub fn body(&self, random_id: &str) -> String {
        body_with(&self.field, &self.text, &self.fields, random_id)
    }
}

impl Harmless {
    /// The client body of this text, with its other fields.
    pub fn body(&self, random_id: &str) -> String {
        body_with(&self.field, &self.text, &self.fields, random_id)
    }
}

/// A client body that carries `text` in `field`, as a failed run of the v2 client.
pub fn body(field: &str, text: &str, random_id: &str) -> String {
    body_with(field, text, &BTreeMap::new(), random_id)
}

/// [`body`], with more fields.
fn body_with(
    field: &str,
    text: &str,
    fields: &BTreeMap<String, String>,
    random_id: &str,
) -> String {
    let mut body = json!({
        "random_id": random_id,
        "type": "lxc",
        "nsapp": "corpus",
        "status": "failed",
        "exit_code": 1,
        "error": "exit_code=1 | corpus",
        "os_type": "debian",
        "os_version": "12",
        "repo_source": "ProxmoxVE",
        "repo_slug": "community-scripts/ProxmoxVE",
        "payload_version": 2,
    });
    for (key, value) in fields {
        body[key] = Value::String(value.clone());
    }
    body[field] = Value::String(text.to_owned());
    serde_json::to_string_pretty(&body).expect("a JSON object")
}

/// Every string in a JSON value, however deep.
pub fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

/// The planted strings of `leak` that `stored` still holds, compared case-insensitively.
pub fn survivors<'a>(planted: &'a [String], stored: &[String]) -> Vec<&'a str> {
    let stored: Vec<String> = stored.iter().map(|s| s.to_lowercase()).collect();
    planted
        .iter()
        .filter(|p| {
            let p = p.to_lowercase();
            stored.iter().any(|s| s.contains(&p))
        })
        .map(String::as_str)
        .collect()
}

/// How many placeholders a text holds.
pub fn placeholders(text: &str) -> usize {
    scrub::PLACEHOLDERS
        .iter()
        .map(|p| text.matches(p).count())
        .sum()
}
