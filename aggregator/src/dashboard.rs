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

/// Everything the dashboard shows: each window's documents.
pub async fn bundle(documents: &Documents) -> clickhouse::error::Result<Value> {
    let mut by_window = serde_json::Map::new();
    let mut k = Value::Null;
    for window in WINDOWS.map(Window::today) {
        let docs = window_documents(documents, window).await?;
        if let Some((_, summary)) = docs.first() {
            k = summary["k"].clone();
        }
        by_window.insert(
            window.name(),
            Value::Object(docs.into_iter().map(|(n, v)| (n.to_owned(), v)).collect()),
        );
    }
    Ok(json!({
        "k": k,
        "windows": WINDOWS.map(|w| Window::today(w).name()),
        "default_window": DEFAULT_WINDOW,
        "documents": by_window,
    }))
}

/// `data.js`: a script rather than JSON, because a page opened from `file://` may load
/// scripts but not fetch files.
pub fn data_js(bundle: &Value) -> String {
    format!("window.TELEMETRY_STATS = {bundle};\n")
}
