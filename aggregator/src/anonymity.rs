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
pub fn publish(groups: Vec<Group>, k: u64, other_installs: u64) -> Published {
    let (mut kept, small): (Vec<Group>, Vec<Group>) = groups.into_iter().partition(|g| g.passes(k));
    let mut other = RunCounts::default();
    for g in &small {
        other.add(&g.counts);
    }
    let (other, suppressed_groups) = if small.is_empty() {
        (None, 0)
    } else if passes(other.runs, other_installs, k) {
        (Some(other), 0)
    } else {
        (None, small.len())
    };
    kept.sort_by(|a, b| {
        b.counts
            .runs
            .cmp(&a.counts.runs)
            .then(a.value.cmp(&b.value))
    });
    Published {
        groups: kept,
        other,
        suppressed_groups,
    }
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
        }
    }

    #[test]
    fn small_groups_fold_into_other_when_it_passes() {
        let p = publish(
            vec![group("a", 10, 10), group("b", 3, 3), group("c", 2, 2)],
            5,
            5,
        );
        assert_eq!(p.groups, [group("a", 10, 10)]);
        assert_eq!(p.other.map(|o| o.runs), Some(5));
        assert_eq!(p.suppressed_groups, 0);
    }

    #[test]
    fn and_are_left_out_and_counted_when_it_does_not() {
        let p = publish(vec![group("a", 10, 10), group("b", 4, 4)], 5, 4);
        assert_eq!(p.groups, [group("a", 10, 10)]);
        assert_eq!(p.other, None);
        assert_eq!(p.suppressed_groups, 1);
    }

    #[test]
    fn one_installation_retrying_is_not_a_group() {
        // Six runs, one installation: not published, nor is an `other` made of it.
        let p = publish(vec![group("a", 10, 10), group("solo", 6, 1)], 5, 1);
        assert_eq!(p.groups, [group("a", 10, 10)]);
        assert_eq!(p.other, None);
        assert_eq!(p.suppressed_groups, 1);
        assert_eq!(small(&[group("solo", 6, 1)], 5), (vec!["solo"], 6));
    }

    #[test]
    fn no_published_number_comes_from_fewer_than_k_runs_or_installations() {
        for k in 1..8 {
            let groups: Vec<Group> = (0..12)
                .map(|i| group(&i.to_string(), i, (i * 7) % 11))
                .collect();
            let (values, runs) = small(&groups, k);
            assert_eq!(
                runs,
                groups
                    .iter()
                    .filter(|g| values.contains(&g.value.as_str()))
                    .map(|g| g.counts.runs)
                    .sum::<u64>()
            );
            for other_installs in [0, k - 1, k] {
                let p = publish(groups.clone(), k, other_installs);
                assert!(
                    p.groups
                        .iter()
                        .all(|g| g.counts.runs >= k && g.installs >= k)
                );
                assert!(p.other.is_none_or(|o| o.runs >= k && other_installs >= k));
            }
        }
    }
}
