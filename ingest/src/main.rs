use clap::Parser;

runtime::global_allocator!();

/// Telemetry ingest: accepts events over HTTP and queues them durably in JetStream.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(flatten)]
    config: runtime::service::ConfigArg,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings: ingest::Settings = runtime::service::start(&cli.config)?;
    let listener = runtime::service::bind(&settings.ingest.listen).await?;
    ingest::run(settings, listener, runtime::shutdown::signal()).await?;
    Ok(())
}
