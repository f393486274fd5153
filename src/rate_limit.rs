//! Token buckets (governor) on one shared clock: quotas, limiters by key or
//! for one thing alone, and the wait a refusal means. Every budget of the
//! server (chat, accounts, the panel, the API, report alerts) is made here.

use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::LazyLock;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::Quota;

/// A budget per key (an address, a participant, an API key...).
pub type Keyed<K> = governor::DefaultKeyedRateLimiter<K>;
/// One budget (a connection's, say).
pub type Direct = governor::DefaultDirectRateLimiter;

/// One clock for every limiter: making one runs CPUID, which is slow (and
/// traps to the hypervisor in a VM); once per message it took half the CPU
/// of a loaded server.
static CLOCK: LazyLock<DefaultClock> = LazyLock::new(DefaultClock::default);

/// At least one: a limit of 0 would be no budget at all, which no flag means.
fn at_least_one(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

/// `rate` a second, with bursts of `burst` above it.
pub fn per_second(rate: u32, burst: u32) -> Quota {
    with_burst(Quota::per_second(at_least_one(rate)), burst)
}

/// `rate` a minute, all of them at once if need be.
pub fn per_minute(rate: u32) -> Quota {
    Quota::per_minute(at_least_one(rate))
}

/// `rate` an hour, all of them at once if need be.
pub fn per_hour(rate: u32) -> Quota {
    Quota::per_hour(at_least_one(rate))
}

/// `quota`'s rate, with at most `burst` at once.
pub fn with_burst(quota: Quota, burst: u32) -> Quota {
    quota.allow_burst(at_least_one(burst))
}

pub fn keyed<K: Hash + Eq + Clone>(quota: Quota) -> Keyed<K> {
    Keyed::hashmap_with_clock(quota, CLOCK.clone())
}

pub fn direct(quota: Quota) -> Direct {
    Direct::direct_with_clock(quota, CLOCK.clone())
}

/// Spends one from `key`'s budget: `Ok`, or how long until it may act again.
pub fn take<K: Hash + Eq + Clone>(limiter: &Keyed<K>, key: &K) -> Result<(), Duration> {
    limiter
        .check_key(key)
        .map_err(|not_until| not_until.wait_time_from(CLOCK.now()))
}

/// Spends one from a single budget: `Ok`, or how long until it may again.
pub fn take_direct(limiter: &Direct) -> Result<(), Duration> {
    limiter
        .check()
        .map_err(|not_until| not_until.wait_time_from(CLOCK.now()))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_key_spends_its_burst_then_waits_for_the_next_token() {
        let limiter: Keyed<&str> = keyed(per_minute(2));
        assert_eq!(take(&limiter, &"a"), Ok(()));
        assert_eq!(take(&limiter, &"a"), Ok(()));
        let wait = take(&limiter, &"a").unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        // Another key has a budget of its own.
        assert_eq!(take(&limiter, &"b"), Ok(()));
    }

    #[test]
    fn a_limit_of_zero_is_one() {
        let limiter = direct(per_second(0, 0));
        assert_eq!(take_direct(&limiter), Ok(()));
        assert!(take_direct(&limiter).is_err());
    }
}
