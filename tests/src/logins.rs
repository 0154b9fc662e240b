//! Who each service logs in as in the tests: the user compose gives it, with the local
//! stack's development password, and never the admin.
//!
//! NATS: every pipeline has a server of its own (`servers::NatsServer`), with compose's
//! users and permissions (compose/nats/auth.conf, through stack/nats.conf) and the
//! production stream and durable names, so the permission file is used as it is.
//!
//! ClickHouse: the tests share one server, each on a database of its own. The local
//! stack defines, for each of its test slots, a copy of every production user whose
//! grants are the production ones on the slot's database instead of `telemetry`
//! (`consumer_t3` on `telemetry_t3`: stack/clickhouse_server.py). A pipeline claims a
//! free slot with a file lock, held until it is dropped.
//!
//! The admin logins (NATS `admin`, ClickHouse `default`) are the test's own, as an
//! operator's: to set the scene and to look at what the services did.

use std::fs::File;

use topology::store::ClickHouseSettings;
use topology::stream::NatsSettings;

use crate::stack::stack_dir;

/// The development password of a NATS or ClickHouse user (`dev-<user>`), as the local
/// stack sets it.
pub fn dev_password(role: &str) -> String {
    format!("dev-{role}")
}

/// `nats` as NATS user `user` (ingest, consumer, aggregator, admin).
pub fn nats_as(nats: &NatsSettings, user: &str) -> NatsSettings {
    NatsSettings {
        user: user.into(),
        password: dev_password(user).into(),
        ..nats.clone()
    }
}

/// The operators' NATS login on `url` (one server, or a cluster's, comma-separated).
pub async fn nats_admin(url: &str) -> async_nats::Client {
    let admin = nats_as(
        &NatsSettings {
            url: url.into(),
            ..Default::default()
        },
        "admin",
    );
    admin
        .connect_options("telemetry-test")
        .connect(admin.servers())
        .await
        .unwrap_or_else(|e| panic!("NATS admin login at {url}: {e}"))
}

/// The local stack's ClickHouse administrator (`default`, no password, loopback only),
/// on the database of `clickhouse`.
pub fn clickhouse_admin(clickhouse: &ClickHouseSettings) -> ClickHouseSettings {
    ClickHouseSettings {
        user: "default".into(),
        password: Default::default(),
        ..clickhouse.clone()
    }
}

/// How many slots the local stack defines (`STACK_TEST_SLOTS`, 16 by default).
fn slots() -> u32 {
    std::env::var("STACK_TEST_SLOTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(16)
}

/// A test slot: a database and a copy of every production user with the production
/// grants on it, for one test at a time.
pub struct Slot {
    pub number: u32,
    _lock: File,
}

impl Slot {
    /// Claim a free slot, across the processes of this machine too; waits while all are
    /// taken.
    pub fn claim() -> Self {
        let dir = stack_dir().join("test-slots");
        std::fs::create_dir_all(&dir).expect("the slots' lock directory");
        let started = std::time::Instant::now();
        loop {
            for number in 1..=slots() {
                let lock = File::create(dir.join(format!("{number}.lock"))).expect("a lock file");
                if lock.try_lock().is_ok() {
                    return Self {
                        number,
                        _lock: lock,
                    };
                }
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(600),
                "no free test slot in ten minutes (STACK_TEST_SLOTS)"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// The slot's database, where its users' grants are.
    pub fn database(&self) -> String {
        format!("telemetry_t{}", self.number)
    }

    /// `clickhouse` as the slot's copy of production user `role` (consumer, aggregator,
    /// migrator, analyst, dashboard), on the slot's database.
    pub fn clickhouse_as(&self, clickhouse: &ClickHouseSettings, role: &str) -> ClickHouseSettings {
        ClickHouseSettings {
            database: self.database(),
            user: format!("{role}_t{}", self.number),
            password: dev_password(role).into(),
            ..clickhouse.clone()
        }
    }
}
