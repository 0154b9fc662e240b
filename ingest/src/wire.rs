//! What goes over the wire: the event as clients send it (for the OpenAPI document; the
//! parsing itself is `schemas::parse`), and the bodies of ingest's answers.

use serde::Serialize;
use utoipa::ToSchema;

/// One telemetry event as the bash clients send it (docs/client-contract.md). Unknown
/// keys are ignored; numbers may arrive as strings or with a unit (`"32G"`); enumerations
/// are case-insensitive; `-` and `none` mean "not given". Free text is scrubbed of
/// addresses, e-mails and user names, and `error` is cut to 120 characters.
#[allow(dead_code)] // a schema for the document only; parsing is `schemas::parse`
#[derive(ToSchema)]
#[schema(as = Event)]
pub struct WireEvent {
    /// New per run of a script.
    #[schema(format = Uuid)]
    random_id: String,
    /// One attempt of a run.
    #[schema(format = Uuid)]
    execution_id: Option<String>,
    /// lxc, vm, turnkey, pve (host tool), addon, tool.
    #[schema(example = "lxc")]
    r#type: String,
    /// App slug: letters, digits, `-`, `_`, `.`.
    #[schema(example = "jellyfin")]
    nsapp: String,
    /// installing, validation, configuring, success, failed, aborted, unknown (`done` and `sucess` mean success).
    #[schema(example = "installing")]
    status: String,
    /// 1 unprivileged LXC, 0 privileged LXC, 2 VM.
    #[schema(minimum = 0, maximum = 2)]
    ct_type: Option<u8>,
    /// GB.
    #[schema(minimum = 0, maximum = 100000)]
    disk_size: Option<u32>,
    #[schema(minimum = 0, maximum = 256)]
    core_count: Option<u16>,
    /// MiB.
    #[schema(minimum = 0, maximum = 1048576)]
    ram_size: Option<u32>,
    os_type: Option<String>,
    os_version: Option<String>,
    pve_version: Option<String>,
    method: Option<String>,
    #[schema(minimum = 0, maximum = 255)]
    exit_code: Option<u8>,
    /// Scrubbed, then cut to 120 characters.
    error: Option<String>,
    error_category: Option<String>,
    /// Seconds.
    #[schema(minimum = 0, maximum = 86400)]
    install_duration: Option<u32>,
    cpu_vendor: Option<String>,
    cpu_model: Option<String>,
    gpu_vendor: Option<String>,
    gpu_model: Option<String>,
    /// `yes`/`no` from the v2 client (passthrough asked for); the bash client's host GPU
    /// kind (`igpu`, `dgpu`, `unknown`) under this name is stored as `gpu_type`.
    gpu_passthrough: Option<String>,
    ram_speed: Option<String>,
    arch: Option<String>,
    platform: Option<String>,
    has_arm: Option<bool>,
    repo_source: Option<String>,
    repo_slug: Option<String>,
    #[schema(minimum = 0, maximum = 255)]
    payload_version: Option<u8>,
    kernel_version: Option<String>,
    app_version: Option<String>,
    failed_command: Option<String>,
    #[schema(minimum = 0, maximum = 4294967295_u64)]
    failed_line: Option<u32>,
}

/// The answer to an accepted event.
#[derive(Serialize, ToSchema)]
pub struct AcceptedBody {
    /// Always `accepted`.
    pub status: &'static str,
    /// The id the event is stored under (absent for a duplicate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<uuid::Uuid>,
    /// An identical event was accepted moments ago; this retry is not stored again.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub duplicate: bool,
}

/// The answer to a batch: every item is either accepted (durably queued) or rejected.
#[derive(Serialize, ToSchema)]
pub struct BatchBody {
    pub accepted: usize,
    /// Accepted items that were identical to recently accepted events.
    pub duplicates: usize,
    pub rejected: Vec<RejectedItem>,
}

#[derive(Serialize, ToSchema)]
pub struct RejectedItem {
    /// Position of the item in the array, or of the line in NDJSON (blank lines not counted).
    pub index: usize,
    pub error: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'static str>,
}
