//! From a client's request body to a normalised [`Event`].
//!
//! The clients are bash heredocs that cannot be changed in step with us, so the rules
//! follow what they really send (see `docs/client-contract.md`): unknown keys
//! are ignored, enumerations are case-insensitive, numbers may arrive as strings, and
//! `-` or `none` mean "not given". Anything that still does not fit is rejected with the
//! offending field named, so the answer is a clear 400 rather than a silent guess.

use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::body::{Known, Scalar, Source};
use crate::event::{Event, Kind, Status};
use crate::text::truncate_chars;

/// The processing record's limit on free text (`error`, `failed_command`, the model
/// names), in characters: the one place it is written. Ingest cuts to it by default
/// (and warns when set higher); the import and the error patterns use it as it is.
pub const FREE_TEXT_MAX_CHARS: usize = 120;

/// Knobs of normalisation that operators may tune.
#[derive(Debug, Clone)]
pub struct ParseOptions {
    /// Free text is cut to this many characters ([`FREE_TEXT_MAX_CHARS`] by default).
    pub error_max_chars: usize,
}

impl Default for ParseOptions {
    fn default() -> Self {
        Self {
            error_max_chars: FREE_TEXT_MAX_CHARS,
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
///
/// A body that is not valid JSON is repaired ([`crate::repair`]) and parsed again; only
/// if that fails too is it rejected.
pub fn parse_event(
    body: &[u8],
    opts: &ParseOptions,
    event_id: Uuid,
    received_at: OffsetDateTime,
) -> Result<Event, Rejection> {
    match serde_json::from_slice::<Known>(body) {
        Ok(known) => build(&known, opts, event_id, received_at),
        // Not a well-formed object: the general path repairs it, or says what is wrong.
        Err(_) => from_value(&parse_json(body)?, opts, event_id, received_at),
    }
}

/// Decode a body as JSON, repairing what bash interpolation breaks.
pub fn parse_json(body: &[u8]) -> Result<Value, Rejection> {
    match serde_json::from_slice(body) {
        Ok(value) => Ok(value),
        Err(strict) => {
            let invalid = |detail: String| {
                Rejection::new(
                    RejectionCode::InvalidJson,
                    None,
                    format!("body is not valid JSON and cannot be repaired: {detail}"),
                )
            };
            let repaired = crate::repair::repair(body).map_err(|e| invalid(e.to_string()))?;
            serde_json::from_str(&repaired).map_err(|_| invalid(strict.to_string()))
        }
    }
}

/// Build an event from a decoded JSON value, which must be an object.
pub fn from_value(
    value: &Value,
    opts: &ParseOptions,
    event_id: Uuid,
    received_at: OffsetDateTime,
) -> Result<Event, Rejection> {
    let Value::Object(map) = value else {
        return Err(Rejection::new(
            RejectionCode::NotAnObject,
            None,
            "an event must be a JSON object",
        ));
    };
    from_object(map, opts, event_id, received_at)
}

/// Build an event from an already decoded JSON object.
pub fn from_object(
    map: &Map<String, Value>,
    opts: &ParseOptions,
    event_id: Uuid,
    received_at: OffsetDateTime,
) -> Result<Event, Rejection> {
    build(map, opts, event_id, received_at)
}

fn build(
    source: &impl Source,
    opts: &ParseOptions,
    event_id: Uuid,
    received_at: OffsetDateTime,
) -> Result<Event, Rejection> {
    let f = Fields(source);

    let random_id = f.id("random_id")?.ok_or_else(|| missing("random_id"))?;
    let execution_id = f.id("execution_id")?;
    let kind = f
        .text("type", SHORT)?
        .ok_or_else(|| missing("type"))
        .and_then(|s| {
            Kind::parse(&s).ok_or_else(|| invalid("type", format!("unknown type {s:?}")))
        })?;
    // Scrubbed, but whole: an app's slug is one word or none.
    let nsapp = f
        .text("nsapp", MEDIUM)?
        .map(|s| truncate_chars(&scrub::scrub(&s.to_lowercase()), SHORT))
        .unwrap_or_default();
    if nsapp.is_empty() {
        return Err(missing("nsapp"));
    }
    if !crate::event::is_app_name(&nsapp) {
        return Err(invalid(
            "nsapp",
            "nsapp may hold only letters, digits, '-', '_' and '.'",
        ));
    }
    // The app's own name is nobody's: `chown -R jellyfin:adm` in a jellyfin event
    // names a service account.
    let app_words: Vec<&str> = std::iter::once(nsapp.as_str())
        .chain(nsapp.split(['-', '_', '.']))
        .filter(|w| w.len() >= 3)
        .collect();
    let scrubber = scrub::Scrubber::keeping(&app_words);
    let status = f
        .text("status", SHORT)?
        .ok_or_else(|| missing("status"))
        .and_then(|s| {
            Status::parse(&s).ok_or_else(|| invalid("status", format!("unknown status {s:?}")))
        })?;

    let exit_code = f
        .uint("exit_code", const { max("exit_code") }, Unit::None)?
        .map(|n| n as u8);
    // Read whole: scrubbing happens before truncation, so that an address is removed
    // before a cut could leave a recognisable piece of it, and a name that the end of
    // the log gives away is known at its start.
    let error = f.free_text("error", LONG)?;
    let status = corrected_outcome(status, exit_code, &error);

    // Every field a client fills is read before any is stored: a name that one gives
    // away (`-hostname pluto` in `failed_command`) goes from all of them.
    let mut lessons = scrub::Lessons::new();
    let mut read = |text: &str| scrubber.read(text, &mut lessons);
    let error_read = read(&error);
    let cpu_model = read(&f.free_text("cpu_model", MEDIUM)?);
    let gpu_model = read(&f.free_text("gpu_model", MEDIUM)?);
    let failed_command = read(&f.free_text("failed_command", MEDIUM)?);
    for key in TOKENS {
        if let Some(value) = f.text(key, MEDIUM)? {
            read(&value.to_lowercase());
        }
    }
    let scrubber = scrubber.taught(&lessons);
    let store = |read: &scrub::Read| scrubber.store(read, opts.error_max_chars);
    let token = |key: &'static str| f.token(key, &scrubber);

    let error_category = category(status, exit_code, &error, token("error_category")?);
    let raw_slug = f.slug("repo_slug")?;
    let repo_source = match f.text("repo_source", SHORT)? {
        Some(s) => repo_source_named(&s),
        None => repo_source_from_slug(&raw_slug),
    }
    .to_owned();
    let repo_slug = repo_slug_stored(&raw_slug);
    let error = store(&error_read);
    let cpu_model = store(&cpu_model);
    let gpu_model = store(&gpu_model);
    let failed_command = store(&failed_command);
    let (gpu_passthrough, gpu_type) = gpu_meanings(token("gpu_passthrough")?);

    Ok(Event {
        event_id,
        received_at,
        random_id,
        execution_id,
        kind: kind.as_str().to_owned(),
        // The scrubber keeps borrowing the app's name until the last field is read.
        nsapp: nsapp.clone(),
        status: status.as_str().to_owned(),
        ct_type: f
            .uint("ct_type", const { max("ct_type") }, Unit::None)?
            .map(|n| n as u8),
        disk_size: f
            .uint("disk_size", const { max("disk_size") }, Unit::Gigabytes)?
            .map(|n| n as u32),
        core_count: f
            .uint("core_count", const { max("core_count") }, Unit::Cores)?
            .map(|n| n as u16),
        ram_size: f
            .uint("ram_size", const { max("ram_size") }, Unit::Mebibytes)?
            .map(|n| n as u32),
        os_type: token("os_type")?,
        os_version: token("os_version")?,
        pve_version: token("pve_version")?,
        method: token("method")?,
        exit_code,
        error,
        error_category,
        install_duration: f
            .uint(
                "install_duration",
                const { max("install_duration") },
                Unit::None,
            )?
            .map(|n| n as u32),
        cpu_vendor: token("cpu_vendor")?,
        cpu_model,
        gpu_vendor: token("gpu_vendor")?,
        gpu_model,
        gpu_passthrough,
        gpu_type,
        ram_speed: token("ram_speed")?,
        arch: token("arch")?,
        platform: token("platform")?,
        has_arm: f.boolean("has_arm")?,
        repo_source,
        repo_slug,
        payload_version: f
            .uint(
                "payload_version",
                const { max("payload_version") },
                Unit::None,
            )?
            .map(|n| n as u8),
        kernel_version: token("kernel_version")?,
        app_version: token("app_version")?,
        failed_command,
        failed_line: f
            .uint("failed_line", const { max("failed_line") }, Unit::None)?
            .map(|n| n as u32),
    })
}

/// The largest value of each whole-number field; a larger one is refused, not clamped.
/// The OpenAPI document of ingest states the same bounds (a test there holds them
/// together), and each fits the column it is stored in.
pub const NUMBER_BOUNDS: [(&str, u64); 8] = [
    ("ct_type", 2),
    ("disk_size", 100_000),
    ("core_count", 256),
    ("ram_size", 1_048_576),
    ("exit_code", 255),
    ("install_duration", 86_400),
    ("payload_version", 255),
    ("failed_line", u32::MAX as u64),
];

/// The bound of `key` in [`NUMBER_BOUNDS`], looked up while compiling: a field the table
/// lacks fails the build.
const fn max(key: &str) -> u64 {
    let mut i = 0;
    while i < NUMBER_BOUNDS.len() {
        if const_eq(NUMBER_BOUNDS[i].0, key) {
            return NUMBER_BOUNDS[i].1;
        }
        i += 1;
    }
    panic!("a number field without a bound")
}

const fn const_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Length caps, in characters, of what is read from a field before it is normalised.
/// Free text is read longer than it is kept, so that scrubbing sees whole words before
/// the cut (`ParseOptions::error_max_chars`).
const SHORT: usize = 64;
/// The open-ended short fields ([`Fields::token`]).
const TOKENS: [&str; 13] = [
    "error_category",
    "os_type",
    "os_version",
    "pve_version",
    "method",
    "cpu_vendor",
    "gpu_vendor",
    "gpu_passthrough",
    "ram_speed",
    "arch",
    "platform",
    "kernel_version",
    "app_version",
];
const MEDIUM: usize = 1024;
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
        _ if crate::category::says_user_aborted(error) => Status::Aborted,
        _ => status,
    }
}

/// The category of a failure: the server's reading wins unless it is `unknown`. Events
/// that are not failures carry none.
fn category(status: Status, exit_code: Option<u8>, error: &str, client: String) -> String {
    match status {
        Status::Success => String::new(),
        Status::Failed | Status::Aborted => {
            let server = crate::category::derive(exit_code, error);
            if server == "unknown" && !client.is_empty() {
                client
            } else {
                server.to_owned()
            }
        }
        // The client does not know how the run ended; keep any reading there is.
        Status::Unknown => match crate::category::derive(exit_code, error) {
            "unknown" => client,
            server => server.to_owned(),
        },
        Status::Installing | Status::Validation | Status::Configuring => client,
    }
}

/// The official organisation. Only the names of its repositories that post telemetry are
/// kept; any other name under it is `community-scripts/other`, as a slug is free text to
/// a client and `community-scripts/nas.example.lan` must not be stored as it came.
const OFFICIAL_OWNER: &str = "community-scripts";
const OFFICIAL_REPOS: [&str; 3] = ["ProxmoxVE", "ProxmoxVED", "core"];

/// `gpu_passthrough` as the two client generations send it, split into its two meanings
/// (migration 0009): whether passthrough was asked for (`yes`/`no`, the v2 client), and
/// the kind of GPU the bash client found on the host, which it sends under the same name
/// (`igpu`, `dgpu`, `unknown`; the contract also names `vgpu` and `none`).
fn gpu_meanings(sent: String) -> (String, String) {
    match sent.as_str() {
        "" | "yes" | "no" => (sent, String::new()),
        _ => (String::new(), sent),
    }
}

/// `repo_source` as the client names it, in any case; what it does not know is external.
fn repo_source_named(source: &str) -> &'static str {
    if source.eq_ignore_ascii_case("ProxmoxVE") {
        "ProxmoxVE"
    } else if source.eq_ignore_ascii_case("ProxmoxVED") {
        "ProxmoxVED"
    } else {
        "external"
    }
}

/// `repo_source` from the slug when the client sent none, as the client derives it: the
/// official repositories are production and development, anything else is external, and
/// no slug at all is production (the current service folds empty into production).
fn repo_source_from_slug(slug: &str) -> &'static str {
    match slug.split_once('/') {
        _ if slug.is_empty() => "ProxmoxVE",
        Some((owner, repo)) if owner.eq_ignore_ascii_case(OFFICIAL_OWNER) => {
            match repo_source_named(repo) {
                "external" => "external",
                official => official,
            }
        }
        _ => "external",
    }
}

/// The slug as stored. A fork's owner is a GitHub user name, so a fork is stored as
/// `fork/ProxmoxVE` or `fork/ProxmoxVED`, and any other repository as `fork/other`: its
/// name is the owner's to choose and may be personal too.
fn repo_slug_stored(slug: &str) -> String {
    if slug.is_empty() {
        return String::new();
    }
    let (owner, repo) = slug.split_once('/').unwrap_or(("", slug));
    if owner.eq_ignore_ascii_case(OFFICIAL_OWNER) {
        let repo = OFFICIAL_REPOS
            .into_iter()
            .find(|known| known.eq_ignore_ascii_case(repo))
            .unwrap_or("other");
        return format!("{OFFICIAL_OWNER}/{repo}");
    }
    let repo = match repo_source_named(repo) {
        "external" => "other",
        official => official,
    };
    format!("fork/{repo}")
}

/// Characters allowed in the open-ended short fields (os_type, os_version, method, ...):
/// enough for every value seen and for ones not yet seen (`incus-6.0.4`, `umbrel-os`,
/// `pve-manager/8.4.14`), but no quotes, shell metacharacters, control characters or
/// markup.
fn token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+' | '/' | ':')
}

/// The short fields are names and versions, one word each. Only the first word is kept:
/// a free-text tail (`debian (nas-keller)`, `10.10.3 built by jonas@laptop`) cannot ride
/// along into a field that statistics group by. What scrubbing replaced stays replaced
/// (`<ip>`), so the field still says that something was there.
fn first_word(value: &str) -> &str {
    value
        .split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | ',' | ';'))
        .find(|w| !w.is_empty())
        .unwrap_or_default()
}

/// A short field's word as it may be stored: what the clients send there, by its shape,
/// or else `<word>` (scrub::net): a free-text slug such as `john-smith-nas` in
/// `os_version` is nobody's OS.
/// - `os_version`: digits and dots (`12`, `24.04`) or one recognised word (a codename);
/// - `kernel_version`, `app_version`, `pve_version`: a version (`6.8.12-15-pve`), a
///   recognised word and version (`incus-6.0.4`), or the version inside a path
///   (`pve-manager/8.4.14/…` keeps `8.4.14`);
/// - every other (`os_type`, `method`, `platform`, vendors, `arch`, `ram_speed`, the
///   client's `error_category`…): a recognised word or compound of words.
fn shaped(key: &str, word: String) -> String {
    if word.is_empty() || scrub::is_placeholder(&word) {
        return word;
    }
    let kept = match key {
        // A codename is one word (`bookworm`); `nas-wohnzimmer` is a host's name.
        "os_version" => {
            word.chars().all(|c| c.is_ascii_digit() || c == '.')
                || (word.chars().all(char::is_alphabetic) && scrub::net::is_recognised(&word))
        }
        "kernel_version" | "app_version" | "pve_version" => {
            if scrub::net::is_version(&word) || scrub::net::is_recognised(&word) {
                true
            } else if let Some(version) = word.split('/').find(|p| scrub::net::is_version(p)) {
                return version.to_owned();
            } else {
                false
            }
        }
        _ => scrub::net::is_recognised(&word),
    };
    if kept {
        word
    } else {
        scrub::net::PLACEHOLDER.to_owned()
    }
}

fn pattern_checked(key: &'static str, value: String) -> Result<String, Rejection> {
    let plain = |v: &str| v.chars().all(token_char);
    let ok = if value.contains('<') {
        plain(
            &scrub::PLACEHOLDERS
                .iter()
                .fold(value.clone(), |v, p| v.replace(p, "")),
        )
    } else {
        plain(&value)
    };
    if ok {
        Ok(value)
    } else {
        Err(invalid(
            key,
            format!("{key} may hold only letters, digits and . - _ + / :"),
        ))
    }
}

/// The unit a numeric field is counted in, and so which suffixes it may carry.
#[derive(Clone, Copy)]
enum Unit {
    None,
    /// `disk_size`: `32G` is 32; `1T` is 1024.
    Gigabytes,
    /// `ram_size`: `2048M` is 2048; `2G` is 2048.
    Mebibytes,
    /// `core_count`: `4c` or `4 cores` is 4.
    Cores,
}

impl Unit {
    /// The multiplier of a suffix (lower-cased), or `None` if the suffix does not fit.
    fn factor(self, suffix: &str) -> Option<u64> {
        if suffix.is_empty() {
            return Some(1);
        }
        match (self, suffix) {
            (Unit::Gigabytes, "g" | "gb" | "gib") => Some(1),
            (Unit::Gigabytes, "t" | "tb" | "tib") => Some(1024),
            (Unit::Mebibytes, "m" | "mb" | "mib") => Some(1),
            (Unit::Mebibytes, "g" | "gb" | "gib") => Some(1024),
            (Unit::Cores, "c" | "core" | "cores" | "cpu" | "cpus" | "vcpu" | "vcpus") => Some(1),
            _ => None,
        }
    }
}

/// Typed, lenient access to the keys of one body.
struct Fields<'a, S>(&'a S);

impl<S: Source> Fields<'_, S> {
    /// A string field, trimmed and capped; `None` when absent, empty, `-` or `none`.
    fn text(&self, key: &'static str, cap: usize) -> Result<Option<String>, Rejection> {
        let raw = match self.0.field(key) {
            None | Some(Scalar::Null) => return Ok(None),
            Some(Scalar::Str(s)) => s.trim().to_owned(),
            // Bash interpolates unquoted values too: `"os_version": 12`.
            Some(Scalar::Number(n)) => n.to_string(),
            Some(Scalar::Bool(b)) => b.to_string(),
            Some(_) => {
                return Err(Rejection::new(
                    RejectionCode::InvalidType,
                    Some(key),
                    format!("{key} must be a string"),
                ));
            }
        };
        // `none` is a real answer for gpu_passthrough (no passthrough), not "not given".
        let means_empty =
            raw == "-" || (key != "gpu_passthrough" && raw.eq_ignore_ascii_case("none"));
        if raw.is_empty() || means_empty {
            return Ok(None);
        }
        Ok(Some(truncate_chars(&raw, cap)))
    }

    /// An open-ended short field: scrubbed, its first word, lower-cased, held to its
    /// field's shape and pattern-checked; empty when absent. Read longer than it is kept,
    /// so that scrubbing sees whole words.
    fn token(&self, key: &'static str, scrubber: &scrub::Scrubber) -> Result<String, Rejection> {
        match self.text(key, MEDIUM)? {
            Some(s) => {
                // Lower case first, as stored: scrubbing must see what is kept.
                let scrubbed = scrubber.scrub(&s.to_lowercase());
                let word = first_word(&scrubbed);
                // A cut can leave a tail that reads as something else: scrub what is cut.
                let word = if word.chars().count() <= SHORT {
                    word.to_owned()
                } else {
                    scrubber.scrub_to(word, SHORT)
                };
                // Junk is refused as it was; a clean word no vocabulary knows is replaced.
                pattern_checked(key, word).map(|word| shaped(key, word))
            }
            None => Ok(String::new()),
        }
    }

    /// `owner/repo` as sent; it is never stored as sent (see `repo_slug_stored`), so
    /// nothing in it is refused.
    fn slug(&self, key: &'static str) -> Result<String, Rejection> {
        Ok(self.text(key, SHORT * 2)?.unwrap_or_default())
    }

    /// Free text, still raw: every caller stores it only through `scrub_to`.
    fn free_text(&self, key: &'static str, cap: usize) -> Result<String, Rejection> {
        Ok(self.text(key, cap)?.unwrap_or_default())
    }

    /// A client id ([`crate::ids`]): a UUID, or a short id of a safe alphabet that is
    /// stored as its UUIDv5.
    fn id(&self, key: &'static str) -> Result<Option<Uuid>, Rejection> {
        // One character over the limit, so that an overlong id is refused, not cut.
        self.text(key, crate::ids::MAX_CHARS + 1)?
            .map(|s| crate::ids::client_id(&s).map_err(|e| invalid(key, format!("{key}: {e}"))))
            .transpose()
    }

    /// A non-negative integer no larger than `max`. Numbers sent as strings, and with a
    /// suffix that fits the field's unit, are accepted.
    fn uint(&self, key: &'static str, max: u64, unit: Unit) -> Result<Option<u64>, Rejection> {
        let wrong_type = || {
            Rejection::new(
                RejectionCode::InvalidType,
                Some(key),
                format!("{key} must be a whole number"),
            )
        };
        let n = match self.0.field(key) {
            None | Some(Scalar::Null) => return Ok(None),
            Some(Scalar::Number(n)) => match (n.as_u64(), n.as_f64()) {
                (Some(u), _) => u,
                (None, Some(f)) if f < 0.0 => return Err(out_of_range(key, max)),
                (None, Some(f)) if f.is_finite() && f.fract() == 0.0 => f as u64,
                _ => return Err(wrong_type()),
            },
            Some(Scalar::Str(s)) => {
                let s = s.trim();
                if s.is_empty() || s == "-" {
                    return Ok(None);
                }
                let digits_end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
                if digits_end == 0 {
                    return Err(if s.starts_with('-') {
                        out_of_range(key, max)
                    } else {
                        wrong_type()
                    });
                }
                let suffix = s[digits_end..].trim().to_ascii_lowercase();
                let factor = unit.factor(&suffix).ok_or_else(wrong_type)?;
                let n: u64 = s[..digits_end]
                    .parse()
                    .map_err(|_| out_of_range(key, max))?;
                n.checked_mul(factor)
                    .ok_or_else(|| out_of_range(key, max))?
            }
            Some(_) => return Err(wrong_type()),
        };
        if n > max {
            return Err(out_of_range(key, max));
        }
        Ok(Some(n))
    }

    fn boolean(&self, key: &'static str) -> Result<Option<bool>, Rejection> {
        match self.0.field(key) {
            None | Some(Scalar::Null) => Ok(None),
            Some(Scalar::Bool(b)) => Ok(Some(b)),
            Some(Scalar::Str(s)) if s.trim().is_empty() => Ok(None),
            Some(Scalar::Str(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" => Ok(Some(true)),
                "false" | "no" | "0" => Ok(Some(false)),
                _ => Err(invalid(key, format!("{key} must be true or false"))),
            },
            Some(Scalar::Number(n)) => match n.as_u64() {
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
mod record {
    /// The constant is the record's promise: docs/ROPA.md says the same number for every
    /// free-text field.
    #[test]
    fn the_free_text_limit_is_the_records() {
        let ropa = include_str!("../../docs/ROPA.md");
        let promise = format!("at most {} characters", super::FREE_TEXT_MAX_CHARS);
        for field in ["error", "cpu_model", "gpu_model", "failed_command"] {
            let row = ropa
                .lines()
                .find(|l| l.starts_with(&format!("| `{field}` |")))
                .unwrap_or_else(|| panic!("{field} is not in docs/ROPA.md"));
            assert!(row.contains(&promise), "{row}");
        }
        assert_eq!(super::FREE_TEXT_MAX_CHARS, 120, "the record promises 120");
    }
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
        let long = "été ".repeat(200);
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
        // A fork of production is still a fork.
        assert_eq!(repo_source_from_slug("alice/ProxmoxVE"), "external");
        assert_eq!(repo_source_from_slug(""), "ProxmoxVE");
    }

    #[test]
    fn repo_source_is_one_of_three_whatever_is_sent() {
        for (sent, stored) in [
            ("ProxmoxVE", "ProxmoxVE"),
            ("proxmoxve", "ProxmoxVE"),
            ("PROXMOXVED", "ProxmoxVED"),
            ("external", "external"),
            ("gitea-mirror", "external"),
        ] {
            let body = INSTALLING.replace(
                r#""repo_slug": "community-scripts/ProxmoxVE""#,
                &format!(r#""repo_source": "{sent}""#),
            );
            assert_eq!(parse(&body).expect("valid").repo_source, stored, "{sent}");
        }
        let neither =
            INSTALLING.replace(",\n    \"repo_slug\": \"community-scripts/ProxmoxVE\"", "");
        let e = parse(&neither).expect("valid");
        assert_eq!(
            (e.repo_source.as_str(), e.repo_slug.as_str()),
            ("ProxmoxVE", "")
        );
    }

    #[test]
    fn a_fork_is_stored_without_its_owner() {
        for (sent, stored) in [
            ("community-scripts/ProxmoxVE", "community-scripts/ProxmoxVE"),
            (
                "Community-Scripts/ProxmoxVED",
                "community-scripts/ProxmoxVED",
            ),
            ("community-scripts/Core", "community-scripts/core"),
            (
                "community-scripts/nas.example.lan",
                "community-scripts/other",
            ),
            ("community-scripts/okonkwo-pc", "community-scripts/other"),
            ("alice-forks/ProxmoxVE", "fork/ProxmoxVE"),
            ("alice-forks/proxmoxved", "fork/ProxmoxVED"),
            ("alice/alice-homelab", "fork/other"),
            ("alice smith/x y", "fork/other"),
            ("ProxmoxVE", "fork/ProxmoxVE"),
        ] {
            let body = INSTALLING.replace(
                r#""repo_slug": "community-scripts/ProxmoxVE""#,
                &format!(r#""repo_slug": "{sent}""#),
            );
            assert_eq!(parse(&body).expect("valid").repo_slug, stored, "{sent}");
        }
    }

    fn with(extra: &str) -> String {
        INSTALLING.replace(
            "    \"method\": \"default\",\n",
            &format!("    \"method\": \"default\",\n{extra}\n"),
        )
    }

    #[test]
    fn units_are_read_in_the_field_s_own_unit() {
        let e = parse(
            &INSTALLING
                .replace("\"disk_size\": 8", "\"disk_size\": 32G")
                .replace("\"ram_size\": 2048", "\"ram_size\": \"4G\"")
                .replace("\"core_count\": 2", "\"core_count\": \"2 cores\""),
        )
        .expect("repaired");
        assert_eq!(
            (e.disk_size, e.ram_size, e.core_count),
            (Some(32), Some(4096), Some(2))
        );
        let r =
            parse(&INSTALLING.replace("\"core_count\": 2", "\"core_count\": \"2G\"")).unwrap_err();
        assert_eq!(
            (r.code, r.field),
            (RejectionCode::InvalidType, Some("core_count"))
        );
    }

    #[test]
    fn every_short_field_is_scrubbed_and_keeps_one_word() {
        let e = parse(
            &INSTALLING
                .replace(r#""os_version": "12""#, r#""os_version": "192.168.1.5""#)
                .replace(
                    r#""os_type": "Debian""#,
                    r#""os_type": "debian (nas-keller)""#,
                )
                .replace(r#""method": "default""#, r#""method": "/home/alice""#),
        )
        .expect("valid");
        assert_eq!(e.os_version, "<ip>");
        assert_eq!(e.os_type, "debian");
        // A method is a word the clients send, not a path: held to its shape.
        assert_eq!(e.method, "<word>");
    }

    #[test]
    fn the_app_s_own_name_is_nobody_s() {
        let body = with(
            "    \"exit_code\": 1,\n    \"error\": \"chown -R jellyfin:adm /etc/jellyfin failed, and chown -R alice:alice /srv/alice\",",
        )
        .replace("\"installing\"", "\"failed\"");
        assert_eq!(
            parse(&body).expect("valid").error,
            "chown -R jellyfin:adm /etc/jellyfin failed, and chown -R <user>:<user> /srv/<user>"
        );
    }

    #[test]
    fn real_app_names_are_kept() {
        for nsapp in [
            "netboot.xyz",
            "2fauth",
            "node-red",
            "turnkey-nextcloud",
            "haos-vm",
        ] {
            let body = INSTALLING.replace("\"jellyfin\"", &format!("\"{nsapp}\""));
            assert_eq!(parse(&body).expect("valid").nsapp, nsapp);
        }
        // A host name is no app name.
        let body = INSTALLING.replace("\"jellyfin\"", "\"nas.smith.lan\"");
        assert_eq!(parse(&body).unwrap_err().field, Some("nsapp"));
    }

    #[test]
    fn the_failed_command_is_cut_like_the_error() {
        let body = with(&format!(
            "    \"failed_command\": \"{}\",",
            "apt-get install -y x ".repeat(20)
        ));
        assert_eq!(
            parse(&body).expect("valid").failed_command.chars().count(),
            120
        );
    }

    /// The bash client sends the host's GPU kind as `gpu_passthrough`, the v2 client
    /// whether passthrough was asked for: each lands in the column of its meaning, so the
    /// same host read by both clients has one value in each.
    #[test]
    fn the_two_meanings_of_gpu_passthrough_land_apart() {
        let v1 = |sent: &str| {
            let e = parse(&with(&format!("    \"gpu_passthrough\": \"{sent}\","))).expect("valid");
            (e.gpu_passthrough, e.gpu_type)
        };
        let v2 = |sent: &str| {
            let e = parse(&with(&format!(
                "    \"payload_version\": 2,\n    \"gpu_passthrough\": \"{sent}\","
            )))
            .expect("valid");
            (e.gpu_passthrough, e.gpu_type)
        };
        let s = |a: &str, b: &str| (a.to_owned(), b.to_owned());
        assert_eq!(v1("igpu"), s("", "igpu"));
        assert_eq!(v1("dgpu"), s("", "dgpu"));
        assert_eq!(v1("unknown"), s("", "unknown"));
        assert_eq!(v1("none"), s("", "none"));
        assert_eq!(v2("yes"), s("yes", ""));
        assert_eq!(v2("No"), s("no", ""));
    }

    #[test]
    fn free_text_is_scrubbed_before_it_is_cut() {
        let body = with(&format!(
            "    \"exit_code\": 1,\n    \"error\": \"{}ping 192.168.100.200 from bob@example.com\",",
            "failed to ".repeat(10)
        ))
        .replace("\"installing\"", "\"failed\"");
        let e = parse(&body).expect("valid");
        // The cut falls inside the e-mail's placeholder, which goes whole rather than
        // leave `<emai`.
        assert!(e.error.ends_with("ping <ip> from "), "{}", e.error);
        assert!(e.error.chars().count() <= 120);
        assert!(!e.error.contains("192.168"));
    }

    #[test]
    fn a_name_one_field_gives_away_goes_from_every_field() {
        let body = serde_json::json!({
            "random_id": "5f0c7d3e-2a47-4b8e-9d6f-0a1b2c3d4e5f",
            "type": "lxc",
            "nsapp": "jellyfin",
            "status": "failed",
            "exit_code": 1,
            // Nothing here says that `attic` is a host or `Tr0ub4dor` a password…
            "error": "exit_code=1 | could not reach attic | at line 3: curl attic\n---\nTr0ub4dor rejected",
            "gpu_model": "Intel UHD 630 (attic)",
            "os_version": "attic",
            // …but the command does.
            "failed_command": "pct create 105 local:vztmpl/debian-12.tar.zst --hostname attic --password Tr0ub4dor",
        });
        let e = parse(&body.to_string()).expect("valid");
        let stored = serde_json::to_string(&e).expect("encodes");
        assert!(!stored.contains("attic"), "{stored}");
        assert!(!stored.contains("Tr0ub4dor"), "{stored}");
        assert!(e.error.contains("could not reach <host>"), "{}", e.error);
        assert_eq!(e.gpu_model, "Intel UHD 630 (<host>)");
    }

    #[test]
    fn a_name_the_end_of_the_log_gives_away_goes_from_its_start() {
        let tail = "Setting up libssl3 (3.0.15-1~deb12u1) ...\n".repeat(300);
        let error = format!(
            "exit_code=1 | service failed | at line 30: systemctl restart attic-sync\n---\n{tail}Mar  3 10:00:01 attic systemd[1]: attic-sync.service: Failed"
        );
        let body = with(&format!(
            "    \"exit_code\": 1,\n    \"error\": \"{error}\","
        ))
        .replace("\"installing\"", "\"failed\"");
        let e = parse(&body).expect("valid");
        assert!(!e.error.contains("attic"), "{}", e.error);
        assert!(
            e.error.contains("systemctl restart <host>-sync"),
            "{}",
            e.error
        );
    }

    #[test]
    fn the_server_category_wins_unless_unknown() {
        let failed = |exit: u8, error: &str, client: &str| {
            let body = with(&format!(
                "    \"exit_code\": {exit},\n    \"error\": \"{error}\",\n    \"error_category\": \"{client}\","
            ))
            .replace("\"installing\"", "\"failed\"");
            parse(&body).expect("valid").error_category
        };
        // The client's exit-code table files 127 under `dependency` and 1 under `shell`.
        assert_eq!(failed(127, "x", "network"), "dependency");
        assert_eq!(failed(1, "odd", "database"), "shell");
        // 3 is `unknown` in the table and the text says nothing: the client's guess stays.
        assert_eq!(failed(3, "odd", "database"), "database");
        assert_eq!(failed(3, "odd", ""), "unknown");
    }

    #[test]
    fn open_ended_fields_take_new_values_but_not_junk() {
        // A new OS the vocabulary knows is taken; a word no vocabulary has is not stored
        // (it may be a host's name), and junk is refused.
        let e = parse(&INSTALLING.replace("\"Debian\"", "\"NixOS\"")).expect("valid");
        assert_eq!(e.os_type, "nixos");
        let e = parse(&INSTALLING.replace("\"Debian\"", "\"kellerpbs\"")).expect("valid");
        assert_eq!(e.os_type, "<word>");
        let r = parse(&INSTALLING.replace("\"Debian\"", "\"deb$(rm -rf)\"")).unwrap_err();
        assert_eq!(
            (r.code, r.field),
            (RejectionCode::InvalidValue, Some("os_type"))
        );
    }

    #[test]
    fn broken_json_is_repaired_and_unrepairable_json_rejected() {
        let e = parse("{\n    \"random_id\": \"5f0c7d3e-2a47-4b8e-9d6f-0a1b2c3d4e5f\",\n    \"type\": \"vm\",\n    \"nsapp\": \"haos-vm\",\n    \"status\": \"failed\",\n    \"exit_code\": 1,\n    \"error\": \"bad \\x1b[31mthing\tto \"do\"\",\n}")
            .expect("repaired");
        assert_eq!(e.error, "bad thing\tto \"do\"");
        let r = parse("{\"random_id\": ").unwrap_err();
        assert_eq!(r.code, RejectionCode::InvalidJson);
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
