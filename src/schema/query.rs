//! The `Query` root.

use async_graphql::{Context, ID, Object};

use super::context::RequestContext;
use super::node::{GlobalId, NodeKind};
use super::types::{Inbox, Member};
use crate::error::ApiError;

/// The root of every read.
pub struct Query;

/// Entry points for reading.
#[Object]
impl Query {
    /// The member this request acts as: from the `X-Member-Id` header when given, otherwise
    /// the team's first admin.
    async fn viewer(&self, ctx: &Context<'_>) -> Result<Member, ApiError> {
        Ok(Member(RequestContext::of(ctx)?.acting_member().await?))
    }

    /// Every inbox the credential can access.
    async fn inboxes(&self, ctx: &Context<'_>) -> Result<Vec<Inbox>, ApiError> {
        let inboxes = RequestContext::of(ctx)?.inboxes().await?;
        Ok(inboxes.iter().cloned().map(Inbox).collect())
    }

    /// One inbox by its global id; null when it does not exist.
    async fn inbox(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The inbox's global `id`.")] id: ID,
    ) -> Result<Option<Inbox>, ApiError> {
        let wanted = GlobalId::parse_as(&id, NodeKind::Inbox)?;
        let inboxes = RequestContext::of(ctx)?.inboxes().await?;
        Ok(inboxes
            .iter()
            .find(|inbox| inbox.id == wanted)
            .cloned()
            .map(Inbox))
    }

    /// Every member of the team.
    async fn members(&self, ctx: &Context<'_>) -> Result<Vec<Member>, ApiError> {
        let team = RequestContext::of(ctx)?.team().await?;
        Ok(team.members.iter().cloned().map(Member).collect())
    }
}
