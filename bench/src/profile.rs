//! A CPU profile of a running process with `perf`, summarised by where the time goes
//! (a crate of ours or of a dependency, the allocator, libc, the kernel), so that the
//! report can say what a missed target is made of without anyone opening perf.
//!
//! perf is optional: without it (Debian's `linux-perf`), or without the permission to
//! sample another process, the report says so and the other figures stand.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Share {
    pub what: String,
    pub percent: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Profile {
    /// How long perf sampled.
    pub seconds: u64,
    /// Samples grouped by crate, library or the kernel, largest first.
    pub groups: Vec<Share>,
    /// The hottest functions.
    pub symbols: Vec<Share>,
    /// Why there is no profile, when there is none.
    pub missing: Option<String>,
}

/// Sample `pid` for `duration` (`perf record` at 499 Hz, no call graphs).
pub async fn record(pid: u32, binary: &str, duration: Duration, scratch: &Path) -> Profile {
    match record_inner(pid, binary, duration, scratch).await {
        Ok(p) => p,
        Err(why) => Profile {
            missing: Some(why),
            ..Default::default()
        },
    }
}

async fn record_inner(
    pid: u32,
    binary: &str,
    duration: Duration,
    scratch: &Path,
) -> Result<Profile, String> {
    let data = scratch.join("perf.data");
    let recorded = tokio::process::Command::new("perf")
        .args(["record", "-F", "499", "-p", &pid.to_string(), "-o"])
        .arg(&data)
        .args(["--", "sleep", &duration.as_secs().to_string()])
        .output()
        .await
        .map_err(|e| format!("perf could not be run ({e}); Debian's linux-perf has it"))?;
    if !recorded.status.success() {
        return Err(format!(
            "perf record failed: {}",
            String::from_utf8_lossy(&recorded.stderr).trim()
        ));
    }
    let report = Command::new("perf")
        .args([
            "report",
            "--no-children",
            "--sort",
            "dso,symbol",
            "--stdio",
            "-i",
        ])
        .arg(&data)
        .output()
        .map_err(|e| format!("perf report could not be run: {e}"))?;
    let _ = std::fs::remove_file(&data);
    let text = String::from_utf8_lossy(&report.stdout);
    let lines = parse(&text);
    if lines.is_empty() {
        return Err("perf recorded no samples".into());
    }
    Ok(Profile {
        seconds: duration.as_secs(),
        ..summarise(&lines, binary)
    })
}

/// `(percent, dso, symbol)` of each line of a flat `perf report`.
fn parse(text: &str) -> Vec<(f64, String, String)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let percent = words.next()?.strip_suffix('%')?.parse::<f64>().ok()?;
            let dso = words.next()?.to_owned();
            let _kind = words.next()?;
            // perf pads the line with `-` for columns it has no value for.
            let symbol = words
                .take_while(|w| *w != "-")
                .collect::<Vec<_>>()
                .join(" ");
            Some((percent, dso, symbol))
        })
        .collect()
}

fn summarise(lines: &[(f64, String, String)], binary: &str) -> Profile {
    let mut groups: HashMap<String, f64> = HashMap::new();
    for (percent, dso, symbol) in lines {
        *groups.entry(group(dso, symbol, binary)).or_default() += percent;
    }
    let mut groups: Vec<Share> = groups
        .into_iter()
        .map(|(what, percent)| Share { what, percent })
        .collect();
    groups.sort_by(|a, b| b.percent.total_cmp(&a.percent));
    groups.truncate(14);
    let symbols = lines
        .iter()
        .take(12)
        .map(|(percent, dso, symbol)| Share {
            what: format!("{} ({dso})", shorten(symbol)),
            percent: *percent,
        })
        .collect();
    Profile {
        seconds: 0,
        groups,
        symbols,
        missing: None,
    }
}

/// The crate a symbol of `binary` belongs to; the library or kernel otherwise.
fn group(dso: &str, symbol: &str, binary: &str) -> String {
    if dso.contains("kernel") {
        return "the kernel (system calls, TCP, scheduling)".into();
    }
    if symbol.starts_with("_mi_") || symbol.starts_with("mi_") {
        return "mimalloc (allocation)".into();
    }
    if dso != binary {
        return dso.to_owned();
    }
    let s = symbol
        .trim_start_matches("core::ptr::drop_in_place<")
        .trim_start_matches('<')
        .trim_start_matches("&mut ")
        .trim_start_matches('&');
    let krate = s.split("::").next().unwrap_or(s);
    match krate {
        "core" | "alloc" | "std" => format!(
            "std ({})",
            s.split("::").take(2).collect::<Vec<_>>().join("::")
        ),
        k if k.starts_with("F as ") || k.starts_with("T as ") => "generic adapters".into(),
        k => k.to_owned(),
    }
}

fn shorten(symbol: &str) -> String {
    const MAX: usize = 90;
    match symbol.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &symbol[..at]),
        None => symbol.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_samples_by_crate_library_and_kernel() {
        let text = "# comment\n\
            \x20   10.50%  ingest            [.] tokio::runtime::task::raw::poll  -  -\n\
            \x20    5.00%  ingest            [.] _mi_page_malloc_zero\n\
            \x20    4.00%  [kernel.kallsyms]  [k] tcp_sendmsg\n\
            \x20    3.00%  ingest            [.] <hyper::proto::h1::role::Server as hyper::proto::h1::Http1Transaction>::parse\n\
            \x20    2.00%  libc.so.6         [.] __memmove_evex_unaligned_erms\n\
            \x20    1.00%  ingest            [.] core::ptr::drop_in_place<schemas::event::Event>\n";
        let p = summarise(&parse(text), "ingest");
        let find = |name: &str| p.groups.iter().find(|g| g.what == name).map(|g| g.percent);
        assert_eq!(find("tokio"), Some(10.5));
        assert_eq!(find("mimalloc (allocation)"), Some(5.0));
        assert_eq!(
            find("the kernel (system calls, TCP, scheduling)"),
            Some(4.0)
        );
        assert_eq!(find("hyper"), Some(3.0));
        assert_eq!(find("libc.so.6"), Some(2.0));
        assert_eq!(find("schemas"), Some(1.0));
        assert_eq!(p.groups[0].what, "tokio");
        assert_eq!(p.symbols.len(), 6);
        assert_eq!(
            p.symbols[0].what,
            "tokio::runtime::task::raw::poll (ingest)"
        );
    }
}
