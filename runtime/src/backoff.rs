//! The one retry pacing of every service: exponential from a first wait to a cap, each
//! wait jittered between half and all of its step, so that many processes coming back
//! together (consumers after a ClickHouse outage, say) do not retry in lockstep.

use std::time::Duration;

pub struct Backoff {
    first: Duration,
    cap: Duration,
    attempt: u32,
}

impl Backoff {
    pub fn new(first: Duration, cap: Duration) -> Self {
        Self {
            first,
            cap,
            attempt: 0,
        }
    }

    /// The wait before the next attempt.
    pub fn next_wait(&mut self) -> Duration {
        let step = self
            .first
            .saturating_mul(1 << self.attempt.min(16))
            .min(self.cap);
        self.attempt = self.attempt.saturating_add(1);
        // Jitter from the clock's low bits: no RNG dependency for a value this unimportant.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let fraction = f64::from(nanos % 1000) / 1000.0;
        step.mul_f64(0.5 + fraction / 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_from_the_first_wait_and_is_capped() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
        let first = b.next_wait();
        assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
        for _ in 0..40 {
            assert!(b.next_wait() <= Duration::from_secs(10));
        }
        assert!(b.next_wait() >= Duration::from_secs(5));
    }
}
