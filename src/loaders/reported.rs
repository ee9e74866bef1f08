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
//! every report moves the lists. A state that differs in anything, or a report without a
//! state (an event that shows none), moves the lists as before; so does a report that comes
//! after another state was recorded, since only the latest is kept.
//!
//! Replicas tell each other of the same: a replica's hint of its write carries the digest of
//! the state it read back, and every published event the digest of the state it reports
//! (`Event::state_digest`), by which the lists shared in Redis are moved on once for each
//! state too (see `redis::shared_cache`).

use std::time::Duration;

use moka::sync::Cache;
use sha2::{Digest, Sha256};

use crate::upstream::TenantKey;
use crate::upstream::models::Conversation;

/// How long a state is remembered: long enough for the webhook of a write to arrive.
pub const REMEMBER_STATES_FOR: Duration = Duration::from_secs(60);

/// The conversation states the lists of each tenant were last moved on for, each kept as the
/// hex SHA-256 digest of its encoding (a few dozen bytes where the state takes a kilobyte), as
/// events carry it.
pub(super) struct ReportedStates {
    last: Cache<(TenantKey, i64), String>,
}

impl ReportedStates {
    pub(super) fn new(capacity: u64) -> Self {
        Self {
            last: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(REMEMBER_STATES_FOR)
                .build(),
        }
    }

    /// Whether `tenant`'s lists still need moving on for a report of `conversation` in the
    /// state whose digest is `digest` (see [`comparable_digest`]); remembers it as the last
    /// one when they do. A report without a digest always moves them, and leaves no state
    /// remembered: the conversation may have changed since.
    pub(super) fn moves_lists(
        &self,
        tenant: TenantKey,
        conversation: i64,
        digest: Option<&str>,
    ) -> bool {
        let key = (tenant, conversation);
        let Some(digest) = digest else {
            self.last.invalidate(&key);
            return true;
        };
        if self.last.get(&key).as_deref() == Some(digest) {
            return false;
        }
        self.last.insert(key, digest.to_owned());
        true
    }

    pub(super) fn forget_all(&self) {
        self.last.invalidate_all();
    }
}

/// The hex digest `state` is told apart from every other state of its conversation by, when
/// it can be: `None` where list rows show what a state does not (`rows_are_states` false: see
/// the module's notes), or for a state without `updated` or `unread_users`, which may not show
/// the change.
pub(super) fn comparable_digest(state: &Conversation, rows_are_states: bool) -> Option<String> {
    let comparable = rows_are_states && state.unread_users.is_some();
    comparable
        .then(|| state_digest(state))
        .flatten()
        .map(|digest| crate::hex::hex(&digest))
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

    /// Whether `tenant`'s lists move for `reported`, as a webhook's receiver asks.
    fn moves(states: &ReportedStates, tenant: &str, reported: &Conversation, rows: bool) -> bool {
        let digest = comparable_digest(reported, rows);
        states.moves_lists(TenantKey::named(tenant), reported.id, digest.as_deref())
    }

    #[test]
    fn the_same_state_reported_twice_moves_the_lists_once() {
        let states = ReportedStates::new(100);
        let written = state(
            json!({ "id": 1, "status": "closed", "updated": "2026-05-01T00:00:01Z", "unread_users": [4] }),
        );
        assert!(moves(&states, "a", &written, true));
        assert!(
            !moves(&states, "a", &written, true),
            "the webhook of the write"
        );
        assert!(
            moves(&states, "b", &written, true),
            "another tenant's lists"
        );

        let reopened = state(
            json!({ "id": 1, "status": "open", "updated": "2026-05-01T00:00:01Z", "unread_users": [4] }),
        );
        assert!(
            moves(&states, "a", &reopened, true),
            "another state, same instant"
        );
        assert!(
            moves(&states, "a", &written, true),
            "an older state reported late"
        );
    }

    #[test]
    fn a_state_that_may_not_show_the_change_always_moves_the_lists() {
        let states = ReportedStates::new(100);
        let whole = json!({ "id": 1, "updated": "2026-05-01T00:00:01Z", "unread_users": [4] });
        for (fields, rows_are_states) in [
            (json!({ "id": 1 }), true),
            (json!({ "id": 1, "updated": "2026-05-01T00:00:01Z" }), true),
            (whole.clone(), false),
        ] {
            let reported = state(fields);
            assert!(moves(&states, "a", &reported, rows_are_states));
            assert!(
                moves(&states, "a", &reported, rows_are_states),
                "{reported:?} {rows_are_states}"
            );
        }
        assert!(moves(&states, "b", &state(whole.clone()), true));
        assert!(!moves(&states, "b", &state(whole), true));
    }

    #[test]
    fn a_report_without_a_digest_leaves_no_state_remembered() {
        let states = ReportedStates::new(100);
        let tenant = TenantKey::named("a");
        let digest = Some("d1");
        assert!(states.moves_lists(tenant, 1, digest));
        assert!(
            states.moves_lists(tenant, 1, None),
            "a hint of another kind"
        );
        assert!(
            states.moves_lists(tenant, 1, digest),
            "the conversation may have changed in between"
        );
        assert!(!states.moves_lists(tenant, 1, digest));
    }
}
