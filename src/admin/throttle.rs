//! Login throttling: failed attempts are counted per account and per address
//! over a sliding window; past the limit, logins are refused (even with the
//! right password) until the oldest failure leaves the window.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

pub const WINDOW: Duration = Duration::from_secs(15 * 60);
pub const MAX_PER_ACCOUNT: usize = 5;
pub const MAX_PER_IP: usize = 20;

#[derive(Default)]
pub struct LoginThrottle {
    accounts: Mutex<HashMap<String, VecDeque<Instant>>>,
    ips: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
}

fn prune(failures: &mut VecDeque<Instant>, now: Instant) {
    while failures
        .front()
        .is_some_and(|t| now.duration_since(*t) >= WINDOW)
    {
        failures.pop_front();
    }
}

/// How long until the key may try again, if it is over `max`.
fn blocked_for<K: std::hash::Hash + Eq>(
    map: &Mutex<HashMap<K, VecDeque<Instant>>>,
    key: &K,
    max: usize,
) -> Option<Duration> {
    let now = Instant::now();
    let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
    let failures = map.get_mut(key)?;
    prune(failures, now);
    if failures.len() < max {
        return None;
    }
    failures
        .front()
        .map(|oldest| WINDOW.saturating_sub(now.duration_since(*oldest)))
}

fn record<K: std::hash::Hash + Eq>(map: &Mutex<HashMap<K, VecDeque<Instant>>>, key: K) {
    let now = Instant::now();
    let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
    if map.len() > 100_000 {
        map.retain(|_, f| {
            prune(f, now);
            !f.is_empty()
        });
    }
    let failures = map.entry(key).or_default();
    prune(failures, now);
    failures.push_back(now);
}

impl LoginThrottle {
    /// `Some(wait)` when this account or this address must wait before trying again.
    pub fn check(&self, email: &str, ip: IpAddr) -> Option<Duration> {
        let account = blocked_for(&self.accounts, &email.to_owned(), MAX_PER_ACCOUNT);
        let address = blocked_for(&self.ips, &ip, MAX_PER_IP);
        account.into_iter().chain(address).max()
    }

    pub fn failed(&self, email: &str, ip: IpAddr) {
        record(&self.accounts, email.to_owned());
        record(&self.ips, ip);
    }

    /// A successful login clears the account's count (not the address's).
    pub fn succeeded(&self, email: &str) {
        self.accounts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(email);
    }
}
