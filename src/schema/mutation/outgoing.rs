//! A message ready to go, as a text (`POST /v1/message/send`) or an email
//! (`POST /v1/email/send`), and what sending it safely needs to know of it: the inbox's
//! channel, whether the customer's opt-out applies, the idempotency key it carries, and how
//! to recognise it in the conversation's history.

use serde::Serialize;

use super::user_error::{UserError, UserErrorCode};
use crate::upstream::models::{self, Inbox};
use crate::upstream::requests::{EmailRecipient, Recipient, SendEmailRequest, SendMessageRequest};

/// What goes upstream. Serialised for the idempotency fingerprint: a text's is its request's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub(super) enum SendRequest {
    Text(SendMessageRequest),
    Email(SendEmailRequest),
}

/// A message ready to go.
pub(super) struct Outgoing {
    /// The inbox it is sent from.
    pub inbox: Inbox,
    /// The customer's number or address, which finds the conversation's history afterwards
    /// (for a new email thread, its first `to` address, until the answer names the thread).
    pub target: String,
    /// The input fields that named the sending inbox and the recipient, for user errors
    /// about them.
    pub inbox_field: &'static str,
    pub recipient_field: &'static str,
    /// The upstream request, whose `local_id` is the idempotency key.
    pub request: SendRequest,
}

impl Outgoing {
    /// Sends at most once per key (and goes upstream as `local_id`, which the message carries).
    pub(super) fn idempotency_key(&self) -> Option<&str> {
        match &self.request {
            SendRequest::Text(request) => request.local_id.as_deref(),
            SendRequest::Email(request) => request.local_id.as_deref(),
        }
    }

    /// The request without its key: what a repeated key must match.
    pub(super) fn without_key(&self) -> SendRequest {
        match &self.request {
            SendRequest::Text(request) => SendRequest::Text(SendMessageRequest {
                local_id: None,
                ..request.clone()
            }),
            SendRequest::Email(request) => SendRequest::Email(SendEmailRequest {
                local_id: None,
                ..request.clone()
            }),
        }
    }

    /// The conversation the message goes to, when the input named it.
    pub(super) fn conversation(&self) -> Option<i64> {
        match &self.request {
            SendRequest::Text(SendMessageRequest {
                recipient: Recipient::Conversation(id),
                ..
            })
            | SendRequest::Email(SendEmailRequest {
                recipient: EmailRecipient::Conversation(id),
                ..
            }) => Some(*id),
            _ => None,
        }
    }

    /// Whether the message is a new email thread, whose conversation (and the target that
    /// addresses its history) only the upstream's answer names.
    pub(super) fn starts_email_thread(&self) -> bool {
        matches!(
            &self.request,
            SendRequest::Email(SendEmailRequest {
                recipient: EmailRecipient::New(_),
                ..
            })
        )
    }

    /// Whether a customer's opt-out stops it: texts to the customer. Notes reach only the
    /// team, and opt-outs are of text messages.
    pub(super) fn needs_opt_in(&self) -> bool {
        matches!(&self.request, SendRequest::Text(request) if !request.private)
    }

    /// Why the inbox cannot send it: texts go from inboxes with phone numbers, emails from
    /// the others.
    pub(super) fn channel_refusal(&self) -> Option<UserError> {
        let texts = self.inbox.sends_texts();
        let reason = match &self.request {
            SendRequest::Text(_) if !texts => "sends email, not text messages: use sendEmail",
            SendRequest::Email(_) if texts => "sends text messages, not email: use sendMessage",
            _ => return None,
        };
        Some(UserError::on(
            self.inbox_field,
            UserErrorCode::UnsupportedChannel,
            format!("inbox {} {reason}", self.inbox.id),
        ))
    }

    /// Whether `message` is this one, sent earlier with its key: it carries the key, and a
    /// plain text's text. A template's text and an email's body are what the upstream made
    /// of them, so only the key is compared.
    pub(super) fn is_sent_as(&self, message: &models::Message) -> bool {
        let key = self.idempotency_key();
        if key.is_none() || message.local_id.as_deref() != key {
            return false;
        }
        match &self.request {
            SendRequest::Text(request) if request.template_id.is_none() => {
                message.text.as_deref().unwrap_or_default()
                    == request.text.as_deref().unwrap_or_default()
            }
            _ => true,
        }
    }
}
