//! The ClickHouse schema, as versioned SQL files applied in order and recorded.
//!
//! Every statement is idempotent on its own (`IF NOT EXISTS`), so a crash between a
//! statement and its record, or two consumers starting at once, only repeats harmless
//! work. An applied migration must never be edited: its checksum is compared, and a
//! mismatch stops the start rather than leaving the schema in an unknown state.
//!
//! Statements in a file are separated by a `;` at the end of a line.
//!
//! Migrators take turns: [`apply`] holds the database's migration lease ([`crate::lease`])
//! while it reads what is applied and applies the rest. A migration that moves rows
//! (0006) drops the table it moved them from only after every insert that was running
//! into it has finished and its rows have been copied too (`settle_inserts`).

use clickhouse::Client;
use sha2::{Digest, Sha256};

use crate::names::{EVENTS_ALL_TABLE, EVENTS_TABLE};

/// One versioned SQL file, embedded in the binary so that deployment is one artefact.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration, in the order it must run.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_events",
        sql: include_str!("../sql/0001_events.sql"),
    },
    Migration {
        version: 2,
        name: "0002_stats",
        sql: include_str!("../sql/0002_stats.sql"),
    },
    Migration {
        version: 3,
        name: "0003_stats_runs",
        sql: include_str!("../sql/0003_stats_runs.sql"),
    },
    Migration {
        version: 4,
        name: "0004_stats_groups",
        sql: include_str!("../sql/0004_stats_groups.sql"),
    },
    Migration {
        version: 5,
        name: "0005_import",
        sql: include_str!("../sql/0005_import.sql"),
    },
    Migration {
        version: 6,
        name: "0006_events_by_identity",
        sql: include_str!("../sql/0006_events_by_identity.sql"),
    },
    Migration {
        version: 7,
        name: "0007_stats_releases",
        sql: include_str!("../sql/0007_stats_releases.sql"),
    },
    Migration {
        version: 8,
        name: "0008_stats_noise",
        sql: include_str!("../sql/0008_stats_noise.sql"),
    },
    Migration {
        version: 9,
        name: "0009_gpu_type",
        sql: include_str!("../sql/0009_gpu_type.sql"),
    },
    Migration {
        version: 10,
        name: "0010_stats_platform",
        sql: include_str!("../sql/0010_stats_platform.sql"),
    },
    Migration {
        version: 11,
        name: "0011_runs",
        sql: include_str!("../sql/0011_runs.sql"),
    },
    Migration {
        version: 12,
        name: "0012_exit_codes",
        sql: include_str!("../sql/0012_exit_codes.sql"),
    },
];

const MIGRATIONS_TABLE: &str = "schema_migrations";

#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error("ClickHouse refused migration {name}: {source}")]
    Statement {
        name: &'static str,
        #[source]
        source: clickhouse::error::Error,
    },
    #[error("migration {name} was changed after it was applied (checksum {applied} != {embedded})")]
    Edited {
        name: &'static str,
        applied: String,
        embedded: String,
    },
    #[error("ClickHouse: {0}")]
    Client(#[from] clickhouse::error::Error),
    #[error("database name {0:?} is not a plain identifier")]
    BadDatabase(String),
    /// A migration that moves data cannot run `ON CLUSTER`: its `INSERT … SELECT`
    /// reaches one shard, while its DDL would reach all of them.
    #[error(
        "migration {0} moves data and cannot run ON CLUSTER; apply it per shard (README.md, \"Going past one machine\")"
    )]
    MovesDataOnCluster(&'static str),
    #[error(transparent)]
    Lease(#[from] crate::lease::LeaseError),
    #[error("inserts into the table migration {0} moves rows from did not finish within {1:?}")]
    InsertsRunning(&'static str, std::time::Duration),
}

#[derive(Debug, clickhouse::Row, serde::Deserialize)]
struct Applied {
    version: u32,
    checksum: String,
}

#[derive(Debug, clickhouse::Row, serde::Serialize)]
struct Record<'a> {
    version: u32,
    name: &'a str,
    checksum: &'a str,
}

impl Migration {
    pub fn checksum(&self) -> String {
        let digest = Sha256::digest(self.sql.as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The statements of the file, without comments and blank lines.
    pub fn statements(&self) -> Vec<String> {
        self.steps().into_iter().map(|s| s.sql).collect()
    }

    /// Whether it moves rows between tables (its guarded steps do): such a migration
    /// cannot run `ON CLUSTER`.
    pub fn moves_data(&self) -> bool {
        self.steps().iter().any(|step| step.when.is_some())
    }

    /// The statements with their guards. A comment line `-- when: <query>` guards the
    /// next statement: it runs only if the query answers true. That is how a step that
    /// cannot be written idempotently in SQL (moving data, exchanging tables) is kept
    /// safe to repeat after a crash.
    pub fn steps(&self) -> Vec<Step> {
        let mut out = Vec::new();
        let mut current = String::new();
        let mut when = None;
        for line in self.sql.lines() {
            let code = line.trim_end();
            if let Some(guard) = code.trim_start().strip_prefix("-- when:") {
                when = Some(guard.trim().to_owned());
                continue;
            }
            if code.trim_start().starts_with("--") || code.trim().is_empty() {
                continue;
            }
            if let Some(stmt) = code.strip_suffix(';') {
                current.push_str(stmt);
                out.push(Step {
                    sql: std::mem::take(&mut current),
                    when: when.take(),
                });
            } else {
                current.push_str(code);
                current.push('\n');
            }
        }
        if !current.trim().is_empty() {
            out.push(Step { sql: current, when });
        }
        out
    }
}

/// One statement of a migration, and the condition it runs under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub sql: String,
    /// A query answering true or false; `None` runs the statement unconditionally.
    pub when: Option<String>,
}

/// How the schema is laid out over servers.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cluster<'a> {
    /// The cluster's name in `remote_servers`; empty for one server.
    pub name: &'a str,
    /// DDL `ON CLUSTER` with Replicated engines, applied once for every node (needs
    /// ClickHouse Keeper). When false, each statement is for the one node the client
    /// reaches, and `consumer migrate` runs once per node: shards without replication.
    pub on_cluster: bool,
}

impl Cluster<'_> {
    /// One server: no cluster at all.
    pub const NONE: Cluster<'static> = Cluster {
        name: "",
        on_cluster: false,
    };
}

/// A statement as it must run on `cluster` (unchanged for one server): after the raw
/// table a Distributed `events_all` over its shards, and with `on_cluster`, DDL `ON
/// CLUSTER` and MergeTree engines Replicated (with the server's default replica path).
///
/// The migration files stay written for one server, which is what most deployments
/// are; this keeps one set of files, and one checksum, for both.
///
/// `{database}` in a statement becomes the database's name: a view that calls another
/// must name its database, and the tests migrate databases of their own.
pub fn for_cluster(statement: &str, cluster: Cluster<'_>, database: &str) -> Vec<String> {
    let named = statement.replace("{database}", &format!("`{database}`"));
    let statement = named.as_str();
    let name = cluster.name;
    if name.is_empty() {
        return vec![statement.to_owned()];
    }
    let on = if cluster.on_cluster {
        format!(" ON CLUSTER '{name}'")
    } else {
        String::new()
    };
    let mut s = statement.to_owned();
    for head in [
        "CREATE OR REPLACE VIEW ",
        "CREATE TABLE IF NOT EXISTS ",
        "CREATE DATABASE IF NOT EXISTS ",
        "DROP TABLE IF EXISTS ",
        "ALTER TABLE ",
    ] {
        if let Some(rest) = s.trim_start().strip_prefix(head) {
            let (name, tail) = rest.split_at(rest.find(char::is_whitespace).unwrap_or(rest.len()));
            s = format!("{head}{name}{on}{tail}");
            break;
        }
    }
    // A view of the raw events reads all shards.
    if s.trim_start().starts_with("CREATE OR REPLACE VIEW ") {
        s = s.replace(
            &format!("FROM {EVENTS_TABLE}\n"),
            &format!("FROM {EVENTS_ALL_TABLE}\n"),
        );
    }
    // `EXCHANGE TABLES a AND b` names two tables; its ON CLUSTER comes last.
    if s.trim_start().starts_with("EXCHANGE TABLES ") {
        s.push_str(&on);
    }
    for engine in ["ReplacingMergeTree", "MergeTree"] {
        if !cluster.on_cluster {
            break;
        }
        let plain = format!("ENGINE = {engine}");
        if s.contains(&plain) {
            s = s.replace(&plain, &format!("ENGINE = Replicated{engine}"));
            break;
        }
    }
    let mut out = vec![s];
    // The Distributed table has columns of its own: a column added to the raw table
    // must be added to it as well, or reading through it cannot see the column.
    let added = format!("ALTER TABLE {EVENTS_TABLE} ADD COLUMN ");
    if let Some(rest) = statement.trim_start().strip_prefix(&added) {
        out.push(format!(
            "ALTER TABLE {EVENTS_ALL_TABLE}{on} ADD COLUMN {rest}"
        ));
    }
    if statement.contains(&format!("CREATE TABLE IF NOT EXISTS {EVENTS_TABLE}\n"))
        || statement.contains(&format!("CREATE TABLE IF NOT EXISTS {EVENTS_TABLE}\n("))
    {
        out.push(format!(
            "CREATE TABLE IF NOT EXISTS {EVENTS_ALL_TABLE}{on} AS {EVENTS_TABLE} \
             ENGINE = Distributed('{name}', '{database}', '{EVENTS_TABLE}', cityHash64(random_id))"
        ));
    }
    out
}

/// How long a migrator waits for another one's lease, and a data-moving migration for
/// the inserts still running into its source table.
pub const WAIT: std::time::Duration = std::time::Duration::from_secs(600);

/// Create the database if needed and apply every migration that is not yet recorded,
/// holding the migration lease. Returns the names of the migrations applied by this call.
///
/// `client` must not have a database set; the one named here is created and used.
/// `cluster` says how the schema is laid out over servers (see `for_cluster`).
pub async fn apply(
    client: &Client,
    database: &str,
    cluster: Cluster<'_>,
) -> Result<Vec<&'static str>, MigrationError> {
    if database.is_empty()
        || !database
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(MigrationError::BadDatabase(database.to_owned()));
    }
    for stmt in for_cluster(
        &format!("CREATE DATABASE IF NOT EXISTS `{database}`"),
        cluster,
        database,
    ) {
        client.query(&stmt).execute().await?;
    }
    let db = client.clone().with_database(database);
    for stmt in for_cluster(
        &format!(
            "CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (
            version UInt32, name String, checksum String,
            applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
        ) ENGINE = ReplacingMergeTree ORDER BY version"
        ),
        cluster,
        database,
    ) {
        db.query(&stmt).execute().await?;
    }

    let lease = crate::lease::Lease::acquire(&db, WAIT).await?;
    let mut applied = apply_held(&db, database, cluster, &lease).await;
    if applied.is_ok()
        && let Err(e) = apply_exit_codes(&db).await
    {
        applied = Err(e);
    }
    lease.release().await;
    applied
}

/// [`apply`] once the lease is held: what is applied is read under the lease, so that a
/// migrator that waited for another one sees its work and repeats none of it.
async fn apply_held(
    db: &Client,
    database: &str,
    cluster: Cluster<'_>,
    lease: &crate::lease::Lease,
) -> Result<Vec<&'static str>, MigrationError> {
    let applied: Vec<Applied> = db
        .query(&format!(
            "SELECT version, checksum FROM {MIGRATIONS_TABLE} FINAL ORDER BY version"
        ))
        .fetch_all()
        .await?;

    let mut newly = Vec::new();
    for m in MIGRATIONS {
        let checksum = m.checksum();
        if let Some(a) = applied.iter().find(|a| a.version == m.version) {
            if a.checksum != checksum {
                return Err(MigrationError::Edited {
                    name: m.name,
                    applied: a.checksum.clone(),
                    embedded: checksum,
                });
            }
            continue;
        }
        if cluster.on_cluster && !cluster.name.is_empty() && m.moves_data() {
            return Err(MigrationError::MovesDataOnCluster(m.name));
        }
        let failed = |source| MigrationError::Statement {
            name: m.name,
            source,
        };
        let steps = m.steps();
        for (i, step) in steps.iter().enumerate() {
            if m.moves_data() && step.sql.trim_start().starts_with("DROP TABLE") && i > 0 {
                // The table about to go is the one the rows were moved from. An insert
                // that began before the exchange still writes into it, and its rows
                // would go with it: wait for every insert running now, then copy once
                // more what reached it since.
                settle_inserts(db, m.name).await?;
                run_step(db, &steps[i - 1], cluster, database, lease)
                    .await
                    .map_err(failed)?;
            }
            run_step(db, step, cluster, database, lease)
                .await
                .map_err(failed)?;
        }
        let mut insert = db.insert::<Record<'_>>(MIGRATIONS_TABLE).await?;
        insert
            .write(&Record {
                version: m.version,
                name: m.name,
                checksum: &checksum,
            })
            .await?;
        insert.end().await?;
        newly.push(m.name);
    }
    Ok(newly)
}

/// Run one step if its guard allows, with the lease checked first.
async fn run_step(
    db: &Client,
    step: &Step,
    cluster: Cluster<'_>,
    database: &str,
    lease: &crate::lease::Lease,
) -> Result<(), clickhouse::error::Error> {
    let lost = |e: crate::lease::LeaseError| clickhouse::error::Error::Custom(e.to_string());
    lease.check().await.map_err(lost)?;
    if let Some(when) = &step.when {
        let go: u8 = db
            // A scalar subquery is Nullable; no answer runs nothing.
            .query(&format!("SELECT toUInt8(ifNull(({when}), 0))"))
            .fetch_one()
            .await?;
        if go == 0 {
            return Ok(());
        }
    }
    for stmt in for_cluster(&step.sql, cluster, database) {
        db.query(&stmt).execute().await?;
    }
    Ok(())
}

/// Wait until every insert running on the server now has finished (an insert binds its
/// table when it starts, so one that began before an exchange writes into the old
/// table to its end). The migrator may read `system.processes`
/// (compose/clickhouse/users.d/telemetry.xml).
async fn settle_inserts(db: &Client, name: &'static str) -> Result<(), MigrationError> {
    let running: Vec<String> = db
        .query(
            "SELECT query_id FROM system.processes \
             WHERE query_kind = 'Insert' AND query_id != queryID()",
        )
        .fetch_all()
        .await?;
    let started = std::time::Instant::now();
    while !running.is_empty() {
        let left: u64 = db
            .query("SELECT count() FROM system.processes WHERE has(?, query_id)")
            .bind(&running)
            .fetch_one()
            .await?;
        if left == 0 {
            break;
        }
        if started.elapsed() >= WAIT {
            return Err(MigrationError::InsertsRunning(name, WAIT));
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Ok(())
}

/// The migrations this build knows that are not recorded in `client`'s database yet;
/// an error if a recorded one differs from this build's (it was edited).
pub async fn pending(client: &Client) -> Result<Vec<&'static str>, MigrationError> {
    let applied: Vec<Applied> = client
        .query(&format!(
            "SELECT version, checksum FROM {MIGRATIONS_TABLE} FINAL ORDER BY version"
        ))
        .fetch_all()
        .await?;
    let mut pending = Vec::new();
    for m in MIGRATIONS {
        match applied.iter().find(|a| a.version == m.version) {
            Some(a) if a.checksum != m.checksum() => {
                return Err(MigrationError::Edited {
                    name: m.name,
                    applied: a.checksum.clone(),
                    embedded: m.checksum(),
                });
            }
            Some(_) => {}
            None => pending.push(m.name),
        }
    }
    Ok(pending)
}

/// Make the raw table's TTL say `days`, so that a change of `retention_days` takes effect
/// on the next start. Returns whether the TTL had to change.
pub async fn apply_retention(
    client: &Client,
    database: &str,
    cluster: Cluster<'_>,
    days: u32,
) -> Result<bool, MigrationError> {
    let engine: String = client
        .query("SELECT engine_full FROM system.tables WHERE database = ? AND name = ?")
        .bind(database)
        .bind(EVENTS_TABLE)
        .fetch_one()
        .await?;
    if ttl_days(&engine) == Some(days) {
        return Ok(false);
    }
    for stmt in for_cluster(
        &format!(
            "ALTER TABLE `{database}`.{EVENTS_TABLE} \
             MODIFY TTL received_at + INTERVAL {days} DAY DELETE"
        ),
        cluster,
        database,
    ) {
        client.query(&stmt).execute().await?;
    }
    Ok(true)
}

/// A row of `exit_codes` (migration 0012).
#[derive(Debug, clickhouse::Row, serde::Serialize, serde::Deserialize, PartialEq)]
struct ExitCode {
    code: u8,
    meaning: String,
    category: String,
}

/// Make `exit_codes` hold what this build knows of exit codes ([`schemas::category`]), under
/// the migration lease ([`apply`]), so that two migrators never interleave their rewrites.
/// Returns whether it had to change. On a cluster with coordination, the rows written on
/// one node replicate; on shards without it, each node's `consumer migrate` writes its own.
async fn apply_exit_codes(db: &Client) -> Result<bool, MigrationError> {
    let want: Vec<ExitCode> = schemas::category::exit_codes()
        .map(|(code, meaning, category)| ExitCode {
            code,
            meaning: meaning.to_owned(),
            category: category.to_owned(),
        })
        .collect();
    let have: Vec<ExitCode> = db
        .query("SELECT code, meaning, category FROM exit_codes ORDER BY code")
        .fetch_all()
        .await?;
    if have == want {
        return Ok(false);
    }
    // Replaced whole, so that a join on the code never meets two rows of one code.
    db.query("DELETE FROM exit_codes WHERE 1").execute().await?;
    let mut insert = db.insert::<ExitCode>("exit_codes").await?;
    for row in &want {
        insert.write(row).await?;
    }
    insert.end().await?;
    Ok(true)
}

/// The day count of the raw table's TTL, as ClickHouse prints it in `engine_full`.
fn ttl_days(engine_full: &str) -> Option<u32> {
    let rest = engine_full.split("TTL ").nth(1)?;
    let start = rest.find("toIntervalDay(")? + "toIntervalDay(".len();
    let digits: String = rest[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    const PROD: super::Cluster<'static> = super::Cluster {
        name: "prod",
        on_cluster: true,
    };

    #[test]
    fn shards_without_coordination_get_the_plain_ddl_and_the_distributed_table() {
        let shards = super::Cluster {
            name: "local",
            on_cluster: false,
        };
        for m in super::MIGRATIONS {
            for s in m.statements() {
                let out = super::for_cluster(&s, shards, "telemetry");
                if s.starts_with("CREATE OR REPLACE VIEW") {
                    // Each shard's view reads every shard's events.
                    assert!(!out[0].contains("FROM events\n"), "{}", out[0]);
                    assert!(!out[0].contains("{database}"), "{}", out[0]);
                } else {
                    assert_eq!(out[0], s, "unchanged");
                }
                assert!(
                    out.iter()
                        .all(|o| !o.contains("ON CLUSTER") && !o.contains("Replicated"))
                );
            }
        }
        let events = super::MIGRATIONS[0].statements()[0].clone();
        assert_eq!(
            super::for_cluster(&events, shards, "telemetry")[1],
            "CREATE TABLE IF NOT EXISTS events_all AS events ENGINE = Distributed('local', 'telemetry', 'events', cityHash64(random_id))"
        );
    }

    #[test]
    fn on_a_cluster_every_statement_is_distributed_and_replicated() {
        let all: Vec<String> = super::MIGRATIONS
            .iter()
            .flat_map(|m| m.statements())
            .flat_map(|s| super::for_cluster(&s, PROD, "telemetry"))
            .collect();
        for s in &all {
            if ["CREATE", "DROP", "ALTER", "EXCHANGE"]
                .iter()
                .any(|head| s.starts_with(head))
            {
                assert!(s.contains(" ON CLUSTER 'prod'"), "{s}");
            }
            if s.contains("ENGINE = ") && !s.contains("Distributed") {
                assert!(s.contains("ENGINE = Replicated"), "{s}");
            }
        }
        assert!(
            all.iter()
                .any(|s| s.starts_with("CREATE TABLE IF NOT EXISTS events ON CLUSTER 'prod'\n("))
        );
        assert!(all.iter().any(|s| s.contains(
            "events_all ON CLUSTER 'prod' AS events ENGINE = Distributed('prod', 'telemetry', 'events'"
        )));
        let ttl = super::for_cluster(
            "ALTER TABLE `telemetry`.events MODIFY TTL received_at + INTERVAL 30 DAY DELETE",
            PROD,
            "telemetry",
        );
        assert_eq!(
            ttl,
            [
                "ALTER TABLE `telemetry`.events ON CLUSTER 'prod' MODIFY TTL received_at + INTERVAL 30 DAY DELETE"
            ]
        );
    }

    #[test]
    fn the_runs_views_read_every_shard_and_name_their_database() {
        let views: Vec<String> = super::MIGRATIONS
            .iter()
            .flat_map(|m| m.statements())
            .filter(|s| s.starts_with("CREATE OR REPLACE VIEW"))
            .flat_map(|s| super::for_cluster(&s, PROD, "telemetry_t3"))
            .collect();
        assert_eq!(views.len(), 2);
        assert!(views[0].starts_with("CREATE OR REPLACE VIEW runs_between ON CLUSTER 'prod'\n"));
        assert!(views[0].contains("FROM events_all\n"), "{}", views[0]);
        assert!(
            views[1].contains("FROM `telemetry_t3`.runs_between("),
            "{}",
            views[1]
        );
    }

    #[test]
    fn on_one_server_statements_are_unchanged() {
        for m in super::MIGRATIONS {
            for s in m.statements() {
                assert_eq!(
                    super::for_cluster(&s, Cluster::NONE, "telemetry"),
                    vec![s.replace("{database}", "`telemetry`")]
                );
            }
        }
    }

    use super::*;

    #[test]
    fn statements_split_on_line_final_semicolons_and_skip_comments() {
        let m = Migration {
            version: 9,
            name: "t",
            sql: "-- c\nCREATE TABLE a\n(x UInt8);\n\n-- d\nSELECT ';';\n",
        };
        assert_eq!(
            m.statements(),
            vec!["CREATE TABLE a\n(x UInt8)", "SELECT ';'"]
        );
    }

    #[test]
    fn a_when_line_guards_the_next_statement_only() {
        let m = Migration {
            version: 9,
            name: "t",
            sql: "-- c\n-- when: SELECT 1 = 1\nINSERT INTO a\nSELECT 1;\nDROP TABLE b;\n",
        };
        assert_eq!(
            m.steps(),
            vec![
                Step {
                    sql: "INSERT INTO a\nSELECT 1".into(),
                    when: Some("SELECT 1 = 1".into()),
                },
                Step {
                    sql: "DROP TABLE b".into(),
                    when: None,
                },
            ]
        );
    }

    #[test]
    fn only_the_rekeying_moves_data() {
        let moving: Vec<&str> = MIGRATIONS
            .iter()
            .filter(|m| m.moves_data())
            .map(|m| m.name)
            .collect();
        assert_eq!(moving, ["0006_events_by_identity"]);
    }

    #[test]
    fn versions_are_strictly_increasing() {
        assert!(MIGRATIONS.windows(2).all(|w| w[0].version < w[1].version));
    }

    #[test]
    fn ttl_days_reads_engine_full() {
        let e = "ReplacingMergeTree PARTITION BY toYYYYMM(received_at) ORDER BY (nsapp, received_at, event_id) TTL received_at + toIntervalDay(365) SETTINGS index_granularity = 8192";
        assert_eq!(ttl_days(e), Some(365));
        assert_eq!(ttl_days("MergeTree ORDER BY x"), None);
    }
}
