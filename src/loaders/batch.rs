//! A cache for values the upstream serves in batches (contacts by phone, last messages by
//! conversation) that is still shared per key, even while a batch is in flight: a request that
//! needs keys another request is already fetching waits for that fetch instead of starting its
//! own, and fetches only the keys nobody has.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use futures::future::{BoxFuture, FutureExt, Shared, join_all, lazy};
use moka::future::{Cache, CacheBuilder};
use moka::ops::compute::Op;

use crate::error::ApiError;

/// A value that may still be on its way.
type Pending<V> = Shared<BoxFuture<'static, Result<V, ApiError>>>;

/// How a [`BatchCache`]'s entries are bounded, before it is built.
pub(super) type BatchCacheBuilder<K, V> =
    CacheBuilder<K, Pending<Option<V>>, Cache<K, Pending<Option<V>>>>;

/// Fetches the values of some keys in one upstream round; a key missing from the answer has no
/// value upstream. A failure of the whole round fails every key; a key may also fail alone
/// (then only its own look-up reports the error).
pub(super) type BatchFetch<K, V> = Arc<
    dyn Fn(Vec<K>) -> BoxFuture<'static, Result<HashMap<K, Result<V, ApiError>>, ApiError>>
        + Send
        + Sync,
>;

/// What one round answered, key by key.
type Answers<K, V> = Arc<HashMap<K, Result<V, ApiError>>>;

pub(super) struct BatchCache<K, V> {
    entries: Cache<K, Pending<Option<V>>>,
}

impl<K, V> BatchCache<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// A cache built by `builder` (its capacity and expiry), able to drop entries selectively.
    pub(super) fn new(builder: BatchCacheBuilder<K, V>) -> Self {
        Self {
            entries: builder.support_invalidation_closures().build(),
        }
    }

    /// Drops every entry whose key `stale` picks, and every entry if that cannot be done.
    pub(super) fn invalidate_if(&self, stale: impl Fn(&K) -> bool + Send + Sync + 'static) {
        if let Err(error) = self.entries.invalidate_entries_if(move |key, _| stale(key)) {
            tracing::error!(%error, "cannot drop cached entries selectively; clearing them all");
            self.entries.invalidate_all();
        }
    }

    /// Drops the entry of `key`.
    pub(super) async fn invalidate(&self, key: &K) {
        self.entries.invalidate(key).await;
    }

    /// Drops every entry.
    pub(super) fn invalidate_all(&self) {
        self.entries.invalidate_all();
    }

    /// How many of `keys` are cached or in flight, so a caller can tell what it was spared.
    pub(super) fn present(&self, keys: &[K]) -> usize {
        keys.iter()
            .filter(|key| self.entries.contains_key(*key))
            .count()
    }

    /// The value of every key (`None` where the upstream has none): cached and in-flight ones as
    /// they are, the rest from one `fetch` of just those keys.
    ///
    /// Every key is first found or claimed, and only then is the batch of the claimed ones sent:
    /// of two requests asking for the same keys at once, each fetches only the keys it claimed,
    /// so no key is fetched twice however their look-ups interleave.
    pub(super) async fn get_many(
        &self,
        keys: Vec<K>,
        fetch: BatchFetch<K, V>,
    ) -> Vec<(K, Result<Option<V>, ApiError>)> {
        let claimed: Arc<Mutex<Vec<K>>> = Arc::default();
        // Lazy: polled only once every key below has been found or claimed.
        let batch: Pending<Answers<K, V>> = {
            let claimed = Arc::clone(&claimed);
            let fetch = Arc::clone(&fetch);
            async move {
                let keys =
                    std::mem::take(&mut *claimed.lock().unwrap_or_else(PoisonError::into_inner));
                fetch(keys).await.map(Arc::new)
            }
            .boxed()
            .shared()
        };

        let found = join_all(keys.into_iter().map(|key| {
            let (claimed, batch) = (Arc::clone(&claimed), batch.clone());
            async move {
                let ours = AtomicBool::new(false);
                let claim = lazy(|_| {
                    ours.store(true, Ordering::Relaxed);
                    claimed
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(key.clone());
                    answer_of(key.clone(), batch)
                });
                let pending = self.entries.get_with(key.clone(), claim).await;
                (key, pending, ours.into_inner())
            }
        }))
        .await;

        let lookups = found.into_iter().map(|(key, pending, ours)| {
            let fetch = Arc::clone(&fetch);
            async move {
                let value = pending.clone().await;
                if value.is_err() {
                    // Shared with those already waiting, not kept for later requests.
                    self.forget_failed(&key, &pending).await;
                }
                let value = match value {
                    // Another request's fetch was refused for that request's upstream budget,
                    // which says nothing of this one's: fetch the key with this one's own.
                    Err(ApiError::UpstreamBudgetExceeded { .. }) if !ours => {
                        fetch(vec![key.clone()])
                            .await
                            .and_then(|values| values.get(&key).cloned().transpose())
                    }
                    value => value,
                };
                (key, value)
            }
        });
        join_all(lookups).await
    }
}

impl<K, V> BatchCache<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Drops `key`'s entry if it is still the look-up that failed: by the time a failure is
    /// known, an event may have dropped it and a newer look-up taken its place, which must
    /// stay. (Checked and removed as one step, under the entry's lock.)
    async fn forget_failed(&self, key: &K, failed: &Pending<Option<V>>) {
        self.entries
            .entry(key.clone())
            .and_compute_with(|entry| {
                let op = match entry {
                    Some(entry) if Shared::ptr_eq(entry.value(), failed) => Op::Remove,
                    _ => Op::Nop,
                };
                std::future::ready(op)
            })
            .await;
    }
}

/// `key`'s value out of the answer of the batch that claimed it.
fn answer_of<K, V>(key: K, batch: Pending<Answers<K, V>>) -> Pending<Option<V>>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    async move { batch.await?.get(&key).cloned().transpose() }
        .boxed()
        .shared()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    fn counting_fetch(
        calls: Arc<AtomicUsize>,
        asked: Arc<std::sync::Mutex<Vec<Vec<u32>>>>,
    ) -> BatchFetch<u32, String> {
        Arc::new(move |keys: Vec<u32>| {
            let calls = calls.clone();
            let asked = asked.clone();
            async move {
                calls.fetch_add(1, Ordering::SeqCst);
                asked.lock().unwrap().push(keys.clone());
                tokio::task::yield_now().await;
                Ok(keys
                    .into_iter()
                    .filter(|key| key % 2 == 0)
                    .map(|key| {
                        let value = if key == 8 {
                            Err(ApiError::UpstreamTimeout)
                        } else {
                            Ok(format!("v{key}"))
                        };
                        (key, value)
                    })
                    .collect())
            }
            .boxed()
        })
    }

    #[tokio::test]
    async fn overlapping_requests_share_in_flight_keys_and_fetch_only_the_rest() {
        let cache = BatchCache::new(
            Cache::builder()
                .max_capacity(100)
                .time_to_live(Duration::from_secs(60)),
        );
        let calls = Arc::new(AtomicUsize::new(0));
        let asked = Arc::new(std::sync::Mutex::new(Vec::new()));
        let fetch = counting_fetch(calls.clone(), asked.clone());

        let (first, second) = tokio::join!(
            cache.get_many(vec![1, 2, 3, 4], fetch.clone()),
            cache.get_many(vec![2, 3, 4, 5, 6], fetch.clone())
        );

        let values =
            |answers: Vec<(u32, Result<Option<String>, ApiError>)>| -> Vec<(u32, Option<String>)> {
                answers
                    .into_iter()
                    .map(|(key, value)| (key, value.unwrap()))
                    .collect()
            };
        assert_eq!(
            values(first),
            [
                (1, None),
                (2, Some("v2".into())),
                (3, None),
                (4, Some("v4".into()))
            ]
        );
        assert_eq!(values(second)[3..], [(5, None), (6, Some("v6".into()))]);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(
            *asked.lock().unwrap(),
            [vec![1, 2, 3, 4], vec![5, 6]],
            "the second asked only for what nobody had"
        );
        let later = cache.get_many(vec![1, 2, 5, 6], fetch.clone()).await;
        assert!(later.iter().all(|(_, value)| value.is_ok()));
        assert_eq!(
            calls.load(Ordering::SeqCst),
            2,
            "everything cached, nothing fetched"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn requests_racing_for_the_same_keys_fetch_each_key_once() {
        let cache = Arc::new(BatchCache::new(
            Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Duration::from_secs(60)),
        ));
        let calls = Arc::new(AtomicUsize::new(0));
        let asked = Arc::new(std::sync::Mutex::new(Vec::new()));
        let fetch = counting_fetch(calls.clone(), asked.clone());
        let start = Arc::new(tokio::sync::Barrier::new(8));
        let requests = (0..8_u32).map(|request| {
            let (cache, fetch, start) = (cache.clone(), fetch.clone(), start.clone());
            tokio::spawn(async move {
                // Each in its own order, all at once (without key 8, whose failure is not kept).
                let mut keys: Vec<u32> = (0..300).filter(|key| *key != 8).collect();
                keys.rotate_left(request as usize * 37);
                start.wait().await;
                cache.get_many(keys, fetch).await.len()
            })
        });
        for answered in join_all(requests).await {
            assert_eq!(answered.expect("a request"), 299);
        }
        let mut fetched: Vec<u32> = asked.lock().unwrap().concat();
        fetched.sort_unstable();
        let once: Vec<u32> = (0..300).filter(|key| *key != 8).collect();
        assert_eq!(fetched, once, "each key fetched once");
    }

    #[tokio::test]
    async fn a_budget_refusal_of_another_request_is_not_shared() {
        let cache: BatchCache<u32, String> = BatchCache::new(
            Cache::builder()
                .max_capacity(100)
                .time_to_live(Duration::from_secs(60)),
        );
        let spent: BatchFetch<u32, String> = Arc::new(|_| {
            async {
                tokio::task::yield_now().await;
                Err(ApiError::UpstreamBudgetExceeded { budget: 1 })
            }
            .boxed()
        });
        let calls = Arc::new(AtomicUsize::new(0));

        let (refused, served) = tokio::join!(
            cache.get_many(vec![2], spent),
            cache.get_many(vec![2], counting_fetch(calls.clone(), Default::default()))
        );

        assert_eq!(
            refused[0].1,
            Err(ApiError::UpstreamBudgetExceeded { budget: 1 })
        );
        assert_eq!(served[0].1, Ok(Some("v2".to_owned())));
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "fetched with its own budget"
        );
    }

    #[tokio::test]
    async fn failures_are_shared_but_not_kept() {
        let cache: BatchCache<u32, String> = BatchCache::new(
            Cache::builder()
                .max_capacity(100)
                .time_to_live(Duration::from_secs(60)),
        );
        let failing: BatchFetch<u32, String> =
            Arc::new(|_| async { Err(ApiError::UpstreamUnavailable) }.boxed());
        let answers = cache.get_many(vec![1, 2], failing).await;
        assert!(
            answers
                .iter()
                .all(|(_, value)| value == &Err(ApiError::UpstreamUnavailable))
        );

        let calls = Arc::new(AtomicUsize::new(0));
        let answers = cache
            .get_many(
                vec![1, 2],
                counting_fetch(calls.clone(), Default::default()),
            )
            .await;
        assert!(answers.iter().all(|(_, value)| value.is_ok()));
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "the failure was not cached"
        );
    }

    #[tokio::test]
    async fn a_failure_does_not_evict_a_newer_look_up_of_its_key() {
        let cache: Arc<BatchCache<u32, String>> = Arc::new(BatchCache::new(
            Cache::builder()
                .max_capacity(100)
                .time_to_live(Duration::from_secs(60)),
        ));
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let released = released.shared();
        let failing: BatchFetch<u32, String> = Arc::new(move |_| {
            let released = released.clone();
            async move {
                let _ = released.await;
                Err(ApiError::UpstreamUnavailable)
            }
            .boxed()
        });
        let calls = Arc::new(AtomicUsize::new(0));
        let fetch = counting_fetch(calls.clone(), Default::default());

        let first = tokio::spawn({
            let cache = Arc::clone(&cache);
            async move { cache.get_many(vec![2], failing).await }
        });
        for _ in 0..1_000 {
            if cache.present(&[2]) == 1 {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(cache.present(&[2]), 1, "the first look-up holds the key");
        // An event drops the key, and a newer look-up fills it while the first still waits.
        cache.invalidate(&2).await;
        let newer = cache.get_many(vec![2], fetch.clone()).await;
        assert_eq!(newer[0].1, Ok(Some("v2".to_owned())));

        release.send(()).expect("the first look-up waits");
        let failed = first.await.expect("the first look-up");
        assert_eq!(failed[0].1, Err(ApiError::UpstreamUnavailable));

        let later = cache.get_many(vec![2], fetch).await;
        assert_eq!(later[0].1, Ok(Some("v2".to_owned())));
        assert_eq!(calls.load(Ordering::SeqCst), 1, "the newer value was kept");
    }

    #[tokio::test]
    async fn one_key_fails_alone() {
        let cache = BatchCache::new(
            Cache::builder()
                .max_capacity(100)
                .time_to_live(Duration::from_secs(60)),
        );
        let calls = Arc::new(AtomicUsize::new(0));
        let fetch = counting_fetch(calls.clone(), Default::default());

        let answers = cache.get_many(vec![6, 8, 10], fetch.clone()).await;

        assert_eq!(
            answers,
            [
                (6, Ok(Some("v6".to_owned()))),
                (8, Err(ApiError::UpstreamTimeout)),
                (10, Ok(Some("v10".to_owned())))
            ]
        );
        cache.get_many(vec![6, 8, 10], fetch).await;
        assert_eq!(
            calls.load(Ordering::SeqCst),
            2,
            "only the failed key is asked again"
        );
    }
}
