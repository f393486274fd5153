//! Connections being set up: at most `max_handshakes` at once hold a slot
//! while the server works on their set-up. The listener takes a slot before
//! it accepts, so when the server is busy setting up connections the next
//! ones wait in the kernel's listen backlog, costing the server nothing.
//! Without this, a reconnect storm (thousands of clients at once after a
//! restart) was accepted all at once and every connection held its buffers
//! and queued database work together: memory spiked to three or four times
//! the steady state, and glibc kept it.
//!
//! A slot is for the server's work, never for waiting on a client, so that
//! clients that send nothing (or little) cannot hold the listener and keep
//! others in the backlog. A connection's slot is freed:
//! - when its request head has not all arrived within [`CLIENT_WAIT`] of the
//!   accept (silent and slow clients are then bounded by the header timeout,
//!   the per-address caps and the eviction of idle connections, as before);
//! - when its head has arrived and is not a WebSocket upgrade (an ordinary
//!   request), or its answer is not `101`;
//! - for a chat WebSocket, when no data frame has come within [`CLIENT_WAIT`]
//!   of the upgrade, or once the first one (its `hello`) is answered: a
//!   `pong` to the server's ping does not count;
//! - when the connection closes, and after [`SETUP_LIMIT`] in any case.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// The longest a connection holds a setup slot.
pub const SETUP_LIMIT: Duration = Duration::from_secs(2);

/// How long a slot waits for the client's part (its request head, its first
/// frame): what a client sends right after connecting arrives well within
/// it, and a slower one only loses its place in the count.
pub const CLIENT_WAIT: Duration = Duration::from_millis(100);

/// What operators see of the slots (`chatctl_handshakes`,
/// `chatctl_handshake_slots_expired_total`); detached by default.
#[derive(Clone, Default)]
pub struct SetupMetrics {
    /// Slots held now.
    pub held: Gauge,
    /// Slots freed by their deadline rather than by the connection.
    pub expired: Counter,
}

/// A slot held: counted in [`SetupMetrics::held`] until dropped.
struct Held {
    _permit: OwnedSemaphorePermit,
    held: Gauge,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.held.dec();
    }
}

type Shared = Arc<Mutex<Option<Held>>>;

/// A connection's setup slot, freed by whichever part finishes the setup
/// first (see the module docs), or when the last clone is dropped. Shared
/// with the request (as a request extension) so the WebSocket transport can
/// free it.
#[derive(Clone)]
pub struct SetupSlot(Shared);

impl SetupSlot {
    /// Frees the slot; true if it was still held.
    pub fn release(&self) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .is_some()
    }

    #[cfg(test)]
    fn held(&self) -> bool {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).is_some()
    }
}

/// The listener's slots, and the deadlines of those handed out (in the order
/// they were, which is the order they expire).
pub struct SetupSlots {
    free: Arc<Semaphore>,
    expiring: VecDeque<(Instant, Weak<Mutex<Option<Held>>>)>,
    limit: Duration,
    metrics: SetupMetrics,
}

impl SetupSlots {
    /// `max` slots, each held for `limit` at most ([`SETUP_LIMIT`] in serving).
    pub fn new(max: usize, limit: Duration, metrics: SetupMetrics) -> SetupSlots {
        SetupSlots {
            free: Arc::new(Semaphore::new(max.max(1))),
            expiring: VecDeque::new(),
            limit,
            metrics,
        }
    }

    /// Waits for a free slot (cancel-safe: dropping the future takes none).
    pub async fn take(&self) -> OwnedSemaphorePermit {
        loop {
            // Never closed, so this cannot fail; should it, wait again.
            if let Ok(permit) = self.free.clone().acquire_owned().await {
                return permit;
            }
        }
    }

    /// Hands `permit` to a newly accepted connection; it is freed after the
    /// limit at the latest (see [`SetupSlots::expire`]).
    pub fn hand_out(&mut self, permit: OwnedSemaphorePermit) -> SetupSlot {
        self.metrics.held.inc();
        let slot = Arc::new(Mutex::new(Some(Held {
            _permit: permit,
            held: self.metrics.held.clone(),
        })));
        self.expiring
            .push_back((Instant::now() + self.limit, Arc::downgrade(&slot)));
        SetupSlot(slot)
    }

    /// Resolves when the oldest slot handed out reaches its deadline (never,
    /// while none is out); call [`SetupSlots::expire`] then.
    pub async fn next_deadline(&self) {
        match self.expiring.front() {
            Some((deadline, _)) => tokio::time::sleep_until(*deadline).await,
            None => std::future::pending().await,
        }
    }

    /// Frees every slot past its deadline.
    pub fn expire(&mut self) {
        let now = Instant::now();
        while let Some((deadline, slot)) = self.expiring.front() {
            if *deadline > now {
                break;
            }
            if slot.upgrade().is_some_and(|slot| SetupSlot(slot).release()) {
                self.metrics.expired.inc();
            }
            self.expiring.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn slots_are_freed_by_their_holder_or_at_their_deadline() {
        const LIMIT: Duration = Duration::from_millis(300);
        let metrics = SetupMetrics::default();
        let mut slots = SetupSlots::new(2, LIMIT, metrics.clone());
        let first = slots.hand_out(slots.take().await);
        let second = slots.hand_out(slots.take().await);
        // Both out: a third waits.
        assert!(
            tokio::time::timeout(Duration::from_millis(100), slots.take())
                .await
                .is_err()
        );
        first.release();
        let third = slots.hand_out(slots.take().await);
        assert!(second.held() && third.held());
        assert_eq!(metrics.held.get(), 2);

        // Nobody frees `second`: its deadline does; `third`, handed out 100 ms
        // later, is next.
        slots.next_deadline().await;
        slots.expire();
        assert!(!second.held());
        assert!(third.held(), "handed out later, not expired yet");
        assert_eq!(metrics.expired.get(), 1, "`first` was freed by its holder");
        let fourth = slots.hand_out(slots.take().await);
        tokio::time::sleep(LIMIT).await;
        slots.expire();
        assert!(!third.held() && !fourth.held());
        assert_eq!((metrics.held.get(), metrics.expired.get()), (0, 3));
        drop(fourth);
    }
}
