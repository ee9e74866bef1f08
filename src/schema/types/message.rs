//! `Message`: one message or private note in a conversation.

use std::sync::Arc;

use crate::schema::scalars::DateTime;
use async_graphql::{Context, Enum, ID, Object};

use super::{Conversation, Member};
use crate::error::ApiError;
use crate::schema::context::RequestContext;
use crate::schema::node::{GlobalId, MessageRef};
use crate::schema::scalars::Int64;
use crate::upstream::models;

/// The GraphQL view of an upstream message, with the conversation it was read from (messages
/// from history always know it, even when the upstream omits the embedded copy).
#[derive(Clone)]
pub struct Message {
    model: Arc<models::Message>,
    conversation_id: i64,
}

/// Who a message came from.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum MessageDirection {
    /// From the customer.
    Inbound,
    /// From a team member to the customer.
    Outbound,
    /// A private note: visible to the team only, never sent to the customer.
    Note,
}

impl MessageDirection {
    /// The upstream has no direction field. A note is flagged `private` (or typed `private`);
    /// otherwise a message with a sending member (`user` above 0) is outbound and one without is
    /// the customer's. See docs/upstream-assumptions.md.
    pub fn of(message: &models::Message) -> Self {
        let private = message.private == Some(true)
            || message
                .kind
                .as_deref()
                .is_some_and(|kind| kind.eq_ignore_ascii_case("private"));
        if private {
            Self::Note
        } else if message.user.is_some_and(|user| user > 0) {
            Self::Outbound
        } else {
            Self::Inbound
        }
    }
}

impl Message {
    pub fn new(model: Arc<models::Message>, conversation_id: i64) -> Self {
        Self {
            model,
            conversation_id,
        }
    }

    fn global_id(&self) -> GlobalId {
        GlobalId::Message(MessageRef {
            id: self.model.id,
            conversation_id: self.conversation_id,
            sent_at: self.model.date.map_or(0, |date| date.timestamp()),
        })
    }
}

/// A message in a conversation: from the customer, from a team member, or a private note.
#[Object]
impl Message {
    /// Globally unique, opaque id (for `node(id:)` and client caches).
    pub async fn id(&self) -> ID {
        self.global_id().to_id()
    }

    /// The message's id in the Heymarket API.
    async fn database_id(&self) -> Int64 {
        Int64(self.model.id)
    }

    /// The text; null for a picture without words.
    async fn text(&self) -> Option<&str> {
        self.model.text.as_deref().filter(|text| !text.is_empty())
    }

    /// URL of the attached picture or file, when there is one.
    async fn media_url(&self) -> Option<&str> {
        self.model
            .media
            .as_deref()
            .filter(|media| !media.is_empty())
    }

    /// Inbound, outbound, or a private note.
    async fn direction(&self) -> MessageDirection {
        MessageDirection::of(&self.model)
    }

    /// Whether only the team can see it (a private note).
    async fn is_private(&self) -> bool {
        MessageDirection::of(&self.model) == MessageDirection::Note
    }

    /// Delivery status as the upstream reports it, e.g. `sent` or `received`.
    async fn status(&self) -> Option<&str> {
        self.model.status.as_deref()
    }

    /// When it was sent or received.
    async fn sent_at(&self) -> Option<DateTime> {
        self.model.date.map(DateTime)
    }

    /// The team member who wrote it; null for the customer's messages.
    async fn author(&self, ctx: &Context<'_>) -> Result<Option<Member>, ApiError> {
        let Some(user) = self.model.user.filter(|user| *user > 0) else {
            return Ok(None);
        };
        let member = RequestContext::of(ctx)?.loaders.member(user).await?;
        Ok(Some(Member(member.unwrap_or(models::TeamMember {
            id: user,
            name: self.model.author.clone(),
            role: None,
        }))))
    }

    /// The name the message is shown under (a member's or the customer's), as the upstream
    /// reports it.
    async fn author_name(&self) -> Option<&str> {
        self.model.author.as_deref().filter(|name| !name.is_empty())
    }

    /// The conversation it belongs to.
    async fn conversation(&self, ctx: &Context<'_>) -> Result<Conversation, ApiError> {
        let loaders = &RequestContext::of(ctx)?.loaders;
        let conversation = loaders.conversation(self.conversation_id).await?;
        conversation.map(Conversation).ok_or_else(|| {
            ApiError::NotFound(format!(
                "conversation {} no longer exists",
                self.conversation_id
            ))
        })
    }
}
