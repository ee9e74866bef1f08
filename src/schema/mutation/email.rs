//! `sendEmail`: reply in an email thread, or start one from an email inbox, through
//! `POST /v1/email/send` (heymarket-api.md §7.2). Its inputs are checked before anything is
//! sent; the sending itself (idempotency, reading the message back) is shared with texts.

use async_graphql::{Context, ID, InputObject, Object};

use super::delivery::{Delivered, deliver, idempotency};
use super::message::idempotency_key;
use super::outgoing::{Outgoing, SendRequest};
use super::payload::message_payload;
use super::subject::{Subject, check_member};
use super::user_error::{Failure, UserError, UserErrorCode};
use crate::email_address;
use crate::error::ApiError;
use crate::schema::context::RequestContext;
use crate::schema::node::{GlobalId, NodeKind};
use crate::upstream::requests::{EmailRecipient, SendEmailRequest};

/// Most addresses (`to` and `cc` together) one email may go to. The upstream documents no
/// limit; this bound keeps a request's work small.
const MAX_RECIPIENTS: usize = 50;

/// Longest subject: the longest line RFC 5322 allows.
const MAX_SUBJECT_CHARS: usize = 998;

/// Input of `sendEmail`. Reply with `conversationId` alone, or start a thread with `inboxId`,
/// `to` and optionally `cc` and `subject`; any other combination is a `BAD_USER_INPUT`
/// error. The body is `html`, `text` or both.
#[derive(InputObject)]
pub(crate) struct SendEmailInput {
    /// Reply in this email conversation (its global `id`); the reply keeps the thread's
    /// subject and recipients.
    pub conversation_id: Option<ID>,
    /// Start a thread from this email inbox (its global `id`).
    pub inbox_id: Option<ID>,
    /// With `inboxId`: the addresses the email goes to, at least one. `to` and `cc` hold at
    /// most 50 addresses together.
    pub to: Option<Vec<String>>,
    /// With `inboxId`: the addresses copied.
    pub cc: Option<Vec<String>>,
    /// With `inboxId`: the thread's subject, which Heymarket keeps as the conversation's
    /// `title`. One line of at most 998 characters.
    pub subject: Option<String>,
    /// The body as HTML.
    pub html: Option<String>,
    /// The body as plain text; with `html`, the plain-text alternative for mail programs that
    /// show no HTML.
    pub text: Option<String>,
    /// Makes the mutation safe to retry, as in `sendMessage`.
    pub idempotency_key: Option<String>,
    /// Any string; echoed in the payload, so a client can match answers to requests.
    pub client_mutation_id: Option<String>,
}

message_payload!(
    SendEmailPayload,
    "The sent email; null when `userErrors` says why nothing was sent.",
    "Result of `sendEmail`."
);

/// Emails.
#[derive(Default)]
pub(crate) struct EmailMutations;

#[Object]
impl EmailMutations {
    /// Sends an email as the acting member, who must be a member of the sending inbox (else
    /// `NOT_AN_INBOX_MEMBER`). Heymarket's email endpoint takes no attachments. User errors:
    /// `EMPTY_MESSAGE`, `INVALID_EMAIL`, `UNSUPPORTED_CHANNEL` (a text inbox or conversation:
    /// use `sendMessage`), `IDEMPOTENCY_KEY_REUSED`, `UPSTREAM_REJECTED`; and the errors
    /// `OUTCOME_UNKNOWN` and `IDEMPOTENCY_KEY_IN_USE`, as for `sendMessage`.
    async fn send_email(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Where the email goes and what it says.")] input: SendEmailInput,
    ) -> Result<Option<SendEmailPayload>, ApiError> {
        let client_mutation_id = input.client_mutation_id.clone();
        let result = send(ctx, input).await;
        SendEmailPayload::settle(client_mutation_id, result)
    }
}

/// How `sendEmail` names its recipients.
enum Addressing {
    Reply {
        conversation: i64,
    },
    Start {
        inbox: i64,
        to: Vec<String>,
        cc: Vec<String>,
        subject: Option<String>,
    },
}

impl Addressing {
    fn of(input: &mut SendEmailInput) -> Result<Self, Failure> {
        let starting = input.to.is_some() || input.cc.is_some() || input.subject.is_some();
        match (&input.conversation_id, &input.inbox_id) {
            (Some(conversation), None) if !starting => Ok(Self::Reply {
                conversation: GlobalId::parse_as(conversation, NodeKind::Conversation)?,
            }),
            (None, Some(inbox)) => {
                let inbox = GlobalId::parse_as(inbox, NodeKind::Inbox)?;
                let to = addresses("to", input.to.take().unwrap_or_default())?;
                let cc = addresses("cc", input.cc.take().unwrap_or_default())?;
                if to.is_empty() {
                    return Err(UserError::on(
                        "to",
                        UserErrorCode::InvalidEmail,
                        "a new email needs at least one `to` address",
                    )
                    .into());
                }
                if to.len() + cc.len() > MAX_RECIPIENTS {
                    return Err(ApiError::bad_input(format!(
                        "an email goes to at most {MAX_RECIPIENTS} addresses (`to` and `cc`)"
                    ))
                    .into());
                }
                Ok(Self::Start {
                    inbox,
                    to,
                    cc,
                    subject: subject(input.subject.take())?,
                })
            }
            _ => Err(ApiError::bad_input(
                "reply with `conversationId` alone, or start a thread with `inboxId` and `to` \
                 (and optionally `cc` and `subject`)",
            )
            .into()),
        }
    }
}

async fn send(ctx: &Context<'_>, mut input: SendEmailInput) -> Result<Delivered, Failure> {
    let context = RequestContext::of(ctx)?;
    let sends = idempotency(ctx)?;
    let local_id = idempotency_key(input.idempotency_key.take())?;
    let addressing = Addressing::of(&mut input)?;
    let (text, raw_text) = body(input.html, input.text)?;
    let outgoing = match addressing {
        Addressing::Reply { conversation } => {
            let subject = Subject::load(context, conversation).await?;
            let target = subject.target()?.to_owned();
            let request = SendEmailRequest {
                inbox: subject.inbox.id,
                sender_id: subject.actor.id,
                recipient: EmailRecipient::Conversation(conversation),
                text,
                raw_text,
                subject: None,
                local_id,
            };
            Outgoing {
                inbox: subject.inbox,
                target,
                inbox_field: "conversationId",
                recipient_field: "conversationId",
                request: SendRequest::Email(request),
            }
        }
        Addressing::Start {
            inbox,
            to,
            cc,
            subject,
        } => {
            let (inbox, actor) =
                futures::try_join!(context.loaders.inbox(inbox), context.acting_member())?;
            let inbox =
                inbox.ok_or_else(|| ApiError::NotFound("no Inbox with this id".to_owned()))?;
            check_member(&inbox, &actor)?;
            let request = SendEmailRequest {
                inbox: inbox.id,
                sender_id: actor.id,
                recipient: EmailRecipient::new_thread(&to, &cc),
                text,
                raw_text,
                subject,
                local_id,
            };
            Outgoing {
                inbox,
                target: to.into_iter().next().unwrap_or_default(),
                inbox_field: "inboxId",
                recipient_field: "to",
                request: SendRequest::Email(request),
            }
        }
    };
    deliver(context, sends, outgoing).await
}

/// The addresses of `field`, trimmed and lowercased; any that is not a plain address is an
/// `INVALID_EMAIL` user error.
fn addresses(field: &str, raw: Vec<String>) -> Result<Vec<String>, UserError> {
    raw.into_iter()
        .map(|address| {
            let address = address.trim().to_lowercase();
            if email_address::is_plain(&address) {
                Ok(address)
            } else {
                Err(UserError::on(
                    field,
                    UserErrorCode::InvalidEmail,
                    format!("`{address}` is not an email address like name@example.com"),
                ))
            }
        })
        .collect()
}

/// The subject, trimmed; blank is none. One line: a line break in it could end the header.
fn subject(raw: Option<String>) -> Result<Option<String>, ApiError> {
    let Some(subject) = raw.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if subject.chars().any(char::is_control) {
        return Err(ApiError::bad_input("`subject` must be one line"));
    }
    if subject.chars().count() > MAX_SUBJECT_CHARS {
        return Err(ApiError::bad_input(format!(
            "`subject` has at most {MAX_SUBJECT_CHARS} characters"
        )));
    }
    Ok(Some(subject))
}

/// The upstream's `text` (the HTML body, or else the plain one) and `raw_text` (the plain
/// alternative of an HTML body); blank ones count as absent.
fn body(html: Option<String>, text: Option<String>) -> Result<(String, Option<String>), UserError> {
    let html = html.filter(|html| !html.trim().is_empty());
    let text = text.filter(|text| !text.trim().is_empty());
    match (html, text) {
        (Some(html), plain) => Ok((html, plain)),
        (None, Some(text)) => Ok((text, None)),
        (None, None) => Err(UserError::on(
            "html",
            UserErrorCode::EmptyMessage,
            "an email needs `html`, `text` or both",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_plain_and_lowercased() {
        assert_eq!(
            addresses(
                "to",
                vec![" Ada@Example.COM ".into(), "b.c+d@x.co.uk".into()]
            ),
            Ok(vec![
                "ada@example.com".to_owned(),
                "b.c+d@x.co.uk".to_owned()
            ])
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@x.com",
            "ada@x",
            "ada@x..com",
            "a,b@x.com",
            "a b@x.com",
            "Ada <ada@x.com>",
            "a@b@x.com",
            "ada@x.com\r\nBcc: eve@x.com",
        ] {
            let error = addresses("cc", vec![bad.into()]).unwrap_err();
            assert_eq!(error.code, UserErrorCode::InvalidEmail, "{bad:?}");
            assert_eq!(error.field, Some(vec!["cc".to_owned()]));
        }
        let long = format!("{}@x.com", "a".repeat(254));
        assert!(addresses("to", vec![long]).is_err());
    }

    #[test]
    fn a_subject_is_one_bounded_line() {
        assert_eq!(subject(None), Ok(None));
        assert_eq!(subject(Some("  ".into())), Ok(None));
        assert_eq!(subject(Some(" Hi ".into())), Ok(Some("Hi".to_owned())));
        for bad in ["a\r\nBcc: eve@x.com".to_owned(), "é".repeat(999)] {
            assert_eq!(subject(Some(bad)).unwrap_err().code(), "BAD_USER_INPUT");
        }
    }

    #[test]
    fn html_goes_with_its_plain_alternative() {
        let some = |s: &str| Some(s.to_owned());
        assert_eq!(
            body(some("<p>Hi</p>"), some("Hi")),
            Ok(("<p>Hi</p>".to_owned(), some("Hi")))
        );
        assert_eq!(body(None, some("Hi")), Ok(("Hi".to_owned(), None)));
        assert_eq!(body(some(" "), some("Hi")), Ok(("Hi".to_owned(), None)));
        let error = body(some(" "), None).unwrap_err();
        assert_eq!(error.code, UserErrorCode::EmptyMessage);
    }
}
