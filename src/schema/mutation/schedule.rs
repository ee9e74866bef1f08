//! `scheduleMessage`, `updateScheduledMessage` and `cancelScheduledMessage`: messages Heymarket
//! sends later (`/v1/schedule`, heymarket-api.md §7.6).
//!
//! Every input is checked before anything is written: the send time against Heymarket's rule
//! (a quarter hour at least 15 minutes ahead: `INVALID_SEND_TIME`), the content as for
//! `sendMessage`, and the acting member's membership of the sending inbox. The upstream answers
//! a write with no documented shape, so the scheduled message is read back after every write.
//! A scheduling with an idempotency key happens once per key, like a send; since no endpoint
//! lists scheduled messages, one whose outcome is unknown cannot be looked for, and its key
//! stays bound to that unknown outcome.

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{TimeDelta, Timelike, Utc};

use super::delivery::{idempotency, key_reused, refuse_opted_out};
use super::message::{Addressing, chosen_template, content, idempotency_key};
use super::subject::{Subject, check_member};
use super::user_error::{Failure, UserError, UserErrorCode, rejected, settle};
use crate::error::ApiError;
use crate::idempotency::{self, Claim, Outcome, Sent};
use crate::schema::context::{RequestContext, Written};
use crate::schema::node::{GlobalId, NodeKind};
use crate::schema::scalars::DateTime;
use crate::schema::types::ScheduledMessage;
use crate::upstream::models::{Inbox, Scheduled, TeamMember};
use crate::upstream::requests::{
    ScheduleAttachment, ScheduleContent, ScheduleRequest, ScheduleTarget,
};

/// The shortest time ahead a message may be scheduled for (heymarket-api.md §7.6).
const MIN_LEAD: TimeDelta = TimeDelta::minutes(15);

/// Input of `scheduleMessage`. Address it like `sendMessage`: `conversationId`, or `inboxId`
/// and `phone`.
#[derive(InputObject)]
pub(crate) struct ScheduleMessageInput {
    /// Send in this conversation (its global `id`).
    pub conversation_id: Option<ID>,
    /// Send from this inbox (its global `id`) to `phone`.
    pub inbox_id: Option<ID>,
    /// The customer's number with `inboxId`, in any common format.
    pub phone: Option<String>,
    /// When to send it: a quarter hour (:00, :15, :30 or :45, no seconds) at least 15
    /// minutes ahead; anything else is the user error `INVALID_SEND_TIME`.
    pub send_at: DateTime,
    /// The text. A message needs `text`, `mediaUrl` or both, or else `templateId`.
    pub text: Option<String>,
    /// Public `http(s)` URL of a picture or file to attach.
    pub media_url: Option<String>,
    /// Send this template (its global `id`) instead of `text` and `mediaUrl`.
    pub template_id: Option<ID>,
    /// Makes the mutation safe to retry, as in `sendMessage`: the same key again answers the
    /// first scheduling's message and schedules nothing.
    pub idempotency_key: Option<String>,
    /// Any string; echoed in the payload, so a client can match answers to requests.
    pub client_mutation_id: Option<String>,
}

/// Input of `updateScheduledMessage`: what is given replaces what was scheduled; what is left
/// out stays. New content replaces the old content as a whole.
#[derive(InputObject)]
pub(crate) struct UpdateScheduledMessageInput {
    /// The scheduled message's global `id`.
    pub id: ID,
    /// A new send time, by the same rule as `scheduleMessage`'s.
    pub send_at: Option<DateTime>,
    /// New text.
    pub text: Option<String>,
    /// A new attachment.
    pub media_url: Option<String>,
    /// A template to send instead (not together with `text` or `mediaUrl`).
    pub template_id: Option<ID>,
    /// Any string; echoed in the payload, so a client can match answers to requests.
    pub client_mutation_id: Option<String>,
}

/// Input of `cancelScheduledMessage`.
#[derive(InputObject)]
pub(crate) struct CancelScheduledMessageInput {
    /// The scheduled message's global `id`.
    pub id: ID,
    /// Any string; echoed in the payload, so a client can match answers to requests.
    pub client_mutation_id: Option<String>,
}

/// Result of `scheduleMessage` and `updateScheduledMessage`.
#[derive(SimpleObject)]
pub(crate) struct ScheduledMessagePayload {
    /// The scheduled message as Heymarket has it after the change; null when `userErrors`
    /// says why nothing changed.
    pub scheduled_message: Option<ScheduledMessage>,
    /// Why nothing changed; empty on success.
    pub user_errors: Vec<UserError>,
    /// The input's `clientMutationId`, echoed.
    pub client_mutation_id: Option<String>,
}

/// Result of `cancelScheduledMessage`.
#[derive(SimpleObject)]
pub(crate) struct CancelScheduledMessagePayload {
    /// The id of the cancelled scheduled message; null when `userErrors` says why nothing
    /// changed.
    pub cancelled_id: Option<ID>,
    /// Why nothing changed; empty on success.
    pub user_errors: Vec<UserError>,
    /// The input's `clientMutationId`, echoed.
    pub client_mutation_id: Option<String>,
}

impl ScheduledMessagePayload {
    fn settle(
        client_mutation_id: Option<String>,
        result: Result<ScheduledMessage, Failure>,
    ) -> Result<Option<Self>, ApiError> {
        let (scheduled_message, user_errors) = settle(result)?;
        Ok(Some(Self {
            scheduled_message,
            user_errors,
            client_mutation_id,
        }))
    }
}

/// Scheduled messages.
#[derive(Default)]
pub(crate) struct ScheduleMutations;

#[Object]
impl ScheduleMutations {
    /// Schedules a text message to go out later, as the acting member, who must be a member
    /// of the sending inbox (else `NOT_AN_INBOX_MEMBER`). Other user errors:
    /// `INVALID_SEND_TIME`, `EMPTY_MESSAGE`, `INVALID_PHONE`, `INVALID_MEDIA_URL`,
    /// `UNSUPPORTED_CHANNEL` (an email inbox), `RECIPIENT_OPTED_OUT` (checked before the
    /// write; Heymarket checks again when it goes out), `IDEMPOTENCY_KEY_REUSED`,
    /// `UPSTREAM_REJECTED`. A scheduling that may have landed without an answer is the error `OUTCOME_UNKNOWN`.
    async fn schedule_message(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Where, when and what.")] input: ScheduleMessageInput,
    ) -> Result<Option<ScheduledMessagePayload>, ApiError> {
        let client_mutation_id = input.client_mutation_id.clone();
        let result = schedule(ctx, input).await;
        ScheduledMessagePayload::settle(client_mutation_id, result)
    }

    /// Changes a scheduled message's send time or content before it goes out. The acting
    /// member must be a member of its inbox (else `NOT_AN_INBOX_MEMBER`). Other user errors:
    /// `INVALID_SEND_TIME`, `ALREADY_SENT`, `EMPTY_MESSAGE`, `INVALID_MEDIA_URL`,
    /// `UPSTREAM_REJECTED`. One Heymarket no longer has is a `NOT_FOUND` error.
    async fn update_scheduled_message(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The scheduled message and what changes.")]
        input: UpdateScheduledMessageInput,
    ) -> Result<Option<ScheduledMessagePayload>, ApiError> {
        let client_mutation_id = input.client_mutation_id.clone();
        let result = update(ctx, input).await;
        ScheduledMessagePayload::settle(client_mutation_id, result)
    }

    /// Cancels a scheduled message before it goes out. The acting member must be a member of
    /// its inbox (else `NOT_AN_INBOX_MEMBER`). Other user errors: `ALREADY_SENT`,
    /// `UPSTREAM_REJECTED`. One Heymarket no longer has is a `NOT_FOUND` error.
    async fn cancel_scheduled_message(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The scheduled message.")] input: CancelScheduledMessageInput,
    ) -> Result<Option<CancelScheduledMessagePayload>, ApiError> {
        let (cancelled, user_errors) = settle(cancel(ctx, &input.id).await)?;
        Ok(Some(CancelScheduledMessagePayload {
            cancelled_id: cancelled.map(|()| input.id),
            user_errors,
            client_mutation_id: input.client_mutation_id,
        }))
    }
}

async fn schedule(
    ctx: &Context<'_>,
    mut input: ScheduleMessageInput,
) -> Result<ScheduledMessage, Failure> {
    let context = RequestContext::of(ctx)?;
    let sends = idempotency(ctx)?;
    check_send_time(input.send_at.0)?;
    let idempotency_key = idempotency_key(input.idempotency_key.take())?;
    let addressing =
        Addressing::from_fields(&input.conversation_id, &input.inbox_id, &input.phone)?;
    let content = scheduled_content(
        context,
        input.template_id.take(),
        input.text.take(),
        input.media_url.take(),
    )
    .await?;
    let (inbox, sender, target, recipient) = match addressing {
        Addressing::Reply { conversation } => {
            let subject = Subject::load(context, conversation).await?;
            let target = subject.target()?.to_owned();
            (
                subject.inbox,
                subject.actor,
                ScheduleTarget::Conversation(conversation),
                target,
            )
        }
        Addressing::Start { inbox, phone } => {
            let (inbox, actor) =
                futures::try_join!(context.loaders.inbox(inbox), context.acting_member())?;
            let inbox =
                inbox.ok_or_else(|| ApiError::NotFound("no Inbox with this id".to_owned()))?;
            check_member(&inbox, &actor)?;
            (inbox, actor, ScheduleTarget::Phone(phone.clone()), phone)
        }
    };
    check_sends_texts(&inbox)?;
    let request = ScheduleRequest {
        inbox_id: inbox.id,
        execute_at: input.send_at.0,
        content,
        target,
        sender_id: sender.id,
        local_id: idempotency_key.clone(),
    };
    // A repeated key is remembered again too: the key may outlive this process's memory.
    let recipient_field = match &request.target {
        ScheduleTarget::Conversation(_) => "conversationId",
        ScheduleTarget::Phone(_) => "phone",
    };
    let customer = Customer {
        phone: &recipient,
        field: recipient_field,
    };
    let id = match &idempotency_key {
        None => {
            refuse_opted_out(context, customer.phone, customer.field).await?;
            create(context, &request).await?
        }
        Some(key) => create_once(context, sends, key, &request, customer).await?,
    };
    context
        .loaders
        .remember_scheduled(inbox.id, &recipient, id, sender.id)
        .await;
    read_back(context, id).await
}

/// `request` scheduled at most once per `key`, whatever the upstream does with a repeated
/// `local_id`: the id of the one scheduled message of the key.
/// The customer a scheduled text goes to, and the input field that named them.
#[derive(Clone, Copy)]
struct Customer<'a> {
    phone: &'a str,
    field: &'static str,
}

async fn create_once(
    context: &RequestContext,
    sends: &crate::idempotency::Idempotency,
    key: &str,
    request: &ScheduleRequest,
    customer: Customer<'_>,
) -> Result<i64, Failure> {
    let key = idempotency::SendKey::new(context.upstream().tenant_key(), key);
    let input = idempotency::fingerprint(&ScheduleRequest {
        local_id: None,
        ..request.clone()
    });
    match sends.claim(&key, &input).await {
        Claim::Mine(mut guard) => {
            if let Err(refusal) = refuse_opted_out(context, customer.phone, customer.field).await {
                guard.release().await;
                return Err(refusal);
            }
            guard.sending();
            match context.upstream().create_schedule(request).await {
                Ok(answer) => {
                    guard
                        .sent(Sent {
                            message_id: answer.id,
                            date: None,
                            conversation_id: None,
                        })
                        .await;
                    Ok(answer.id)
                }
                Err(error) if error.outcome_unknown() => {
                    tracing::warn!(%error, "a keyed scheduling may have landed unanswered");
                    guard.unknown().await;
                    Err(ApiError::OutcomeUnknown { keyed: true }.into())
                }
                Err(error) => {
                    guard.release().await;
                    Err(rejected(error))
                }
            }
        }
        Claim::Earlier(record) if record.input != input => Err(key_reused().into()),
        Claim::Earlier(record) => match record.outcome {
            Outcome::Sent(sent) => Ok(sent.message_id),
            Outcome::Unknown | Outcome::Sending { .. } => {
                Err(ApiError::OutcomeUnknown { keyed: true }.into())
            }
        },
        Claim::InFlight => Err(ApiError::IdempotencyKeyInUse.into()),
    }
}

/// `POST /v1/schedule` without a key: one whose outcome is unknown is not sent again.
async fn create(context: &RequestContext, request: &ScheduleRequest) -> Result<i64, Failure> {
    match context.upstream().create_schedule(request).await {
        Ok(answer) => Ok(answer.id),
        Err(error) if error.outcome_unknown() => {
            tracing::warn!(%error, "a scheduling without an idempotency key may have landed unanswered");
            Err(ApiError::OutcomeUnknown { keyed: false }.into())
        }
        Err(error) => Err(rejected(error)),
    }
}

async fn update(
    ctx: &Context<'_>,
    input: UpdateScheduledMessageInput,
) -> Result<ScheduledMessage, Failure> {
    let context = RequestContext::of(ctx)?;
    let id = GlobalId::parse_as(&input.id, NodeKind::ScheduledMessage)?;
    if let Some(send_at) = &input.send_at {
        check_send_time(send_at.0)?;
    }
    let new_content =
        input.text.is_some() || input.media_url.is_some() || input.template_id.is_some();
    let content = if new_content {
        Some(scheduled_content(context, input.template_id, input.text, input.media_url).await?)
    } else {
        None
    };
    let (scheduled, _, actor) = changeable(context, id).await?;
    let target = match (scheduled.conversation_id(), scheduled.phone()) {
        (Some(conversation), _) => ScheduleTarget::Conversation(conversation),
        (None, Some(phone)) => ScheduleTarget::Phone(phone.to_owned()),
        (None, None) => {
            tracing::warn!(
                scheduled = id,
                "upstream scheduled message without a target"
            );
            return Err(ApiError::UpstreamUnavailable.into());
        }
    };
    let loaders = &context.loaders;
    let request = ScheduleRequest {
        inbox_id: scheduled.inbox_id.ok_or(ApiError::UpstreamUnavailable)?,
        execute_at: match (&input.send_at, scheduled.execute) {
            (Some(send_at), _) => send_at.0,
            (None, Some(execute)) => execute,
            (None, None) => return Err(ApiError::UpstreamUnavailable.into()),
        },
        content: content.unwrap_or_else(|| ScheduleContent {
            text: scheduled.text().map(str::to_owned),
            template: scheduled.template(),
            attachments: attachments(scheduled.attachment_urls()),
        }),
        target,
        sender_id: loaders.scheduled_sender(id).await.unwrap_or(actor.id),
        local_id: scheduled.local_id.clone(),
    };
    let written = context.upstream().update_schedule(id, &request).await;
    loaders.forget_scheduled(id).await;
    context.tell_replicas(Written::Schedule).await;
    written.map_err(rejected)?;
    read_back(context, id).await
}

async fn cancel(ctx: &Context<'_>, id: &ID) -> Result<(), Failure> {
    let context = RequestContext::of(ctx)?;
    let id = GlobalId::parse_as(id, NodeKind::ScheduledMessage)?;
    let (scheduled, inbox, _) = changeable(context, id).await?;
    let deleted = context.upstream().delete_schedule(id).await;
    let loaders = &context.loaders;
    loaders.forget_scheduled(id).await;
    context.tell_replicas(Written::Schedule).await;
    deleted.map_err(rejected)?;
    if let Some(target) = conversation_target(context, &scheduled).await? {
        loaders.forget_remembered(inbox.id, &target, id).await;
    }
    Ok(())
}

/// Scheduled message `id` as the upstream has it now, its inbox and the acting member, when
/// the member may change it: a member of its inbox (else `NOT_AN_INBOX_MEMBER`), before its
/// send time (else `ALREADY_SENT`). `NOT_FOUND` when the upstream no longer has it.
async fn changeable(
    context: &RequestContext,
    id: i64,
) -> Result<(Arc<Scheduled>, Inbox, TeamMember), Failure> {
    let loaders = &context.loaders;
    loaders.forget_scheduled(id).await;
    let (scheduled, actor, inboxes) = futures::try_join!(
        loaders.scheduled(id),
        context.acting_member(),
        loaders.inboxes()
    )?;
    let scheduled =
        scheduled.ok_or_else(|| ApiError::NotFound(format!("no scheduled message {id}")))?;
    let inbox = scheduled
        .inbox_id
        .and_then(|inbox| inboxes.iter().find(|known| known.id == inbox))
        .cloned()
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "the inbox of scheduled message {id} is not visible to this credential"
            ))
        })?;
    check_member(&inbox, &actor)?;
    if ScheduledMessage(Arc::clone(&scheduled)).is_due() {
        return Err(UserError::general(
            UserErrorCode::AlreadySent,
            format!("scheduled message {id} was due to go out already; it can no longer change"),
        )
        .into());
    }
    Ok((scheduled, inbox, actor))
}

/// The customer's number a scheduled message goes to, which keys the gateway's memory of it.
async fn conversation_target(
    context: &RequestContext,
    scheduled: &Scheduled,
) -> Result<Option<String>, ApiError> {
    if let Some(phone) = scheduled.phone() {
        return Ok(Some(phone.to_owned()));
    }
    let Some(conversation) = scheduled.conversation_id() else {
        return Ok(None);
    };
    let conversation = context.loaders.conversation(conversation).await?;
    Ok(conversation.and_then(|conversation| conversation.target.clone()))
}

/// The scheduled message after a write, read past the cache.
async fn read_back(context: &RequestContext, id: i64) -> Result<ScheduledMessage, Failure> {
    context.loaders.forget_scheduled(id).await;
    let scheduled = context.loaders.scheduled(id).await?.ok_or_else(|| {
        tracing::warn!(
            scheduled = id,
            "scheduled message missing right after the write"
        );
        ApiError::UpstreamUnavailable
    })?;
    Ok(ScheduledMessage(scheduled))
}

/// What a scheduled message says: a template (alone), or text and an attachment, checked as
/// for `sendMessage`.
async fn scheduled_content(
    context: &RequestContext,
    template_id: Option<ID>,
    text: Option<String>,
    media_url: Option<String>,
) -> Result<ScheduleContent, Failure> {
    if let Some(id) = template_id {
        let other_content = text.is_some() || media_url.is_some();
        let template = chosen_template(context, &id, other_content).await?;
        return Ok(ScheduleContent {
            text: None,
            template: Some(template),
            attachments: Vec::new(),
        });
    }
    let (text, media_url) = content(text, media_url)?;
    Ok(ScheduleContent {
        text,
        template: None,
        attachments: attachments(media_url.as_deref().into_iter().collect()),
    })
}

fn attachments(urls: Vec<&str>) -> Vec<ScheduleAttachment> {
    urls.into_iter()
        .map(|url| ScheduleAttachment {
            url: url.to_owned(),
        })
        .collect()
}

fn check_sends_texts(inbox: &Inbox) -> Result<(), UserError> {
    if inbox.sends_texts() {
        return Ok(());
    }
    Err(UserError::on(
        "inboxId",
        UserErrorCode::UnsupportedChannel,
        format!(
            "inbox {} does not send text messages (email is not supported)",
            inbox.id
        ),
    ))
}

/// Heymarket's rule for a send time: a quarter hour, at least 15 minutes ahead.
fn check_send_time(at: chrono::DateTime<Utc>) -> Result<(), UserError> {
    send_time_problem(at, Utc::now()).map_or(Ok(()), |problem| {
        Err(UserError::on(
            "sendAt",
            UserErrorCode::InvalidSendTime,
            problem,
        ))
    })
}

fn send_time_problem(at: chrono::DateTime<Utc>, now: chrono::DateTime<Utc>) -> Option<String> {
    if at.minute() % 15 != 0 || at.second() != 0 || at.nanosecond() != 0 {
        return Some(
            "`sendAt` must be a quarter hour (:00, :15, :30 or :45, no seconds)".to_owned(),
        );
    }
    if at < now + MIN_LEAD {
        return Some(format!(
            "`sendAt` must be at least {} minutes ahead",
            MIN_LEAD.num_minutes()
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn a_send_time_is_a_quarter_hour_at_least_fifteen_minutes_ahead() {
        let now = Utc.with_ymd_and_hms(2026, 5, 1, 12, 7, 30).unwrap();
        let at = |h, m, s| Utc.with_ymd_and_hms(2026, 5, 1, h, m, s).unwrap();
        assert_eq!(send_time_problem(at(12, 30, 0), now), None);
        assert_eq!(send_time_problem(at(13, 45, 0), now), None);
        for (too_soon_or_past, why) in [(at(12, 15, 0), "ahead"), (at(11, 0, 0), "ahead")] {
            assert!(
                send_time_problem(too_soon_or_past, now)
                    .unwrap()
                    .contains(why)
            );
        }
        for off_grid in [
            at(12, 40, 0),
            at(13, 0, 1),
            at(13, 0, 0) + TimeDelta::milliseconds(5),
        ] {
            assert!(
                send_time_problem(off_grid, now)
                    .unwrap()
                    .contains("quarter hour")
            );
        }
    }
}
