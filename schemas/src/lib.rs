//! The shared vocabulary of the telemetry pipeline.
//!
//! Everything that more than one service must agree on lives here, so that it cannot
//! drift: the event as stored ([`Event`]), how a client body becomes one ([`parse_event`]),
//! the names of the NATS stream and subjects ([`names`]) and the ClickHouse DDL
//! ([`migrations`]).
//!
//! # Module map
//! Every module is public: each is a part of the vocabulary that another crate uses.
//! - The event: `event` ([`Event`], its kinds and statuses, its encoding and content id).
//! - From a client body to an event: [`parse`], reading the fields listed in [`body`]
//!   after [`repair`] has mended what bash interpolation breaks; [`ids`] maps the
//!   client's ids; the `scrub` crate removes what the processing record excludes;
//!   [`category`] reads why a run failed; [`text`] (the scrubber's) cuts to a length.
//! - Where events go: [`names`] (stream, subjects, table), [`stream`] (the JetStream
//!   stream definitions and NATS settings), [`store`] (the ClickHouse settings) and
//!   [`migrations`] (the DDL, applied in order and recorded, one migrator at a time
//!   under the [`lease`]).
//! - [`secret`]: a setting whose `Debug` and logs never show its value.

pub mod body;
pub mod category;
mod event;
pub mod ids;
pub mod lease;
pub mod migrations;
pub mod names;
pub mod parse;
pub mod repair;
pub mod secret;
pub mod store;
#[cfg(feature = "jetstream")]
pub mod stream;
/// Cutting text to a length: the scrubber's, so that both cut alike.
pub use scrub::text;

pub use event::{Event, Kind, Status};
pub use parse::{Rejection, RejectionCode, parse_event};
