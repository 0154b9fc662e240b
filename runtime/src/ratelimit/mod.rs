//! Rate limiting per client, without keeping the client's address.
//!
//! The limiter is keyed by a SipHash of the client address under a random key drawn when
//! the process starts (`RandomState`), so what sits in memory cannot be turned back into
//! an address by anyone without that key, and the key dies with the process. Entries are
//! dropped once their client has been quiet long enough to have a full burst again, and
//! the map never holds more than the configured number of them (`store`).
//!
//! The client is the TCP peer, or, when the peer is one of `ingest.trusted_proxies`, the
//! rightmost `X-Forwarded-For` entry that is not: each proxy appends the address it saw,
//! so entries to the left of the last trusted one are whatever the client wrote. An IPv6
//! client is keyed by its /64, the smallest block a host is given, so that one host
//! cannot take a fresh budget from every address of its prefix.

use std::hash::{BuildHasher, RandomState};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use axum::http::HeaderMap;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::{Quota, RateLimiter};
use ipnet::IpNet;

use store::BoundedStore;

mod store;

/// A clock a test moves by hand ([`RateLimit::with_clock`]).
pub use governor::clock::FakeRelativeClock;

type Limiter<C> = RateLimiter<u64, BoundedStore, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// The clock is the system's; a test may give another (governor's `FakeRelativeClock`)
/// to replay a client's timing without waiting for it.
pub struct RateLimit<C: Clock = DefaultClock> {
    limiter: Option<Limiter<C>>,
    hasher: RandomState,
    trusted: Vec<IpNet>,
    clock: C,
    /// The service whose metrics these are (`ingest_rate_limiter_clients`).
    service: &'static str,
}

impl RateLimit {
    /// `per_minute == 0` switches limiting off (load tests need that). At most
    /// `max_clients` clients are remembered; beyond that the longest quiet are forgotten.
    pub fn new(
        service: &'static str,
        per_minute: u32,
        burst: u32,
        max_clients: usize,
        trusted: Vec<IpNet>,
    ) -> Self {
        Self::with_clock(
            service,
            per_minute,
            burst,
            max_clients,
            trusted,
            DefaultClock::default(),
        )
    }

    /// Forget clients that are back to a full burst, and give the memory back.
    pub fn keep_small(self: Arc<Self>) {
        if self.limiter.is_none() {
            return;
        }
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                if let Some(limiter) = &self.limiter {
                    limiter.retain_recent();
                    limiter.shrink_to_fit();
                    metrics::gauge!(format!("{}_rate_limiter_clients", self.service))
                        .set(limiter.len() as f64);
                }
            }
        });
    }
}

impl<C: Clock + Clone> RateLimit<C> {
    /// [`RateLimit::new`] on the clock `clock`.
    pub fn with_clock(
        service: &'static str,
        per_minute: u32,
        burst: u32,
        max_clients: usize,
        trusted: Vec<IpNet>,
        clock: C,
    ) -> Self {
        let limiter = NonZeroU32::new(per_minute).map(|rate| {
            let quota = Quota::per_minute(rate)
                .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN));
            let evictions = format!("{service}_rate_limiter_evictions_total");
            RateLimiter::new(
                quota,
                BoundedStore::new(max_clients, evictions),
                clock.clone(),
            )
        });
        Self {
            limiter,
            hasher: RandomState::new(),
            trusted,
            clock,
            service,
        }
    }

    /// Register the limiter's metrics at zero, with their descriptions.
    pub fn describe_metrics(&self) {
        let s = self.service;
        metrics::describe_gauge!(
            format!("{s}_rate_limiter_clients"),
            "Clients the rate limiter currently keeps state for (keyed hashes, no addresses)"
        );
        metrics::describe_counter!(
            format!("{s}_rate_limiter_evictions_total"),
            "Clients the rate limiter forgot because its map was full"
        );
        metrics::describe_counter!(
            format!("{s}_rate_limited_total"),
            "Requests refused by the rate limit (429)"
        );
        metrics::counter!(format!("{s}_rate_limiter_evictions_total")).increment(0);
        metrics::counter!(format!("{s}_rate_limited_total")).increment(0);
    }

    /// `Err(wait)` when the client of `request` must wait before its next request.
    /// Counts the refusal in `{service}_rate_limited_total`.
    pub fn check_request(&self, request: &Request) -> Result<(), Duration> {
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        let Some(peer) = peer else {
            return Ok(());
        };
        self.check(self.key(peer, request.headers()))
            .inspect_err(|_| {
                metrics::counter!(format!("{}_rate_limited_total", self.service)).increment(1);
            })
    }

    /// The client's key: a keyed hash, never the address itself.
    pub fn key(&self, peer: IpAddr, headers: &HeaderMap) -> u64 {
        self.hasher.hash_one(prefix(self.client(peer, headers)))
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|net| net.contains(&ip))
    }

    /// The client's address: the rightmost hop that is not a trusted proxy.
    fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.trusts(client) {
            return client;
        }
        // Every X-Forwarded-For header, in order, as one list; read from the right.
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect();
        for hop in hops.iter().rev() {
            match parse_hop(hop) {
                Some(ip) if self.trusts(ip) => client = ip,
                Some(ip) => return ip,
                // A trusted proxy writes addresses; anything else came from the client,
                // and the hop that passed it on is the last one known.
                None => return client,
            }
        }
        client
    }

    /// `Err(wait)` when the client must wait before its next request.
    pub fn check(&self, key: u64) -> Result<(), Duration> {
        match &self.limiter {
            None => Ok(()),
            Some(limiter) => limiter
                .check_key(&key)
                .map_err(|not_until| not_until.wait_time_from(self.clock.now())),
        }
    }
}

/// An `X-Forwarded-For` entry as an address (a port or brackets are dropped).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .map(|ip| ip.to_canonical())
}

/// What a client is keyed by: an IPv4 address, or the /64 of an IPv6 one.
fn prefix(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(v6.to_bits() & !((1u128 << 64) - 1))),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_str(xff).unwrap());
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn limit(trusted: &[&str]) -> RateLimit {
        RateLimit::new(
            "test",
            60,
            30,
            1000,
            trusted.iter().map(|t| t.parse().unwrap()).collect(),
        )
    }

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
        let rl = limit(&["127.0.0.2/32"]);
        let (proxy, stranger) = (ip("127.0.0.2"), ip("127.0.0.3"));
        // The proxy appended the address it saw: the rightmost entry.
        let h = headers("10.0.0.1, 203.0.113.7");
        assert_eq!(rl.client(proxy, &h), ip("203.0.113.7"));
        assert_eq!(
            rl.key(proxy, &h),
            rl.key(ip("203.0.113.7"), &HeaderMap::new())
        );
        assert_eq!(rl.client(stranger, &h), stranger);
    }

    #[test]
    fn a_spoofed_leftmost_entry_changes_nothing() {
        let rl = limit(&["127.0.0.2/32"]);
        let proxy = ip("127.0.0.2");
        let honest = rl.key(proxy, &headers("203.0.113.7"));
        for spoofed in [
            "198.51.100.1, 203.0.113.7",
            "1.2.3.4, 5.6.7.8, 203.0.113.7",
            "x, 203.0.113.7",
        ] {
            assert_eq!(rl.key(proxy, &headers(spoofed)), honest, "{spoofed}");
        }
    }

    #[test]
    fn trusted_hops_are_skipped_from_the_right() {
        let rl = limit(&["127.0.0.2/32", "10.0.0.0/8"]);
        // client → CDN edge (trusted 10.x) → Caddy (127.0.0.2): two hops appended.
        let h = headers("192.0.2.9, 203.0.113.7, 10.1.2.3");
        assert_eq!(rl.client(ip("127.0.0.2"), &h), ip("203.0.113.7"));
        // Two headers are one list.
        let mut h = HeaderMap::new();
        h.append("x-forwarded-for", HeaderValue::from_static("192.0.2.9"));
        h.append(
            "x-forwarded-for",
            HeaderValue::from_static("203.0.113.7, 10.1.2.3"),
        );
        assert_eq!(rl.client(ip("127.0.0.2"), &h), ip("203.0.113.7"));
        // Only trusted hops: the leftmost of them.
        assert_eq!(
            rl.client(ip("127.0.0.2"), &headers("10.9.9.9")),
            ip("10.9.9.9")
        );
        // Garbage where the client's address should be: the hop that passed it on.
        assert_eq!(
            rl.client(ip("127.0.0.2"), &headers("unknown, 10.1.2.3")),
            ip("10.1.2.3")
        );
        assert_eq!(
            rl.client(ip("127.0.0.2"), &HeaderMap::new()),
            ip("127.0.0.2")
        );
    }

    #[test]
    fn forwarded_entries_with_ports_are_read() {
        assert_eq!(parse_hop(" [2001:db8::1]:443"), Some(ip("2001:db8::1")));
        assert_eq!(parse_hop("198.51.100.1:80"), Some(ip("198.51.100.1")));
        assert_eq!(parse_hop("::ffff:198.51.100.1"), Some(ip("198.51.100.1")));
        assert_eq!(parse_hop("unknown"), None);
    }

    #[test]
    fn an_ipv6_host_is_keyed_by_its_64() {
        let rl = limit(&[]);
        let key = rl.key(ip("2001:db8:1:2::1"), &HeaderMap::new());
        for other in ["2001:db8:1:2::ffff", "2001:db8:1:2:abcd:ef01:2345:6789"] {
            assert_eq!(rl.key(ip(other), &HeaderMap::new()), key, "{other}");
        }
        assert_ne!(rl.key(ip("2001:db8:1:3::1"), &HeaderMap::new()), key);
        assert_ne!(
            rl.key(ip("203.0.113.7"), &HeaderMap::new()),
            rl.key(ip("203.0.113.8"), &HeaderMap::new())
        );
    }

    #[test]
    fn keys_do_not_carry_the_address() {
        let rl = limit(&[]);
        let other = limit(&[]);
        let ip: IpAddr = "203.0.113.7".parse().unwrap();
        // A different process key gives a different, unrelated key for the same address.
        assert_ne!(
            rl.key(ip, &HeaderMap::new()),
            other.key(ip, &HeaderMap::new())
        );
    }

    #[test]
    fn the_burst_passes_and_the_next_request_waits() {
        let rl = limit(&[]);
        for _ in 0..30 {
            assert!(rl.check(1).is_ok());
        }
        let wait = rl.check(1).unwrap_err();
        assert!(wait <= Duration::from_secs(1));
        assert!(rl.check(2).is_ok(), "another client has its own quota");
        assert!(
            RateLimit::new("test", 0, 30, 1000, vec![]).check(1).is_ok(),
            "0 switches it off"
        );
    }
}
