//! The shared vocabulary of the telemetry pipeline.
//!
//! Everything that more than one service must agree on lives here, so that it cannot
//! drift: the event as stored ([`Event`]), how a client body becomes one ([`parse_event`]),
//! the names of the NATS stream and subjects ([`names`]) and the ClickHouse DDL
//! ([`migrations`]).

pub mod body;
pub mod category;
pub mod event;
pub mod ids;
pub mod migrations;
pub mod names;
pub mod parse;
pub mod repair;
pub mod scrub;
pub mod secret;
pub mod store;
#[cfg(feature = "jetstream")]
pub mod stream;
pub mod text;

pub use event::{Event, Kind, Status};
pub use parse::{Rejection, RejectionCode, parse_event};
