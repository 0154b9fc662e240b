//! k-anonymity on publication: no published number comes from fewer than `k` runs.
//!
//! Groups of a breakdown with fewer than `k` runs are folded into one `other` group. If
//! even `other` has fewer than `k` runs, it is left out, and the document says how many
//! groups it left out, so that a reader knows the numbers do not add up on purpose.

use serde::Serialize;

use crate::stats::RunCounts;

/// One published group: a dimension value and its run counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    pub value: String,
    #[serde(flatten)]
    pub counts: RunCounts,
}

/// A breakdown ready to publish.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Published {
    pub groups: Vec<Group>,
    /// The small groups together, when they reach `k` between them.
    pub other: Option<RunCounts>,
    /// How many small groups were left out entirely (their total stayed below `k`).
    pub suppressed_groups: usize,
}

pub fn publish(mut groups: Vec<Group>, k: u64) -> Published {
    let (kept, small): (Vec<Group>, Vec<Group>) =
        groups.drain(..).partition(|g| g.counts.runs >= k);
    let mut other = RunCounts::default();
    for g in &small {
        other.add(&g.counts);
    }
    let (other, suppressed_groups) = if small.is_empty() {
        (None, 0)
    } else if other.runs >= k {
        (Some(other), 0)
    } else {
        (None, small.len())
    };
    let mut kept = kept;
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

    fn group(value: &str, runs: u64) -> Group {
        Group {
            value: value.into(),
            counts: RunCounts {
                runs,
                success: runs,
                ..RunCounts::default()
            },
        }
    }

    #[test]
    fn small_groups_fold_into_other_when_it_reaches_k() {
        let p = publish(vec![group("a", 10), group("b", 3), group("c", 2)], 5);
        assert_eq!(p.groups, [group("a", 10)]);
        assert_eq!(p.other.map(|o| o.runs), Some(5));
        assert_eq!(p.suppressed_groups, 0);
    }

    #[test]
    fn and_are_left_out_and_counted_when_it_does_not() {
        let p = publish(vec![group("a", 10), group("b", 4)], 5);
        assert_eq!(p.groups, [group("a", 10)]);
        assert_eq!(p.other, None);
        assert_eq!(p.suppressed_groups, 1);
    }

    #[test]
    fn no_published_number_comes_from_fewer_than_k_runs() {
        for k in 1..8 {
            let groups: Vec<Group> = (0..12).map(|i| group(&i.to_string(), i)).collect();
            let p = publish(groups, k);
            assert!(p.groups.iter().all(|g| g.counts.runs >= k));
            assert!(p.other.is_none_or(|o| o.runs >= k));
        }
    }
}
