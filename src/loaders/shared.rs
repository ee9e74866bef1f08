//! The cache replicas share (Redis, with `--redis-url`), behind each replica's own: what one
//! replica fetched from the upstream, another reads from here instead of fetching it again, so
//! replicas behind a round-robin balancer spend about what one does.
//!
//! Entries are kept per team **epoch**. Every event of a team (a webhook, or a replica's hint
//! of its own write) moves the team to a new epoch in the same step as it is published, before
//! any replica hears it, so no replica can read, after an event, an entry filled before it:
//! the invalidation is the same as the replicas' own, and it cannot race a fill, since a fill
//! writes into the epoch it read in. What is shared is what the team's events invalidate:
//! conversations, list pages, counts, histories and team-wide message listings.
//!
//! Contacts change on events of their own (opt-ins and opt-outs, contact writes), and else only
//! in the Heymarket app, which sends no event: they are kept by a **contacts epoch** of the
//! team that only those events move, for half their own TTL (`--cache-ttl-contacts`), so a
//! copy is never older than 1.5 times it either.
//!
//! Only a team that is **event-driven** on this replica (see `freshness`) uses it. Without
//! events nothing would move the epoch, and an entry would be as old as the replica that
//! fetched it first, not as old as the short TTL each replica promises; such teams keep to
//! their replica's own caches.
//!
//! An entry lives half the safety TTL (`--cache-ttl-with-events`) in the shared cache, so a
//! copy a replica takes from it and keeps for that TTL is never older than 1.5 times it.
//! Whatever the store cannot do (Redis down, an entry that does not decode) is a miss, never
//! an error: the upstream answers instead.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::metrics::{CacheKind, LoaderMetrics};

/// What a shared entry's encoding is: part of every key, and moved on whenever the encoding of
/// a shared model changes (a test pins the field names), so replicas of two versions side by
/// side never read each other's entries.
const SHARED_FORMAT: u32 = 1;

/// Entries larger than this are not shared (a list page of a few dozen conversations is tens
/// of KiB): Redis memory stays bounded per entry.
const LARGEST_ENTRY_BYTES: usize = 1 << 20;

/// Which of a team's epochs an entry is kept by: the events that move it (see the module's
/// notes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SharedScope {
    /// Moved by every event of the team: conversations, lists, counts, histories, listings.
    Conversations,
    /// Moved by the events that concern a contact: contacts by address.
    Contacts,
}

/// Where replicas share entries, by team epoch (implemented over Redis).
pub trait SharedStore: Send + Sync + 'static {
    /// The values of `keys` in `team_id`'s current epoch of `scope`, with that epoch; `None`
    /// when the store cannot answer now.
    fn read<'a>(
        &'a self,
        team_id: i64,
        scope: SharedScope,
        keys: &'a [String],
    ) -> BoxFuture<'a, Option<SharedRead>>;

    /// Keeps `entries` in `epoch` for `lifetime`. A failure only loses the sharing.
    fn write(
        &self,
        epoch: String,
        entries: Vec<(String, Vec<u8>)>,
        lifetime: Duration,
    ) -> BoxFuture<'_, ()>;
}

/// What [`SharedStore::read`] found: the epoch it read in, and a value (or none) per key.
#[derive(Debug)]
pub struct SharedRead {
    pub epoch: String,
    pub values: Vec<Option<Vec<u8>>>,
}

/// The shared cache as the loaders use it.
pub(super) struct SharedTier {
    store: Arc<dyn SharedStore>,
    /// How long an entry of [`SharedScope::Conversations`] lives in the store.
    lifetime: Duration,
    /// How long an entry of [`SharedScope::Contacts`] lives in the store.
    contacts_lifetime: Duration,
}

/// What [`SharedTier::read_many`] found: a value per key (`None` where there is none that
/// decodes), and where to keep what is filled instead.
pub(super) struct Shared<V> {
    pub(super) values: Vec<Option<V>>,
    pub(super) at: SharedEpoch,
}

/// The epoch some entries were read in, which what is filled for them is written into.
pub(super) struct SharedEpoch {
    epoch: String,
    scope: SharedScope,
}

impl SharedTier {
    /// Entries in `store`, for half of `safety_ttl`, and contacts for half of `contacts_ttl`
    /// (see the module's notes).
    pub(super) fn new(
        store: Arc<dyn SharedStore>,
        safety_ttl: Duration,
        contacts_ttl: Duration,
    ) -> Self {
        Self {
            store,
            lifetime: safety_ttl / 2,
            contacts_lifetime: contacts_ttl.min(safety_ttl) / 2,
        }
    }

    /// The value under `key` in `team_id`'s current epoch; when there is none, `fill`'s, which
    /// is then kept there for the other replicas.
    pub(super) async fn read_through<V, Fill>(
        &self,
        metrics: &LoaderMetrics,
        team_id: i64,
        key: String,
        fill: Fill,
    ) -> Result<V, ApiError>
    where
        V: Serialize + DeserializeOwned,
        Fill: Future<Output = Result<V, ApiError>>,
    {
        let keys = [key];
        let scope = SharedScope::Conversations;
        let Some(Shared { values, at }) = self.read_many(metrics, team_id, scope, &keys).await
        else {
            return fill.await;
        };
        if let Some(value) = values.into_iter().next().flatten() {
            return Ok(value);
        }
        let value = fill.await?;
        let [key] = keys;
        self.write_many(at, [(key, &value)]).await;
        Ok(value)
    }

    /// The values under `keys` in `team_id`'s current epoch of `scope` (counted as hits and
    /// misses); `None` when the store cannot answer now.
    pub(super) async fn read_many<V: DeserializeOwned>(
        &self,
        metrics: &LoaderMetrics,
        team_id: i64,
        scope: SharedScope,
        keys: &[String],
    ) -> Option<Shared<V>> {
        let keys: Vec<String> = keys
            .iter()
            .map(|key| format!("v{SHARED_FORMAT}:{key}"))
            .collect();
        let SharedRead { epoch, values } = self.store.read(team_id, scope, &keys).await?;
        let values: Vec<Option<V>> = values
            .into_iter()
            .map(|bytes| {
                serde_json::from_slice(&bytes?)
                    .inspect_err(|error| {
                        tracing::warn!(%error, "a shared cache entry does not decode; reading the upstream instead");
                    })
                    .ok()
            })
            .collect();
        let hits = values.iter().filter(|value| value.is_some()).count();
        let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        metrics.count_cache(CacheKind::Shared, count(hits), count(values.len() - hits));
        Some(Shared {
            values,
            at: SharedEpoch { epoch, scope },
        })
    }

    /// Keeps `entries` in the epoch `at`, for the other replicas (those too large to share are
    /// left out).
    pub(super) async fn write_many<'v, V>(
        &self,
        at: SharedEpoch,
        entries: impl IntoIterator<Item = (String, &'v V)>,
    ) where
        V: Serialize + 'v,
    {
        let encoded =
            entries
                .into_iter()
                .filter_map(|(key, value)| match serde_json::to_vec(value) {
                    Ok(bytes) if bytes.len() <= LARGEST_ENTRY_BYTES => {
                        Some((format!("v{SHARED_FORMAT}:{key}"), bytes))
                    }
                    Ok(_) => None,
                    Err(error) => {
                        tracing::error!(%error, "cannot encode an entry to share");
                        None
                    }
                });
        let entries: Vec<_> = encoded.collect();
        if entries.is_empty() {
            return;
        }
        let lifetime = match at.scope {
            SharedScope::Conversations => self.lifetime,
            SharedScope::Contacts => self.contacts_lifetime,
        };
        self.store.write(at.epoch, entries, lifetime).await;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashMap};
    use std::sync::Mutex;

    use futures::FutureExt;
    use serde_json::{Value, json};

    use super::*;
    use crate::upstream::models::{Contact, Conversation, Message};

    /// Every field name a shared model encodes; a change here changes what replicas exchange,
    /// so [`SHARED_FORMAT`] must move with it.
    fn encoded_fields<T: DeserializeOwned + Serialize>(object: Value) -> BTreeSet<String> {
        let decoded: T = serde_json::from_value(object).expect("the object decodes");
        match serde_json::to_value(decoded).expect("a model serialises") {
            Value::Object(fields) => fields.into_iter().map(|(name, _)| name).collect(),
            other => panic!("{other} is not an object"),
        }
    }

    #[test]
    fn the_shared_encoding_is_pinned_to_its_format() {
        let conversation = encoded_fields::<Conversation>(json!({"id": 1}));
        let message = encoded_fields::<Message>(json!({"id": 1}));
        let contact = encoded_fields::<Contact>(json!({"id": 1}));
        let fields = format!("{conversation:?} {message:?} {contact:?}");
        assert_eq!(
            (SHARED_FORMAT, fields.as_str()),
            (
                1,
                r#"{"assigned", "blocked", "channel", "created", "creator", "id", "inbox", "last_inbound", "last_msg", "local_id", "members", "muted", "name", "read", "replied", "snooze_till", "status", "target", "type", "unread", "unread_users", "updated"} {"author", "conversation", "date", "gallery", "id", "local_id", "media", "phone", "private", "raw_error", "status", "target", "target_errors", "text", "type", "updated", "user"} {"assigned_user_id", "blocked", "created", "creator_id", "custom", "display_name", "email", "first", "id", "is_opted_out", "last", "phone", "rev", "shared", "tags", "team_id", "updated", "uuid"}"#
            ),
            "the encoding of a shared model changed: move SHARED_FORMAT on, then pin the new fields here"
        );
    }

    /// A store in memory, with one epoch per team that a test moves on by hand.
    #[derive(Default)]
    struct MemoryStore {
        epochs: Mutex<HashMap<i64, u64>>,
        entries: Mutex<HashMap<String, Vec<u8>>>,
    }

    impl SharedStore for MemoryStore {
        fn read<'a>(
            &'a self,
            team_id: i64,
            scope: SharedScope,
            keys: &'a [String],
        ) -> BoxFuture<'a, Option<SharedRead>> {
            let epoch = self.epochs.lock().unwrap().get(&team_id).copied();
            let epoch = format!("{team_id}:{scope:?}:{}:", epoch.unwrap_or(0));
            let entries = self.entries.lock().unwrap();
            let values = keys
                .iter()
                .map(|key| entries.get(&format!("{epoch}{key}")).cloned())
                .collect();
            async move { Some(SharedRead { epoch, values }) }.boxed()
        }

        fn write(
            &self,
            epoch: String,
            entries: Vec<(String, Vec<u8>)>,
            _lifetime: Duration,
        ) -> BoxFuture<'_, ()> {
            let mut kept = self.entries.lock().unwrap();
            for (key, value) in entries {
                kept.insert(format!("{epoch}{key}"), value);
            }
            async {}.boxed()
        }
    }

    fn tier() -> (SharedTier, Arc<MemoryStore>) {
        let store = Arc::new(MemoryStore::default());
        let tier = SharedTier::new(
            store.clone(),
            Duration::from_secs(300),
            Duration::from_secs(120),
        );
        (tier, store)
    }

    #[tokio::test]
    async fn a_value_filled_once_is_read_back_until_the_epoch_moves() {
        let (tier, store) = tier();
        let metrics = LoaderMetrics::default();
        let fills = std::sync::atomic::AtomicU32::new(0);
        let read = || {
            tier.read_through(&metrics, 7, "conversation:1".to_owned(), async {
                fills.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Ok(json!({"id": 1}))
            })
        };
        assert_eq!(read().await.unwrap(), json!({"id": 1}));
        assert_eq!(read().await.unwrap(), json!({"id": 1}));
        assert_eq!(fills.load(std::sync::atomic::Ordering::Relaxed), 1);

        *store.epochs.lock().unwrap().entry(7).or_default() += 1;
        read().await.unwrap();
        assert_eq!(fills.load(std::sync::atomic::Ordering::Relaxed), 2);
    }

    #[tokio::test]
    async fn an_entry_that_does_not_decode_is_filled_again_and_a_failed_fill_is_not_kept() {
        let (tier, store) = tier();
        let metrics = LoaderMetrics::default();
        store.entries.lock().unwrap().insert(
            "7:Conversations:0:v1:count".to_owned(),
            b"not json".to_vec(),
        );
        let count = tier
            .read_through(&metrics, 7, "count".to_owned(), async { Ok(3_u64) })
            .await;
        assert_eq!(count.unwrap(), 3);

        let failed = tier
            .read_through::<u64, _>(&metrics, 7, "other".to_owned(), async {
                Err(ApiError::Internal)
            })
            .await;
        assert!(failed.is_err());
        assert!(
            !store
                .entries
                .lock()
                .unwrap()
                .contains_key("7:Conversations:0:v1:other")
        );
    }
}
