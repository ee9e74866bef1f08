//! `Member`: a person on the team.

use async_graphql::{Context, ID, Object};

use crate::error::ApiError;
use crate::schema::connection::{ConversationConnection, PageRequest};
use crate::schema::context::RequestContext;
use crate::schema::cursor::CursorKind;
use crate::schema::listing::{self, AssignedConversationFilter};
use crate::schema::node::GlobalId;
use crate::schema::scalars::Int64;
use crate::schema::types::Inbox;
use crate::upstream::models;

/// The GraphQL view of an upstream team member.
pub struct Member(pub models::TeamMember);

/// A team member: someone who answers conversations, is assigned them, and writes messages.
#[Object]
impl Member {
    /// Globally unique, opaque id (for `node(id:)` and client caches).
    pub async fn id(&self) -> ID {
        GlobalId::Member(self.0.id).to_id()
    }

    /// The member's id in the Heymarket API (the `user_id`/`creator_id` of its REST calls).
    async fn database_id(&self) -> Int64 {
        Int64(self.0.id)
    }

    /// Display name.
    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }

    /// Role on the team as Heymarket names it, e.g. `admin` or `member`.
    async fn role(&self) -> Option<&str> {
        self.0.role.as_deref()
    }

    /// Inboxes this member has access to.
    async fn inboxes(&self, ctx: &Context<'_>) -> Result<Vec<Inbox>, ApiError> {
        let inboxes = RequestContext::of(ctx)?.loaders.inboxes().await?;
        Ok(inboxes
            .iter()
            .filter(|inbox| inbox.members.contains(&self.0.id))
            .cloned()
            .map(Inbox)
            .collect())
    }

    /// The conversations assigned to this member in the acting member's inboxes, newest
    /// activity first (the "mine" view, when this is `viewer`). The same list as
    /// `conversations(filter: {assigneeId})`, and as exact: every row is checked here, whether
    /// or not the Heymarket API filters by assignee itself. Where it does not, a page costs as
    /// many upstream pages as it takes to find its rows among everyone's.
    #[graphql(complexity = "PageRequest::cost(first, child_complexity)")]
    async fn assigned_conversations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many conversations to return (0 to 100; default 20).")] first: Option<
            i32,
        >,
        #[graphql(desc = "Continue after this cursor (an `endCursor` or edge `cursor`).")]
        after: Option<String>,
        #[graphql(desc = "Which of the member's conversations to list.")] filter: Option<
            AssignedConversationFilter,
        >,
    ) -> Result<ConversationConnection, ApiError> {
        let page = PageRequest::of(ctx, CursorKind::Conversation, first, after)?;
        let filter = filter.unwrap_or_default().assigned_to(self.0.id);
        listing::conversations(ctx, page, filter, None).await
    }
}
