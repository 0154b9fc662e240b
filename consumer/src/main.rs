use clap::{Parser, Subcommand};

runtime::global_allocator!();

/// Telemetry consumer: writes queued events to ClickHouse in batches.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(flatten)]
    config: runtime::service::ConfigArg,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Consume (the default).
    Run,
    /// Apply the ClickHouse migrations and retention, then exit.
    Migrate,
    /// Import the old service's table (telemetry_db.telemetry) through the live parser
    /// and scrubber, resuming where the last import stopped; prints the counts as JSON.
    Import(consumer::ImportArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings: consumer::Settings = runtime::service::start(&cli.config)?;
    match cli.command.unwrap_or(Command::Run) {
        Command::Migrate => {
            let applied = consumer::migrate(&settings).await?;
            tracing::info!(?applied, "migrations done");
            // The streams too: with NATS users, the one job allowed to create them.
            consumer::ensure_streams(&settings).await?;
            tracing::info!("streams ready");
        }
        Command::Import(args) => {
            let report =
                consumer::import(&settings, &args, time::OffsetDateTime::now_utc()).await?;
            println!("{}", serde_json::to_string(&report)?);
        }
        Command::Run => {
            let listener = runtime::service::bind(&settings.consumer.internal_listen).await?;
            consumer::run(settings, listener, runtime::shutdown::signal()).await?;
        }
    }
    Ok(())
}
