//! The newest read of each conversation past every cache, so that an event is answered by it
//! rather than read once more when that read shows the state the event reports, or a later
//! one.
//!
//! A subscription reads an event's conversation again from the upstream, past the caches (see
//! `schema::subscription`): an event is only a hint. Most events of a busy team are the
//! webhooks of the gateway's own writes, each of which reads its conversation back
//! (`Loaders::reload_conversation`) while its webhook is on the way. Where that read shows
//! exactly the state the event reports (every field, `updated` included), or a later `updated`,
//! reading again could tell nothing newer: a later change moves `updated` on, and brings its
//! own event. A read still on its way is waited for.
//!
//! What is served is always the read's copy, never the event's. A read answers only while it
//! is the newest begun of its conversation, and only until an event reports another state: an
//! event of an older state than the read shows is then read again, as before. Where the
//! payload lacks `updated`, the event is always read again.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt, Shared};
use moka::ops::compute::Op;
use moka::sync::Cache;
use tokio::sync::oneshot;

use super::reported::state_digest;
use crate::upstream::TenantKey;
use crate::upstream::models::Conversation;

/// How long a read answers for events: long enough for the webhook of a write to arrive.
const ANSWERS_FOR: Duration = Duration::from_secs(60);

/// What a read found: `None` when it failed, found nothing, or was given up.
type Found = Shared<BoxFuture<'static, Option<Arc<Conversation>>>>;

/// One read of a conversation, begun at `begun` (reads are numbered in the order they begin).
#[derive(Clone)]
struct Read {
    begun: u64,
    found: Found,
}

/// The newest read begun of each conversation, per tenant (see the module's notes).
pub(super) struct FreshReads {
    begun: AtomicU64,
    newest: Cache<(TenantKey, i64), Read>,
}

/// A read under way: [`ReadUnderWay::found`] tells its readers what it found. Dropped
/// without, it tells them it found nothing, and they read for themselves.
pub(super) struct ReadUnderWay(oneshot::Sender<Option<Arc<Conversation>>>);

impl ReadUnderWay {
    pub(super) fn found(self, conversation: Option<Arc<Conversation>>) {
        // Nobody waiting is fine.
        let _ = self.0.send(conversation);
    }
}

impl FreshReads {
    pub(super) fn new(capacity: u64) -> Self {
        Self {
            begun: AtomicU64::new(0),
            newest: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ANSWERS_FOR)
                .build(),
        }
    }

    /// A read of conversation `id` of `tenant` begins: from now on it is the newest, unless
    /// one begun later already is.
    pub(super) fn begin(&self, tenant: TenantKey, id: i64) -> ReadUnderWay {
        let (sender, receiver) = oneshot::channel();
        let read = Read {
            begun: self.begun.fetch_add(1, Ordering::Relaxed),
            found: receiver.map(|found| found.ok().flatten()).boxed().shared(),
        };
        self.newest
            .entry((tenant, id))
            .and_compute_with(|kept| match kept {
                Some(kept) if kept.value().begun > read.begun => Op::Nop,
                _ => Op::Put(read),
            });
        ReadUnderWay(sender)
    }

    /// An event reported conversation `id` as `state` (`None`: in a state it does not show):
    /// a finished read of any other state no longer answers (one under way still may).
    pub(super) fn reported(&self, tenant: TenantKey, id: i64, state: Option<&Conversation>) {
        let digest = state.and_then(state_digest);
        self.newest.entry((tenant, id)).and_compute_with(|kept| {
            match kept.map(|kept| kept.into_value().found.now_or_never()) {
                // Nothing kept, or a read still under way.
                None | Some(None) => Op::Nop,
                Some(Some(Some(read))) if digest.is_some() && state_digest(&read) == digest => {
                    Op::Nop
                }
                Some(Some(_)) => Op::Remove,
            }
        });
    }

    /// The newest read of `state`'s conversation, waited for, when it shows `state` or a
    /// later one (see the module's notes).
    pub(super) async fn showing(
        &self,
        tenant: TenantKey,
        state: &Conversation,
    ) -> Option<Arc<Conversation>> {
        let reported = state.updated?;
        let read = self.newest.get(&(tenant, state.id))?.found.await?;
        let shown = read.updated?;
        let answers =
            shown > reported || (shown == reported && state_digest(&read) == state_digest(state));
        answers.then_some(read)
    }

    pub(super) fn forget_all(&self) {
        self.newest.invalidate_all();
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn state(fields: serde_json::Value) -> Arc<Conversation> {
        Arc::new(serde_json::from_value(fields).unwrap())
    }

    fn closed() -> Arc<Conversation> {
        state(json!({ "id": 1, "status": "closed", "updated": "2026-05-01T00:00:01.5Z" }))
    }

    fn reopened() -> Arc<Conversation> {
        state(json!({ "id": 1, "status": "open", "updated": "2026-05-01T00:00:02.5Z" }))
    }

    /// The same instant as `closed`, in another state.
    fn assigned() -> Arc<Conversation> {
        state(
            json!({ "id": 1, "status": "closed", "assigned": 7, "updated": "2026-05-01T00:00:01.5Z" }),
        )
    }

    fn found(reads: &FreshReads, tenant: TenantKey, conversation: Option<Arc<Conversation>>) {
        reads.begin(tenant, 1).found(conversation);
    }

    #[tokio::test]
    async fn a_read_answers_events_of_its_state_or_an_earlier_one_of_its_tenant() {
        let reads = FreshReads::new(100);
        let tenant = TenantKey::named("a");
        found(&reads, tenant, Some(closed()));
        assert_eq!(reads.showing(tenant, &closed()).await, Some(closed()));
        let earlier =
            state(json!({ "id": 1, "status": "open", "updated": "2026-05-01T00:00:00Z" }));
        assert_eq!(
            reads.showing(tenant, &earlier).await,
            Some(closed()),
            "a later state than the event's"
        );
        assert_eq!(
            reads.showing(tenant, &reopened()).await,
            None,
            "a later event"
        );
        assert_eq!(
            reads.showing(tenant, &assigned()).await,
            None,
            "another state of the same instant"
        );
        assert_eq!(
            reads.showing(TenantKey::named("b"), &closed()).await,
            None,
            "another tenant"
        );
        let partial = state(json!({ "id": 1, "status": "closed" }));
        assert_eq!(
            reads.showing(tenant, &partial).await,
            None,
            "an event without its instant"
        );
    }

    #[tokio::test]
    async fn a_read_under_way_is_waited_for_and_one_given_up_answers_nothing() {
        let reads = FreshReads::new(100);
        let tenant = TenantKey::named("a");
        let under_way = reads.begin(tenant, 1);
        let event = closed();
        let (shown, ()) = tokio::join!(reads.showing(tenant, &event), async {
            tokio::task::yield_now().await;
            under_way.found(Some(closed()));
        });
        assert_eq!(shown, Some(closed()));

        drop(reads.begin(tenant, 1));
        assert_eq!(reads.showing(tenant, &closed()).await, None, "given up");
        found(&reads, tenant, None);
        assert_eq!(reads.showing(tenant, &closed()).await, None, "gone");
    }

    #[tokio::test]
    async fn only_the_read_begun_last_answers() {
        let reads = FreshReads::new(100);
        let tenant = TenantKey::named("a");
        let (earlier, later) = (reads.begin(tenant, 1), reads.begin(tenant, 1));
        later.found(Some(closed()));
        earlier.found(Some(reopened()));
        assert_eq!(
            reads.showing(tenant, &reopened()).await,
            None,
            "begun first, answered last"
        );
        assert_eq!(reads.showing(tenant, &closed()).await, Some(closed()));
    }

    #[tokio::test]
    async fn an_event_of_another_state_or_of_none_forgets_a_finished_read() {
        let reads = FreshReads::new(100);
        let tenant = TenantKey::named("a");
        found(&reads, tenant, Some(closed()));
        reads.reported(tenant, 1, Some(&closed()));
        assert_eq!(
            reads.showing(tenant, &closed()).await,
            Some(closed()),
            "its own"
        );

        reads.reported(tenant, 1, Some(&assigned()));
        assert_eq!(
            reads.showing(tenant, &closed()).await,
            None,
            "another state"
        );

        found(&reads, tenant, Some(closed()));
        reads.reported(tenant, 1, None);
        assert_eq!(
            reads.showing(tenant, &closed()).await,
            None,
            "a replica's hint"
        );

        let under_way = reads.begin(tenant, 1);
        reads.reported(tenant, 1, Some(&assigned()));
        under_way.found(Some(closed()));
        assert_eq!(
            reads.showing(tenant, &closed()).await,
            Some(closed()),
            "a read under way may still show it"
        );
    }
}
