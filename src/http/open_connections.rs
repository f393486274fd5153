//! The HTTP connections that are not chat connections (yet): how many each
//! address holds, and how many there are in all. An address over its share is
//! refused; when there are too many in all, the connection that has waited
//! longest without a request in progress is closed to make room. So a flood of
//! half-sent requests from many addresses cannot take every descriptor, and a
//! quick request such as `/healthz` always gets through.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::input::AddressKey;

#[derive(Default)]
pub struct OpenConnections(Mutex<Inner>);

#[derive(Default)]
struct Inner {
    per_ip: HashMap<AddressKey, usize>,
    /// By admission order: the first idle entry is the one that waited longest.
    open: BTreeMap<u64, Entry>,
    next_id: u64,
}

struct Entry {
    /// `None` for a trusted proxy, which has no share to keep.
    ip: Option<AddressKey>,
    /// Requests being answered; only a connection without any is closed for room.
    busy: usize,
    evict: Arc<Notify>,
}

/// Why a connection was not admitted.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// Its address holds its share already.
    AddressFull,
    /// Every open connection is answering a request: none can be closed for it.
    AllBusy,
}

/// An admitted connection; it leaves the count when dropped. `evicted`
/// resolves when it is closed to make room for a newer one.
pub struct Admitted {
    registry: Arc<OpenConnections>,
    id: u64,
    evict: Arc<Notify>,
}

impl OpenConnections {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Admits a connection from `ip` (`None`: a trusted proxy, exempt from the
    /// per-address share), closing the longest-waiting idle one if `max_total`
    /// are open.
    pub fn admit(
        self: &Arc<Self>,
        ip: Option<IpAddr>,
        max_per_ip: usize,
        max_total: usize,
    ) -> Result<Admitted, Refused> {
        let ip = ip.map(AddressKey::of);
        let mut inner = self.lock();
        if let Some(ip) = ip {
            if inner.per_ip.get(&ip).copied().unwrap_or(0) >= max_per_ip {
                return Err(Refused::AddressFull);
            }
        }
        if inner.open.len() >= max_total {
            let oldest_idle = inner
                .open
                .iter()
                .find(|(_, entry)| entry.busy == 0)
                .map(|(id, _)| *id)
                .ok_or(Refused::AllBusy)?;
            inner.remove(oldest_idle);
        }
        let id = inner.next_id;
        inner.next_id += 1;
        let evict = Arc::new(Notify::new());
        if let Some(ip) = ip {
            *inner.per_ip.entry(ip).or_insert(0) += 1;
        }
        inner.open.insert(
            id,
            Entry {
                ip,
                busy: 0,
                evict: evict.clone(),
            },
        );
        Ok(Admitted {
            registry: self.clone(),
            id,
            evict,
        })
    }
}

impl Inner {
    /// Forgets a connection, telling it to close (a no-op once it has).
    fn remove(&mut self, id: u64) {
        let Some(entry) = self.open.remove(&id) else {
            return;
        };
        entry.evict.notify_one();
        if let Some(ip) = entry.ip {
            if let Some(n) = self.per_ip.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    self.per_ip.remove(&ip);
                }
            }
        }
    }
}

impl Admitted {
    /// Resolves when the connection must close to make room.
    pub async fn evicted(&self) {
        self.evict.notified().await;
    }

    /// What marks this connection's requests in progress.
    pub fn requests(&self) -> Requests {
        Requests {
            registry: self.registry.clone(),
            id: self.id,
        }
    }
}

/// Marks requests in progress on one connection (see [`Requests::start`]).
#[derive(Clone)]
pub struct Requests {
    registry: Arc<OpenConnections>,
    id: u64,
}

impl Requests {
    /// A request in progress until the guard is dropped.
    pub fn start(&self) -> Busy {
        Busy::new(self.registry.clone(), self.id)
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.registry.lock().remove(self.id);
    }
}

/// A request in progress on a connection.
pub struct Busy {
    registry: Arc<OpenConnections>,
    id: u64,
}

impl Busy {
    fn new(registry: Arc<OpenConnections>, id: u64) -> Busy {
        if let Some(entry) = registry.lock().open.get_mut(&id) {
            entry.busy += 1;
        }
        Busy { registry, id }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        if let Some(entry) = self.registry.lock().open.get_mut(&self.id) {
            entry.busy = entry.busy.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> Option<IpAddr> {
        Some(IpAddr::from([192, 0, 2, last]))
    }

    #[test]
    fn addresses_keep_their_share_and_the_oldest_idle_makes_room() {
        let open = Arc::new(OpenConnections::default());
        let first = open.admit(ip(1), 2, 3).unwrap();
        let _second = open.admit(ip(1), 2, 3).unwrap();
        assert_eq!(open.admit(ip(1), 2, 3).err(), Some(Refused::AddressFull));
        let busy = first.requests().start();
        let _third = open.admit(ip(2), 2, 3).unwrap();
        // Full: the first is busy, so the second (idle) goes.
        let _fourth = open.admit(ip(3), 2, 3).unwrap();
        assert_eq!(open.lock().open.len(), 3);
        assert!(open.lock().open.contains_key(&first.id));
        // The first address has one connection again: it may open another.
        drop(busy);
        assert!(open.admit(ip(1), 2, 3).is_ok());
    }

    #[test]
    fn when_everything_is_busy_newcomers_are_refused() {
        let open = Arc::new(OpenConnections::default());
        let a = open.admit(ip(1), 5, 1).unwrap();
        let busy = a.requests().start();
        assert_eq!(open.admit(ip(2), 5, 1).err(), Some(Refused::AllBusy));
        drop(busy);
        assert!(open.admit(ip(2), 5, 1).is_ok());
    }
}
