//! `Conversation`: one customer's thread with an inbox.

use std::sync::Arc;

use crate::schema::scalars::DateTime;
use async_graphql::{Context, Enum, ID, Object};

use super::{Contact, Inbox, Member, Message, ScheduledMessage};
use crate::error::ApiError;
use crate::loaders::{LastMessageTarget, contact_address};
use crate::pagination::{self, Listing, PageBound, SliceRequest, SortKey};
use crate::schema::connection::{
    MaxListPages, MessageConnection, PageRequest, report_incomplete, walk_error,
};
use crate::schema::context::RequestContext;
use crate::schema::cursor::{CursorKey, CursorKind};
use crate::schema::node::GlobalId;
use crate::schema::scalars::Int64;
use crate::upstream::models;
use futures::future::try_join_all;

/// The GraphQL view of an upstream conversation.
#[derive(Clone)]
pub struct Conversation(pub Arc<models::Conversation>);

/// Whether a conversation is being worked on.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum ConversationStatus {
    /// Active: in the inbox's open list.
    Open,
    /// Resolved ("archived"); it reopens when the customer writes again.
    Closed,
    /// Waiting (Heymarket's webhooks mention a pending state).
    Pending,
    /// A status this gateway does not know yet; see `statusName` for the upstream's word.
    Other,
}

impl ConversationStatus {
    /// The upstream's status word, read case-insensitively.
    pub fn from_upstream(status: Option<&str>) -> Self {
        match status.map(str::to_ascii_lowercase).as_deref() {
            Some("open") => Self::Open,
            Some("closed") => Self::Closed,
            Some("pending") => Self::Pending,
            _ => Self::Other,
        }
    }
}

/// How a conversation reaches the customer.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum Channel {
    /// Text messages.
    Sms,
    /// Picture messages.
    Mms,
    /// Email.
    Email,
    /// Web chat.
    Chat,
    /// A channel this gateway does not know yet.
    Other,
}

impl Channel {
    fn from_upstream(channel: Option<&str>) -> Self {
        match channel.map(str::to_ascii_lowercase).as_deref() {
            Some("sms") => Self::Sms,
            Some("mms") => Self::Mms,
            Some("email") => Self::Email,
            Some("chat") => Self::Chat,
            _ => Self::Other,
        }
    }
}

impl Conversation {
    /// The inbox id, which every upstream conversation should carry.
    pub fn inbox_id(&self) -> Result<i64, ApiError> {
        self.0.inbox.ok_or_else(|| {
            tracing::warn!(
                conversation = self.0.id,
                "upstream conversation without an inbox"
            );
            ApiError::UpstreamUnavailable
        })
    }

    /// Where its sort key puts it in newest-first lists.
    pub fn sort_key(conversation: &models::Conversation) -> Option<SortKey> {
        conversation.updated.map(|at| SortKey {
            at,
            id: conversation.id,
        })
    }
}

/// A conversation between one customer (or email address) and one inbox.
#[Object]
impl Conversation {
    /// Globally unique, opaque id (for `node(id:)` and client caches).
    pub async fn id(&self) -> ID {
        GlobalId::Conversation(self.0.id).to_id()
    }

    /// The conversation's id in the Heymarket API.
    async fn database_id(&self) -> Int64 {
        Int64(self.0.id)
    }

    /// Open, closed or pending.
    async fn status(&self) -> ConversationStatus {
        ConversationStatus::from_upstream(self.0.status.as_deref())
    }

    /// The upstream's own word for the status, for statuses this API does not know yet.
    async fn status_name(&self) -> Option<&str> {
        self.0.status.as_deref()
    }

    /// How the conversation reaches the customer.
    async fn channel(&self) -> Channel {
        Channel::from_upstream(self.0.channel.as_deref())
    }

    /// The customer's phone number (E.164 digits without `+`) or email address.
    async fn target(&self) -> Option<&str> {
        self.0.target.as_deref()
    }

    /// Its title (Heymarket's `name`): for an email thread, the subject it was started with;
    /// otherwise whatever Heymarket calls it, often the contact's name. Null when blank.
    async fn title(&self) -> Option<&str> {
        self.0
            .name
            .as_deref()
            .filter(|name| !name.trim().is_empty())
    }

    /// Whether the acting member has not read it yet. Where the Heymarket API answered the
    /// conversation without anyone's read state and the member's own list cannot show it,
    /// a `READ_STATE_UNAVAILABLE` error.
    async fn unread(&self, ctx: &Context<'_>) -> Result<bool, ApiError> {
        let context = RequestContext::of(ctx)?;
        let member = context.acting_member().await?;
        context.loaders.unread_for(member.id, &self.0).await
    }

    /// Whether the team has replied.
    async fn replied(&self) -> bool {
        self.0.replied.unwrap_or(false)
    }

    /// Whether the customer is blocked.
    async fn blocked(&self) -> bool {
        self.0.blocked.unwrap_or(false)
    }

    /// Whether notifications for it are muted.
    async fn muted(&self) -> bool {
        self.0.muted.unwrap_or(false)
    }

    /// Snoozed until this time; null when not snoozed.
    async fn snoozed_until(&self) -> Option<DateTime> {
        self.0.snooze_till.map(DateTime)
    }

    /// When the conversation started.
    async fn created_at(&self) -> Option<DateTime> {
        self.0.created.map(DateTime)
    }

    /// The last activity; lists are ordered by it, newest first.
    async fn updated_at(&self) -> Option<DateTime> {
        self.0.updated.map(DateTime)
    }

    /// The inbox it belongs to.
    async fn inbox(&self, ctx: &Context<'_>) -> Result<Inbox, ApiError> {
        let inbox_id = self.inbox_id()?;
        let inbox = RequestContext::of(ctx)?.loaders.inbox(inbox_id).await?;
        inbox.map(Inbox).ok_or_else(|| {
            ApiError::NotFound(format!(
                "inbox {inbox_id} is not visible to this credential"
            ))
        })
    }

    /// The customer, when a contact exists with the conversation's phone number, or, in an
    /// email thread, its email address (the first, where the thread lists several), compared
    /// without regard to case.
    async fn contact(&self, ctx: &Context<'_>) -> Result<Option<Contact>, ApiError> {
        let Some(address) = self.0.target.as_deref().and_then(contact_address) else {
            return Ok(None);
        };
        let loaders = &RequestContext::of(ctx)?.loaders;
        let contact = match address.contains('@') {
            true => loaders.contact_by_email(&address).await?,
            false => loaders.contact_by_phone(&address).await?,
        };
        Ok(contact.map(Contact))
    }

    /// The member it is assigned to; null when unassigned.
    async fn assignee(&self, ctx: &Context<'_>) -> Result<Option<Member>, ApiError> {
        let Some(assignee) = self.0.assignee_id() else {
            return Ok(None);
        };
        let member = RequestContext::of(ctx)?.loaders.member(assignee).await?;
        Ok(Some(Member(
            member.unwrap_or_else(|| unknown_member(assignee, None)),
        )))
    }

    /// Members taking part (the assignee and members who wrote in it).
    async fn members(&self, ctx: &Context<'_>) -> Result<Vec<Member>, ApiError> {
        let team = RequestContext::of(ctx)?.loaders.team().await?;
        Ok(self
            .0
            .members
            .iter()
            .map(|participant| {
                let known = team
                    .members
                    .iter()
                    .find(|member| member.id == participant.id)
                    .cloned();
                Member(
                    known.unwrap_or_else(|| {
                        unknown_member(participant.id, participant.name.clone())
                    }),
                )
            })
            .collect())
    }

    /// The newest message; null for a conversation without messages.
    async fn last_message(&self, ctx: &Context<'_>) -> Result<Option<Message>, ApiError> {
        let Some(target) = LastMessageTarget::of(&self.0) else {
            return Ok(None);
        };
        let last = RequestContext::of(ctx)?
            .loaders
            .last_message(target)
            .await?;
        Ok(last.map(|message| Message::new(message, self.0.id)))
    }

    /// Messages scheduled to go out in this conversation later, soonest first, as far as the
    /// gateway can show them. Heymarket has no way to list scheduled messages, so these are
    /// only the ones scheduled through this gateway process (`scheduleMessage`, to this
    /// conversation or to its customer's number from its inbox), at most the newest
    /// `--scheduled-per-conversation` (20 by default) of each conversation, while it remembers
    /// them (the least used conversations are forgotten first when memory is full): ones
    /// scheduled in the Heymarket app or by another integration are not listed, and a restart
    /// (or another replica) forgets them, though each stays reachable by its id through
    /// `node(id:)`. Each is read afresh from Heymarket
    /// (cached like conversations); one cancelled, or gone from Heymarket once sent, is left
    /// out. A sent one Heymarket still shows is listed with state `DUE`.
    async fn scheduled_messages(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Vec<ScheduledMessage>, ApiError> {
        let (target, inbox_id) = self.history_address()?;
        let loaders = &RequestContext::of(ctx)?.loaders;
        let ids = loaders.remembered_scheduled(inbox_id, target).await;
        let found = try_join_all(ids.iter().map(|&id| loaders.scheduled(id))).await?;
        let mut listed = Vec::with_capacity(found.len());
        for (&id, scheduled) in ids.iter().zip(found) {
            match scheduled {
                Some(scheduled) => listed.push(ScheduledMessage(scheduled)),
                None => loaders.forget_remembered(inbox_id, target, id).await,
            }
        }
        listed.sort_by_key(|scheduled| (scheduled.0.execute, scheduled.0.id));
        Ok(listed)
    }

    /// The conversation's messages, newest first.
    #[graphql(complexity = "PageRequest::cost(first, child_complexity)")]
    async fn messages(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many messages to return (0 to 100; default 20).")] first: Option<i32>,
        #[graphql(desc = "Continue after this cursor (an `endCursor` or edge `cursor`).")]
        after: Option<String>,
    ) -> Result<MessageConnection, ApiError> {
        let page = PageRequest::of(ctx, CursorKind::Message, first, after)?;
        let (phone, inbox_id) = self.history_address()?;
        let context = RequestContext::of(ctx)?;
        // Boxed: the walk's future is large, and unboxed it would size the future of every
        // field of every conversation, which async-graphql copies onto the heap field by field.
        let slice = Box::pin(pagination::collect(
            SliceRequest {
                first: page.first,
                after: page.after,
                max_pages: MaxListPages::of(ctx)?,
                listing: Listing::MESSAGE_HISTORY,
            },
            |message: &models::Message| message.date.map(|at| SortKey { at, id: message.id }),
            |_| true,
            |bound: PageBound| async move {
                let page = context
                    .loaders
                    .history_before(phone, inbox_id, bound.before)
                    .await?;
                Ok::<_, ApiError>(page.to_vec())
            },
        ))
        .await
        .map_err(walk_error)?;
        report_incomplete(ctx, "messages", "second", &slice.incomplete);
        Ok(page
            .page(CursorKey::of(ctx)?, slice, |message| {
                Message::new(Arc::new(message), self.0.id)
            })
            .into())
    }
}

impl Conversation {
    /// How `GET /v1/messages` addresses this conversation: by phone and inbox.
    fn history_address(&self) -> Result<(&str, i64), ApiError> {
        let phone = self.0.target.as_deref().ok_or_else(|| {
            tracing::warn!(
                conversation = self.0.id,
                "upstream conversation without a target"
            );
            ApiError::UpstreamUnavailable
        })?;
        Ok((phone, self.inbox_id()?))
    }
}

/// A member id the team list does not contain (a former member, say): still a member, with
/// whatever the conversation knew of them.
fn unknown_member(id: i64, name: Option<String>) -> models::TeamMember {
    models::TeamMember {
        id,
        name,
        role: None,
    }
}
