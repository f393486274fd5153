//! A small map of values read from the database on demand, each kept for at
//! most [`TTL`]: what the send path and the upgrade check would otherwise
//! query once per message or per connection.
//!
//! Changes made through chatctl (panel, API, command line, another instance)
//! remove entries at once, here or through `moderation::remote`; the TTL
//! bounds how long a change made any other way (a hand edit of the
//! database) goes unseen.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// How long an entry is trusted without a change being announced.
pub const TTL: Duration = Duration::from_secs(30);

/// Entries past this count make a put drop the expired ones first.
const PRUNE_ABOVE: usize = 10_000;

struct Entry<V> {
    value: V,
    loaded: Instant,
}

struct Inner<K, V> {
    map: HashMap<K, Entry<V>>,
    /// Bumped by every removal: a value read before it may be stale and
    /// is not stored (see [`TtlCache::put`]).
    generation: u64,
}

/// Values by key, each trusted for [`TTL`] after it was read.
pub struct TtlCache<K, V> {
    inner: Mutex<Inner<K, V>>,
}

/// When a value was read, as [`TtlCache::put`] needs to know: taken before the read.
#[derive(Clone, Copy)]
pub struct ReadStart(u64);

impl<K: Eq + Hash, V: Clone> Default for TtlCache<K, V> {
    fn default() -> Self {
        TtlCache {
            inner: Mutex::new(Inner {
                map: HashMap::new(),
                generation: 0,
            }),
        }
    }
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<K, V>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn get(&self, key: &K) -> Option<V> {
        self.lock()
            .map
            .get(key)
            .filter(|e| e.loaded.elapsed() < TTL)
            .map(|e| e.value.clone())
    }

    /// To be called before reading a value from the database that will be
    /// [`put`](Self::put) here.
    pub fn read_start(&self) -> ReadStart {
        ReadStart(self.lock().generation)
    }

    /// Stores a value read since `start`, unless an entry was removed in
    /// between: the read may have missed the change that removal announced
    /// (the next lookup reads again).
    pub fn put(&self, start: ReadStart, key: K, value: V) {
        let mut inner = self.lock();
        if inner.generation != start.0 {
            return;
        }
        if inner.map.len() > PRUNE_ABOVE {
            inner.map.retain(|_, e| e.loaded.elapsed() < TTL);
        }
        inner.map.insert(
            key,
            Entry {
                value,
                loaded: Instant::now(),
            },
        );
    }

    /// The value of `key`, read with `load` when none is held (and kept
    /// unless an entry was removed during the read, as [`TtlCache::put`]).
    pub async fn get_or_load<E, Fut>(&self, key: K, load: impl FnOnce() -> Fut) -> Result<V, E>
    where
        Fut: std::future::Future<Output = Result<V, E>>,
    {
        if let Some(value) = self.get(&key) {
            return Ok(value);
        }
        let start = self.read_start();
        let value = load().await?;
        self.put(start, key, value.clone());
        Ok(value)
    }

    pub fn remove(&self, key: &K) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.map.remove(key);
    }

    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.map.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_read_across_a_removal_is_not_kept() {
        let cache = TtlCache::<u32, &str>::default();
        let start = cache.read_start();
        // A change is announced while the value is being read.
        cache.remove(&1);
        cache.put(start, 1, "stale");
        assert_eq!(cache.get(&1), None);

        let start = cache.read_start();
        cache.put(start, 1, "fresh");
        assert_eq!(cache.get(&1), Some("fresh"));
        cache.clear();
        assert_eq!(cache.get(&1), None);
    }
}
