//! k-anonymity on publication: no published number comes from fewer than `k` runs or
//! from fewer than `k` installations.
//!
//! Runs alone are not enough: one installation that retries five times would form a
//! group of five. Every group therefore carries its installations, counted from the
//! buckets the materialisation keeps (migration 0004); that count can only fall short of
//! the truth, never exceed it, so a group that passes really has `k` installations.
//!
//! Groups of a breakdown that do not pass are folded into one `other` group. If `other`
//! does not pass either, it is left out, and the document says how many groups it left
//! out, so that a reader knows the numbers do not add up on purpose.

use serde::Serialize;

use crate::counts::{Group, RunCounts};
use crate::noise::Noise;

/// Whether a group of `runs` runs from `installs` installations may be published.
pub fn passes(runs: u64, installs: u64, k: u64) -> bool {
    runs >= k && installs >= k
}

impl Group {
    pub fn passes(&self, k: u64) -> bool {
        passes(self.counts.runs, self.installs, k)
    }
}

/// A breakdown ready to publish.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Published<T = Group> {
    pub groups: Vec<T>,
    /// The small groups together, when they pass between them.
    pub other: Option<RunCounts>,
    /// How many small groups were left out entirely (together they did not pass).
    pub suppressed_groups: usize,
}

impl<T> Published<T> {
    /// The same publication with each group described further.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Published<U> {
        Published {
            groups: self.groups.into_iter().map(f).collect(),
            other: self.other,
            suppressed_groups: self.suppressed_groups,
        }
    }
}

/// Tables of the same breakdown published apart (one per repository) added up: a group
/// holds what the parts list of it, and `other` what they hide. So the sum tells
/// nothing the parts do not: a group hidden in one part and listed in another counts,
/// in the sum, only with what the part that lists it shows.
pub fn merge(parts: Vec<Published>) -> Published {
    let mut groups: std::collections::BTreeMap<String, Group> = std::collections::BTreeMap::new();
    let mut other: Option<RunCounts> = None;
    let mut suppressed_groups = 0;
    for part in parts {
        for g in part.groups {
            match groups.get_mut(&g.value) {
                Some(sum) => {
                    sum.counts.add(&g.counts);
                    // Still a lower bound of the installations behind the sum.
                    sum.installs = sum.installs.max(g.installs);
                }
                None => {
                    groups.insert(g.value.clone(), g);
                }
            }
        }
        if let Some(o) = part.other {
            other.get_or_insert_with(RunCounts::default).add(&o);
        }
        suppressed_groups += part.suppressed_groups;
    }
    let mut groups: Vec<Group> = groups.into_values().collect();
    sort(&mut groups);
    Published {
        groups,
        other,
        suppressed_groups,
    }
}

/// The values of the groups that do not pass on their own, and their runs together:
/// what the caller needs to count the installations of `other`.
pub fn small(groups: &[Group], k: u64) -> (Vec<&str>, u64) {
    let small: Vec<&Group> = groups.iter().filter(|g| !g.passes(k)).collect();
    (
        small.iter().map(|g| g.value.as_str()).collect(),
        small.iter().map(|g| g.counts.runs).sum(),
    )
}

/// Publish `groups`, most runs first; `other_installs` are the installations of the
/// groups that do not pass on their own, together.
///
/// What a table hides must not be computable from what it shows: a reader who knows
/// the table's total (the scope's runs, an app's, its failures) subtracts the published
/// groups and gets the hidden ones together. So what is hidden is either nothing or
/// `other`, which passes the k rule and holds at least two groups: when the small groups
/// together do not pass, the smallest published group joins them (complementary
/// suppression). It passes alone, so `other` passes with it. Only when nothing was
/// published to begin with is the table left empty, and then its total (which passes,
/// or is not published either) is what the reader learns.
///
/// The group without a value (`""`: runs the dimension says nothing about) is never
/// listed; it is hidden with the small groups when it does not pass, and otherwise left
/// out, since the reader can compute it only as a number of at least k runs.
///
/// The decisions are taken on the exact counts; what is published are the counts with
/// their noise (crate::noise), `other` with the noise of the runs it holds, and the
/// groups ordered by those, so that not even their order tells the exact ones.
pub fn publish(
    groups: Vec<Group>,
    k: u64,
    other_installs: u64,
    noise: &Noise,
    failures_only: bool,
) -> Published {
    let (mut kept, small): (Vec<Group>, Vec<Group>) = groups.into_iter().partition(|g| g.passes(k));
    kept.retain(|g| !g.value.is_empty());
    let mut other = RunCounts::default();
    // The key of a set of runs is the XOR of theirs (crate::noise).
    let mut other_key = 0;
    for g in &small {
        other.add(&g.counts);
        other_key ^= g.cell_key;
    }
    let mut hidden = small.len();
    let passes_as_is = passes(other.runs, other_installs, k);
    sort(&mut kept);
    let (other, suppressed_groups) = if small.is_empty() {
        (None, 0)
    } else if passes_as_is {
        (Some(other), 0)
    } else if let Some(smallest) = kept.pop() {
        other.add(&smallest.counts);
        other_key ^= smallest.cell_key;
        hidden += 1;
        debug_assert!(hidden >= 2 && other.runs >= k);
        (Some(other), 0)
    } else {
        (None, hidden)
    };
    for g in &mut kept {
        g.counts = noise.counts(&g.counts, g.cell_key, failures_only);
    }
    sort(&mut kept);
    Published {
        groups: kept,
        other: other.map(|o| noise.counts(&o, other_key, failures_only)),
        suppressed_groups,
    }
}

/// Most runs first, then by value.
fn sort(groups: &mut [Group]) {
    groups.sort_by(|a, b| {
        b.counts
            .runs
            .cmp(&a.counts.runs)
            .then(a.value.cmp(&b.value))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(value: &str, runs: u64, installs: u64) -> Group {
        Group {
            value: value.into(),
            counts: RunCounts {
                runs,
                success: runs,
                ..RunCounts::default()
            },
            installs,
            cell_key: 0,
        }
    }

    #[test]
    fn small_groups_fold_into_other_when_it_passes() {
        let p = publish(
            vec![group("a", 10, 10), group("b", 3, 3), group("c", 2, 2)],
            5,
            5,
            &Noise::exact(),
            false,
        );
        assert_eq!(p.groups, [group("a", 10, 10)]);
        assert_eq!(p.other.map(|o| o.runs), Some(5));
        assert_eq!(p.suppressed_groups, 0);
    }

    #[test]
    fn when_they_do_not_the_smallest_published_group_joins_them() {
        // Alone, `c` would be the table's total minus `a` and `b`: four runs.
        let p = publish(
            vec![group("a", 10, 10), group("b", 6, 6), group("c", 4, 4)],
            5,
            4,
            &Noise::exact(),
            false,
        );
        assert_eq!(p.groups, [group("a", 10, 10)]);
        assert_eq!(p.other.map(|o| o.runs), Some(10));
        assert_eq!(p.suppressed_groups, 0);
    }

    #[test]
    fn one_installation_retrying_is_not_a_group_nor_can_it_be_subtracted() {
        // Six runs, one installation: not published, and `a` goes with it, since the
        // total minus `a` would be those six runs.
        let p = publish(
            vec![group("a", 10, 10), group("solo", 6, 1)],
            5,
            1,
            &Noise::exact(),
            false,
        );
        assert_eq!(p.groups, []);
        assert_eq!(p.other.map(|o| o.runs), Some(16));
        assert_eq!(small(&[group("solo", 6, 1)], 5), (vec!["solo"], 6));
    }

    #[test]
    fn tables_added_up_show_only_what_their_parts_show() {
        let production = publish(
            vec![group("a", 10, 10), group("b", 9, 9), group("c", 3, 3)],
            5,
            3,
            &Noise::exact(),
            false,
        );
        let external = publish(
            vec![group("a", 2, 2), group("c", 6, 6), group("d", 7, 7)],
            5,
            2,
            &Noise::exact(),
            false,
        );
        // production lists a and hides b and c; external lists d and hides a and c.
        let sum = merge(vec![production.clone(), external.clone()]);
        assert_eq!(
            sum.groups
                .iter()
                .map(|g| (g.value.as_str(), g.counts.runs))
                .collect::<Vec<_>>(),
            [("a", 10), ("d", 7)]
        );
        assert_eq!(sum.other.map(|o| o.runs), Some(12 + 8));
        assert_eq!(production.other.map(|o| o.runs), Some(12));
    }

    #[test]
    fn a_table_with_nothing_to_publish_is_left_empty_and_says_so() {
        let p = publish(
            vec![group("a", 3, 3), group("b", 1, 1)],
            5,
            4,
            &Noise::exact(),
            false,
        );
        assert_eq!(p.groups, []);
        assert_eq!(p.other, None);
        assert_eq!(p.suppressed_groups, 2);
    }

    #[test]
    fn the_runs_without_a_value_are_never_listed() {
        // Passing: left out, so the total minus the table is at least k runs.
        let p = publish(
            vec![group("", 50, 50), group("a", 10, 10)],
            5,
            0,
            &Noise::exact(),
            false,
        );
        assert_eq!(p.groups, [group("a", 10, 10)]);
        assert_eq!(p.other, None);
        // Small: hidden like any small group.
        let p = publish(
            vec![group("", 2, 2), group("a", 10, 10), group("b", 8, 8)],
            5,
            2,
            &Noise::exact(),
            false,
        );
        assert_eq!(p.groups, [group("a", 10, 10)]);
        assert_eq!(p.other.map(|o| o.runs), Some(10));
    }

    /// Whatever the groups, what the table does not show of its total is nothing, a
    /// passing group without a value, or `other`: at least k runs in at least two groups.
    #[test]
    fn nothing_below_k_can_be_read_from_a_table_and_its_total() {
        for k in 2..8 {
            for seed in 0..200u64 {
                let n = 1 + seed % 9;
                let groups: Vec<Group> = (0..n)
                    .map(|i| {
                        let runs = (seed * 31 + i * 17) % 13;
                        let installs = runs.min((seed + i * 7) % 11);
                        let value = if i == 0 && seed % 3 == 0 {
                            String::new()
                        } else {
                            i.to_string()
                        };
                        group(&value, runs, installs)
                    })
                    .filter(|g| g.counts.runs > 0)
                    .collect();
                let total: u64 = groups.iter().map(|g| g.counts.runs).sum();
                let (values, runs) = small(&groups, k);
                // The installations of the small groups together, at most their sum.
                let other_installs: u64 = groups
                    .iter()
                    .filter(|g| values.contains(&g.value.as_str()))
                    .map(|g| g.installs)
                    .sum::<u64>()
                    .min(runs);
                let p = publish(groups.clone(), k, other_installs, &Noise::exact(), false);
                assert!(p.groups.iter().all(|g| g.passes(k) && !g.value.is_empty()));
                let listed: u64 = p.groups.iter().map(|g| g.counts.runs).sum();
                let blank = groups
                    .iter()
                    .find(|g| g.value.is_empty() && g.passes(k))
                    .map_or(0, |g| g.counts.runs);
                let unseen = total - listed - blank;
                match p.other {
                    Some(o) => {
                        assert_eq!(o.runs, unseen);
                        assert!(o.runs >= k);
                        let inside = groups.len() - p.groups.len() - usize::from(blank > 0);
                        assert!(inside >= 2, "{groups:?} -> {p:?}");
                    }
                    // Nothing hidden, or nothing shown at all.
                    None => assert!(unseen == 0 || p.groups.is_empty(), "{groups:?} -> {p:?}"),
                }
            }
        }
    }
}
