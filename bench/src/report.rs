//! The benchmark report: JSON for machines, Markdown for people, both from one struct.

use std::fmt::Write;
use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Report {
    /// What machine and when, so that numbers are read in context.
    pub machine: Option<Machine>,
    pub drain: Option<Drain>,
    pub stats: Option<Stats>,
    pub ingest: Option<Ingest>,
    pub parse: Option<Parse>,
    #[serde(default)]
    pub import: Option<Import>,
    #[serde(default)]
    pub cluster: Option<Cluster>,
    #[serde(default)]
    pub analysts: Option<Analysts>,
    #[serde(default)]
    pub connections: Option<Connections>,
}

/// Ingest's memory with a fixed number of open connections (`bench connections`).
#[derive(Debug, Serialize, Deserialize)]
pub struct Connections {
    pub connections: usize,
    /// Resident after a hundred events on one connection.
    pub idle_mb: f64,
    /// Resident with every connection open and none of them posted yet.
    pub connected_mb: f64,
    /// Resident once every connection has posted one event, a few hundred at a time.
    pub posted_once_mb: f64,
    pub rounds: Vec<ConnectionsRound>,
    /// The peak over the whole step (VmHWM).
    pub peak_mb: f64,
}

/// One round after that: every open connection posts one event at the same time.
#[derive(Debug, Serialize, Deserialize)]
pub struct ConnectionsRound {
    pub accepted: u64,
    /// Answered 503 by the load shedder (`ingest.max_concurrency`).
    pub shed: u64,
    pub failed: u64,
    pub open_after: usize,
    pub rss_after_mb: f64,
    pub peak_mb: f64,
}

impl Connections {
    fn markdown(&self, md: &mut String) {
        let _ = writeln!(
            md,
            "## Ingest's memory with {} open connections\n\nResident after warming up: {:.1} MB; with every connection open: {:.1} MB; once each has posted one event, a few hundred at a time: {:.1} MB; peak: **{:.1} MB** (target 50 MB, ratio {:.2}).\n\n| round | accepted | shed (503) | failed | open after | resident after MB | peak so far MB |\n|---|---|---|---|---|---|---|",
            self.connections,
            self.idle_mb,
            self.connected_mb,
            self.posted_once_mb,
            self.peak_mb,
            self.peak_mb / 50.0
        );
        for (k, r) in self.rounds.iter().enumerate() {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {:.1} | {:.1} |",
                k + 1,
                r.accepted,
                r.shed,
                r.failed,
                r.open_after,
                r.rss_after_mb,
                r.peak_mb
            );
        }
        let _ = writeln!(md);
    }
}

/// Ingest on the local cluster, one replica against three (`bench cluster`).
#[derive(Debug, Serialize, Deserialize)]
pub struct Cluster {
    pub seconds: u64,
    pub concurrency: usize,
    pub runs: Vec<ClusterRun>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ClusterRun {
    pub replicas: usize,
    pub accepted_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// `consumer import` of a generated copy of the old service's table (`bench import`).
#[derive(Debug, Serialize, Deserialize)]
pub struct Import {
    pub rows: u64,
    pub batch_rows: u64,
    pub seconds: f64,
    pub rows_per_s: f64,
    pub stored: u64,
    /// Rows the generator dated past the retention.
    pub expired: u64,
}

/// Parsing and scrubbing on one core (`bench parse`).
#[derive(Debug, Serialize, Deserialize)]
pub struct Parse {
    pub cases: Vec<ParseCase>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ParseCase {
    pub what: String,
    pub bytes: usize,
    /// Parse, normalise and scrub, µs per body.
    pub parse_us: f64,
    /// Decoding the same body into a `serde_json::Value`, µs per body.
    pub json_us: f64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Ingest {
    pub seconds: u64,
    pub concurrency: usize,
    pub accepted_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub half_load_per_s: f64,
    pub half_load_p50_ms: f64,
    pub half_load_p99_ms: f64,
    /// Requests at half load that took ingest over 25 ms, and JetStream publishes that
    /// did (ingest's histograms).
    #[serde(default)]
    pub half_load_over_25ms: u64,
    #[serde(default)]
    pub half_load_publish_over_25ms: u64,
    /// The same half load with the consumer paused: ingest's tail without the batch
    /// work of the consumer and ClickHouse on its cores.
    #[serde(default)]
    pub half_load_consumer_paused_p50_ms: f64,
    #[serde(default)]
    pub half_load_consumer_paused_p99_ms: f64,
    #[serde(default)]
    pub half_load_consumer_paused_over_25ms: u64,
    #[serde(default)]
    pub half_load_consumer_paused_publish_over_25ms: u64,
    pub e2e_p50_ms: f64,
    pub e2e_p99_ms: f64,
    /// An axum handler that only answers 202: the HTTP limit of the machine.
    pub axum_202_per_s: f64,
    /// Over the whole run, the half-load phases included.
    pub ingest_peak_rss_mb: f64,
    /// Up to the end of the full-load phase (its keep-alive connections only).
    #[serde(default)]
    pub ingest_peak_rss_full_load_mb: f64,
    /// Connections the open-loop generator opened at half load: one per request that
    /// found all of its sender's connections busy.
    #[serde(default)]
    pub half_load_connections: u64,
    pub ingest_cpu_s_per_100k: f64,
    pub consumer_peak_rss_mb: f64,
    pub consumer_cpu_s_per_100k: f64,
    /// Where the cores went: each process's CPU per accepted event, from the start of the
    /// full-load phase until the consumer had stored its backlog.
    #[serde(default)]
    pub cpu_split: Vec<ProcessCpu>,
    /// What ingest's CPU went to under full load (perf).
    #[serde(default)]
    pub profile: Option<crate::profile::Profile>,
    /// One event at a time on an idle pipeline.
    #[serde(default)]
    pub idle_p50_ms: f64,
    #[serde(default)]
    pub idle_p99_ms: f64,
    /// Events per JetStream message (group commit), by phase.
    #[serde(default)]
    pub events_per_message: Vec<MessageSizes>,
}

/// The events-per-message histogram of one phase.
#[derive(Debug, Serialize, Deserialize)]
pub struct MessageSizes {
    pub phase: String,
    pub messages: u64,
    pub mean: f64,
    /// Each bucket's upper bound and its share of the messages.
    pub shares: Vec<(f64, f64)>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ProcessCpu {
    pub process: String,
    pub us_per_event: f64,
    /// Its share of all the machine's cores during the phase measured.
    pub share_of_machine: f64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Machine {
    pub cores: usize,
    pub cpu: String,
    pub measured_at: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Drain {
    pub events: u64,
    pub payload_bytes_mean: u64,
    /// Bare JetStream async publish into the same stream definition: the queue's limit.
    pub jetstream_publish_per_s: f64,
    /// The consumer draining that backlog into ClickHouse.
    pub consumer_drain_rows_per_s: f64,
    /// The same rows inserted straight into the same table with RowBinary: the store's limit.
    pub bare_rowbinary_rows_per_s: f64,
    /// The peer's design: one INSERT per event.
    pub single_insert_events_per_s: f64,
    pub consumer_peak_rss_mb: f64,
    pub consumer_cpu_s_per_100k: f64,
    /// Where the cores went while the consumer drained the backlog.
    #[serde(default)]
    pub cpu_split: Vec<ProcessCpu>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Stats {
    pub events: u64,
    pub days: u64,
    pub generate_secs: f64,
    /// The first materialisation: every day of the year.
    pub backfill_secs: f64,
    pub backfill_days: u64,
    /// A refresh cycle once the old days are frozen: what `aggregator serve` does every
    /// `refresh_interval`.
    pub refresh_cycle_secs_median: f64,
    pub refresh_cycle_secs_max: f64,
    pub refresh_cycle_days: u64,
    pub latency: Vec<Latency>,
    /// `aggregator export`: every document of every repository and window, and every
    /// app's page.
    #[serde(default)]
    pub export_secs: f64,
    #[serde(default)]
    pub export_files: usize,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Latency {
    pub path: String,
    pub requests: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Report {
    /// The report the earlier steps of this run wrote, to add a section to; an empty one
    /// when there is none yet. A report that is there but cannot be read back is an
    /// error: starting afresh would drop the earlier steps' sections without a word.
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join("report.json");
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| {
                format!(
                    "{} cannot be read back; remove it to start a new report",
                    path.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    pub fn save(&mut self, dir: &Path) -> anyhow::Result<()> {
        self.machine = Some(Machine::here());
        std::fs::create_dir_all(dir)?;
        let json = serde_json::to_vec_pretty(self)?;
        // What the next step cannot read back must fail this one, where the cause is: a
        // figure that is not a number is written as `null`, which no f64 reads.
        serde_json::from_slice::<Self>(&json)
            .context("the report would not read back (a figure that is NaN or infinite?)")?;
        std::fs::write(dir.join("report.json"), json)?;
        std::fs::write(dir.join("report.md"), self.markdown())?;
        Ok(())
    }

    pub fn markdown(&self) -> String {
        let mut md = String::from("# Benchmark report\n\n");
        if let Some(m) = &self.machine {
            let _ = writeln!(
                md,
                "{} cores ({}), measured {}. NATS, ClickHouse, the services and the load generator share these cores.\n",
                m.cores, m.cpu, m.measured_at
            );
        }
        if let Some(c) = &self.cluster {
            let _ = writeln!(
                md,
                "## Ingest on the local cluster (three NATS servers), {} keep-alive clients, {} s each\n\n| stream replicas | accepted events/s | p50 ms | p99 ms |\n|---|---|---|---|",
                c.concurrency, c.seconds
            );
            for r in &c.runs {
                let _ = writeln!(
                    md,
                    "| {} | {:.0} | {:.1} | {:.1} |",
                    r.replicas, r.accepted_per_s, r.p50_ms, r.p99_ms
                );
            }
            if let (Some(one), Some(three)) = (
                c.runs.iter().find(|r| r.replicas == 1),
                c.runs.iter().find(|r| r.replicas == 3),
            ) {
                let _ = writeln!(
                    md,
                    "\nR3/R1: throughput {:.2}, p99 {:.2}. The three servers share this machine's cores, so the ratio, not the figures, is what carries over.\n",
                    three.accepted_per_s / one.accepted_per_s,
                    three.p99_ms / one.p99_ms
                );
            }
        }
        if let Some(i) = &self.import {
            let _ = writeln!(
                md,
                "## Import of the old service's table\n\n{} rows ({} stored, {} past the retention), {} a batch: {:.1} s, **{:.0} rows/s**, every row parsed, scrubbed, checked against what is stored and inserted.\n",
                i.rows, i.stored, i.expired, i.batch_rows, i.seconds, i.rows_per_s
            );
        }
        if let Some(i) = &self.ingest {
            let _ = writeln!(
                md,
                "## Ingest: {} keep-alive clients, {} s per phase, durable acks\n",
                i.concurrency, i.seconds
            );
            let _ = writeln!(
                md,
                "| figure | value | limit or target | ratio |\n|---|---|---|---|"
            );
            let _ = writeln!(
                md,
                "| accepted events/s (202 after the JetStream ack) | {:.0} | an axum handler that only answers 202: {:.0}/s | {:.2} |",
                i.accepted_per_s,
                i.axum_202_per_s,
                i.accepted_per_s / i.axum_202_per_s
            );
            if let Some(d) = &self.drain {
                let _ = writeln!(
                    md,
                    "| accepted events/s | {:.0} | bare JetStream async publish: {:.0}/s | {:.2} |",
                    i.accepted_per_s,
                    d.jetstream_publish_per_s,
                    i.accepted_per_s / d.jetstream_publish_per_s
                );
            }
            let _ = writeln!(
                md,
                "| accepted events/s | {:.0} | target 15 000/s | {:.2} |",
                i.accepted_per_s,
                i.accepted_per_s / 15_000.0
            );
            let _ = writeln!(
                md,
                "| a single event at idle (one at a time, 10 ms apart): p50 / p99 | {:.2} / {:.2} ms | | |",
                i.idle_p50_ms, i.idle_p99_ms
            );
            let _ = writeln!(
                md,
                "| HTTP latency at full load: p50 / p99 / p99.9 | {:.2} / {:.2} / {:.2} ms | | |",
                i.p50_ms, i.p99_ms, i.p999_ms
            );
            let _ = writeln!(
                md,
                "| p99 at half load ({:.0}/s; p50 {:.2} ms) | {:.2} ms | target 25 ms | {:.2} |",
                i.half_load_per_s,
                i.half_load_p50_ms,
                i.half_load_p99_ms,
                i.half_load_p99_ms / 25.0
            );
            let _ = writeln!(
                md,
                "| requests at half load over 25 ms in ingest / JetStream publishes (messages) over 25 ms | {} / {} | | |",
                i.half_load_over_25ms, i.half_load_publish_over_25ms
            );
            let _ = writeln!(
                md,
                "| p99 at half load with the consumer paused (p50 {:.2} ms) | {:.2} ms | target 25 ms | {:.2} |",
                i.half_load_consumer_paused_p50_ms,
                i.half_load_consumer_paused_p99_ms,
                i.half_load_consumer_paused_p99_ms / 25.0
            );
            let _ = writeln!(
                md,
                "| the same, requests over 25 ms in ingest / JetStream publishes over 25 ms | {} / {} | | |",
                i.half_load_consumer_paused_over_25ms,
                i.half_load_consumer_paused_publish_over_25ms
            );
            let _ = writeln!(
                md,
                "| end to end, 202 → row visible in ClickHouse: p50 / p99 | {:.0} / {:.0} ms | target p99 2 000 ms | {:.2} |",
                i.e2e_p50_ms,
                i.e2e_p99_ms,
                i.e2e_p99_ms / 2000.0
            );
            let _ = writeln!(
                md,
                "| ingest peak RSS at full load ({} keep-alive connections) | {:.1} MB | target 50 MB | {:.2} |",
                i.concurrency,
                i.ingest_peak_rss_full_load_mb,
                i.ingest_peak_rss_full_load_mb / 50.0
            );
            let _ = writeln!(
                md,
                "| ingest peak RSS over the run (at half load the generator opened {} connections) | {:.1} MB | target 50 MB | {:.2} |",
                i.half_load_connections,
                i.ingest_peak_rss_mb,
                i.ingest_peak_rss_mb / 50.0
            );
            let _ = writeln!(
                md,
                "| consumer peak RSS (same run) | {:.1} MB | target 150 MB | {:.2} |",
                i.consumer_peak_rss_mb,
                i.consumer_peak_rss_mb / 150.0
            );
            let _ = writeln!(
                md,
                "| CPU per 100 000 events: ingest / consumer | {:.2} s / {:.2} s | | |\n",
                i.ingest_cpu_s_per_100k, i.consumer_cpu_s_per_100k
            );
            message_sizes_table(&mut md, &i.events_per_message);
            cpu_table(
                &mut md,
                &i.cpu_split,
                "Where the cores went at full load (CPU per accepted event, until its row was stored; share of all cores during the phase)",
                Some(15_000.0),
            );
            if let Some(p) = &i.profile {
                profile_tables(&mut md, p);
            }
        }
        if let Some(d) = &self.drain {
            let _ = writeln!(
                md,
                "## Consumer: draining a backlog of {} events\n",
                d.events
            );
            let _ = writeln!(md, "| figure | value | limit | ratio |\n|---|---|---|---|");
            let _ = writeln!(
                md,
                "| consumer drain (JetStream → ClickHouse, acked) | {:.0} rows/s | bare RowBinary insert {:.0} rows/s | {:.2} |",
                d.consumer_drain_rows_per_s,
                d.bare_rowbinary_rows_per_s,
                d.consumer_drain_rows_per_s / d.bare_rowbinary_rows_per_s
            );
            let _ = writeln!(
                md,
                "| filling the backlog (bare JetStream async publish, {} events in {} B messages) | {:.0} events/s | | |",
                crate::workload::GROUP,
                d.payload_bytes_mean,
                d.jetstream_publish_per_s
            );
            let _ = writeln!(
                md,
                "| the peer's design: one INSERT per event | {:.0} events/s | consumer drain {:.0} rows/s | {:.4} |",
                d.single_insert_events_per_s,
                d.consumer_drain_rows_per_s,
                d.single_insert_events_per_s / d.consumer_drain_rows_per_s
            );
            let _ = writeln!(
                md,
                "| consumer peak RSS | {:.1} MB | target 150 MB | {:.2} |",
                d.consumer_peak_rss_mb,
                d.consumer_peak_rss_mb / 150.0
            );
            let _ = writeln!(
                md,
                "| consumer CPU per 100 000 events | {:.2} s | | |\n",
                d.consumer_cpu_s_per_100k
            );
            cpu_table(
                &mut md,
                &d.cpu_split,
                "Where the cores went during the drain (CPU per stored row; share of all cores while draining)",
                Some(150_000.0),
            );
        }
        if let Some(p) = &self.parse {
            let _ = writeln!(
                md,
                "## Parsing and scrubbing, one core\n\n| body | bytes | parse, normalise, scrub | limit: decoding the JSON alone | ratio |\n|---|---|---|---|---|"
            );
            for c in &p.cases {
                let _ = writeln!(
                    md,
                    "| {} | {} | {:.1} µs | {:.1} µs | {:.1} |",
                    c.what,
                    c.bytes,
                    c.parse_us,
                    c.json_us,
                    c.parse_us / c.json_us
                );
            }
            let _ = writeln!(md);
        }
        if let Some(a) = &self.analysts {
            a.markdown(&mut md);
        }
        if let Some(c) = &self.connections {
            c.markdown(&mut md);
        }
        if let Some(s) = &self.stats {
            let _ = writeln!(
                md,
                "## Aggregator: a year of data ({} raw events over {} days)\n",
                s.events, s.days
            );
            let _ = writeln!(md, "| figure | value | target | ratio |\n|---|---|---|---|");
            let _ = writeln!(
                md,
                "| refresh cycle (the {} days not yet frozen), median of 3 | {:.2} s (max {:.2} s) | 5 s | {:.2} |",
                s.refresh_cycle_days,
                s.refresh_cycle_secs_median,
                s.refresh_cycle_secs_max,
                s.refresh_cycle_secs_max / 5.0
            );
            let _ = writeln!(
                md,
                "| first materialisation of all {} days | {:.1} s | | |",
                s.backfill_days, s.backfill_secs
            );
            let _ = writeln!(
                md,
                "| `aggregator export` (24 scopes, {} files) | {:.1} s | | |",
                s.export_files, s.export_secs
            );
            for l in &s.latency {
                let _ = writeln!(
                    md,
                    "| `GET {}` ({} requests): p50 {:.2} ms, max {:.2} ms | p99 {:.2} ms | 50 ms | {:.2} |",
                    l.path,
                    l.requests,
                    l.p50_ms,
                    l.max_ms,
                    l.p99_ms,
                    l.p99_ms / 50.0
                );
            }
            let _ = writeln!(
                md,
                "\nGenerating the raw events inside ClickHouse took {:.1} s.\n",
                s.generate_secs
            );
        }
        md
    }
}

impl Machine {
    fn here() -> Self {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|m| m.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown CPU".into());
        Self {
            cores: cores(),
            cpu,
            measured_at: time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
        }
    }
}

pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Each process's CPU per event, and what that total allows on this machine.
fn cpu_table(md: &mut String, split: &[ProcessCpu], caption: &str, target_per_s: Option<f64>) {
    if split.is_empty() {
        return;
    }
    let total: f64 = split.iter().map(|p| p.us_per_event).sum();
    let share: f64 = split.iter().map(|p| p.share_of_machine).sum();
    let _ = writeln!(
        md,
        "{caption}:\n\n| process | µs of CPU per event | share of the machine |\n|---|---|---|"
    );
    for p in split {
        let _ = writeln!(
            md,
            "| {} | {:.1} | {:.0} % |",
            p.process,
            p.us_per_event,
            p.share_of_machine * 100.0
        );
    }
    let cores = cores() as f64;
    let _ = write!(
        md,
        "| all | {total:.1} | {:.0} % |\n\nAt {total:.1} µs of CPU per event, {cores} cores carry at most {:.0} events/s",
        share * 100.0,
        cores * 1e6 / total.max(1e-9),
    );
    match target_per_s {
        Some(target) => {
            let _ = writeln!(
                md,
                "; {target:.0}/s would need at most {:.1} µs per event in all processes together.\n",
                cores * 1e6 / target
            );
        }
        None => {
            let _ = writeln!(md, ".\n");
        }
    }
}

fn profile_tables(md: &mut String, p: &crate::profile::Profile) {
    if let Some(why) = &p.missing {
        let _ = writeln!(md, "No CPU profile of ingest: {why}.\n");
        return;
    }
    let _ = writeln!(
        md,
        "What ingest's CPU goes to at full load (`perf record`, {} s, samples by crate, library or the kernel):\n\n| where | share of ingest's samples |\n|---|---|",
        p.seconds
    );
    for g in &p.groups {
        let _ = writeln!(md, "| {} | {:.1} % |", g.what, g.percent);
    }
    let _ = writeln!(
        md,
        "\nThe hottest functions:\n\n| function | share |\n|---|---|"
    );
    for s in &p.symbols {
        let _ = writeln!(
            md,
            "| `{}` | {:.1} % |",
            s.what.replace('|', "\\|"),
            s.percent
        );
    }
    let _ = writeln!(md);
}

/// Events per message, one column per phase, one row per histogram bucket.
fn message_sizes_table(md: &mut String, phases: &[MessageSizes]) {
    let Some(first) = phases.first() else {
        return;
    };
    let _ = writeln!(
        md,
        "Events per JetStream message (ingest's group commit; share of the messages):\n"
    );
    let mut header = String::from("| events in a message |");
    let mut rule = String::from("|---|");
    for p in phases {
        let _ = write!(header, " {} |", p.phase);
        rule.push_str("---|");
    }
    let _ = writeln!(md, "{header}\n{rule}");
    let mut lower = 0.0;
    for (i, (bound, _)) in first.shares.iter().enumerate() {
        let label = if bound.is_infinite() {
            format!("over {lower}")
        } else if *bound - lower <= 1.0 {
            format!("{bound}")
        } else {
            format!("{}–{bound}", lower + 1.0)
        };
        let mut row = format!("| {label} |");
        for p in phases {
            let share = p.shares.get(i).map_or(0.0, |(_, s)| *s);
            let _ = write!(row, " {:.1} % |", share * 100.0);
        }
        let _ = writeln!(md, "{row}");
        lower = *bound;
    }
    let mut means = String::from("| messages; mean events per message |");
    for p in phases {
        let _ = write!(means, " {}; {:.1} |", p.messages, p.mean);
    }
    let _ = writeln!(md, "{means}\n");
}

/// The analysts' cookbook over a year (`bench analysts`).
#[derive(Debug, Serialize, Deserialize)]
pub struct Analysts {
    pub events: u64,
    pub runs: u64,
    /// The analyst profile's settings each query ran under.
    pub limits: Vec<(String, String)>,
    pub queries: Vec<CookbookQuery>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct CookbookQuery {
    pub id: String,
    pub secs: f64,
    pub read_rows: u64,
    pub read_bytes: u64,
    pub result_rows: u64,
    /// Peak memory, when the server reports it in its summary header.
    pub memory_bytes: Option<u64>,
}

impl Analysts {
    fn markdown(&self, md: &mut String) {
        let _ = writeln!(
            md,
            "## Analysts: the cookbook of docs/analysts.md over a year ({} raw events, {} runs), under the analyst's limits\n\n| query | time | rows read | MB read | peak memory MB | rows returned |\n|---|---|---|---|---|---|",
            self.events, self.runs
        );
        for q in &self.queries {
            let memory = q
                .memory_bytes
                .map_or("n/a".to_owned(), |m| format!("{:.0}", m as f64 / 1e6));
            let _ = writeln!(
                md,
                "| `{}` | {:.2} s | {} | {:.0} | {} | {} |",
                q.id,
                q.secs,
                q.read_rows,
                q.read_bytes as f64 / 1e6,
                memory,
                q.result_rows
            );
        }
        let limit = |name: &str| {
            self.limits
                .iter()
                .find(|(k, _)| k == name)
                .and_then(|(_, v)| v.parse::<f64>().ok())
        };
        let worst = |f: fn(&CookbookQuery) -> f64| self.queries.iter().map(f).fold(0.0, f64::max);
        let mut ratios = Vec::new();
        for (name, value) in [
            ("max_rows_to_read", worst(|q| q.read_rows as f64)),
            ("max_bytes_to_read", worst(|q| q.read_bytes as f64)),
            ("max_execution_time", worst(|q| q.secs)),
            (
                "max_memory_usage",
                worst(|q| q.memory_bytes.unwrap_or_default() as f64),
            ),
        ] {
            if let Some(l) = limit(name) {
                ratios.push(format!("{name} {:.2}", value / l));
            }
        }
        let _ = writeln!(
            md,
            "\nThe heaviest query against each limit: {}. Limits: {}.\n",
            ratios.join(", "),
            self.limits
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}

#[cfg(test)]
mod reading_back {
    use super::*;

    #[test]
    fn a_report_reads_back_and_one_that_would_not_is_refused_when_saved() {
        let dir = std::env::temp_dir().join(format!("bench-report-{}", std::process::id()));
        let mut report = Report {
            analysts: Some(Analysts {
                events: 5,
                runs: 1,
                limits: vec![("max_threads".into(), "2".into())],
                queries: vec![CookbookQuery {
                    id: "q".into(),
                    secs: 0.5,
                    read_rows: 5,
                    read_bytes: 50,
                    result_rows: 1,
                    memory_bytes: None,
                }],
            }),
            ..Report::default()
        };
        report.save(&dir).unwrap();
        let back = Report::load(&dir).unwrap();
        assert_eq!(back.analysts.unwrap().queries[0].read_rows, 5);

        if let Some(a) = report.analysts.as_mut() {
            a.queries[0].secs = f64::NAN;
        }
        assert!(
            report.save(&dir).is_err(),
            "a NaN would be an unreadable report"
        );
        // The earlier report is still there, and whole.
        assert!(Report::load(&dir).unwrap().analysts.is_some());

        std::fs::write(dir.join("report.json"), b"{not json").unwrap();
        assert!(
            Report::load(&dir).is_err(),
            "an unreadable report is an error"
        );
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            Report::load(&dir).unwrap().analysts.is_none(),
            "none yet: a new one"
        );
    }
}
