//! The client rate limit: how many requests one caller identity may make, counted at the edge
//! and answered `RATE_LIMITED` (HTTP 429 with `Retry-After`) before any upstream call.
//!
//! Every query and mutation counts one, and so does every operation a WebSocket starts
//! (a subscription counts once, however long it runs). Each replica keeps its own counts.

use std::any::TypeId;
use std::convert::Infallible;
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_graphql::futures_util::stream::{self, BoxStream, StreamExt};
use async_graphql::{Data, Executor, Request, Response};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::Extensions;
use axum::http::request::Parts;
use governor::Quota;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;

use crate::config::RateBudget;
use crate::error::ApiError;
use crate::schema::{CallerExecutor, refused};
use crate::upstream::TenantKey;

/// Idle identities are dropped from the limiter's map once per this many checks.
const HOUSEKEEPING_EVERY: u64 = 1024;

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
    limiter: governor::RateLimiter<
        ClientKey,
        DashMapStateStore<ClientKey>,
        C,
        NoOpMiddleware<C::Instant>,
    >,
    clock: C,
    checks: AtomicU64,
}

impl ClientRateLimiter {
    pub(crate) fn new(budget: RateBudget) -> Self {
        Self::with_clock(budget, DefaultClock::default())
    }
}

impl<C: Clock + Clone> ClientRateLimiter<C> {
    fn with_clock(budget: RateBudget, clock: C) -> Self {
        let period = (budget.per / budget.requests.max(1)).max(Duration::from_nanos(1));
        let quota = Quota::with_period(period)
            .expect("the period is at least one nanosecond") // ok: clamped above
            .allow_burst(NonZeroU32::new(budget.requests).unwrap_or(NonZeroU32::MIN));
        Self {
            limiter: governor::RateLimiter::dashmap_with_clock(quota, clock.clone()),
            clock,
            checks: AtomicU64::new(0),
        }
    }

    /// Counts one request for `client`, or says how long it must wait.
    pub(crate) fn check(&self, client: &ClientKey) -> Result<(), ApiError> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % HOUSEKEEPING_EVERY == 0 {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        self.limiter.check_key(client).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            ApiError::RateLimited {
                retry_after: Some(whole_millis(wait)),
            }
        })
    }
}

/// `wait` rounded up to a whole millisecond, so a client that waits `retryAfterMs` is let in.
fn whole_millis(wait: Duration) -> Duration {
    let millis = wait.as_nanos().div_ceil(1_000_000).max(1);
    Duration::from_millis(u64::try_from(millis).unwrap_or(u64::MAX))
}

/// The address a request came from, when the server recorded it (see [`client_ip`]).
pub(crate) struct ClientAddr(pub(crate) Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        Ok(Self(client_ip(&parts.extensions)))
    }
}

/// The peer address the server recorded in a request's extensions (`ConnectInfo`); `None` when
/// the router runs without it, as in-process tests may.
pub(crate) fn client_ip(extensions: &Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

/// Counts every operation a WebSocket connection starts against the [`ClientKey`] its
/// `connection_init` settled (kept in the connection data).
#[derive(Clone)]
pub(crate) struct RateLimitedExecutor {
    inner: CallerExecutor,
    limiter: Arc<ClientRateLimiter>,
}

impl RateLimitedExecutor {
    pub(crate) fn new(inner: CallerExecutor, limiter: Arc<ClientRateLimiter>) -> Self {
        Self { inner, limiter }
    }
}

impl Executor for RateLimitedExecutor {
    async fn execute(&self, request: Request) -> Response {
        self.inner.execute(request).await
    }

    fn execute_stream(
        &self,
        request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let client = session_data
            .as_deref()
            .and_then(|data| data.get(&TypeId::of::<ClientKey>()))
            .and_then(|client| client.downcast_ref::<ClientKey>());
        if let Some(Err(error)) = client.map(|client| self.limiter.check(client)) {
            let response = refused(error);
            return stream::once(async { response }).boxed();
        }
        self.inner.execute_stream(request, session_data)
    }
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
