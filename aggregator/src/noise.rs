//! Noise on every published count, the same for the same runs.
//!
//! Exact counts cannot protect one run from a reader who controls or knows every other
//! run of a count: k−1 made-up sessions beside a victim's lone run make it publishable,
//! and subtracting them gives the victim's outcome back; `days=7` minus `days=1`, or a
//! release minus the one before, gives a few days' runs even where they are fewer than k.
//! So each published count is the true count plus a two-sided geometric (discrete
//! Laplace) variable: P(x) ∝ e^(−ε|x|), `aggregator.noise_epsilon` (1.0: a standard
//! deviation of about 1.4 runs), floored at zero.
//!
//! The variable is not drawn afresh for each request. It comes from a hash of a secret
//! (`stats_noise`, never published) and of the count's *cell key* (migration 0008): the
//! XOR of a hash of every run the count is made of. Hence:
//! - the same runs get the same noise, in every table, window, repository and release:
//!   asking again, or asking another table that counts the same runs, cannot average it
//!   away (the cell-key method of the statistics offices, ABS TableBuilder among them);
//! - one run more or less (the victim's, between the padded cell without and with it)
//!   gives an unrelated key, and without the secret an unpredictable draw: for a reader
//!   who knows every other run, the published count tells whether the victim is in it
//!   (or what its outcome was) no better than ε-differential privacy allows for one
//!   count.
//!
//! What it does not bound is the sum over many *different* counts of one run: each
//! table the victim is counted in with different other runs, and each release whose
//! window adds new runs to its cell, is one more noisy look. ARCHITECTURE.md ("What
//! publication guarantees") states that residual.

use clickhouse::Client;
use sha2::{Digest, Sha256};

use crate::counts::RunCounts;

/// How counts are published: exact (tests of the arithmetic only) or with noise.
#[derive(Clone)]
pub struct Noise {
    mode: Mode,
}

#[derive(Clone)]
enum Mode {
    Exact,
    Keyed {
        secret: Vec<u8>,
        /// ln of e^(−ε): the geometric variable is ⌊ln U / ln_ratio⌋.
        ln_ratio: f64,
    },
}

impl std::fmt::Debug for Noise {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.mode {
            Mode::Exact => f.write_str("Noise::Exact"),
            Mode::Keyed { ln_ratio, .. } => write!(f, "Noise::Keyed(ε = {})", -ln_ratio),
        }
    }
}

impl Noise {
    /// No noise: every count as it is.
    pub fn exact() -> Self {
        Noise { mode: Mode::Exact }
    }

    /// Noise of parameter `epsilon` drawn from `secret`.
    pub fn keyed(secret: &[u8], epsilon: f64) -> Self {
        Noise {
            mode: Mode::Keyed {
                secret: secret.to_vec(),
                ln_ratio: -epsilon.max(f64::MIN_POSITIVE),
            },
        }
    }

    pub fn is_exact(&self) -> bool {
        matches!(self.mode, Mode::Exact)
    }

    /// The counts of a group of runs whose key is `cell_key`, as published: each outcome
    /// with its own draw, and `runs` their sum, so that a group's counts add up.
    ///
    /// The draws come from the key of the whole group, not of the runs of each outcome:
    /// a run is in its group whatever its outcome, so a reader who padded the group
    /// cannot see the group without the victim's run anywhere and compare. Keyed per
    /// outcome, the failures of a padded group with no failure but the victim's would
    /// be the empty set, whose draw is the same everywhere and could be read off any
    /// group without failures.
    ///
    /// `failures_only`: the group counts only failed and aborted runs (crate::stats::Of),
    /// so its other outcomes are zero whatever the data, and stay so.
    pub fn counts(&self, counts: &RunCounts, cell_key: u64, failures_only: bool) -> RunCounts {
        RunCounts::from_outcomes(|outcome| {
            let count = counts.of(outcome);
            if failures_only && !outcome.is_failure() {
                count
            } else {
                self.count(count, cell_key, outcome.name())
            }
        })
    }

    /// `count` plus the draw of (`cell_key`, `outcome`), at least 0. A zero is perturbed
    /// like any count: were it kept, a padded cell would show whether the victim's run
    /// is the one failure in it.
    pub fn count(&self, count: u64, cell_key: u64, outcome: &str) -> u64 {
        match &self.mode {
            Mode::Exact => count,
            Mode::Keyed { secret, ln_ratio } => {
                let offset = draw(secret, cell_key, outcome, *ln_ratio);
                count.saturating_add_signed(offset)
            }
        }
    }
}

/// A two-sided geometric variable (the difference of two geometric ones), from the hash
/// of the secret, the key and the outcome.
fn draw(secret: &[u8], cell_key: u64, outcome: &str, ln_ratio: f64) -> i64 {
    let mut hash = Sha256::new();
    hash.update((secret.len() as u64).to_le_bytes());
    hash.update(secret);
    hash.update(cell_key.to_le_bytes());
    hash.update(outcome.as_bytes());
    let digest = hash.finalize();
    let word = |i: usize| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&digest[i * 8..i * 8 + 8]);
        u64::from_le_bytes(bytes)
    };
    geometric(word(0), ln_ratio) - geometric(word(1), ln_ratio)
}

/// ⌊ln U / ln r⌋ for U uniform on (0, 1] made of the top 53 bits of `bits`: geometric,
/// P(g) = (1 − r) rᵍ.
fn geometric(bits: u64, ln_ratio: f64) -> i64 {
    let u = ((bits >> 11) + 1) as f64 / (1u64 << 53) as f64;
    // At most ln(2⁻⁵³)/ln r: 37 for ε = 1, so the cast cannot overflow.
    (u.ln() / ln_ratio).floor() as i64
}

/// Write the secret if there is none yet. The refresh calls it before it cuts a release;
/// two aggregators that race both write one, and every reader takes the older
/// ([`load`]), so they agree.
pub async fn ensure_secret(client: &Client) -> clickhouse::error::Result<()> {
    let rows: u64 = client
        .query("SELECT count() FROM stats_noise")
        .fetch_one()
        .await?;
    if rows == 0 {
        client
            .query(
                "INSERT INTO stats_noise (secret, created_at)
                 SELECT hex(randomString(32)), now64(3)",
            )
            .execute()
            .await?;
    }
    Ok(())
}

/// The secret, if the refresh has written it.
pub async fn load_secret(client: &Client) -> clickhouse::error::Result<Option<String>> {
    client
        .query("SELECT secret FROM stats_noise ORDER BY created_at, secret LIMIT 1")
        .fetch_optional()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise() -> Noise {
        Noise::keyed(b"test secret", 1.0)
    }

    #[test]
    fn exact_changes_nothing() {
        assert_eq!(Noise::exact().count(7, 42, "failed"), 7);
    }

    #[test]
    fn the_same_runs_get_the_same_noise() {
        let n = noise();
        for key in 0..100 {
            assert_eq!(n.count(10, key, "failed"), n.count(10, key, "failed"));
        }
    }

    #[test]
    fn another_secret_gives_other_noise() {
        let a = noise();
        let b = Noise::keyed(b"another secret", 1.0);
        let differ = (0..100)
            .filter(|&key| a.count(100, key, "success") != b.count(100, key, "success"))
            .count();
        assert!(differ > 50, "{differ}");
    }

    /// The draws have the distribution they are meant to have: mean 0 and variance
    /// 2r/(1−r)² for r = e^(−ε) (1.84 for ε = 1), over many keys.
    #[test]
    fn draws_are_discrete_laplace() {
        let n = noise();
        let draws: Vec<f64> = (0..200_000u64)
            .map(|key| {
                n.count(1_000, key.wrapping_mul(0x9E37_79B9_7F4A_7C15), "success") as f64 - 1_000.0
            })
            .collect();
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        let var = draws.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / draws.len() as f64;
        let r = (-1.0f64).exp();
        let want = 2.0 * r / (1.0 - r).powi(2);
        assert!(mean.abs() < 0.02, "mean {mean}");
        assert!((var - want).abs() < 0.05, "variance {var}, want {want}");
        // P(0) = (1 − r)/(1 + r).
        let zero = draws.iter().filter(|d| **d == 0.0).count() as f64 / draws.len() as f64;
        assert!((zero - (1.0 - r) / (1.0 + r)).abs() < 0.01, "P(0) {zero}");
    }

    #[test]
    fn counts_add_up_and_never_go_below_zero() {
        let n = noise();
        for key in 0..1_000 {
            let c = n.counts(
                &RunCounts {
                    runs: 1,
                    success: 1,
                    ..RunCounts::default()
                },
                key,
                false,
            );
            assert_eq!(
                c.runs,
                c.success + c.failed + c.aborted + c.unfinished + c.in_progress
            );
        }
    }

    /// The padding attack on one count: a reader knows every run of a cell but the
    /// victim's and whether it failed is the question. With the draws of unrelated keys
    /// (the victim's run changes the key), the best guess from the published count is
    /// right far less often than with exact counts (always). The bound for ε-DP on one
    /// count: e^ε/(1+e^ε) = 0.73 for ε = 1.
    #[test]
    fn a_padded_count_tells_the_victims_outcome_no_better_than_epsilon_allows() {
        let n = noise();
        let padding = 4; // the attacker's own failed runs
        let trials = 20_000u64;
        let mut right = 0;
        for t in 0..trials {
            let victim_failed = t % 2 == 1;
            let truth = padding + u64::from(victim_failed);
            // The attacker's runs alone have one key, with the victim another.
            let key = t.wrapping_mul(0xD1B5_4A32_D192_ED03);
            let seen = n.count(truth, key, "failed");
            // The likelihood ratio is monotone: guess "failed" above the midpoint.
            let guess = seen > padding;
            right += u64::from(guess == victim_failed);
        }
        let rate = right as f64 / trials as f64;
        assert!(rate < 0.74, "the attacker is right {rate} of the time");
        assert!(rate > 0.5, "{rate}");
    }
}
