//! The static dashboard: its files, compiled in, and the data scripts it reads.
//!
//! The dashboard is plain files that read their numbers from scripts rather than fetch
//! JSON, because a page opened from `file://` may load scripts but not fetch files. The
//! scripts are the same whether `aggregator serve` answers them or `aggregator export`
//! wrote them:
//! - `data.js`: the manifest (windows, repositories, `k`, when the numbers are from);
//! - `data/{repo}/{window}.js`: every document of one scope, loaded when it is shown;
//! - `data/{repo}/{window}/apps/{nsapp}.js`: one app's document, for its page.

use serde_json::{Value, json};

use crate::documents::{BuildError, Documents, SCOPE_DOCUMENTS};
use crate::published::Meta;
use crate::stats::{Platform, Repo, Scope, WINDOWS, Window};

pub const INDEX_HTML: &str = include_str!("../dashboard/index.html");
pub const CSS: &str = include_str!("../dashboard/dashboard.css");
pub const JS: &str = include_str!("../dashboard/dashboard.js");

/// The window the dashboard opens with.
pub const DEFAULT_WINDOW: &str = "30d";

/// Every scope the dashboard offers: each repository choice over each window.
pub fn scopes() -> Vec<Scope> {
    Repo::CHOICES
        .into_iter()
        .flat_map(|repo| {
            WINDOWS.map(|days| Scope {
                window: Window::last(days),
                repo,
                platform: Platform::Pve,
            })
        })
        .collect()
}

/// The documents of one scope, by name (the API path's last segment).
pub async fn scope_documents(
    documents: &Documents,
    scope: Scope,
) -> Result<Vec<(&'static str, Value)>, BuildError> {
    let meta = documents.meta(scope).await?;
    let mut out = Vec::with_capacity(SCOPE_DOCUMENTS.len());
    for name in SCOPE_DOCUMENTS {
        if let Some(doc) = documents.scope_document(name, meta.clone()).await? {
            out.push((name, doc));
        }
    }
    Ok(out)
}

/// `data.js`. `max_age` is how often the served statistics can change, in seconds; the
/// export passes `None`, as its files change only when it is run again.
pub fn manifest_js(meta: &Meta, max_age: Option<u64>) -> String {
    let manifest = json!({
        "k": meta.k,
        "generated_at": meta.generated_at.and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok()),
        "windows": WINDOWS.map(|d| Window::last(d).name()),
        "default_window": DEFAULT_WINDOW,
        "repos": Repo::CHOICES.map(Repo::name),
        "default_repo": Repo::Production.name(),
        "max_age_seconds": max_age,
    });
    format!("window.TELEMETRY_STATS = {manifest};\n")
}

/// A data script: it files `value` under `key` in `window.TELEMETRY_DATA`, where the
/// dashboard looks once the script has loaded.
fn data_script(key: &str, value: &Value) -> String {
    format!(
        "(window.TELEMETRY_DATA = window.TELEMETRY_DATA || {{}})[{}] = {value};\n",
        Value::String(key.to_owned())
    )
}

/// `data/{repo}/{window}.js`.
pub fn data_js(scope: Scope, documents: &[(&'static str, Value)]) -> String {
    let docs: serde_json::Map<String, Value> = documents
        .iter()
        .map(|(n, v)| ((*n).to_owned(), v.clone()))
        .collect();
    data_script(&scope.name(), &Value::Object(docs))
}

/// `data/{repo}/{window}/apps/{nsapp}.js`.
pub fn app_js(scope: Scope, nsapp: &str, document: &Value) -> String {
    data_script(&format!("{}/apps/{nsapp}", scope.name()), document)
}

/// Where a scope's data script lives, relative to the dashboard.
pub fn data_path(scope: Scope) -> String {
    format!("data/{}.js", scope.name())
}

/// Where an app's data script lives, relative to the dashboard.
pub fn app_path(scope: Scope, nsapp: &str) -> String {
    format!("data/{}/apps/{nsapp}.js", scope.name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_repository_over_every_window() {
        let scopes = scopes();
        assert_eq!(scopes.len(), 24);
        assert_eq!(scopes[0].name(), "production/1d");
        assert_eq!(data_path(scopes[23]), "data/all/all.js");
        assert_eq!(
            app_path(scopes[2], "docker"),
            "data/production/30d/apps/docker.js"
        );
    }

    #[test]
    fn a_data_script_files_its_value_under_its_key() {
        let js = data_script("production/30d", &json!({"a": 1}));
        assert_eq!(
            js,
            "(window.TELEMETRY_DATA = window.TELEMETRY_DATA || {})[\"production/30d\"] = {\"a\":1};\n"
        );
    }
}
