//! The event model of the telemetry pipeline: the event as stored ([`Event`]) and how a
//! client body becomes one ([`parse_event`]), which every service must agree on. Where
//! events go (the NATS stream, the ClickHouse schema and its migrations) is the
//! `topology` crate's.
//!
//! # Module map
//! Every module is public: each is a part of the vocabulary that another crate uses.
//! - The event: `event` ([`Event`], its kinds and statuses, its encoding and content id).
//! - From a client body to an event: [`parse`], reading the fields listed in [`body`]
//!   after [`repair`] has mended what bash interpolation breaks; [`ids`] maps the
//!   client's ids; the `scrub` crate removes what the processing record excludes;
//!   [`category`] reads why a run failed; [`text`] (the scrubber's) cuts to a length.

pub mod body;
pub mod category;
mod event;
pub mod ids;
pub mod parse;
pub mod repair;
/// Cutting text to a length: the scrubber's, so that both cut alike.
pub use scrub::text;

pub use event::{Event, Kind, Status, is_app_name};
pub use parse::{Rejection, RejectionCode, parse_event};
