//! Login throttling for admin accounts and visitors' accounts alike, shaped
//! so that a stranger who knows an account's email cannot lock its owner out
//! (a lockout per account would: five wrong passwords from anywhere, and the
//! owner's right one was refused). Failures are counted over a sliding window:
//!
//! - per account *and address* ([`MAX_PER_PAIR`]): the address that fails
//!   waits, not the account;
//! - per address, whatever the account ([`MAX_PER_IP`]): one address
//!   spraying many accounts;
//! - per account, from every address ([`HOT_AFTER`]): an account under a
//!   spread-out attack is slowed down for the addresses that already failed
//!   on it ([`HOT_PER_PAIR`] each), while an address that has not failed on
//!   it (the owner's, usually) still gets its password checked.
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
/// Failures of one address on one account.
pub const MAX_PER_PAIR: usize = 5;
/// Failures of one address, on any accounts.
pub const MAX_PER_IP: usize = 20;
/// Failures on one account, from every address, past which it is hot.
pub const HOT_AFTER: usize = 20;
/// Failures of one address on a hot account.
pub const HOT_PER_PAIR: usize = 2;
/// Keys kept before quiet ones are swept out (bounds memory under a spray).
const SWEEP_ABOVE: usize = 100_000;

type Attempts<K> = HashMap<K, VecDeque<Instant>>;

#[derive(Default)]
struct Counts {
    pairs: Attempts<(String, AddressKey)>,
    ips: Attempts<AddressKey>,
    accounts: Attempts<String>,
}

#[derive(Default)]
pub struct LoginThrottle {
    counts: Mutex<Counts>,
}

/// A counted attempt, between the throttle check and the password check.
#[must_use = "report the outcome with succeeded(); dropping it keeps it counted as a failure"]
pub struct Attempt<'a> {
    throttle: &'a LoginThrottle,
    account: String,
    ip: AddressKey,
    at: Instant,
}

fn prune(attempts: &mut VecDeque<Instant>, now: Instant) {
    while attempts
        .front()
        .is_some_and(|t| now.duration_since(*t) >= WINDOW)
    {
        attempts.pop_front();
    }
}

/// The key's recent attempts, with old ones dropped.
fn recent<K: Hash + Eq>(map: &mut Attempts<K>, key: &K, now: Instant) -> usize {
    map.get_mut(key).map_or(0, |a| {
        prune(a, now);
        a.len()
    })
}

fn sweep<K: Hash + Eq>(map: &mut Attempts<K>, now: Instant) {
    if map.len() > SWEEP_ABOVE {
        map.retain(|_, a| {
            prune(a, now);
            !a.is_empty()
        });
    }
}

/// How long until the key's oldest attempt leaves the window.
fn wait<K: Hash + Eq>(map: &Attempts<K>, key: &K, now: Instant) -> Duration {
    map.get(key)
        .and_then(|a| a.front())
        .map_or(WINDOW, |oldest| {
            WINDOW.saturating_sub(now.duration_since(*oldest))
        })
}

fn forget<K: Hash + Eq>(map: &mut Attempts<K>, key: &K, at: Instant) {
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
    fn counts(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts an attempt on `account` (a key naming it: an email, with its
    /// site for visitors' accounts) from `ip`, or says how long to wait.
    pub fn reserve(&self, account: &str, ip: IpAddr) -> Result<Attempt<'_>, Duration> {
        let now = Instant::now();
        let ip = AddressKey::of(ip);
        let pair = (account.to_owned(), ip);
        let mut counts = self.counts();
        let Counts {
            pairs,
            ips,
            accounts,
        } = &mut *counts;
        sweep(pairs, now);
        sweep(ips, now);
        sweep(accounts, now);
        let on_account = recent(accounts, &pair.0, now);
        let pair_limit = match on_account >= HOT_AFTER {
            true => HOT_PER_PAIR,
            false => MAX_PER_PAIR,
        };
        let pair_full = recent(pairs, &pair, now) >= pair_limit;
        let address_full = recent(ips, &ip, now) >= MAX_PER_IP;
        if pair_full || address_full {
            let by_pair = pair_full.then(|| wait(pairs, &pair, now));
            let by_address = address_full.then(|| wait(ips, &ip, now));
            return Err(by_pair
                .into_iter()
                .chain(by_address)
                .max()
                .unwrap_or(WINDOW));
        }
        if on_account + 1 == HOT_AFTER {
            tracing::warn!(account = %pair.0, "many failed logins on one account from several addresses: each address now gets fewer tries");
        }
        accounts.entry(pair.0.clone()).or_default().push_back(now);
        ips.entry(ip).or_default().push_back(now);
        pairs.entry(pair).or_default().push_back(now);
        Ok(Attempt {
            throttle: self,
            account: account.to_owned(),
            ip,
            at: now,
        })
    }
}

impl Attempt<'_> {
    /// The password was right: this address's failures on the account are
    /// cleared, and the attempt given back. The account's failures from
    /// elsewhere stay counted.
    pub fn succeeded(self) {
        let mut counts = self.throttle.counts();
        counts.pairs.remove(&(self.account.clone(), self.ip));
        forget(&mut counts.ips, &self.ip, self.at);
        forget(&mut counts.accounts, &self.account, self.at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, n])
    }

    #[test]
    fn reservations_count_before_the_outcome_is_known() {
        let throttle = LoginThrottle::default();
        let held: Vec<_> = (0..MAX_PER_PAIR)
            .map(|_| throttle.reserve("a@example.com", ip(1)).unwrap())
            .collect();
        assert!(throttle.reserve("a@example.com", ip(1)).is_err());
        assert!(throttle.reserve("b@example.com", ip(1)).is_ok());
        drop(held);
        assert!(throttle.reserve("a@example.com", ip(1)).is_err());
    }

    #[test]
    fn a_success_gives_the_attempt_back() {
        let throttle = LoginThrottle::default();
        for _ in 0..MAX_PER_IP * 2 {
            throttle
                .reserve("a@example.com", ip(2))
                .unwrap()
                .succeeded();
        }
        assert!(throttle.reserve("a@example.com", ip(2)).is_ok());
    }

    #[test]
    fn failures_from_one_address_do_not_lock_the_account_for_others() {
        let throttle = LoginThrottle::default();
        for _ in 0..MAX_PER_PAIR {
            drop(throttle.reserve("owner@example.com", ip(66)).unwrap());
        }
        assert!(throttle.reserve("owner@example.com", ip(66)).is_err());
        throttle
            .reserve("owner@example.com", ip(1))
            .unwrap()
            .succeeded();
    }

    #[test]
    fn an_address_spraying_accounts_is_stopped() {
        let throttle = LoginThrottle::default();
        for n in 0..MAX_PER_IP {
            drop(
                throttle
                    .reserve(&format!("u{n}@example.com"), ip(3))
                    .unwrap(),
            );
        }
        let Err(wait) = throttle.reserve("other@example.com", ip(3)) else {
            panic!("a spraying address is refused");
        };
        assert!(wait > WINDOW - Duration::from_secs(5), "{wait:?}");
    }

    #[test]
    fn a_hot_account_gives_failed_addresses_fewer_tries_and_fresh_ones_theirs() {
        let throttle = LoginThrottle::default();
        // Spread over many addresses, two failures each.
        for n in 0..HOT_AFTER as u8 / 2 {
            for _ in 0..2 {
                drop(throttle.reserve("owner@example.com", ip(100 + n)).unwrap());
            }
        }
        // Hot: an address with two failures waits, below MAX_PER_PAIR.
        assert!(throttle.reserve("owner@example.com", ip(100)).is_err());
        // An address that has not failed here is still checked.
        throttle
            .reserve("owner@example.com", ip(7))
            .unwrap()
            .succeeded();
        assert!(throttle.reserve("owner@example.com", ip(7)).is_ok());
    }
}
