//! Rate limiting per client, without keeping the client's address.
//!
//! The limiter is keyed by a SipHash of the client address under a random key drawn when
//! the process starts (`RandomState`), so what sits in memory cannot be turned back into
//! an address by anyone without that key, and the key dies with the process. Entries are
//! dropped once their client has been quiet long enough to have a full burst again.
//!
//! The client is the TCP peer, or the first `X-Forwarded-For` entry when the peer is one
//! of `ingest.trusted_proxies`. An untrusted peer cannot pick its own key by sending the
//! header.

use std::hash::{BuildHasher, RandomState};
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use ipnet::IpNet;

use crate::error::ApiError;

pub struct RateLimit {
    limiter: Option<DefaultKeyedRateLimiter<u64>>,
    hasher: RandomState,
    trusted: Vec<IpNet>,
    clock: DefaultClock,
}

impl RateLimit {
    /// `per_minute == 0` switches limiting off (load tests need that).
    pub fn new(per_minute: u32, burst: u32, trusted: Vec<IpNet>) -> Self {
        let limiter = NonZeroU32::new(per_minute).map(|rate| {
            let quota = Quota::per_minute(rate)
                .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN));
            DefaultKeyedRateLimiter::keyed(quota)
        });
        Self {
            limiter,
            hasher: RandomState::new(),
            trusted,
            clock: DefaultClock::default(),
        }
    }

    /// The client's key: a keyed hash, never the address itself.
    pub fn key(&self, peer: IpAddr, headers: &HeaderMap) -> u64 {
        let peer = peer.to_canonical();
        let client = if self.trusted.iter().any(|net| net.contains(&peer)) {
            forwarded_for(headers).unwrap_or(peer)
        } else {
            peer
        };
        self.hasher.hash_one(client.to_canonical())
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
                    metrics::gauge!("ingest_rate_limiter_clients").set(limiter.len() as f64);
                }
            }
        });
    }
}

/// The first `X-Forwarded-For` entry, as an address (a port or brackets are dropped).
fn forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    let first = headers
        .get("x-forwarded-for")?
        .to_str()
        .ok()?
        .split(',')
        .next()?
        .trim();
    first
        .parse::<IpAddr>()
        .ok()
        .or_else(|| first.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// Middleware: 429 with `Retry-After` once a client is over its quota.
pub async fn enforce(
    State(limit): State<Arc<RateLimit>>,
    request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    if let Some(peer) = peer {
        let key = limit.key(peer, request.headers());
        if let Err(wait) = limit.check(key) {
            metrics::counter!("ingest_rate_limited_total").increment(1);
            return ApiError::RateLimited {
                retry_after: wait.as_secs().max(1),
            }
            .into_response();
        }
    }
    next.run(request).await
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

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
        let rl = RateLimit::new(60, 30, vec!["127.0.0.2/32".parse().unwrap()]);
        let proxy: IpAddr = "127.0.0.2".parse().unwrap();
        let stranger: IpAddr = "127.0.0.3".parse().unwrap();
        let client: IpAddr = "203.0.113.7".parse().unwrap();
        let h = headers("203.0.113.7, 10.0.0.1");
        assert_eq!(rl.key(proxy, &h), rl.key(client, &HeaderMap::new()));
        assert_eq!(rl.key(stranger, &h), rl.key(stranger, &HeaderMap::new()));
        assert_ne!(rl.key(stranger, &h), rl.key(client, &HeaderMap::new()));
    }

    #[test]
    fn forwarded_entries_with_ports_are_read() {
        assert_eq!(
            forwarded_for(&headers("[2001:db8::1]:443")),
            "2001:db8::1".parse().ok()
        );
        assert_eq!(
            forwarded_for(&headers("198.51.100.1:80, x")),
            "198.51.100.1".parse().ok()
        );
        assert_eq!(forwarded_for(&headers("unknown")), None);
    }

    #[test]
    fn keys_do_not_carry_the_address() {
        let rl = RateLimit::new(60, 30, vec![]);
        let other = RateLimit::new(60, 30, vec![]);
        let ip: IpAddr = "203.0.113.7".parse().unwrap();
        // A different process key gives a different, unrelated key for the same address.
        assert_ne!(
            rl.key(ip, &HeaderMap::new()),
            other.key(ip, &HeaderMap::new())
        );
    }

    #[test]
    fn the_burst_passes_and_the_next_request_waits() {
        let rl = RateLimit::new(60, 30, vec![]);
        for _ in 0..30 {
            assert!(rl.check(1).is_ok());
        }
        let wait = rl.check(1).unwrap_err();
        assert!(wait <= Duration::from_secs(1));
        assert!(rl.check(2).is_ok(), "another client has its own quota");
        assert!(
            RateLimit::new(0, 30, vec![]).check(1).is_ok(),
            "0 switches it off"
        );
    }
}
