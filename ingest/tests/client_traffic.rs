//! The default rate limit against the real clients' traffic: the requests of many
//! installs behind one address (a household behind carrier-grade NAT, a lab installing
//! a batch of containers) are never refused, and a flood from one address still is.
//!
//! The requests go through the limiter exactly as ingest's middleware asks it
//! (`check_request` on the request with its peer address), with ingest's default
//! settings, on a clock the test moves to each request's time: the client's timing
//! replayed without waiting four minutes for it.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use runtime::ratelimit::{FakeRelativeClock, RateLimit};

/// The bash client's LXC install, in time.
const LXC: [(u64, &str); 9] = testkit::BASH_LXC_INSTALL;

const INSTALLS: u64 = 30;

/// The one address every install sends from.
fn from_one_address() -> Request {
    let mut request = Request::new(axum::body::Body::empty());
    let peer = SocketAddr::from(([203, 0, 113, 7], 40000));
    request.extensions_mut().insert(ConnectInfo(peer));
    request
}

/// Send `times` (seconds since the first request, ascending) through a limiter of
/// `per_minute` and `burst`; how many were refused.
fn replay(per_minute: u32, burst: u32, times: &[f64]) -> usize {
    let clock = FakeRelativeClock::default();
    let limit = RateLimit::with_clock("test", per_minute, burst, 1000, vec![], clock.clone());
    let mut now = 0.0;
    let mut refused = 0;
    for &t in times {
        clock.advance(Duration::from_secs_f64(t - now));
        now = t;
        refused += usize::from(limit.check_request(&from_one_address()).is_err());
    }
    refused
}

/// Every request of 30 installs, started `start(i)` seconds after the first, whose app
/// install takes `install(i)` seconds longer or shorter than in [`LXC`].
fn installs(start: impl Fn(u64) -> f64, install: impl Fn(u64) -> f64) -> Vec<f64> {
    let mut times: Vec<f64> = (0..INSTALLS)
        .flat_map(|i| {
            let (start, install) = (start(i), install(i));
            LXC.iter().map(move |&(offset, _)| {
                // Everything after the app install moves with it.
                start + offset as f64 + if offset > 95 { install } else { 0.0 }
            })
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times
}

fn defaults() -> (u32, u32) {
    let s = ingest::Settings::default().ingest;
    (s.rate_limit_per_minute, s.rate_limit_burst)
}

#[test]
fn thirty_installs_started_within_a_minute_from_one_address_are_never_refused() {
    let (per_minute, burst) = defaults();
    // Started every two seconds, all alike: their pings line up.
    let alike = installs(|i| 2.0 * i as f64, |_| 0.0);
    // Started at uneven times, app installs from one to five minutes.
    let uneven = installs(
        |i| ((i * 37) % 60) as f64 + 0.25 * (i % 4) as f64,
        |i| ((i * 53) % 240) as f64 - 120.0,
    );
    // A lab's batch: all 30 within ten seconds.
    let batch = installs(|i| i as f64 / 3.0, |_| 0.0);
    for (name, times) in [("alike", &alike), ("uneven", &uneven), ("batch", &batch)] {
        assert_eq!(times.len(), 270);
        assert_eq!(
            replay(per_minute, burst, times),
            0,
            "{name}: requests of 30 installs refused"
        );
    }
    // The limit the old service had before it lost events, and ours before this one,
    // refuses some of the same traffic: the bash client does not retry a ping.
    assert!(replay(60, 30, &alike) > 0);
    assert!(replay(60, 30, &batch) > 0);
}

#[test]
fn a_flood_from_one_address_is_still_limited() {
    let (per_minute, burst) = defaults();
    // Ten requests a second for ten minutes.
    let times: Vec<f64> = (0..6000).map(|n| n as f64 / 10.0).collect();
    let refused = replay(per_minute, burst, &times);
    let accepted = times.len() - refused;
    // The burst, then the rate: 60 + 300 a minute for ten minutes.
    let most = burst as usize + per_minute as usize * 10;
    assert!(accepted <= most + 1, "{accepted} accepted, at most {most}");
    assert!(accepted >= most - 5, "{accepted} accepted, {most} allowed");
}
