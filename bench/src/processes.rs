//! The processes that share the cores during a benchmark, and what they used.

use std::time::Duration;

use crate::report::ProcessCpu;

pub struct Processes {
    names: Vec<&'static str>,
    pids: Vec<u32>,
}

impl Processes {
    /// `own` (the services this benchmark started), this load generator, and the
    /// stack's NATS and ClickHouse when their pid files are found (`make stack` writes
    /// them into `.stack/`, or `STACK_DIR`).
    pub fn find(own: &[(&'static str, u32)]) -> Self {
        let mut names: Vec<&'static str> = own.iter().map(|(n, _)| *n).collect();
        let mut pids: Vec<u32> = own.iter().map(|(_, p)| *p).collect();
        names.push("load generator");
        pids.push(std::process::id());
        let dir = std::env::var("STACK_DIR").unwrap_or_else(|_| ".stack".into());
        for (name, file) in [
            ("nats-server", "nats.pid"),
            ("ClickHouse (chdb)", "clickhouse.pid"),
        ] {
            if let Some(pid) = std::fs::read_to_string(format!("{dir}/{file}"))
                .ok()
                .and_then(|s| s.trim().parse().ok())
            {
                names.push(name);
                pids.push(pid);
            }
        }
        Self { names, pids }
    }

    /// CPU seconds used so far by each, in the order of `names`.
    pub fn cpu(&self) -> Vec<f64> {
        self.pids.iter().map(|pid| stats(*pid).1).collect()
    }

    /// Each process's CPU per event from `before` to `after`, and its share of all
    /// cores from `before` to `during` (a phase of `phase`).
    pub fn split(
        &self,
        before: &[f64],
        during: &[f64],
        after: &[f64],
        events: u64,
        phase: Duration,
    ) -> Vec<ProcessCpu> {
        self.names
            .iter()
            .enumerate()
            .map(|(k, name)| ProcessCpu {
                process: (*name).to_owned(),
                us_per_event: (after[k] - before[k]) * 1e6 / (events as f64).max(1.0),
                share_of_machine: (during[k] - before[k])
                    / (phase.as_secs_f64().max(1e-9) * crate::report::cores() as f64),
            })
            .collect()
    }
}

/// Peak resident memory (MB) and CPU seconds used so far, from /proc.
pub fn stats(pid: u32) -> (f64, f64) {
    let rss_kb = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .unwrap_or(0.0);
    let ticks = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let fields: Vec<&str> = s.rsplit(')').next()?.split_whitespace().collect();
            // After the command: state is field 3, utime 14 and stime 15 (1-based).
            Some(fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?)
        })
        .unwrap_or(0.0);
    (rss_kb / 1024.0, ticks / clock_ticks())
}

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}
