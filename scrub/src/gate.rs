//! One pass over a text to learn which of a module's rules can match at all.
//!
//! A module has a score of rules, and most texts match none of them: searching for each
//! costs a pass per rule, and on a short text mostly the fixed cost of starting a
//! search. A `RegexSet` of the same patterns answers for all of them in one pass; the
//! rules that can match are then run as before.

use regex::{Regex, RegexSet, SetMatches};

pub(super) struct Gate {
    set: RegexSet,
    /// Each rule's address and its index in `set`, sorted by address.
    index: Vec<(usize, usize)>,
}

impl Gate {
    pub(super) fn new(rules: Vec<&'static Regex>) -> Self {
        let set = RegexSet::new(rules.iter().map(|r| r.as_str()))
            .expect("patterns that compile alone compile together");
        let mut index: Vec<(usize, usize)> = rules
            .iter()
            .enumerate()
            .map(|(i, r)| (address(r), i))
            .collect();
        index.sort_unstable();
        Self { set, index }
    }

    /// Which rules can match `text`.
    pub(super) fn open(&self, text: &str) -> Open<'_> {
        Open {
            gate: self,
            hits: self.set.matches(text),
        }
    }
}

/// A rule's identity: the address of its static.
fn address(rule: &Regex) -> usize {
    std::ptr::from_ref(rule) as usize
}

pub(super) struct Open<'g> {
    gate: &'g Gate,
    hits: SetMatches,
}

impl Open<'_> {
    /// Whether `rule` can match; a rule the gate does not hold always can.
    pub(super) fn can(&self, rule: &Regex) -> bool {
        let index = &self.gate.index;
        match index.binary_search_by_key(&address(rule), |(a, _)| *a) {
            Ok(at) => self.hits.matched(index[at].1),
            Err(_) => true,
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
        super::hosts::lines_matching(text, marker).take(n)
    }
}
