//! The circuit breaker in front of the upstream: after a run of failures that say the upstream
//! is down, calls fail at once for a cooldown instead of queueing on a dead service, then one
//! probe call at a time finds out whether it is back.
//!
//! There is one breaker per [`Client`](super::Client), so one per upstream base URL, shared by
//! every tenant. The upstream is one service: when it answers 5xx or not at all, it does so for
//! everyone, and a per-tenant breaker would only learn that once per tenant. Failures that
//! depend on the caller (401, 403, 404, 400, 429) never count, so one tenant's bad credential
//! or spent budget cannot open it for the others.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::Error;
use super::config::BreakerConfig;

/// Longest wait suggested to calls turned away while a probe is in flight: the probe settles
/// the question within one call.
const PROBE_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Where the breaker stands, for health reports and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go through; failures are being counted.
    Closed,
    /// The upstream is failing: calls are refused without touching the network.
    Open,
    /// The cooldown is over: the next call probes the upstream, the others are refused.
    HalfOpen,
}

/// What one call told the breaker about the upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The upstream answered, whatever it said.
    Answered,
    /// 5xx, a timeout or a failed connection: the upstream looks down.
    Failed,
    /// Nothing was learned (the call failed on our side, or was abandoned).
    Inconclusive,
}

impl Outcome {
    /// The verdict a finished call carries.
    pub(crate) fn of<T>(result: &Result<T, Error>) -> Self {
        match result {
            Ok(_) => Self::Answered,
            Err(Error::Server { .. } | Error::Timeout | Error::Transport { .. }) => Self::Failed,
            // Encoding, signing and credential failures happen before anything is sent.
            Err(
                Error::MissingCredential
                | Error::InvalidCredential
                | Error::Signing(_)
                | Error::InvalidBaseUrl
                | Error::Encode { .. }
                | Error::CircuitOpen { .. },
            ) => Self::Inconclusive,
            // A refusal, a rate limit or an unreadable body all came from a live upstream.
            Err(_) => Self::Answered,
        }
    }
}

/// Counts consecutive failures and decides which calls may reach the upstream.
#[derive(Debug)]
pub(crate) struct Breaker {
    config: BreakerConfig,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    phase: Phase,
    /// Bumped on every change of phase, so that the outcome of a call let through in an earlier
    /// phase (a slow call that started before the breaker opened) cannot move this one.
    generation: u64,
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probing: bool },
}

/// Leave to make one call. Report how it went with [`Permit::record`]; a permit dropped
/// unrecorded (its call was cancelled) counts as [`Outcome::Inconclusive`], so an abandoned
/// probe never leaves the breaker waiting for an answer that will not come.
#[derive(Debug)]
pub(crate) struct Permit<'a> {
    breaker: &'a Breaker,
    generation: u64,
    recorded: bool,
}

impl Breaker {
    pub(crate) fn new(config: BreakerConfig) -> Self {
        Self {
            config,
            inner: Mutex::new(Inner {
                phase: Phase::Closed { failures: 0 },
                generation: 0,
            }),
        }
    }

    /// Lets a call through, or refuses it with how long until the upstream may be tried again.
    pub(crate) fn admit(&self) -> Result<Permit<'_>, Error> {
        let now = Instant::now();
        let mut inner = self.lock();
        match inner.phase {
            Phase::Closed { .. } => {}
            Phase::Open { until } if now < until => {
                return Err(Error::CircuitOpen {
                    retry_after: until - now,
                });
            }
            Phase::Open { .. } | Phase::HalfOpen { probing: false } => {
                inner.enter(Phase::HalfOpen { probing: true });
                tracing::debug!("probing the upstream after the circuit breaker's cooldown");
            }
            Phase::HalfOpen { probing: true } => {
                return Err(Error::CircuitOpen {
                    retry_after: self.config.cooldown.min(PROBE_RETRY_AFTER),
                });
            }
        }
        Ok(Permit {
            breaker: self,
            generation: inner.generation,
            recorded: false,
        })
    }

    /// The current state; an open breaker whose cooldown is over reads as half-open, since its
    /// next call is a probe.
    pub(crate) fn state(&self) -> BreakerState {
        match self.lock().phase {
            Phase::Closed { .. } => BreakerState::Closed,
            Phase::Open { until } if Instant::now() < until => BreakerState::Open,
            Phase::Open { .. } | Phase::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    fn settle(&self, generation: u64, outcome: Outcome) {
        let mut inner = self.lock();
        if inner.generation != generation {
            return;
        }
        let cooldown = self.config.cooldown;
        match (inner.phase, outcome) {
            (Phase::Closed { .. }, Outcome::Answered) => {
                inner.phase = Phase::Closed { failures: 0 };
            }
            (Phase::Closed { failures }, Outcome::Failed) => {
                let failures = failures + 1;
                if failures < self.config.threshold {
                    inner.phase = Phase::Closed { failures };
                } else {
                    inner.enter(Phase::Open {
                        until: Instant::now() + cooldown,
                    });
                    tracing::warn!(
                        failures,
                        cooldown_ms = cooldown.as_millis(),
                        "the upstream is failing: circuit breaker open, calls fail fast until a probe succeeds"
                    );
                }
            }
            (Phase::HalfOpen { .. }, Outcome::Answered) => {
                inner.enter(Phase::Closed { failures: 0 });
                tracing::info!("the upstream answers again: circuit breaker closed");
            }
            (Phase::HalfOpen { .. }, Outcome::Failed) => {
                inner.enter(Phase::Open {
                    until: Instant::now() + cooldown,
                });
                tracing::warn!(
                    cooldown_ms = cooldown.as_millis(),
                    "the upstream still fails: circuit breaker open again"
                );
            }
            (Phase::HalfOpen { .. }, Outcome::Inconclusive) => {
                inner.phase = Phase::HalfOpen { probing: false };
            }
            (Phase::Closed { .. }, Outcome::Inconclusive) | (Phase::Open { .. }, _) => {}
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Inner {
    fn enter(&mut self, phase: Phase) {
        self.phase = phase;
        self.generation += 1;
    }
}

impl Permit<'_> {
    /// Tells the breaker how the call went.
    pub(crate) fn record(mut self, outcome: Outcome) {
        self.recorded = true;
        self.breaker.settle(self.generation, outcome);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.recorded {
            self.breaker.settle(self.generation, Outcome::Inconclusive);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COOLDOWN: Duration = Duration::from_secs(10);

    fn breaker(threshold: u32) -> Breaker {
        Breaker::new(BreakerConfig {
            threshold,
            cooldown: COOLDOWN,
        })
    }

    fn call(breaker: &Breaker, outcome: Outcome) {
        breaker.admit().expect("admitted").record(outcome);
    }

    fn refusal(breaker: &Breaker) -> Duration {
        match breaker.admit() {
            Err(Error::CircuitOpen { retry_after }) => retry_after,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn opens_after_the_threshold_of_consecutive_failures() {
        let breaker = breaker(3);
        call(&breaker, Outcome::Failed);
        call(&breaker, Outcome::Failed);
        call(&breaker, Outcome::Answered);
        call(&breaker, Outcome::Failed);
        call(&breaker, Outcome::Failed);
        assert_eq!(breaker.state(), BreakerState::Closed, "the run was broken");

        call(&breaker, Outcome::Failed);
        assert_eq!(breaker.state(), BreakerState::Open);
        assert_eq!(refusal(&breaker), COOLDOWN);
        tokio::time::advance(Duration::from_secs(4)).await;
        assert_eq!(refusal(&breaker), Duration::from_secs(6));
    }

    #[tokio::test(start_paused = true)]
    async fn inconclusive_calls_neither_count_nor_reset() {
        let breaker = breaker(2);
        call(&breaker, Outcome::Failed);
        call(&breaker, Outcome::Inconclusive);
        drop(breaker.admit().expect("admitted"));
        assert_eq!(breaker.state(), BreakerState::Closed);
        call(&breaker, Outcome::Failed);
        assert_eq!(breaker.state(), BreakerState::Open);
    }

    #[tokio::test(start_paused = true)]
    async fn after_the_cooldown_one_probe_at_a_time_decides() {
        let breaker = breaker(1);
        call(&breaker, Outcome::Failed);
        tokio::time::advance(COOLDOWN).await;
        assert_eq!(breaker.state(), BreakerState::HalfOpen);

        let probe = breaker.admit().expect("the probe is let through");
        assert_eq!(
            refusal(&breaker),
            Duration::from_secs(1),
            "one probe at a time"
        );
        probe.record(Outcome::Failed);
        assert_eq!(
            breaker.state(),
            BreakerState::Open,
            "a failed probe reopens"
        );
        assert_eq!(refusal(&breaker), COOLDOWN);

        tokio::time::advance(COOLDOWN).await;
        breaker
            .admit()
            .expect("a new probe")
            .record(Outcome::Answered);
        assert_eq!(breaker.state(), BreakerState::Closed);
        call(&breaker, Outcome::Answered);
    }

    #[tokio::test(start_paused = true)]
    async fn an_abandoned_probe_lets_the_next_call_probe() {
        let breaker = breaker(1);
        call(&breaker, Outcome::Failed);
        tokio::time::advance(COOLDOWN).await;
        drop(breaker.admit().expect("the probe"));
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        breaker
            .admit()
            .expect("another probe")
            .record(Outcome::Answered);
        assert_eq!(breaker.state(), BreakerState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn calls_from_before_a_change_do_not_move_the_breaker() {
        let breaker = breaker(1);
        let slow_success = breaker.admit().expect("admitted while closed");
        let slow_failure = breaker.admit().expect("admitted while closed");
        call(&breaker, Outcome::Failed);
        slow_success.record(Outcome::Answered);
        assert_eq!(
            breaker.state(),
            BreakerState::Open,
            "a late success does not close"
        );

        tokio::time::advance(COOLDOWN).await;
        breaker.admit().expect("probe").record(Outcome::Answered);
        slow_failure.record(Outcome::Failed);
        assert_eq!(
            breaker.state(),
            BreakerState::Closed,
            "a late failure does not count"
        );
    }

    #[test]
    fn only_signs_of_an_outage_count_as_failures() {
        let verdict = |error: Error| Outcome::of::<()>(&Err(error));
        for failure in [
            Error::Server { status: 503 },
            Error::Timeout,
            Error::Transport {
                connect: true,
                reason: String::new(),
            },
            Error::Transport {
                connect: false,
                reason: String::new(),
            },
        ] {
            assert_eq!(verdict(failure), Outcome::Failed);
        }
        for answer in [
            Error::RateLimited { retry_after: None },
            Error::Unauthorized,
            Error::Forbidden,
            Error::NotFound,
            Error::BadRequest {
                code: None,
                message: None,
            },
            Error::UnexpectedStatus { status: 409 },
            Error::Decode {
                route: String::new(),
                reason: String::new(),
            },
        ] {
            assert_eq!(verdict(answer), Outcome::Answered);
        }
        assert_eq!(verdict(Error::MissingCredential), Outcome::Inconclusive);
        assert_eq!(Outcome::of(&Ok(())), Outcome::Answered);
    }
}
