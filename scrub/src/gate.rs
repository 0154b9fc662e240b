//! A few passes over a text to learn which rules can match it at all.
//!
//! The modules have a hundred-odd rules, and most texts match none of them: searching for
//! each costs a pass per rule, and on a short text mostly the fixed cost of starting a
//! search. Most rules' matches must hold one of a few literals (`hostname`, `resolve
//! host`): one Aho-Corasick pass over the text finds which of them it holds. The other
//! rules are asked in `RegexSet`s of a few patterns whether any of them matches, a pass
//! that stops at the first match; a set is not asked when the literal pass found none of
//! the literals its rules' matches must hold somewhere (`@`, `--user`). The rules that can
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
use regex::{Regex, RegexSet, RegexSetBuilder};
use regex_syntax::hir::literal::{ExtractKind, Extractor};
use regex_syntax::hir::{Class, Hir, HirKind};

/// At most this many rules in one set. A set's lazy DFA builds its states as texts need
/// them, and a state of many rules' automata is dear to build and takes room: one set of
/// every rule outgrew its cache and fell back to the slowest engine (17 ms for 1.4 KB
/// instead of 12 µs), and one set per module (up to 34 rules) kept clearing its cache on
/// text it had not seen. Over the 22 000 strings of the corpus files, each scrubbed once,
/// sets of six took the mean from 700 µs to 90 µs and the texts of 500 bytes or more from
/// 4.4 ms to 0.4 ms. Fewer, larger sets cost less on a text whose states are all built
/// (the bench's repeated 1 KB log) and more on new text, which is what clients send.
/// Since a set is only asked whether it matches, sets of four cost 2 % more instructions
/// on the 1 KB log and 2 % fewer over the corpus; sets of ten 1 % and 23 % more.
const RULES_PER_SET: usize = 6;

/// Each set's lazy DFA cache, twice the regex crate's default: with the default, sets of
/// six still cleared theirs on the corpus (the mean 118 µs instead of 80). The cache
/// grows only as states are built.
const SET_CACHE_BYTES: usize = 4 << 20;

pub(super) struct Gate {
    /// The literals of the rules that have them (see [`literals`]), in one automaton:
    /// one pass over a text, without a lazy DFA to build, answers for most rules.
    literals: AhoCorasick,
    /// Each literal's group: the literals of one rule (see [`literals`] and
    /// [`required`]), by the group's number.
    owners: Vec<usize>,
    groups: usize,
    /// The other rules, in sets of a few.
    sets: Vec<RegexSet>,
    /// For each set, its rules' groups of required literals: a set is searched only if
    /// one of its rules has none, or the text holds one of a group.
    set_groups: Vec<Vec<Option<usize>>>,
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
    /// The rule's group of literals, one of which the literal pass must find.
    Literal(usize),
    /// The rule's set, and the group of literals one of which the text must hold for
    /// the rule to match, if one is known.
    Set(usize, Option<usize>),
}

impl Gate {
    pub(super) fn new(modules: Vec<Vec<&'static Regex>>) -> Self {
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        let mut owners = Vec::new();
        let mut groups = 0;
        let mut group = |lits: Vec<Vec<u8>>| {
            owners.extend(std::iter::repeat_n(groups, lits.len()));
            patterns.extend(lits);
            groups += 1;
            groups - 1
        };
        let mut sets = Vec::new();
        let mut set_groups = Vec::new();
        let mut index = HashMap::default();
        for rules in &modules {
            let mut rest = Vec::new();
            for &rule in rules {
                let pattern = without_word_boundaries(rule.as_str());
                match literals(&pattern) {
                    Some(lits) => {
                        index.insert(address(rule), Slot::Literal(group(lits)));
                    }
                    None => rest.push((rule, required(&pattern).map(&mut group))),
                }
            }
            // The rules a literal gates side by side, so that a text without their
            // literals skips their sets whole.
            rest.sort_by_key(|(_, required)| required.is_none());
            for rules in rest.chunks(RULES_PER_SET) {
                let s = sets.len();
                sets.push(
                    RegexSetBuilder::new(
                        rules
                            .iter()
                            .map(|(r, _)| without_word_boundaries(r.as_str())),
                    )
                    .dfa_size_limit(SET_CACHE_BYTES)
                    .build()
                    .expect("patterns that compile alone compile together"),
                );
                set_groups.push(rules.iter().map(|(_, g)| *g).collect());
                index.extend(rules.iter().map(|(r, g)| (address(r), Slot::Set(s, *g))));
            }
        }
        let literals = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(&patterns)
            .expect("a few thousand short literals make an automaton");
        Self {
            literals,
            owners,
            groups,
            sets,
            set_groups,
            index,
        }
    }

    /// Which rules can match `text`.
    pub(super) fn open(&self, text: &str) -> Open<'_> {
        let mut literal_hits = vec![false; self.groups];
        for m in self.literals.find_overlapping_iter(text) {
            literal_hits[self.owners[m.pattern().as_usize()]] = true;
        }
        let hits = self
            .sets
            .iter()
            .zip(&self.set_groups)
            .map(|(set, groups)| {
                // Whether any of the set's rules matches, not which: a search that stops
                // at the first match, after which each rule searches for itself. Asking
                // which (a search to the text's end for every rule) cost 12 % more on the
                // bench's 1 KB log and 2 % less over the corpus's strings.
                groups.iter().any(|g| g.is_none_or(|g| literal_hits[g])) && set.is_match(text)
            })
            .collect();
        Open {
            gate: self,
            literal_hits,
            hits,
        }
    }

    /// How many rules the literal pass answers for, and how many the sets do.
    #[cfg(test)]
    pub(super) fn split(&self) -> (usize, usize) {
        let literal = self
            .index
            .values()
            .filter(|slot| matches!(slot, Slot::Literal(_)))
            .count();
        (literal, self.index.len() - literal)
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

/// Literals one of which every match of `pattern` holds somewhere, lower-cased: for a
/// rule no prefix or suffix gates (`[\w.-]+@[\w.-]+` must hold `@`, `(\w+)\s*=\s*pass`
/// must hold `pass`). `None` when no such set is known. A rule whose set the text lacks
/// cannot match, and its set need not be searched for it.
fn required(pattern: &str) -> Option<Vec<Vec<u8>>> {
    let hir = regex_syntax::ParserBuilder::new()
        .build()
        .parse(pattern)
        .ok()?;
    let mut lits = necessary(&hir)?;
    lits.sort_unstable();
    lits.dedup();
    // A literal of a byte or two (`:`, `-`, `en`) is in almost every text and would only
    // add hits to the literal pass; `@` is the exception, rare and the whole sign of an
    // account or an address.
    let telling = |l: &Vec<u8>| l.len() >= MIN_REQUIRED || l.as_slice() == b"@";
    (lits.len() <= MAX_LITERALS && lits.iter().all(telling)).then_some(lits)
}

/// The shortest literal [`required`] keeps, `@` aside.
const MIN_REQUIRED: usize = 3;

/// A set of literals one of which every match of `hir` holds, if one is known.
fn necessary(hir: &Hir) -> Option<Vec<Vec<u8>>> {
    if let Some(exact) = exact(hir) {
        return (!exact.is_empty()).then(|| vec![exact]);
    }
    match hir.kind() {
        HirKind::Capture(capture) => necessary(&capture.sub),
        HirKind::Repetition(rep) if rep.min >= 1 => necessary(&rep.sub),
        HirKind::Alternation(branches) => {
            let mut all = Vec::new();
            for branch in branches {
                all.extend(necessary(branch)?);
                if all.len() > MAX_LITERALS {
                    return None;
                }
            }
            Some(all)
        }
        HirKind::Concat(parts) => {
            // Runs of exact parts make one literal each (`(?i)pass` is four classes); any
            // run, or any other part's own set, will do: the one whose shortest literal
            // is longest says the most.
            let mut candidates: Vec<Vec<Vec<u8>>> = Vec::new();
            let mut run: Vec<u8> = Vec::new();
            for part in parts {
                match exact(part) {
                    Some(bytes) => run.extend(bytes),
                    None => {
                        if !run.is_empty() {
                            candidates.push(vec![std::mem::take(&mut run)]);
                        }
                        candidates.extend(necessary(part));
                    }
                }
            }
            if !run.is_empty() {
                candidates.push(vec![run]);
            }
            candidates.into_iter().max_by_key(|lits| {
                let shortest = lits.iter().map(Vec::len).min().unwrap_or(0);
                (shortest, std::cmp::Reverse(lits.len()))
            })
        }
        _ => None,
    }
}

/// The one string `hir` matches, lower-cased, ASCII case aside (`(?i)pass`, `://`).
fn exact(hir: &Hir) -> Option<Vec<u8>> {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Some(Vec::new()),
        HirKind::Literal(lit) => Some(lit.0.to_ascii_lowercase()),
        HirKind::Class(class) => one_letter(class).map(|b| vec![b]),
        HirKind::Capture(capture) => exact(&capture.sub),
        HirKind::Repetition(rep) if Some(rep.min) == rep.max && rep.min <= 8 => {
            let once = exact(&rep.sub)?;
            Some(once.repeat(rep.min as usize))
        }
        HirKind::Concat(parts) => {
            let mut out = Vec::new();
            for part in parts {
                out.extend(exact(part)?);
            }
            Some(out)
        }
        _ => None,
    }
}

/// The byte a class of one ASCII character, or of an ASCII letter in both cases, stands
/// for, lower-cased.
fn one_letter(class: &Class) -> Option<u8> {
    let bytes: Vec<(u32, u32)> = match class {
        Class::Unicode(c) => c
            .ranges()
            .iter()
            .map(|r| (r.start() as u32, r.end() as u32))
            .collect(),
        Class::Bytes(c) => c
            .ranges()
            .iter()
            .map(|r| (u32::from(r.start()), u32::from(r.end())))
            .collect(),
    };
    let single = |(a, b): (u32, u32)| {
        u8::try_from(a)
            .ok()
            .filter(|byte| a == b && byte.is_ascii())
    };
    match bytes.as_slice() {
        [one] => single(*one).map(|b| b.to_ascii_lowercase()),
        [upper, lower] => {
            let (u, l) = (single(*upper)?, single(*lower)?);
            (u.is_ascii_uppercase() && u.to_ascii_lowercase() == l).then_some(l)
        }
        _ => None,
    }
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
    /// Whether each set matched: a set whose rules' literals are not in the text is not
    /// asked.
    hits: Vec<bool>,
}

impl Open<'_> {
    /// Whether `rule` can match; a rule the gate does not hold always can.
    pub(super) fn can(&self, rule: &Regex) -> bool {
        match self.gate.index.get(&address(rule)) {
            Some(&Slot::Literal(n)) => self.literal_hits[n],
            Some(&Slot::Set(set, group)) => {
                group.is_none_or(|g| self.literal_hits[g]) && self.hits[set]
            }
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
    use super::{required, without_word_boundaries};

    #[test]
    fn word_boundaries_go_and_escaped_backslashes_stay() {
        assert_eq!(without_word_boundaries(r"\bhost\B:"), "host:");
        assert_eq!(without_word_boundaries(r"\\b\\u@\d"), r"\\b\\u@\d");
    }

    fn strings(lits: Option<Vec<Vec<u8>>>) -> Option<Vec<String>> {
        lits.map(|l| {
            l.into_iter()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .collect()
        })
    }

    #[test]
    fn a_rule_requires_the_literals_every_match_holds() {
        assert_eq!(
            strings(required(r"[\w.-]+@[\w.-]+")),
            Some(vec!["@".into()])
        );
        // `-u` is in too many texts to tell anything.
        assert_eq!(required(r"(?:^|\s)(?:-u|--user)(?:=|[ \t]+)(\w+)"), None);
        assert_eq!(
            strings(required(r"(?:^|\s)--user(?:=|[ \t]+)(\w+)")),
            Some(vec!["--user".into()])
        );
        // ASCII case aside, lower-cased: a case-insensitive word is one literal.
        assert_eq!(
            strings(required(r"(?i)auth[ =:]+(\w+)")),
            Some(vec!["auth".into()])
        );
        // Unless Unicode folds a letter beyond ASCII (`k` is also the Kelvin sign): then
        // the literal stops there, and `to`, `en` are too short.
        assert_eq!(required(r"(?i)token[ =:]+(\w+)"), None);
        // Every branch must hold one.
        assert_eq!(
            strings(required(r"(?:login|account)\s+(\w+)")),
            Some(vec!["account".into(), "login".into()])
        );
        // Nothing telling: a separator, or a branch that holds nothing.
        assert_eq!(required(r"(\w+):(\w+)"), None);
        assert_eq!(required(r"(?:login\s+|\s)(\w+)"), None);
        assert_eq!(required(r"(?:token)?\s(\w+)"), None);
    }
}
