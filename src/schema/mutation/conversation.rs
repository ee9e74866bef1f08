//! `openConversation`, `closeConversation`, `markConversationRead`, `markConversationUnread`.

use async_graphql::{Context, ID, Object};

use super::payload::{conversation_input, conversation_payload};
use super::subject::Subject;
use super::user_error::{Failure, rejected};
use crate::error::ApiError;
use crate::schema::context::RequestContext;
use crate::schema::node::{GlobalId, NodeKind};
use crate::schema::types::Conversation;
use crate::upstream::requests::{ConversationStatusRequest, ReadStateRequest};

conversation_input!(OpenConversationInput, "Input of `openConversation`.");
conversation_input!(CloseConversationInput, "Input of `closeConversation`.");
conversation_input!(
    MarkConversationReadInput,
    "Input of `markConversationRead`."
);
conversation_input!(
    MarkConversationUnreadInput,
    "Input of `markConversationUnread`."
);

conversation_payload!(OpenConversationPayload, "Result of `openConversation`.");
conversation_payload!(CloseConversationPayload, "Result of `closeConversation`.");
conversation_payload!(
    MarkConversationReadPayload,
    "Result of `markConversationRead`."
);
conversation_payload!(
    MarkConversationUnreadPayload,
    "Result of `markConversationUnread`."
);

/// Status and read-state changes.
#[derive(Default)]
pub(crate) struct ConversationMutations;

#[Object]
impl ConversationMutations {
    /// Opens a conversation, putting it back in its inbox's open list; opening an open one
    /// changes nothing. The acting member must be a member of the conversation's inbox (else
    /// `NOT_AN_INBOX_MEMBER`).
    async fn open_conversation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which conversation to open.")] input: OpenConversationInput,
    ) -> Result<Option<OpenConversationPayload>, ApiError> {
        let result = set_status(ctx, &input.conversation_id, Status::Open).await;
        OpenConversationPayload::settle(input.client_mutation_id, result)
    }

    /// Closes (archives) a conversation; it reopens by itself when the customer writes again.
    /// Closing a closed one changes nothing. The acting member must be a member of the
    /// conversation's inbox (else `NOT_AN_INBOX_MEMBER`).
    async fn close_conversation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which conversation to close.")] input: CloseConversationInput,
    ) -> Result<Option<CloseConversationPayload>, ApiError> {
        let result = set_status(ctx, &input.conversation_id, Status::Closed).await;
        CloseConversationPayload::settle(input.client_mutation_id, result)
    }

    /// Marks a conversation read for the acting member only (other members' read state stays).
    /// The acting member must be a member of the conversation's inbox (else
    /// `NOT_AN_INBOX_MEMBER`).
    async fn mark_conversation_read(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which conversation to mark read.")] input: MarkConversationReadInput,
    ) -> Result<Option<MarkConversationReadPayload>, ApiError> {
        let result = set_read(ctx, &input.conversation_id, true).await;
        MarkConversationReadPayload::settle(input.client_mutation_id, result)
    }

    /// Marks a conversation unread for the acting member only. The acting member must be a
    /// member of the conversation's inbox (else `NOT_AN_INBOX_MEMBER`).
    async fn mark_conversation_unread(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which conversation to mark unread.")] input: MarkConversationUnreadInput,
    ) -> Result<Option<MarkConversationUnreadPayload>, ApiError> {
        let result = set_read(ctx, &input.conversation_id, false).await;
        MarkConversationUnreadPayload::settle(input.client_mutation_id, result)
    }
}

#[derive(Clone, Copy)]
enum Status {
    Open,
    Closed,
}

/// Open and close address the conversation by id, in its inbox, as the acting member.
async fn set_status(ctx: &Context<'_>, id: &ID, status: Status) -> Result<Conversation, Failure> {
    let context = RequestContext::of(ctx)?;
    let subject = Subject::load(context, GlobalId::parse_as(id, NodeKind::Conversation)?).await?;
    let request = ConversationStatusRequest {
        inbox_id: subject.inbox.id,
        actor_id: subject.actor.id,
        conversation_id: subject.conversation.id,
    };
    let upstream = context.upstream();
    let written = match status {
        Status::Open => upstream.open_conversation(&request).await,
        Status::Closed => upstream.close_conversation(&request).await,
    };
    written.map_err(rejected)?;
    subject.reload(context).await
}

/// Read state is per member and addressed by inbox and customer, not by conversation id.
async fn set_read(ctx: &Context<'_>, id: &ID, read: bool) -> Result<Conversation, Failure> {
    let context = RequestContext::of(ctx)?;
    let subject = Subject::load(context, GlobalId::parse_as(id, NodeKind::Conversation)?).await?;
    let request = ReadStateRequest {
        inbox_id: subject.inbox.id,
        actor_id: subject.actor.id,
        target: subject.target()?.to_owned(),
    };
    let upstream = context.upstream();
    let written = if read {
        upstream.mark_read(&request).await
    } else {
        upstream.mark_unread(&request).await
    };
    written.map_err(rejected)?;
    subject.reload(context).await
}
