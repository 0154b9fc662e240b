//! A few passes over a text to learn which of a module's rules can match at all.
//!
//! A module has a score of rules, and most texts match none of them: searching for each
//! costs a pass per rule, and on a short text mostly the fixed cost of starting a
//! search. A `RegexSet` of a few of the same patterns answers for all of them in one
//! pass; the rules that can match are then run as before.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use regex::{Regex, RegexSet, RegexSetBuilder, SetMatches};

/// At most this many rules in one set. A set's lazy DFA builds its states as texts need
/// them, and a state of many rules' automata is dear to build and takes room: one set of
/// every rule outgrew its cache and fell back to the slowest engine (17 ms for 1.4 KB
/// instead of 12 µs), and one set per module (up to 34 rules) kept clearing its cache on
/// text it had not seen. Over the 22 000 texts of the corpus and the unseen sets, each
/// scrubbed once, sets of six took the mean from 700 µs to 80 µs and the texts of 500
/// bytes or more from 4.4 ms to 0.4 ms; the same text scrubbed again and again (the
/// bench's 1 KB case, whose states are all built) costs more passes, 1.7 to 2.5 million
/// instructions.
const RULES_PER_SET: usize = 6;

/// Each set's lazy DFA cache, twice the regex crate's default: with the default, the
/// sets of six still cleared theirs on the corpus (the mean 118 µs instead of 80). The
/// cache grows only as states are built; scrubbing the whole corpus on one thread took
/// the process from 64 to 79 MB.
const SET_CACHE_BYTES: usize = 4 << 20;

pub(super) struct Gate {
    sets: Vec<RegexSet>,
    /// Each rule's set and its index in that set, by the rule's address. A round asks
    /// about every rule (a hundred questions on a ten-byte field): a binary search was a
    /// fifth of a short field's cost.
    index: HashMap<usize, (usize, usize), BuildHasherDefault<AddressHasher>>,
}

/// A hasher for the address of a static: the addresses are distinct and aligned, so one
/// multiplication spreads them (Fibonacci hashing); SipHash would cost more than the
/// lookup it serves.
#[derive(Default)]
struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64 >> 3).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

impl Gate {
    pub(super) fn new(modules: Vec<Vec<&'static Regex>>) -> Self {
        let mut sets = Vec::new();
        let mut index = HashMap::default();
        for rules in modules.iter().flat_map(|rules| rules.chunks(RULES_PER_SET)) {
            let s = sets.len();
            sets.push(
                RegexSetBuilder::new(rules.iter().map(|r| without_word_boundaries(r.as_str())))
                    .dfa_size_limit(SET_CACHE_BYTES)
                    .build()
                    .expect("patterns that compile alone compile together"),
            );
            index.extend(rules.iter().enumerate().map(|(i, r)| (address(r), (s, i))));
        }
        Self { sets, index }
    }

    /// Which rules can match `text`.
    pub(super) fn open(&self, text: &str) -> Open<'_> {
        Open {
            gate: self,
            hits: self.sets.iter().map(|set| set.matches(text)).collect(),
        }
    }
}

/// `pattern` without its word-boundary assertions (`\b`, `\B`): it matches wherever the
/// pattern does, and more, so the gate stays a filter that never shuts a rule that could
/// match. A Unicode `\b` stops the lazy DFA at the first non-ASCII byte, and a set then
/// falls back to the slowest engine: 3 ms on a 1.5 KB German log instead of microseconds.
fn without_word_boundaries(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('b' | 'B') => {}
                Some(next) => {
                    out.push(c);
                    out.push(next);
                }
                None => out.push(c),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A rule's identity: the address of its static.
fn address(rule: &Regex) -> usize {
    std::ptr::from_ref(rule) as usize
}

pub(super) struct Open<'g> {
    gate: &'g Gate,
    hits: Vec<SetMatches>,
}

impl Open<'_> {
    /// Whether `rule` can match; a rule the gate does not hold always can.
    pub(super) fn can(&self, rule: &Regex) -> bool {
        match self.gate.index.get(&address(rule)) {
            Some(&(set, i)) => self.hits[set].matched(i),
            None => true,
        }
    }

    /// `rule`'s matches in `text`, or none without a search if the gate says so.
    pub(super) fn captures<'t>(
        &self,
        rule: &'static Regex,
        text: &'t str,
    ) -> impl Iterator<Item = regex::Captures<'t>> + use<'t> {
        // Not even made when the gate is shut: making one allocates its captures, and
        // boxed, the shut case moves a pointer rather than the whole searcher.
        self.can(rule)
            .then(|| Box::new(rule.captures_iter(text)))
            .into_iter()
            .flatten()
    }

    /// `rule`'s matches in `text`, as `find_iter`, or none without a search.
    pub(super) fn find<'t>(
        &self,
        rule: &'static Regex,
        text: &'t str,
    ) -> impl Iterator<Item = regex::Match<'t>> + use<'t> {
        self.can(rule)
            .then(|| Box::new(rule.find_iter(text)))
            .into_iter()
            .flatten()
    }

    /// The lines of `text` that `marker` matches, or none if the gate says it cannot.
    pub(super) fn lines<'t>(
        &self,
        marker: &'static Regex,
        text: &'t str,
    ) -> impl Iterator<Item = (usize, &'t str)> + 't {
        let n = if self.can(marker) { usize::MAX } else { 0 };
        lines_matching(text, marker).take(n)
    }
}

/// The lines of `text` (with their byte offsets) that `marker` matches.
fn lines_matching<'t>(
    text: &'t str,
    marker: &'t Regex,
) -> impl Iterator<Item = (usize, &'t str)> + 't {
    let mut offset = 0;
    text.split_inclusive('\n').filter_map(move |line| {
        let at = offset;
        offset += line.len();
        marker.is_match(line).then_some((at, line))
    })
}

#[cfg(test)]
mod tests {
    use super::without_word_boundaries;

    #[test]
    fn word_boundaries_go_and_escaped_backslashes_stay() {
        assert_eq!(without_word_boundaries(r"\bhost\B:"), "host:");
        assert_eq!(without_word_boundaries(r"\\b\\u@\d"), r"\\b\\u@\d");
    }
}
