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
    /// A ClickHouse cluster to create the schema on (`ON CLUSTER`, Replicated engines,
    /// a Distributed `events_all`); empty for one server.
    pub cluster: String,
}

impl Default for ClickHouseSettings {
    fn default() -> Self {
        Self {
            url: "http://127.0.0.1:8123".into(),
            database: names::DATABASE.into(),
            user: "default".into(),
            password: Default::default(),
            cluster: String::new(),
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

    /// A client whose unqualified table names resolve in the pipeline's database.
    pub fn client(&self) -> Client {
        self.server_client().with_database(&self.database)
    }
}
