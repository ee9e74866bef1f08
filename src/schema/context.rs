//! What every resolver knows about the operation it serves: the caller and the loaders that
//! fetch upstream entities for it.

use std::sync::Arc;

use async_graphql::Context;
use chrono::SecondsFormat;

use crate::error::ApiError;
use crate::events::{BusStatus, EventBus, EventKind, WRITTEN_INBOXES};
use crate::loaders::{Caches, Loaders, Reach};
use crate::upstream::TenantClient;
use crate::upstream::models::{Conversation, TeamMember};

/// Who is calling, as established by the transport for an HTTP request or a WebSocket
/// connection.
#[derive(Clone)]
pub struct Caller {
    /// Calls the upstream as the caller's tenant.
    pub upstream: TenantClient,
    /// The member the caller wants to act as, if it named one (see
    /// [`RequestContext::acting_member`]).
    pub requested_member: Option<i64>,
    /// Whether responses report what they cost (`extensions.cost`).
    pub report_cost: bool,
}

/// What a write changed, for [`RequestContext::tell_replicas`].
#[derive(Debug, Clone)]
pub enum Written {
    /// A conversation.
    Conversation {
        id: i64,
        /// Which lists the write can have changed.
        reach: Reach,
        /// The conversation as read back after the write; `None` when that read found none,
        /// or failed.
        now: Option<Arc<Conversation>>,
    },
    /// A contact of the team.
    Contact,
    /// A scheduled message of the team.
    Schedule,
}

/// Per-operation data: the caller plus what the operation has already fetched.
pub struct RequestContext {
    requested_member: Option<i64>,
    /// Where webhook events arrive, for subscriptions.
    pub bus: Arc<dyn EventBus>,
    /// Upstream entities, fetched at most once per operation.
    pub loaders: Loaders,
}

impl RequestContext {
    /// The context of one operation of `caller`, which may make at most `upstream_budget`
    /// upstream calls.
    pub fn new(
        caller: &Caller,
        caches: Arc<Caches>,
        bus: Arc<dyn EventBus>,
        upstream_budget: u64,
    ) -> Self {
        let loaders = Loaders::new(caller.upstream.clone(), caches, upstream_budget);
        Self {
            requested_member: caller.requested_member,
            bus,
            loaders,
        }
    }

    /// Tells the other replicas that this operation wrote `what`, so their caches forget it:
    /// Heymarket may send no webhook for a change made through its API, and this replica's
    /// own caches already know (and skip the hint when the bus brings it back). Nothing is
    /// sent by a process without replicas; a team not known (its `GET /v1/team` failing) is
    /// logged and skipped, leaving the others to their TTLs.
    pub async fn tell_replicas(&self, what: Written) {
        if self.bus.status() == BusStatus::Local {
            return;
        }
        let mut fields = serde_json::Map::new();
        let mut state_digest = None;
        let kind = match what {
            Written::Conversation { id, reach, now } => {
                fields.insert("id".to_owned(), id.into());
                let now = now.as_deref();
                // Without it, a replica takes the write to reach every history.
                if let Some(target) = now.and_then(|now| now.target.clone()) {
                    fields.insert("target".to_owned(), target.into());
                }
                // Without it, a replica takes the write to have moved any row of its lists.
                if let Some(updated) = now.and_then(|now| now.updated) {
                    let updated = updated.to_rfc3339_opts(SecondsFormat::Micros, true);
                    fields.insert("updated".to_owned(), updated.into());
                }
                // Without it, a replica takes the write to reach every list.
                if let Reach::Inboxes(inboxes) = reach {
                    fields.insert(WRITTEN_INBOXES.to_owned(), inboxes.into_iter().collect());
                }
                // Without it, the write's webhook moves the shared lists on once more.
                state_digest = now.and_then(|now| self.loaders.comparable_digest(now));
                EventKind::ConversationWritten
            }
            Written::Contact => EventKind::ContactWritten,
            Written::Schedule => EventKind::ScheduleWritten,
        };
        let team_id = match self.loaders.team().await {
            Ok(team) => team.id,
            Err(error) => {
                tracing::warn!(%error, ?kind, "cannot tell the other replicas of a write");
                None
            }
        };
        let Some(team_id) = team_id else {
            return;
        };
        let mut hint = self.loaders.hint_of_write(team_id, kind, fields);
        hint.state_digest = state_digest;
        self.bus.publish(hint).await;
    }

    /// The operation's context; its absence is a wiring bug, reported as `INTERNAL`.
    pub fn of<'a>(ctx: &Context<'a>) -> Result<&'a Self, ApiError> {
        ctx.data::<Self>().map_err(|_| {
            tracing::error!("GraphQL operation executed without a RequestContext");
            ApiError::Internal
        })
    }

    /// The member the caller named (`X-Member-Id`), not yet checked against the team.
    pub fn requested_member(&self) -> Option<i64> {
        self.requested_member
    }

    /// Calls the upstream as the caller's tenant.
    pub fn upstream(&self) -> &TenantClient {
        self.loaders.upstream()
    }

    /// The member the operation acts as (whose unread state it sees, and in whose name it reads,
    /// sends and changes conversations): the one the caller named, which must belong to the
    /// team, or else the team's first admin (its owner, in Heymarket's data), so exploring works
    /// without naming anyone.
    pub async fn acting_member(&self) -> Result<TeamMember, ApiError> {
        let team = self.loaders.team().await?;
        let member = match self.requested_member {
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
