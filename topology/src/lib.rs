//! Where events go, as every service must agree on it: the names of the NATS stream and
//! subjects ([`names`]), the JetStream stream definitions and NATS settings ([`stream`]),
//! the ClickHouse settings ([`store`]) and schema ([`migrations`]: versioned SQL files in
//! `sql/`, applied in order and recorded, one migrator at a time under the [`lease`]).
//! [`secret`]: a setting whose `Debug` and logs never show its value.
//!
//! The event itself is the `schemas` crate's; this crate builds on it (the exit codes'
//! table), never the other way round.

pub mod lease;
pub mod migrations;
pub mod names;
pub mod secret;
pub mod store;
#[cfg(feature = "jetstream")]
pub mod stream;
