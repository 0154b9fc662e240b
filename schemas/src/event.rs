//! The telemetry event as it travels through the pipeline and as it is stored.
//!
//! One struct serves as the JetStream payload (JSON) and as the ClickHouse row
//! (RowBinary), so the queue and the table cannot disagree about a field. Its fields are
//! in the column order of `telemetry.events`, and each column is named exactly as the
//! client's JSON key (see `docs/client-contract.md`).

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

/// An event encoded for JetStream: its JSON payload and its content id.
#[derive(Debug, Clone)]
pub struct Encoded {
    pub payload: Vec<u8>,
    /// See [`Event::content_id`].
    pub content_id: String,
}

/// The first client field in the encoding: everything from it on is what the client said.
const FIRST_CLIENT_KEY: &[u8] = b"\"random_id\":";

impl Event {
    /// A stable digest of what the client said, leaving out the server's own fields.
    ///
    /// Two identical client retries normalise to the same event and so to the same id;
    /// ingest sends it as `Nats-Msg-Id`, and JetStream stores the retry only once.
    pub fn content_id(&self) -> String {
        match self.encode() {
            Ok(encoded) => encoded.content_id,
            Err(_) => self.content_id_slow(),
        }
    }

    /// The JSON payload and the content id from one serialisation, which is what ingest
    /// publishes on its hot path.
    ///
    /// The two server fields come first in the encoding (the struct's field order), and
    /// neither a UUID string nor an integer can contain `"random_id":`, so the digest of
    /// the bytes from that key on covers exactly the client's fields.
    pub fn encode(&self) -> Result<Encoded, serde_json::Error> {
        let payload = serde_json::to_vec(self)?;
        let content_id = match client_fields(&payload) {
            Some(client) => digest_hex(client),
            None => self.content_id_slow(),
        };
        Ok(Encoded {
            payload,
            content_id,
        })
    }

    /// The same digest by clearing the server fields of a copy: only a fallback, since
    /// it clones and serialises a second time.
    fn content_id_slow(&self) -> String {
        let mut unstamped = self.clone();
        unstamped.event_id = Uuid::nil();
        unstamped.received_at = OffsetDateTime::UNIX_EPOCH;
        let bytes = serde_json::to_vec(&unstamped).unwrap_or_default();
        digest_hex(client_fields(&bytes).unwrap_or(&bytes))
    }
}

/// The part of an encoded event from its first client field on.
fn client_fields(encoded: &[u8]) -> Option<&[u8]> {
    let start = encoded
        .windows(FIRST_CLIENT_KEY.len())
        .position(|w| w == FIRST_CLIENT_KEY)?;
    Some(&encoded[start..])
}

/// The first 16 bytes of the BLAKE3 digest of `bytes`, in lower-case hex.
///
/// BLAKE3 rather than SHA-256: this CPU has no SHA instructions, and SHA-256 of a
/// 700-byte event cost ingest about 5 µs, 7 % of its CPU per event (perf). BLAKE3 is as
/// collision resistant for this use and an order of magnitude cheaper in software.
fn digest_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = blake3::hash(bytes);
    let mut out = String::with_capacity(32);
    for b in digest.as_bytes().iter().take(16) {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
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

    fn sample() -> Event {
        Event {
            event_id: Uuid::now_v7(),
            received_at: OffsetDateTime::now_utc(),
            random_id: Uuid::from_u128(7),
            execution_id: None,
            kind: "lxc".into(),
            nsapp: "debian".into(),
            status: "installing".into(),
            ct_type: Some(1),
            disk_size: None,
            core_count: Some(2),
            ram_size: None,
            os_type: "debian".into(),
            os_version: "12".into(),
            pve_version: String::new(),
            method: String::new(),
            exit_code: None,
            error: "a \"random_id\": in free text".into(),
            error_category: String::new(),
            install_duration: None,
            cpu_vendor: String::new(),
            cpu_model: String::new(),
            gpu_vendor: String::new(),
            gpu_model: String::new(),
            gpu_passthrough: String::new(),
            ram_speed: String::new(),
            arch: String::new(),
            platform: String::new(),
            has_arm: None,
            repo_source: String::new(),
            repo_slug: String::new(),
            payload_version: None,
            kernel_version: String::new(),
            app_version: String::new(),
            failed_command: String::new(),
            failed_line: None,
        }
    }

    #[test]
    fn the_encoding_starts_with_the_server_fields() {
        let e = sample();
        let encoded = e.encode().expect("encodes");
        let text = String::from_utf8(encoded.payload).expect("utf-8");
        assert!(
            text.starts_with(&format!(
                "{{\"event_id\":\"{}\",\"received_at\":",
                e.event_id
            )),
            "{text}"
        );
        assert_eq!(encoded.content_id.len(), 32);
        assert!(encoded.content_id.bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn the_fast_and_the_slow_content_id_agree() {
        let e = sample();
        assert_eq!(e.content_id(), e.content_id_slow());
        let mut other = e.clone();
        other.event_id = Uuid::now_v7();
        other.received_at = OffsetDateTime::UNIX_EPOCH;
        assert_eq!(e.content_id(), other.content_id());
        other.error.push('!');
        assert_ne!(e.content_id(), other.content_id());
    }
}
