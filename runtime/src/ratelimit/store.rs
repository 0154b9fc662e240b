//! The rate limiter's memory: each client key's GCRA state (its theoretical arrival
//! time), in a map that never holds more than a set number of keys.
//!
//! governor's own keyed store grows with every new key until the next prune, so a flood
//! of fresh source addresses grows it without bound in between. This store is split
//! into shards, each with its share of the capacity. A shard that is full and meets a
//! new key forgets the half of its keys whose arrival time is earliest (the clients
//! quiet longest, or sending least), counted in `{service}_rate_limiter_evictions_total`. A
//! forgotten client starts again with a full burst: the price of bounded memory, paid
//! only under a flood of new clients.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use governor::nanos::Nanos;
use governor::state::StateStore;
use governor::state::keyed::ShrinkableKeyedStateStore;

/// Shards, so that concurrent requests seldom wait on one lock.
const SHARDS: usize = 16;

pub struct BoundedStore {
    shards: Vec<Mutex<HashMap<u64, Nanos>>>,
    per_shard: usize,
    /// The counter of forgotten clients.
    evictions: String,
}

impl BoundedStore {
    pub fn new(capacity: usize, evictions: String) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
            evictions,
        }
    }

    /// The shard of a key; keys are already uniform hashes.
    fn shard(&self, key: u64) -> MutexGuard<'_, HashMap<u64, Nanos>> {
        // A panic while a shard was held left only whole entries behind.
        self.shards[(key % SHARDS as u64) as usize]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn shards(&self) -> impl Iterator<Item = MutexGuard<'_, HashMap<u64, Nanos>>> {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// Forget the half of `map` with the earliest arrival times; returns how many.
fn evict(map: &mut HashMap<u64, Nanos>) -> usize {
    let mut times: Vec<u64> = map.values().map(|t| t.as_u64()).collect();
    let middle = times.len() / 2;
    let (_, threshold, _) = times.select_nth_unstable(middle);
    let threshold = *threshold;
    let before = map.len();
    map.retain(|_, t| t.as_u64() > threshold);
    before - map.len()
}

impl StateStore for BoundedStore {
    type Key = u64;

    fn measure_and_replace<T, F, E>(&self, key: &u64, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        let mut map = self.shard(*key);
        let (value, state) = f(map.get(key).copied())?;
        if map.len() >= self.per_shard && !map.contains_key(key) {
            let forgotten = evict(&mut map);
            metrics::counter!(self.evictions.clone()).increment(forgotten as u64);
        }
        map.insert(*key, state);
        Ok(value)
    }
}

impl ShrinkableKeyedStateStore<u64> for BoundedStore {
    fn retain_recent(&self, drop_below: Nanos) {
        for mut map in self.shards() {
            map.retain(|_, t| *t > drop_below);
        }
    }

    fn shrink_to_fit(&self) {
        for mut map in self.shards() {
            map.shrink_to_fit();
        }
    }

    fn len(&self) -> usize {
        self.shards().map(|m| m.len()).sum()
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use governor::clock::FakeRelativeClock;
    use governor::middleware::NoOpMiddleware;
    use governor::{Quota, RateLimiter};

    use super::*;

    type Fake = RateLimiter<u64, BoundedStore, FakeRelativeClock, NoOpMiddleware<Nanos>>;

    #[test]
    fn the_map_never_holds_more_than_its_capacity() {
        let clock = FakeRelativeClock::default();
        let quota = Quota::per_minute(NonZeroU32::new(60).unwrap());
        let limiter: Fake =
            RateLimiter::new(quota, BoundedStore::new(1600, "test".into()), clock.clone());
        for key in 0..100_000u64 {
            clock.advance(std::time::Duration::from_micros(10));
            assert!(
                limiter.check_key(&key).is_ok(),
                "a new client has its burst"
            );
        }
        assert!(limiter.len() <= 1600, "{}", limiter.len());
        assert!(limiter.len() >= 800, "{}", limiter.len());
    }

    #[test]
    fn the_busiest_clients_are_kept() {
        let clock = FakeRelativeClock::default();
        let quota = Quota::per_minute(NonZeroU32::new(60).unwrap())
            .allow_burst(NonZeroU32::new(3).unwrap());
        let limiter: Fake = RateLimiter::new(
            quota,
            BoundedStore::new(SHARDS * 4, "test".into()),
            clock.clone(),
        );
        // A client that used up its burst is limited...
        let busy = 7 * SHARDS as u64;
        for _ in 0..3 {
            assert!(limiter.check_key(&busy).is_ok());
        }
        assert!(limiter.check_key(&busy).is_err());
        // ...and stays limited while new clients flood its shard: its arrival time is
        // the latest, so it is not among the forgotten.
        for i in 1..100u64 {
            let _ = limiter.check_key(&(busy + i * SHARDS as u64));
        }
        assert!(limiter.check_key(&busy).is_err());
    }

    #[test]
    fn quiet_clients_are_pruned() {
        let clock = FakeRelativeClock::default();
        let quota = Quota::per_minute(NonZeroU32::new(60).unwrap());
        let limiter: Fake =
            RateLimiter::new(quota, BoundedStore::new(1000, "test".into()), clock.clone());
        for key in 0..100u64 {
            assert!(limiter.check_key(&key).is_ok());
        }
        assert_eq!(limiter.len(), 100);
        clock.advance(std::time::Duration::from_secs(120));
        limiter.retain_recent();
        assert!(limiter.is_empty());
    }
}
