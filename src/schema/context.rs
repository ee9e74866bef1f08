//! What every resolver knows about the request it serves: the upstream handle of the caller's
//! tenant and the acting member.

use std::sync::Arc;

use async_graphql::Context;
use tokio::sync::OnceCell;

use crate::error::ApiError;
use crate::upstream::{TenantClient, models};

/// Who is calling, as established by the transport for an HTTP request or a WebSocket
/// connection.
#[derive(Clone)]
pub struct Caller {
    /// Calls the upstream as the caller's tenant.
    pub upstream: TenantClient,
    /// The member the caller wants to act as, if it named one (see
    /// [`RequestContext::acting_member`]).
    pub requested_member: Option<i64>,
}

/// Per-operation data: the caller plus what the operation has already fetched.
pub struct RequestContext {
    caller: Caller,
    /// Inboxes and team, fetched at most once per operation however many fields need them.
    inboxes: OnceCell<Arc<Vec<models::Inbox>>>,
    team: OnceCell<Arc<models::Team>>,
}

impl RequestContext {
    pub fn new(caller: Caller) -> Self {
        Self {
            caller,
            inboxes: OnceCell::new(),
            team: OnceCell::new(),
        }
    }

    /// Calls the upstream as the caller's tenant.
    pub fn upstream(&self) -> &TenantClient {
        &self.caller.upstream
    }

    /// The request's context; its absence is a wiring bug, reported as `INTERNAL`.
    pub fn of<'a>(ctx: &Context<'a>) -> Result<&'a Self, ApiError> {
        ctx.data::<Self>().map_err(|_| {
            tracing::error!("GraphQL request executed without a RequestContext");
            ApiError::Internal
        })
    }

    /// Every inbox the tenant can access (`GET /v1/inboxes`).
    pub async fn inboxes(&self) -> Result<Arc<Vec<models::Inbox>>, ApiError> {
        let inboxes = self
            .inboxes
            .get_or_try_init(|| async { self.upstream().inboxes().await.map(Arc::new) })
            .await?;
        Ok(Arc::clone(inboxes))
    }

    /// The team and its members (`GET /v1/team`).
    pub async fn team(&self) -> Result<Arc<models::Team>, ApiError> {
        let team = self
            .team
            .get_or_try_init(|| async { self.upstream().team().await.map(Arc::new) })
            .await?;
        Ok(Arc::clone(team))
    }

    /// The member the request acts as: the one the caller named, which must belong to the
    /// team, or else the team's first admin (its owner, in Heymarket's data), so exploring works
    /// without naming anyone.
    pub async fn acting_member(&self) -> Result<models::TeamMember, ApiError> {
        let team = self.team().await?;
        let member = match self.caller.requested_member {
            Some(id) => team
                .members
                .iter()
                .find(|member| member.id == id)
                .ok_or_else(|| {
                    ApiError::bad_input(format!(
                        "member {id} (from X-Member-Id) is not a member of this team"
                    ))
                })?,
            None => team
                .members
                .iter()
                .find(|member| member.role.as_deref() == Some("admin"))
                .or_else(|| team.members.first())
                .ok_or_else(|| ApiError::NotFound("the team has no members".to_owned()))?,
        };
        Ok(member.clone())
    }
}
