//! `aggregator export`: the public statistics as static files, ready for GitHub Pages.
//!
//! The layout:
//! - `index.html`, `dashboard.css`, `dashboard.js`, `data.js`: the dashboard, which
//!   works from `file://` as well;
//! - `api/{7d,30d,365d,all}/{summary,apps,daily,os,pve,hardware,errors}.json` and
//!   `api/{window}/apps/{nsapp}.json`: the documents the API serves, byte for byte.

use std::path::Path;

use anyhow::Context;

use crate::dashboard;
use crate::documents::Documents;

/// What an export wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ExportReport {
    pub files: usize,
}

pub async fn export(documents: &Documents, out: &Path) -> anyhow::Result<ExportReport> {
    let mut report = ExportReport::default();
    let write = |path: &Path, bytes: &[u8], report: &mut ExportReport| -> anyhow::Result<()> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
        report.files += 1;
        Ok(())
    };
    let windows = dashboard::all_windows(documents).await?;
    for (window, docs) in &windows {
        let dir = out.join("api").join(window.name());
        for (name, doc) in docs {
            write(
                &dir.join(format!("{name}.json")),
                &serde_json::to_vec(doc)?,
                &mut report,
            )?;
        }
        // One document per app the apps document publishes (those with k runs or more).
        let meta = documents.meta(*window).await?;
        let apps = docs
            .iter()
            .find(|(name, _)| *name == "apps")
            .and_then(|(_, doc)| doc["apps"].as_array().cloned())
            .unwrap_or_default();
        for nsapp in apps.iter().filter_map(|a| a["nsapp"].as_str()) {
            if let Some(doc) = documents.app(meta.clone(), nsapp).await? {
                write(
                    &dir.join("apps").join(format!("{nsapp}.json")),
                    &serde_json::to_vec(&doc)?,
                    &mut report,
                )?;
            }
        }
    }
    let bundle = dashboard::assemble(&windows);
    write(
        &out.join("data.js"),
        dashboard::data_js(&bundle).as_bytes(),
        &mut report,
    )?;
    write(
        &out.join("index.html"),
        dashboard::INDEX_HTML.as_bytes(),
        &mut report,
    )?;
    write(
        &out.join("dashboard.css"),
        dashboard::CSS.as_bytes(),
        &mut report,
    )?;
    write(
        &out.join("dashboard.js"),
        dashboard::JS.as_bytes(),
        &mut report,
    )?;
    Ok(report)
}
