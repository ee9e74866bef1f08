//! The client rate limit: how many requests one caller identity may make, counted at the edge
//! and answered `RATE_LIMITED` (HTTP 429 with `Retry-After`) before any upstream call.
//!
//! Every query and mutation counts one, and so does every operation a WebSocket starts
//! (a subscription counts once, however long it runs). Each replica keeps its own counts.
//! The HTTP layer decides whose budget a request draws from and applies the check.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};

use crate::config::RateBudget;
use crate::error::ApiError;
use crate::keyed_limiter::{KeyedLimiter, quota};
use crate::upstream::TenantKey;

/// Whose budget a request draws from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum ClientKey {
    /// The member a verified client token names.
    Member(i64),
    /// The caller's own upstream credential, in pass-through mode.
    Tenant(TenantKey),
    /// Nobody verified (sandbox mode): the member asked for, from one address.
    Unverified {
        member: Option<i64>,
        ip: Option<IpAddr>,
    },
    /// Pass-through credentials the upstream has not accepted lately, from one address: they
    /// share its budget, however many different ones it sends.
    Address(Option<IpAddr>),
}

/// A GCRA limiter per [`ClientKey`]: `N/window` allows a burst of N, refilled at N per window.
pub(crate) struct ClientRateLimiter<C: Clock = DefaultClock> {
    limiter: KeyedLimiter<ClientKey, C>,
}

impl ClientRateLimiter {
    pub(crate) fn new(budget: RateBudget) -> Self {
        Self::with_clock(budget, DefaultClock::default())
    }
}

impl<C: Clock + Clone> ClientRateLimiter<C> {
    fn with_clock(budget: RateBudget, clock: C) -> Self {
        let period = budget.per / budget.requests.max(1);
        let burst = NonZeroU32::new(budget.requests).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: KeyedLimiter::new(quota(period, burst), clock),
        }
    }

    /// Counts one request for `client`, or says how long it must wait.
    pub(crate) fn check(&self, client: &ClientKey) -> Result<(), ApiError> {
        self.limiter
            .check(client)
            .map_err(|wait| ApiError::RateLimited {
                retry_after: Some(whole_millis(wait)),
            })
    }
}

/// `wait` rounded up to a whole millisecond, so a client that waits `retryAfterMs` is let in.
fn whole_millis(wait: Duration) -> Duration {
    let millis = wait.as_nanos().div_ceil(1_000_000).max(1);
    Duration::from_millis(u64::try_from(millis).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use governor::clock::FakeRelativeClock;

    use super::*;

    fn member(id: i64) -> ClientKey {
        ClientKey::Member(id)
    }

    fn retry_after(result: Result<(), ApiError>) -> Duration {
        match result {
            Err(ApiError::RateLimited {
                retry_after: Some(wait),
            }) => wait,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_burst_of_the_budget_then_one_per_share_of_the_window() {
        let clock = FakeRelativeClock::default();
        let budget = RateBudget {
            requests: 3,
            per: Duration::from_secs(60),
        };
        let limiter = ClientRateLimiter::with_clock(budget, clock.clone());

        for _ in 0..3 {
            limiter.check(&member(1)).unwrap();
        }
        assert_eq!(
            retry_after(limiter.check(&member(1))),
            Duration::from_secs(20)
        );

        clock.advance(Duration::from_secs(19));
        assert_eq!(
            retry_after(limiter.check(&member(1))),
            Duration::from_secs(1)
        );
        clock.advance(Duration::from_secs(1));
        limiter.check(&member(1)).unwrap();
        assert!(limiter.check(&member(1)).is_err());
    }

    #[test]
    fn identities_have_budgets_of_their_own() {
        let clock = FakeRelativeClock::default();
        let budget = RateBudget {
            requests: 1,
            per: Duration::from_secs(1),
        };
        let limiter = ClientRateLimiter::with_clock(budget, clock);
        let here = Some(IpAddr::from([127, 0, 0, 1]));
        let there = Some(IpAddr::from([10, 0, 0, 1]));
        let keys = [
            member(1),
            member(2),
            ClientKey::Unverified {
                member: Some(1),
                ip: here,
            },
            ClientKey::Unverified {
                member: Some(1),
                ip: there,
            },
            ClientKey::Unverified {
                member: None,
                ip: here,
            },
        ];
        for key in &keys {
            limiter.check(key).unwrap();
        }
        for key in &keys {
            assert!(limiter.check(key).is_err(), "{key:?}");
        }
    }

    #[test]
    fn waits_round_up_to_a_whole_millisecond() {
        assert_eq!(
            whole_millis(Duration::from_micros(1)),
            Duration::from_millis(1)
        );
        assert_eq!(
            whole_millis(Duration::from_micros(2_001)),
            Duration::from_millis(3)
        );
        assert_eq!(
            whole_millis(Duration::from_millis(20)),
            Duration::from_millis(20)
        );
    }
}
