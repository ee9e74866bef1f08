//! The `Subscription` root: conversation and message changes as Heymarket's webhooks report
//! them, for the inboxes the acting member can see.

use std::collections::HashSet;
use std::sync::Arc;

use async_graphql::{Context, ID, Subscription as SubscriptionRoot};
use futures::stream::{self, Stream, StreamExt};
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;

use super::access::{self, Visibility};
use super::context::RequestContext;
use super::node::{self, GlobalId, NodeKind};
use super::types::{Conversation, Message};
use crate::error::ApiError;
use crate::events::Event;
use crate::upstream::models;

/// The root of every live update.
#[derive(Default)]
pub struct Subscription;

/// Live updates, fed by Heymarket's webhooks. Only events of the caller's team, in inboxes the
/// acting member belongs to, are delivered; the objects' links resolve like in queries.
///
/// An event is a hint, not a source: its content only picks the subscriptions it may concern
/// (its team, and the inbox and conversation it names). What a subscription delivers is read
/// again from the upstream, past the caches (once for every subscription the event concerns;
/// not at all when the newest such read, such as a write's, shows the state the event reports
/// or a later one), and checked against the subscription's scope again, so a forged or stale event
/// can neither change what a subscriber is told nor reach a subscriber outside the inbox. An event whose
/// object cannot be read again (the upstream has no such object, or is failing) is skipped,
/// and the log says why.
#[SubscriptionRoot]
impl Subscription {
    /// Every message sent or received (private notes included) in one conversation, or in the
    /// given inboxes, or in every inbox of the acting member.
    async fn message_added<'ctx>(
        &self,
        ctx: &Context<'ctx>,
        #[graphql(desc = "Only this conversation's messages.")] conversation_id: Option<ID>,
        #[graphql(
            desc = "Only messages of these inboxes (all of the acting member's when absent)."
        )]
        inbox_ids: Option<Vec<ID>>,
    ) -> Result<impl Stream<Item = Message> + 'ctx, ApiError> {
        let context = RequestContext::of(ctx)?;
        if conversation_id.is_some() && inbox_ids.is_some() {
            return Err(ApiError::bad_input(
                "give `conversationId` or `inboxIds`, not both",
            ));
        }
        let conversation = conversation_id
            .map(|id| GlobalId::parse_as(&id, NodeKind::Conversation))
            .transpose()?;
        let scope = Scope::of(context, inbox_ids, conversation).await?;
        Ok(events(context).filter_map(move |event| {
            let scope = scope.clone();
            async move {
                if !event.kind.carries_message() {
                    return None;
                }
                let hint: models::Message = read(&event)?;
                let conversation = scope
                    .read_again(context, &event, hint.conversation.as_deref()?)
                    .await?;
                let sent_at = hint.date?.timestamp();
                node::find_message(context, &conversation, hint.id, sent_at)
                    .await
                    .inspect_err(|error| skipped(&event, error))
                    .ok()?
            }
        }))
    }

    /// Every change of a conversation in the given inboxes (all of the acting member's when
    /// absent): opened, closed, pending, reassigned, transferred in, or a message sent or
    /// received. A conversation transferred away arrives with its new inbox.
    async fn conversation_updated<'ctx>(
        &self,
        ctx: &Context<'ctx>,
        #[graphql(
            desc = "Only conversations of these inboxes (all of the acting member's when absent)."
        )]
        inbox_ids: Option<Vec<ID>>,
    ) -> Result<impl Stream<Item = Conversation> + 'ctx, ApiError> {
        let context = RequestContext::of(ctx)?;
        let scope = Scope::of(context, inbox_ids, None).await?;
        Ok(events(context).filter_map(move |event| {
            let scope = scope.clone();
            async move {
                let hint: models::Conversation = if event.kind.carries_conversation() {
                    read(&event)?
                } else if event.kind.carries_message() {
                    *read::<models::Message>(&event)?.conversation?
                } else {
                    return None;
                };
                let conversation = scope.read_again(context, &event, &hint).await?;
                Some(Conversation(conversation))
            }
        }))
    }
}

/// The bus's events as a stream. A subscriber too slow to keep up skips what it missed (and
/// the log says so); the stream ends when the bus does.
fn events(context: &RequestContext) -> impl Stream<Item = Arc<Event>> + use<> {
    stream::unfold(
        context.bus.subscribe(),
        |mut receiver: Receiver<Arc<Event>>| async move {
            loop {
                match receiver.recv().await {
                    Ok(event) => return Some((event, receiver)),
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "a subscriber fell behind and missed events")
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        },
    )
}

/// An event's `event_data` as `T`; `None` (logged) when it does not read as one.
fn read<T: serde::de::DeserializeOwned>(event: &Event) -> Option<T> {
    serde_json::from_value(event.data.clone())
        .inspect_err(
            |error| tracing::warn!(%error, kind = ?event.kind, "unreadable event data skipped"),
        )
        .ok()
}

/// What one subscription may see: its team, the inboxes it asked for among those the acting
/// member belongs to, and optionally one conversation.
#[derive(Clone)]
struct Scope {
    team_id: i64,
    inboxes: Arc<HashSet<i64>>,
    conversation: Option<i64>,
}

impl Scope {
    async fn of(
        context: &RequestContext,
        inbox_ids: Option<Vec<ID>>,
        conversation: Option<i64>,
    ) -> Result<Self, ApiError> {
        let (team, visibility) =
            futures::try_join!(context.loaders.team(), Visibility::of(context))?;
        let team_id = team.id.ok_or(ApiError::UpstreamUnavailable)?;
        let wanted: HashSet<i64> = match inbox_ids {
            None => visibility.inboxes().clone(),
            Some(ids) => ids
                .iter()
                .map(|id| GlobalId::parse_as(id, NodeKind::Inbox))
                .collect::<Result<_, _>>()?,
        };
        for &id in &wanted {
            visibility.inbox(id)?;
        }
        if let Some(id) = conversation
            && access::conversation(context, id).await?.is_none()
        {
            return Err(ApiError::NotFound(format!("no conversation {id}")));
        }
        Ok(Self {
            team_id,
            inboxes: Arc::new(wanted),
            conversation,
        })
    }

    fn admits(&self, event: &Event, conversation: &models::Conversation) -> bool {
        event.team_id == self.team_id
            && conversation
                .inbox
                .is_some_and(|inbox| self.inboxes.contains(&inbox))
            && self
                .conversation
                .is_none_or(|wanted| wanted == conversation.id)
    }

    /// The conversation `hint` (the event's copy) names, as the upstream has it now, when this
    /// subscription shows it both as the event tells and as the upstream has it.
    async fn read_again(
        &self,
        context: &RequestContext,
        event: &Event,
        hint: &models::Conversation,
    ) -> Option<Arc<models::Conversation>> {
        if !self.admits(event, hint) {
            return None;
        }
        // The operation lives as long as the subscription: what it saw for earlier events is
        // stale now.
        context.loaders.forget_all();
        let conversation = context
            .loaders
            .conversation_after(&event.fingerprint, hint)
            .await
            .inspect_err(|error| skipped(event, error))
            .ok()??;
        self.admits(event, &conversation).then_some(conversation)
    }
}

/// Logs an event left undelivered because its object could not be read again.
fn skipped(event: &Event, error: &ApiError) {
    tracing::warn!(%error, kind = ?event.kind, "event skipped: its object could not be read again");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::EventKind;

    #[test]
    fn the_scope_admits_its_team_inboxes_and_conversation_only() {
        let scope = Scope {
            team_id: 101,
            inboxes: Arc::new(HashSet::from([3001])),
            conversation: None,
        };
        let event = |team_id| Event {
            fingerprint: String::new(),
            team_id,
            kind: EventKind::ChatClosed,
            data: Default::default(),
            state_digest: None,
        };
        let conversation = |id, inbox| -> models::Conversation {
            serde_json::from_value(serde_json::json!({ "id": id, "inbox": inbox })).unwrap()
        };
        assert!(scope.admits(&event(101), &conversation(1, 3001)));
        assert!(
            !scope.admits(&event(102), &conversation(1, 3001)),
            "another team"
        );
        assert!(
            !scope.admits(&event(101), &conversation(1, 3002)),
            "another inbox"
        );
        let narrow = Scope {
            conversation: Some(2),
            ..scope
        };
        assert!(
            !narrow.admits(&event(101), &conversation(1, 3001)),
            "another conversation"
        );
        assert!(narrow.admits(&event(101), &conversation(2, 3001)));
    }
}
