//! Request and webhook counters, as `GET /_sandbox/stats` reports them.
//!
//! Tests and benchmarks assert exact upstream call counts with these, so every request to a
//! `/v1` or `/v2` route is counted, including the ones refused by auth, limits or faults.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use axum::http::StatusCode;
use serde::Serialize;

/// A snapshot of the counters.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Counters {
    /// Every request to a `/v1` or `/v2` route.
    total: u64,
    /// Per route, keyed `METHOD path-template` (`GET /v1/conversations/{id}`).
    routes: BTreeMap<String, u64>,
    /// Per response status code.
    statuses: BTreeMap<u16, u64>,
    /// Authenticated requests per team id.
    teams: BTreeMap<i64, u64>,
    webhooks: WebhookCounters,
}

#[derive(Debug, Clone, Default, Serialize)]
struct WebhookCounters {
    /// Events the receiver acknowledged with a 2xx.
    delivered: u64,
    /// Events given up on after every retry failed.
    failed: u64,
    /// Events never sent because the queue was full or closed.
    dropped: u64,
    /// Attempts after a first failure.
    retries: u64,
}

/// What became of one webhook event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WebhookOutcome {
    Delivered,
    Failed,
    Dropped,
    Retried,
}

#[derive(Debug, Default)]
pub(crate) struct Stats {
    counters: Mutex<Counters>,
}

impl Stats {
    pub(crate) fn record_request(&self, route: String) {
        let mut counters = self.lock();
        counters.total += 1;
        *counters.routes.entry(route).or_default() += 1;
    }

    pub(crate) fn record_status(&self, status: StatusCode) {
        *self.lock().statuses.entry(status.as_u16()).or_default() += 1;
    }

    pub(crate) fn record_team(&self, team_id: i64) {
        *self.lock().teams.entry(team_id).or_default() += 1;
    }

    pub(crate) fn record_webhook(&self, outcome: WebhookOutcome) {
        let mut counters = self.lock();
        let webhooks = &mut counters.webhooks;
        let counter = match outcome {
            WebhookOutcome::Delivered => &mut webhooks.delivered,
            WebhookOutcome::Failed => &mut webhooks.failed,
            WebhookOutcome::Dropped => &mut webhooks.dropped,
            WebhookOutcome::Retried => &mut webhooks.retries,
        };
        *counter += 1;
    }

    pub(crate) fn snapshot(&self) -> Counters {
        self.lock().clone()
    }

    pub(crate) fn reset(&self) {
        *self.lock() = Counters::default();
    }

    fn lock(&self) -> MutexGuard<'_, Counters> {
        self.counters.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
