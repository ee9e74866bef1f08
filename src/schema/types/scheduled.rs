//! `ScheduledMessage`: a message Heymarket sends later, at a set time.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, Object};
use chrono::Utc;

use super::message::Attachment;
use super::{Conversation, Inbox, Member, Template};
use crate::error::ApiError;
use crate::schema::access;
use crate::schema::context::RequestContext;
use crate::schema::node::GlobalId;
use crate::schema::scalars::{DateTime, Int64};
use crate::upstream::models;

/// The GraphQL view of an upstream scheduled message.
#[derive(Clone)]
pub struct ScheduledMessage(pub Arc<models::Scheduled>);

/// Where a scheduled message stands, as far as the Heymarket API tells: its scheduled object
/// says when it goes out, never whether it went.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum ScheduledMessageState {
    /// Its send time is ahead: it can still be changed or cancelled.
    Scheduled,
    /// Its send time has passed: Heymarket sent it then (it is in the conversation's messages,
    /// unless the send failed, e.g. because the customer opted out), and it can no longer be
    /// changed or cancelled.
    Due,
}

impl ScheduledMessage {
    /// Whether its send time has passed (or the upstream gave none, which leaves nothing to
    /// change).
    pub fn is_due(&self) -> bool {
        self.0.execute.is_none_or(|at| at <= Utc::now())
    }
}

/// A message scheduled to go out later from an inbox, to a conversation or a phone number.
/// Only members of that inbox see it. Heymarket has no way to list scheduled messages: see
/// `Conversation.scheduledMessages` for which ones the gateway can show.
#[Object]
impl ScheduledMessage {
    /// Globally unique, opaque id (for `node(id:)` and the scheduling mutations).
    pub async fn id(&self) -> ID {
        GlobalId::ScheduledMessage(self.0.id).to_id()
    }

    /// The scheduled message's id in the Heymarket API.
    async fn database_id(&self) -> Int64 {
        Int64(self.0.id)
    }

    /// When it goes out (a quarter hour: :00, :15, :30 or :45).
    async fn send_at(&self) -> Option<DateTime> {
        self.0.execute.map(DateTime)
    }

    /// `SCHEDULED` until its send time, `DUE` after it.
    async fn state(&self) -> ScheduledMessageState {
        if self.is_due() {
            ScheduledMessageState::Due
        } else {
            ScheduledMessageState::Scheduled
        }
    }

    /// The text; null when it sends a template or only attachments.
    async fn text(&self) -> Option<&str> {
        self.0.text()
    }

    /// The template it sends, its merge fields filled in when it goes out; null when it sends
    /// text. `FORBIDDEN` when it is another member's own template.
    async fn template(&self, ctx: &Context<'_>) -> Result<Option<Template>, ApiError> {
        let Some(id) = self.0.template() else {
            return Ok(None);
        };
        let template = access::template(RequestContext::of(ctx)?, id).await?;
        Ok(template.map(|template| Template(Arc::new(template))))
    }

    /// Pictures or files it carries, in order.
    async fn attachments(&self) -> Vec<Attachment> {
        self.0
            .attachment_urls()
            .into_iter()
            .map(|url| Attachment {
                url: url.to_owned(),
            })
            .collect()
    }

    /// The customer's number, when it was scheduled to a phone number.
    async fn phone(&self) -> Option<&str> {
        self.0.phone()
    }

    /// The conversation it goes to; null when it was scheduled to a phone number that has no
    /// conversation in the inbox yet (one is started when it goes out).
    async fn conversation(&self, ctx: &Context<'_>) -> Result<Option<Conversation>, ApiError> {
        let Some(id) = self.0.conversation_id() else {
            return Ok(None);
        };
        let conversation = access::conversation(RequestContext::of(ctx)?, id).await?;
        Ok(conversation.map(Conversation))
    }

    /// The inbox it is sent from.
    async fn inbox(&self, ctx: &Context<'_>) -> Result<Option<Inbox>, ApiError> {
        let Some(id) = self.0.inbox_id else {
            return Ok(None);
        };
        let inbox = RequestContext::of(ctx)?.loaders.inbox(id).await?;
        Ok(inbox.map(Inbox))
    }

    /// The member it is sent as. Heymarket's scheduled object does not say, so this is known
    /// only for messages scheduled through this gateway, while it remembers them (see
    /// `Conversation.scheduledMessages`); null otherwise.
    async fn sender(&self, ctx: &Context<'_>) -> Result<Option<Member>, ApiError> {
        let loaders = &RequestContext::of(ctx)?.loaders;
        let Some(sender) = loaders.scheduled_sender(self.0.id).await else {
            return Ok(None);
        };
        Ok(loaders.member(sender).await?.map(Member))
    }

    /// When it was scheduled.
    async fn created_at(&self) -> Option<DateTime> {
        self.0.created.map(DateTime)
    }

    /// When it was last changed.
    async fn updated_at(&self) -> Option<DateTime> {
        self.0.updated.map(DateTime)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;
    use serde_json::json;

    use super::*;

    fn at(execute: Option<chrono::DateTime<Utc>>) -> ScheduledMessage {
        let mut scheduled: models::Scheduled = serde_json::from_value(json!({ "id": 1 })).unwrap();
        scheduled.execute = execute;
        ScheduledMessage(Arc::new(scheduled))
    }

    #[test]
    fn a_scheduled_message_is_due_once_its_time_has_passed() {
        assert!(!at(Some(Utc::now() + TimeDelta::minutes(1))).is_due());
        assert!(at(Some(Utc::now() - TimeDelta::seconds(1))).is_due());
        assert!(
            at(None).is_due(),
            "without a time there is nothing left to change"
        );
    }
}
