//! `Inbox`: a shared phone number (or email address) that team members answer from.

use async_graphql::{Context, ID, Object};

use crate::error::ApiError;
use crate::schema::connection::{ConversationConnection, PageRequest};
use crate::schema::context::RequestContext;
use crate::schema::cursor::CursorKind;
use crate::schema::listing::{self, InboxConversationFilter};
use crate::schema::node::GlobalId;
use crate::schema::scalars::Int64;
use crate::schema::types::Member;
use crate::upstream::models;

/// The GraphQL view of an upstream inbox.
pub struct Inbox(pub models::Inbox);

/// A shared inbox: one business number (or email address) whose conversations a group of team
/// members handles together.
#[Object]
impl Inbox {
    /// Globally unique, opaque id (for `node(id:)` and client caches).
    pub async fn id(&self) -> ID {
        GlobalId::Inbox(self.0.id).to_id()
    }

    /// The inbox's id in the Heymarket API.
    async fn database_id(&self) -> Int64 {
        Int64(self.0.id)
    }

    /// Display name.
    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }

    /// Primary phone number, E.164 digits without `+`; null for email inboxes.
    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref().filter(|phone| !phone.is_empty())
    }

    /// Every phone number of the inbox, E.164 digits without `+`.
    async fn phones(&self) -> &[String] {
        &self.0.phones
    }

    /// Whether a conversation is assigned to the first member who replies to it.
    async fn auto_assignable(&self) -> bool {
        self.0.auto_assignable.unwrap_or(false)
    }

    /// Team members with access to this inbox (the only members who can send from it or be
    /// assigned its conversations).
    async fn members(&self, ctx: &Context<'_>) -> Result<Vec<Member>, ApiError> {
        let team = RequestContext::of(ctx)?.loaders.team().await?;
        Ok(team
            .members
            .iter()
            .filter(|member| self.0.members.contains(&member.id))
            .cloned()
            .map(Member)
            .collect())
    }

    /// The inbox's conversations, newest activity first.
    #[graphql(complexity = "PageRequest::cost(first, child_complexity)")]
    async fn conversations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many conversations to return (0 to 100; default 20).")] first: Option<
            i32,
        >,
        #[graphql(desc = "Continue after this cursor (an `endCursor` or edge `cursor`).")]
        after: Option<String>,
        #[graphql(desc = "Which of the inbox's conversations to list.")] filter: Option<
            InboxConversationFilter,
        >,
    ) -> Result<ConversationConnection, ApiError> {
        let page = PageRequest::of(ctx, CursorKind::Conversation, first, after)?;
        let filter = filter.unwrap_or_default().into();
        listing::conversations(ctx, page, filter, Some(self.0.id)).await
    }
}
