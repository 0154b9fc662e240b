//! Showing how an import goes: a progress bar on a terminal, log lines otherwise.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use super::ImportReport;

/// How often a log line reports progress when there is no terminal to draw on.
const LOG_EVERY: Duration = Duration::from_secs(5);

pub struct Progress {
    bar: Option<ProgressBar>,
    started: Instant,
    logged: Instant,
}

impl Progress {
    /// `total`: the rows there are to read.
    pub fn new(total: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total);
            if let Ok(style) = ProgressStyle::with_template(
                "{elapsed_precise} [{bar:40}] {human_pos}/{human_len} rows, {per_sec}, eta {eta}  {msg}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        let now = Instant::now();
        Self {
            bar,
            started: now,
            logged: now,
        }
    }

    pub fn update(&mut self, report: &ImportReport) {
        match &self.bar {
            Some(bar) => {
                bar.set_position(report.read);
                bar.set_message(format!(
                    "stored {}, already stored {}, skipped {}",
                    report.stored,
                    report.already_stored,
                    report.skipped()
                ));
            }
            None if self.logged.elapsed() >= LOG_EVERY => {
                self.logged = Instant::now();
                self.log("importing", report);
            }
            None => {}
        }
    }

    pub fn finish(&self, report: &ImportReport) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        self.log("import finished", report);
    }

    fn log(&self, message: &str, report: &ImportReport) {
        let seconds = self.started.elapsed().as_secs_f64();
        tracing::info!(
            read = report.read,
            stored = report.stored,
            already_stored = report.already_stored,
            expired = report.expired,
            rejected = %report.rejected_summary(),
            rows_per_second = (report.read as f64 / seconds.max(1e-3)).round(),
            "{message}"
        );
    }
}
