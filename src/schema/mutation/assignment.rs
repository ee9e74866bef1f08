//! `assignConversation` (to a member of the same inbox) and `transferConversation` (to another
//! inbox): who handles a conversation, and where.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object};

use super::payload::conversation_payload;
use super::subject::{Subject, is_text_conversation};
use super::user_error::{Failure, Refusal, UserError, UserErrorCode, rejected};
use crate::error::ApiError;
use crate::schema::context::RequestContext;
use crate::schema::node::{GlobalId, NodeKind};
use crate::schema::types::Conversation;
use crate::upstream::requests::{ReassignRequest, TransferRequest};

/// Input of `assignConversation`.
#[derive(InputObject)]
pub(crate) struct AssignConversationInput {
    /// The conversation's global `id`.
    pub conversation_id: ID,
    /// The new assignee's global `id` (a member of the conversation's inbox). Null is answered
    /// with the user error `UNASSIGN_NOT_SUPPORTED`: the Heymarket API documents no way to
    /// unassign a conversation. Leaving it out is a `BAD_USER_INPUT` error.
    pub assignee_id: MaybeUndefined<ID>,
    /// Any string; echoed in the payload, so a client can match answers to requests.
    pub client_mutation_id: Option<String>,
}

/// Input of `transferConversation`.
#[derive(InputObject)]
pub(crate) struct TransferConversationInput {
    /// The conversation's global `id`.
    pub conversation_id: ID,
    /// The destination inbox's global `id`.
    pub inbox_id: ID,
    /// Any string; echoed in the payload, so a client can match answers to requests.
    pub client_mutation_id: Option<String>,
}

conversation_payload!(AssignConversationPayload, "Result of `assignConversation`.");
conversation_payload!(
    TransferConversationPayload,
    "Result of `transferConversation`."
);

/// Assignment and transfer.
#[derive(Default)]
pub(crate) struct AssignmentMutations;

#[Object]
impl AssignmentMutations {
    /// Assigns a conversation to a member of its inbox. User errors: `ASSIGNEE_NOT_IN_INBOX`;
    /// `NOT_AN_INBOX_MEMBER` when the acting member is not a member of the conversation's
    /// inbox; `UNASSIGN_NOT_SUPPORTED` for a null assignee, since the Heymarket API documents
    /// no way to unassign (nothing is written). An unknown assignee is a `NOT_FOUND` error.
    async fn assign_conversation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The conversation and its new assignee.")] input: AssignConversationInput,
    ) -> Result<Option<AssignConversationPayload>, ApiError> {
        let result = assign(ctx, &input).await;
        AssignConversationPayload::settle(input.client_mutation_id, result)
    }

    /// Moves an SMS conversation, with its history, to another SMS inbox. User errors:
    /// `NOT_TRANSFERABLE` (not SMS, or an email destination), `SAME_INBOX`,
    /// `ALREADY_IN_INBOX` (the destination has a conversation with this customer), and
    /// `NOT_AN_INBOX_MEMBER` when the acting member is not a member of the conversation's
    /// current inbox. An unknown destination is a `NOT_FOUND` error.
    async fn transfer_conversation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The conversation and its destination inbox.")]
        input: TransferConversationInput,
    ) -> Result<Option<TransferConversationPayload>, ApiError> {
        let result = transfer(ctx, &input).await;
        TransferConversationPayload::settle(input.client_mutation_id, result)
    }
}

/// Reassignment is addressed by inbox and customer, as the acting member.
async fn assign(
    ctx: &Context<'_>,
    input: &AssignConversationInput,
) -> Result<Conversation, Failure> {
    let context = RequestContext::of(ctx)?;
    let id = GlobalId::parse_as(&input.conversation_id, NodeKind::Conversation)?;
    let assignee_id = match &input.assignee_id {
        MaybeUndefined::Undefined => {
            return Err(ApiError::bad_input("give `assigneeId`: a member's id").into());
        }
        MaybeUndefined::Null => None,
        MaybeUndefined::Value(assignee) => Some(GlobalId::parse_as(assignee, NodeKind::Member)?),
    };
    // Access is checked first, as for every other change of the conversation.
    let subject = Subject::load(context, id).await?;
    let Some(assignee_id) = assignee_id else {
        return Err(unassign_not_supported().into());
    };
    if context.loaders.member(assignee_id).await?.is_none() {
        return Err(ApiError::NotFound("no Member with this id".to_owned()).into());
    }
    if !subject.inbox.members.contains(&assignee_id) {
        return Err(UserError::on(
            "assigneeId",
            UserErrorCode::AssigneeNotInInbox,
            format!(
                "member {assignee_id} is not a member of inbox {}; assign one of its members, or transfer the conversation first",
                subject.inbox.id
            ),
        )
        .into());
    }
    let request = ReassignRequest {
        inbox_id: subject.inbox.id,
        actor_id: subject.actor.id,
        target: subject.target()?.to_owned(),
        assignee_id,
    };
    context
        .upstream()
        .reassign(&request)
        .await
        .map_err(rejected)?;
    subject.reload(context).await
}

/// The Heymarket API documents `reassign_id` only as "the new assignee" and no way to unassign
/// (heymarket-api.md §6.6, §13.5); a guessed value (`-1`, `0`) is refused by some readings and
/// could mean something else to others, so the gateway sends none.
fn unassign_not_supported() -> UserError {
    UserError::on(
        "assigneeId",
        UserErrorCode::UnassignNotSupported,
        "the Heymarket API documents no way to unassign a conversation, so the gateway cannot unassign it; assign it to another member of its inbox instead",
    )
}

/// Checks every transfer rule the upstream documents before writing, so a refused transfer
/// costs no write.
async fn transfer(
    ctx: &Context<'_>,
    input: &TransferConversationInput,
) -> Result<Conversation, Failure> {
    let context = RequestContext::of(ctx)?;
    let id = GlobalId::parse_as(&input.conversation_id, NodeKind::Conversation)?;
    let destination_id = GlobalId::parse_as(&input.inbox_id, NodeKind::Inbox)?;
    let subject = Subject::load(context, id).await?;
    let destination = context
        .loaders
        .inbox(destination_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("no Inbox with this id".to_owned()))?;
    if !is_text_conversation(&subject.conversation) {
        return Err(UserError::on(
            "conversationId",
            UserErrorCode::NotTransferable,
            "only SMS conversations can be transferred",
        )
        .into());
    }
    if !destination.sends_texts() {
        return Err(UserError::on(
            "inboxId",
            UserErrorCode::NotTransferable,
            format!("inbox {destination_id} is not an SMS inbox"),
        )
        .into());
    }
    if destination_id == subject.inbox.id {
        return Err(UserError::on(
            "inboxId",
            UserErrorCode::SameInbox,
            format!("the conversation is already in inbox {destination_id}"),
        )
        .into());
    }
    let target = subject.target()?;
    if holds_conversation(context, target, destination_id).await? {
        return Err(already_in_inbox(destination_id).into());
    }
    let request = TransferRequest {
        conversation_id: id,
        to_inbox_id: destination_id,
    };
    if let Err(error) = context.upstream().transfer(&request).await {
        let refusal = Refusal::of(error)?;
        // Every documented rule passed above, so the likeliest cause is a conversation with
        // this customer that reached the destination meanwhile: look again rather than guess.
        let taken = holds_conversation(context, target, destination_id).await?;
        return Err(transfer_refused(refusal, taken, destination_id).into());
    }
    subject.reload(context).await
}

/// Whether `inbox` has a conversation with `target`. The API finds a conversation by customer
/// and inbox only through its message history, and every conversation has a message. A
/// customer without a conversation there may have an empty history or a 404
/// (heymarket-api.md §13.12); the inbox itself is known to exist.
async fn holds_conversation(
    context: &RequestContext,
    target: &str,
    inbox: i64,
) -> Result<bool, ApiError> {
    match context
        .upstream()
        .message_history(target, inbox, None)
        .await
    {
        Ok(history) => Ok(!history.is_empty()),
        Err(crate::upstream::Error::NotFound) => Ok(false),
        Err(error) => Err(error.into()),
    }
}

fn already_in_inbox(inbox: i64) -> UserError {
    UserError::on(
        "inboxId",
        UserErrorCode::AlreadyInInbox,
        format!("inbox {inbox} already has a conversation with this customer"),
    )
}

/// Names a transfer the upstream refused after the gateway's checks passed.
fn transfer_refused(refusal: Refusal, destination_taken: bool, destination: i64) -> UserError {
    if destination_taken {
        already_in_inbox(destination)
    } else {
        refusal.rejected()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_transfer_is_named_by_what_a_second_look_finds() {
        let refusal = Refusal {
            code: Some("bad_data".to_owned()),
            message: Some("inbox 3002 already has a conversation with 12125550100".to_owned()),
        };
        let taken = transfer_refused(refusal.clone(), true, 3002);
        assert_eq!(taken.code, UserErrorCode::AlreadyInInbox);
        assert_eq!(taken.field, Some(vec!["inboxId".to_owned()]));

        let other = transfer_refused(refusal, false, 3002);
        assert_eq!(other.code, UserErrorCode::UpstreamRejected);
        assert_eq!(
            other.message,
            "inbox 3002 already has a conversation with 12125550100"
        );
    }
}
