//! Reading the old service's table (`telemetry_db.telemetry` of community-scripts/
//! telemetry-service) through ClickHouse's HTTP interface, in pages ordered by
//! `(created, id)`, whatever generation of its layout the table has.

use clickhouse::{Client, Row};
use serde::Deserialize;

/// Where the old table is, as given on the command line.
#[derive(Debug, Clone, clap::Args)]
pub struct Source {
    /// The old service's ClickHouse HTTP interface, e.g. http://old-host:8123. Its
    /// password is read from TELEMETRY_IMPORT_SOURCE_PASSWORD, never from the command
    /// line, where any process list would show it.
    #[arg(long = "source-url")]
    pub url: String,
    #[arg(long = "source-user", default_value = "default")]
    pub user: String,
    #[arg(skip = std::env::var(PASSWORD_ENV).unwrap_or_default())]
    pub password: String,
    #[arg(long = "source-database", default_value = "telemetry_db")]
    pub database: String,
    #[arg(long = "source-table", default_value = "telemetry")]
    pub table: String,
}

/// Where the old server's password comes from.
pub const PASSWORD_ENV: &str = "TELEMETRY_IMPORT_SOURCE_PASSWORD";

impl Source {
    /// The name the checkpoint is kept under: where the table is, without credentials.
    pub fn name(&self) -> String {
        format!(
            "{}/{}.{}",
            self.url.trim_end_matches('/'),
            self.database,
            self.table
        )
    }

    fn client(&self) -> Client {
        Client::default()
            .with_url(&self.url)
            .with_user(&self.user)
            .with_password(&self.password)
            .with_database(&self.database)
    }
}

/// The string columns of the old table, in every layout. Those the oldest layout lacks
/// are read as empty.
const STRINGS: [&str; 26] = [
    "id",
    "nsapp",
    "type",
    "status",
    "method",
    "error",
    "error_category",
    "os_type",
    "os_version",
    "pve_version",
    "random_id",
    "execution_id",
    "repo_source",
    "repo_slug",
    "cpu_vendor",
    "cpu_model",
    "gpu_vendor",
    "gpu_model",
    "gpu_passthrough",
    "ram_speed",
    "platform",
    "arch",
    "kernel_version",
    "app_version",
    "failed_command",
    "created",
];

/// The number columns (`exit_code` is Int16 there, `has_arm` UInt8). A column the
/// table lacks is read as -1, which no column holds, so that "absent" stays apart from 0.
const NUMBERS: [&str; 9] = [
    "core_count",
    "ct_type",
    "disk_size",
    "ram_size",
    "exit_code",
    "install_duration",
    "has_arm",
    "payload_version",
    "failed_line",
];

/// One row of the old table, every layout read into one shape.
#[derive(Debug, Clone, Row, Deserialize)]
pub struct SourceRow {
    pub id: String,
    pub nsapp: String,
    pub kind: String,
    pub status: String,
    pub method: String,
    pub error: String,
    pub error_category: String,
    pub os_type: String,
    pub os_version: String,
    pub pve_version: String,
    pub random_id: String,
    pub execution_id: String,
    pub repo_source: String,
    pub repo_slug: String,
    pub cpu_vendor: String,
    pub cpu_model: String,
    pub gpu_vendor: String,
    pub gpu_model: String,
    pub gpu_passthrough: String,
    pub ram_speed: String,
    pub platform: String,
    pub arch: String,
    pub kernel_version: String,
    pub app_version: String,
    pub failed_command: String,
    /// Milliseconds since the epoch, UTC.
    pub created_ms: i64,
    pub core_count: i64,
    pub ct_type: i64,
    pub disk_size: i64,
    pub ram_size: i64,
    pub exit_code: i64,
    pub install_duration: i64,
    pub has_arm: i64,
    pub payload_version: i64,
    pub failed_line: i64,
}

/// Where reading stands: after this `(created, id)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Position {
    pub created_ms: i64,
    pub id: String,
}

pub struct Reader {
    client: Client,
    select: String,
    table: String,
}

impl Reader {
    /// Look at the table's columns and prepare the one query that reads any layout.
    pub async fn open(source: &Source) -> clickhouse::error::Result<Self> {
        let client = source.client();
        let columns: Vec<String> = client
            .query("SELECT name FROM system.columns WHERE database = ? AND table = ?")
            .bind(&source.database)
            .bind(&source.table)
            .fetch_all()
            .await?;
        if columns.is_empty() {
            return Err(clickhouse::error::Error::Custom(format!(
                "{}.{} has no columns: is it the old service's table?",
                source.database, source.table
            )));
        }
        let has = |c: &str| columns.iter().any(|name| name == c);
        let mut select = Vec::new();
        for column in STRINGS {
            let alias = match column {
                "type" => "kind",
                "created" => continue,
                other => other,
            };
            select.push(if has(column) {
                format!("toString(`{column}`) AS {alias}")
            } else {
                format!("'' AS {alias}")
            });
        }
        select.push("toUnixTimestamp64Milli(toDateTime64(created, 3, 'UTC')) AS created_ms".into());
        for column in NUMBERS {
            select.push(if has(column) {
                format!("toInt64(`{column}`) AS {column}")
            } else {
                format!("toInt64(-1) AS {column}")
            });
        }
        Ok(Self {
            client,
            select: select.join(", "),
            table: format!("`{}`.`{}`", source.database, source.table),
        })
    }

    /// Rows after `after`, to be imported: how many there are.
    pub async fn remaining(&self, after: &Position) -> clickhouse::error::Result<u64> {
        self.client
            .query(&format!(
                "SELECT count() FROM {} WHERE {}",
                self.table, AFTER
            ))
            .bind(after.created_ms)
            .bind(after.created_ms)
            .bind(&after.id)
            .fetch_one()
            .await
    }

    /// The next `limit` rows after `after`, in `(created, id)` order.
    pub async fn page(
        &self,
        after: &Position,
        limit: u64,
    ) -> clickhouse::error::Result<Vec<SourceRow>> {
        self.client
            .query(&format!(
                "SELECT {} FROM {} WHERE {} ORDER BY created, id LIMIT {limit}",
                self.select, self.table, AFTER
            ))
            .bind(after.created_ms)
            .bind(after.created_ms)
            .bind(&after.id)
            .fetch_all()
            .await
    }
}

/// Rows after a position. `created >=` first, so that the table's sorting key (which
/// starts with `created`) skips what is behind.
const AFTER: &str = "created >= fromUnixTimestamp64Milli(toInt64(?), 'UTC')
     AND (created > fromUnixTimestamp64Milli(toInt64(?), 'UTC') OR id > ?)";
