runtime::global_allocator!();

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli: runtime::service::Cli<runtime::service::NoCommand> = runtime::cli!(
        "Telemetry ingest: accepts events over HTTP and queues them durably in JetStream."
    );
    let settings: ingest::Settings = runtime::service::start(&cli.config)?;
    let listener = runtime::service::bind(&settings.ingest.listen).await?;
    ingest::run(settings, listener, runtime::shutdown::signal()).await?;
    Ok(())
}
