//! A few passes over a text to learn which rules can match it at all.
//!
//! The modules have a hundred-odd rules, and most texts match none of them: searching for
//! each costs a pass per rule, and on a short text mostly the fixed cost of starting a
//! search. Most rules' matches must hold one of a few literals (`hostname`, `resolve
//! host`): one Aho-Corasick pass over the text finds which of them it holds. The other
//! rules are asked in `RegexSet`s of a few patterns, one pass a set. The rules that can
//! match are then run as before.
//!
//! Over the 22 000 strings of the corpus files, each scrubbed once: one set per module
//! gave a mean of 700 µs a string and 4.4 ms for 500 bytes or more; sets of six, 90 µs
//! and 0.4 ms; the literals and sets of six for the other 53 rules, 69 µs and 0.42 ms,
//! with no more memory than one set per module (65 MB for the whole run, 79 MB with sets
//! only).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use aho_corasick::AhoCorasick;
use regex::{Regex, RegexSet, RegexSetBuilder, SetMatches};
use regex_syntax::hir::literal::{ExtractKind, Extractor};

/// At most this many rules in one set. A set's lazy DFA builds its states as texts need
/// them, and a state of many rules' automata is dear to build and takes room: one set of
/// every rule outgrew its cache and fell back to the slowest engine (17 ms for 1.4 KB
/// instead of 12 µs), and one set per module (up to 34 rules) kept clearing its cache on
/// text it had not seen. Over the 22 000 strings of the corpus files, each scrubbed once,
/// sets of six took the mean from 700 µs to 90 µs and the texts of 500 bytes or more from
/// 4.4 ms to 0.4 ms. Fewer, larger sets cost less on a text whose states are all built
/// (the bench's repeated 1 KB log) and more on new text, which is what clients send.
const RULES_PER_SET: usize = 6;

/// Each set's lazy DFA cache, twice the regex crate's default: with the default, sets of
/// six still cleared theirs on the corpus (the mean 118 µs instead of 80). The cache
/// grows only as states are built.
const SET_CACHE_BYTES: usize = 4 << 20;

pub(super) struct Gate {
    /// The literals of the rules that have them (see [`literals`]), in one automaton:
    /// one pass over a text, without a lazy DFA to build, answers for most rules.
    literals: AhoCorasick,
    /// Each literal's rule, by its number among the rules the literal pass answers for.
    owners: Vec<usize>,
    literal_rules: usize,
    /// The other rules, in sets of a few.
    sets: Vec<RegexSet>,
    /// Where each rule is answered for, by the rule's address. A round asks
    /// about every rule (a hundred questions on a ten-byte field): a binary search was a
    /// fifth of a short field's cost.
    index: HashMap<usize, Slot, BuildHasherDefault<AddressHasher>>,
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

/// Where the gate keeps what it knows of one rule.
#[derive(Debug, Clone, Copy)]
enum Slot {
    /// The rule's number among those the literal pass answers for.
    Literal(usize),
    /// The rule's set, and its index in that set.
    Set(usize, usize),
}

impl Gate {
    pub(super) fn new(modules: Vec<Vec<&'static Regex>>) -> Self {
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        let mut owners = Vec::new();
        let mut literal_rules = 0;
        let mut sets = Vec::new();
        let mut index = HashMap::default();
        for rules in &modules {
            let mut rest = Vec::new();
            for &rule in rules {
                match literals(&without_word_boundaries(rule.as_str())) {
                    Some(lits) => {
                        index.insert(address(rule), Slot::Literal(literal_rules));
                        owners.extend(std::iter::repeat_n(literal_rules, lits.len()));
                        patterns.extend(lits);
                        literal_rules += 1;
                    }
                    None => rest.push(rule),
                }
            }
            for rules in rest.chunks(RULES_PER_SET) {
                let s = sets.len();
                sets.push(
                    RegexSetBuilder::new(rules.iter().map(|r| without_word_boundaries(r.as_str())))
                        .dfa_size_limit(SET_CACHE_BYTES)
                        .build()
                        .expect("patterns that compile alone compile together"),
                );
                index.extend(
                    rules
                        .iter()
                        .enumerate()
                        .map(|(i, r)| (address(r), Slot::Set(s, i))),
                );
            }
        }
        let literals = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(&patterns)
            .expect("a few thousand short literals make an automaton");
        Self {
            literals,
            owners,
            literal_rules,
            sets,
            index,
        }
    }

    /// Which rules can match `text`.
    pub(super) fn open(&self, text: &str) -> Open<'_> {
        let mut literal_hits = vec![false; self.literal_rules];
        for m in self.literals.find_overlapping_iter(text) {
            literal_hits[self.owners[m.pattern().as_usize()]] = true;
        }
        Open {
            gate: self,
            literal_hits,
            hits: self.sets.iter().map(|set| set.matches(text)).collect(),
        }
    }

    /// How many rules the literal pass answers for, and how many the sets do.
    #[cfg(test)]
    pub(super) fn split(&self) -> (usize, usize) {
        (self.literal_rules, self.index.len() - self.literal_rules)
    }
}

/// Literals one of which every match of `pattern` holds, lower-cased (the gate's search
/// ignores ASCII case), if there are few and none is too short to say anything: the
/// prefixes every match starts with, or else the suffixes every match ends with, as
/// regex-syntax extracts them for the regex crate's own prefilters. A finite set of them
/// is that guarantee; a set of literals that also match elsewhere only opens the rule
/// more often.
fn literals(pattern: &str) -> Option<Vec<Vec<u8>>> {
    let hir = regex_syntax::ParserBuilder::new()
        .build()
        .parse(pattern)
        .ok()?;
    [ExtractKind::Prefix, ExtractKind::Suffix]
        .into_iter()
        .filter_map(|kind| {
            let mut extractor = Extractor::new();
            extractor
                .kind(kind)
                .limit_class(LIMIT_CLASS)
                .limit_total(LIMIT_TOTAL);
            let seq = extractor.extract(&hir);
            let mut lits: Vec<Vec<u8>> = seq
                .literals()?
                .iter()
                .map(|l| l.as_bytes().to_ascii_lowercase())
                .collect();
            lits.sort_unstable();
            lits.dedup();
            let shortest = lits.iter().map(Vec::len).min()?;
            (shortest >= MIN_LITERAL && lits.len() <= MAX_LITERALS).then_some((shortest, lits))
        })
        .max_by_key(|(shortest, lits)| (*shortest, std::cmp::Reverse(lits.len())))
        .map(|(_, lits)| lits)
}

/// How far extraction expands a class and a case-insensitive word (`(?i)hostname` is 256
/// spellings), and how many literals it keeps before it gives up. Higher limits gated a
/// few more rules by literals but took 750 ms at start-up instead of tens.
const LIMIT_CLASS: usize = 10;
const LIMIT_TOTAL: usize = 2_000;

/// A literal shorter than this (`-p`, `:`) is in most texts and would open its rule on all
/// of them; the rule is then better judged by a set.
const MIN_LITERAL: usize = 2;

/// More literals than this (a class of a hundred letters in front of a word) make the
/// literal automaton large for one rule; the rule goes to a set instead.
const MAX_LITERALS: usize = 500;

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
    literal_hits: Vec<bool>,
    hits: Vec<SetMatches>,
}

impl Open<'_> {
    /// Whether `rule` can match; a rule the gate does not hold always can.
    pub(super) fn can(&self, rule: &Regex) -> bool {
        match self.gate.index.get(&address(rule)) {
            Some(&Slot::Literal(n)) => self.literal_hits[n],
            Some(&Slot::Set(set, i)) => self.hits[set].matched(i),
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
