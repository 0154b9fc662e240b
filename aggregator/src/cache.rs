//! What the statistics API keeps in memory between refreshes: the serialised documents
//! ([`DocumentCache`]) and the names of the apps the statistics know ([`KnownApps`]).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use time::OffsetDateTime;

/// Serialised documents of the current materialisation. A document depends only on the
/// materialised tables, its window and its app, so it is built once per refresh and then
/// served from memory: the statistics store is asked only when the statistics were last
/// materialised (one small query), which keeps the answers exact right after a refresh
/// by any process. Bounded: cleared on every new materialisation, and when full.
#[derive(Default)]
pub struct DocumentCache {
    inner: Mutex<CacheInner>,
}

#[derive(Default)]
struct CacheInner {
    as_of: Option<OffsetDateTime>,
    documents: HashMap<String, Arc<Vec<u8>>>,
}

/// The apps the statistics have ever counted, so that a request for any other name is a
/// 404 from memory: names are free to invent, and each would otherwise cost statistics
/// queries. The set is taken again when it is older than [`KNOWN_APPS_FRESH`] and the
/// statistics have been materialised since, so a new app is known within that time.
#[derive(Default)]
pub struct KnownApps {
    inner: Mutex<Option<Known>>,
}

struct Known {
    checked: Instant,
    as_of: Option<OffsetDateTime>,
    apps: Arc<HashSet<String>>,
}

const KNOWN_APPS_FRESH: Duration = Duration::from_secs(10);

impl KnownApps {
    fn fresh(&self) -> Option<Arc<HashSet<String>>> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner
            .as_ref()
            .filter(|k| k.checked.elapsed() < KNOWN_APPS_FRESH)
            .map(|k| k.apps.clone())
    }

    /// Whether the statistics know `nsapp` at all (in any window or repository).
    pub async fn knows(
        &self,
        client: &clickhouse::Client,
        nsapp: &str,
    ) -> clickhouse::error::Result<bool> {
        if let Some(apps) = self.fresh() {
            return Ok(apps.contains(nsapp));
        }
        let as_of = crate::stats::as_of(client).await?;
        let same = {
            let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
            match inner.as_mut() {
                Some(k) if k.as_of == as_of => {
                    k.checked = Instant::now();
                    Some(k.apps.clone())
                }
                _ => None,
            }
        };
        let apps = match same {
            Some(apps) => apps,
            None => {
                let apps = Arc::new(crate::stats::known_apps(client).await?);
                *self.inner.lock().unwrap_or_else(PoisonError::into_inner) = Some(Known {
                    checked: Instant::now(),
                    as_of,
                    apps: apps.clone(),
                });
                apps
            }
        };
        Ok(apps.contains(nsapp))
    }
}

/// Distinct documents kept between refreshes (7 documents × a few windows × the apps
/// people look at); past this the cache starts over rather than grow.
const CACHE_ENTRIES: usize = 4096;

impl DocumentCache {
    pub fn get(&self, key: &str, as_of: Option<OffsetDateTime>) -> Option<Arc<Vec<u8>>> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        (inner.as_of == as_of)
            .then(|| inner.documents.get(key).cloned())
            .flatten()
    }

    pub fn put(&self, key: String, as_of: Option<OffsetDateTime>, body: Arc<Vec<u8>>) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if inner.as_of != as_of || inner.documents.len() >= CACHE_ENTRIES {
            inner.documents.clear();
            inner.as_of = as_of;
        }
        inner.documents.insert(key, body);
    }
}
