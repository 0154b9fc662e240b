//! Service plumbing shared by the three binaries, so each of them is only its own logic:
//! layered configuration ([`settings`]), logs ([`logging`]), Prometheus exposition and
//! the operational routes ([`ops`]), and the shutdown signal ([`shutdown`]).

pub mod backoff;
pub mod error_body;
pub mod http;
pub mod logging;
pub mod ops;
pub mod ratelimit;
pub mod secrets;
pub mod settings;
pub mod shutdown;
