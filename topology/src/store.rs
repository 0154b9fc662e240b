//! Where and how to reach ClickHouse: the `[clickhouse]` settings section, shared by the
//! consumer and the aggregator.

use clickhouse::{Client, Compression};
use serde::{Deserialize, Serialize};

use crate::names;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct ClickHouseSettings {
    /// HTTP interface URL.
    pub url: String,
    pub database: String,
    pub user: String,
    pub password: crate::secret::Secret,
    /// A ClickHouse cluster (its name in `remote_servers`); empty for one server. On a
    /// cluster the raw events are written and read through the Distributed `events_all`.
    pub cluster: String,
    /// With `cluster`: create the schema once `ON CLUSTER` with Replicated engines (needs
    /// ClickHouse Keeper), or, when false, on the node `url` names only; `consumer
    /// migrate` then runs once per node (shards without replication).
    pub on_cluster: bool,
    /// With `cluster` and without `on_cluster`: the HTTP URL of every shard, so that an
    /// erasure deletes on each of them (a delete cannot go through the Distributed
    /// table). Empty: erasures are refused on such a cluster.
    pub shard_urls: Vec<String>,
}

impl Default for ClickHouseSettings {
    fn default() -> Self {
        Self {
            url: "http://127.0.0.1:8123".into(),
            database: names::DATABASE.into(),
            user: "default".into(),
            password: Default::default(),
            cluster: String::new(),
            on_cluster: true,
            shard_urls: Vec::new(),
        }
    }
}

impl ClickHouseSettings {
    /// A client of the server, with no database selected (for `CREATE DATABASE`).
    pub fn server_client(&self) -> Client {
        Client::default()
            .with_url(&self.url)
            .with_user(&self.user)
            .with_password(self.password.expose())
            // LZ4 both ways: inserts are compressed on the wire, and so are results.
            .with_compression(Compression::Lz4)
    }

    /// A client whose unqualified table names resolve in the pipeline's database. On a
    /// cluster an insert through the Distributed table returns only once every shard has
    /// its rows: an acknowledged event is then stored, not queued on the way.
    pub fn client(&self) -> Client {
        let client = self.server_client().with_database(&self.database);
        if self.cluster.is_empty() {
            client
        } else {
            client.with_setting("distributed_foreground_insert", "1")
        }
    }

    /// A client of each shard of `shard_urls`, in the pipeline's database, as this user.
    pub fn shard_clients(&self) -> Vec<Client> {
        self.shard_urls
            .iter()
            .map(|url| {
                Self {
                    url: url.clone(),
                    cluster: String::new(),
                    ..self.clone()
                }
                .client()
            })
            .collect()
    }

    /// How the schema is laid out over servers.
    pub fn layout(&self) -> crate::migrations::Cluster<'_> {
        crate::migrations::Cluster {
            name: &self.cluster,
            on_cluster: self.on_cluster,
        }
    }

    /// The table the raw events are written to and read from: `events`, or on a cluster
    /// the Distributed `events_all` over every shard.
    pub fn events_table(&self) -> &'static str {
        if self.cluster.is_empty() {
            names::EVENTS_TABLE
        } else {
            names::EVENTS_ALL_TABLE
        }
    }
}
