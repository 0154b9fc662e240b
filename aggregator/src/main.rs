use std::path::PathBuf;

use clap::Subcommand;

runtime::global_allocator!();

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
    let cli: runtime::service::Cli<Command> =
        runtime::cli!("Telemetry aggregator: anonymous statistics for the public dashboard.");
    let settings: aggregator::Settings = runtime::service::start(&cli.config)?;
    let epsilon = settings.aggregator.noise_epsilon;
    anyhow::ensure!(
        epsilon.is_finite() && epsilon > 0.0,
        "aggregator.noise_epsilon must be a positive number, not {epsilon}"
    );
    if settings.aggregator.exact_counts {
        tracing::warn!(
            "aggregator.exact_counts is on: the public counts carry no noise, which only tests should do"
        );
    }
    match cli.command.unwrap_or(Command::Serve) {
        Command::Refresh => {
            let report = settings
                .refresh()
                .run(
                    &settings.clickhouse.client(),
                    time::OffsetDateTime::now_utc(),
                )
                .await?;
            tracing::info!(?report, "statistics refreshed");
        }
        Command::Export { out } => {
            let documents =
                aggregator::Documents::new(settings.clickhouse.client(), &settings.aggregator);
            let report = aggregator::export(&documents, &out).await?;
            tracing::info!(files = report.files, out = %out.display(), "statistics exported");
        }
        Command::Serve => {
            let listener = runtime::service::bind(&settings.aggregator.listen).await?;
            aggregator::serve(settings, listener, runtime::shutdown::signal()).await?;
        }
    }
    Ok(())
}
