//! Token-bucket rate limits (governor), per connection and per IP address.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::LazyLock;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota};

pub type IpRateLimiter = DefaultKeyedRateLimiter<IpAddr>;

/// One clock for every limiter: making one runs CPUID, which is slow (and
/// traps to the hypervisor in a VM); once per message it took half the CPU
/// of a loaded server.
static CLOCK: LazyLock<DefaultClock> = LazyLock::new(DefaultClock::default);

fn quota(per_second: u32, burst: u32) -> Quota {
    let per_second = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(per_second).allow_burst(burst)
}

pub fn connection_limiter(per_second: u32, burst: u32) -> DefaultDirectRateLimiter {
    DefaultDirectRateLimiter::direct_with_clock(quota(per_second, burst), CLOCK.clone())
}

/// Reports per connection: a few in a row, then one a minute.
pub fn report_limiter() -> DefaultDirectRateLimiter {
    let burst = NonZeroU32::new(5).unwrap_or(NonZeroU32::MIN);
    DefaultDirectRateLimiter::direct(Quota::per_minute(NonZeroU32::MIN).allow_burst(burst))
}

pub fn ip_limiter(per_second: u32, burst: u32) -> IpRateLimiter {
    IpRateLimiter::hashmap_with_clock(quota(per_second, burst), CLOCK.clone())
}

/// At most `per_minute` per address per minute, all of them at once if need be.
pub fn ip_per_minute_limiter(per_minute: u32) -> IpRateLimiter {
    let per_minute = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
    IpRateLimiter::hashmap_with_clock(Quota::per_minute(per_minute), CLOCK.clone())
}

/// How long until `ip` may do what `limiter` counts, if it may not now.
pub fn wait_for(limiter: &IpRateLimiter, ip: &IpAddr) -> Option<Duration> {
    limiter
        .check_key(ip)
        .err()
        .map(|not_until| not_until.wait_time_from(CLOCK.now()))
}

/// The limiters' clock, to turn a refusal into a wait.
pub fn now() -> governor::clock::QuantaInstant {
    CLOCK.now()
}

/// `Ok` if a message may go now, else how long to wait.
pub fn check(
    conn: &DefaultDirectRateLimiter,
    ips: &IpRateLimiter,
    ip: &IpAddr,
) -> Result<(), Duration> {
    conn.check()
        .map_err(|not_until| not_until.wait_time_from(CLOCK.now()))?;
    ips.check_key(ip)
        .map_err(|not_until| not_until.wait_time_from(CLOCK.now()))
}
