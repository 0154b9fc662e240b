use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;

// glibc's malloc and free were a fifth of ingest's CPU under load (perf; see the bench
// report). mimalloc's per-thread free lists make the many small, short-lived allocations
// of a request cheap, and it returns memory to the OS as readily.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    settings.check_secrets()?;
    let listener = tokio::net::TcpListener::bind(&settings.ingest.listen)
        .await
        .with_context(|| format!("binding {}", settings.ingest.listen))?;
    ingest::run(settings, listener, runtime::shutdown::signal()).await?;
    Ok(())
}
