//! The privacy engine: removing what the processing record excludes from every string a
//! client can fill, before it is queued, stored or cut. The event model (`schemas`)
//! depends on it, never the other way round.
//!
//! The record (docs/ROPA.md) promises that no IP address, host or domain
//! name, MAC address or serial number, user name or e-mail address, network
//! configuration or location is collected, and secrets must not be stored either. Free
//! text from a failing install carries all of these, so every string field goes
//! through [`scrub`] (the parser sees to it), and each find is replaced whole by a typed
//! placeholder, never partly masked:
//!
//! | placeholder | rule | examples |
//! |---|---|---|
//! | `<ip>`, `<mac>` | [`network`] | `192.168.1.5`, `„10.1.2.3“`, `10.0.0.1-10.0.0.9`, `::ffff:10.9.8.7`, `bc24.11ab.cdef` |
//! | `<host>` | [`hosts`], [`urls`] | `nas.smith.lan`, `cloud.some-family.de`, `-hostname nas`, `Could not resolve host: x`, `//nas/share` |
//! | `<user>` | [`people`] | `/home/alice`, `C:\Users\carol`, `sudo -u erin`, `alice@nas:~$`, `ivan@pve`, a fork's owner |
//! | `<email>` | [`people`] | `alice@smith-family.de` |
//! | `<secret>` | [`secrets`], [`urls`] | `-password X`, `-pX`, `PASSWORD=`, `*_TOKEN=`, `Bearer X`, `ghp_…`, JWTs, keys, long opaque runs |
//! | `<serial>` | [`devices`] | `/dev/disk/by-id/ata-…`, `Serial Number: X` |
//! | `<location>` | [`places`] | `Europe/Berlin`, `lat=52.52`, a certificate's locality |
//! | any of them | [`keys`] | `DB_PASSWORD=x`, `"username": "x"`, `MQTT_HOST=x`, `'dbpassword' => 'x'` |
//! | `<name>` | [`labels`] | a storage `nas-heidi-nfs`, a Wi-Fi network, an S3 bucket |
//!
//! A name that a context gives away (`-hostname nas-alice`, `/home/dave`, a password
//! after `-password`) is replaced wherever else the same text mentions it, also inside
//! a longer word (`docker-dave`).
//!
//! Each rule module says what it matches and what it leaves alone, and its tests show
//! both. The lists they rely on (public infrastructure, private suffixes, system
//! accounts) are in [`lists`]. ANSI colour sequences and control characters other than
//! newlines and tabs are dropped as noise first.
//!
//! Scrubbing is idempotent: a round replaces what every rule found in the text as it
//! stands, and rounds repeat until one finds nothing (rules never take a placeholder
//! for something to replace, so that happens after one or two).
//!
//! # Module map
//! - The rules, one module per kind of find: [`network`], [`hosts`], [`urls`],
//!   [`people`], [`secrets`], [`devices`], [`places`], [`keys`], [`labels`].
//! - What they share: `gate` (a literal pass and a few `RegexSet` passes that tell
//!   which rules can match a text), `span` (the finds of a round and their
//!   replacement), `lists` (public infrastructure, private suffixes, system accounts,
//!   tools).
//! - After the rules: [`net`], the vocabulary net, which keeps a word of stored free text
//!   only if [`vocabulary`] (6.7 million words) or a safe shape recognises it.
//! - [`text`]: cutting to a length, which the parser uses too.

/// A rule module's table of context rules: each is written once, as `NAME = <a Regex>;`,
/// and becomes a lazily compiled static of that name and an entry of the module's
/// `rules()`, the list the gate (`gate.rs`) and the tests read. A rule cannot be added
/// to a module without reaching the gate.
macro_rules! rules {
    ($( $(#[$meta:meta])* $name:ident = $make:expr; )+) => {
        $(
            $(#[$meta])*
            static $name: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| $make);
        )+

        /// The rules of this module, for the gate that tells which can match (`gate.rs`).
        pub(super) fn rules() -> Vec<&'static regex::Regex> {
            vec![$( &*$name ),+]
        }

        /// Generated for every module's table: each rule compiles (a static is compiled
        /// on its first use, which may be a rare text's), and no two are the same.
        #[cfg(test)]
        #[test]
        fn each_rule_of_the_table_compiles_and_is_one_of_a_kind() {
            let mut seen = std::collections::HashSet::new();
            $(
                assert!(
                    seen.insert($name.as_str()),
                    "{} repeats another rule's pattern",
                    stringify!($name)
                );
            )+
        }
    };
}

mod devices;
mod gate;
mod hosts;
mod keys;
mod labels;
mod lists;
pub mod net;
mod network;
mod people;
mod places;
mod secrets;
mod span;
pub mod text;
mod urls;
pub mod vocabulary;

use std::sync::LazyLock;

use gate::Gate;
use span::Found;
pub use span::Lessons;

/// Every context rule of every module, so that one pass tells which can match a text.
static GATE: LazyLock<Gate> = LazyLock::new(|| Gate::new(modules()));

/// The context rules, module by module, as the gate holds them.
fn modules() -> Vec<Vec<&'static regex::Regex>> {
    vec![
        hosts::rules(),
        urls::rules(),
        keys::rules(),
        people::rules(),
        secrets::rules(),
        devices::rules(),
        places::rules(),
        labels::rules(),
    ]
}

/// Every placeholder the scrubber writes: the rules', and the vocabulary net's `<word>`.
pub const PLACEHOLDERS: [&str; 11] = [
    "<ip>",
    "<mac>",
    "<host>",
    "<user>",
    "<email>",
    "<secret>",
    "<serial>",
    "<location>",
    "<phone>",
    "<name>",
    net::PLACEHOLDER,
];

/// Whether `name` is an account that systems and packages create for themselves
/// (`root`, `www-data`, `uucp`, …). Such a name identifies no person, so the scrubber
/// leaves it where a user name would be replaced.
pub fn is_system_account(name: &str) -> bool {
    lists::is_system_account(name)
}

/// Whether `text` is one of the [`PLACEHOLDERS`].
pub fn is_placeholder(text: &str) -> bool {
    PLACEHOLDERS.contains(&text)
}

/// At most this many rounds: each replaces what it found, and the second finds nothing
/// in every text seen; the bound only keeps a pathological input from looping.
const MAX_ROUNDS: usize = 4;

/// Scrub one text.
pub fn scrub(text: &str) -> String {
    Scrubber::default().scrub(text)
}

/// Scrub, then cut to `max` characters (see [`Scrubber::scrub_to`]).
pub fn scrub_to(text: &str, max: usize) -> String {
    Scrubber::default().scrub_to(text, max)
}

/// The scrubber, with the words it must leave alone whatever their context (the app an
/// event is about: `jellyfin` in `chown -R jellyfin:adm /etc/jellyfin` is nobody's
/// name), and the names it was taught to replace wherever they appear ([`Lessons`]).
#[derive(Debug, Clone, Copy)]
pub struct Scrubber<'k> {
    keep: &'k [&'k str],
    lessons: &'k Lessons,
}

/// What a scrubber knows before it reads anything.
pub(crate) static NO_LESSONS: Lessons = Lessons::new();

impl Default for Scrubber<'_> {
    fn default() -> Self {
        Self {
            keep: &[],
            lessons: &NO_LESSONS,
        }
    }
}

/// A free text after a first reading ([`Scrubber::read`]): one round of the rules has
/// run over all of it. Only [`Scrubber::store`] can make a stored text of it.
#[derive(Debug, Clone)]
pub struct Read {
    text: String,
    /// When the reading changed nothing: the words it kept. Its round is then what
    /// storing's first round would be with the same words kept, except for the names
    /// the event taught since, and storing need not run it again (see `Scrubber::store`).
    settled: Option<Vec<String>>,
}

impl<'k> Scrubber<'k> {
    pub fn keeping(keep: &'k [&'k str]) -> Self {
        Self {
            keep,
            ..Self::default()
        }
    }

    /// The same scrubber, which also replaces every name of `lessons`.
    pub fn taught(self, lessons: &'k Lessons) -> Self {
        Self { lessons, ..self }
    }

    /// Scrub one text.
    pub fn scrub(&self, text: &str) -> String {
        // Most texts have no control character and nothing to replace: then the only
        // allocation is the returned copy.
        let stripped = strip_controls(text);
        let Some(mut current) = round(&stripped, self.keep, self.lessons, None) else {
            return stripped.into_owned();
        };
        for _ in 1..MAX_ROUNDS {
            match round(&current, self.keep, self.lessons, None) {
                Some(next) => current = next,
                None => break,
            }
        }
        current
    }

    /// Scrub, then cut to `max` characters.
    ///
    /// Only the part of a long text that can reach the stored prefix is scrubbed: a
    /// window of whole lines, widened until its scrubbed form is long enough (an
    /// `error` carries up to 16 KB of log of which 120 characters are kept). Every rule
    /// looks at most at one line around what it replaces, so a window of whole lines
    /// scrubs its start as the whole text would. Cutting can leave a tail that reads as
    /// something else (the front of a longer hex run looks like a MAC), so scrub and cut
    /// repeat until nothing changes; each round is over at most `max` characters.
    pub fn scrub_to(&self, text: &str, max: usize) -> String {
        let mut scrubbed = crate::text::truncate_chars(&self.window(text, max), max);
        for _ in 0..8 {
            let next = crate::text::truncate_chars(&self.scrub(&scrubbed), max);
            if next == scrubbed {
                break;
            }
            scrubbed = next;
        }
        scrubbed
    }

    /// Free text as it is stored, from this text alone: [`Scrubber::read`], then
    /// [`Scrubber::store`] with what the reading learned. An event's fields are read
    /// first and stored after, so that each learns from all (see `schemas::parse`).
    pub fn scrub_text(&self, text: &str, max: usize) -> String {
        let mut lessons = self.lessons.clone();
        let read = self.read(text, &mut lessons);
        self.taught(&lessons).store(&read, max)
    }

    /// The first reading of a free text: one round of the rules over all of it (the
    /// caller's read limit bounds it, not the stored length), which replaces what they
    /// find and adds to `lessons` every name a context gives away. A host named only in
    /// the last line of a log (`-hostname pluto`) is so known when the first line,
    /// which is stored, mentions `pluto` without a context.
    pub fn read(&self, text: &str, lessons: &mut Lessons) -> Read {
        let stripped = strip_controls(text);
        match round(&stripped, self.keep, self.lessons, Some(lessons)) {
            Some(once) => Read {
                text: once,
                settled: None,
            },
            None => Read {
                text: stripped.into_owned(),
                settled: Some(self.keep.iter().map(|k| (*k).to_owned()).collect()),
            },
        }
    }

    /// Whether a round over `text` would find nothing, known without running one: a
    /// reading with the same words kept found nothing in all of it, and no name this
    /// scrubber was taught is in it. A round's finds are its rules', which no lesson
    /// changes, and every mention of the names it knows; so this one's are the
    /// reading's, which changed nothing, and the taught names' mentions, of which there
    /// are none.
    fn settled(&self, read: &Read, text: &str) -> bool {
        read.text.len() == text.len()
            && read.settled.as_ref().is_some_and(|kept| {
                kept.iter()
                    .map(String::as_str)
                    .eq(self.keep.iter().copied())
            })
            && Found::keeping(self.keep, self.lessons)
                .apply(text, None)
                .is_none()
    }

    /// A text read ([`Scrubber::read`]) as it is stored: scrubbed until the rules find
    /// nothing more (with what this scrubber was taught), every word the vocabulary net
    /// does not recognise replaced ([`net`]), and cut to `max` characters, never inside a
    /// placeholder. Only the start that can be stored is worked on.
    pub fn store(&self, read: &Read, max: usize) -> String {
        let netted = |s: &str| cut_clean(&net::filter(storable(s, max), self.keep), max);
        // The reading left the text as long as it will be, near enough: the lines that
        // hold the stored characters and a word more are all that is worked on. One
        // round here applies what the event taught; the rounds below, on the prefix,
        // repeat until nothing changes.
        let text = &read.text;
        let mut window = text
            .char_indices()
            .nth(max.saturating_add(64))
            .map_or(text.len(), |(at, _)| at);
        let (start, settled) = loop {
            let (part, whole) = line_window(text, window);
            let once = if whole && self.settled(read, part) {
                None
            } else {
                round(part, self.keep, self.lessons, None)
            };
            let settled = once.is_none();
            let once = once.unwrap_or_else(|| part.to_owned());
            if whole || once.chars().count() > max + 64 {
                break (once, settled);
            }
            window = window.saturating_mul(4);
        };
        let mut scrubbed = netted(&start);
        // A round that found nothing in a text the net and the cut left as it was would
        // find nothing again: most fields (`Intel N100`) are done after one round.
        if settled && scrubbed == start {
            return scrubbed;
        }
        for _ in 0..8 {
            let next = netted(&self.scrub(&scrubbed));
            if next == scrubbed {
                break;
            }
            scrubbed = next;
        }
        scrubbed
    }

    /// The start of `text` that can reach a stored prefix of `max` characters, scrubbed:
    /// a window of whole lines, widened until its scrubbed form is long enough.
    fn window(&self, text: &str, max: usize) -> String {
        let mut window = max.saturating_mul(4).max(256);
        loop {
            let (part, whole) = line_window(text, window);
            let scrubbed = self.scrub(part);
            if whole || scrubbed.chars().count() > max + 64 {
                return scrubbed;
            }
            window = window.saturating_mul(4);
        }
    }
}

/// The start of `text` that can be stored when it is cut at `max` characters: up to the
/// end of the word the cut falls in, so that the net judges that word whole. The net
/// need not read further.
fn storable(text: &str, max: usize) -> &str {
    let Some((at, _)) = text.char_indices().nth(max) else {
        return text;
    };
    let end = text[at..]
        .char_indices()
        .find(|(_, c)| !(c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | '+' | '<' | '>')))
        .map_or(text.len(), |(i, _)| at + i);
    &text[..end]
}

/// `text` cut to `max` characters, and before a placeholder the cut would split.
fn cut_clean(text: &str, max: usize) -> String {
    let cut = crate::text::truncate_chars(text, max);
    match cut.rfind('<') {
        Some(open) if !cut[open..].contains('>') && cut.len() < text.len() => {
            let partial = &cut[open..];
            let splits_one = PLACEHOLDERS.iter().any(|p| p.starts_with(partial));
            if splits_one {
                cut[..open].to_owned()
            } else {
                cut
            }
        }
        _ => cut,
    }
}

/// One round of every rule over `text`: the text with what they found replaced, or
/// `None` if they found nothing. What contexts give away is added to `learned`.
fn round(
    text: &str,
    keep: &[&str],
    lessons: &Lessons,
    learned: Option<&mut Lessons>,
) -> Option<String> {
    if text.is_empty() {
        return None;
    }
    let mut found = Found::keeping(keep, lessons);
    if is_one_word(text) {
        // Most short fields are one plain word (`debian`, `8.4.14`, `amd64`): no
        // context can be in it, only a shape. The rules of shapes are all it needs.
        network::find(text, &mut found);
        hosts::find_in_word(text, &mut found);
        secrets::find_in_word(text, &mut found);
        devices::find_in_word(text, &mut found);
        return found.apply(text, learned);
    }
    let open = GATE.open(text);
    network::find(text, &mut found);
    hosts::find(text, &mut found, &open);
    urls::find(text, &mut found, &open);
    keys::find(text, &mut found, &open);
    people::find(text, &mut found, &open);
    secrets::find(text, &mut found, &open);
    devices::find(text, &mut found, &open);
    places::find(text, &mut found, &open);
    labels::find(text, &mut found, &open);
    found.apply(text, learned)
}

/// A word of letters, digits and `.` `_` `+` `-` only, which no context can be part of.
fn is_one_word(text: &str) -> bool {
    text.len() <= 64
        && text
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '+' | '-'))
}

/// The start of `text` up to the end of the line that holds byte `at`, and whether that
/// is all of it. A line longer than the window is cut at a blank (or, failing that, at
/// a character boundary) a further window on.
fn line_window(text: &str, at: usize) -> (&str, bool) {
    if text.len() <= at {
        return (text, true);
    }
    let mut end = at;
    while !text.is_char_boundary(end) {
        end += 1;
    }
    let limit = at.saturating_mul(2).min(text.len());
    let end = match text[end..].find('\n') {
        Some(nl) if end + nl < limit => end + nl,
        _ => {
            let mut cut = limit;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text[end..cut]
                .rfind([' ', '\t'])
                .map_or(cut, |blank| end + blank)
        }
    };
    (&text[..end], end >= text.len())
}

/// Drop ANSI escape sequences and control characters other than `\n` and `\t`.
fn strip_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters... final byte in @..~
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            continue;
        }
        if c.is_control() && c != '\n' && c != '\t' {
            continue;
        }
        out.push(c);
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ansi_colours_and_controls_are_dropped() {
        assert_eq!(
            scrub("\u{1b}[31merror\u{1b}[0m:\tfailed\u{7}\n"),
            "error:\tfailed\n"
        );
    }

    #[test]
    fn cutting_does_not_leave_an_address_behind() {
        // Ten groups are no address; cut after eight, they would be one.
        let text = "x aa:bb:cc:dd:ee:ff:aa:bb:cc:dd";
        let cut = scrub_to(text, 25);
        assert_eq!(scrub(&cut), cut);
        assert!(cut.chars().count() <= 25);
    }

    #[test]
    fn a_long_text_is_scrubbed_as_far_as_it_is_kept() {
        let head = "ssh root@nas.smith.lan: 10.0.0.1 ".repeat(4);
        let tail = "log line with nothing in it\n".repeat(2000);
        let text = format!("{head}\n{tail}");
        let short = scrub_to(&text, 120);
        assert_eq!(short, crate::text::truncate_chars(&scrub(&text), 120));
        // A window of blank-free text is cut, and still scrubbed as far as it is kept.
        let glued = format!("{}{}", "10.0.0.1,".repeat(5000), "x");
        assert_eq!(
            scrub_to(&glued, 120),
            crate::text::truncate_chars(&scrub(&glued), 120)
        );
    }

    #[test]
    fn the_window_ends_at_a_line_or_a_blank() {
        assert_eq!(line_window("short", 10), ("short", true));
        assert_eq!(line_window("aaaa bbbb\ncccc", 2), ("aaaa", false));
        assert_eq!(line_window("aa\nbbbbbbbb", 1), ("aa", false));
        assert_eq!(line_window("ééééé", 3), ("ééé", false));
    }

    #[test]
    fn everything_at_once() {
        let s = scrub(
            "alice@example.org from 203.0.113.7 mac 00:11:22:33:44:55 /home/alice ::1 \
             -hostname nas-alice -password Hunter2 -searchdomain smith.lan",
        );
        for leaked in ["alice", "203.0.113.7", "00:11:22", "Hunter2", "smith"] {
            assert!(!s.contains(leaked), "{leaked} in {s}");
        }
    }

    #[test]
    fn storing_a_settled_reading_skips_no_find() {
        // Storing skips the rounds a reading that changed nothing makes redundant; with
        // the reading's result forgotten, every round runs, and the two must agree.
        let mut taught = Lessons::new();
        let _ = scrub_text_taught("pct create 105 -hostname pluto", &mut taught);
        let keep = ["jellyfin"];
        let texts = [
            "Intel N100",
            "backup to pluto failed",
            "chown -R jellyfin:adm /etc/jellyfin",
            "E: Unable to locate package libssl1.1",
            "exit_code=1 | line one\nPluto is down\n",
        ];
        for scrubber in [Scrubber::default(), Scrubber::keeping(&keep)] {
            for reader in [Scrubber::default(), Scrubber::keeping(&keep)] {
                for lessons in [&NO_LESSONS, &taught] {
                    for text in texts {
                        let read = reader.read(text, &mut Lessons::new());
                        let forgotten = Read {
                            settled: None,
                            ..read.clone()
                        };
                        let storer = scrubber.taught(lessons);
                        assert_eq!(
                            storer.store(&read, 120),
                            storer.store(&forgotten, 120),
                            "{text:?}"
                        );
                    }
                }
            }
        }
        let stored = Scrubber::default().taught(&taught).store(
            &Scrubber::default().read("backup to pluto failed", &mut Lessons::new()),
            120,
        );
        assert_eq!(stored, "backup to <host> failed");
    }

    fn scrub_text_taught(text: &str, lessons: &mut Lessons) -> String {
        let read = Scrubber::default().read(text, lessons);
        Scrubber::default().taught(lessons).store(&read, 120)
    }

    /// Every rule of every module, as the gate holds them.
    fn all_rules() -> Vec<&'static regex::Regex> {
        modules().concat()
    }

    #[test]
    fn the_gate_never_shuts_a_rule_that_matches() {
        // Real text: every corpus file whole, and each of its lines alone. The files are
        // read from their folder, so that a set added there is read here too.
        let folder =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/scrub");
        let mut paths: Vec<_> = std::fs::read_dir(&folder)
            .expect("the corpus folder")
            .map(|entry| entry.expect("a corpus file").path())
            .filter(|path| path.extension().is_some_and(|e| e == "toml"))
            .collect();
        paths.sort();
        assert!(paths.len() >= 14, "{} corpus files", paths.len());
        let files: Vec<String> = paths
            .iter()
            .map(|path| std::fs::read_to_string(path).expect("a corpus file"))
            .collect();
        let rules = all_rules();
        let mut matched = 0;
        for file in &files {
            for text in std::iter::once(file.as_str()).chain(file.lines()) {
                let open = GATE.open(text);
                for rule in &rules {
                    if rule.is_match(text) {
                        matched += 1;
                        assert!(
                            open.can(rule),
                            "the gate shut {} on {text:?}",
                            rule.as_str()
                        );
                    }
                }
            }
        }
        // Not a vacuous pass: the rules matched real text thousands of times.
        assert!(matched > 1_000, "{matched}");
    }

    #[test]
    fn most_rules_are_answered_for_by_their_literals() {
        let (literal, in_sets) = GATE.split();
        assert_eq!(literal + in_sets, all_rules().len());
        assert!(
            literal > in_sets,
            "{literal} by literals, {in_sets} in sets"
        );
    }

    #[test]
    fn placeholders_are_never_replaced() {
        let all = PLACEHOLDERS.join(" ");
        assert_eq!(scrub(&all), all);
        let in_context = "ssh <user>@<host> -password <secret> http://<host>:80 /home/<user> \
                          for user '<user>'@'<ip>' hostname=<host> search <host> <host>";
        assert_eq!(scrub(in_context), in_context);
    }
}
