//! Service plumbing shared by the three binaries, so each of them is only its own logic.
//!
//! # Module map
//! - [`settings`]: layered configuration (defaults, file, `TELEMETRY__*` environment);
//!   [`secrets`] refuses to start with a secret nobody chose.
//! - [`logging`]: `tracing` as JSON lines or readable text.
//! - [`http`]: the server loop (header timeout, public and internal listeners);
//!   [`error_body`]: the one JSON error shape; [`ratelimit`]: per-client limits without
//!   the client's address; [`ops`]: metrics exposition and liveness.
//! - [`backoff`]: the one retry pacing; [`shutdown`]: the signal to stop.
//! - [`service`]: the preamble of every binary (allocator, `--config`, settings, logs,
//!   secrets, binding).

pub mod backoff;
pub mod error_body;
pub mod http;
pub mod logging;
pub mod ops;
pub mod ratelimit;
pub mod secrets;
pub mod service;
pub mod settings;
pub mod shutdown;
