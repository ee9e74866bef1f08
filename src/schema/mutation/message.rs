//! `sendMessage` (reply in a conversation, or start one by inbox and phone) and
//! `addPrivateNote`: their inputs, checked before anything is sent.

use async_graphql::{Context, ID, InputObject, Object};

use super::delivery::{Delivered, deliver, idempotency};
use super::outgoing::{Outgoing, SendRequest};
use super::payload::message_payload;
use super::subject::{Subject, check_member};
use super::user_error::{Failure, UserError, UserErrorCode};
use crate::error::ApiError;
use crate::phone;
use crate::schema::access;
use crate::schema::context::RequestContext;
use crate::schema::node::{GlobalId, NodeKind};
use crate::upstream::requests::{Recipient, SendMessageRequest};

/// Longest `idempotencyKey` accepted. The upstream documents no limit for `local_id`; this
/// bound only keeps keys sane.
const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;

/// Input of `sendMessage`. Address it with either `conversationId`, or `inboxId` and `phone`;
/// any other combination is a `BAD_USER_INPUT` error.
#[derive(InputObject)]
pub(crate) struct SendMessageInput {
    /// Reply in this conversation (its global `id`).
    pub conversation_id: Option<ID>,
    /// Send from this inbox (its global `id`) to `phone`: starts a conversation, or continues
    /// the one the inbox already has with that number.
    pub inbox_id: Option<ID>,
    /// The customer's number with `inboxId`, in any common format, e.g. `+1 (415) 555-0100`.
    pub phone: Option<String>,
    /// The text. A message needs `text`, `mediaUrl` or both, or else `templateId`.
    pub text: Option<String>,
    /// Public `http(s)` URL of a picture or file to attach; makes the message an MMS.
    pub media_url: Option<String>,
    /// Send this template (its global `id`) instead of `text` and `mediaUrl`: Heymarket fills
    /// in its merge fields for the customer. Not together with `text` or `mediaUrl` (a
    /// `BAD_USER_INPUT` error); another member's own template is `FORBIDDEN`.
    pub template_id: Option<ID>,
    /// Makes the mutation safe to retry: sending again with the same key, while the gateway
    /// remembers it (24 hours by default), sends nothing and answers the first send's message;
    /// the same key with other input is `IDEMPOTENCY_KEY_REUSED`. Use a new key (e.g. a UUID)
    /// for every new message; 1 to 255 characters.
    pub idempotency_key: Option<String>,
    /// Any string; echoed in the payload, so a client can match answers to requests.
    pub client_mutation_id: Option<String>,
}

/// Input of `addPrivateNote`.
#[derive(InputObject)]
pub(crate) struct AddPrivateNoteInput {
    /// The conversation's global `id`.
    pub conversation_id: ID,
    /// The note.
    pub text: String,
    /// Makes the mutation safe to retry, as in `sendMessage`.
    pub idempotency_key: Option<String>,
    /// Any string; echoed in the payload, so a client can match answers to requests.
    pub client_mutation_id: Option<String>,
}

message_payload!(
    SendMessagePayload,
    "The sent message; null when `userErrors` says why nothing was sent.",
    "Result of `sendMessage`."
);
message_payload!(
    AddPrivateNotePayload,
    "The note (direction `NOTE`); null when `userErrors` says why nothing was added.",
    "Result of `addPrivateNote`."
);

/// Messages and notes.
#[derive(Default)]
pub(crate) struct MessageMutations;

#[Object]
impl MessageMutations {
    /// Sends a text message (SMS, or MMS with media) as the acting member, who must be a
    /// member of the sending inbox (else `NOT_AN_INBOX_MEMBER`). Other user errors:
    /// `EMPTY_MESSAGE`, `INVALID_PHONE`, `INVALID_MEDIA_URL`, `RECIPIENT_OPTED_OUT` (checked
    /// before sending), `UNSUPPORTED_CHANNEL` (an email inbox: use `sendEmail`), `IDEMPOTENCY_KEY_REUSED`,
    /// `UPSTREAM_REJECTED`. A send that may have landed without an answer is the error
    /// `OUTCOME_UNKNOWN`; one whose key another request is still sending with,
    /// `IDEMPOTENCY_KEY_IN_USE`.
    async fn send_message(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Where the message goes and what it says.")] input: SendMessageInput,
    ) -> Result<Option<SendMessagePayload>, ApiError> {
        let client_mutation_id = input.client_mutation_id.clone();
        let result = send(ctx, input).await;
        SendMessagePayload::settle(client_mutation_id, result)
    }

    /// Adds a note to a conversation that only the team sees; the customer never gets it (so
    /// notes work where the customer opted out). The acting member must be a member of the
    /// conversation's inbox (else `NOT_AN_INBOX_MEMBER`). Other user errors: `EMPTY_MESSAGE`,
    /// `UNSUPPORTED_CHANNEL` (an email conversation), `IDEMPOTENCY_KEY_REUSED`,
    /// `UPSTREAM_REJECTED`; and the errors `OUTCOME_UNKNOWN` and `IDEMPOTENCY_KEY_IN_USE`, as
    /// for `sendMessage`.
    async fn add_private_note(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The conversation and the note.")] input: AddPrivateNoteInput,
    ) -> Result<Option<AddPrivateNotePayload>, ApiError> {
        let client_mutation_id = input.client_mutation_id.clone();
        let result = note(ctx, input).await;
        AddPrivateNotePayload::settle(client_mutation_id, result)
    }
}

/// How `sendMessage` and `scheduleMessage` name the recipient.
pub(super) enum Addressing {
    Reply { conversation: i64 },
    Start { inbox: i64, phone: String },
}

impl Addressing {
    fn of(input: &SendMessageInput) -> Result<Self, Failure> {
        Self::from_fields(&input.conversation_id, &input.inbox_id, &input.phone)
    }

    /// The addressing of an input with `conversationId`, `inboxId` and `phone` fields.
    pub(super) fn from_fields(
        conversation_id: &Option<ID>,
        inbox_id: &Option<ID>,
        phone: &Option<String>,
    ) -> Result<Self, Failure> {
        match (conversation_id, inbox_id, phone) {
            (Some(conversation), None, None) => Ok(Self::Reply {
                conversation: GlobalId::parse_as(conversation, NodeKind::Conversation)?,
            }),
            (None, Some(inbox), Some(raw)) => {
                let inbox = GlobalId::parse_as(inbox, NodeKind::Inbox)?;
                let phone = phone::normalize(raw).ok_or_else(|| {
                    UserError::on(
                        "phone",
                        UserErrorCode::InvalidPhone,
                        "a phone number needs 10 (US) or 11 to 15 digits, e.g. +1 415 555 0100",
                    )
                })?;
                Ok(Self::Start { inbox, phone })
            }
            _ => Err(ApiError::bad_input(
                "address the message with either `conversationId`, or `inboxId` and `phone`",
            )
            .into()),
        }
    }
}

async fn send(ctx: &Context<'_>, mut input: SendMessageInput) -> Result<Delivered, Failure> {
    let context = RequestContext::of(ctx)?;
    let sends = idempotency(ctx)?;
    let idempotency_key = idempotency_key(input.idempotency_key.take())?;
    let addressing = Addressing::of(&input)?;
    let template = match input.template_id.take() {
        Some(id) => {
            let other_content = input.text.is_some() || input.media_url.is_some();
            Some(chosen_template(context, &id, other_content).await?)
        }
        None => None,
    };
    let (text, media_url) = match template {
        Some(_) => (None, None),
        None => content(input.text, input.media_url)?,
    };
    let (inbox, sender, recipient, target) = match addressing {
        Addressing::Reply { conversation } => {
            let subject = Subject::load(context, conversation).await?;
            let target = subject.target()?.to_owned();
            let recipient = Recipient::Conversation(conversation);
            (subject.inbox, subject.actor, recipient, target)
        }
        Addressing::Start { inbox, phone } => {
            let (inbox, actor) =
                futures::try_join!(context.loaders.inbox(inbox), context.acting_member())?;
            let inbox =
                inbox.ok_or_else(|| ApiError::NotFound("no Inbox with this id".to_owned()))?;
            check_member(&inbox, &actor)?;
            (inbox, actor, Recipient::Phone(phone.clone()), phone)
        }
    };
    let (inbox_field, recipient_field) = match &recipient {
        Recipient::Conversation(_) => ("conversationId", "conversationId"),
        Recipient::Phone(_) => ("inboxId", "phone"),
    };
    let request = SendMessageRequest {
        inbox_id: inbox.id,
        sender_id: sender.id,
        recipient,
        text,
        media_url,
        template_id: template,
        private: false,
        local_id: idempotency_key,
    };
    let outgoing = Outgoing {
        inbox,
        target,
        inbox_field,
        recipient_field,
        request: SendRequest::Text(request),
    };
    deliver(context, sends, outgoing).await
}

/// The template a send names: it must be the only content (`other_content` says whether the
/// input has text or media too), exist, and be the acting member's to use. Answers its
/// database id.
pub(super) async fn chosen_template(
    context: &RequestContext,
    id: &ID,
    other_content: bool,
) -> Result<i64, ApiError> {
    if other_content {
        return Err(ApiError::bad_input(
            "send `templateId`, or `text` and `mediaUrl`, not both",
        ));
    }
    let id = GlobalId::parse_as(id, NodeKind::Template)?;
    access::template(context, id)
        .await?
        .map(|template| template.id)
        .ok_or_else(|| ApiError::NotFound(format!("no template {id}")))
}

async fn note(ctx: &Context<'_>, input: AddPrivateNoteInput) -> Result<Delivered, Failure> {
    let context = RequestContext::of(ctx)?;
    let sends = idempotency(ctx)?;
    let conversation = GlobalId::parse_as(&input.conversation_id, NodeKind::Conversation)?;
    let idempotency_key = idempotency_key(input.idempotency_key)?;
    let (text, _) = content(Some(input.text), None)?;
    let subject = Subject::load(context, conversation).await?;
    let request = SendMessageRequest {
        inbox_id: subject.inbox.id,
        sender_id: subject.actor.id,
        recipient: Recipient::Conversation(conversation),
        text,
        media_url: None,
        template_id: None,
        private: true,
        local_id: idempotency_key,
    };
    let outgoing = Outgoing {
        target: subject.target()?.to_owned(),
        inbox: subject.inbox,
        inbox_field: "conversationId",
        recipient_field: "conversationId",
        request: SendRequest::Text(request),
    };
    deliver(context, sends, outgoing).await
}

/// A key outside 1 to 255 characters is a client bug, not something to show a user.
pub(super) fn idempotency_key(key: Option<String>) -> Result<Option<String>, ApiError> {
    match key {
        Some(key) if key.is_empty() || key.chars().count() > MAX_IDEMPOTENCY_KEY_CHARS => {
            Err(ApiError::bad_input(format!(
                "`idempotencyKey` must have 1 to {MAX_IDEMPOTENCY_KEY_CHARS} characters"
            )))
        }
        key => Ok(key),
    }
}

/// The message's text and media, sent as given; blank ones count as absent.
pub(super) fn content(
    text: Option<String>,
    media_url: Option<String>,
) -> Result<(Option<String>, Option<String>), UserError> {
    let text = text.filter(|text| !text.trim().is_empty());
    let media_url = media_url
        .map(|url| url.trim().to_owned())
        .filter(|url| !url.is_empty());
    if let Some(url) = &media_url
        && !is_web_url(url)
    {
        return Err(UserError::on(
            "mediaUrl",
            UserErrorCode::InvalidMediaUrl,
            "`mediaUrl` must be an absolute http(s) URL the Heymarket API can fetch",
        ));
    }
    if text.is_none() && media_url.is_none() {
        return Err(UserError::on(
            "text",
            UserErrorCode::EmptyMessage,
            "a message needs text, a media URL, or both",
        ));
    }
    Ok((text, media_url))
}

fn is_web_url(raw: &str) -> bool {
    url::Url::parse(raw).is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.has_host())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn some(text: &str) -> Option<String> {
        Some(text.to_owned())
    }

    #[test]
    fn a_message_needs_text_or_a_web_url() {
        assert_eq!(content(some("hi"), None), Ok((some("hi"), None)));
        assert_eq!(
            content(some("  "), some(" https://example.com/a.png ")),
            Ok((None, some("https://example.com/a.png")))
        );
        for (text, media) in [(None, None), (some(" \n"), some(""))] {
            let error = content(text, media).unwrap_err();
            assert_eq!(error.code, UserErrorCode::EmptyMessage);
            assert_eq!(error.field, Some(vec!["text".to_owned()]));
        }
        for bad in [
            "ftp://example.com/a.png",
            "example.com/a.png",
            "https://",
            "x",
        ] {
            let error = content(some("hi"), some(bad)).unwrap_err();
            assert_eq!(error.code, UserErrorCode::InvalidMediaUrl, "{bad}");
        }
    }

    #[test]
    fn idempotency_keys_are_bounded() {
        assert_eq!(idempotency_key(None), Ok(None));
        assert_eq!(idempotency_key(some("k-1")), Ok(some("k-1")));
        assert_eq!(
            idempotency_key(Some("é".repeat(255))),
            Ok(Some("é".repeat(255)))
        );
        for bad in [String::new(), "k".repeat(256)] {
            assert_eq!(
                idempotency_key(Some(bad)).unwrap_err().code(),
                "BAD_USER_INPUT"
            );
        }
    }
}
