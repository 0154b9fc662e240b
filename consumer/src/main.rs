use clap::Subcommand;

runtime::global_allocator!();

#[derive(Subcommand)]
enum Command {
    /// Consume (the default).
    Run,
    /// Apply the ClickHouse migrations and retention and create or update the streams,
    /// retrying what fails (a server still starting, a cluster still electing) until the
    /// deadline; then exit.
    Migrate {
        /// Give up after this long (`90s`, `10m`).
        #[arg(long, default_value = "10m")]
        deadline: humantime::Duration,
    },
    /// Import the old service's table (telemetry_db.telemetry) through the live parser
    /// and scrubber, resuming where the last import stopped; prints the counts as JSON.
    Import(consumer::ImportArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli: runtime::service::Cli<Command> =
        runtime::cli!("Telemetry consumer: writes queued events to ClickHouse in batches.");
    let settings: consumer::Settings = runtime::service::start(&cli.config)?;
    match cli.command.unwrap_or(Command::Run) {
        Command::Migrate { deadline } => {
            // The streams too: with NATS users, the one job allowed to create them.
            let applied = consumer::migrate_all(&settings, deadline.into()).await?;
            tracing::info!(?applied, "migrations done; streams ready");
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
