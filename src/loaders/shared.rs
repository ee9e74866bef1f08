//! The cache replicas share (Redis, with `--redis-url`), behind each replica's own: what one
//! replica fetched from the upstream, another reads from here instead of fetching it again, so
//! replicas behind a round-robin balancer spend about what one does.
//!
//! Every entry is kept under the current values of the team **epochs** it depends on (see
//! `epochs`): a conversation's own, its inboxes' for a list page or a count, its customer's for
//! a history. Every event of a team (a webhook, or a replica's hint of its own write) moves on
//! the epochs of what it can have changed, in the same step as it is published, before any
//! replica hears it, so no replica can read, after an event, an entry the event reaches that
//! was filled before it. A fill writes where its read found nothing, under the epochs it read
//! then, so it cannot race an event either. The shared cache thus forgets what an event
//! touches, as each replica's own caches do, and no more: on a team with an event a second,
//! what one replica fetched for one inbox survives the events of the others.
//!
//! An event makes every replica forget the same things at the same moment, and their next
//! requests would all find the same entries empty at once. The first to find one empty takes
//! its **lease** and fills it; the others wait for that fill (a lease lasts [`FILL_LEASE`] at
//! most, and a failed fill ends it) instead of each asking the upstream.
//!
//! Contacts change on events of their own (opt-ins and opt-outs, contact writes), and else only
//! in the Heymarket app, which sends no event: they are kept by the team's contacts epoch, for
//! half their own TTL (`--cache-ttl-contacts`), so a copy is never older than 1.5 times it
//! either.
//!
//! Only a team that is **event-driven** on this replica (see `freshness`) uses it. Without
//! events nothing would move the epochs, and an entry would be as old as the replica that
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

use super::epochs::Epoch;
use crate::error::ApiError;
use crate::metrics::{CacheKind, LoaderMetrics};

/// What a shared entry's encoding is: part of every key, and moved on whenever the encoding of
/// a shared model changes (a test pins the field names), so replicas of two versions side by
/// side never read each other's entries.
const SHARED_FORMAT: u32 = 1;

/// Entries larger than this are not shared (a list page of a few dozen conversations is tens
/// of KiB): Redis memory stays bounded per entry.
const LARGEST_ENTRY_BYTES: usize = 1 << 20;

/// One entry to look up: its key within the team, and the epochs it is kept by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedEntry {
    pub key: String,
    pub epochs: Vec<Epoch>,
}

/// Where replicas share entries, by team epochs (implemented over Redis).
pub trait SharedStore: Send + Sync + 'static {
    /// Where each of `entries` is kept in `team_id`'s current epochs, and what is there. With
    /// a `lease`, an entry found empty is leased to this reader for that long ([`Slot::Fill`]),
    /// unless another reader holds its lease ([`Slot::Filling`]). `None` when the store cannot
    /// answer now.
    fn read<'a>(
        &'a self,
        team_id: i64,
        entries: &'a [SharedEntry],
        lease: Option<Duration>,
    ) -> BoxFuture<'a, Option<SharedRead>>;

    /// Keeps each value under its name (as a read gave it) for `lifetime`. A failure only
    /// loses the sharing.
    fn write(&self, entries: Vec<(String, Vec<u8>)>, lifetime: Duration) -> BoxFuture<'_, ()>;

    /// Ends the lease on the entry `name`, whose fill failed, so that other readers stop
    /// waiting for it.
    fn release(&self, name: String) -> BoxFuture<'_, ()>;
}

/// What [`SharedStore::read`] found, entry by entry: where it is kept now, and what is there.
#[derive(Debug)]
pub struct SharedRead {
    pub names: Vec<String>,
    pub slots: Vec<Slot>,
}

/// What a read found of one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    /// Its value.
    Value(Vec<u8>),
    /// Nothing: the reader is to fill it (and holds its lease, when it asked for one).
    Fill,
    /// Nothing yet: another reader holds its lease and is filling it.
    Filling,
}

/// How long a replica that found an entry empty has to fill it before the others that wait
/// for it fetch it themselves: longer than an upstream call takes, short enough that a
/// replica that stopped mid-fill delays the others little.
const FILL_LEASE: Duration = Duration::from_secs(2);

/// How often a replica waiting for another's fill looks again: soon at first (a fill is one
/// upstream call), then less often.
const FIRST_LOOK: Duration = Duration::from_millis(5);
const LONGEST_BETWEEN_LOOKS: Duration = Duration::from_millis(80);

/// The shared cache as the loaders use it.
pub(super) struct SharedTier {
    store: Arc<dyn SharedStore>,
    /// How long an entry lives in the store.
    lifetime: Duration,
    /// How long an entry kept by [`Epoch::Contacts`] lives in the store.
    contacts_lifetime: Duration,
}

/// What [`SharedTier::read_many`] found: a value per entry (`None` where there is none that
/// decodes), and where to keep what is filled instead.
pub(super) struct Shared<V> {
    pub(super) values: Vec<Option<V>>,
    pub(super) at: SharedPlaces,
}

/// The items a read was for, parted by what the shared cache held (see [`Shared::part`]).
pub(super) struct Parted<T, V> {
    /// The items found, with their values.
    pub(super) found: Vec<(T, V)>,
    /// The items not found, with the index of their entry, which [`SharedTier::write_many`]
    /// writes what is filled for them by.
    pub(super) missing: Vec<(usize, T)>,
    pub(super) at: SharedPlaces,
}

impl<V> Shared<V> {
    /// `items`, one for each entry read and in the same order, parted into those found and
    /// those missing.
    pub(super) fn part<T>(self, items: impl IntoIterator<Item = T>) -> Parted<T, V> {
        let mut found = Vec::new();
        let mut missing = Vec::new();
        for (index, (item, value)) in items.into_iter().zip(self.values).enumerate() {
            match value {
                Some(value) => found.push((item, value)),
                None => missing.push((index, item)),
            }
        }
        Parted {
            found,
            missing,
            at: self.at,
        }
    }
}

/// Where the entries of one read are kept, by their index in it: what is filled for them is
/// written there.
pub(super) struct SharedPlaces {
    names: Vec<String>,
    lifetime: Duration,
}

/// The entries of one read that its reader fills: their indices in the read, their items,
/// and the names of those it holds the lease of.
struct Fills<T> {
    indices: Vec<usize>,
    items: Vec<T>,
    leased: Vec<String>,
}

impl<T> Default for Fills<T> {
    fn default() -> Self {
        Self {
            indices: Vec::new(),
            items: Vec::new(),
            leased: Vec::new(),
        }
    }
}

impl<T> Fills<T> {
    /// Adds the entry at `index` of a read, with its item; `leased_at`: where the read kept
    /// its entries, when this reader holds its lease.
    fn add(&mut self, index: usize, item: T, leased_at: Option<&SharedPlaces>) {
        if let Some(name) = leased_at.and_then(|at| at.names.get(index)) {
            self.leased.push(name.clone());
        }
        self.indices.push(index);
        self.items.push(item);
    }
}

/// What a read found of one entry, decoded.
enum Found<V> {
    Value(V),
    /// Nothing: this reader fills it, holding its lease or not.
    Fill {
        leased: bool,
    },
    Filling,
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

    /// The value of `entry` in `team_id`'s current epochs; when there is none, `fill`'s,
    /// which is then kept there for the other replicas. Replicas that find the entry empty at
    /// once fill it once: the first takes its lease and fills it, and the others wait for
    /// that (for [`FILL_LEASE`] at most) instead of each asking the upstream, which is what
    /// happens when an event makes every replica forget the same thing at the same moment.
    pub(super) async fn read_through<V, Fill>(
        &self,
        metrics: &LoaderMetrics,
        team_id: i64,
        entry: SharedEntry,
        fill: Fill,
    ) -> Result<V, ApiError>
    where
        V: Serialize + DeserializeOwned,
        Fill: Future<Output = Result<V, ApiError>>,
    {
        // One entry is filled once at most: it is answered by the first fill.
        let mut fill = Some(fill);
        let fill_once = |_: Vec<()>| {
            let fill = fill.take();
            async move {
                match fill {
                    Some(fill) => Ok(vec![fill.await?]),
                    None => Err(ApiError::Internal),
                }
            }
        };
        let read = self
            .read_many_through(metrics, team_id, vec![entry], vec![()], fill_once)
            .await?;
        read.into_iter()
            .next()
            .map(|((), value)| value)
            .ok_or(ApiError::Internal)
    }

    /// The values of `entries`, one for each of `items` (in the same order), read through as
    /// [`Self::read_through`] reads one: those found empty that this reader leases are filled
    /// by one call of `fill` (which answers the values of the items it is given, in their
    /// order) and kept for the other replicas; those another reader holds the lease of are
    /// waited for and read again, and filled here once the lease is waited out. A failed
    /// fill fails the whole read. Answers each item with its value, in no particular order.
    pub(super) async fn read_many_through<T, V, Fill>(
        &self,
        metrics: &LoaderMetrics,
        team_id: i64,
        entries: Vec<SharedEntry>,
        items: Vec<T>,
        mut fill: impl FnMut(Vec<T>) -> Fill,
    ) -> Result<Vec<(T, V)>, ApiError>
    where
        T: Clone,
        V: Serialize + DeserializeOwned,
        Fill: Future<Output = Result<Vec<V>, ApiError>>,
    {
        let mut answered = Vec::with_capacity(items.len());
        let mut pending: Vec<(SharedEntry, T)> = entries.into_iter().zip(items).collect();
        let waiting_since = tokio::time::Instant::now();
        let mut between_looks = FIRST_LOOK;
        while !pending.is_empty() {
            let (entries, items): (Vec<SharedEntry>, Vec<T>) = pending.into_iter().unzip();
            let lease = Some(FILL_LEASE);
            let Some((at, found)) = self.read::<V>(team_id, &entries, lease).await else {
                let values = fill(items.clone()).await?;
                answered.extend(items.into_iter().zip(values));
                break;
            };
            let waited_out = waiting_since.elapsed() >= FILL_LEASE;
            let mut mine = Fills::default();
            let mut hits = 0;
            pending = Vec::new();
            let read = entries.into_iter().zip(items).zip(found).enumerate();
            for (index, ((entry, item), found)) in read {
                match found {
                    Found::Value(value) => {
                        hits += 1;
                        answered.push((item, value));
                    }
                    Found::Filling if !waited_out => pending.push((entry, item)),
                    Found::Fill { leased } => mine.add(index, item, leased.then_some(&at)),
                    Found::Filling => mine.add(index, item, None),
                }
            }
            let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
            metrics.count_cache(CacheKind::Shared, count(hits), count(mine.items.len()));
            if !mine.items.is_empty() {
                answered.extend(self.fill_many(at, mine, &mut fill).await?);
            }
            if !pending.is_empty() {
                tokio::time::sleep(between_looks).await;
                between_looks = (between_looks * 2).min(LONGEST_BETWEEN_LOOKS);
            }
        }
        Ok(answered)
    }

    /// Fills `mine` with one call of `fill` and keeps what it answers where the read that gave
    /// `at` found them empty; ends the leases held on those it cannot keep (too large to
    /// share, or a failed fill), since those waiting for them would wait them out for nothing.
    async fn fill_many<T, V, Fill>(
        &self,
        at: SharedPlaces,
        mine: Fills<T>,
        fill: &mut impl FnMut(Vec<T>) -> Fill,
    ) -> Result<Vec<(T, V)>, ApiError>
    where
        T: Clone,
        V: Serialize,
        Fill: Future<Output = Result<Vec<V>, ApiError>>,
    {
        let Fills {
            indices,
            items,
            leased,
        } = mine;
        let (filled, unkept) = match fill(items.clone()).await {
            Ok(values) => {
                let left_out = self.write_many(at, indices.into_iter().zip(&values)).await;
                (Ok(items.into_iter().zip(values).collect()), left_out)
            }
            Err(error) => (Err(error), leased.clone()),
        };
        for name in unkept.into_iter().filter(|name| leased.contains(name)) {
            self.store.release(name).await;
        }
        filled
    }

    /// The values of `entries` in `team_id`'s current epochs (counted as hits and misses);
    /// `None` when the store cannot answer now. No lease is taken: each caller fills what it
    /// found empty.
    pub(super) async fn read_many<V: DeserializeOwned>(
        &self,
        metrics: &LoaderMetrics,
        team_id: i64,
        entries: Vec<SharedEntry>,
    ) -> Option<Shared<V>> {
        let (at, found) = self.read::<V>(team_id, &entries, None).await?;
        let values: Vec<Option<V>> = found
            .into_iter()
            .map(|found| match found {
                Found::Value(value) => Some(value),
                Found::Fill { .. } | Found::Filling => None,
            })
            .collect();
        let hits = values.iter().filter(|value| value.is_some()).count();
        let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        metrics.count_cache(CacheKind::Shared, count(hits), count(values.len() - hits));
        Some(Shared { values, at })
    }

    /// What the store holds for `entries`, decoded (a value that does not decode is filled
    /// again, without a lease), and where each is kept.
    async fn read<V: DeserializeOwned>(
        &self,
        team_id: i64,
        entries: &[SharedEntry],
        lease: Option<Duration>,
    ) -> Option<(SharedPlaces, Vec<Found<V>>)> {
        let lifetime = match entries
            .iter()
            .any(|entry| entry.epochs.contains(&Epoch::Contacts))
        {
            true => self.contacts_lifetime,
            false => self.lifetime,
        };
        let entries: Vec<SharedEntry> = entries
            .iter()
            .map(|SharedEntry { key, epochs }| SharedEntry {
                key: format!("v{SHARED_FORMAT}:{key}"),
                epochs: epochs.clone(),
            })
            .collect();
        let SharedRead { names, slots } = self.store.read(team_id, &entries, lease).await?;
        let found = slots
            .into_iter()
            .map(|slot| match slot {
                Slot::Value(bytes) => match serde_json::from_slice(&bytes) {
                    Ok(value) => Found::Value(value),
                    Err(error) => {
                        tracing::warn!(%error, "a shared cache entry does not decode; reading the upstream instead");
                        Found::Fill { leased: false }
                    }
                },
                Slot::Fill => Found::Fill {
                    leased: lease.is_some(),
                },
                Slot::Filling => Found::Filling,
            })
            .collect();
        Some((SharedPlaces { names, lifetime }, found))
    }

    /// Keeps `values`, by the index of their entry in the read that gave `at`, for the other
    /// replicas; answers where those left out (too large to share) were to be kept.
    pub(super) async fn write_many<'v, V>(
        &self,
        at: SharedPlaces,
        values: impl IntoIterator<Item = (usize, &'v V)>,
    ) -> Vec<String>
    where
        V: Serialize + 'v,
    {
        let mut kept = Vec::new();
        let mut left_out = Vec::new();
        for (index, value) in values {
            let Some(name) = at.names.get(index) else {
                continue;
            };
            match serde_json::to_vec(value) {
                Ok(bytes) if bytes.len() <= LARGEST_ENTRY_BYTES => kept.push((name.clone(), bytes)),
                Ok(_) => left_out.push(name.clone()),
                Err(error) => {
                    tracing::error!(%error, "cannot encode an entry to share");
                    left_out.push(name.clone());
                }
            }
        }
        if !kept.is_empty() {
            self.store.write(kept, at.lifetime).await;
        }
        left_out
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashMap, HashSet};
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU32, Ordering};

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

    /// A store in memory, with epochs that a test moves on by hand, and leases that last
    /// until they are released.
    #[derive(Default)]
    struct MemoryStore {
        epochs: Mutex<HashMap<(i64, Epoch), u64>>,
        entries: Mutex<HashMap<String, Vec<u8>>>,
        leases: Mutex<HashSet<String>>,
    }

    impl MemoryStore {
        fn move_on(&self, team_id: i64, epoch: Epoch) {
            *self
                .epochs
                .lock()
                .unwrap()
                .entry((team_id, epoch))
                .or_default() += 1;
        }

        fn name(&self, team_id: i64, entry: &SharedEntry) -> String {
            let epochs = self.epochs.lock().unwrap();
            let values: Vec<String> = entry
                .epochs
                .iter()
                .map(|epoch| {
                    let value = epochs.get(&(team_id, epoch.clone())).copied();
                    value.unwrap_or(0).to_string()
                })
                .collect();
            format!("{team_id}:{}:{}", values.join("."), entry.key)
        }
    }

    impl SharedStore for MemoryStore {
        fn read<'a>(
            &'a self,
            team_id: i64,
            entries: &'a [SharedEntry],
            lease: Option<Duration>,
        ) -> BoxFuture<'a, Option<SharedRead>> {
            let names: Vec<String> = entries
                .iter()
                .map(|entry| self.name(team_id, entry))
                .collect();
            let kept = self.entries.lock().unwrap();
            let mut leases = self.leases.lock().unwrap();
            let slots = names
                .iter()
                .map(|name| match kept.get(name) {
                    Some(value) => Slot::Value(value.clone()),
                    None if lease.is_some() && !leases.insert(name.clone()) => Slot::Filling,
                    None => Slot::Fill,
                })
                .collect();
            async move { Some(SharedRead { names, slots }) }.boxed()
        }

        fn write(&self, entries: Vec<(String, Vec<u8>)>, _lifetime: Duration) -> BoxFuture<'_, ()> {
            self.entries.lock().unwrap().extend(entries);
            async {}.boxed()
        }

        fn release(&self, name: String) -> BoxFuture<'_, ()> {
            self.leases.lock().unwrap().remove(&name);
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

    fn entry(key: &str, epochs: Vec<Epoch>) -> SharedEntry {
        SharedEntry {
            key: key.to_owned(),
            epochs,
        }
    }

    #[tokio::test]
    async fn a_value_filled_once_is_read_back_until_an_epoch_it_is_kept_by_moves() {
        let (tier, store) = tier();
        let metrics = LoaderMetrics::default();
        let fills = AtomicU32::new(0);
        let read = || {
            let kept_by = vec![Epoch::Unplaced, Epoch::Conversation(1)];
            tier.read_through(&metrics, 7, entry("conversation:1", kept_by), async {
                fills.fetch_add(1, Ordering::Relaxed);
                Ok(json!({"id": 1}))
            })
        };
        assert_eq!(read().await.unwrap(), json!({"id": 1}));
        assert_eq!(read().await.unwrap(), json!({"id": 1}));
        assert_eq!(fills.load(Ordering::Relaxed), 1);

        store.move_on(7, Epoch::Conversation(2));
        store.move_on(8, Epoch::Conversation(1));
        read().await.unwrap();
        assert_eq!(fills.load(Ordering::Relaxed), 1, "other epochs moved");

        store.move_on(7, Epoch::Conversation(1));
        read().await.unwrap();
        assert_eq!(fills.load(Ordering::Relaxed), 2);
    }

    #[tokio::test]
    async fn an_entry_that_does_not_decode_is_filled_again_and_a_failed_fill_is_not_kept() {
        let (tier, store) = tier();
        let metrics = LoaderMetrics::default();
        store
            .entries
            .lock()
            .unwrap()
            .insert("7:0:v1:count".to_owned(), b"not json".to_vec());
        let count = tier
            .read_through(&metrics, 7, entry("count", vec![Epoch::Team]), async {
                Ok(3_u64)
            })
            .await;
        assert_eq!(count.unwrap(), 3);

        let failed = tier
            .read_through::<u64, _>(&metrics, 7, entry("other", vec![Epoch::Team]), async {
                Err(ApiError::Internal)
            })
            .await;
        assert!(failed.is_err());
        assert!(!store.entries.lock().unwrap().contains_key("7:0:v1:other"));
    }

    /// A fill of `value` that takes `took` (of paused time) and counts itself in `fills`.
    async fn slow_fill(fills: &AtomicU32, took: Duration, value: u64) -> Result<u64, ApiError> {
        fills.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(took).await;
        Ok(value)
    }

    #[tokio::test(start_paused = true)]
    async fn replicas_that_find_an_entry_empty_at_once_fill_it_once() {
        let (tier, _store) = tier();
        let metrics = LoaderMetrics::default();
        let fills = AtomicU32::new(0);
        let read = || {
            let fill = slow_fill(&fills, Duration::from_millis(300), 5);
            tier.read_through(&metrics, 7, entry("count", vec![Epoch::Team]), fill)
        };
        let (first, second, third) = tokio::join!(read(), read(), read());
        assert_eq!((first.unwrap(), second.unwrap(), third.unwrap()), (5, 5, 5));
        assert_eq!(fills.load(Ordering::Relaxed), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_fill_ends_its_lease_and_a_waiter_fills_at_once() {
        let (tier, _store) = tier();
        let metrics = LoaderMetrics::default();
        let fills = AtomicU32::new(0);
        let entry = || entry("count", vec![Epoch::Team]);
        let failing = async {
            fills.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(100)).await;
            Err::<u64, _>(ApiError::Internal)
        };
        let started = tokio::time::Instant::now();
        let waiting = async {
            // Starts once the failing fill holds the lease.
            tokio::task::yield_now().await;
            let fill = slow_fill(&fills, Duration::from_millis(100), 5);
            let value = tier.read_through(&metrics, 7, entry(), fill).await;
            (value, started.elapsed())
        };
        let (failed, (value, took)) =
            tokio::join!(tier.read_through(&metrics, 7, entry(), failing), waiting);
        assert!(failed.is_err());
        assert_eq!(value.unwrap(), 5);
        assert_eq!(fills.load(Ordering::Relaxed), 2);
        assert!(took < Duration::from_millis(400), "it waited {took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_lease_never_released_is_waited_out_once() {
        let (tier, store) = tier();
        let metrics = LoaderMetrics::default();
        let fills = AtomicU32::new(0);
        let entry = entry("count", vec![Epoch::Team]);
        let name = store.name(
            7,
            &SharedEntry {
                key: format!("v{SHARED_FORMAT}:count"),
                epochs: entry.epochs.clone(),
            },
        );
        store.leases.lock().unwrap().insert(name);
        let started = tokio::time::Instant::now();
        let fill = slow_fill(&fills, Duration::ZERO, 5);
        assert_eq!(
            tier.read_through(&metrics, 7, entry, fill).await.unwrap(),
            5
        );
        let waited = started.elapsed();
        assert!(
            (FILL_LEASE..FILL_LEASE + LONGEST_BETWEEN_LOOKS * 2).contains(&waited),
            "{waited:?}"
        );
        assert_eq!(fills.load(Ordering::Relaxed), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn readers_that_miss_the_same_entries_at_once_fill_each_once() {
        let (tier, _store) = tier();
        let metrics = LoaderMetrics::default();
        let filled: Mutex<Vec<String>> = Mutex::default();
        let (tier, metrics, filling) = (&tier, &metrics, &filled);
        let read = |keys: &[&str]| {
            let entries = keys
                .iter()
                .map(|key| entry(key, vec![Epoch::Contacts]))
                .collect();
            let items: Vec<String> = keys.iter().map(|key| (*key).to_owned()).collect();
            let fill = |items: Vec<String>| {
                filling.lock().unwrap().extend(items.iter().cloned());
                async move {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    Ok(items.iter().map(|item| format!("{item}!")).collect())
                }
            };
            async move {
                let mut read = tier
                    .read_many_through(metrics, 7, entries, items, fill)
                    .await
                    .unwrap();
                read.sort();
                read
            }
        };
        let pairs = |keys: &[&str]| -> Vec<(String, String)> {
            keys.iter()
                .map(|key| ((*key).to_owned(), format!("{key}!")))
                .collect()
        };

        let (first, second) = tokio::join!(read(&["a", "b"]), read(&["b", "c"]));
        assert_eq!((first, second), (pairs(&["a", "b"]), pairs(&["b", "c"])));
        let mut filled = filled.into_inner().unwrap();
        filled.sort();
        assert_eq!(filled, ["a", "b", "c"], "each entry filled once");
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_fill_of_many_fails_the_read_and_ends_its_leases() {
        let (tier, store) = tier();
        let metrics = LoaderMetrics::default();
        let entries = vec![entry("a", vec![Epoch::Contacts])];
        let failing = |_: Vec<&str>| async { Err::<Vec<u64>, _>(ApiError::Internal) };
        let failed = tier
            .read_many_through(&metrics, 7, entries, vec!["a"], failing)
            .await;
        assert!(failed.is_err());
        assert!(store.leases.lock().unwrap().is_empty(), "its lease ended");
        assert!(store.entries.lock().unwrap().is_empty(), "nothing kept");
    }
}
