//! Calls to the upstream API: by route and status, their latency, waits for the rate budget,
//! the circuit breaker's state, and rows a list returned that a filter it was sent excludes.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::latency_buckets;
use crate::upstream::{BreakerState, CallObserver};

/// `route` is `METHOD path-template` (`GET /v1/contact/{id}`), never a concrete path, so ids
/// never become label values.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    route: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

/// `filter` is the name of a filter the gateway sends (`inboxes`, `closed`, `unread`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FilterLabels {
    filter: &'static str,
}

/// Counts and times upstream HTTP attempts (retries included).
#[derive(Clone)]
pub struct UpstreamMetrics {
    requests: Family<CallLabels, Counter>,
    durations: Family<RouteLabels, Histogram, fn() -> Histogram>,
    rate_limit_waits: Counter,
    circuit_state: Gauge,
    ignored_filter_rows: Family<FilterLabels, Counter>,
}

impl Default for UpstreamMetrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            durations: Family::new_with_constructor(|| Histogram::new(latency_buckets())),
            rate_limit_waits: Counter::default(),
            circuit_state: Gauge::default(),
            ignored_filter_rows: Family::default(),
        }
    }
}

impl UpstreamMetrics {
    pub(super) fn register(&self, registry: &mut Registry) {
        registry.register(
            "upstream_requests",
            "Upstream HTTP attempts by route and status (a code, timeout, connect_error or \
             transport_error)",
            self.requests.clone(),
        );
        registry.register(
            "upstream_request_duration_seconds",
            "Upstream HTTP latency until the answer's headers, by route",
            self.durations.clone(),
        );
        registry.register(
            "upstream_rate_limit_waits",
            "Upstream calls that had to wait for the client-side rate budget",
            self.rate_limit_waits.clone(),
        );
        registry.register(
            "upstream_circuit_state",
            "The upstream circuit breaker: 0 closed, 1 half-open, 2 open",
            self.circuit_state.clone(),
        );
        registry.register(
            "upstream_filter_ignored_rows",
            "Rows of upstream list pages that a filter the gateway sent excludes (the upstream \
             read it otherwise), skipped by the gateway, by filter",
            self.ignored_filter_rows.clone(),
        );
    }

    /// Reports the circuit breaker's state (read when `/metrics` is scraped): 0 closed, 1
    /// half-open, 2 open (worse is higher, so
    /// an alert is a threshold).
    pub fn set_circuit_state(&self, state: BreakerState) {
        self.circuit_state.set(match state {
            BreakerState::Closed => 0,
            BreakerState::HalfOpen => 1,
            BreakerState::Open => 2,
        });
    }
}

impl CallObserver for UpstreamMetrics {
    fn observe(&self, route: &str, status: String, elapsed: Duration) {
        let call = CallLabels {
            route: route.to_owned(),
            status,
        };
        self.requests.get_or_create(&call).inc();
        let route = RouteLabels {
            route: route.to_owned(),
        };
        self.durations
            .get_or_create(&route)
            .observe(elapsed.as_secs_f64());
    }

    fn count_rate_limit_wait(&self) {
        self.rate_limit_waits.inc();
    }

    fn count_ignored_filter_row(&self, filter: &'static str) {
        self.ignored_filter_rows
            .get_or_create(&FilterLabels { filter })
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_circuit_gauge_follows_the_reported_state() {
        let metrics = UpstreamMetrics::default();
        assert_eq!(metrics.circuit_state.get(), 0);
        metrics.set_circuit_state(BreakerState::Open);
        assert_eq!(metrics.circuit_state.get(), 2);
        metrics.set_circuit_state(BreakerState::HalfOpen);
        assert_eq!(metrics.circuit_state.get(), 1);
    }
}
