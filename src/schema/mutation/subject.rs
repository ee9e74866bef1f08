//! The conversation a mutation acts on, loaded with the acting member and the inbox, and the
//! rules every mutation shares: who may act in an inbox, which inboxes and conversations carry
//! text messages, and reading a conversation again after a write.

use std::sync::Arc;

use super::user_error::{Failure, UserError, UserErrorCode};
use crate::error::ApiError;
use crate::schema::context::{RequestContext, Written};
use crate::schema::types::Conversation;
use crate::upstream::models::{self, Inbox, TeamMember};

/// A conversation about to change, and who changes it.
pub(super) struct Subject {
    /// As loaded before the write.
    pub conversation: Arc<models::Conversation>,
    /// The conversation's inbox.
    pub inbox: Inbox,
    /// The acting member, whose `user_id`/`creator_id` every upstream call carries.
    pub actor: TeamMember,
}

impl Subject {
    /// Loads conversation `id` (a `NOT_FOUND` error when there is none), the acting member and
    /// the conversation's inbox, concurrently; a `NOT_AN_INBOX_MEMBER` user error when the
    /// acting member has no access to that inbox.
    pub(super) async fn load(context: &RequestContext, id: i64) -> Result<Self, Failure> {
        let loaders = &context.loaders;
        let (conversation, actor, inboxes) = futures::try_join!(
            loaders.conversation(id),
            context.acting_member(),
            loaders.inboxes(),
        )?;
        let conversation = conversation
            .ok_or_else(|| ApiError::NotFound("no Conversation with this id".to_owned()))?;
        let inbox_id = Conversation(Arc::clone(&conversation)).inbox_id()?;
        let inbox = inboxes
            .iter()
            .find(|inbox| inbox.id == inbox_id)
            .cloned()
            .ok_or_else(|| {
                ApiError::NotFound(format!(
                    "inbox {inbox_id} is not visible to this credential"
                ))
            })?;
        check_member(&inbox, &actor)?;
        Ok(Self {
            conversation,
            inbox,
            actor,
        })
    }

    /// The customer's phone number (or email address): how read state, assignment and history
    /// address the conversation upstream.
    pub(super) fn target(&self) -> Result<&str, ApiError> {
        self.conversation.target.as_deref().ok_or_else(|| {
            tracing::warn!(
                conversation = self.conversation.id,
                "upstream conversation without a target"
            );
            ApiError::UpstreamUnavailable
        })
    }

    /// The conversation as the upstream has it after a write: fetched again and handed to the
    /// loaders, which also forget its cached last message and its customer's histories, so
    /// fields later in the operation (and later mutations in it) see the change.
    pub(super) async fn reload(&self, context: &RequestContext) -> Result<Conversation, Failure> {
        let conversation = &self.conversation;
        match conversation.target.as_deref() {
            Some(target) => context
                .loaders
                .forget_messages_of(Some(conversation.id), target),
            None => context.loaders.forget_messages(),
        }
        found_again(context, conversation.id, Some(self.inbox.id)).await
    }
}

/// The conversation fetched again, without forgetting histories (for a caller that already
/// did, and fetched the one it needed). `inbox_before`: the inbox it was in before the write,
/// when the caller knows it.
pub(super) async fn found_again(
    context: &RequestContext,
    id: i64,
    inbox_before: Option<i64>,
) -> Result<Conversation, Failure> {
    let (conversation, reach) = context
        .loaders
        .reload_conversation(id, inbox_before)
        .await?;
    let now = conversation.clone();
    context
        .tell_replicas(Written::Conversation { id, reach, now })
        .await;
    let conversation = conversation
        .ok_or_else(|| ApiError::NotFound(format!("conversation {id} no longer exists")))?;
    Ok(Conversation(conversation))
}

/// After a write of contact `id` (when known) at `addresses`: the other replicas are told
/// first, which moves on the contacts they share, and only then are this replica's copies
/// forgotten, so none is filled again from what was shared before the write.
pub(super) async fn forget_written_contacts<'a>(
    context: &RequestContext,
    id: Option<i64>,
    addresses: impl IntoIterator<Item = &'a str>,
) {
    context.tell_replicas(Written::Contact).await;
    context.loaders.forget_contacts(id, addresses).await;
}

/// Only an inbox's members may act in it: send from it, or change its conversations.
pub(super) fn check_member(inbox: &Inbox, actor: &TeamMember) -> Result<(), UserError> {
    if inbox.members.contains(&actor.id) {
        return Ok(());
    }
    Err(UserError::general(
        UserErrorCode::NotAnInboxMember,
        format!(
            "member {} is not a member of inbox {}; act as one of its members (X-Member-Id)",
            actor.id, inbox.id
        ),
    ))
}

/// Whether a conversation is a text (SMS or MMS) conversation: by its channel, or, when the
/// upstream leaves the channel out, by a target that is a phone number, not an email address.
pub(super) fn is_text_conversation(conversation: &models::Conversation) -> bool {
    match conversation.channel.as_deref() {
        Some(channel) => ["sms", "mms"]
            .iter()
            .any(|text| channel.eq_ignore_ascii_case(text)),
        None => conversation
            .target
            .as_deref()
            .is_some_and(|target| !target.contains('@')),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn conversation(fields: serde_json::Value) -> models::Conversation {
        serde_json::from_value(fields).unwrap()
    }

    fn inbox(fields: serde_json::Value) -> Inbox {
        serde_json::from_value(fields).unwrap()
    }

    #[test]
    fn text_conversations_are_known_by_channel_or_else_by_target() {
        for (fields, text) in [
            (json!({ "id": 1, "channel": "sms" }), true),
            (json!({ "id": 1, "channel": "MMS" }), true),
            (
                json!({ "id": 1, "channel": "email", "target": "14155550100" }),
                false,
            ),
            (json!({ "id": 1, "channel": "chat" }), false),
            (json!({ "id": 1, "target": "14155550100" }), true),
            (json!({ "id": 1, "target": "ada@example.com" }), false),
            (json!({ "id": 1 }), false),
        ] {
            assert_eq!(
                is_text_conversation(&conversation(fields.clone())),
                text,
                "{fields}"
            );
        }
    }

    #[test]
    fn inboxes_with_a_number_send_texts() {
        assert!(inbox(json!({ "id": 1, "phone": "16505550101" })).sends_texts());
        assert!(inbox(json!({ "id": 1, "phone": "", "phones": ["16505550101"] })).sends_texts());
        assert!(!inbox(json!({ "id": 1, "phone": "", "phones": [] })).sends_texts());
        assert!(!inbox(json!({ "id": 1 })).sends_texts());
    }

    #[test]
    fn only_members_act_in_an_inbox() {
        let inbox = inbox(json!({ "id": 3001, "members": [501, 502] }));
        let member = |id| TeamMember {
            id,
            name: None,
            role: None,
        };
        assert_eq!(check_member(&inbox, &member(502)), Ok(()));
        let refused = check_member(&inbox, &member(503)).unwrap_err();
        assert_eq!(refused.code, UserErrorCode::NotAnInboxMember);
        assert_eq!(refused.field, None);
    }
}
