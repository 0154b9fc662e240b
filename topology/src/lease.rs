//! One migrator at a time: a lease in the database being migrated.
//!
//! Two migrators at once (two consumers starting together, a `consumer migrate` beside
//! an old consumer that migrates at start) could both run a step that is safe to repeat
//! but not to run twice at the same moment: 0006 drops, fills and exchanges tables. So
//! [`crate::migrations::apply`] holds a lease while it reads and applies migrations.
//!
//! ClickHouse has no compare-and-set, but `CREATE TABLE` (without `IF NOT EXISTS`) is
//! one: of two migrators creating the same table, one gets `TABLE_ALREADY_EXISTS`. The
//! lease is therefore a table, `migration_lease_<generation>`, whose rows are the
//! holder's heartbeats (`expires`, by ClickHouse's clock, so that two machines' clocks
//! never meet). The holder is the creator of the highest generation while its last
//! heartbeat has not expired. A migrator that finds the lease expired (its holder
//! crashed, or hangs) takes it over by creating the next generation, which again only
//! one contender can. A holder checks before every statement that the lease is still
//! its own, and stops if it is not.

use std::time::{Duration, Instant};

use clickhouse::Client;
use uuid::Uuid;

/// How long a heartbeat holds the lease. The holder renews it every third of that, so
/// two missed heartbeats in a row still do not lose it.
pub const TTL: Duration = Duration::from_secs(30);
/// How often a waiting migrator looks again.
const POLL: Duration = Duration::from_millis(250);

const PREFIX: &str = "migration_lease_";

#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error("another migrator ({holder}) holds the migration lease; waited {waited:?}")]
    Busy { holder: String, waited: Duration },
    #[error("the migration lease was lost (it expired and another migrator took it over)")]
    Lost,
    #[error("ClickHouse: {0}")]
    Client(#[from] clickhouse::error::Error),
}

/// The lease, held until [`Lease::release`] (or until it expires, if the holder dies).
pub struct Lease {
    client: Client,
    generation: u64,
    holder: String,
    ttl: Duration,
    heartbeat: tokio::task::JoinHandle<()>,
}

#[derive(Debug, clickhouse::Row, serde::Deserialize)]
struct Current {
    generation: u64,
    holder: String,
    live: u8,
}

/// The highest generation, its holder and whether its lease is live; generation 0 when
/// there is none. A table without a heartbeat yet (its creator is between the create and
/// the first row) counts as live for a TTL after it was created.
async fn current(client: &Client, ttl: Duration) -> Result<Current, clickhouse::error::Error> {
    let generation: u64 = client
        .query(&format!(
            "SELECT max(toUInt64OrZero(substring(name, {}))) FROM system.tables \
             WHERE database = currentDatabase() AND startsWith(name, '{PREFIX}')",
            PREFIX.len() + 1
        ))
        .fetch_one()
        .await?;
    if generation == 0 {
        return Ok(Current {
            generation,
            holder: String::new(),
            live: 0,
        });
    }
    let table = format!("{PREFIX}{generation}");
    let read = client
        .query(&format!(
            "SELECT toUInt64({generation}) AS generation, \
                    ifNull((SELECT argMax(holder, expires) FROM {table}), '') AS holder, \
                    toUInt8(ifNull(greatest( \
                        (SELECT max(expires) FROM {table}), \
                        (SELECT toDateTime64(any(metadata_modification_time), 3, 'UTC') + \
                                toIntervalMillisecond({ttl}) FROM system.tables \
                         WHERE database = currentDatabase() AND name = '{table}')) \
                    > now64(3), 0)) AS live",
            ttl = ttl.as_millis()
        ))
        .fetch_one::<Current>()
        .await;
    match read {
        Ok(current) => Ok(current),
        // Dropped between the two queries: its holder released it.
        Err(clickhouse::error::Error::BadResponse(e)) if e.contains("UNKNOWN_TABLE") => {
            Ok(Current {
                generation,
                holder: String::new(),
                live: 0,
            })
        }
        Err(e) => Err(e),
    }
}

async fn beat(
    client: &Client,
    generation: u64,
    holder: &str,
    ttl: Duration,
) -> clickhouse::error::Result<()> {
    client
        .query(&format!(
            "INSERT INTO {PREFIX}{generation} SELECT ?, now64(3) + toIntervalMillisecond({})",
            ttl.as_millis()
        ))
        .bind(holder)
        .execute()
        .await
}

impl Lease {
    /// Take the lease of `client`'s database, waiting up to `wait` for another holder
    /// to release it or for its lease to expire.
    pub async fn acquire(client: &Client, wait: Duration) -> Result<Self, LeaseError> {
        Self::acquire_for(client, TTL, wait).await
    }

    /// [`Lease::acquire`] with heartbeats that hold it for `ttl` (the tests' short one).
    pub async fn acquire_for(
        client: &Client,
        ttl: Duration,
        wait: Duration,
    ) -> Result<Self, LeaseError> {
        let started = Instant::now();
        let holder = format!(
            "{}:{}",
            std::env::var("HOSTNAME").unwrap_or_else(|_| "migrator".into()),
            Uuid::now_v7().simple()
        );
        let mut told = false;
        loop {
            let now = current(client, ttl).await?;
            if now.live == 0 {
                let next = now.generation + 1;
                let created = client
                    .query(&format!(
                        "CREATE TABLE {PREFIX}{next} \
                         (holder String, expires DateTime64(3, 'UTC')) \
                         ENGINE = MergeTree ORDER BY tuple()"
                    ))
                    .execute()
                    .await;
                match created {
                    Ok(()) => {
                        beat(client, next, &holder, ttl).await?;
                        // The generations before are expired or released: clear them.
                        for old in older(client, next).await? {
                            let _ = client
                                .query(&format!("DROP TABLE IF EXISTS {old}"))
                                .execute()
                                .await;
                        }
                        let heartbeat = tokio::spawn({
                            let (client, holder) = (client.clone(), holder.clone());
                            async move {
                                loop {
                                    tokio::time::sleep(ttl / 3).await;
                                    if let Err(e) = beat(&client, next, &holder, ttl).await {
                                        tracing::warn!(error = %e, "renewing the migration lease");
                                    }
                                }
                            }
                        });
                        tracing::info!(generation = next, "migration lease taken");
                        return Ok(Self {
                            client: client.clone(),
                            generation: next,
                            holder,
                            ttl,
                            heartbeat,
                        });
                    }
                    // Another contender created it first: look again.
                    Err(clickhouse::error::Error::BadResponse(e))
                        if e.contains("TABLE_ALREADY_EXISTS") => {}
                    Err(e) => return Err(e.into()),
                }
            } else {
                if started.elapsed() >= wait {
                    return Err(LeaseError::Busy {
                        holder: now.holder,
                        waited: started.elapsed(),
                    });
                }
                if !told {
                    tracing::info!(holder = %now.holder, "another migrator holds the migration lease; waiting");
                    told = true;
                }
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Whether the lease is still this migrator's: call it before every statement.
    pub async fn check(&self) -> Result<(), LeaseError> {
        let now = current(&self.client, self.ttl).await?;
        if now.generation == self.generation && now.holder == self.holder && now.live == 1 {
            Ok(())
        } else {
            Err(LeaseError::Lost)
        }
    }

    /// Give the lease up, so that the next migrator need not wait for it to expire.
    pub async fn release(self) {
        self.heartbeat.abort();
        if self.check().await.is_ok() {
            let _ = self
                .client
                .query(&format!("DROP TABLE IF EXISTS {PREFIX}{}", self.generation))
                .execute()
                .await;
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // A migration that failed midway stops renewing; its lease then expires.
        self.heartbeat.abort();
    }
}

/// The lease tables of generations below `generation`.
async fn older(client: &Client, generation: u64) -> clickhouse::error::Result<Vec<String>> {
    client
        .query(&format!(
            "SELECT name FROM system.tables WHERE database = currentDatabase() \
             AND startsWith(name, '{PREFIX}') \
             AND toUInt64OrZero(substring(name, {})) < ?",
            PREFIX.len() + 1
        ))
        .bind(generation)
        .fetch_all()
        .await
}
