//! From a client's request body to a normalised [`Event`].
//!
//! The clients are bash heredocs that cannot be changed in step with us, so the rules
//! follow what they really send (see `../shared/spec/client-contract.md`): unknown keys
//! are ignored, enumerations are case-insensitive, numbers may arrive as strings, and
//! `-` or `none` mean "not given". Anything that still does not fit is rejected with the
//! offending field named, so the answer is a clear 400 rather than a silent guess.

use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::event::{Event, Kind, Status};

/// Knobs of normalisation that operators may tune.
#[derive(Debug, Clone)]
pub struct ParseOptions {
    /// The ROPA promises an `error` of at most this many characters (default 120).
    pub error_max_chars: usize,
}

impl Default for ParseOptions {
    fn default() -> Self {
        Self {
            error_max_chars: 120,
        }
    }
}

/// Why a body was refused. The code is a small closed set, fit for a metric label.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Rejection {
    pub code: RejectionCode,
    /// The JSON key at fault, when there is one.
    pub field: Option<&'static str>,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectionCode {
    InvalidJson,
    NotAnObject,
    MissingField,
    InvalidType,
    InvalidValue,
    OutOfRange,
}

impl RejectionCode {
    pub fn as_str(self) -> &'static str {
        match self {
            RejectionCode::InvalidJson => "invalid_json",
            RejectionCode::NotAnObject => "not_an_object",
            RejectionCode::MissingField => "missing_field",
            RejectionCode::InvalidType => "invalid_type",
            RejectionCode::InvalidValue => "invalid_value",
            RejectionCode::OutOfRange => "out_of_range",
        }
    }
}

impl Rejection {
    fn new(code: RejectionCode, field: Option<&'static str>, message: impl Into<String>) -> Self {
        Self {
            code,
            field,
            message: message.into(),
        }
    }
}

/// Parse, normalise and validate one client body, stamping it with the server's fields.
pub fn parse_event(
    body: &[u8],
    opts: &ParseOptions,
    event_id: Uuid,
    received_at: OffsetDateTime,
) -> Result<Event, Rejection> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        Rejection::new(
            RejectionCode::InvalidJson,
            None,
            format!("body is not valid JSON: {e}"),
        )
    })?;
    let Value::Object(map) = value else {
        return Err(Rejection::new(
            RejectionCode::NotAnObject,
            None,
            "body must be one JSON object",
        ));
    };
    from_object(&map, opts, event_id, received_at)
}

/// Build an event from an already decoded JSON object.
pub fn from_object(
    map: &Map<String, Value>,
    opts: &ParseOptions,
    event_id: Uuid,
    received_at: OffsetDateTime,
) -> Result<Event, Rejection> {
    let f = Fields(map);

    let random_id = f.uuid("random_id")?.ok_or_else(|| missing("random_id"))?;
    let execution_id = f.uuid("execution_id")?;
    let kind = f
        .text("type", SHORT)?
        .ok_or_else(|| missing("type"))
        .and_then(|s| {
            Kind::parse(&s).ok_or_else(|| invalid("type", format!("unknown type {s:?}")))
        })?;
    let nsapp = f
        .text("nsapp", SHORT)?
        .map(|s| s.to_ascii_lowercase())
        .ok_or_else(|| missing("nsapp"))?;
    if !nsapp
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(invalid(
            "nsapp",
            "nsapp may hold only letters, digits, '-', '_' and '.'",
        ));
    }
    let mut status = f
        .text("status", SHORT)?
        .ok_or_else(|| missing("status"))
        .and_then(|s| {
            Status::parse(&s).ok_or_else(|| invalid("status", format!("unknown status {s:?}")))
        })?;

    let exit_code = f.uint("exit_code", 255)?.map(|n| n as u8);
    let error = f.text("error", LONG)?.unwrap_or_default();
    status = corrected_outcome(status, exit_code, &error);

    let repo_slug = f.text("repo_slug", MEDIUM)?.unwrap_or_default();
    let repo_source = f
        .text("repo_source", SHORT)?
        .unwrap_or_else(|| repo_source_from_slug(&repo_slug).to_owned());

    Ok(Event {
        event_id,
        received_at,
        random_id,
        execution_id,
        kind: kind.as_str().to_owned(),
        nsapp,
        status: status.as_str().to_owned(),
        ct_type: f.uint("ct_type", 2)?.map(|n| n as u8),
        disk_size: f.uint("disk_size", 100_000)?.map(|n| n as u32),
        core_count: f.uint("core_count", 256)?.map(|n| n as u16),
        ram_size: f.uint("ram_size", 1_048_576)?.map(|n| n as u32),
        os_type: f.lower("os_type", SHORT)?,
        os_version: f.lower("os_version", SHORT)?,
        pve_version: f.lower("pve_version", SHORT)?,
        method: f.lower("method", SHORT)?,
        exit_code,
        error: truncate_chars(&error, opts.error_max_chars),
        error_category: f.lower("error_category", SHORT)?,
        install_duration: f.uint("install_duration", 86_400)?.map(|n| n as u32),
        cpu_vendor: f.lower("cpu_vendor", SHORT)?,
        cpu_model: f.text("cpu_model", MEDIUM)?.unwrap_or_default(),
        gpu_vendor: f.lower("gpu_vendor", SHORT)?,
        gpu_model: f.text("gpu_model", MEDIUM)?.unwrap_or_default(),
        gpu_passthrough: f.lower("gpu_passthrough", SHORT)?,
        ram_speed: f.lower("ram_speed", SHORT)?,
        arch: f.lower("arch", SHORT)?,
        platform: f.lower("platform", SHORT)?,
        has_arm: f.boolean("has_arm")?,
        repo_source,
        repo_slug,
        payload_version: f.uint("payload_version", 255)?.map(|n| n as u8),
        kernel_version: f.lower("kernel_version", SHORT)?,
        app_version: f.text("app_version", SHORT)?.unwrap_or_default(),
        failed_command: f.text("failed_command", MEDIUM)?.unwrap_or_default(),
        failed_line: f
            .uint("failed_line", u64::from(u32::MAX))?
            .map(|n| n as u32),
    })
}

/// Length caps, in characters, for the three sizes of string field.
const SHORT: usize = 64;
const MEDIUM: usize = 256;
/// The `error` field carries a log tail of up to ~10 KB before it is cut to 120 characters.
const LONG: usize = 16 * 1024;

fn missing(field: &'static str) -> Rejection {
    Rejection::new(
        RejectionCode::MissingField,
        Some(field),
        format!("{field} is required"),
    )
}

fn invalid(field: &'static str, message: impl Into<String>) -> Rejection {
    Rejection::new(RejectionCode::InvalidValue, Some(field), message)
}

/// The client's outcome, corrected as the contract says: a "failure" with exit code 0
/// succeeded, and the shell's signal exits or a user's abort are aborts, not failures.
fn corrected_outcome(status: Status, exit_code: Option<u8>, error: &str) -> Status {
    if status != Status::Failed {
        return status;
    }
    match exit_code {
        Some(0) => Status::Success,
        Some(129 | 130 | 143) => Status::Aborted,
        _ if error.to_ascii_lowercase().contains("aborted by user") => Status::Aborted,
        _ => status,
    }
}

fn repo_source_from_slug(slug: &str) -> &'static str {
    match slug.rsplit('/').next() {
        _ if slug.is_empty() => "",
        Some(repo) if repo.eq_ignore_ascii_case("ProxmoxVE") => "ProxmoxVE",
        Some(repo) if repo.eq_ignore_ascii_case("ProxmoxVED") => "ProxmoxVED",
        _ => "external",
    }
}

/// Cut to at most `max` characters, never inside a UTF-8 sequence.
pub fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((byte, _)) => s[..byte].to_owned(),
        None => s.to_owned(),
    }
}

/// Typed, lenient access to the keys of one body.
struct Fields<'a>(&'a Map<String, Value>);

impl Fields<'_> {
    /// A string field, trimmed and capped; `None` when absent, empty, `-` or `none`.
    fn text(&self, key: &'static str, cap: usize) -> Result<Option<String>, Rejection> {
        let raw = match self.0.get(key) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::String(s)) => s.trim().to_owned(),
            // Bash interpolates unquoted values too: `"os_version": 12`.
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::Bool(b)) => b.to_string(),
            Some(_) => {
                return Err(Rejection::new(
                    RejectionCode::InvalidType,
                    Some(key),
                    format!("{key} must be a string"),
                ));
            }
        };
        if raw.is_empty() || raw == "-" || raw.eq_ignore_ascii_case("none") {
            return Ok(None);
        }
        Ok(Some(truncate_chars(&raw, cap)))
    }

    /// A string field the contract defines in lower case.
    fn lower(&self, key: &'static str, cap: usize) -> Result<String, Rejection> {
        Ok(self
            .text(key, cap)?
            .map(|s| s.to_lowercase())
            .unwrap_or_default())
    }

    fn uuid(&self, key: &'static str) -> Result<Option<Uuid>, Rejection> {
        self.text(key, SHORT)?
            .map(|s| Uuid::parse_str(&s).map_err(|_| invalid(key, format!("{key} must be a UUID"))))
            .transpose()
    }

    /// A non-negative integer no larger than `max`; numbers sent as strings are accepted.
    fn uint(&self, key: &'static str, max: u64) -> Result<Option<u64>, Rejection> {
        let wrong_type = || {
            Rejection::new(
                RejectionCode::InvalidType,
                Some(key),
                format!("{key} must be a whole number"),
            )
        };
        let n = match self.0.get(key) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Number(n)) => match (n.as_u64(), n.as_f64()) {
                (Some(u), _) => u,
                (None, Some(f)) if f.is_finite() && f >= 0.0 && f.fract() == 0.0 => f as u64,
                (None, Some(f)) if f < 0.0 => return Err(out_of_range(key, max)),
                _ => return Err(wrong_type()),
            },
            Some(Value::String(s)) => {
                let s = s.trim();
                if s.is_empty() || s == "-" {
                    return Ok(None);
                }
                if s.starts_with('-') && s[1..].chars().all(|c| c.is_ascii_digit()) {
                    return Err(out_of_range(key, max));
                }
                s.parse::<u64>().map_err(|_| wrong_type())?
            }
            Some(_) => return Err(wrong_type()),
        };
        if n > max {
            return Err(out_of_range(key, max));
        }
        Ok(Some(n))
    }

    fn boolean(&self, key: &'static str) -> Result<Option<bool>, Rejection> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" => Ok(Some(true)),
                "false" | "no" | "0" => Ok(Some(false)),
                _ => Err(invalid(key, format!("{key} must be true or false"))),
            },
            Some(Value::Number(n)) => match n.as_u64() {
                Some(0) => Ok(Some(false)),
                Some(1) => Ok(Some(true)),
                _ => Err(invalid(key, format!("{key} must be true or false"))),
            },
            Some(_) => Err(Rejection::new(
                RejectionCode::InvalidType,
                Some(key),
                format!("{key} must be true or false"),
            )),
        }
    }
}

fn out_of_range(key: &'static str, max: u64) -> Rejection {
    Rejection::new(
        RejectionCode::OutOfRange,
        Some(key),
        format!("{key} must be between 0 and {max}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<Event, Rejection> {
        parse_event(
            body.as_bytes(),
            &ParseOptions::default(),
            Uuid::nil(),
            OffsetDateTime::UNIX_EPOCH,
        )
    }

    const INSTALLING: &str = r#"{
    "random_id": "5f0c7d3e-2a47-4b8e-9d6f-0a1b2c3d4e5f",
    "type": "LXC",
    "nsapp": "jellyfin",
    "status": "installing",
    "ct_type": 1,
    "disk_size": 8,
    "core_count": 2,
    "ram_size": 2048,
    "os_type": "Debian",
    "os_version": "12",
    "pve_version": "8.4.14",
    "method": "default",
    "repo_slug": "community-scripts/ProxmoxVE"
}"#;

    #[test]
    fn a_pretty_printed_body_is_normalised() {
        let e = parse(INSTALLING).expect("valid body");
        assert_eq!(e.kind, "lxc");
        assert_eq!(e.status, "installing");
        assert_eq!(e.os_type, "debian");
        assert_eq!(e.core_count, Some(2));
        assert_eq!(e.ram_size, Some(2048));
        assert_eq!(e.repo_source, "ProxmoxVE");
        assert_eq!(e.exit_code, None);
    }

    #[test]
    fn required_fields_are_named_when_missing() {
        let r = parse(r#"{"type":"lxc","nsapp":"x","status":"installing"}"#).unwrap_err();
        assert_eq!(
            (r.code, r.field),
            (RejectionCode::MissingField, Some("random_id"))
        );
        let r = parse(r#"{"random_id":"5f0c7d3e-2a47-4b8e-9d6f-0a1b2c3d4e5f","type":"lxc","status":"installing"}"#)
            .unwrap_err();
        assert_eq!(r.field, Some("nsapp"));
    }

    #[test]
    fn numbers_as_strings_are_accepted_and_ranges_checked() {
        let body = INSTALLING.replace(r#""core_count": 2"#, r#""core_count": "4""#);
        assert_eq!(parse(&body).expect("valid").core_count, Some(4));
        let body = INSTALLING.replace(r#""core_count": 2"#, r#""core_count": 999"#);
        let r = parse(&body).unwrap_err();
        assert_eq!(
            (r.code, r.field),
            (RejectionCode::OutOfRange, Some("core_count"))
        );
    }

    #[test]
    fn dash_and_none_mean_empty() {
        let body = INSTALLING.replace(r#""os_type": "Debian""#, r#""os_type": "-""#);
        assert_eq!(parse(&body).expect("valid").os_type, "");
        let body = INSTALLING.replace(r#""os_type": "Debian""#, r#""os_type": "None""#);
        assert_eq!(parse(&body).expect("valid").os_type, "");
    }

    #[test]
    fn outcomes_are_corrected() {
        let failed = |exit: &str, error: &str| {
            let body = INSTALLING.replace(
                r#""status": "installing""#,
                &format!(r#""status": "failed", "exit_code": {exit}, "error": "{error}""#),
            );
            parse(&body).expect("valid").status
        };
        assert_eq!(failed("0", "x"), "success");
        assert_eq!(failed("130", "x"), "aborted");
        assert_eq!(failed("1", "Installation aborted by user"), "aborted");
        assert_eq!(failed("1", "apt failed"), "failed");
    }

    #[test]
    fn error_is_cut_to_the_promised_length_on_a_char_boundary() {
        let long = "é".repeat(500);
        let body = INSTALLING.replace(
            r#""status": "installing""#,
            &format!(r#""status": "failed", "exit_code": 1, "error": "{long}""#),
        );
        let e = parse(&body).expect("valid");
        assert_eq!(e.error.chars().count(), 120);
    }

    #[test]
    fn repo_source_is_derived_from_the_slug() {
        assert_eq!(
            repo_source_from_slug("community-scripts/ProxmoxVED"),
            "ProxmoxVED"
        );
        assert_eq!(repo_source_from_slug("someone/fork"), "external");
        assert_eq!(repo_source_from_slug(""), "");
    }

    #[test]
    fn content_id_ignores_server_fields() {
        let a = parse(INSTALLING).expect("valid");
        let mut b = a.clone();
        b.event_id = Uuid::now_v7();
        b.received_at = OffsetDateTime::now_utc();
        assert_eq!(a.content_id(), b.content_id());
        b.nsapp = "other".into();
        assert_ne!(a.content_id(), b.content_id());
    }
}
