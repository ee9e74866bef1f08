//! `Contact`: a customer in the team's address book.

use std::sync::Arc;

use crate::schema::scalars::DateTime;
use async_graphql::{Context, ID, Object};
use futures::future::try_join_all;

use super::{Conversation, CustomField, CustomFieldValue, Tag};
use crate::error::ApiError;
use crate::pagination::{Slice, SortKey};
use crate::schema::access::Visibility;
use crate::schema::connection::{ConversationConnection, PageRequest};
use crate::schema::context::RequestContext;
use crate::schema::counting::ConversationTotal;
use crate::schema::cursor::{CursorKey, CursorKind};
use crate::schema::node::GlobalId;
use crate::schema::scalars::Int64;
use crate::upstream::models;

/// The GraphQL view of an upstream contact.
#[derive(Clone)]
pub struct Contact(pub Arc<models::Contact>);

/// A customer the team talks to. Contacts are the team's: any member may read them.
#[Object]
impl Contact {
    /// Globally unique, opaque id (for `node(id:)` and client caches).
    pub async fn id(&self) -> ID {
        GlobalId::Contact(self.0.id).to_id()
    }

    /// The contact's id in the Heymarket API.
    async fn database_id(&self) -> Int64 {
        Int64(self.0.id)
    }

    /// The name to show: the display name, else first and last name.
    async fn display_name(&self) -> Option<String> {
        let display = self
            .0
            .display_name
            .as_deref()
            .filter(|name| !name.trim().is_empty());
        display.map(str::to_owned).or_else(|| {
            let parts: Vec<&str> = [&self.0.first_name, &self.0.last_name]
                .into_iter()
                .flatten()
                .map(String::as_str)
                .filter(|part| !part.is_empty())
                .collect();
            (!parts.is_empty()).then(|| parts.join(" "))
        })
    }

    /// First name.
    async fn first_name(&self) -> Option<&str> {
        self.0.first_name.as_deref()
    }

    /// Last name.
    async fn last_name(&self) -> Option<&str> {
        self.0.last_name.as_deref()
    }

    /// Phone number, E.164 digits without `+`.
    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }

    /// Email address.
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref().filter(|email| !email.is_empty())
    }

    /// Whether the contact opted out of messages (sends to them fail).
    async fn opted_out(&self) -> bool {
        self.0.is_opted_out.unwrap_or(false)
    }

    /// Whether the team blocked the contact.
    async fn blocked(&self) -> bool {
        self.0.blocked.unwrap_or(false)
    }

    /// The contact's tags (at most five), each read once and cached like the team's
    /// directory. A tag the team no longer has is left out.
    async fn tags(&self, ctx: &Context<'_>) -> Result<Vec<Tag>, ApiError> {
        let loaders = &RequestContext::of(ctx)?.loaders;
        let tags = try_join_all(self.0.tag_ids().into_iter().map(|id| loaders.tag(id))).await?;
        Ok(tags.into_iter().flatten().map(Tag).collect())
    }

    /// The contact's custom field values, in the order of the team's fields (`customFields`);
    /// blank values are left out. The field names come from the team's field list, cached like
    /// the directory.
    async fn custom_fields(&self, ctx: &Context<'_>) -> Result<Vec<CustomFieldValue>, ApiError> {
        let mut values = self.0.custom_values();
        values.retain(|_, value| !value.trim().is_empty());
        if values.is_empty() {
            return Ok(Vec::new());
        }
        let fields = RequestContext::of(ctx)?.loaders.custom_fields().await?;
        let mut listed: Vec<CustomFieldValue> = fields
            .iter()
            .filter_map(|field| {
                let value = values.remove(&field.id)?;
                Some(CustomFieldValue {
                    field: CustomField::from(field),
                    value,
                })
            })
            .collect();
        listed.extend(values.into_iter().map(|(id, value)| CustomFieldValue {
            field: CustomField {
                database_id: Int64(id),
                name: None,
            },
            value,
        }));
        Ok(listed)
    }

    /// When the contact was created.
    async fn created_at(&self) -> Option<DateTime> {
        self.0.created.map(DateTime)
    }

    /// When the contact last changed.
    async fn updated_at(&self) -> Option<DateTime> {
        self.0.updated.map(DateTime)
    }

    /// The contact's conversations in the acting member's inboxes (contacts are the team's, the
    /// conversations of other inboxes are not listed), at most one per inbox, newest activity
    /// first: by phone in text inboxes and by email address in email inboxes. The upstream
    /// finds a conversation by address and inbox only, so the list is read whole, for one
    /// history call per inbox (cached like histories), and each page is cut from it;
    /// `totalCount` is exact and costs nothing more.
    #[graphql(complexity = "PageRequest::cost(first, child_complexity)")]
    async fn conversations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many conversations to return (0 to 100; default 20).")] first: Option<
            i32,
        >,
        #[graphql(desc = "Continue after this cursor (an `endCursor` or edge `cursor`).")]
        after: Option<String>,
    ) -> Result<ConversationConnection, ApiError> {
        let page = PageRequest::of(ctx, CursorKind::Conversation, first, after)?;
        let conversations = self.every_conversation(ctx).await?;
        let total = ConversationTotal::known(conversations.len());
        let rows = conversations
            .into_iter()
            .map(|conversation| {
                // A conversation without `updated` sorts last, by id.
                let key = Conversation::sort_key(&conversation).unwrap_or(SortKey {
                    at: chrono::DateTime::<chrono::Utc>::MIN_UTC,
                    id: conversation.id,
                });
                (key, conversation)
            })
            .collect();
        let slice = Slice::of_whole(rows, page.first, page.after);
        Ok(ConversationConnection::counted(
            page.page(CursorKey::of(ctx)?, slice, Conversation),
            total,
        ))
    }
}

impl Contact {
    /// Every conversation of [`Contact::conversations`], in no particular order.
    async fn every_conversation(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Vec<Arc<models::Conversation>>, ApiError> {
        let address = |field: &Option<String>| {
            field
                .as_deref()
                .map(str::trim)
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
        };
        let phone = address(&self.0.phone);
        let email = address(&self.0.email).map(|email| email.to_lowercase());
        if phone.is_none() && email.is_none() {
            return Ok(Vec::new());
        }
        let context = RequestContext::of(ctx)?;
        let loaders = &context.loaders;
        let (visibility, inboxes) = futures::try_join!(Visibility::of(context), loaders.inboxes())?;
        let lookups = inboxes
            .iter()
            .filter(|inbox| visibility.inboxes().contains(&inbox.id))
            .filter_map(|inbox| {
                let target = if inbox.sends_texts() { &phone } else { &email };
                Some((target.as_deref()?, inbox.id))
            });
        let histories =
            try_join_all(lookups.map(|(target, inbox)| loaders.latest_messages(target, inbox)))
                .await?;
        let conversations: Vec<Arc<models::Conversation>> = histories
            .iter()
            .filter_map(|history| history.first()?.conversation.clone())
            .map(|conversation| Arc::new(*conversation))
            .collect();
        loaders
            .prime_conversations(conversations.iter().cloned())
            .await;
        Ok(conversations)
    }
}
