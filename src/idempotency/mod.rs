//! What each idempotency key of a send led to, so that a repeated key answers the first send
//! instead of sending again, whatever the upstream does with a repeated `local_id` (its docs
//! promise de-duplication for email sends and broadcasts only, heymarket-api.md §1, §7.1).
//!
//! Each tenant's keys are recorded for a while ([`SendRecords`]: in this process, or in Redis
//! when replicas share one). The first request with a key claims it and sends; a request that
//! finds the key claimed waits for that send to settle and answers its result; a request that
//! finds it settled answers at once. Exactly one request per key reaches the upstream.
//!
//! - `local`: [`LocalSendRecords`], the records of one process.
//! - `crate::redis::RedisSendRecords`: the records replicas share.

mod local;

use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

use crate::upstream::TenantKey;

pub use local::LocalSendRecords;

/// Longest pause between two looks at a key another request is sending with: short next to a
/// send, which takes several upstream calls.
const LONGEST_PAUSE: Duration = Duration::from_millis(250);
/// First pause; each next one doubles up to [`LONGEST_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(10);

/// Where one tenant's key is recorded: the tenant and a digest of the key, so no client
/// string ends up in a store's key names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SendKey(String);

impl SendKey {
    pub fn new(tenant: TenantKey, idempotency_key: &str) -> Self {
        let digest = Sha256::digest(idempotency_key.as_bytes());
        Self(format!("{}:{}", tenant.hex(), crate::hex::hex(&digest)))
    }

    /// The key as stores name it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What is recorded under a key: which send it stands for, and how far that send got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// A digest of everything the send carries but its key (see [`fingerprint`]): the same key
    /// with other input is another message, not a retry.
    pub input: String,
    pub outcome: Outcome,
}

/// How far the send of a key got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Outcome {
    /// A request is sending it; `since` is when it claimed the key (Unix milliseconds).
    Sending { since: i64 },
    /// The upstream took it.
    Sent(Sent),
    /// It reached the upstream without a usable answer: it may or may not have been sent.
    Unknown,
}

/// A message the upstream took, as the send's answer and its read-back name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    pub message_id: i64,
    /// When the upstream dated it, to find it in a long history.
    pub date: Option<DateTime<Utc>>,
    /// Its conversation, once the message was read back there; `None` until then.
    pub conversation_id: Option<i64>,
}

/// The records of every tenant's keys. Implementations keep each record for their TTL from its
/// last write.
pub trait SendRecords: Send + Sync + 'static {
    /// Records `record` under `key` unless something is recorded there, atomically; `None` when
    /// it did, else what was there.
    fn claim<'a>(&'a self, key: &'a SendKey, record: &'a Record) -> BoxFuture<'a, Option<Record>>;

    /// Records `record` under `key`, replacing what was there.
    fn put<'a>(&'a self, key: &'a SendKey, record: &'a Record) -> BoxFuture<'a, ()>;

    /// Forgets `key`, so the next request with it sends.
    fn remove<'a>(&'a self, key: &'a SendKey) -> BoxFuture<'a, ()>;
}

/// A digest of a send's input: the upstream request it makes, without its `local_id`.
pub fn fingerprint(request: &impl Serialize) -> String {
    // A request of plain fields always serialises; an empty input would only make every send
    // with a key look like a different message, which refuses rather than duplicates.
    let bytes = serde_json::to_vec(request).unwrap_or_default();
    crate::hex::hex(&Sha256::digest(bytes))
}

/// The gateway's memory of idempotency keys; cheap to clone.
#[derive(Clone)]
pub struct Idempotency {
    inner: Arc<Inner>,
}

struct Inner {
    records: Arc<dyn SendRecords>,
    /// Woken whenever a send of this process settles, so its waiters need not poll for it.
    settled: Notify,
    /// How long a request waits for another request's send of its key.
    wait: Duration,
    /// How long a claim may stay unsettled before its owner is taken to be gone (a replica
    /// that stopped mid-send): its outcome is then unknown.
    abandoned_after: Duration,
}

/// What a request finds when it claims a key.
pub enum Claim {
    /// The key is this request's: it sends, and settles the guard with the outcome.
    Mine(SendGuard),
    /// An earlier request's send of the key, settled (never [`Outcome::Sending`]).
    Earlier(Record),
    /// Another request with the same input is still sending it.
    InFlight,
}

impl Idempotency {
    /// Keys kept in `records`. `request_timeout` bounds every request, so a request waits for
    /// another's send at most half of it, and a claim older than twice it has no owner left.
    pub fn new(records: Arc<dyn SendRecords>, request_timeout: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                records,
                settled: Notify::new(),
                wait: request_timeout / 2,
                abandoned_after: request_timeout.saturating_mul(2),
            }),
        }
    }

    /// Claims `key` for a send of `input`, or answers what the key already stands for. While
    /// another request sends the same input with it, waits for that send to settle, at most
    /// the wait this was built with; a different input is answered at once, whatever its
    /// state, so the caller can refuse it.
    pub async fn claim(&self, key: &SendKey, input: &str) -> Claim {
        let deadline = tokio::time::Instant::now() + self.inner.wait;
        let mut pause = FIRST_PAUSE;
        loop {
            // Registered before looking, so a send settling in between still wakes this.
            let mut settled = pin!(self.inner.settled.notified());
            settled.as_mut().enable();
            let mine = Record {
                input: input.to_owned(),
                outcome: Outcome::Sending {
                    since: now_millis(),
                },
            };
            let found = match self.inner.records.claim(key, &mine).await {
                None => return Claim::Mine(SendGuard::new(self.clone(), key.clone(), mine)),
                Some(found) => found,
            };
            let Outcome::Sending { since } = found.outcome else {
                return Claim::Earlier(found);
            };
            if found.input != input {
                return Claim::Earlier(found);
            }
            if self.abandoned(since) {
                return Claim::Earlier(Record {
                    input: found.input,
                    outcome: Outcome::Unknown,
                });
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Claim::InFlight;
            }
            // Another replica's send wakes nobody here: look again after a pause.
            let nap = pause.min(deadline - now);
            tokio::select! {
                () = settled => {}
                () = tokio::time::sleep(nap) => {}
            }
            pause = (pause * 2).min(LONGEST_PAUSE);
        }
    }

    /// Records that the send of `key` (with `input`) was found to have landed as `sent`, after
    /// its outcome had been unknown.
    pub async fn found(&self, key: &SendKey, input: &str, sent: Sent) {
        let record = Record {
            input: input.to_owned(),
            outcome: Outcome::Sent(sent),
        };
        self.inner.records.put(key, &record).await;
        self.inner.settled.notify_waiters();
    }

    fn abandoned(&self, since: i64) -> bool {
        let limit = i64::try_from(self.inner.abandoned_after.as_millis()).unwrap_or(i64::MAX);
        now_millis().saturating_sub(since) > limit
    }
}

/// A claimed key, held while its request sends. Settle it with what became of the send; a
/// guard dropped unsettled (the request was cut off) records an unknown outcome once the send
/// may have gone out, and frees the key if it had not.
pub struct SendGuard {
    idempotency: Idempotency,
    key: SendKey,
    record: Record,
    /// Whether the write may have reached the upstream.
    sending: bool,
    settled: bool,
}

impl SendGuard {
    fn new(idempotency: Idempotency, key: SendKey, record: Record) -> Self {
        Self {
            idempotency,
            key,
            record,
            sending: false,
            settled: false,
        }
    }

    /// The write is about to go out: from now on its outcome may be unknown.
    pub fn sending(&mut self) {
        self.sending = true;
    }

    /// The upstream took the message. Keeps the guard, so a later step can record more of it.
    pub async fn sent(&mut self, sent: Sent) {
        self.record.outcome = Outcome::Sent(sent);
        self.write().await;
    }

    /// The send reached the upstream, and whether it landed is unknown.
    pub async fn unknown(mut self) {
        self.record.outcome = Outcome::Unknown;
        self.write().await;
    }

    /// Nothing reached the upstream (or the upstream refused it): the key is free again.
    pub async fn release(mut self) {
        self.settled = true;
        let inner = &self.idempotency.inner;
        inner.records.remove(&self.key).await;
        inner.settled.notify_waiters();
    }

    async fn write(&mut self) {
        self.settled = true;
        let inner = &self.idempotency.inner;
        inner.records.put(&self.key, &self.record).await;
        inner.settled.notify_waiters();
    }
}

impl Drop for SendGuard {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let inner = Arc::clone(&self.idempotency.inner);
        let key = self.key.clone();
        let unknown = self.sending.then(|| Record {
            input: self.record.input.clone(),
            outcome: Outcome::Unknown,
        });
        runtime.spawn(async move {
            match unknown {
                Some(record) => inner.records.put(&key, &record).await,
                None => inner.records.remove(&key).await,
            }
            inner.settled.notify_waiters();
        });
    }
}

fn now_millis() -> i64 {
    Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use futures::future::join_all;

    use super::*;

    fn idempotency() -> Idempotency {
        let records = Arc::new(LocalSendRecords::new(Duration::from_secs(60)));
        Idempotency::new(records, Duration::from_secs(2))
    }

    fn key(name: &str) -> SendKey {
        SendKey(name.to_owned())
    }

    fn sent(message_id: i64) -> Sent {
        Sent {
            message_id,
            date: None,
            conversation_id: Some(7),
        }
    }

    fn mine(claim: Claim) -> SendGuard {
        match claim {
            Claim::Mine(guard) => guard,
            _ => panic!("the key should have been free"),
        }
    }

    fn earlier(claim: Claim) -> Record {
        match claim {
            Claim::Earlier(record) => record,
            Claim::Mine(_) => panic!("the key was claimed already"),
            Claim::InFlight => panic!("the send should have settled"),
        }
    }

    fn tenant(secret_id: &str) -> TenantKey {
        let config = crate::config::UpstreamConfig {
            auth: crate::config::UpstreamAuth::Secret {
                id: secret_id.to_owned(),
                key: "a-secret-key".to_owned().into(),
            },
            ..Default::default()
        };
        let client = crate::upstream::Client::new(&config).unwrap();
        client.tenant(None).unwrap().tenant_key()
    }

    #[test]
    fn keys_name_the_tenant_and_hide_the_client_key() {
        let key = SendKey::new(tenant("id-1"), "order 42 for ada@example.com");
        assert!(key.as_str().starts_with(&tenant("id-1").hex()));
        assert!(!key.as_str().contains("ada"));
        assert_ne!(
            SendKey::new(tenant("id-2"), "order 42 for ada@example.com"),
            key
        );
    }

    #[tokio::test]
    async fn the_first_claim_sends_and_the_next_answer_its_outcome() {
        let idempotency = idempotency();
        let mut guard = mine(idempotency.claim(&key("k"), "input").await);
        guard.sending();
        guard.sent(sent(90)).await;

        let record = earlier(idempotency.claim(&key("k"), "input").await);
        assert_eq!(record.outcome, Outcome::Sent(sent(90)));
        let other = earlier(idempotency.claim(&key("k"), "other input").await);
        assert_eq!(other.input, "input");
    }

    #[tokio::test]
    async fn concurrent_claims_wait_for_the_one_that_sends() {
        let idempotency = idempotency();
        let mut guard = mine(idempotency.claim(&key("k"), "input").await);
        let shared = key("k");
        let waiters = join_all((0..3).map(|_| idempotency.claim(&shared, "input")));
        let settle = async {
            tokio::task::yield_now().await;
            guard.sending();
            guard.sent(sent(91)).await;
        };

        let (claims, ()) = tokio::join!(waiters, settle);

        for claim in claims {
            assert_eq!(earlier(claim).outcome, Outcome::Sent(sent(91)));
        }
    }

    #[tokio::test]
    async fn a_waiter_gives_up_while_the_send_is_still_in_flight() {
        let records = Arc::new(LocalSendRecords::new(Duration::from_secs(60)));
        let idempotency = Idempotency::new(records, Duration::from_millis(100));
        let _guard = mine(idempotency.claim(&key("k"), "input").await);

        assert!(matches!(
            idempotency.claim(&key("k"), "input").await,
            Claim::InFlight
        ));
        let other = earlier(idempotency.claim(&key("k"), "other input").await);
        assert!(matches!(other.outcome, Outcome::Sending { .. }));
    }

    #[tokio::test]
    async fn a_released_key_sends_again_and_an_unknown_outcome_is_kept() {
        let idempotency = idempotency();
        mine(idempotency.claim(&key("free"), "input").await)
            .release()
            .await;
        let mut guard = mine(idempotency.claim(&key("free"), "input").await);
        guard.sending();
        guard.unknown().await;

        let record = earlier(idempotency.claim(&key("free"), "input").await);
        assert_eq!(record.outcome, Outcome::Unknown);
        idempotency.found(&key("free"), "input", sent(92)).await;
        let record = earlier(idempotency.claim(&key("free"), "input").await);
        assert_eq!(record.outcome, Outcome::Sent(sent(92)));
    }

    #[tokio::test]
    async fn a_guard_dropped_mid_send_leaves_an_unknown_outcome_and_before_it_a_free_key() {
        let idempotency = idempotency();
        drop(mine(idempotency.claim(&key("before"), "input").await));
        let mut guard = mine(idempotency.claim(&key("during"), "input").await);
        guard.sending();
        drop(guard);

        // The drops settle on a task of their own; a claim waits for them.
        let record = earlier(idempotency.claim(&key("during"), "input").await);
        assert_eq!(record.outcome, Outcome::Unknown);
        assert!(matches!(
            idempotency.claim(&key("before"), "input").await,
            Claim::Mine(_)
        ));
    }

    #[tokio::test]
    async fn a_claim_whose_owner_is_gone_is_an_unknown_outcome() {
        let records = Arc::new(LocalSendRecords::new(Duration::from_secs(60)));
        let idempotency = Idempotency::new(records.clone(), Duration::from_secs(2));
        let stale = Record {
            input: "input".to_owned(),
            outcome: Outcome::Sending {
                since: now_millis() - 60_000,
            },
        };
        records.put(&key("k"), &stale).await;

        let record = earlier(idempotency.claim(&key("k"), "input").await);
        assert_eq!(record.outcome, Outcome::Unknown);
    }

    #[test]
    fn records_survive_a_round_trip_through_json() {
        for outcome in [
            Outcome::Sending { since: 1 },
            Outcome::Sent(sent(93)),
            Outcome::Unknown,
        ] {
            let record = Record {
                input: "digest".to_owned(),
                outcome,
            };
            let text = serde_json::to_string(&record).unwrap();
            assert_eq!(serde_json::from_str::<Record>(&text).unwrap(), record);
        }
    }

    #[test]
    fn the_fingerprint_follows_the_input() {
        let a = fingerprint(&serde_json::json!({ "chat_id": 1, "text": "hi" }));
        assert_eq!(
            a,
            fingerprint(&serde_json::json!({ "chat_id": 1, "text": "hi" }))
        );
        assert_ne!(
            a,
            fingerprint(&serde_json::json!({ "chat_id": 2, "text": "hi" }))
        );
        assert_ne!(
            a,
            fingerprint(&serde_json::json!({ "chat_id": 1, "text": "hi!" }))
        );
    }
}
