//! A write through the gateway and the webhook that reports it are one change: whichever of
//! the two comes first moves the lists of its inboxes on, and the other, reporting the very
//! same conversation state, need not move them again.
//!
//! Per tenant and conversation, this remembers the last state the tenant's lists were moved on
//! for. A report of exactly that state (every field equal, `updated` included) can change no
//! list: any page filled since the move was filled with that state or a later one. That holds
//! only where a list row is a function of the conversation's state, which is the case when
//! rows and states name every member's read state (`unread_users`); where the rows carry the
//! listing member's own read state instead, a change of it can leave the state as it was, so
//! every report moves the lists. A state that differs in anything, or a report that shows only
//! part of a conversation (a replica's hint), moves the lists as before; so does a report that
//! comes after another state was recorded, since only the latest is kept.

use std::time::Duration;

use moka::sync::Cache;
use sha2::{Digest, Sha256};

use crate::upstream::TenantKey;
use crate::upstream::models::Conversation;

/// How long a state is remembered: long enough for the webhook of a write to arrive.
const REMEMBER_FOR: Duration = Duration::from_secs(60);

/// The conversation states the lists of each tenant were last moved on for, each kept as the
/// SHA-256 digest of its encoding (a few dozen bytes where the state takes a kilobyte).
pub(super) struct ReportedStates {
    last: Cache<(TenantKey, i64), [u8; 32]>,
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
    /// `rows_are_states`: list rows show nothing a state does not (see the module's notes). A
    /// state without `updated` or `unread_users` is never taken as known: it may not show the
    /// change.
    pub(super) fn moves_lists(
        &self,
        tenant: TenantKey,
        state: &Conversation,
        rows_are_states: bool,
    ) -> bool {
        let key = (tenant, state.id);
        let Some(digest) = state_digest(state) else {
            self.last.invalidate(&key);
            return true;
        };
        let comparable = rows_are_states && state.unread_users.is_some();
        if comparable && self.last.get(&key) == Some(digest) {
            return false;
        }
        self.last.insert(key, digest);
        true
    }

    pub(super) fn forget_all(&self) {
        self.last.invalidate_all();
    }
}

/// The SHA-256 digest of `state`'s encoding, to tell two states apart: `None` for a state
/// without `updated`, which could be any state of its conversation.
pub(super) fn state_digest(state: &Conversation) -> Option<[u8; 32]> {
    state.updated?;
    let encoded = serde_json::to_vec(state).ok()?;
    Some(Sha256::digest(encoded).into())
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
        let written = state(
            json!({ "id": 1, "status": "closed", "updated": "2026-05-01T00:00:01Z", "unread_users": [4] }),
        );
        assert!(states.moves_lists(tenant, &written, true));
        assert!(
            !states.moves_lists(tenant, &written, true),
            "the webhook of the write"
        );
        assert!(
            states.moves_lists(TenantKey::named("b"), &written, true),
            "another tenant's lists"
        );

        let reopened = state(
            json!({ "id": 1, "status": "open", "updated": "2026-05-01T00:00:01Z", "unread_users": [4] }),
        );
        assert!(
            states.moves_lists(tenant, &reopened, true),
            "another state, same instant"
        );
        assert!(
            states.moves_lists(tenant, &written, true),
            "an older state reported late"
        );
    }

    #[test]
    fn a_state_that_may_not_show_the_change_always_moves_the_lists() {
        let states = ReportedStates::new(100);
        let tenant = TenantKey::named("a");
        let whole = json!({ "id": 1, "updated": "2026-05-01T00:00:01Z", "unread_users": [4] });
        for (fields, rows_are_states) in [
            (json!({ "id": 1 }), true),
            (json!({ "id": 1, "updated": "2026-05-01T00:00:01Z" }), true),
            (whole.clone(), false),
        ] {
            let reported = state(fields);
            assert!(states.moves_lists(tenant, &reported, rows_are_states));
            assert!(
                states.moves_lists(tenant, &reported, rows_are_states),
                "{reported:?} {rows_are_states}"
            );
        }
        let other = TenantKey::named("b");
        assert!(states.moves_lists(other, &state(whole.clone()), true));
        assert!(!states.moves_lists(other, &state(whole), true));
    }
}
