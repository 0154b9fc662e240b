//! `aggregator export`: the public statistics as static files, ready for GitHub Pages.
//!
//! The layout:
//! - `index.html`, `dashboard.css`, `dashboard.js` and the data scripts (`data.js`,
//!   `data/{repo}/{window}.js`, `data/{repo}/{window}/apps/{nsapp}.js`; see
//!   crate::dashboard): the dashboard, which works from `file://` as well;
//! - `api/{repo}/{window}/{summary,apps,daily,os,pve,hardware,errors}.json` and
//!   `api/{repo}/{window}/apps/{nsapp}.json`: the documents the API serves for
//!   `?repo={repo}&days={window}`, byte for byte.
//!
//! Every repository choice over every window is written: 24 scopes.

use std::path::Path;

use anyhow::Context;

use crate::dashboard;
use crate::documents::Documents;
use crate::stats::{Platform, Repo, Scope, Window};

/// What an export wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ExportReport {
    pub files: usize,
}

fn write(path: &Path, bytes: &[u8], report: &mut ExportReport) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
    report.files += 1;
    Ok(())
}

pub async fn export(documents: &Documents, out: &Path) -> anyhow::Result<ExportReport> {
    let mut report = ExportReport::default();
    for scope in dashboard::scopes() {
        let docs = dashboard::scope_documents(documents, scope).await?;
        let dir = out.join("api").join(scope.name());
        for (name, doc) in &docs {
            write(
                &dir.join(format!("{name}.json")),
                &serde_json::to_vec(doc)?,
                &mut report,
            )?;
        }
        write(
            &out.join(dashboard::data_path(scope)),
            dashboard::data_js(scope, &docs).as_bytes(),
            &mut report,
        )?;
        // One document per app the apps document publishes.
        let meta = documents.meta(scope).await?;
        let apps = docs
            .iter()
            .find(|(name, _)| *name == "apps")
            .and_then(|(_, doc)| doc["apps"].as_array().cloned())
            .unwrap_or_default();
        for nsapp in apps.iter().filter_map(|a| a["nsapp"].as_str()) {
            if let Some(doc) = documents.app(meta.clone(), nsapp).await? {
                let value = serde_json::to_value(&doc)?;
                write(
                    &dir.join("apps").join(format!("{nsapp}.json")),
                    &serde_json::to_vec(&value)?,
                    &mut report,
                )?;
                write(
                    &out.join(dashboard::app_path(scope, nsapp)),
                    dashboard::app_js(scope, nsapp, &value).as_bytes(),
                    &mut report,
                )?;
            }
        }
    }
    let meta = documents
        .meta(Scope {
            window: Window::last(None),
            repo: Repo::Production,
            platform: Platform::Pve,
        })
        .await?;
    write(
        &out.join("data.js"),
        dashboard::manifest_js(&meta, None).as_bytes(),
        &mut report,
    )?;
    for (file, text) in [
        ("index.html", dashboard::INDEX_HTML),
        ("dashboard.css", dashboard::CSS),
        ("dashboard.js", dashboard::JS),
    ] {
        write(&out.join(file), text.as_bytes(), &mut report)?;
    }
    Ok(report)
}
