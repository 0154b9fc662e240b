//! Harness for the end-to-end tests: ingest, consumer and aggregator run in-process
//! against the real NATS JetStream and ClickHouse of the local stack (`make stack`).
//!
//! Each service logs in as itself, as compose runs it: its own NATS user on a NATS
//! server of the pipeline's own with compose's permissions, and its own ClickHouse user
//! with the production grants on a database of the pipeline's own (a test slot). So tests
//! run in parallel without seeing each other's events, and what a service may do in a
//! test is what it may do in production.
//!
//! # Module map
//! - `pipeline`: [`Pipeline`], the three services of one test, and what it asks of them.
//! - `logins`: who each service logs in as; the test slots; the operator's logins.
//! - [`old_service`]: the old service's table, for `consumer import`.
//! - `servers`: servers a test owns as child processes ([`NatsServer`],
//!   [`ClickHouseServer`], one [`ChildServer`] type underneath) and the consumer binary
//!   as a process ([`ConsumerProcess`]).
//! - `stack`: where the local stack, the local cluster and the workspace's binaries are.
//! - `wait`: [`poll`], waiting with a deadline. `checks`: [`Checks`], several checks over
//!   one seeded fixture, each reported on its own.
//! - `workload`: synthetic events, [`load`], and reading run counts.
//! - [`analysts`]: docs/analysts.md read as data (the cookbook, the schema reference)
//!   and the analysts' limits.
//! - [`corpus`] and [`seeded`]: the texts of the scrubbing tests and a seeded set of runs
//!   with known statistics.

pub mod analysts;
mod checks;
pub mod corpus;
mod logins;
pub mod old_service;
mod pipeline;
pub mod seeded;
mod servers;
mod stack;
mod wait;
mod workload;

pub use checks::Checks;
pub use logins::{Slot, clickhouse_admin, dev_password, nats_admin, nats_as};
pub use pipeline::{ADMIN_TOKEN, Pipeline, migrator};
pub use servers::{ChildServer, ClickHouseServer, ConsumerProcess, KillOnDrop, NatsServer};
pub use stack::{
    CLUSTER, binary, clickhouse_url, cluster, cluster_nats_url, cluster_shard_urls, free_port,
    workspace_root,
};
pub use wait::poll;
pub use workload::{
    COUNT_NAMES, installing_with, load, metric_value, queued_payload, run_counts, stored_event,
    synthetic_event,
};
