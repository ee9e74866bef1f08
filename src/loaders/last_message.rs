//! The last message of many conversations at once, in fewer upstream calls than one history
//! per conversation, and never an older message passed off as the newest.
//!
//! A conversation's last message was sent at or before its `updated`. A team-wide listing
//! (`POST /v1/messages/all`) proves the window it covers (see [`message_window`]): a
//! conversation whose `updated` lies inside it has its last message there, and nothing outside
//! a window is concluded from it. Whatever no window proves is read from the conversation's own
//! history, which always answers.
//!
//! The calls are planned so a page of conversations costs two round trips, whatever the
//! listing maximum: a walk that will need last messages starts a listing of the newest messages
//! alongside its first list call (it proves the newest conversations, and shows how many
//! messages a listing returns and how densely the team writes); the rest are planned from that
//! window at once: listings where one can reach several conversations, histories where not. Only
//! a conversation a planned listing unexpectedly fails to reach costs a third round.
//!
//! [`message_window`]: super::message_window

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::FutureExt;
use futures::stream::{self, StreamExt};
use tracing::Instrument;

use super::batch::BatchFetch;
use super::cache::LastMessageKey;
use super::epochs;
use super::message_window::{self, Step, Window};
use super::shared::Parted;
use super::source::{Source, shared_entry, shared_key};
use crate::error::ApiError;
use crate::metrics::CacheKind;
use crate::upstream::models::{Conversation, Message};
use crate::upstream::requests::AllMessagesRequest;

/// History calls in flight at once for one batch: every history of a page goes out in the same
/// round (a page holds at most 100 conversations, and the operation's upstream budget bounds
/// the total).
const HISTORY_CONCURRENCY: usize = 32;

/// Conversations one team-wide listing of 1,000 messages is expected to reach when nothing
/// tells how densely the team writes: a listing spans the time of its group of conversations,
/// and smaller groups need fewer messages each to span it. Fifteen puts a page of 30 in two
/// listings.
pub(super) const CONVERSATIONS_PER_LISTING: usize = 15;

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
    /// One team-wide listing of at most `limit` messages before `before` (the newest without
    /// it), and the window it proves; `None` when it failed or proves nothing. The listing
    /// maximum it shows is remembered for planning.
    async fn listing(&self, before: Option<DateTime<Utc>>, limit: u32) -> Option<Arc<Window>> {
        let request = AllMessagesRequest {
            cursor: before,
            limit: Some(limit),
            ..AllMessagesRequest::default()
        };
        let upstream = self.upstream.clone();
        // A task per listing, so that decoding one large answer does not hold up reading the
        // others.
        let fill = async {
            let request = request.clone();
            tokio::spawn(async move { upstream.all_messages(&request).await }.in_current_span())
                .await
                .map_err(|_stopped| ApiError::Internal)?
                .map_err(ApiError::from)
        };
        let key = || format!("messages:{}", shared_key(&request));
        match self.shared(key, epochs::of_team, fill).await {
            Ok(messages) => {
                self.caches.listing_answered(limit, messages.len());
                Window::of(before, &messages).map(Arc::new)
            }
            Err(error) => {
                tracing::warn!(%error, "team-wide message listing failed; reading histories instead");
                None
            }
        }
    }

    /// Starts listing the tenant's newest messages, for the last messages of a page whose list
    /// call is on its way (see the module's doc). Shared: concurrent walks of the same tenant
    /// start one listing.
    pub(super) async fn start_recent_window(self: &Arc<Self>) {
        let generation = self.caches.generation(self.tenant);
        let source = Arc::clone(self);
        // Only its start matters here; the window is awaited where last messages are found.
        let _started = self
            .caches
            .recent_windows
            .get_with(
                (self.tenant, generation),
                // Spawned only when no walk has started one yet.
                futures::future::lazy(move |_| {
                    let listing = tokio::spawn(
                        async move {
                            let limit = source.caches.messages_batch_limit;
                            source.listing(None, limit).await
                        }
                        .in_current_span(),
                    );
                    async move { listing.await.ok().flatten() }.boxed().shared()
                }),
            )
            .await;
    }

    /// The recent window of the tenant's current generation, waited for if it is on its way;
    /// `None` when no walk started one.
    async fn recent_window(&self) -> Option<Arc<Window>> {
        let generation = self.caches.generation(self.tenant);
        let pending = self
            .caches
            .recent_windows
            .get(&(self.tenant, generation))
            .await?;
        pending.await
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
                async move {
                    let found = source.shared_last_messages(&targets).await;
                    // A conversation without messages is simply absent from the answer.
                    Ok(found
                        .into_iter()
                        .filter_map(|(key, last)| Some((key, last.transpose()?)))
                        .collect())
                }
                .boxed()
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

    /// The targets' last messages as another replica found them, and
    /// [`Self::find_last_messages`]'s for the rest, which are then kept for the others too (see
    /// `shared`): replicas showing the same rows plan no listing and read no history that one
    /// of them already did. Each is kept by its conversation's epochs, as this replica keeps it
    /// until an event names its conversation.
    async fn shared_last_messages(
        &self,
        targets: &[LastMessageTarget],
    ) -> HashMap<LastMessageKey, LastMessage> {
        let Some((tier, team_id)) = self.caches.shared_for(&self.tenant) else {
            return self.find_last_messages(targets).await;
        };
        let entries = targets
            .iter()
            .map(|target| {
                let conversation = target.conversation_id;
                let updated = self.last_message_key(target).updated;
                let key = format!("last-message:{conversation}:{updated}");
                shared_entry(self.tenant, &key, epochs::of_conversation(conversation))
            })
            .collect();
        let metrics = &self.caches.metrics;
        let Some(shared) = tier
            .read_many::<Option<Arc<Message>>>(metrics, team_id, entries)
            .await
        else {
            return self.find_last_messages(targets).await;
        };
        let Parted { found, missing, at } = shared.part(targets);
        let mut found: HashMap<LastMessageKey, LastMessage> = found
            .into_iter()
            .map(|(target, last)| (self.last_message_key(target), Ok(last)))
            .collect();
        if missing.is_empty() {
            return found;
        }
        let unshared: Vec<LastMessageTarget> =
            missing.iter().map(|&(_, target)| target.clone()).collect();
        let looked_up = self.find_last_messages(&unshared).await;
        let kept = missing.iter().filter_map(|&(index, target)| {
            match looked_up.get(&self.last_message_key(target)) {
                Some(Ok(last)) => Some((index, last)),
                Some(Err(_)) | None => None,
            }
        });
        tier.write_many(at, kept).await;
        found.extend(looked_up);
        found
    }

    /// Looks the targets' last messages up upstream, each with its own outcome: a conversation
    /// without messages is absent, one whose history failed carries the error alone.
    async fn find_last_messages(
        &self,
        targets: &[LastMessageTarget],
    ) -> HashMap<LastMessageKey, LastMessage> {
        let mut found: HashMap<LastMessageKey, LastMessage> = HashMap::with_capacity(targets.len());
        let mut unproven: Vec<LastMessageTarget> = targets.to_vec();
        if targets.len() > 1 {
            let windows: Vec<Arc<Window>> = self.recent_window().await.into_iter().collect();
            self.take_proven(&windows, &mut unproven, &mut found);
            let steps = message_window::plan(
                std::mem::take(&mut unproven),
                message_window::density(&windows),
                self.caches.listing_maximum(),
            );
            let (listed, histories): (Vec<_>, Vec<_>) = steps
                .into_iter()
                .partition(|step| matches!(step, Step::Listing { .. }));
            let listings = listed.into_iter().filter_map(|step| match step {
                Step::Listing {
                    before,
                    limit,
                    targets,
                } => Some(async move { (self.listing(Some(before), limit).await, targets) }),
                Step::History(_) => None,
            });
            let histories = histories
                .into_iter()
                .filter_map(|step| match step {
                    Step::History(target) => Some(target),
                    Step::Listing { .. } => None,
                })
                .collect();
            let (listed, read) = futures::join!(
                futures::future::join_all(listings),
                self.histories_of(histories)
            );
            found.extend(read);
            for (window, mut targets) in listed {
                let windows: Vec<Arc<Window>> = window.into_iter().collect();
                self.take_proven(&windows, &mut targets, &mut found);
                if !targets.is_empty() {
                    tracing::debug!(
                        unreached = targets.len(),
                        "a planned listing did not reach every conversation; reading their histories"
                    );
                }
                unproven.extend(targets);
            }
            tracing::debug!(
                proven = found.len(),
                of = targets.len(),
                "last messages from team-wide listings and histories"
            );
        }
        found.extend(self.histories_of(unproven).await);
        found
    }

    /// Moves every target that one of `windows` proves from `targets` into `found`.
    fn take_proven(
        &self,
        windows: &[Arc<Window>],
        targets: &mut Vec<LastMessageTarget>,
        found: &mut HashMap<LastMessageKey, LastMessage>,
    ) {
        targets.retain(|target| {
            let proven = windows
                .iter()
                .find_map(|window| window.last_message(target));
            match proven {
                Some(message) => {
                    found.insert(self.last_message_key(target), Ok(Some(message)));
                    false
                }
                None => true,
            }
        });
    }

    /// Each target's last message from its own history, all at once: the newest message of
    /// the history's newest page (newest by date, whatever order the page comes in).
    async fn histories_of(
        &self,
        targets: Vec<LastMessageTarget>,
    ) -> Vec<(LastMessageKey, LastMessage)> {
        stream::iter(targets)
            .map(|target| async move {
                let history = self.history(&target.phone, target.inbox_id, None).await;
                let last = history.map(|page| {
                    page.iter()
                        .max_by_key(|message| (message.date, message.id))
                        .map(|message| Arc::new(message.clone()))
                });
                (self.last_message_key(&target), last)
            })
            .buffer_unordered(HISTORY_CONCURRENCY)
            .collect()
            .await
    }
}
