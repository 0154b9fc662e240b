//! The old service (community-scripts/telemetry-service) as `consumer import` meets it:
//! its table, in either layout, in a database of the test's own on the local ClickHouse.

use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::Pipeline;

/// The old service's table as `clickhouse.go` creates it, with the columns its later
/// versions write; `older` leaves out what the first deployments lacked.
pub fn old_ddl(table: &str, older: bool) -> String {
    let newer = if older {
        ""
    } else {
        "repo_slug String, has_arm UInt8, platform String, payload_version UInt8, arch String,
         failed_command String, failed_line UInt32, kernel_version String, app_version String,"
    };
    format!(
        "CREATE TABLE {table} (
            id String, nsapp String, type String, status String, method String,
            created DateTime64(3), core_count UInt8, ct_type UInt8, disk_size UInt32,
            ram_size UInt32, exit_code Int16, error String, error_category String,
            os_type String, os_version String, pve_version String, random_id String,
            execution_id String, repo_source String, {newer}
            cpu_vendor String, cpu_model String, gpu_vendor String, gpu_model String,
            gpu_passthrough String, ram_speed String, install_duration UInt32
        ) ENGINE = MergeTree ORDER BY (created, nsapp) PARTITION BY toYYYYMM(created)"
    )
}

/// A database of the test's own on the local ClickHouse, playing the old server.
pub struct OldServer {
    pub database: String,
}

impl OldServer {
    pub async fn create(p: &Pipeline) -> Self {
        let database = format!("old_{}", uuid::Uuid::now_v7().simple());
        sql(p, &format!("CREATE DATABASE {database}"), "").await;
        Self { database }
    }

    pub async fn table(&self, p: &Pipeline, table: &str, older: bool, rows: &[Value]) {
        sql(
            p,
            &old_ddl(&format!("{}.{table}", self.database), older),
            "",
        )
        .await;
        let body: String = rows.iter().map(|r| format!("{r}\n")).collect();
        sql(
            p,
            &format!("INSERT INTO {}.{table} FORMAT JSONEachRow", self.database),
            &body,
        )
        .await;
    }

    /// Create `table` (the current layout) with `rows`, and import it now, as the
    /// pipeline's consumer.
    pub async fn import(
        &self,
        p: &Pipeline,
        table: &str,
        rows: &[Value],
    ) -> consumer::ImportReport {
        self.table(p, table, false, rows).await;
        consumer::import(&p.consumer, &self.args(table), OffsetDateTime::now_utc())
            .await
            .expect("the import runs")
    }

    pub fn args(&self, table: &str) -> consumer::ImportArgs {
        consumer::ImportArgs {
            source: consumer::Source {
                url: crate::clickhouse_url(),
                user: "default".into(),
                password: String::new(),
                database: self.database.clone(),
                table: table.into(),
            },
            batch_rows: 7,
            from_start: false,
        }
    }

    pub async fn drop(self, p: &Pipeline) {
        sql(p, &format!("DROP DATABASE {}", self.database), "").await;
    }
}

/// Run `query`; `data`, when given, is what an INSERT reads.
pub async fn sql(p: &Pipeline, query: &str, data: &str) {
    let base = format!(
        "{}/?date_time_input_format=best_effort",
        crate::clickhouse_url()
    );
    let (url, body) = if data.is_empty() {
        (base, query.to_owned())
    } else {
        (
            format!("{base}&query={}", urlencode(query)),
            data.to_owned(),
        )
    };
    p.http
        .post(url)
        .body(body)
        .send()
        .await
        .expect("ClickHouse answers")
        .error_for_status()
        .unwrap_or_else(|e| panic!("{query}: {e}"));
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Noon UTC `days` ago, plus `minutes`.
pub fn at(days: i64, minutes: i64) -> OffsetDateTime {
    let noon = OffsetDateTime::now_utc().date().midnight().assume_utc() + time::Duration::hours(12);
    noon - time::Duration::days(days) + time::Duration::minutes(minutes)
}

pub fn iso(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// One row of the old table.
pub fn old_row(id: &str, run: &str, status: &str, when: OffsetDateTime, extra: Value) -> Value {
    let mut row = json!({
        "id": id,
        "nsapp": "jellyfin",
        "type": "lxc",
        "status": status,
        "method": "default",
        "created": iso(when),
        "core_count": 2,
        "ct_type": 1,
        "disk_size": 8,
        "ram_size": 2048,
        "os_type": "debian",
        "os_version": "12",
        "pve_version": "8.4.14",
        "random_id": format!("00000000-0000-4000-8000-{run:0>12}"),
        "execution_id": format!("00000000-0000-4000-9000-{run:0>12}"),
        "repo_source": "ProxmoxVE",
    });
    if let (Some(row), Some(extra)) = (row.as_object_mut(), extra.as_object()) {
        row.extend(extra.clone());
    }
    row
}
