//! When a failed upstream call is sent again, and after how long: exponential backoff with full
//! jitter (see `backoff`), as pure functions.

use std::time::Duration;

use rand::Rng;

use super::Error;
use super::config::UpstreamConfig;
use crate::backoff::ExponentialBackoff;

/// How safe a call is to send twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallKind {
    /// Reads change nothing upstream.
    Read,
    /// Writes: repeating one that reached the upstream could apply it twice. That includes a
    /// send carrying a `local_id`: the docs promise de-duplication for email sends and
    /// broadcasts only (heymarket-api.md §1, §7.1), and the gateway's own idempotency keys
    /// answer a repeated key without a second write.
    Write,
}

/// Retry limits and backoff, from the upstream settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryPolicy {
    max_retries: u32,
    backoff: ExponentialBackoff,
}

impl RetryPolicy {
    pub(crate) fn new(config: &UpstreamConfig) -> Self {
        Self {
            max_retries: config.max_retries,
            backoff: ExponentialBackoff {
                first: config.backoff_base,
                most: config.backoff_max,
            },
        }
    }

    /// After `retries_done` retries, a `kind` call failed with `error`: how long to wait before
    /// the next attempt, or `None` to give up and return `error`.
    ///
    /// A 429's `Retry-After` replaces the jittered delay when it fits under `backoff_max`; a
    /// longer one ends the call at once, so the caller can report how long to wait.
    pub(crate) fn next_delay(
        &self,
        kind: CallKind,
        retries_done: u32,
        error: &Error,
        rng: &mut impl Rng,
    ) -> Option<Duration> {
        if retries_done >= self.max_retries || !may_resend(kind, error) {
            return None;
        }
        match error {
            Error::RateLimited {
                retry_after: Some(wait),
            } => (*wait <= self.backoff.most).then_some(*wait),
            _ => Some(self.backoff.full_jitter(retries_done, rng)),
        }
    }
}

/// Whether `error` is worth a retry for a `kind` call. Writes are sent again only when the
/// connection never opened, so the upstream cannot have seen them.
fn may_resend(kind: CallKind, error: &Error) -> bool {
    match kind {
        CallKind::Read => error.is_retryable(),
        CallKind::Write => matches!(error, Error::Transport { connect: true, .. }),
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_retries: 3,
            backoff: ExponentialBackoff {
                first: Duration::from_millis(100),
                most: Duration::from_secs(2),
            },
        }
    }

    #[test]
    fn retry_decision_table() {
        use CallKind::{Read, Write};
        let connect = Error::Transport {
            connect: true,
            reason: String::new(),
        };
        let broken = Error::Transport {
            connect: false,
            reason: String::new(),
        };
        let cases = [
            // (error, read, write)
            (Error::Server { status: 503 }, true, false),
            (Error::RateLimited { retry_after: None }, true, false),
            (Error::Timeout, true, false),
            (connect, true, true),
            (broken, true, false),
            (
                Error::BadRequest {
                    code: None,
                    message: None,
                },
                false,
                false,
            ),
            (Error::Unauthorized, false, false),
            (Error::Forbidden, false, false),
            (Error::NotFound, false, false),
            (Error::UnexpectedStatus { status: 409 }, false, false),
            (
                Error::Decode {
                    route: String::new(),
                    reason: String::new(),
                },
                false,
                false,
            ),
        ];
        let mut rng = StdRng::seed_from_u64(1);
        for (error, read, write) in cases {
            for (kind, expected) in [(Read, read), (Write, write)] {
                let retried = policy().next_delay(kind, 0, &error, &mut rng).is_some();
                assert_eq!(retried, expected, "{kind:?} after {error:?}");
            }
        }
    }

    #[test]
    fn retries_stop_at_the_maximum() {
        let mut rng = StdRng::seed_from_u64(2);
        let error = Error::Server { status: 500 };
        let delays: Vec<_> = (0..5)
            .map(|done| policy().next_delay(CallKind::Read, done, &error, &mut rng))
            .collect();
        assert!(delays[..3].iter().all(Option::is_some));
        assert!(delays[3..].iter().all(Option::is_none));
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_backoff_maximum() {
        let mut rng = StdRng::seed_from_u64(3);
        let limited = |seconds| Error::RateLimited {
            retry_after: Some(Duration::from_secs(seconds)),
        };
        let next =
            |error: &Error, rng: &mut StdRng| policy().next_delay(CallKind::Read, 0, error, rng);
        assert_eq!(next(&limited(0), &mut rng), Some(Duration::ZERO));
        assert_eq!(next(&limited(2), &mut rng), Some(Duration::from_secs(2)));
        assert_eq!(next(&limited(3), &mut rng), None);
        assert_eq!(
            policy().next_delay(CallKind::Write, 0, &limited(1), &mut rng),
            None
        );
    }
}
