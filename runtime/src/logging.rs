//! Logs through `tracing`: JSON lines in production, readable text in a terminal.
//!
//! Nothing here logs request metadata; the services must never put a client address in a
//! field, and the HTTP trace layers they use record only method, route and status.

use std::io::IsTerminal;

use serde::{Deserialize, Serialize};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// JSON unless standard error is a terminal.
    #[default]
    Auto,
    Json,
    Pretty,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct LogSettings {
    /// A `tracing` filter such as `info` or `info,ingest=debug`; `RUST_LOG` wins if set.
    pub level: String,
    pub format: LogFormat,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Auto,
        }
    }
}

/// Libraries whose debug and trace events name an installation: async-nats logs every
/// message it publishes with its subject, and a subject ends in the `random_id`. They
/// log at `info` at most, whatever the level, unless the filter names them itself.
const QUIET: &[&str] = &["async_nats"];

/// The filter of `level` (or of `RUST_LOG`), with [`QUIET`] applied.
pub fn filter(level: &str) -> EnvFilter {
    let given = std::env::var("RUST_LOG").unwrap_or_else(|_| level.to_owned());
    let mut filter = EnvFilter::try_new(&given).unwrap_or_else(|_| EnvFilter::new("info"));
    for target in QUIET {
        if !given.contains(target)
            && let Ok(directive) = format!("{target}=info").parse()
        {
            filter = filter.add_directive(directive);
        }
    }
    filter
}

/// Install the global subscriber. Calling it twice keeps the first one.
pub fn init(settings: &LogSettings) {
    let filter = filter(&settings.level);
    let json = match settings.format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (tests start several services in one process) is not an error.
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}
