//! What every request handler of the aggregator shares.

use std::sync::Arc;

use crate::cache::{DocumentCache, KnownApps};
use crate::documents::Documents;
use crate::settings::Settings;

#[derive(Clone)]
pub struct AppState {
    pub clickhouse: clickhouse::Client,
    pub documents: Arc<Documents>,
    pub settings: Arc<Settings>,
    pub cache: Arc<DocumentCache>,
    /// JetStream, for deletion requests; `None` while the admin API is switched off.
    pub queues: Option<Arc<crate::erasure::Queues>>,
    pub known_apps: Arc<KnownApps>,
}
