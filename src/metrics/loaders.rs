//! The shared caches' hits and misses, and the sizes of DataLoader batches.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Which shared cache a look-up went to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheKind {
    Inboxes,
    Team,
    Conversations,
    Contacts,
    Histories,
    LastMessages,
    ListPages,
    Templates,
    ContactPages,
    Tags,
    CustomFields,
    Scheduled,
    ConversationCounts,
    /// Whole answers (see `schema::answers`).
    Answers,
    /// The cache replicas share through Redis (see `loaders::shared`).
    Shared,
    /// Conversations read again after an event, once for every subscription it concerns.
    EventReads,
}

impl CacheKind {
    fn label(self) -> &'static str {
        match self {
            Self::Inboxes => "inboxes",
            Self::Team => "team",
            Self::Conversations => "conversations",
            Self::Contacts => "contacts",
            Self::Histories => "histories",
            Self::LastMessages => "last_messages",
            Self::ListPages => "list_pages",
            Self::Templates => "templates",
            Self::ContactPages => "contact_pages",
            Self::Tags => "tags",
            Self::CustomFields => "custom_fields",
            Self::Scheduled => "scheduled",
            Self::ConversationCounts => "conversation_counts",
            Self::Answers => "answers",
            Self::Shared => "shared",
            Self::EventReads => "event_reads",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    kind: &'static str,
    /// `hit` or `miss`.
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TeamLabels {
    team: i64,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LoaderLabels {
    loader: &'static str,
}

/// Counts cache look-ups and measures DataLoader batches.
#[derive(Clone)]
pub struct LoaderMetrics {
    cache: Family<CacheLabels, Counter>,
    batch_sizes: Family<LoaderLabels, Histogram, fn() -> Histogram>,
    event_driven: Family<TeamLabels, Gauge>,
}

impl Default for LoaderMetrics {
    fn default() -> Self {
        Self {
            cache: Family::default(),
            // 1 to 128 keys per batch.
            batch_sizes: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(1.0, 2.0, 8))
            }),
            event_driven: Family::default(),
        }
    }
}

impl LoaderMetrics {
    pub(super) fn register(&self, registry: &mut Registry) {
        registry.register(
            "cache_requests",
            "Look-ups in the shared caches by kind and result (hit or miss)",
            self.cache.clone(),
        );
        registry.register(
            "dataloader_batch_size",
            "Keys per DataLoader batch, by loader",
            self.batch_sizes.clone(),
        );
        registry.register(
            "cache_event_driven",
            "1 while a team's cached conversations are kept fresh by its webhook events, 0 while they live for the short TTL",
            self.event_driven.clone(),
        );
    }

    /// Records, per team id, whether its caches are event-driven; teams no longer listed are
    /// dropped from the family.
    pub(crate) fn freshness_modes(&self, teams: impl IntoIterator<Item = (i64, bool)>) {
        self.event_driven.clear();
        for (team, event_driven) in teams {
            self.event_driven
                .get_or_create(&TeamLabels { team })
                .set(i64::from(event_driven));
        }
    }

    /// Records `hits` and `misses` look-ups of `kind`.
    pub(crate) fn count_cache(&self, kind: CacheKind, hits: u64, misses: u64) {
        let kind = kind.label();
        for (result, count) in [("hit", hits), ("miss", misses)] {
            if count > 0 {
                self.cache
                    .get_or_create(&CacheLabels { kind, result })
                    .inc_by(count);
            }
        }
    }

    /// Records one batch of `size` keys sent to `loader`.
    pub(crate) fn observe_batch(&self, loader: &'static str, size: usize) {
        self.batch_sizes
            .get_or_create(&LoaderLabels { loader })
            .observe(size as f64);
    }
}
