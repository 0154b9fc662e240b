//! The telemetry event as it travels through the pipeline and as it is stored.
//!
//! One struct serves as the JetStream payload (JSON) and as the ClickHouse row
//! (RowBinary), so the queue and the table cannot disagree about a field. Its fields are
//! in the column order of `telemetry.events`, and each column is named exactly as the
//! client's JSON key (see `../shared/spec/client-contract.md`).

use clickhouse::Row;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// What kind of script sent the event (`type` on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Lxc,
    Vm,
    Turnkey,
    /// A host tool.
    Pve,
    Addon,
    Tool,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Lxc,
        Kind::Vm,
        Kind::Turnkey,
        Kind::Pve,
        Kind::Addon,
        Kind::Tool,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Lxc => "lxc",
            Kind::Vm => "vm",
            Kind::Turnkey => "turnkey",
            Kind::Pve => "pve",
            Kind::Addon => "addon",
            Kind::Tool => "tool",
        }
    }

    /// Case-insensitive, as the ROPA itself writes "LXC, VM, Tool, Addon".
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// The step of a run that the event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Installing,
    Validation,
    Configuring,
    Success,
    Failed,
    Aborted,
    Unknown,
}

impl Status {
    pub const ALL: [Status; 7] = [
        Status::Installing,
        Status::Validation,
        Status::Configuring,
        Status::Success,
        Status::Failed,
        Status::Aborted,
        Status::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Installing => "installing",
            Status::Validation => "validation",
            Status::Configuring => "configuring",
            Status::Success => "success",
            Status::Failed => "failed",
            Status::Aborted => "aborted",
            Status::Unknown => "unknown",
        }
    }

    /// Case-insensitive; `done` and the client's long-lived typo `sucess` mean success.
    pub fn parse(s: &str) -> Option<Status> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("done") || s.eq_ignore_ascii_case("sucess") {
            return Some(Status::Success);
        }
        Status::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s))
    }

    /// A terminal status ends a run; every other one reports progress.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Status::Success | Status::Failed | Status::Aborted | Status::Unknown
        )
    }
}

/// One accepted event: the client's fields, normalised, plus the two server fields.
///
/// Absent optional numbers are `None` (`Nullable` columns) because 0 is a meaningful value
/// for most of them (exit code 0, privileged `ct_type` 0). Absent strings are empty.
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct Event {
    /// UUID v7 assigned by ingest: unique per accepted event, and time-ordered.
    #[serde(with = "clickhouse::serde::uuid")]
    pub event_id: Uuid,
    /// When ingest accepted the event (UTC, milliseconds). The 365-day TTL counts from here.
    #[serde(with = "clickhouse::serde::time::datetime64::millis")]
    pub received_at: OffsetDateTime,

    #[serde(with = "clickhouse::serde::uuid")]
    pub random_id: Uuid,
    #[serde(with = "clickhouse::serde::uuid::option")]
    pub execution_id: Option<Uuid>,
    /// `type` on the wire; see [`Kind`].
    #[serde(rename = "type")]
    pub kind: String,
    pub nsapp: String,
    /// See [`Status`].
    pub status: String,
    pub ct_type: Option<u8>,
    pub disk_size: Option<u32>,
    pub core_count: Option<u16>,
    pub ram_size: Option<u32>,
    pub os_type: String,
    pub os_version: String,
    pub pve_version: String,
    pub method: String,
    pub exit_code: Option<u8>,
    pub error: String,
    pub error_category: String,
    pub install_duration: Option<u32>,
    pub cpu_vendor: String,
    pub cpu_model: String,
    pub gpu_vendor: String,
    pub gpu_model: String,
    pub gpu_passthrough: String,
    pub ram_speed: String,
    pub arch: String,
    pub platform: String,
    pub has_arm: Option<bool>,
    pub repo_source: String,
    pub repo_slug: String,
    pub payload_version: Option<u8>,
    pub kernel_version: String,
    pub app_version: String,
    pub failed_command: String,
    pub failed_line: Option<u32>,
}

impl Event {
    /// A stable digest of what the client said, leaving out the server's own fields.
    ///
    /// Two identical client retries normalise to the same event and so to the same id;
    /// ingest sends it as `Nats-Msg-Id`, and JetStream stores the retry only once.
    pub fn content_id(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut unstamped = self.clone();
        unstamped.event_id = Uuid::nil();
        unstamped.received_at = OffsetDateTime::UNIX_EPOCH;
        let mut hasher = Sha256::new();
        // Serialising a struct of plain fields to JSON cannot fail.
        if let Ok(bytes) = serde_json::to_vec(&unstamped) {
            hasher.update(&bytes);
        }
        let digest = hasher.finalize();
        digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_and_status_are_case_insensitive() {
        assert_eq!(Kind::parse("LXC"), Some(Kind::Lxc));
        assert_eq!(Kind::parse(" Addon "), Some(Kind::Addon));
        assert_eq!(Kind::parse("container"), None);
        assert_eq!(Status::parse("SUCCESS"), Some(Status::Success));
        assert_eq!(Status::parse("done"), Some(Status::Success));
        assert_eq!(Status::parse("sucess"), Some(Status::Success));
        assert_eq!(Status::parse("finished"), None);
    }
}
