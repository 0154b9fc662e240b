//! `GET /openapi.json`: the two ingest endpoints and the event schema, as OpenAPI 3.1.

use utoipa::OpenApi;

use crate::error::ErrorBody;
use crate::wire::{AcceptedBody, BatchBody, RejectedItem, WireEvent};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "telemetry ingest",
        description = "Anonymous install telemetry of the Proxmox VE Helper-Scripts."
    ),
    paths(
        crate::handlers::post_telemetry,
        crate::handlers::post_events,
        crate::handlers::readyz
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
            // The server's fields, and `gpu_type`, which ingest derives from the bash
            // client's `gpu_passthrough` (migration 0009).
            .filter(|k| !["event_id", "received_at", "gpu_type"].contains(&k.as_str()))
            .cloned()
            .collect();
        assert_eq!(documented, stored);
        for path in ["/telemetry", "/v1/events", "/readyz"] {
            assert!(doc["paths"][path].is_object(), "{path} is not documented");
        }
    }

    /// The document states the parser's bounds: every whole number's largest value, and
    /// the record's limit on free text.
    #[test]
    fn the_documented_bounds_are_the_parsers() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let event = &doc["components"]["schemas"]["Event"]["properties"];
        let documented: std::collections::BTreeMap<&str, u64> = event
            .as_object()
            .unwrap()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), v["maximum"].as_u64()?)))
            .collect();
        let parsed: std::collections::BTreeMap<&str, u64> =
            schemas::parse::NUMBER_BOUNDS.into_iter().collect();
        assert_eq!(documented, parsed);
        let limit = format!("{} characters", schemas::parse::FREE_TEXT_MAX_CHARS);
        for doc in [
            event["error"]["description"].as_str().unwrap_or_default(),
            doc["components"]["schemas"]["Event"]["description"]
                .as_str()
                .unwrap_or_default(),
        ] {
            assert!(doc.contains(&limit), "{doc:?} does not say {limit}");
        }
    }
}
