//! Whether a conversation is unread for a member, where the answer that brought it cannot say.
//!
//! The docs leave read state open (heymarket-api.md §5.1, §13.3). Where conversations name
//! the members they are unread for (`unread_users`), every copy answers for every member.
//! Where they do not, `unread` and `read` are those of the member whose list answered them
//! ("unread is per this user", the list body's `id`, §6.1), and a conversation read by id,
//! from a message or from a webhook names no member at all. The one answer that speaks for a
//! member is then that member's own list, so the conversation is looked for there: in its
//! inbox's list, from just after its last change (`updated`) downwards, where it is the
//! first row or close to it.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use chrono::{DateTime, TimeDelta, Utc};
use futures::future::join_all;

use super::Source;
use super::source::Audience;
use crate::error::ApiError;
use crate::upstream::requests::ConversationListRequest;

/// Pages of the member's list read below a conversation's `updated` before it counts as not
/// found there: more than a page of the inbox's conversations would have to share its second.
const PAGES_BELOW_UPDATED: usize = 2;

/// One conversation whose read state a member needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReadStateKey {
    pub member_id: i64,
    pub inbox_id: i64,
    pub conversation_id: i64,
    /// Its last change as this copy knows it; `None` looks from the top of the list.
    pub updated: Option<DateTime<Utc>>,
}

/// Read states of a batch, each (member, inbox) pair read from that member's list once.
pub(super) struct ReadStates(pub(super) Arc<Source>);

impl Loader<ReadStateKey> for ReadStates {
    type Value = Result<bool, ApiError>;
    type Error = ApiError;

    async fn load(
        &self,
        keys: &[ReadStateKey],
    ) -> Result<HashMap<ReadStateKey, Self::Value>, Self::Error> {
        self.0.observe_batch("read_states", keys.len());
        let mut by_list: HashMap<(i64, i64), Vec<ReadStateKey>> = HashMap::new();
        for key in keys {
            by_list
                .entry((key.member_id, key.inbox_id))
                .or_default()
                .push(*key);
        }
        let lookups = by_list
            .into_values()
            .map(|wanted| self.0.read_states(wanted));
        Ok(join_all(lookups).await.into_iter().flatten().collect())
    }
}

impl Source {
    /// The read states of `wanted` (one member, one inbox) from that member's list.
    async fn read_states(
        &self,
        wanted: Vec<ReadStateKey>,
    ) -> Vec<(ReadStateKey, Result<bool, ApiError>)> {
        let Some(&first) = wanted.first() else {
            return Vec::new();
        };
        // By conversation: two copies of one may differ in `updated`.
        let mut missing: HashMap<i64, Vec<ReadStateKey>> = HashMap::new();
        for key in &wanted {
            missing.entry(key.conversation_id).or_default().push(*key);
        }
        let mut found = Vec::with_capacity(wanted.len());
        let request = ConversationListRequest {
            member_id: first.member_id,
            inbox_ids: vec![first.inbox_id],
            closed: None,
            unread: None,
            assigned: None,
            updated_before: None,
        };
        // From just above the newest of them (a whole second, whatever the upstream's
        // precision), then from the top for any that changed since this copy was taken.
        let newest = wanted
            .iter()
            .map(|key| key.updated)
            .collect::<Option<Vec<_>>>()
            .and_then(|updated| updated.into_iter().max());
        let starts = match newest {
            Some(newest) => vec![newest.checked_add_signed(TimeDelta::seconds(1)), None],
            None => vec![None],
        };
        for start in starts {
            let mut before = start;
            for _ in 0..PAGES_BELOW_UPDATED {
                let page = self
                    .list_page(
                        ConversationListRequest {
                            updated_before: before,
                            ..request.clone()
                        },
                        Audience::Member,
                        None,
                    )
                    .await;
                let page = match page {
                    Ok(page) => page,
                    Err(error) => {
                        let failed = missing.into_values().flatten();
                        found.extend(failed.map(|key| (key, Err(error.clone()))));
                        return found;
                    }
                };
                for row in page.iter() {
                    if let Some(keys) = missing.remove(&row.id) {
                        // A row of the member's own list always speaks for the member.
                        let unread = row.is_unread_for(first.member_id).unwrap_or_default();
                        found.extend(keys.into_iter().map(|key| (key, Ok(unread))));
                    }
                }
                let oldest_missing = missing
                    .values()
                    .flatten()
                    .filter_map(|key| key.updated)
                    .min();
                let last = page.last().and_then(|row| row.updated);
                match (last, oldest_missing) {
                    _ if missing.is_empty() => return found,
                    (Some(last), Some(oldest)) if last >= oldest => before = Some(last),
                    // An empty page, a row without a cursor, or the walk is past them all.
                    _ => break,
                }
            }
            if start.is_none() {
                break;
            }
        }
        found.extend(missing.into_values().flatten().map(|key| {
            let error = ApiError::ReadStateUnavailable(format!(
                "conversation {} names no member's read state, and member {}'s list of inbox {} did not show it where it should be; retry",
                key.conversation_id, key.member_id, key.inbox_id
            ));
            (key, Err(error))
        }));
        found
    }
}
