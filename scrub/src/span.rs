//! What the rules found, and writing the text again without it.
//!
//! Every rule reports the byte ranges it wants replaced, over the same text; the text is
//! then rewritten once. Rules never see each other's output within a round, so their
//! order does not matter, and two rules that find the same thing agree by rank.

use std::borrow::Cow;
use std::ops::Range;

/// Which finding wins when two start at the same place and are as long: the more
/// specific one (a secret over the host name it was glued to, an address over a name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Rank {
    Secret,
    /// A replacement that keeps part of what it covers (`root@<host>`).
    Composite,
    Address,
    Email,
    User,
    Host,
    Serial,
    Location,
    Label,
    /// Another mention of a name that a context revealed.
    Learned,
}

/// Names that a context gave away (`-hostname pluto`, `/home/dave`, `-password x`), each
/// with its placeholder: every other mention of them goes too, further down the same
/// text or in another field of the same event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lessons {
    names: Vec<(String, &'static str)>,
}

impl Lessons {
    /// No lessons yet.
    pub const fn new() -> Self {
        Self { names: Vec::new() }
    }

    fn add(&mut self, name: &str, placeholder: &'static str) {
        if !self.names.iter().any(|(n, _)| n == name) {
            self.names.push((name.to_owned(), placeholder));
        }
    }

    /// The names learned, each with its placeholder.
    pub fn names(&self) -> impl Iterator<Item = (&str, &'static str)> {
        self.names.iter().map(|(n, p)| (n.as_str(), *p))
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

#[derive(Debug)]
struct Span {
    range: Range<usize>,
    rank: Rank,
    with: Cow<'static, str>,
}

/// The findings of one round over one text.
#[derive(Debug)]
pub(super) struct Found<'a> {
    spans: Vec<Span>,
    /// Names that a context showed to be a host's or a person's: every other mention of
    /// them in the same text goes too (`-hostname nas-alice` … `Linux nas-alice 6.8`).
    learned: Vec<(String, &'static str)>,
    /// Names learned before this round (from the rest of the text, or another field).
    taught: &'a Lessons,
    /// Words that are never anyone's (the app's own name), compared without case.
    keep: &'a [&'a str],
}

impl Default for Found<'_> {
    fn default() -> Self {
        Self::keeping(&[], &super::NO_LESSONS)
    }
}

impl<'a> Found<'a> {
    /// Findings that never replace one of `keep` (compared without case), and that
    /// replace every mention of what `taught` names.
    pub(super) fn keeping(keep: &'a [&'a str], taught: &'a Lessons) -> Self {
        Self {
            spans: Vec::new(),
            learned: Vec::new(),
            taught,
            keep,
        }
    }

    fn kept(&self, word: &str) -> bool {
        !self.keep.is_empty() && self.keep.iter().any(|k| k.eq_ignore_ascii_case(word))
    }

    /// Replace `range` of the text by `with`.
    pub(super) fn put(
        &mut self,
        range: Range<usize>,
        rank: Rank,
        with: impl Into<Cow<'static, str>>,
    ) {
        if range.start < range.end {
            self.spans.push(Span {
                range,
                rank,
                with: with.into(),
            });
        }
    }

    /// Remember that `name` is what `placeholder` stands for, wherever else it appears.
    pub(super) fn learn(&mut self, name: &str, placeholder: &'static str) {
        self.learn_one(name, placeholder);
        // People name their hosts and accounts after themselves (`nas-okonkwo`,
        // `immich_okonkwo`): the parts of a name are looked for too, the common ones
        // (`nas`, `pve`, `backup`) excepted.
        // A label of a host's name that names a tool (`curl` of `curl.se`) is the tool's
        // project, and learning it would take the tool out of every line.
        let host = placeholder == "<host>" && name.contains('.');
        if placeholder != "<secret>" && name.contains(['-', '_', '.']) {
            for part in name.split(['-', '_', '.']) {
                if part.chars().any(char::is_alphabetic)
                    && part.chars().count() >= 4
                    && !(host && crate::vocabulary::names_a_tool(&part.to_lowercase()))
                {
                    self.learn_one(part, placeholder);
                }
            }
        }
    }

    fn learn_one(&mut self, name: &str, placeholder: &'static str) {
        if self.learn_spelling(name, placeholder) && placeholder != "<secret>" {
            for spelling in other_spellings(name) {
                self.learn_spelling(&spelling, placeholder);
            }
        }
    }

    /// Learn `name` as it is spelled; whether it is now learned.
    fn learn_spelling(&mut self, name: &str, placeholder: &'static str) -> bool {
        // A log repeats what it gives away: the cheap test first.
        if self.learned.iter().any(|(n, _)| n == name)
            || self.taught.names.iter().any(|(n, _)| n == name)
        {
            return true;
        }
        if super::lists::is_learnable(name) && !self.kept(name) {
            self.learned.push((name.to_owned(), placeholder));
            return true;
        }
        false
    }

    /// Find every other mention of the learned names: case-insensitively, and as a
    /// whole word or a whole part of one (`docker-dave` holds `dave`).
    fn spread(&mut self, text: &str) {
        if self.learned.is_empty() && self.taught.is_empty() {
            return;
        }
        let lower = text.to_lowercase();
        // Lower-casing can change byte lengths outside ASCII; then positions would not
        // map back, and only the exact spelling is looked for.
        let caseless = lower.len() == text.len();
        let learned = std::mem::take(&mut self.learned);
        let taught = self.taught;
        let taught = taught.names.iter().filter(|(name, _)| !self.kept(name));
        let names: Vec<&(String, &'static str)> = taught.chain(&learned).collect();
        for (name, placeholder) in names {
            let needle = if caseless {
                Cow::Owned(name.to_lowercase())
            } else {
                Cow::Borrowed(name.as_str())
            };
            let haystack = if caseless { lower.as_str() } else { text };
            for (at, _) in haystack.match_indices(needle.as_ref()) {
                let end = at + needle.len();
                let (Some(before), Some(after)) = (text.get(..at), text.get(end..)) else {
                    continue;
                };
                let bounded = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric());
                if bounded(before.chars().next_back()) && bounded(after.chars().next()) {
                    self.put(at..end, Rank::Learned, *placeholder);
                }
            }
        }
    }

    /// The text with every finding replaced, or `None` when there is nothing to change.
    ///
    /// Overlaps are settled left to right: the finding that starts first wins, then the
    /// longer one, then the better rank. A finding that overlaps one already taken is
    /// dropped; the next round finds whatever of it still stands. What the round learned
    /// is added to `lessons`.
    pub(super) fn apply(mut self, text: &str, lessons: Option<&mut Lessons>) -> Option<String> {
        if let Some(lessons) = lessons {
            for (name, placeholder) in &self.learned {
                lessons.add(name, placeholder);
            }
        }
        self.spread(text);
        self.spans.sort_by(|a, b| {
            a.range
                .start
                .cmp(&b.range.start)
                .then(b.range.end.cmp(&a.range.end))
                .then(a.rank.cmp(&b.rank))
        });
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        let mut changed = false;
        for span in &self.spans {
            if span.range.start < copied {
                continue;
            }
            let Some(original) = text.get(span.range.clone()) else {
                continue;
            };
            if original == span.with || self.kept(original) {
                continue;
            }
            out.push_str(&text[copied..span.range.start]);
            out.push_str(&span.with);
            copied = span.range.end;
            changed = true;
        }
        if !changed {
            return None;
        }
        out.push_str(&text[copied..]);
        Some(out)
    }
}

/// A German name's other spelling: an e-mail's or a host's ASCII (`schroeder`) for a
/// name with umlauts (`Schröder`), and the umlauts for one in ASCII. A text gives a name
/// away in one spelling and writes it in the other (`--name "Schröder Homelab CA"`
/// beside `anna.schroeder@…`). A spelling no text holds costs only a search.
fn other_spellings(name: &str) -> Vec<String> {
    let lower = name.to_lowercase();
    if lower.contains(['ä', 'ö', 'ü', 'ß']) {
        return vec![
            lower
                .replace('ä', "ae")
                .replace('ö', "oe")
                .replace('ü', "ue")
                .replace('ß', "ss"),
        ];
    }
    let vowels = |s: &str| s.replace("ae", "ä").replace("oe", "ö").replace("ue", "ü");
    let sharp_s = |s: &str| s.replace("ss", "ß");
    let mut spellings = vec![vowels(&lower), sharp_s(&lower), sharp_s(&vowels(&lower))];
    spellings.sort();
    spellings.dedup();
    spellings.retain(|s| *s != lower);
    spellings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_then_the_longest_then_the_best_ranked_wins() {
        let text = "ssh alice@nas.lan now";
        let mut found = Found::default();
        found.put(10..17, Rank::Host, "<host>");
        found.put(4..17, Rank::Email, "<email>");
        found.put(4..17, Rank::Composite, "<user>@<host>");
        found.put(4..9, Rank::User, "<user>");
        assert_eq!(
            found.apply(text, None).as_deref(),
            Some("ssh <user>@<host> now")
        );
    }

    #[test]
    fn a_german_name_learned_in_one_spelling_goes_in_the_other() {
        for (text, stored) in [
            (
                "init --name \"Schröder CA\" --provisioner anna.schroeder@schroeder-family.de",
                "init --name \"<host> CA\" --provisioner <email>",
            ),
            (
                "mail joerg.weiss@example.org; signed Jörg Weiß",
                "mail <email>; signed <user> <user>",
            ),
        ] {
            assert_eq!(crate::scrub(text), stored, "{text}");
        }
        assert_eq!(other_spellings("Müller"), ["mueller"]);
        assert_eq!(other_spellings("weiss"), ["weiß"]);
        assert!(other_spellings("nas").is_empty());
    }

    #[test]
    fn nothing_found_or_nothing_changed_is_none() {
        assert_eq!(Found::default().apply("text", None), None);
        let mut found = Found::default();
        found.put(0..6, Rank::Host, "<host>");
        assert_eq!(found.apply("<host> x", None), None);
    }
}
