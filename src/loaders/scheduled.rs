//! What the gateway remembers of the messages it scheduled. The upstream has no endpoint that
//! lists scheduled messages (heymarket-api.md §7.6), so a conversation's scheduled messages are
//! the ones scheduled through this gateway, remembered here: per tenant and conversation (its
//! inbox and customer), at most `--scheduled-per-conversation` each, in at most the cache
//! capacity's worth of conversations, the least used forgotten first. Only ids are kept (and
//! the member each was scheduled as, which the upstream's object does not name); every read
//! asks the upstream for the message itself. The memory is this process's own: a restart, or
//! another replica, starts without it.

use std::sync::Arc;

use moka::future::Cache;

use crate::upstream::TenantKey;

/// A conversation as scheduling names it: its inbox and the customer's number.
type TargetKey = (TenantKey, i64, String);

/// The ids of scheduled messages per conversation, and who each was scheduled as.
pub struct ScheduledMemory {
    by_target: Cache<TargetKey, Arc<Vec<i64>>>,
    senders: Cache<(TenantKey, i64), i64>,
    /// Most ids kept per conversation; one more forgets the oldest.
    per_conversation: usize,
}

impl ScheduledMemory {
    /// Room for `capacity` conversations' lists of at most `per_conversation` ids each, and
    /// for `capacity` senders.
    pub(super) fn new(capacity: u64, per_conversation: usize) -> Self {
        Self {
            by_target: Cache::builder().max_capacity(capacity).build(),
            senders: Cache::builder().max_capacity(capacity).build(),
            per_conversation,
        }
    }

    /// Remembers scheduled message `id` of the conversation with `target` in `inbox`, sent as
    /// `sender`.
    pub(super) async fn remember(
        &self,
        tenant: TenantKey,
        inbox: i64,
        target: &str,
        id: i64,
        sender: i64,
    ) {
        self.senders.insert((tenant, id), sender).await;
        let most = self.per_conversation;
        self.by_target
            .entry((tenant, inbox, target.to_owned()))
            .and_upsert_with(|known| async move {
                let mut ids: Vec<i64> = known
                    .map(|entry| entry.into_value().to_vec())
                    .unwrap_or_default();
                ids.retain(|known| *known != id);
                ids.push(id);
                let excess = ids.len().saturating_sub(most);
                ids.drain(..excess);
                Arc::new(ids)
            })
            .await;
    }

    /// Forgets scheduled message `id` of that conversation (cancelled, or gone upstream).
    pub(super) async fn forget(&self, tenant: TenantKey, inbox: i64, target: &str, id: i64) {
        self.senders.invalidate(&(tenant, id)).await;
        self.by_target
            .entry((tenant, inbox, target.to_owned()))
            .and_compute_with(|known| async move {
                let Some(known) = known else {
                    return moka::ops::compute::Op::Nop;
                };
                let ids: Vec<i64> = known
                    .into_value()
                    .iter()
                    .copied()
                    .filter(|known| *known != id)
                    .collect();
                if ids.is_empty() {
                    moka::ops::compute::Op::Remove
                } else {
                    moka::ops::compute::Op::Put(Arc::new(ids))
                }
            })
            .await;
    }

    /// The remembered ids of that conversation, oldest scheduled first.
    pub(super) async fn ids(&self, tenant: TenantKey, inbox: i64, target: &str) -> Arc<Vec<i64>> {
        self.by_target
            .get(&(tenant, inbox, target.to_owned()))
            .await
            .unwrap_or_default()
    }

    /// The member scheduled message `id` was scheduled as, when remembered.
    pub(super) async fn sender(&self, tenant: TenantKey, id: i64) -> Option<i64> {
        self.senders.get(&(tenant, id)).await
    }
}
