use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

// glibc's malloc and free were a fifth of ingest's CPU under load (perf; see the bench
// report). mimalloc's per-thread free lists make the many small, short-lived allocations
// of a request cheap, and it returns memory to the OS as readily.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Telemetry aggregator: anonymous statistics for the public dashboard.
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
    /// Serve the statistics API (the default), refreshing the statistics periodically.
    Serve,
    /// Recompute the statistics of every day that is not frozen, once, and exit.
    Refresh,
    /// Write the public statistics and the static dashboard to a folder (GitHub Pages).
    Export {
        /// The folder to write; created if missing, files in it overwritten.
        #[arg(long)]
        out: PathBuf,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings: aggregator::Settings =
        runtime::settings::load(cli.config.as_deref(), aggregator::settings::LIST_KEYS)?;
    runtime::logging::init(&settings.log);
    settings.check_secrets()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Refresh => {
            let report = settings
                .aggregator
                .refresh()
                .run(
                    &settings.clickhouse.client(),
                    time::OffsetDateTime::now_utc(),
                )
                .await?;
            tracing::info!(?report, "statistics refreshed");
        }
        Command::Export { out } => {
            let documents = aggregator::documents::Documents::new(
                settings.clickhouse.client(),
                &settings.aggregator,
            );
            let report = aggregator::export::export(&documents, &out).await?;
            tracing::info!(files = report.files, out = %out.display(), "statistics exported");
        }
        Command::Serve => {
            let listener = tokio::net::TcpListener::bind(&settings.aggregator.listen)
                .await
                .with_context(|| format!("binding {}", settings.aggregator.listen))?;
            aggregator::serve(settings, listener, runtime::shutdown::signal()).await?;
        }
    }
    Ok(())
}
