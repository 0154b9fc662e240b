use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

// glibc's malloc and free were a fifth of ingest's CPU under load (perf; see the bench
// report). mimalloc's per-thread free lists make the many small, short-lived allocations
// of a request cheap, and it returns memory to the OS as readily.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Telemetry consumer: writes queued events to ClickHouse in batches.
#[derive(Parser)]
#[command(version)]
struct Cli {
    /// Configuration file (TOML); `TELEMETRY_CONFIG` names one too.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Consume (the default).
    Run,
    /// Apply the ClickHouse migrations and retention, then exit.
    Migrate,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings: consumer::Settings = runtime::settings::load(cli.config.as_deref(), &[])?;
    runtime::logging::init(&settings.log);
    settings.check_secrets()?;
    match cli.command.unwrap_or(Command::Run) {
        Command::Migrate => {
            let applied = consumer::migrate(&settings).await?;
            tracing::info!(?applied, "migrations done");
            // The streams too: with NATS users, the one job allowed to create them.
            consumer::ensure_streams(&settings).await?;
            tracing::info!("streams ready");
        }
        Command::Run => {
            let listener = tokio::net::TcpListener::bind(&settings.consumer.internal_listen)
                .await
                .with_context(|| format!("binding {}", settings.consumer.internal_listen))?;
            consumer::run(settings, listener, runtime::shutdown::signal()).await?;
        }
    }
    Ok(())
}
