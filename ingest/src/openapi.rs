//! `GET /openapi.json`: the two ingest endpoints and the event schema, as OpenAPI 3.1.

use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use crate::error::ErrorBody;

/// One telemetry event as the bash clients send it (client-contract.md). Unknown keys are
/// ignored; numbers may arrive as strings or with a unit (`"32G"`); enumerations are
/// case-insensitive; `-` and `none` mean "not given". Free text is scrubbed of addresses,
/// e-mails and user names, and `error` is cut to 120 characters.
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
    gpu_passthrough: Option<String>,
    ram_speed: Option<String>,
    arch: Option<String>,
    platform: Option<String>,
    has_arm: Option<bool>,
    repo_source: Option<String>,
    repo_slug: Option<String>,
    payload_version: Option<u8>,
    kernel_version: Option<String>,
    app_version: Option<String>,
    failed_command: Option<String>,
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

#[derive(OpenApi)]
#[openapi(
    info(
        title = "telemetry ingest",
        description = "Anonymous install telemetry of the Proxmox VE Helper-Scripts."
    ),
    paths(
        crate::routes::post_telemetry,
        crate::routes::post_events,
        crate::routes::readyz
    ),
    components(schemas(WireEvent, AcceptedBody, BatchBody, RejectedItem, ErrorBody))
)]
pub struct ApiDoc;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_event_has_exactly_the_stored_client_fields() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let documented: std::collections::BTreeSet<String> = doc["components"]["schemas"]["Event"]
            ["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        let event = schemas::parse_event(
            br#"{"random_id":"5f0c7d3e-2a47-4b8e-9d6f-0a1b2c3d4e5f","type":"lxc","nsapp":"a","status":"installing"}"#,
            &Default::default(),
            uuid::Uuid::nil(),
            time::OffsetDateTime::UNIX_EPOCH,
        )
        .unwrap();
        let stored: std::collections::BTreeSet<String> = serde_json::to_value(event)
            .unwrap()
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| *k != "event_id" && *k != "received_at")
            .cloned()
            .collect();
        assert_eq!(documented, stored);
        for path in ["/telemetry", "/v1/events", "/readyz"] {
            assert!(doc["paths"][path].is_object(), "{path} is not documented");
        }
    }
}
