//! A GCRA rate limiter per key, on governor's keyed limiter: what the upstream limiter (per
//! tenant) and the client rate limit (per caller identity) share. Each says what its budget
//! allows and what a refusal means; this module keeps the per-key state, answers how long a
//! refused key must wait on the limiter's own clock, and forgets idle keys so the map does not
//! grow with every key ever seen.

use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};

/// Idle keys are dropped from the map once per this many checks.
const HOUSEKEEPING_EVERY: u64 = 1024;

/// GCRA with up to `burst` cells at once, then one per `period` (at least a nanosecond).
pub(crate) fn quota(period: Duration, burst: NonZeroU32) -> Quota {
    Quota::with_period(period.max(Duration::from_nanos(1)))
        .expect("the period is at least one nanosecond") // ok: clamped above
        .allow_burst(burst)
}

/// A GCRA limiter per key `K`, on clock `C` (tests drive a fake one).
pub(crate) struct KeyedLimiter<K: Hash + Eq + Clone, C: Clock = DefaultClock> {
    limiter: RateLimiter<K, DashMapStateStore<K>, C, NoOpMiddleware<C::Instant>>,
    clock: C,
    checks: AtomicU64,
}

impl<K: Hash + Eq + Clone, C: Clock + Clone> KeyedLimiter<K, C> {
    pub(crate) fn new(quota: Quota, clock: C) -> Self {
        Self {
            limiter: RateLimiter::dashmap_with_clock(quota, clock.clone()),
            clock,
            checks: AtomicU64::new(0),
        }
    }

    /// Takes a permit for `key` if one is free now; otherwise how long until one is.
    pub(crate) fn check(&self, key: &K) -> Result<(), Duration> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % HOUSEKEEPING_EVERY == 0 {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        self.limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

#[cfg(test)]
mod tests {
    use governor::clock::FakeRelativeClock;

    use super::*;

    #[test]
    fn a_refused_key_learns_its_wait_and_other_keys_are_not_held_up() {
        let clock = FakeRelativeClock::default();
        let burst = NonZeroU32::new(2).unwrap();
        let limiter = KeyedLimiter::new(quota(Duration::from_secs(1), burst), clock.clone());
        assert_eq!(limiter.check(&"a"), Ok(()));
        assert_eq!(limiter.check(&"a"), Ok(()));
        assert_eq!(limiter.check(&"a"), Err(Duration::from_secs(1)));
        assert_eq!(limiter.check(&"b"), Ok(()));
        clock.advance(Duration::from_millis(400));
        assert_eq!(limiter.check(&"a"), Err(Duration::from_millis(600)));
        clock.advance(Duration::from_millis(600));
        assert_eq!(limiter.check(&"a"), Ok(()));
    }

    #[test]
    fn a_zero_period_is_one_nanosecond() {
        let quota = quota(Duration::ZERO, NonZeroU32::MIN);
        assert_eq!(quota.replenish_interval(), Duration::from_nanos(1));
    }
}
