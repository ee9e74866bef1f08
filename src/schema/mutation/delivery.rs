//! Sending through `POST /v1/message/send`, and finding the sent message again: the send
//! answers only `{id, date}` (heymarket-api.md §7.1), so the message and its conversation are
//! read back from the conversation's history.

use std::sync::Arc;

use super::subject::{found_again, sends_texts};
use super::user_error::{Failure, Refusal, UserError, UserErrorCode};
use crate::error::ApiError;
use crate::schema::context::RequestContext;
use crate::schema::types::{Conversation, Message};
use crate::upstream::models::{self, Inbox, SentMessage, TeamMember};
use crate::upstream::requests::{Recipient, SendMessageRequest};

/// The upstream's error code for a send to a customer who opted out. Undocumented for `/v1`:
/// Heymarket's n8n surface uses it, and the sandbox answers it (heymarket-api.md §7.1, §10).
const OPTED_OUT: &str = "unsubscribed_number";

/// A message ready to go.
pub(super) struct Outgoing {
    /// The inbox it is sent from.
    pub inbox: Inbox,
    /// The sending member.
    pub sender: TeamMember,
    pub recipient: Recipient,
    /// The customer's number, which finds the conversation's history afterwards.
    pub target: String,
    /// The input fields that named the sending inbox and the recipient, for user errors
    /// about them.
    pub inbox_field: &'static str,
    pub recipient_field: &'static str,
    pub text: Option<String>,
    pub media_url: Option<String>,
    pub private: bool,
    /// Sent as `local_id`, which the upstream de-duplicates.
    pub idempotency_key: Option<String>,
}

/// A sent message and its conversation, both as the upstream has them after the send.
pub(crate) struct Delivered {
    pub message: Message,
    pub conversation: Conversation,
}

/// Sends `outgoing` and reads the message and its conversation back. Fields later in the
/// operation see both: the conversation is re-read and the fresh history stays cached.
pub(super) async fn deliver(
    context: &RequestContext,
    outgoing: Outgoing,
) -> Result<Delivered, Failure> {
    if !sends_texts(&outgoing.inbox) {
        return Err(UserError::on(
            outgoing.inbox_field,
            UserErrorCode::UnsupportedChannel,
            format!(
                "inbox {} does not send text messages (email is not supported)",
                outgoing.inbox.id
            ),
        )
        .into());
    }
    let known_conversation = match &outgoing.recipient {
        Recipient::Conversation(id) => Some(*id),
        Recipient::Phone(_) => None,
    };
    let keyed = outgoing.idempotency_key.is_some();
    let request = SendMessageRequest {
        inbox_id: outgoing.inbox.id,
        sender_id: outgoing.sender.id,
        recipient: outgoing.recipient,
        text: outgoing.text,
        media_url: outgoing.media_url,
        private: outgoing.private,
        local_id: outgoing.idempotency_key,
    };
    let loaders = &context.loaders;
    let sent = match context.upstream().send_message(&request).await {
        Ok(sent) => sent,
        Err(error) => {
            if error.outcome_unknown() {
                // The message may be there: the history the client is told to read must be
                // read afresh, not from the cache.
                loaders.forget_messages();
            }
            return Err(send_refused(error, outgoing.recipient_field, keyed));
        }
    };

    loaders.forget_messages();
    let newest = loaders
        .latest_messages(&outgoing.target, outgoing.inbox.id)
        .await?;
    let message = match newest.iter().find(|message| message.id == sent.id) {
        Some(message) => Some(message.clone()),
        None => sent_earlier(context, &outgoing.target, outgoing.inbox.id, &sent).await?,
    };
    let Some(message) = message else {
        return Err(missing_from_history(&sent, keyed));
    };
    let conversation_id = known_conversation
        .or_else(|| {
            message
                .conversation
                .as_ref()
                .map(|conversation| conversation.id)
        })
        .or(sent.convo_id)
        .ok_or_else(|| {
            tracing::warn!(message = sent.id, "sent message without a conversation");
            ApiError::UpstreamUnavailable
        })?;
    let conversation = found_again(context, conversation_id).await?;
    Ok(Delivered {
        message: Message::new(Arc::new(message), conversation_id),
        conversation,
    })
}

/// The sent message when it is not among the newest: a repeated idempotency key answers the
/// first send's message, which may be older. Looks in the page that ends with the second it
/// was sent in.
async fn sent_earlier(
    context: &RequestContext,
    target: &str,
    inbox: i64,
    sent: &SentMessage,
) -> Result<Option<models::Message>, ApiError> {
    let Some(date) = sent.date else {
        return Ok(None);
    };
    let page = context
        .upstream()
        .message_history(target, inbox, Some(date.timestamp().saturating_add(1)))
        .await?;
    Ok(page.into_iter().find(|message| message.id == sent.id))
}

/// A sent message this conversation's history does not hold. With an idempotency key, the
/// upstream answered an earlier send of that key, to another conversation; without one, the
/// upstream contradicts itself.
fn missing_from_history(sent: &SentMessage, keyed: bool) -> Failure {
    if keyed {
        return UserError::on(
            "idempotencyKey",
            UserErrorCode::IdempotencyKeyReused,
            "this idempotencyKey was already used for a message in another conversation; use a new key for a new message",
        )
        .into();
    }
    tracing::warn!(
        message = sent.id,
        "sent message missing from its conversation's history"
    );
    ApiError::UpstreamUnavailable.into()
}

/// Names a send the upstream refused, or that may have landed without an answer: without an
/// idempotency key that is `OUTCOME_UNKNOWN`, never "retry later", which would send it twice.
fn send_refused(error: crate::upstream::Error, recipient_field: &str, keyed: bool) -> Failure {
    if !keyed && error.outcome_unknown() {
        tracing::warn!(%error, "a send without an idempotency key may have landed unanswered");
        return ApiError::OutcomeUnknown.into();
    }
    match Refusal::of(error) {
        Ok(refusal) if refusal.code.as_deref() == Some(OPTED_OUT) => UserError::on(
            recipient_field,
            UserErrorCode::RecipientOptedOut,
            "the customer opted out of messages from this team",
        )
        .into(),
        Ok(refusal) => refusal.rejected().into(),
        Err(error) => error.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_opted_out_refusal_names_the_recipient() {
        let opted_out = crate::upstream::Error::BadRequest {
            code: Some(OPTED_OUT.to_owned()),
            message: Some("12125550100 has unsubscribed from messages".to_owned()),
        };
        let Failure::User(error) = send_refused(opted_out, "phone", false) else {
            panic!("a business failure");
        };
        assert_eq!(error.code, UserErrorCode::RecipientOptedOut);
        assert_eq!(error.field, Some(vec!["phone".to_owned()]));

        let other = crate::upstream::Error::BadRequest {
            code: Some("bad_data".to_owned()),
            message: Some("creator 7 is not a member of inbox 3001".to_owned()),
        };
        let Failure::User(error) = send_refused(other, "phone", false) else {
            panic!("a business failure");
        };
        assert_eq!(error.code, UserErrorCode::UpstreamRejected);
    }

    #[test]
    fn an_unanswered_send_is_outcome_unknown_unless_a_key_makes_a_retry_safe() {
        let lost = || crate::upstream::Error::Transport {
            connect: false,
            reason: "connection reset".to_owned(),
        };
        assert!(matches!(
            send_refused(lost(), "phone", false),
            Failure::Api(ApiError::OutcomeUnknown)
        ));
        assert!(matches!(
            send_refused(crate::upstream::Error::Timeout, "phone", false),
            Failure::Api(ApiError::OutcomeUnknown)
        ));
        assert!(matches!(
            send_refused(lost(), "phone", true),
            Failure::Api(ApiError::UpstreamUnavailable)
        ));
        let never_sent = crate::upstream::Error::Transport {
            connect: true,
            reason: "connection refused".to_owned(),
        };
        assert!(matches!(
            send_refused(never_sent, "phone", false),
            Failure::Api(ApiError::UpstreamUnavailable)
        ));
    }

    #[test]
    fn a_missing_message_is_a_reused_key_only_when_a_key_was_sent() {
        let sent = SentMessage {
            id: 9,
            date: None,
            gallery_url: None,
            convo_id: None,
        };
        assert!(matches!(
            missing_from_history(&sent, true),
            Failure::User(UserError {
                code: UserErrorCode::IdempotencyKeyReused,
                ..
            })
        ));
        assert!(matches!(
            missing_from_history(&sent, false),
            Failure::Api(ApiError::UpstreamUnavailable)
        ));
    }
}
