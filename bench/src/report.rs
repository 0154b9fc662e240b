//! The benchmark report: JSON for machines, Markdown for people, both from one struct.

use std::fmt::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Report {
    /// What machine and when, so that numbers are read in context.
    pub machine: Option<Machine>,
    pub drain: Option<Drain>,
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
}

impl Report {
    pub fn load(dir: &Path) -> Self {
        std::fs::read(dir.join("report.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    pub fn save(&mut self, dir: &Path) -> anyhow::Result<()> {
        self.machine = Some(Machine::here());
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("report.json"), serde_json::to_vec_pretty(self)?)?;
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
                "| filling the backlog (bare JetStream async publish, {} B messages) | {:.0} msg/s | | |",
                d.payload_bytes_mean, d.jetstream_publish_per_s
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
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            cpu,
            measured_at: time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
        }
    }
}
