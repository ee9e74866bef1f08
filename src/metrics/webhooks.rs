//! Webhook deliveries by event type and what became of them.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// `kind` is a known event type or `unknown` (an unknown or unreadable type, or a delivery
/// refused before its type could be trusted), so senders cannot add label values.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WebhookLabels {
    r#type: String,
    result: &'static str,
}

/// Counts webhook deliveries.
#[derive(Clone, Default)]
pub struct WebhookMetrics {
    events: Family<WebhookLabels, Counter>,
}

impl WebhookMetrics {
    pub(super) fn register(&self, registry: &mut Registry) {
        registry.register(
            "webhook_events",
            "Webhook deliveries by event type and result (accepted, duplicate, ignored, \
             malformed, unauthorized, bad_body, unavailable)",
            self.events.clone(),
        );
    }

    /// Records one delivery of `kind` (`None` when unknown) that ended as `result`.
    pub(crate) fn count(&self, kind: Option<&str>, result: &'static str) {
        let labels = WebhookLabels {
            r#type: kind.unwrap_or("unknown").to_owned(),
            result,
        };
        self.events.get_or_create(&labels).inc();
    }
}
