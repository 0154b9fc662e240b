use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;

/// Telemetry ingest: accepts events over HTTP and queues them durably in JetStream.
#[derive(Parser)]
#[command(version)]
struct Cli {
    /// Configuration file (TOML); `TELEMETRY_CONFIG` names one too.
    #[arg(long)]
    config: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings: ingest::Settings =
        runtime::settings::load(cli.config.as_deref(), ingest::settings::LIST_KEYS)?;
    runtime::logging::init(&settings.log);
    let listener = tokio::net::TcpListener::bind(&settings.ingest.listen)
        .await
        .with_context(|| format!("binding {}", settings.ingest.listen))?;
    ingest::run(settings, listener, runtime::shutdown::signal()).await?;
    Ok(())
}
