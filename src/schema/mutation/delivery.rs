//! Sending through `POST /v1/message/send` or `POST /v1/email/send`, and finding the sent
//! message again: a send answers only `{id, date}` and perhaps its conversation
//! (heymarket-api.md §7.1, §7.2), so the message and its conversation are read back from the
//! conversation's history.
//!
//! A send with an idempotency key happens once per key, whatever the upstream does with a
//! repeated `local_id` ([`Idempotency`]): a repeated key answers the first send's message,
//! read back again, without writing. A keyed send whose outcome is unknown is looked for among
//! the conversation's newest messages by the key it carries; when it is not there the key
//! stays bound to that unknown outcome, and is never sent again.

use std::sync::Arc;

use async_graphql::Context;
use futures::future::OptionFuture;

use super::outgoing::{Outgoing, SendRequest};
use super::subject::found_again;
use super::user_error::{Failure, Refusal, UserError, UserErrorCode};
use crate::error::ApiError;
use crate::idempotency::{self, Claim, Idempotency, Outcome, SendGuard, SendKey, Sent};
use crate::schema::context::RequestContext;
use crate::schema::types::{Conversation, Message};
use crate::upstream::models::{self, SentMessage};

/// The upstream's error code for a send to a customer who opted out. Undocumented for `/v1`:
/// Heymarket's n8n surface uses it, and the sandbox answers it (heymarket-api.md §7.1, §10).
const OPTED_OUT: &str = "unsubscribed_number";

/// A sent message and its conversation, both as the upstream has them after the send.
pub(crate) struct Delivered {
    pub message: Message,
    pub conversation: Conversation,
}

/// The gateway's idempotency keys, which the schema carries.
pub(super) fn idempotency<'a>(ctx: &Context<'a>) -> Result<&'a Idempotency, ApiError> {
    ctx.data::<Idempotency>().map_err(|_| {
        tracing::error!("the schema was built without idempotency keys");
        ApiError::Internal
    })
}

/// Sends `outgoing` (once per idempotency key) and reads the message and its conversation
/// back. Fields later in the operation see both: the conversation is re-read and the fresh
/// history stays cached.
pub(super) async fn deliver(
    context: &RequestContext,
    sends: &Idempotency,
    outgoing: Outgoing,
) -> Result<Delivered, Failure> {
    if let Some(refusal) = outgoing.channel_refusal() {
        return Err(refusal.into());
    }
    let Some(key) = outgoing.idempotency_key() else {
        check_opted_in(context, &outgoing).await?;
        let sent = send(context, &outgoing)
            .await
            .map_err(|error| send_refused(error, outgoing.recipient_field))?;
        return read_back(context, &outgoing, &sent).await;
    };
    let key = SendKey::new(context.upstream().tenant_key(), key);
    let input = idempotency::fingerprint(&outgoing.without_key());
    match sends.claim(&key, &input).await {
        Claim::Mine(guard) => send_once(context, &outgoing, guard).await,
        Claim::Earlier(record) if record.input != input => Err(key_reused().into()),
        Claim::Earlier(record) => match record.outcome {
            Outcome::Sent(sent) => replay(context, &outgoing, &sent).await,
            Outcome::Unknown | Outcome::Sending { .. } => {
                let Some((delivered, sent)) = find_by_key(context, &outgoing).await? else {
                    return Err(ApiError::OutcomeUnknown { keyed: true }.into());
                };
                sends.found(&key, &input, sent).await;
                Ok(delivered)
            }
        },
        Claim::InFlight => Err(ApiError::IdempotencyKeyInUse.into()),
    }
}

/// The one send of a key: its outcome is recorded under the key before anything else can
/// fail, so no later request sends it again.
async fn send_once(
    context: &RequestContext,
    outgoing: &Outgoing,
    mut guard: SendGuard,
) -> Result<Delivered, Failure> {
    if let Err(refusal) = check_opted_in(context, outgoing).await {
        guard.release().await;
        return Err(refusal);
    }
    guard.sending();
    let sent = match send(context, outgoing).await {
        Ok(sent) => sent,
        Err(error) if error.outcome_unknown() => {
            tracing::warn!(%error, "a keyed send may have landed unanswered; looking for it");
            return match find_by_key(context, outgoing).await {
                Ok(Some((delivered, sent))) => {
                    guard.sent(sent).await;
                    Ok(delivered)
                }
                looked => {
                    if let Err(error) = looked {
                        tracing::warn!(?error, "could not look for a send of unknown outcome");
                    }
                    guard.unknown().await;
                    Err(ApiError::OutcomeUnknown { keyed: true }.into())
                }
            };
        }
        Err(error) => {
            guard.release().await;
            return Err(send_refused(error, outgoing.recipient_field));
        }
    };
    let mut record = Sent {
        message_id: sent.id,
        date: sent.date,
        conversation_id: None,
    };
    guard.sent(record.clone()).await;
    let delivered = read_back(context, outgoing, &sent).await?;
    record.conversation_id = Some(delivered.conversation.0.id);
    guard.sent(record).await;
    Ok(delivered)
}

/// `POST /v1/message/send` or `POST /v1/email/send`. After any send that may have landed,
/// the cached histories of its customer are dropped (and the last message of its
/// conversation, or of every conversation when the input named none), so the message is
/// looked for (by the gateway or, told so, by the client) afresh.
async fn send(
    context: &RequestContext,
    outgoing: &Outgoing,
) -> Result<SentMessage, crate::upstream::Error> {
    let result = match &outgoing.request {
        SendRequest::Text(request) => context.upstream().send_message(request).await,
        SendRequest::Email(request) => context.upstream().send_email(request).await,
    };
    if result.as_ref().is_ok() || result.as_ref().is_err_and(|e| e.outcome_unknown()) {
        forget_messages_of(context, outgoing);
    }
    result
}

/// Forgets what a send to `outgoing`'s customer may have changed.
fn forget_messages_of(context: &RequestContext, outgoing: &Outgoing) {
    context
        .loaders
        .forget_messages_of(outgoing.conversation(), &outgoing.target);
}

/// A customer who opted out gets no message. Checked here, whatever the upstream would do with
/// the send (refuse it with `unsubscribed_number`, or send it: heymarket-api.md §7.1), so that
/// nothing is written. The contact is read afresh, not from the cache: a customer who opted
/// out a moment ago must not get the message. Notes reach only the team, so they go through.
async fn check_opted_in(context: &RequestContext, outgoing: &Outgoing) -> Result<(), Failure> {
    if !outgoing.needs_opt_in() {
        return Ok(());
    }
    refuse_opted_out(context, &outgoing.target, outgoing.recipient_field).await
}

/// `RECIPIENT_OPTED_OUT` (on `field`) when the customer with phone `target` opted out, as the
/// upstream has the contact now, past every cache.
pub(super) async fn refuse_opted_out(
    context: &RequestContext,
    target: &str,
    field: &str,
) -> Result<(), Failure> {
    let contact = context.loaders.current_contact_by_phone(target).await?;
    if contact.is_some_and(|contact| contact.is_opted_out == Some(true)) {
        return Err(opted_out(field).into());
    }
    Ok(())
}

/// The message a send made, read back with its conversation.
async fn read_back(
    context: &RequestContext,
    outgoing: &Outgoing,
    sent: &SentMessage,
) -> Result<Delivered, Failure> {
    if let Some(thread) = sent.convo_id.filter(|_| outgoing.starts_email_thread()) {
        return read_back_from_thread(context, outgoing, sent, thread).await;
    }
    // A reply's conversation is read back alongside its message: sooner, and while the
    // send's webhook may still be on its way, so the webhook need not read it again.
    let reply_read_back = OptionFuture::from(
        outgoing
            .conversation()
            .map(|id| async move { (id, found_again(context, id, None).await) }),
    );
    let (found, reply) = futures::join!(
        find_sent(
            context,
            &outgoing.target,
            outgoing.inbox.id,
            sent.id,
            sent.date,
        ),
        reply_read_back,
    );
    let Some(message) = found? else {
        return Err(missing_from_history(
            sent.id,
            outgoing.idempotency_key().is_some(),
        ));
    };
    match reply {
        Some((id, conversation)) => Ok(Delivered {
            message: Message::new(Arc::new(message), id),
            conversation: conversation?,
        }),
        None => {
            let conversation_id = conversation_of(&message).or(sent.convo_id);
            delivered(context, message, conversation_id).await
        }
    }
}

/// A new email thread's first message, read back from the conversation the answer named: its
/// target (how the upstream addresses the thread's history) may be any of the addresses it
/// went to, so it is read from the conversation rather than guessed.
async fn read_back_from_thread(
    context: &RequestContext,
    outgoing: &Outgoing,
    sent: &SentMessage,
    thread: i64,
) -> Result<Delivered, Failure> {
    let conversation = found_again(context, thread, None).await?;
    let target = conversation.0.target.as_deref().ok_or_else(|| {
        tracing::warn!(
            conversation = thread,
            "upstream conversation without a target"
        );
        ApiError::UpstreamUnavailable
    })?;
    let found = find_sent(context, target, outgoing.inbox.id, sent.id, sent.date).await?;
    let Some(message) = found else {
        return Err(missing_from_history(
            sent.id,
            outgoing.idempotency_key().is_some(),
        ));
    };
    Ok(Delivered {
        message: Message::new(Arc::new(message), thread),
        conversation,
    })
}

/// The first send of a key, answered again: its message, read back where it is now (in its
/// conversation, once the first send saw it there: a transfer moves a history).
async fn replay(
    context: &RequestContext,
    outgoing: &Outgoing,
    sent: &Sent,
) -> Result<Delivered, Failure> {
    let (target, inbox) = match sent.conversation_id {
        Some(id) => {
            let conversation = found_again(context, id, None).await?;
            let target = conversation.0.target.clone().ok_or_else(|| {
                tracing::warn!(conversation = id, "upstream conversation without a target");
                ApiError::UpstreamUnavailable
            })?;
            (target, conversation.inbox_id()?)
        }
        None => (outgoing.target.clone(), outgoing.inbox.id),
    };
    let found = find_sent(context, &target, inbox, sent.message_id, sent.date).await?;
    let Some(message) = found else {
        return Err(missing_from_history(sent.message_id, true));
    };
    let conversation_id = sent
        .conversation_id
        .or_else(|| outgoing.conversation())
        .or_else(|| conversation_of(&message));
    delivered(context, message, conversation_id).await
}

/// The message a keyed send left in its conversation, found by the key it carries as
/// `local_id` (and the text it was sent with), with the record it makes.
async fn find_by_key(
    context: &RequestContext,
    outgoing: &Outgoing,
) -> Result<Option<(Delivered, Sent)>, Failure> {
    forget_messages_of(context, outgoing);
    let newest = newest_messages(context, &outgoing.target, outgoing.inbox.id).await?;
    // A template's text is filled in upstream, so only a plain text is compared.
    let Some(message) = newest.iter().find(|message| outgoing.is_sent_as(message)) else {
        return Ok(None);
    };
    let conversation_id = outgoing.conversation().or_else(|| conversation_of(message));
    let delivered = delivered(context, message.clone(), conversation_id).await?;
    let sent = Sent {
        message_id: message.id,
        date: message.date,
        conversation_id: Some(delivered.conversation.0.id),
    };
    Ok(Some((delivered, sent)))
}

/// Message `id` of the conversation with `target` in `inbox`: among the newest messages, or
/// else in the page that ends with the second it was dated (a replayed send may be older).
async fn find_sent(
    context: &RequestContext,
    target: &str,
    inbox: i64,
    id: i64,
    date: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<Option<models::Message>, ApiError> {
    let newest = newest_messages(context, target, inbox).await?;
    if let Some(message) = newest.iter().find(|message| message.id == id) {
        return Ok(Some(message.clone()));
    }
    let Some(date) = date else {
        return Ok(None);
    };
    let before = Some(date.timestamp().saturating_add(1));
    match context
        .upstream()
        .message_history(target, inbox, before)
        .await
    {
        Ok(page) => Ok(page.into_iter().find(|message| message.id == id)),
        Err(crate::upstream::Error::NotFound) => Ok(None),
        Err(error) => Err(error.into()),
    }
}

/// The newest messages of the conversation with `target` in `inbox`; none when there is no such
/// conversation, which the upstream may answer with a 404 rather than an empty list
/// (heymarket-api.md §13.12).
async fn newest_messages(
    context: &RequestContext,
    target: &str,
    inbox: i64,
) -> Result<Arc<Vec<models::Message>>, ApiError> {
    match context.loaders.latest_messages(target, inbox).await {
        Err(ApiError::NotFound(_)) => Ok(Arc::default()),
        newest => newest,
    }
}

/// `message`, in conversation `conversation_id`, which is read again.
async fn delivered(
    context: &RequestContext,
    message: models::Message,
    conversation_id: Option<i64>,
) -> Result<Delivered, Failure> {
    let conversation_id = conversation_id.ok_or_else(|| {
        tracing::warn!(message = message.id, "sent message without a conversation");
        ApiError::UpstreamUnavailable
    })?;
    let conversation = found_again(context, conversation_id, None).await?;
    Ok(Delivered {
        message: Message::new(Arc::new(message), conversation_id),
        conversation,
    })
}

fn conversation_of(message: &models::Message) -> Option<i64> {
    message
        .conversation
        .as_ref()
        .map(|conversation| conversation.id)
}

pub(super) fn key_reused() -> UserError {
    UserError::on(
        "idempotencyKey",
        UserErrorCode::IdempotencyKeyReused,
        "this idempotencyKey was already used for another message (another conversation, recipient or content); use a new key for a new message",
    )
}

fn opted_out(recipient_field: &str) -> UserError {
    UserError::on(
        recipient_field,
        UserErrorCode::RecipientOptedOut,
        "the customer opted out of messages from this team",
    )
}

/// A sent message this conversation's history does not hold. With an idempotency key, the
/// upstream answered an earlier send of that key, to another conversation; without one, the
/// upstream contradicts itself.
fn missing_from_history(message_id: i64, keyed: bool) -> Failure {
    if keyed {
        return key_reused().into();
    }
    tracing::warn!(
        message = message_id,
        "sent message missing from its conversation's history"
    );
    ApiError::UpstreamUnavailable.into()
}

/// Names a send the upstream refused, or that may have landed without an answer: that is
/// `OUTCOME_UNKNOWN`, never "retry later", which would send it twice.
fn send_refused(error: crate::upstream::Error, recipient_field: &str) -> Failure {
    if error.outcome_unknown() {
        tracing::warn!(%error, "a send without an idempotency key may have landed unanswered");
        return ApiError::OutcomeUnknown { keyed: false }.into();
    }
    match Refusal::of(error) {
        Ok(refusal) if refusal.code.as_deref() == Some(OPTED_OUT) => {
            opted_out(recipient_field).into()
        }
        Ok(refusal) => refusal.rejected().into(),
        Err(error) => error.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_upstreams_own_opt_out_refusal_names_the_recipient() {
        let opted_out = crate::upstream::Error::BadRequest {
            code: Some(OPTED_OUT.to_owned()),
            message: Some("12125550100 has unsubscribed from messages".to_owned()),
        };
        let Failure::User(error) = send_refused(opted_out, "phone") else {
            panic!("a business failure");
        };
        assert_eq!(error.code, UserErrorCode::RecipientOptedOut);
        assert_eq!(error.field, Some(vec!["phone".to_owned()]));

        let other = crate::upstream::Error::BadRequest {
            code: Some("bad_data".to_owned()),
            message: Some("creator 7 is not a member of inbox 3001".to_owned()),
        };
        let Failure::User(error) = send_refused(other, "phone") else {
            panic!("a business failure");
        };
        assert_eq!(error.code, UserErrorCode::UpstreamRejected);
    }

    #[test]
    fn a_send_that_may_have_landed_is_outcome_unknown() {
        let lost = crate::upstream::Error::Transport {
            connect: false,
            reason: "connection reset".to_owned(),
        };
        for error in [
            lost,
            crate::upstream::Error::Timeout,
            crate::upstream::Error::Server { status: 500 },
        ] {
            assert!(matches!(
                send_refused(error, "phone"),
                Failure::Api(ApiError::OutcomeUnknown { keyed: false })
            ));
        }
        let never_sent = crate::upstream::Error::Transport {
            connect: true,
            reason: "connection refused".to_owned(),
        };
        assert!(matches!(
            send_refused(never_sent, "phone"),
            Failure::Api(ApiError::UpstreamUnavailable)
        ));
    }

    #[test]
    fn a_missing_message_is_a_reused_key_only_when_a_key_was_sent() {
        assert!(matches!(
            missing_from_history(9, true),
            Failure::User(UserError {
                code: UserErrorCode::IdempotencyKeyReused,
                ..
            })
        ));
        assert!(matches!(
            missing_from_history(9, false),
            Failure::Api(ApiError::UpstreamUnavailable)
        ));
    }
}
