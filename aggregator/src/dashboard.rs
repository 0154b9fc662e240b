//! The static dashboard: its files, compiled in, and the data bundle it reads.

use serde_json::{Value, json};

use crate::documents::Documents;
use crate::stats::Window;

pub const INDEX_HTML: &str = include_str!("../dashboard/index.html");
pub const CSS: &str = include_str!("../dashboard/dashboard.css");
pub const JS: &str = include_str!("../dashboard/dashboard.js");

/// The windows the dashboard offers (days; `None` for all), and the one it opens with.
pub const WINDOWS: [Option<u32>; 4] = [Some(7), Some(30), Some(365), None];
pub const DEFAULT_WINDOW: &str = "30d";

/// The documents of one window, by name (the API path's last segment).
pub async fn window_documents(
    documents: &Documents,
    window: Window,
) -> clickhouse::error::Result<Vec<(&'static str, Value)>> {
    let meta = documents.meta(window).await?;
    let to = |v: Result<Value, serde_json::Error>| v.unwrap_or(Value::Null);
    Ok(vec![
        (
            "summary",
            to(serde_json::to_value(documents.summary(meta.clone()).await?)),
        ),
        (
            "apps",
            to(serde_json::to_value(documents.apps(meta.clone()).await?)),
        ),
        (
            "daily",
            to(serde_json::to_value(documents.daily(meta.clone()).await?)),
        ),
        (
            "os",
            to(serde_json::to_value(
                documents.breakdown(meta.clone(), "os").await?,
            )),
        ),
        (
            "pve",
            to(serde_json::to_value(
                documents.breakdown(meta.clone(), "pve").await?,
            )),
        ),
        (
            "hardware",
            to(serde_json::to_value(
                documents.hardware(meta.clone()).await?,
            )),
        ),
        (
            "errors",
            to(serde_json::to_value(documents.errors(meta).await?)),
        ),
    ])
}

/// The documents of every dashboard window.
pub async fn all_windows(
    documents: &Documents,
) -> clickhouse::error::Result<Vec<(Window, Vec<(&'static str, Value)>)>> {
    let mut all = Vec::new();
    for window in WINDOWS.map(Window::today) {
        all.push((window, window_documents(documents, window).await?));
    }
    Ok(all)
}

/// Everything the dashboard shows: each window's documents.
pub async fn bundle(documents: &Documents) -> clickhouse::error::Result<Value> {
    Ok(assemble(&all_windows(documents).await?))
}

/// The bundle of documents already built, by window.
pub fn assemble(windows: &[(Window, Vec<(&'static str, Value)>)]) -> Value {
    let k = windows
        .first()
        .and_then(|(_, docs)| docs.first())
        .map_or(Value::Null, |(_, summary)| summary["k"].clone());
    let by_window: serde_json::Map<String, Value> = windows
        .iter()
        .map(|(window, docs)| {
            let docs = docs
                .iter()
                .map(|(n, v)| ((*n).to_owned(), v.clone()))
                .collect();
            (window.name(), Value::Object(docs))
        })
        .collect();
    json!({
        "k": k,
        "windows": windows.iter().map(|(w, _)| w.name()).collect::<Vec<_>>(),
        "default_window": DEFAULT_WINDOW,
        "documents": by_window,
    })
}

/// `data.js`: a script rather than JSON, because a page opened from `file://` may load
/// scripts but not fetch files.
pub fn data_js(bundle: &Value) -> String {
    format!("window.TELEMETRY_STATS = {bundle};\n")
}
