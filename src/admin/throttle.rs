//! Login throttling: attempts are counted per account and per address over a
//! sliding window; past the limit, logins are refused (even with the right
//! password) until the oldest attempt leaves the window.
//!
//! An attempt is reserved *before* the password is checked, in the same lock
//! as the check, so a burst of parallel logins cannot all pass the check while
//! the slow bcrypt runs. A reservation that turns out to be a success is given
//! back; one that fails stays counted.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

use crate::input::AddressKey;

pub const WINDOW: Duration = Duration::from_secs(15 * 60);
pub const MAX_PER_ACCOUNT: usize = 5;
pub const MAX_PER_IP: usize = 20;
/// Keys kept before quiet ones are swept out (bounds memory under a spray).
const SWEEP_ABOVE: usize = 100_000;

type Attempts<K> = Mutex<HashMap<K, VecDeque<Instant>>>;

#[derive(Default)]
pub struct LoginThrottle {
    accounts: Attempts<String>,
    ips: Attempts<AddressKey>,
}

/// A counted attempt, between the throttle check and the password check.
#[must_use = "report the outcome with succeeded(); dropping it keeps it counted as a failure"]
pub struct Attempt<'a> {
    throttle: &'a LoginThrottle,
    email: String,
    ip: AddressKey,
    at: Instant,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn prune(attempts: &mut VecDeque<Instant>, now: Instant) {
    while attempts
        .front()
        .is_some_and(|t| now.duration_since(*t) >= WINDOW)
    {
        attempts.pop_front();
    }
}

/// The key's recent attempts, with old ones dropped (and quiet keys swept
/// when the map grows large).
fn recent<K: Hash + Eq + Clone>(
    map: &mut HashMap<K, VecDeque<Instant>>,
    key: &K,
    now: Instant,
) -> usize {
    if map.len() > SWEEP_ABOVE {
        map.retain(|_, a| {
            prune(a, now);
            !a.is_empty()
        });
    }
    map.get_mut(key).map_or(0, |a| {
        prune(a, now);
        a.len()
    })
}

/// How long until the key's oldest attempt leaves the window.
fn wait<K: Hash + Eq>(map: &HashMap<K, VecDeque<Instant>>, key: &K, now: Instant) -> Duration {
    map.get(key)
        .and_then(|a| a.front())
        .map_or(WINDOW, |oldest| {
            WINDOW.saturating_sub(now.duration_since(*oldest))
        })
}

fn forget<K: Hash + Eq>(map: &mut HashMap<K, VecDeque<Instant>>, key: &K, at: Instant) {
    if let Some(attempts) = map.get_mut(key) {
        if let Some(i) = attempts.iter().rposition(|t| *t == at) {
            attempts.remove(i);
        }
        if attempts.is_empty() {
            map.remove(key);
        }
    }
}

impl LoginThrottle {
    /// Counts an attempt for this account and address, or says how long they
    /// must wait. Both maps are locked together (account first, always), so
    /// the check and the count are one step.
    pub fn reserve(&self, email: &str, ip: IpAddr) -> Result<Attempt<'_>, Duration> {
        let now = Instant::now();
        let key = email.to_owned();
        let ip = AddressKey::of(ip);
        let mut accounts = lock(&self.accounts);
        let mut ips = lock(&self.ips);
        let account_full = recent(&mut accounts, &key, now) >= MAX_PER_ACCOUNT;
        let address_full = recent(&mut ips, &ip, now) >= MAX_PER_IP;
        if account_full || address_full {
            let account = account_full.then(|| wait(&accounts, &key, now));
            let address = address_full.then(|| wait(&ips, &ip, now));
            return Err(account.into_iter().chain(address).max().unwrap_or(WINDOW));
        }
        accounts.entry(key.clone()).or_default().push_back(now);
        ips.entry(ip).or_default().push_back(now);
        Ok(Attempt {
            throttle: self,
            email: key,
            ip,
            at: now,
        })
    }
}

impl Attempt<'_> {
    /// The password was right: the account's count is cleared and the
    /// address gets this attempt back.
    pub fn succeeded(self) {
        lock(&self.throttle.accounts).remove(&self.email);
        forget(&mut lock(&self.throttle.ips), &self.ip, self.at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_count_before_the_outcome_is_known() {
        let throttle = LoginThrottle::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let held: Vec<_> = (0..MAX_PER_ACCOUNT)
            .map(|_| throttle.reserve("a@example.com", ip).unwrap())
            .collect();
        assert!(throttle.reserve("a@example.com", ip).is_err());
        assert!(throttle.reserve("b@example.com", ip).is_ok());
        drop(held);
        assert!(throttle.reserve("a@example.com", ip).is_err());
    }

    #[test]
    fn a_success_gives_the_attempt_back() {
        let throttle = LoginThrottle::default();
        let ip: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..MAX_PER_IP * 2 {
            throttle.reserve("a@example.com", ip).unwrap().succeeded();
        }
        assert!(throttle.reserve("a@example.com", ip).is_ok());
    }
}
