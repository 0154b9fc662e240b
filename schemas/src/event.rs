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
    /// The event's identity: for a live event its content identity
    /// ([`Event::content_id`], set when ingest encodes it), for an imported row one
    /// derived from the source row. The raw table keeps one row per `event_id`.
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
    /// Whether GPU passthrough was asked for: `yes` or `no` (the v2 client), empty when
    /// the client does not say (the bash client).
    pub gpu_passthrough: String,
    /// The kind of GPU the bash client found on the host (`igpu`, `dgpu`, `unknown`),
    /// which it sends as `gpu_passthrough`; empty from the v2 client (migration 0009).
    /// Absent from events queued before the field existed.
    #[serde(default)]
    pub gpu_type: String,
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

/// An event encoded for JetStream: its JSON payload, whose `event_id` is the event's
/// content identity.
#[derive(Debug, Clone)]
pub struct Encoded {
    pub payload: Vec<u8>,
    /// See [`Event::content_id`]; also the `event_id` written in `payload`.
    pub event_id: Uuid,
}

/// The first client field in the encoding: everything from it on is what the client said.
const FIRST_CLIENT_KEY: &[u8] = b"\"random_id\":";

/// Where the encoding writes `event_id`'s 36 characters: right after `{"event_id":"`.
const EVENT_ID_PREFIX: &[u8] = b"{\"event_id\":\"";

impl Event {
    /// The event's identity, derived from what the client said and nothing else.
    ///
    /// `random_id` is new for every run of a script, so two events with the same content
    /// are the same report of the same step of the same run: a client's retry after a
    /// lost answer, or a copy redelivered by the queue. Ingest makes this the event's
    /// `event_id`, and the raw table keeps one row per `event_id` (ARCHITECTURE.md,
    /// "Exactly once"). A UUID of version 8 (RFC 9562's custom layout) over the first
    /// 122 bits of a BLAKE3 digest of the client's fields as encoded.
    pub fn content_id(&self) -> Uuid {
        match self.encode() {
            Ok(encoded) => encoded.event_id,
            Err(_) => self.content_id_slow(),
        }
    }

    /// The JSON payload with the content identity as its `event_id`, from one
    /// serialisation, which is what ingest publishes on its hot path. `self.event_id` is
    /// not read: a live event's id is its content identity, whatever was set before.
    ///
    /// The two server fields come first in the encoding (the struct's field order), and
    /// neither a UUID string nor an integer can contain `"random_id":`, so the digest of
    /// the bytes from that key on covers exactly the client's fields. The id is then
    /// written over the 36 characters of the `event_id` encoded, which leaves the
    /// client's bytes as they were digested.
    pub fn encode(&self) -> Result<Encoded, serde_json::Error> {
        let mut payload = serde_json::to_vec(self)?;
        let event_id = match client_fields(&payload) {
            Some(client) => identity(client),
            None => self.content_id_slow(),
        };
        let slot = EVENT_ID_PREFIX.len()..EVENT_ID_PREFIX.len() + 36;
        if payload.starts_with(EVENT_ID_PREFIX) && payload.get(slot.end) == Some(&b'"') {
            let mut text = [0u8; 36];
            event_id.hyphenated().encode_lower(&mut text);
            payload[slot].copy_from_slice(&text);
        } else {
            let mut stamped = self.clone();
            stamped.event_id = event_id;
            payload = serde_json::to_vec(&stamped)?;
        }
        Ok(Encoded { payload, event_id })
    }

    /// The same identity by clearing the server fields of a copy: only a fallback, since
    /// it clones and serialises a second time.
    fn content_id_slow(&self) -> Uuid {
        let mut unstamped = self.clone();
        unstamped.event_id = Uuid::nil();
        unstamped.received_at = OffsetDateTime::UNIX_EPOCH;
        let bytes = serde_json::to_vec(&unstamped).unwrap_or_default();
        identity(client_fields(&bytes).unwrap_or(&bytes))
    }
}

/// The part of an encoded event from its first client field on.
fn client_fields(encoded: &[u8]) -> Option<&[u8]> {
    let start = encoded
        .windows(FIRST_CLIENT_KEY.len())
        .position(|w| w == FIRST_CLIENT_KEY)?;
    Some(&encoded[start..])
}

/// A version-8 UUID from the BLAKE3 digest of `bytes`.
///
/// BLAKE3 rather than SHA-256: this CPU has no SHA instructions, and SHA-256 of a
/// 700-byte event cost ingest about 5 µs, 7 % of its CPU per event (perf). BLAKE3 is as
/// collision resistant for this use and an order of magnitude cheaper in software.
fn identity(bytes: &[u8]) -> Uuid {
    let digest = blake3::hash(bytes);
    let mut first = [0u8; 16];
    first.copy_from_slice(&digest.as_bytes()[..16]);
    Uuid::new_v8(first)
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
            gpu_type: String::new(),
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
    fn the_encoding_starts_with_the_server_fields_and_carries_the_identity() {
        let e = sample();
        let encoded = e.encode().expect("encodes");
        assert_eq!(encoded.event_id.get_version_num(), 8);
        let text = String::from_utf8(encoded.payload.clone()).expect("utf-8");
        assert!(
            text.starts_with(&format!(
                "{{\"event_id\":\"{}\",\"received_at\":",
                encoded.event_id
            )),
            "{text}"
        );
        let decoded: Event = serde_json::from_slice(&encoded.payload).expect("decodes");
        assert_eq!(decoded.event_id, encoded.event_id);
        assert_eq!(decoded.random_id, e.random_id);
        // Encoding the decoded event again names the same event.
        assert_eq!(decoded.encode().expect("encodes").payload, encoded.payload);
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

/// Whether `name` is an app's slug as stored (`nsapp`): 1 to 64 characters of
/// lower-case ASCII letters, digits, `-`, `_` and `.`. Ingest stores nothing else, and
/// the statistics API refuses to look anything else up.
pub fn is_app_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
        })
}

#[cfg(test)]
mod app_names {
    use super::*;

    #[test]
    fn app_names_are_lower_case_slugs_of_at_most_64_characters() {
        for ok in [
            "jellyfin",
            "haos-vm",
            "turnkey-nextcloud",
            "node_red",
            "a.b",
            "7zip",
        ] {
            assert!(is_app_name(ok), "{ok}");
        }
        let long = "a".repeat(65);
        for bad in [
            "",
            "Jellyfin",
            "not an app",
            "a/b",
            "ünicode",
            "<host>",
            long.as_str(),
        ] {
            assert!(!is_app_name(bad), "{bad}");
        }
        assert!(is_app_name(&"a".repeat(64)));
    }
}
