//! What every binary does before its own work: the allocator, the `--config` option,
//! loading and checking the settings, starting the logs, and binding its listener.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use tokio::net::TcpListener;

use crate::logging::LogSettings;
use crate::secrets::SecretError;
use crate::settings::SettingsError;

#[doc(hidden)]
pub use mimalloc;

/// Make mimalloc the binary's allocator. glibc's malloc and free were a fifth of ingest's
/// CPU under load (perf; see the bench report); mimalloc's per-thread free lists make
/// the many small, short-lived allocations of a request cheap, and it returns memory to
/// the OS as readily. A macro, because only the binary may declare its allocator.
#[macro_export]
macro_rules! global_allocator {
    () => {
        #[global_allocator]
        static GLOBAL: $crate::service::mimalloc::MiMalloc = $crate::service::mimalloc::MiMalloc;
    };
}

/// A binary's command line: `--config`, and its subcommand when it has some
/// ([`NoCommand`] when it has none). Read with [`cli!`](crate::cli), which names the
/// binary and its version.
#[derive(Debug, clap::Parser)]
pub struct Cli<C: clap::Subcommand> {
    #[command(flatten)]
    pub config: ConfigArg,
    #[command(subcommand)]
    pub command: Option<C>,
}

/// The subcommands of a binary that has none.
#[derive(Debug, clap::Subcommand)]
pub enum NoCommand {}

impl<C: clap::Subcommand> Cli<C> {
    /// The process's arguments, for the binary `name` at `version` that does `about`;
    /// help, the version or a mistake are printed and end the process, as clap does.
    pub fn parse_for(name: &'static str, version: &'static str, about: &'static str) -> Self {
        use clap::{CommandFactory, FromArgMatches};
        let matches = Self::command()
            .name(name)
            .version(version)
            .about(about)
            .get_matches();
        Self::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
    }
}

/// The binary's command line ([`service::Cli`](crate::service::Cli)), described by
/// `$about`, named and versioned as its package.
#[macro_export]
macro_rules! cli {
    ($about:literal) => {
        $crate::service::Cli::parse_for(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"), $about)
    };
}

/// The `--config` option of every binary, for `#[command(flatten)]`.
#[derive(Debug, clap::Args)]
pub struct ConfigArg {
    /// Configuration file (TOML); `TELEMETRY_CONFIG` names one too.
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
}

/// A service's settings, as the preamble needs them.
pub trait ServiceSettings: DeserializeOwned {
    /// Keys whose environment value is a comma-separated list.
    const LIST_KEYS: &'static [&'static str] = &[];
    fn log(&self) -> &LogSettings;
    /// Refuse a secret nobody chose (`secrets`).
    fn check_secrets(&self) -> Result<(), SecretError>;
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("binding {address}: {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
}

/// Load the settings from the layers, start the logs they ask for, then check the
/// secrets (after the logs, so that a refusal is logged as the operator expects).
pub fn start<S: ServiceSettings>(config: &ConfigArg) -> Result<S, StartError> {
    let settings: S = crate::settings::load(config.config.as_deref().map(Path::new), S::LIST_KEYS)?;
    crate::logging::init(settings.log());
    settings.check_secrets()?;
    Ok(settings)
}

/// Bind a listener with room for [`LISTEN_BACKLOG`](crate::http::LISTEN_BACKLOG) queued
/// connections, naming the address when that fails.
pub async fn bind(address: &str) -> Result<TcpListener, StartError> {
    let failed = |source| StartError::Bind {
        address: address.to_owned(),
        source,
    };
    let mut last = None;
    for addr in tokio::net::lookup_host(address).await.map_err(failed)? {
        match listen(addr) {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(e),
        }
    }
    Err(failed(last.unwrap_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::AddrNotAvailable, "no address to bind")
    })))
}

fn listen(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // As `TcpListener::bind` does: a restarted service rebinds at once.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(crate::http::LISTEN_BACKLOG)
}
