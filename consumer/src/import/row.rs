//! One row of the old table as the body a client would have sent for it, so that it
//! takes the live path: the same parser, rules, scrubbing and limits.
//!
//! The old service wrote 0 (or an empty string) where a client sent nothing, so a 0 is
//! read back as "not sent" where 0 cannot be a real value: cores, disk, memory and
//! duration, and an exit code on a progress status. `ct_type` 0 (a privileged
//! container) is kept for the kinds that have one.

use serde_json::{Map, Value};

use super::source::SourceRow;

/// Statuses after which the old service's `exit_code` was the client's.
const TERMINAL: [&str; 4] = ["success", "failed", "aborted", "unknown"];

/// Kinds whose `ct_type` the client sends (0 privileged, 1 unprivileged, 2 VM).
const WITH_CT_TYPE: [&str; 3] = ["lxc", "vm", "turnkey"];

pub fn client_body(row: &SourceRow) -> Value {
    let mut body = Map::new();
    // The four the parser requires go in even when empty: it then refuses the row for
    // the same reason it would refuse such a client body.
    for (key, value) in [
        ("random_id", &row.random_id),
        ("type", &row.kind),
        ("nsapp", &row.nsapp),
        ("status", &row.status),
    ] {
        if !value.is_empty() {
            body.insert(key.into(), Value::from(value.as_str()));
        }
    }
    for (key, value) in [
        ("execution_id", &row.execution_id),
        ("method", &row.method),
        ("error", &row.error),
        ("error_category", &row.error_category),
        ("os_type", &row.os_type),
        ("os_version", &row.os_version),
        ("pve_version", &row.pve_version),
        ("repo_source", &row.repo_source),
        ("repo_slug", &row.repo_slug),
        ("cpu_vendor", &row.cpu_vendor),
        ("cpu_model", &row.cpu_model),
        ("gpu_vendor", &row.gpu_vendor),
        ("gpu_model", &row.gpu_model),
        ("gpu_passthrough", &row.gpu_passthrough),
        ("ram_speed", &row.ram_speed),
        ("platform", &row.platform),
        ("arch", &row.arch),
        ("kernel_version", &row.kernel_version),
        ("app_version", &row.app_version),
        ("failed_command", &row.failed_command),
    ] {
        if !value.is_empty() {
            body.insert(key.into(), Value::from(value.as_str()));
        }
    }
    for (key, value) in [
        ("core_count", row.core_count),
        ("disk_size", row.disk_size),
        ("ram_size", row.ram_size),
        ("install_duration", row.install_duration),
        ("payload_version", row.payload_version),
        ("failed_line", row.failed_line),
    ] {
        if value > 0 {
            body.insert(key.into(), Value::from(value));
        }
    }
    let kind = row.kind.to_ascii_lowercase();
    if row.ct_type >= 0 && WITH_CT_TYPE.contains(&kind.as_str()) {
        body.insert("ct_type".into(), Value::from(row.ct_type));
    }
    let status = row.status.to_ascii_lowercase();
    if row.exit_code >= 0 && TERMINAL.contains(&status.as_str()) {
        body.insert("exit_code".into(), Value::from(row.exit_code));
    }
    if row.has_arm >= 0 {
        body.insert("has_arm".into(), Value::from(row.has_arm > 0));
    }
    Value::Object(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> SourceRow {
        SourceRow {
            id: "a1".into(),
            nsapp: "jellyfin".into(),
            kind: "lxc".into(),
            status: "installing".into(),
            method: "default".into(),
            error: String::new(),
            error_category: String::new(),
            os_type: "debian".into(),
            os_version: "12".into(),
            pve_version: "8.4.1".into(),
            random_id: "7b1f5c2e-3d4a-4e8b-9c0d-1e2f3a4b5c6d".into(),
            execution_id: String::new(),
            repo_source: "ProxmoxVE".into(),
            repo_slug: String::new(),
            cpu_vendor: String::new(),
            cpu_model: String::new(),
            gpu_vendor: String::new(),
            gpu_model: String::new(),
            gpu_passthrough: String::new(),
            ram_speed: String::new(),
            platform: String::new(),
            arch: String::new(),
            kernel_version: String::new(),
            app_version: String::new(),
            failed_command: String::new(),
            created_ms: 0,
            core_count: 2,
            ct_type: 0,
            disk_size: 0,
            ram_size: 2048,
            exit_code: 0,
            install_duration: 0,
            has_arm: -1,
            payload_version: -1,
            failed_line: -1,
        }
    }

    #[test]
    fn zeros_the_old_service_wrote_for_nothing_are_not_sent() {
        let body = client_body(&row());
        assert_eq!(body["core_count"], 2);
        assert_eq!(body["ct_type"], 0, "a privileged container");
        assert!(body.get("disk_size").is_none());
        assert!(
            body.get("exit_code").is_none(),
            "a progress status has none"
        );
        assert!(
            body.get("has_arm").is_none(),
            "the older layout has no column"
        );
        assert!(body.get("execution_id").is_none());

        let mut done = row();
        done.status = "success".into();
        done.kind = "pve".into();
        done.has_arm = 0;
        let body = client_body(&done);
        assert_eq!(body["exit_code"], 0);
        assert!(
            body.get("ct_type").is_none(),
            "a host tool has no container"
        );
        assert_eq!(body["has_arm"], false);
    }

    #[test]
    fn an_empty_required_field_is_left_to_the_parser_to_refuse() {
        let mut empty = row();
        empty.nsapp.clear();
        let body = client_body(&empty);
        assert!(body.get("nsapp").is_none());
        let refused = schemas::parse::from_value(
            &body,
            &Default::default(),
            uuid::Uuid::nil(),
            time::OffsetDateTime::UNIX_EPOCH,
        )
        .unwrap_err();
        assert_eq!(refused.field, Some("nsapp"));
    }
}
