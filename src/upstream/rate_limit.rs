//! The client-side rate limiter: keeps each tenant's calls within the configured budget, so the
//! gateway waits a little instead of drawing 429s from the upstream.
//!
//! Each process has its own limiter; with Redis, replicas draw from one shared budget instead,
//! and fall back to their own limiter whenever Redis fails (a limiter that fails closed would
//! fail every request).

use std::num::NonZeroU32;
use std::time::Duration;

use futures::future::BoxFuture;
use governor::Quota;
use governor::clock::Clock;
use governor::nanos::Nanos;

use super::TenantKey;
use crate::config::RateBudget;
use crate::keyed_limiter::{self, KeyedLimiter};

/// An upstream rate budget that several replicas draw from together (the Redis one). Each
/// call answers `None` when the shared budget cannot say, and the limiter then paces the call
/// with its own.
pub trait SharedBudget: Send + Sync + 'static {
    /// Waits until `tenant` may make one more call, and takes that permit; whether it had to
    /// wait.
    fn acquire<'a>(&'a self, tenant: &'a TenantKey) -> BoxFuture<'a, Option<bool>>;

    /// Takes a permit for `tenant` if one is free now, without waiting; whether it did.
    fn try_acquire<'a>(&'a self, tenant: &'a TenantKey) -> BoxFuture<'a, Option<bool>>;
}

/// A GCRA limiter per [`TenantKey`], in this process or shared through Redis. Callers wait
/// (asynchronously) for a permit, or take one only if it is free now.
pub(crate) struct RateLimiter {
    limiter: KeyedLimiter<TenantKey, TokioClock>,
    /// The budget shared with other replicas; `None` when this process is alone.
    shared: Option<Box<dyn SharedBudget>>,
}

impl RateLimiter {
    pub(crate) fn new(budget: RateBudget) -> Self {
        Self {
            limiter: KeyedLimiter::new(quota_for(budget), TokioClock::new()),
            shared: None,
        }
    }

    /// A limiter that draws from `shared`, built on this limiter's own schedule for `budget`;
    /// this process's own limiter paces calls whenever `shared` fails.
    pub(crate) fn shared<B: SharedBudget>(
        budget: RateBudget,
        shared: impl FnOnce(RateSchedule) -> B,
    ) -> Self {
        Self {
            shared: Some(Box::new(shared(schedule(budget)))),
            ..Self::new(budget)
        }
    }

    /// Waits until `tenant` may make one more call, and takes that permit; whether it had to
    /// wait.
    pub(crate) async fn acquire(&self, tenant: &TenantKey) -> bool {
        if let Some(shared) = &self.shared {
            if let Some(waited) = shared.acquire(tenant).await {
                return waited;
            }
        }
        self.acquire_locally(tenant).await
    }

    /// Takes a permit for `tenant` if one is free now, without waiting; whether it did.
    pub(crate) async fn try_acquire(&self, tenant: &TenantKey) -> bool {
        if let Some(shared) = &self.shared
            && let Some(taken) = shared.try_acquire(tenant).await
        {
            return taken;
        }
        self.limiter.check(tenant).is_ok()
    }

    async fn acquire_locally(&self, tenant: &TenantKey) -> bool {
        let mut waited = false;
        while let Err(wait) = self.limiter.check(tenant) {
            waited = true;
            tracing::debug!(
                wait_ms = wait.as_millis(),
                "waiting for the upstream rate budget"
            );
            tokio::time::sleep(wait).await;
        }
        waited
    }
}

/// GCRA parameters: up to `burst` calls at once, then one per `period`. A [`SharedBudget`]
/// follows the same schedule as the local limiter, so the bound below holds for it too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateSchedule {
    pub period: Duration,
    pub burst: NonZeroU32,
}

/// Turns "at most `requests` per `per`" into a GCRA schedule that no window of length `per` can
/// exceed, including the closed window `[t, t + per]`.
///
/// GCRA with burst `b` and one cell per `T` admits at most `b + floor(W / T)` cells in any
/// window of length `W`. With `b = max(1, requests / 10)` and `T = per / (requests - b)`
/// rounded up, that is at most `requests` for `W = per`. A budget of one per `per` has no room
/// for a burst: then `T` is just over `per`. Rounding `T` up further (as the shared budget does,
/// to whole microseconds) only lowers the bound.
fn schedule(budget: RateBudget) -> RateSchedule {
    let burst = (budget.requests / 10).max(1);
    let steady = budget.requests.saturating_sub(burst);
    let per = budget.per.as_nanos();
    let period_nanos = if steady == 0 {
        per + 1
    } else {
        per.div_ceil(u128::from(steady))
    };
    RateSchedule {
        period: Duration::from_nanos(u64::try_from(period_nanos.max(1)).unwrap_or(u64::MAX)),
        burst: NonZeroU32::MIN.saturating_add(burst - 1),
    }
}

fn quota_for(budget: RateBudget) -> Quota {
    let schedule = schedule(budget);
    keyed_limiter::quota(schedule.period, schedule.burst)
}

/// governor's clock on tokio's time, so that permits follow `tokio::time::pause()` in tests
/// and real monotonic time otherwise.
#[derive(Debug, Clone)]
struct TokioClock {
    origin: tokio::time::Instant,
}

impl TokioClock {
    fn new() -> Self {
        Self {
            origin: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        Nanos::from(self.origin.elapsed())
    }
}

#[cfg(test)]
mod tests {
    use governor::clock::FakeRelativeClock;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use secrecy::SecretString;

    use super::*;
    use crate::upstream::auth::Credential;

    fn budget(requests: u32, per: Duration) -> RateBudget {
        RateBudget { requests, per }
    }

    /// Asserts that no closed window of length `per` holds more than `requests` grants.
    fn assert_window_property(grants: &[Duration], budget: RateBudget) {
        let span = budget.requests as usize;
        for (start, run) in grants.windows(span + 1).enumerate() {
            let (first, last) = (run[0], run[span]);
            assert!(
                last - first > budget.per,
                "{budget}: grants {start}..={} fit in {:?}",
                start + span,
                last - first
            );
        }
    }

    /// Drives a limiter on a fake clock: greedy bursts separated by random idle gaps, taking
    /// each permit at the exact nanosecond it becomes available.
    fn greedy_grants(budget: RateBudget, seed: u64) -> Vec<Duration> {
        let clock = FakeRelativeClock::default();
        let limiter = governor::RateLimiter::direct_with_clock(quota_for(budget), clock.clone());
        let mut rng = StdRng::seed_from_u64(seed);
        let mut grants = Vec::new();
        let horizon = budget.per * 6;
        let mut elapsed = Duration::ZERO;
        while elapsed < horizon {
            match limiter.check() {
                Ok(()) => grants.push(elapsed),
                Err(not_until) => {
                    let wait = not_until.wait_time_from(clock.now());
                    clock.advance(wait);
                    elapsed += wait;
                }
            }
            if rng.random_ratio(1, 40) {
                let idle = budget.per.mul_f64(rng.random_range(0.0..1.5));
                clock.advance(idle);
                elapsed += idle;
            }
        }
        grants
    }

    #[test]
    fn no_window_of_the_budget_length_holds_more_than_the_budget() {
        let budgets = [
            budget(480, Duration::from_secs(60)),
            budget(500, Duration::from_secs(60)),
            budget(10, Duration::from_secs(2)),
            budget(7, Duration::from_millis(300)),
            budget(3, Duration::from_secs(1)),
            budget(1, Duration::from_secs(1)),
        ];
        for budget in budgets {
            for seed in 0..4 {
                let grants = greedy_grants(budget, seed);
                assert_window_property(&grants, budget);
            }
        }
    }

    #[test]
    fn a_greedy_caller_gets_most_of_the_budget() {
        let budget = budget(480, Duration::from_secs(60));
        let clock = FakeRelativeClock::default();
        let limiter = governor::RateLimiter::direct_with_clock(quota_for(budget), clock.clone());
        let mut granted = 0;
        while clock.now() < Nanos::from(budget.per * 3) {
            match limiter.check() {
                Ok(()) => granted += 1,
                Err(not_until) => clock.advance(not_until.wait_time_from(clock.now())),
            }
        }
        // a burst of 48, then 432 a minute; rounding the period up may cost the last one
        let (burst, steady) = (48, 432);
        assert!(
            (burst + 3 * steady - 1..=burst + 3 * steady).contains(&granted),
            "{granted}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn callers_wait_for_their_own_tenant_only() {
        let limiter = RateLimiter::new(budget(20, Duration::from_secs(1)));
        let tenant = |key: &str| {
            Credential::api_key(&SecretString::from(key))
                .unwrap()
                .tenant()
        };
        let (busy, idle) = (tenant("busy"), tenant("idle"));
        let start = tokio::time::Instant::now();

        for _ in 0..2 {
            assert!(!limiter.acquire(&busy).await, "within the burst");
        }
        assert_eq!(
            start.elapsed(),
            Duration::ZERO,
            "the burst of 2 is immediate"
        );

        assert!(limiter.acquire(&busy).await, "reported as a wait");
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(55),
            "one cell per 1s/18, waited {waited:?}"
        );

        assert!(!limiter.acquire(&idle).await);
        assert_eq!(start.elapsed(), waited, "another tenant does not wait");
    }
}
