//! What the caches keep and for how long: the cache flags and environment variables, parsed
//! straight into the settings the caches are built from.

use std::time::Duration;

use clap::Args;
use clap::builder::TypedValueParser as _;

use crate::config::duration_text;

/// How long inboxes and the team (which change rarely) are served from cache.
pub const DEFAULT_CACHE_TTL_DIRECTORY: Duration = Duration::from_secs(5 * 60);
/// How long a conversation, a list page or a conversation's newest messages are served from
/// cache: short, because they change with every message; writes and events replace them sooner.
pub const DEFAULT_CACHE_TTL_CONVERSATIONS: Duration = Duration::from_secs(10);
/// How long conversation data lives while its team's webhook events are heard.
pub const DEFAULT_CACHE_TTL_WITH_EVENTS: Duration = Duration::from_secs(5 * 60);
/// How long a team may go without an event before its caches stop relying on events.
pub const DEFAULT_CACHE_EVENT_SILENCE: Duration = Duration::from_secs(2 * 60);
/// How long contacts are served from cache.
pub const DEFAULT_CACHE_TTL_CONTACTS: Duration = Duration::from_secs(2 * 60);
/// Entries per cache kind, across tenants.
pub const DEFAULT_CACHE_CAPACITY: u64 = 50_000;
/// MiB of whole answers kept for callers who ask the same query again.
pub const DEFAULT_ANSWER_CACHE_MIB: u64 = 32;
/// Most messages one team-wide `POST /v1/messages/all` asks for when looking up the last
/// messages of a page of conversations (the upstream's own maximum is undocumented; a smaller
/// answer only means more fall-back history calls).
pub const DEFAULT_MESSAGES_BATCH_LIMIT: u32 = 1000;
/// Scheduled messages remembered per conversation by default.
pub const DEFAULT_SCHEDULED_PER_CONVERSATION: usize = 20;

const MIB: u64 = 1024 * 1024;

/// The gateway's caches of upstream data, partitioned by tenant.
#[derive(Debug, Clone, Args)]
pub struct CacheConfig {
    /// How long inboxes and the team are served from cache.
    #[arg(long = "cache-ttl-directory", env = "HEYMARKET_CACHE_TTL_DIRECTORY", default_value = duration_text(DEFAULT_CACHE_TTL_DIRECTORY), value_parser = humantime::parse_duration)]
    pub ttl_directory: Duration,

    /// How long conversations, list pages and newest messages are served from cache (writes and
    /// events replace them sooner).
    // For a team whose webhook events are not heard; see `ttl_with_events`.
    #[arg(long = "cache-ttl-conversations", env = "HEYMARKET_CACHE_TTL_CONVERSATIONS", default_value = duration_text(DEFAULT_CACHE_TTL_CONVERSATIONS), value_parser = humantime::parse_duration)]
    pub ttl_conversations: Duration,

    /// How long conversations, list pages and newest messages are served from cache while
    /// their team's webhook events are heard: events and writes replace them sooner, so this
    /// only bounds what no event reports (a conversation read in another client).
    #[arg(long = "cache-ttl-with-events", env = "HEYMARKET_CACHE_TTL_WITH_EVENTS", default_value = duration_text(DEFAULT_CACHE_TTL_WITH_EVENTS), value_parser = humantime::parse_duration)]
    pub ttl_with_events: Duration,

    /// How long a team may go without a webhook event before its caches stop relying on
    /// events and go back to `--cache-ttl-conversations`.
    // And forget what they kept longer.
    #[arg(long = "cache-event-silence", env = "HEYMARKET_CACHE_EVENT_SILENCE", default_value = duration_text(DEFAULT_CACHE_EVENT_SILENCE), value_parser = humantime::parse_duration)]
    pub event_silence: Duration,

    /// How long contacts are served from cache.
    #[arg(long = "cache-ttl-contacts", env = "HEYMARKET_CACHE_TTL_CONTACTS", default_value = duration_text(DEFAULT_CACHE_TTL_CONTACTS), value_parser = humantime::parse_duration)]
    pub ttl_contacts: Duration,

    /// Entries per cache kind, across tenants; a list page or history counts one per row.
    // The least recently used go first.
    #[arg(long = "cache-capacity", env = "HEYMARKET_CACHE_CAPACITY", default_value_t = DEFAULT_CACHE_CAPACITY)]
    pub capacity: u64,

    /// MiB of whole query answers kept, per caller and query, while the caller's team is kept
    /// fresh by its webhook events; 0 keeps none.
    // Held in bytes (see `schema::answers`).
    #[arg(long = "answer-cache-mib", env = "HEYMARKET_ANSWER_CACHE_MIB", value_name = "ANSWER_CACHE_MIB", default_value = DEFAULT_ANSWER_CACHE_MIB.to_string(), value_parser = clap::value_parser!(u64).range(0..=65_536).map(|mib| mib * MIB))]
    pub answer_capacity_bytes: u64,

    /// Most messages asked of one team-wide message listing when finding the last messages of a
    /// page of conversations.
    #[arg(long, env = "HEYMARKET_MESSAGES_BATCH_LIMIT", default_value_t = DEFAULT_MESSAGES_BATCH_LIMIT, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub messages_batch_limit: u32,

    /// Most scheduled messages the gateway remembers per conversation for
    /// `Conversation.scheduledMessages` (Heymarket cannot list them); one more forgets the
    /// oldest.
    #[arg(long, env = "HEYMARKET_SCHEDULED_PER_CONVERSATION", default_value_t = DEFAULT_SCHEDULED_PER_CONVERSATION, value_parser = clap::value_parser!(u16).range(1..=1000).map(usize::from))]
    pub scheduled_per_conversation: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            ttl_directory: DEFAULT_CACHE_TTL_DIRECTORY,
            ttl_conversations: DEFAULT_CACHE_TTL_CONVERSATIONS,
            ttl_with_events: DEFAULT_CACHE_TTL_WITH_EVENTS,
            event_silence: DEFAULT_CACHE_EVENT_SILENCE,
            ttl_contacts: DEFAULT_CACHE_TTL_CONTACTS,
            capacity: DEFAULT_CACHE_CAPACITY,
            answer_capacity_bytes: DEFAULT_ANSWER_CACHE_MIB * MIB,
            messages_batch_limit: DEFAULT_MESSAGES_BATCH_LIMIT,
            scheduled_per_conversation: DEFAULT_SCHEDULED_PER_CONVERSATION,
        }
    }
}
