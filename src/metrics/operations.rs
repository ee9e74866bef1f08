//! GraphQL operations: how many, how long, how they ended, and the subscriptions open now.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::latency_buckets;
use crate::text::prefix_within;

/// Distinct operation names kept as labels; later names are counted as [`OTHER`]. Names are
/// chosen by clients, so without a cap they could grow the registry without bound.
const MAX_OPERATION_NAMES: usize = 100;
/// Longer operation names are cut to this many bytes (at a character boundary).
const MAX_OPERATION_NAME_LEN: usize = 64;
/// The label of every operation name past the cap.
const OTHER: &str = "other";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: String,
    outcome: String,
}

/// Counts and times GraphQL operations, and tracks open subscriptions.
#[derive(Clone)]
pub struct OperationMetrics {
    requests: Family<OperationLabels, Counter>,
    durations: Family<OperationLabels, Histogram, fn() -> Histogram>,
    subscriptions: Gauge,
    names: Arc<OperationNames>,
}

impl Default for OperationMetrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            durations: Family::new_with_constructor(|| Histogram::new(latency_buckets())),
            subscriptions: Gauge::default(),
            names: Arc::default(),
        }
    }
}

impl OperationMetrics {
    pub(super) fn register(&self, registry: &mut Registry) {
        registry.register(
            "graphql_requests",
            "GraphQL operations by operation name and outcome (ok, or the first error's code)",
            self.requests.clone(),
        );
        registry.register(
            "graphql_request_duration_seconds",
            "GraphQL operation latency by operation name and outcome",
            self.durations.clone(),
        );
        registry.register(
            "subscriptions_active",
            "GraphQL subscriptions open now",
            self.subscriptions.clone(),
        );
    }

    /// Records one finished operation.
    pub(crate) fn observe(&self, operation: &str, outcome: &str, elapsed: Duration) {
        let labels = OperationLabels {
            operation: self.names.label(operation),
            outcome: outcome.to_owned(),
        };
        self.requests.get_or_create(&labels).inc();
        self.durations
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// Counts a subscription as open until the returned guard is dropped.
    pub(crate) fn subscription_started(&self) -> ActiveSubscription {
        self.subscriptions.inc();
        ActiveSubscription(self.subscriptions.clone())
    }
}

/// An open subscription; dropping it (when its stream ends or is dropped) counts it closed.
pub struct ActiveSubscription(Gauge);

impl Drop for ActiveSubscription {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The operation names admitted as label values so far.
#[derive(Default)]
struct OperationNames(Mutex<HashSet<String>>);

impl OperationNames {
    /// `name`, shortened, while fewer than [`MAX_OPERATION_NAMES`] names are in use (or when
    /// it is one of them); [`OTHER`] past the cap.
    fn label(&self, name: &str) -> String {
        let name = prefix_within(name, MAX_OPERATION_NAME_LEN);
        let mut seen = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if seen.contains(name) {
            return name.to_owned();
        }
        if seen.len() < MAX_OPERATION_NAMES {
            seen.insert(name.to_owned());
            return name.to_owned();
        }
        OTHER.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_are_capped_in_number_and_length() {
        let names = OperationNames::default();
        for i in 0..MAX_OPERATION_NAMES {
            assert_eq!(names.label(&format!("Op{i}")), format!("Op{i}"));
        }
        assert_eq!(names.label("OneTooMany"), OTHER);
        assert_eq!(names.label("Op7"), "Op7", "admitted names stay admitted");

        let fresh = OperationNames::default();
        let long = "é".repeat(MAX_OPERATION_NAME_LEN);
        let label = fresh.label(&long);
        assert!(label.len() <= MAX_OPERATION_NAME_LEN && long.starts_with(&label));
    }

    #[test]
    fn subscriptions_count_while_their_guard_lives() {
        let metrics = OperationMetrics::default();
        let first = metrics.subscription_started();
        let second = metrics.subscription_started();
        assert_eq!(metrics.subscriptions.get(), 2);
        drop(first);
        drop(second);
        assert_eq!(metrics.subscriptions.get(), 0);
    }
}
