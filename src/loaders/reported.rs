//! A write through the gateway and the webhook that reports it are one change: whichever of
//! the two comes first moves the lists of its inboxes on, and the other, reporting the very
//! same conversation state, need not move them again.
//!
//! Per tenant and conversation, this remembers the last state the tenant's lists were moved on
//! for. A report of exactly that state (every field equal, `updated` included) can change no
//! list: any page filled since the move was filled with that state or a later one. A state
//! that differs in anything, or a report that shows only part of a conversation (a replica's
//! hint), moves the lists as before; so does a report that comes after another state was
//! recorded, since only the latest is kept.

use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;

use crate::upstream::TenantKey;
use crate::upstream::models::Conversation;

/// How long a state is remembered: long enough for the webhook of a write to arrive.
const REMEMBER_FOR: Duration = Duration::from_secs(60);

/// The conversation states the lists of each tenant were last moved on for.
pub(super) struct ReportedStates {
    last: Cache<(TenantKey, i64), Arc<Conversation>>,
}

impl ReportedStates {
    pub(super) fn new(capacity: u64) -> Self {
        Self {
            last: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(REMEMBER_FOR)
                .build(),
        }
    }

    /// Whether `tenant`'s lists still need moving on for `state`, which the upstream reported
    /// (a webhook's payload, a read after a write); remembers it as the last one when they do.
    /// A state without `updated` is never taken as known: it could be any state.
    pub(super) fn moves_lists(&self, tenant: TenantKey, state: &Conversation) -> bool {
        let key = (tenant, state.id);
        if state.updated.is_some() && self.last.get(&key).is_some_and(|last| *last == *state) {
            return false;
        }
        self.last.insert(key, Arc::new(state.clone()));
        true
    }

    pub(super) fn forget_all(&self) {
        self.last.invalidate_all();
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn state(fields: serde_json::Value) -> Conversation {
        serde_json::from_value(fields).unwrap()
    }

    #[test]
    fn the_same_state_reported_twice_moves_the_lists_once() {
        let states = ReportedStates::new(100);
        let tenant = TenantKey::named("a");
        let written =
            state(json!({ "id": 1, "status": "closed", "updated": "2026-05-01T00:00:01Z" }));
        assert!(states.moves_lists(tenant, &written));
        assert!(
            !states.moves_lists(tenant, &written),
            "the webhook of the write"
        );
        assert!(
            states.moves_lists(TenantKey::named("b"), &written),
            "another tenant's lists"
        );

        let reopened =
            state(json!({ "id": 1, "status": "open", "updated": "2026-05-01T00:00:01Z" }));
        assert!(
            states.moves_lists(tenant, &reopened),
            "another state, same instant"
        );
        assert!(
            states.moves_lists(tenant, &written),
            "an older state reported late"
        );
    }

    #[test]
    fn a_state_without_its_instant_always_moves_the_lists() {
        let states = ReportedStates::new(100);
        let tenant = TenantKey::named("a");
        let partial = state(json!({ "id": 1 }));
        assert!(states.moves_lists(tenant, &partial));
        assert!(states.moves_lists(tenant, &partial));
    }
}
