//! Prometheus metrics: one registry per gateway instance, served as text at `/metrics`.
//!
//! Built on `prometheus-client` rather than the `metrics` facade: the facade records through one
//! process-wide recorder, so two gateways in one process (as the integration tests run them)
//! would mix their numbers. Here every [`Metrics`] owns its registry, and each part of the
//! gateway holds only its own families (cheap clones sharing the registered values): the
//! upstream client [`UpstreamMetrics`], the caches and loaders [`LoaderMetrics`], the executor
//! [`OperationMetrics`], the webhook endpoint [`WebhookMetrics`].
//!
//! Every name starts with `heymarket_gateway_`; docs/operating.md ("Metrics and logs") lists them
//! all.

mod loaders;
mod operations;
mod upstream;
mod webhooks;

use prometheus_client::registry::Registry;

pub use loaders::{CacheKind, LoaderMetrics};
pub use operations::OperationMetrics;
pub use upstream::UpstreamMetrics;
pub use webhooks::WebhookMetrics;

const PREFIX: &str = "heymarket_gateway";

/// Request latency buckets, in seconds: 5 ms to about 10 s.
fn latency_buckets() -> impl Iterator<Item = f64> {
    prometheus_client::metrics::histogram::exponential_buckets(0.005, 2.0, 12)
}

/// Every metric of one gateway instance.
pub struct Metrics {
    registry: Registry,
    pub operations: OperationMetrics,
    pub upstream: UpstreamMetrics,
    pub loaders: LoaderMetrics,
    pub webhooks: WebhookMetrics,
}

impl Metrics {
    /// Fresh families, all registered, all at zero.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix(PREFIX);
        let operations = OperationMetrics::default();
        let upstream = UpstreamMetrics::default();
        let loaders = LoaderMetrics::default();
        let webhooks = WebhookMetrics::default();
        operations.register(&mut registry);
        upstream.register(&mut registry);
        loaders.register(&mut registry);
        webhooks.register(&mut registry);
        Self {
            registry,
            operations,
            upstream,
            loaders,
            webhooks,
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a `String` cannot fail; an error here could only come from a label
        // encoder, and ours write plain strings.
        if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::error!(%error, "cannot encode the metrics");
        }
        text
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
