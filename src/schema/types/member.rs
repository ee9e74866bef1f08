//! `Member`: a person on the team.

use async_graphql::{Context, ID, Object};

use crate::error::ApiError;
use crate::schema::context::RequestContext;
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
}
