//! The last message of many conversations at once, in fewer upstream calls than one history
//! per conversation.
//!
//! A page of conversations is sorted by `updated`, and a conversation's last message was sent at
//! or before its `updated`. A team-wide `POST /v1/messages/all` that starts just after the
//! newest `updated` of a group of conversations therefore returns, newest first, the last
//! messages of every conversation of the group whose last message falls within its `limit`.
//! Conversations no listing covers (a burst of other traffic, a last activity that was no
//! message) fall back to their own history call, a few at a time.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use futures::FutureExt;
use futures::stream::{self, StreamExt};
use tracing::Instrument;

use super::batch::BatchFetch;
use super::cache::LastMessageKey;
use super::source::Source;
use crate::error::ApiError;
use crate::metrics::CacheKind;
use crate::upstream::models::{Conversation, Message};
use crate::upstream::requests::AllMessagesRequest;

/// History calls in flight at once for the conversations the team-wide listings missed.
const FALLBACK_CONCURRENCY: usize = 8;

/// Conversations one team-wide listing is expected to cover: a listing spans the time of its
/// group of conversations, and smaller groups need fewer messages each to span it (fewer
/// fall-back histories), at the price of more listings. Fifteen puts a page of 30 in two
/// concurrent listings.
pub const CONVERSATIONS_PER_LISTING: usize = 15;

/// A conversation's last message (`None` when it has none), or why it could not be read.
pub type LastMessage = Result<Option<Arc<Message>>, ApiError>;

/// A conversation whose last message is wanted: enough to key it and to address its history.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LastMessageTarget {
    pub conversation_id: i64,
    pub updated: Option<DateTime<Utc>>,
    pub phone: String,
    pub inbox_id: i64,
}

impl LastMessageTarget {
    /// `None` for a conversation the history endpoint cannot address.
    pub fn of(conversation: &Conversation) -> Option<Self> {
        Some(Self {
            conversation_id: conversation.id,
            updated: conversation.updated,
            phone: conversation.target.clone()?,
            inbox_id: conversation.inbox?,
        })
    }
}

impl Source {
    /// The newest message per conversation among team-wide listings that start just after the
    /// newest `updated` of each group of targets; the groups are listed concurrently.
    async fn team_wide_last_messages(
        &self,
        targets: &[LastMessageTarget],
    ) -> HashMap<i64, Arc<Message>> {
        let mut by_recency: Vec<DateTime<Utc>> =
            targets.iter().filter_map(|target| target.updated).collect();
        by_recency.sort_unstable_by(|a, b| b.cmp(a));
        let listings = by_recency.chunks(CONVERSATIONS_PER_LISTING).map(|group| {
            let request = AllMessagesRequest {
                cursor: Some(group[0] + TimeDelta::microseconds(1)),
                limit: Some(self.caches.messages_batch_limit),
                ..AllMessagesRequest::default()
            };
            let upstream = self.upstream.clone();
            // A task per listing, so that decoding one large answer does not hold up reading
            // the others.
            tokio::spawn(async move { upstream.all_messages(&request).await }.in_current_span())
        });
        let mut newest: HashMap<i64, Arc<Message>> = HashMap::new();
        let listed = futures::future::join_all(listings).await.into_iter();
        // Without a listing its conversations fall back to their own histories.
        let messages = listed.flat_map(|listing| match listing {
            Ok(Ok(messages)) => messages,
            Ok(Err(error)) => {
                tracing::warn!(%error, "team-wide message listing failed; reading histories instead");
                Vec::new()
            }
            Err(error) => {
                tracing::warn!(%error, "team-wide message listing stopped; reading histories instead");
                Vec::new()
            }
        });
        for message in messages {
            let Some(conversation) = message
                .conversation
                .as_ref()
                .map(|conversation| conversation.id)
            else {
                continue;
            };
            let newer = newest
                .get(&conversation)
                .is_none_or(|known| (message.date, message.id) > (known.date, known.id));
            if newer {
                newest.insert(conversation, Arc::new(message));
            }
        }
        newest
    }

    fn last_message_key(&self, target: &LastMessageTarget) -> LastMessageKey {
        LastMessageKey {
            tenant: self.tenant,
            conversation_id: target.conversation_id,
            updated: target
                .updated
                .map_or(0, |updated| updated.timestamp_micros()),
        }
    }

    /// The last message of each target (`None` for a conversation without messages), or why
    /// it could not be looked up.
    pub(super) async fn last_messages(
        self: &Arc<Self>,
        targets: Vec<LastMessageTarget>,
    ) -> Vec<(LastMessageTarget, LastMessage)> {
        let by_key: HashMap<LastMessageKey, LastMessageTarget> = targets
            .iter()
            .map(|target| (self.last_message_key(target), target.clone()))
            .collect();
        let source = Arc::clone(self);
        let lookup: BatchFetch<LastMessageKey, Arc<Message>> =
            Arc::new(move |keys: Vec<LastMessageKey>| {
                let source = Arc::clone(&source);
                let targets: Vec<LastMessageTarget> = keys
                    .iter()
                    .filter_map(|key| by_key.get(key).cloned())
                    .collect();
                async move { source.find_last_messages(&targets).await }.boxed()
            });
        let keys: Vec<LastMessageKey> = targets
            .iter()
            .map(|target| self.last_message_key(target))
            .collect();
        self.count_lookups(
            CacheKind::LastMessages,
            keys.len(),
            self.caches.last_messages.present(&keys),
        );
        let answers = self.caches.last_messages.get_many(keys, lookup).await;
        targets
            .into_iter()
            .zip(answers)
            .map(|(target, (_, message))| (target, message))
            .collect()
    }

    /// Looks the targets' last messages up upstream; a conversation without messages is absent.
    async fn find_last_messages(
        &self,
        targets: &[LastMessageTarget],
    ) -> Result<HashMap<LastMessageKey, Arc<Message>>, ApiError> {
        let mut found: HashMap<LastMessageKey, Arc<Message>> =
            HashMap::with_capacity(targets.len());
        if targets.len() > 1 {
            let newest_by_conversation = self.team_wide_last_messages(targets).await;
            for target in targets {
                if let Some(message) = newest_by_conversation.get(&target.conversation_id) {
                    found.insert(self.last_message_key(target), Arc::clone(message));
                }
            }
            tracing::debug!(
                covered = found.len(),
                of = targets.len(),
                "last messages from team-wide listings"
            );
        }

        let uncovered: Vec<(LastMessageKey, String, i64)> = targets
            .iter()
            .map(|target| {
                (
                    self.last_message_key(target),
                    target.phone.clone(),
                    target.inbox_id,
                )
            })
            .filter(|(key, _, _)| !found.contains_key(key))
            .collect();
        let histories: Vec<_> = stream::iter(uncovered)
            .map(|(key, phone, inbox_id)| async move {
                (key, self.history(&phone, inbox_id, None).await)
            })
            .buffer_unordered(FALLBACK_CONCURRENCY)
            .collect()
            .await;
        for (key, history) in histories {
            // One failed history fails the batch: nothing of it is cached, so the next request
            // asks again (the upstream client has already retried it).
            if let Some(last) = history?.first() {
                found.insert(key, Arc::new(last.clone()));
            }
        }
        Ok(found)
    }
}
