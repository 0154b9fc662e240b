//! `make bench`: how fast the pipeline goes on this machine, next to what the same
//! machine can do at all, with the same servers, configuration and messages.
//!
//! Every figure is printed with its limit and the ratio between them, into
//! `target/bench/report.md` and `report.json`.

mod analysts;
mod cluster;
mod connections;
mod drain;
mod http1;
mod import;
mod ingest;
mod parse;
mod processes;
mod profile;
mod report;
mod scratch;
mod stats;
mod workload;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

// The services' allocator, so that what is measured is what runs.
runtime::global_allocator!();

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Where report.md and report.json go.
    #[arg(long, global = true, default_value = "target/bench")]
    out: PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Consumer: drain a backlog, next to a bare RowBinary insert and the peer's
    /// one-INSERT-per-event design.
    Drain {
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        /// Events inserted one at a time for the peer-design comparison.
        #[arg(long, default_value_t = 500)]
        single_inserts: u64,
    },
    /// Ingest: the load generator (throughput, latency, end to end, memory).
    Ingest {
        /// Seconds per phase (the 202-only limit, full load, half load).
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// Keep-alive clients.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
    },
    /// Ingest's memory with many keep-alive connections, each posting at the same time.
    Connections {
        #[arg(long, default_value_t = 5_000)]
        connections: usize,
        #[arg(long, default_value_t = 3)]
        rounds: usize,
    },
    /// Parsing and scrubbing on one core, next to decoding the JSON alone.
    Parse,
    /// Ingest on the local cluster (`make cluster`): three stream replicas against one.
    Cluster {
        #[arg(long, default_value_t = 15)]
        seconds: u64,
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
    },
    /// `consumer import` of a generated copy of the old service's table.
    Import {
        #[arg(long, default_value_t = 1_000_000)]
        rows: u64,
        #[arg(long, default_value_t = 10_000)]
        batch_rows: u64,
    },
    /// The analysts' cookbook (docs/analysts.md) over a year of raw events, under the
    /// analyst's limits.
    Analysts {
        #[arg(long, default_value_t = 5_000_000)]
        events: u64,
    },
    /// Aggregator: a year of raw events, the refresh cycle and the API's latency.
    Stats {
        #[arg(long, default_value_t = 5_000_000)]
        events: u64,
        /// Requests per document for the latency figures.
        #[arg(long, default_value_t = 1_000)]
        requests: usize,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut report = report::Report::load(&cli.out)?;
    match cli.command {
        Command::Drain {
            events,
            single_inserts,
        } => report.drain = Some(drain::run(events, single_inserts).await?),
        Command::Ingest {
            seconds,
            concurrency,
        } => report.ingest = Some(ingest::run(seconds, concurrency).await?),
        Command::Connections {
            connections,
            rounds,
        } => report.connections = Some(connections::run(connections, rounds).await?),
        Command::Parse => report.parse = Some(parse::run()),
        Command::Cluster {
            seconds,
            concurrency,
        } => report.cluster = Some(cluster::run(seconds, concurrency).await?),
        Command::Import { rows, batch_rows } => {
            report.import = Some(import::run(rows, batch_rows).await?);
        }
        Command::Analysts { events } => report.analysts = Some(analysts::run(events).await?),
        Command::Stats { events, requests } => {
            report.stats = Some(stats::run(events, requests).await?);
        }
    }
    report.save(&cli.out)?;
    println!("{}", report.markdown());
    Ok(())
}
