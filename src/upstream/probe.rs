//! Whether the upstream answers the gateway's credential: the upstream half of `/readyz`.
//!
//! Orchestrators probe readiness every few seconds on every replica, and each real check is an
//! upstream call drawn from the same budget as client traffic, so a verdict is re-used for a
//! while and concurrent probes share one check. A check never waits for that budget: while it
//! is spent the verdict is [`Verdict::RateLimited`], which is ready.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::{Client, Error};

/// Longest one check may take, retries included; a slower upstream counts as down.
const CHECK_DEADLINE: Duration = Duration::from_secs(5);

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The upstream accepted the gateway's own credential.
    Up,
    /// Pass-through mode: the upstream answers, and each caller's credential is checked per
    /// request.
    Reachable,
    /// The credential's rate budget is spent for the moment (the gateway's own limiter had no
    /// permit, or the upstream answered 429). Not a failure: every replica draws on the same
    /// budget, so taking this one out of rotation would help nobody.
    RateLimited,
    /// Why the upstream cannot serve the gateway, in stable words safe to show to anyone:
    /// never transport detail (addresses, OS messages), which goes to the log instead.
    Down(String),
}

impl Verdict {
    pub fn is_ready(&self) -> bool {
        !matches!(self, Self::Down(_))
    }
}

/// Checks the upstream at most once per `ttl`.
pub struct Probe {
    client: Client,
    ttl: Duration,
    last: Mutex<Option<(Instant, Verdict)>>,
    /// Held while a check runs, so concurrent probes wait for it instead of calling too.
    checking: tokio::sync::Mutex<()>,
}

impl Probe {
    pub fn new(client: Client, ttl: Duration) -> Self {
        Self {
            client,
            ttl,
            last: Mutex::new(None),
            checking: tokio::sync::Mutex::new(()),
        }
    }

    /// The latest verdict younger than the TTL, or a fresh one.
    pub async fn verdict(&self) -> Verdict {
        if let Some(verdict) = self.fresh() {
            return verdict;
        }
        let _checking = self.checking.lock().await;
        if let Some(verdict) = self.fresh() {
            return verdict;
        }
        let verdict = self.check().await;
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((Instant::now(), verdict.clone()));
        verdict
    }

    fn fresh(&self) -> Option<Verdict> {
        let last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        last.as_ref()
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, verdict)| verdict.clone())
    }

    async fn check(&self) -> Verdict {
        let outcome = match self.client.tenant(None) {
            Ok(tenant) => tokio::time::timeout(CHECK_DEADLINE, tenant.without_waiting().team())
                .await
                .map(|answer| match answer {
                    Ok(_) => Ok(Verdict::Up),
                    Err(Error::RateLimited { .. }) => Ok(Verdict::RateLimited),
                    Err(error) => Err(error),
                }),
            Err(Error::MissingCredential) => {
                tokio::time::timeout(CHECK_DEADLINE, self.client.reachable())
                    .await
                    .map(|answer| answer.map(|()| Verdict::Reachable))
            }
            Err(error) => Ok(Err(error)),
        };
        match outcome {
            Ok(Ok(verdict)) => verdict,
            Ok(Err(error)) => {
                tracing::warn!(%error, "the upstream readiness check failed");
                Verdict::Down(shown_reason(&error))
            }
            Err(_) => Verdict::Down(format!(
                "the upstream did not answer within {}s",
                CHECK_DEADLINE.as_secs()
            )),
        }
    }
}

/// What `/readyz` says of a failed check: the error's own message where it is a fixed phrase
/// (with at most a status code), a fixed summary where it carries detail.
fn shown_reason(error: &Error) -> String {
    match error {
        Error::Transport { .. } => "the upstream is unreachable".to_owned(),
        Error::Decode { .. } => "the upstream's answer could not be decoded".to_owned(),
        Error::BadRequest { .. } => "the upstream refused the request as invalid".to_owned(),
        Error::Signing(_) | Error::Encode { .. } => {
            "the gateway could not build its request".to_owned()
        }
        Error::MissingCredential
        | Error::InvalidCredential
        | Error::InvalidBaseUrl
        | Error::Unauthorized
        | Error::Forbidden
        | Error::NotFound
        | Error::RateLimited { .. }
        | Error::Server { .. }
        | Error::UnexpectedStatus { .. }
        | Error::Timeout
        | Error::CircuitOpen { .. }
        | Error::BudgetSpent { .. } => error.to_string(),
    }
}
