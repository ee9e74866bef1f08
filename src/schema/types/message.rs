//! `Message`: one message or private note in a conversation.

use std::sync::Arc;

use crate::schema::scalars::DateTime;
use async_graphql::{Context, Enum, ID, Object, SimpleObject};

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

/// Where a message's delivery stands.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum DeliveryStatus {
    /// Accepted, not yet handed to the carrier.
    Queued,
    /// Handed to the carrier.
    Sent,
    /// The carrier confirmed delivery.
    Delivered,
    /// It could not be delivered; `deliveryError` says why.
    Failed,
    /// A message from the customer, received.
    Received,
    /// A status this gateway does not know yet; `status` has the upstream's word.
    Other,
}

impl DeliveryStatus {
    /// The upstream's value set is undocumented (heymarket-api.md §13.4; only `sent` has been
    /// seen), so the usual words of SMS providers are read. Without a status, a reported
    /// error means the delivery failed.
    fn of(message: &models::Message) -> Option<Self> {
        let failed =
            message.failure_reason().is_some() || recipient_errors(message).next().is_some();
        let Some(status) = message.status.as_deref().map(str::trim) else {
            return failed.then_some(Self::Failed);
        };
        Some(match status.to_ascii_lowercase().as_str() {
            "queued" | "pending" | "accepted" | "scheduled" | "sending" => Self::Queued,
            "sent" => Self::Sent,
            "delivered" | "read" => Self::Delivered,
            "failed" | "undelivered" | "error" | "rejected" | "bounced" => Self::Failed,
            "received" | "inbound" => Self::Received,
            "" if failed => Self::Failed,
            "" => return None,
            _ => Self::Other,
        })
    }
}

/// A picture or file attached to a message.
#[derive(SimpleObject, Clone, Debug)]
pub struct Attachment {
    /// Where to fetch it.
    pub url: String,
}

/// A recipient a message could not reach.
#[derive(SimpleObject, Clone, Debug)]
pub struct RecipientError {
    /// The recipient's phone number (or address), as the upstream names it.
    pub recipient: String,
    /// The upstream's reason.
    pub message: String,
}

/// The non-blank per-recipient errors of `message`, in recipient order.
fn recipient_errors(message: &models::Message) -> impl Iterator<Item = RecipientError> + '_ {
    message
        .target_errors
        .iter()
        .flatten()
        .filter(|(_, error)| !error.trim().is_empty())
        .map(|(recipient, error)| RecipientError {
            recipient: recipient.clone(),
            message: error.trim().to_owned(),
        })
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

    /// URL of the first attached picture or file, when there is one (`attachments` has them
    /// all).
    async fn media_url(&self) -> Option<&str> {
        self.model.attachment_urls().first().copied()
    }

    /// Every attached picture or file, in order. Where the Heymarket API shows only one per
    /// message (its documented `media` is a single URL), that is all there is to show.
    async fn attachments(&self) -> Vec<Attachment> {
        self.model
            .attachment_urls()
            .into_iter()
            .map(|url| Attachment {
                url: url.to_owned(),
            })
            .collect()
    }

    /// Where delivery stands; null when the upstream reports no status. Read with the
    /// message: Heymarket sends no event when a delivery fails after the send, so a message
    /// already cached shows the failure once its entry expires (`--cache-ttl-conversations`,
    /// or `--cache-ttl-with-events` while the team's webhook events are heard).
    async fn delivery_status(&self) -> Option<DeliveryStatus> {
        DeliveryStatus::of(&self.model)
    }

    /// Why the message could not be delivered, as the upstream words it; null unless it
    /// reports a failure.
    async fn delivery_error(&self) -> Option<String> {
        if let Some(reason) = self.model.failure_reason() {
            return Some(reason.to_owned());
        }
        let errors: Vec<String> = recipient_errors(&self.model)
            .map(|error| format!("{}: {}", error.recipient, error.message))
            .collect();
        (!errors.is_empty()).then(|| errors.join("; "))
    }

    /// The recipients the message could not reach, each with the upstream's reason (a group
    /// message may fail for some recipients only).
    async fn recipient_errors(&self) -> Vec<RecipientError> {
        recipient_errors(&self.model).collect()
    }

    /// Inbound, outbound, or a private note.
    async fn direction(&self) -> MessageDirection {
        MessageDirection::of(&self.model)
    }

    /// Whether only the team can see it (a private note).
    async fn is_private(&self) -> bool {
        MessageDirection::of(&self.model) == MessageDirection::Note
    }

    /// Delivery status in the upstream's own word, e.g. `sent` or `received` (see
    /// `deliveryStatus`).
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

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn status_of(message: Value) -> Option<DeliveryStatus> {
        DeliveryStatus::of(&serde_json::from_value(message).expect("a message"))
    }

    #[test]
    fn delivery_status_reads_the_usual_words_and_reported_errors() {
        let cases = [
            (
                json!({"id": 1, "status": "sent"}),
                Some(DeliveryStatus::Sent),
            ),
            (
                json!({"id": 1, "status": "Delivered"}),
                Some(DeliveryStatus::Delivered),
            ),
            (
                json!({"id": 1, "status": "undelivered"}),
                Some(DeliveryStatus::Failed),
            ),
            (
                json!({"id": 1, "status": "queued"}),
                Some(DeliveryStatus::Queued),
            ),
            (
                json!({"id": 1, "status": "received"}),
                Some(DeliveryStatus::Received),
            ),
            (
                json!({"id": 1, "status": "carrier_hold"}),
                Some(DeliveryStatus::Other),
            ),
            (json!({"id": 1}), None),
            (json!({"id": 1, "status": ""}), None),
            (
                json!({"id": 1, "raw_error": "30006"}),
                Some(DeliveryStatus::Failed),
            ),
            (
                json!({"id": 1, "status": "", "target_errors": {"14155550100": "30003"}}),
                Some(DeliveryStatus::Failed),
            ),
            // A group message reached some: the upstream's status stands.
            (
                json!({"id": 1, "status": "sent", "target_errors": {"14155550100": "30003"}}),
                Some(DeliveryStatus::Sent),
            ),
            (json!({"id": 1, "raw_error": "  "}), None),
        ];
        for (message, expected) in cases {
            assert_eq!(status_of(message.clone()), expected, "{message}");
        }
    }
}
